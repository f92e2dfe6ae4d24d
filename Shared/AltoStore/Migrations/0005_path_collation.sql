-- Paths compare byte for byte: they are identifiers, not prose, so the "C" collation is the right order, and it
-- spares every index lookup and merge on file_path the cost of locale-aware comparison (several times faster on
-- a million-row upsert). Every file_path column gets it, so they can be compared with one another.
ALTER TABLE file_inventory ALTER COLUMN file_path TYPE text COLLATE "C";
ALTER TABLE tiering_job_files ALTER COLUMN file_path TYPE text COLLATE "C";
ALTER TABLE stub_registry ALTER COLUMN file_path TYPE text COLLATE "C";
ALTER TABLE scan_staging.raw_scans ALTER COLUMN file_path TYPE text COLLATE "C";
ALTER TABLE scan_staging.rejects ALTER COLUMN file_path TYPE text COLLATE "C";
