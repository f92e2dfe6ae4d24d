-- The inventory is partitioned by host (LIST on host_id), each host's rows in a table of its own in the `inventory`
-- schema, because a first scan into one indexed table costs an index insertion per row per index: measured, a
-- million rows take 13.3 s that way, and 2.6 s into a bare table whose three indexes then take 2.3 s to build. A
-- host's first full scan is now copied into a bare load table of its own, which becomes the host's partition once
-- the scan is complete: indexed, then attached in a moment. Later scans merge into the partition as before. Every
-- lookup names its host, so it reads one partition; a thousand hosts' indexes are each a thousandth of the size.
--
-- What changes with it: the primary key is (host_id, id), since a partitioned table's keys carry its partition
-- key; ids still come from one sequence, so an id names one row everywhere. The candidates index is a partition's,
-- on last_accessed alone: its tenant and host are the partition's (building it took twice as long with them). The
-- two foreign keys that pointed at the inventory by (customer_id, id) become triggers (a partitioned table can only
-- be referenced by its whole key), which find the row through its host, as the job files' checks now do too. The
-- services still may not delete inventory rows, nor create, read or write a partition or load table directly,
-- except to append to a first scan's load table (whose checks hold it to its tenant and host): every read and
-- write goes through file_inventory and its row-level security, and the functions below act only for the
-- transaction's tenant.
--
-- On a database that holds an inventory already, the migration moves every row into its host's partition in one
-- transaction: it needs max_locks_per_transaction × max_connections above six locks per host, and time to copy.

CREATE SCHEMA inventory;
REVOKE ALL ON SCHEMA inventory FROM PUBLIC;
GRANT USAGE ON SCHEMA inventory TO alto_service;

ALTER TABLE stub_registry DROP CONSTRAINT stub_registry_customer_id_file_id_fkey;
ALTER TABLE recall_job_files DROP CONSTRAINT recall_job_files_customer_id_file_id_fkey;

ALTER TABLE file_inventory RENAME TO file_inventory_unpartitioned;
ALTER TABLE file_inventory_unpartitioned RENAME CONSTRAINT file_inventory_pkey TO file_inventory_unpartitioned_pkey;
ALTER TABLE file_inventory_unpartitioned RENAME CONSTRAINT file_inventory_host_id_file_path_key TO file_inventory_unpartitioned_path_key;
ALTER INDEX file_inventory_candidates RENAME TO file_inventory_unpartitioned_candidates;

CREATE TABLE file_inventory (
    id bigint NOT NULL DEFAULT nextval('file_inventory_id_seq'),
    customer_id uuid NOT NULL,
    host_id uuid NOT NULL,
    file_path text COLLATE "C" NOT NULL,
    file_size bigint NOT NULL CHECK (file_size >= 0),
    last_modified timestamptz NOT NULL,
    last_accessed timestamptz,
    file_extension text NOT NULL DEFAULT '',
    permissions text NOT NULL DEFAULT '',
    owner text NOT NULL DEFAULT '',
    hash text,
    is_stubbed boolean NOT NULL DEFAULT false,
    stub_created_at timestamptz,
    tiered_location text,
    first_seen_at timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    last_scan_id uuid,
    deleted_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now(),
    path_key bigint,
    PRIMARY KEY (host_id, id),
    UNIQUE (host_id, file_path)
) PARTITION BY LIST (host_id);
CREATE INDEX file_inventory_candidates ON file_inventory (last_accessed) WHERE NOT is_stubbed AND deleted_at IS NULL;
ALTER SEQUENCE file_inventory_id_seq OWNED BY file_inventory.id;
COMMENT ON COLUMN file_inventory.last_scan_id IS 'The scan that last changed the row; an unchanged file is not rewritten.';
COMMENT ON COLUMN file_inventory.path_key IS 'The FNV-1a key of file_path, by which a listing of changes names a file it no longer finds.';
COMMENT ON COLUMN file_inventory.last_seen_at IS 'When a scan last changed the row; the host''s last_scan_at says when it was last seen.';
REVOKE ALL ON file_inventory FROM alto_service;
GRANT SELECT, INSERT, UPDATE ON file_inventory TO alto_service;
SELECT alto_isolate_tenant_table('file_inventory');

CREATE FUNCTION inventory.partition_of(host uuid) RETURNS text
LANGUAGE sql IMMUTABLE AS $$ SELECT 'host_' || replace(host::text, '-', '') $$;
CREATE FUNCTION inventory.load_of(scan uuid) RETURNS text
LANGUAGE sql IMMUTABLE AS $$ SELECT 'load_' || replace(scan::text, '-', '') $$;

