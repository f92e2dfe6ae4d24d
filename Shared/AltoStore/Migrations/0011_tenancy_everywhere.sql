-- Row-level security on the tables 0009 left outside (the outbox, the consumers' record of what they applied, the
-- staged scan rows), and foreign keys that carry the tenant, so an id of another tenant is refused by the database
-- itself wherever one table points into another.

-- The outbox and processed_messages carry the tenant their row belongs to. Rows from before this migration are
-- given the tenant their envelope names; a processed message of old keeps none, which hides it from every tenant
-- but still stops it being applied twice (the primary key is checked whatever a policy shows).
CREATE FUNCTION pg_temp.envelope_tenant(body bytea) RETURNS uuid
LANGUAGE plpgsql AS $$
BEGIN
    RETURN (convert_from(body, 'UTF8')::jsonb ->> 'customer_id')::uuid;
EXCEPTION WHEN others THEN
    RETURN NULL;
END;
$$;
ALTER TABLE outbox ADD COLUMN customer_id uuid REFERENCES customers (id);
UPDATE outbox SET customer_id = pg_temp.envelope_tenant(body);
ALTER TABLE processed_messages ADD COLUMN customer_id uuid REFERENCES customers (id);

DO $$
DECLARE
    tenant_table text;
BEGIN
    FOREACH tenant_table IN ARRAY ARRAY['outbox', 'processed_messages', 'scan_staging.raw_scans']
    LOOP
        EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', tenant_table);
        EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', tenant_table);
        EXECUTE format('CREATE POLICY tenant_isolation ON %s USING (customer_id = alto_tenant() OR alto_all_tenants())',
                       tenant_table);
    END LOOP;
END;
$$;

-- Staged rows: PostgreSQL refuses COPY FROM into a table under row-level security, so the ingest copies into the
-- day's partition, which holds one tenant's rows only (its bounds say so) and which the services may only append
-- to; every read goes through raw_scans, under the policy above.
CREATE OR REPLACE FUNCTION scan_staging.ensure_partition(customer uuid, day date) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = scan_staging, pg_catalog AS $$
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
        EXECUTE format('REVOKE ALL ON scan_staging.%I FROM alto_service', customer_table);
    END IF;
    IF to_regclass('scan_staging.' || day_table) IS NULL THEN
        EXECUTE format('CREATE UNLOGGED TABLE scan_staging.%I PARTITION OF scan_staging.%I FOR VALUES FROM (%L) TO (%L)',
                       day_table, customer_table, day, day + 1);
        EXECUTE format('CREATE INDEX ON scan_staging.%I (batch_id)', day_table);
        EXECUTE format('REVOKE ALL ON scan_staging.%I FROM alto_service', day_table);
        EXECUTE format('GRANT INSERT ON scan_staging.%I TO alto_service', day_table);
    END IF;
    RETURN day_table;
END;
$$;

DO $$
DECLARE
    partition_table text;
BEGIN
    FOR partition_table IN
        SELECT relname FROM pg_class JOIN pg_namespace ON pg_namespace.oid = relnamespace
        WHERE nspname = 'scan_staging' AND relname LIKE 'raw_scans_c%' AND relkind IN ('r', 'p')
    LOOP
        EXECUTE format('REVOKE ALL ON scan_staging.%I FROM alto_service', partition_table);
        IF partition_table LIKE '%\_d%' THEN
            EXECUTE format('GRANT INSERT ON scan_staging.%I TO alto_service', partition_table);
        END IF;
    END LOOP;
END;
$$;

-- Composite foreign keys: a row that names a job, file, rule or target names it within its own tenant. The
-- inventory's primary key becomes (customer_id, id), which every lookup by id gives anyway, rather than a second
-- index over the largest table.
ALTER TABLE tiering_job_files DROP CONSTRAINT tiering_job_files_file_id_fkey;
ALTER TABLE stub_registry DROP CONSTRAINT stub_registry_file_id_fkey;
ALTER TABLE recall_job_files DROP CONSTRAINT recall_job_files_file_id_fkey;
ALTER TABLE file_inventory DROP CONSTRAINT file_inventory_pkey;
ALTER TABLE file_inventory ADD PRIMARY KEY (customer_id, id);

ALTER TABLE tiering_jobs ADD UNIQUE (customer_id, id);
ALTER TABLE rules ADD UNIQUE (customer_id, id);
ALTER TABLE recall_jobs ADD UNIQUE (customer_id, id);

ALTER TABLE tiering_jobs
    DROP CONSTRAINT tiering_jobs_rule_id_fkey,
    DROP CONSTRAINT tiering_jobs_target_id_fkey,
    ADD FOREIGN KEY (customer_id, rule_id) REFERENCES rules (customer_id, id),
    ADD FOREIGN KEY (customer_id, target_id) REFERENCES storage_targets (customer_id, id);
ALTER TABLE tiering_job_files
    DROP CONSTRAINT tiering_job_files_job_id_fkey,
    ADD FOREIGN KEY (customer_id, job_id) REFERENCES tiering_jobs (customer_id, id) ON DELETE CASCADE,
    ADD FOREIGN KEY (customer_id, file_id) REFERENCES file_inventory (customer_id, id);
ALTER TABLE stub_registry
    DROP CONSTRAINT stub_registry_target_id_fkey,
    DROP CONSTRAINT stub_registry_job_id_fkey,
    ADD FOREIGN KEY (customer_id, file_id) REFERENCES file_inventory (customer_id, id),
    ADD FOREIGN KEY (customer_id, target_id) REFERENCES storage_targets (customer_id, id),
    ADD FOREIGN KEY (customer_id, job_id) REFERENCES tiering_jobs (customer_id, id);
ALTER TABLE recall_jobs
    DROP CONSTRAINT recall_jobs_rule_id_fkey,
    ADD FOREIGN KEY (customer_id, rule_id) REFERENCES rules (customer_id, id);
ALTER TABLE recall_job_files
    DROP CONSTRAINT recall_job_files_job_id_fkey,
    ADD FOREIGN KEY (customer_id, job_id) REFERENCES recall_jobs (customer_id, id) ON DELETE CASCADE,
    ADD FOREIGN KEY (customer_id, file_id) REFERENCES file_inventory (customer_id, id);
