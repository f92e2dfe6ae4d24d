-- What a million-row scan costs in file_inventory, measured: per-row foreign-key checks, locale-aware path
-- comparison, and an index nothing reads any more.

-- Paths compare byte for byte: they are identifiers, not prose, so the "C" collation is the right order and spares
-- every lookup on file_path a locale-aware comparison. Every file_path column gets it, so they compare with one
-- another.
ALTER TABLE file_inventory ALTER COLUMN file_path TYPE text COLLATE "C";
ALTER TABLE tiering_job_files ALTER COLUMN file_path TYPE text COLLATE "C";
ALTER TABLE stub_registry ALTER COLUMN file_path TYPE text COLLATE "C";
ALTER TABLE scan_staging.raw_scans ALTER COLUMN file_path TYPE text COLLATE "C";
ALTER TABLE scan_staging.rejects ALTER COLUMN file_path TYPE text COLLATE "C";

-- (customer_id, host_id) references hosts, and hosts reference customers, so the direct reference to customers
-- checked nothing new and cost a trigger call per inserted row (a quarter of a first scan's upsert).
ALTER TABLE file_inventory DROP CONSTRAINT file_inventory_customer_id_fkey;

-- Unseen files are found by comparing a finished scan with its staged rows now; no query reads this index.
DROP INDEX file_inventory_scan;
COMMENT ON COLUMN file_inventory.last_scan_id IS 'The scan that last changed the row; an unchanged file is not rewritten.';
COMMENT ON COLUMN file_inventory.last_seen_at IS 'When a scan last changed the row; the host''s last_scan_at says when it was last seen.';