-- Refuses a customer other than the caller's tenant (to a login held by row-level security), and a host that is
-- not the customer's.
CREATE FUNCTION inventory.require_host(customer uuid, host uuid) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    IF customer IS DISTINCT FROM public.alto_tenant() AND NOT public.alto_all_tenants()
       AND NOT (SELECT rolsuper OR rolbypassrls FROM pg_catalog.pg_roles WHERE rolname = session_user) THEN
        RAISE insufficient_privilege USING MESSAGE = format('customer %s is not this transaction''s tenant', customer);
    END IF;
    PERFORM 1 FROM public.hosts WHERE id = host AND customer_id = customer;
    IF NOT FOUND THEN
        RAISE foreign_key_violation USING MESSAGE = 'file_inventory rows must belong to an enrolled host of their own customer';
    END IF;
END;
$$;

-- The host's partition, created and attached when it has none. Run in a transaction of its own: attaching takes a
-- lock on file_inventory that a second attach waits for.
CREATE FUNCTION inventory.ensure_partition(customer uuid, host uuid) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    partition text := inventory.partition_of(host);
BEGIN
    PERFORM inventory.require_host(customer, host);
    IF to_regclass('inventory.' || partition) IS NOT NULL THEN
        RETURN partition;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('alto.inventory.partitions'));
    IF to_regclass('inventory.' || partition) IS NULL THEN
        EXECUTE format('CREATE TABLE inventory.%I (LIKE public.file_inventory INCLUDING DEFAULTS INCLUDING CONSTRAINTS, CHECK (host_id = %L))',
                       partition, host);
        EXECUTE format('REVOKE ALL ON inventory.%I FROM alto_service', partition);
        EXECUTE format('ALTER TABLE public.file_inventory ATTACH PARTITION inventory.%I FOR VALUES IN (%L)', partition, host);
    END IF;
    RETURN partition;
END;
$$;

-- The load tables of first full scans in progress, one per scan, named after it.
CREATE TABLE inventory.loads (
    scan_id uuid PRIMARY KEY,
    customer_id uuid NOT NULL,
    host_id uuid NOT NULL,
    started_at timestamptz NOT NULL DEFAULT now()
);
REVOKE ALL ON inventory.loads FROM alto_service;

-- The bare table a full scan of a host that has no partition yet is copied into, created by the scan's first
-- batch, and the table every later batch of the scan goes to; NULL when the host had a partition before the scan
-- began, whose scans merge into it. The ingest may only append to it.
CREATE FUNCTION inventory.begin_load(customer uuid, host uuid, scan uuid) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    load text := inventory.load_of(scan);
BEGIN
    PERFORM inventory.require_host(customer, host);
    PERFORM pg_advisory_xact_lock(hashtext('alto.inventory.load.' || scan::text));
    PERFORM 1 FROM inventory.loads WHERE scan_id = scan;
    IF FOUND THEN
        PERFORM 1 FROM inventory.loads WHERE scan_id = scan AND customer_id = customer AND host_id = host;
        IF NOT FOUND THEN
            RAISE foreign_key_violation USING MESSAGE = format('scan %s is another host''s', scan);
        END IF;
        RETURN load;
    END IF;
    IF to_regclass('inventory.' || inventory.partition_of(host)) IS NOT NULL THEN
        RETURN NULL;
    END IF;
    INSERT INTO inventory.loads (scan_id, customer_id, host_id) VALUES (scan, customer, host);
    EXECUTE format('CREATE TABLE inventory.%I (LIKE public.file_inventory INCLUDING DEFAULTS INCLUDING CONSTRAINTS, '
                   'CHECK (host_id = %L), CHECK (customer_id = %L))', load, host, customer);
    EXECUTE format('REVOKE ALL ON inventory.%I FROM alto_service', load);
    EXECUTE format('GRANT INSERT ON inventory.%I TO alto_service', load);
    RETURN load;
END;
$$;

-- Makes a complete first scan's load table the host's partition: a path listed twice keeps its last row, and the
-- indexes are built before the attach, so file_inventory is locked only for the attach itself (the statistics
-- are autovacuum's, which a million new rows call for at once). Returns the files the scan listed. Should the host have gained a partition meanwhile (a partial
-- scan, or another full scan that finished first, came in meanwhile), the scan's rows are merged into it instead,
-- and nothing is retired. The loads of the host's full scans that began earlier and never completed go with it.
CREATE FUNCTION inventory.finish_load(customer uuid, host uuid, scan uuid) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    load text := inventory.load_of(scan);
    partition text := inventory.partition_of(host);
    stale uuid;
    listed bigint;
    began timestamptz;
