-- Uploads are streamed into staging in chunks instead of one bytea held whole in memory, rejects keep the path
-- and text of the row they refused, and staging day partitions are unlogged: they are a working copy, loaded and
-- merged in one transaction, and the batch itself stays in uploads until it is ingested.

CREATE TABLE scan_staging.upload_chunks (
    batch_id uuid NOT NULL REFERENCES scan_staging.uploads (batch_id) ON DELETE CASCADE,
    seq integer NOT NULL,
    data bytea NOT NULL,
    PRIMARY KEY (batch_id, seq)
);

INSERT INTO scan_staging.upload_chunks (batch_id, seq, data) SELECT batch_id, 0, body FROM scan_staging.uploads;
ALTER TABLE scan_staging.uploads DROP COLUMN body;
ALTER TABLE scan_staging.uploads ALTER COLUMN byte_count TYPE bigint;
ALTER TABLE scan_staging.uploads ADD COLUMN csv_bytes bigint;
-- Distinct paths the batch listed, so a finished scan can tell cheaply whether any file went unseen.
ALTER TABLE scan_staging.uploads ADD COLUMN listed_paths bigint;

ALTER TABLE scan_staging.rejects ADD COLUMN file_path text;
ALTER TABLE scan_staging.rejects ADD COLUMN row_text text;

DROP FUNCTION scan_staging.ensure_partition(uuid, date);
CREATE FUNCTION scan_staging.ensure_partition(customer uuid, day date) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    customer_table text := 'raw_scans_c' || replace(customer::text, '-', '');
    day_table text := customer_table || '_d' || to_char(day, 'YYYYMMDD');
BEGIN
    IF to_regclass('scan_staging.' || day_table) IS NOT NULL THEN
        RETURN day_table;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('alto.scan_staging.partitions'));
    IF to_regclass('scan_staging.' || customer_table) IS NULL THEN
        EXECUTE format('CREATE TABLE scan_staging.%I PARTITION OF scan_staging.raw_scans FOR VALUES IN (%L) PARTITION BY RANGE (scan_date)',
                       customer_table, customer);
    END IF;
    IF to_regclass('scan_staging.' || day_table) IS NULL THEN
        EXECUTE format('CREATE UNLOGGED TABLE scan_staging.%I PARTITION OF scan_staging.%I FOR VALUES FROM (%L) TO (%L)',
                       day_table, customer_table, day, day + 1);
        EXECUTE format('CREATE INDEX ON scan_staging.%I (batch_id)', day_table);
    END IF;
    RETURN day_table;
END;
$$;
