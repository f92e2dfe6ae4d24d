-- Listings of changes: an agent that kept an index of its previous scan sends only the files that changed since
-- and the keys of those it no longer finds, instead of every file again (a million unchanged rows staged, merged
-- and compared for nothing). Staged rows carry the key the inventory keeps (file_inventory.path_key, migration
-- 16); the uploads say what each batch lists and, with the final batch, how many files the scan found, which the
-- inventory is checked against.

ALTER TABLE scan_staging.raw_scans ADD COLUMN path_key bigint;

ALTER TABLE scan_staging.uploads
    ADD COLUMN listing text NOT NULL DEFAULT 'complete' CHECK (listing IN ('complete', 'changes')),
    ADD COLUMN kind text NOT NULL DEFAULT 'files' CHECK (kind IN ('files', 'deletions')),
    ADD COLUMN scan_files bigint CHECK (scan_files >= 0),
    ADD CHECK (kind = 'files' OR (listing = 'changes' AND is_full_scan));