BEGIN
    PERFORM inventory.require_host(customer, host);
    SELECT started_at INTO began FROM inventory.loads WHERE scan_id = scan AND customer_id = customer AND host_id = host;
    IF NOT FOUND THEN
        RAISE no_data_found USING MESSAGE = format('scan %s of host %s has no load table', scan, host);
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('alto.inventory.partitions'));
    IF to_regclass('inventory.' || partition) IS NOT NULL THEN
        EXECUTE format($merge$
            INSERT INTO public.file_inventory AS inventory (customer_id, host_id, file_path, file_size, last_modified,
                last_accessed, file_extension, permissions, owner, hash, last_scan_id, last_seen_at, path_key)
            SELECT DISTINCT ON (file_path) customer_id, host_id, file_path, file_size, last_modified, last_accessed,
                file_extension, permissions, owner, hash, last_scan_id, last_seen_at, path_key
            FROM inventory.%I ORDER BY file_path, id DESC
            ON CONFLICT (host_id, file_path) DO UPDATE SET
                file_size = EXCLUDED.file_size, last_modified = EXCLUDED.last_modified,
                last_accessed = EXCLUDED.last_accessed, file_extension = EXCLUDED.file_extension,
                permissions = EXCLUDED.permissions, owner = EXCLUDED.owner,
                hash = CASE
                    WHEN EXCLUDED.hash IS NOT NULL THEN EXCLUDED.hash
                    WHEN inventory.file_size = EXCLUDED.file_size AND inventory.last_modified = EXCLUDED.last_modified
                        THEN inventory.hash
                END,
                last_scan_id = EXCLUDED.last_scan_id, last_seen_at = EXCLUDED.last_seen_at, path_key = EXCLUDED.path_key,
                deleted_at = NULL, updated_at = now()
            $merge$, load);
        GET DIAGNOSTICS listed = ROW_COUNT;
    ELSE
        BEGIN
            EXECUTE format('ALTER TABLE inventory.%I ADD CONSTRAINT %I UNIQUE (host_id, file_path)', load, partition || '_path_key');
        EXCEPTION WHEN unique_violation THEN
            EXECUTE format('DELETE FROM inventory.%I AS older USING inventory.%I AS newer '
                           'WHERE newer.file_path = older.file_path AND newer.id > older.id', load, load);
            EXECUTE format('ALTER TABLE inventory.%I ADD CONSTRAINT %I UNIQUE (host_id, file_path)', load, partition || '_path_key');
        END;
        EXECUTE format('ALTER TABLE inventory.%I ADD CONSTRAINT %I PRIMARY KEY (host_id, id)', load, partition || '_pkey');
        EXECUTE format('CREATE INDEX %I ON inventory.%I (last_accessed) WHERE NOT is_stubbed AND deleted_at IS NULL',
                       partition || '_candidates', load);
        EXECUTE format('REVOKE ALL ON inventory.%I FROM alto_service', load);
        EXECUTE format('ALTER TABLE public.file_inventory ATTACH PARTITION inventory.%I FOR VALUES IN (%L)', load, host);
        EXECUTE format('ALTER TABLE inventory.%I RENAME TO %I', load, partition);
        EXECUTE format('SELECT count(*) FROM inventory.%I', partition) INTO listed;
    END IF;
    EXECUTE format('DROP TABLE IF EXISTS inventory.%I', load);
    FOR stale IN DELETE FROM inventory.loads WHERE host_id = host AND (scan_id = scan OR started_at < began) RETURNING scan_id LOOP
        EXECUTE format('DROP TABLE IF EXISTS inventory.%I', inventory.load_of(stale));
    END LOOP;
    RETURN listed;
END;
$$;

-- Staging retention also drops the load tables of first scans that never completed.
CREATE OR REPLACE FUNCTION scan_staging.drop_partitions_before(cutoff date) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = scan_staging, pg_catalog AS $$
DECLARE
    partition record;
    stale uuid;
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
    FOR stale IN DELETE FROM inventory.loads WHERE started_at < cutoff RETURNING scan_id LOOP
        EXECUTE format('DROP TABLE IF EXISTS inventory.%I', inventory.load_of(stale));
        dropped := dropped + 1;
    END LOOP;
    RETURN dropped;
END;
$$;

DO $$
DECLARE
    owner_host record;
BEGIN
    FOR owner_host IN SELECT DISTINCT customer_id, host_id FROM file_inventory_unpartitioned LOOP
        PERFORM inventory.ensure_partition(owner_host.customer_id, owner_host.host_id);
    END LOOP;
END;
$$;
INSERT INTO file_inventory (id, customer_id, host_id, file_path, file_size, last_modified, last_accessed, file_extension, permissions,
    owner, hash, is_stubbed, stub_created_at, tiered_location, first_seen_at, last_seen_at, last_scan_id, deleted_at, updated_at)
SELECT * FROM file_inventory_unpartitioned;
DROP TABLE file_inventory_unpartitioned;

CREATE TRIGGER file_inventory_hosts_on_insert AFTER INSERT ON file_inventory
    REFERENCING NEW TABLE AS written_rows FOR EACH STATEMENT EXECUTE FUNCTION check_inventory_hosts();
