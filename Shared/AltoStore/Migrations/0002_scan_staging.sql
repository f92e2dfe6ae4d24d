-- Staging for agent uploads (DESIGN.md, "Data"): the raw batch as received, its rows loaded with COPY into
-- raw_scans partitioned by customer and then by scan date, and the rows that failed validation.

CREATE SCHEMA scan_staging;

CREATE TABLE scan_staging.uploads (
    batch_id uuid PRIMARY KEY,
    customer_id uuid NOT NULL REFERENCES customers (id),
    host_id uuid NOT NULL,
    scan_id uuid NOT NULL,
    batch_index integer NOT NULL,
    is_final_batch boolean NOT NULL,
    is_full_scan boolean NOT NULL,
    compression text NOT NULL,
    byte_count integer NOT NULL,
    body bytea NOT NULL,
    scan_started_at timestamptz NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    ingested_at timestamptz,
    accepted_rows integer,
    rejected_rows integer,
    FOREIGN KEY (customer_id, host_id) REFERENCES hosts (customer_id, id)
);
CREATE INDEX uploads_scan ON scan_staging.uploads (scan_id);

CREATE TABLE scan_staging.raw_scans (
    customer_id uuid NOT NULL,
    scan_date date NOT NULL,
    batch_id uuid NOT NULL,
    host_id uuid NOT NULL,
    line integer NOT NULL,
    file_path text NOT NULL,
    file_size bigint NOT NULL,
    last_modified timestamptz NOT NULL,
    last_accessed timestamptz,
    file_extension text NOT NULL,
    permissions text NOT NULL,
    owner text NOT NULL,
    hash text
) PARTITION BY LIST (customer_id);

CREATE TABLE scan_staging.rejects (
    id bigserial PRIMARY KEY,
    batch_id uuid NOT NULL,
    customer_id uuid NOT NULL,
    line integer NOT NULL,
    reason text NOT NULL,
    at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX rejects_batch ON scan_staging.rejects (batch_id);

-- Creates the customer's partition and its day's sub-partition when missing. Names derive from the uuid's hex
-- and the date, so nothing from outside is spliced into the DDL.
CREATE FUNCTION scan_staging.ensure_partition(customer uuid, day date) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    customer_table text := 'raw_scans_c' || replace(customer::text, '-', '');
    day_table text := customer_table || '_d' || to_char(day, 'YYYYMMDD');
BEGIN
    IF to_regclass('scan_staging.' || day_table) IS NOT NULL THEN
        RETURN;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('alto.scan_staging.partitions'));
    IF to_regclass('scan_staging.' || customer_table) IS NULL THEN
        EXECUTE format('CREATE TABLE scan_staging.%I PARTITION OF scan_staging.raw_scans FOR VALUES IN (%L) PARTITION BY RANGE (scan_date)',
                       customer_table, customer);
    END IF;
    IF to_regclass('scan_staging.' || day_table) IS NULL THEN
        EXECUTE format('CREATE TABLE scan_staging.%I PARTITION OF scan_staging.%I FOR VALUES FROM (%L) TO (%L)',
                       day_table, customer_table, day, day + 1);
        EXECUTE format('CREATE INDEX ON scan_staging.%I (batch_id)', day_table);
    END IF;
END;
$$;

-- Drops day partitions older than the retention, returning how many went.
CREATE FUNCTION scan_staging.drop_partitions_before(cutoff date) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    partition record;
    dropped integer := 0;
BEGIN
    FOR partition IN
        SELECT child.relname
        FROM pg_inherits
        JOIN pg_class child ON child.oid = pg_inherits.inhrelid
        JOIN pg_namespace ns ON ns.oid = child.relnamespace
        WHERE ns.nspname = 'scan_staging' AND child.relname ~ '^raw_scans_c[0-9a-f]{32}_d[0-9]{8}$'
          AND to_date(right(child.relname, 8), 'YYYYMMDD') < cutoff
    LOOP
        EXECUTE format('DROP TABLE scan_staging.%I', partition.relname);
        dropped := dropped + 1;
    END LOOP;
    RETURN dropped;
END;
$$;