CREATE TRIGGER file_inventory_hosts_on_update AFTER UPDATE ON file_inventory
    REFERENCING NEW TABLE AS written_rows FOR EACH STATEMENT EXECUTE FUNCTION check_inventory_hosts();

-- A job file's inventory row is found through its job's host.
CREATE OR REPLACE FUNCTION check_job_file_parents() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    jobs integer;
    locked integer;
BEGIN
    SELECT count(*) INTO jobs FROM (SELECT DISTINCT customer_id, job_id FROM written_rows) AS pairs;
    SELECT count(*) INTO locked FROM (
        SELECT 1 FROM tiering_jobs AS job
        JOIN (SELECT DISTINCT customer_id, job_id FROM written_rows) AS pairs
            ON job.id = pairs.job_id AND job.customer_id = pairs.customer_id
        FOR KEY SHARE OF job) AS found;
    IF locked <> jobs THEN
        RAISE foreign_key_violation USING MESSAGE = 'tiering_job_files rows must belong to a tiering job of their own customer';
    END IF;
    IF EXISTS (SELECT 1 FROM written_rows AS written JOIN tiering_jobs AS job ON job.id = written.job_id
               WHERE NOT EXISTS (SELECT 1 FROM file_inventory AS file
                                 WHERE file.host_id = job.host_id AND file.id = written.file_id
                                   AND file.customer_id = written.customer_id OFFSET 0)) THEN
        RAISE foreign_key_violation USING MESSAGE = 'tiering_job_files rows must name an inventory file of their own customer';
    END IF;
    RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION check_job_file_parents_of_row() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    job_host uuid;
BEGIN
    SELECT host_id INTO job_host FROM tiering_jobs WHERE customer_id = NEW.customer_id AND id = NEW.job_id FOR KEY SHARE;
    IF NOT FOUND THEN
        RAISE foreign_key_violation USING MESSAGE = 'tiering_job_files rows must belong to a tiering job of their own customer';
    END IF;
    PERFORM 1 FROM file_inventory WHERE host_id = job_host AND id = NEW.file_id AND customer_id = NEW.customer_id FOR KEY SHARE;
    IF NOT FOUND THEN
        RAISE foreign_key_violation USING MESSAGE = 'tiering_job_files rows must name an inventory file of their own customer';
    END IF;
    RETURN NEW;
END;
$$;

-- The stub registry's and recall job files' former foreign keys: the row they name exists, in their tenant and
-- on their host, and is locked against a key change until they commit.
CREATE FUNCTION check_named_inventory_file() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    file_host uuid;
BEGIN
    IF NEW.file_id IS NULL THEN
        RETURN NEW;
    END IF;
    IF TG_TABLE_NAME = 'recall_job_files' THEN
        SELECT host_id INTO file_host FROM recall_jobs WHERE id = NEW.job_id AND customer_id = NEW.customer_id;
    ELSE
        file_host := NEW.host_id;
    END IF;
    PERFORM 1 FROM file_inventory WHERE host_id = file_host AND id = NEW.file_id AND customer_id = NEW.customer_id FOR KEY SHARE;
    IF NOT FOUND THEN
        RAISE foreign_key_violation USING MESSAGE = format('%s rows must name an inventory file of their own customer', TG_TABLE_NAME);
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER stub_registry_names_inventory_file BEFORE INSERT OR UPDATE OF customer_id, host_id, file_id ON stub_registry
    FOR EACH ROW EXECUTE FUNCTION check_named_inventory_file();
CREATE TRIGGER recall_job_files_name_inventory_file BEFORE INSERT OR UPDATE OF customer_id, job_id, file_id ON recall_job_files
    FOR EACH ROW EXECUTE FUNCTION check_named_inventory_file();

CREATE OR REPLACE FUNCTION keep_inventory_named_by_jobs() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM deleted_rows AS file JOIN tiering_job_files AS job_file
                   ON job_file.customer_id = file.customer_id AND job_file.file_id = file.id)
       OR EXISTS (SELECT 1 FROM deleted_rows AS file JOIN stub_registry AS stub
                      ON stub.customer_id = file.customer_id AND stub.file_id = file.id)
       OR EXISTS (SELECT 1 FROM deleted_rows AS file JOIN recall_job_files AS recalled
                      ON recalled.customer_id = file.customer_id AND recalled.file_id = file.id) THEN
        RAISE foreign_key_violation USING MESSAGE = 'an inventory file a job or stub names is not deleted';
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER file_inventory_keep_job_files AFTER DELETE ON file_inventory
    REFERENCING OLD TABLE AS deleted_rows FOR EACH STATEMENT EXECUTE FUNCTION keep_inventory_named_by_jobs();
