-- Tenancy in depth: identities and their credentials, row-level security on every tenant table, a database role
-- for the services that cannot bypass it, and an audit trail that is append-only and hash-chained.

-- The services connect as a login role that is a member of alto_service (scripts/postgres-roles.sql creates one);
-- the migrations run as the owner of the tables. Neither superusers nor BYPASSRLS roles belong in alto_service.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'alto_service') THEN
        CREATE ROLE alto_service NOLOGIN NOBYPASSRLS;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END;
$$;

-- The tenant a transaction acts for, set with set_config('alto.customer_id', ..., true) by the services.
CREATE FUNCTION alto_tenant() RETURNS uuid
LANGUAGE sql STABLE PARALLEL SAFE AS $$ SELECT NULLIF(current_setting('alto.customer_id', true), '')::uuid $$;

-- True in the few transactions that deliberately span tenants (sweeps that find work, tenant creation, login);
-- they say so with set_config('alto.tenant_scope', 'all', true).
CREATE FUNCTION alto_all_tenants() RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS $$ SELECT coalesce(current_setting('alto.tenant_scope', true), '') = 'all' $$;

CREATE TABLE users (
    id uuid PRIMARY KEY,
    customer_id uuid REFERENCES customers (id),
    email text NOT NULL,
    display_name text NOT NULL DEFAULT '',
    password_hash text NOT NULL,
    role text NOT NULL CHECK (role IN ('super_admin', 'admin', 'operator', 'support', 'viewer')),
    session_epoch integer NOT NULL DEFAULT 0,
    disabled_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CHECK ((role = 'super_admin') = (customer_id IS NULL))
);
COMMENT ON COLUMN users.customer_id IS 'NULL only for the provider''s super admins';
COMMENT ON COLUMN users.session_epoch IS 'session tokens of an earlier epoch are void: logout, password change, disable';
CREATE UNIQUE INDEX users_email ON users (lower(email));
CREATE INDEX users_customer ON users (customer_id);

CREATE TABLE api_tokens (
    id uuid PRIMARY KEY,
    customer_id uuid REFERENCES customers (id),
    name text NOT NULL,
    role text NOT NULL CHECK (role IN ('super_admin', 'admin', 'operator', 'support', 'viewer')),
    token_hash bytea NOT NULL UNIQUE,
    created_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz,
    revoked_at timestamptz,
    last_used_at timestamptz,
    CHECK ((role = 'super_admin') = (customer_id IS NULL))
);
COMMENT ON COLUMN api_tokens.token_hash IS 'SHA-256 of the token; the token itself is shown once, at creation';
CREATE INDEX api_tokens_customer ON api_tokens (customer_id);

-- An agent's token is rotated with a grace period in which the one it replaces still works.
ALTER TABLE hosts
    ADD COLUMN agent_token_issued_at timestamptz,
    ADD COLUMN previous_agent_token_hash bytea,
    ADD COLUMN previous_agent_token_expires_at timestamptz;
UPDATE hosts SET agent_token_issued_at = created_at WHERE agent_token_hash IS NOT NULL;
CREATE INDEX hosts_agent_token ON hosts (agent_token_hash);
CREATE INDEX hosts_previous_agent_token ON hosts (previous_agent_token_hash) WHERE previous_agent_token_hash IS NOT NULL;

-- The audit trail: one hash chain per tenant (and one for the provider, customer_id NULL). Each row's hash is an
-- HMAC over the previous row's hash and the row's fields, keyed with a secret the database never holds, so a row
-- edited or deleted, even by a superuser, breaks the chain that `alto-api audit verify` walks.
ALTER TABLE audit_log
    ADD COLUMN seq bigint,
    ADD COLUMN previous_hash bytea,
    ADD COLUMN row_hash bytea;
COMMENT ON COLUMN audit_log.seq IS 'position in its tenant''s chain; rows written before the chain existed have none';
CREATE UNIQUE INDEX audit_log_chain ON audit_log (customer_id, seq) NULLS NOT DISTINCT WHERE seq IS NOT NULL;

CREATE FUNCTION audit_log_is_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE insufficient_privilege USING MESSAGE = 'audit_log is append-only';
END;
$$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_is_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_is_append_only();

-- Row-level security: a tenant table shows and accepts only the rows of the transaction's tenant. FORCE makes it
-- apply to the tables' owner as well; only superusers and BYPASSRLS roles pass, and the services are neither.
DO $$
DECLARE
    tenant_table text;
BEGIN
    FOREACH tenant_table IN ARRAY ARRAY[
        'hosts', 'storage_targets', 'rules', 'file_inventory', 'tiering_jobs', 'tiering_job_files', 'stub_registry',
        'audit_log', 'host_volumes', 'plan_runs', 'recall_jobs', 'recall_job_files', 'users', 'api_tokens',
        'scan_staging.uploads', 'scan_staging.rejects']
    LOOP
        EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', tenant_table);
        EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', tenant_table);
        EXECUTE format('CREATE POLICY tenant_isolation ON %s USING (customer_id = alto_tenant() OR alto_all_tenants())',
                       tenant_table);
    END LOOP;
END;
$$;

ALTER TABLE customers ENABLE ROW LEVEL SECURITY;
ALTER TABLE customers FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON customers USING (id = alto_tenant() OR alto_all_tenants());

-- A chunk belongs to the tenant of its upload; the policy's subquery is itself under the uploads policy.
ALTER TABLE scan_staging.upload_chunks ENABLE ROW LEVEL SECURITY;
ALTER TABLE scan_staging.upload_chunks FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON scan_staging.upload_chunks
    USING (EXISTS (SELECT 1 FROM scan_staging.uploads WHERE uploads.batch_id = upload_chunks.batch_id));

-- raw_scans stays outside: PostgreSQL refuses COPY FROM into a table under row-level security, and the ingest loads
-- it with COPY. Its partitions are per customer; the ingest reads them only by batch id, inside a tenant
-- transaction, and everything it feeds is under the policies above.

-- Partitions are created and dropped by the owner on the services' behalf.
ALTER FUNCTION scan_staging.drop_partitions_before(date) SECURITY DEFINER SET search_path = scan_staging, pg_catalog;
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
    END IF;
    IF to_regclass('scan_staging.' || day_table) IS NULL THEN
        EXECUTE format('CREATE UNLOGGED TABLE scan_staging.%I PARTITION OF scan_staging.%I FOR VALUES FROM (%L) TO (%L)',
                       day_table, customer_table, day, day + 1);
        EXECUTE format('CREATE INDEX ON scan_staging.%I (batch_id)', day_table);
        EXECUTE format('GRANT SELECT, INSERT, DELETE ON scan_staging.%I TO alto_service', day_table);
    END IF;
    RETURN day_table;
END;
$$;

-- What the services may do: read and write the tenant tables (under the policies), append to the audit trail,
-- and nothing to the schema.
GRANT USAGE ON SCHEMA public, scan_staging TO alto_service;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public, scan_staging TO alto_service;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public, scan_staging TO alto_service;
REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM alto_service;
REVOKE INSERT, UPDATE, DELETE ON schema_migrations FROM alto_service;
ALTER DEFAULT PRIVILEGES IN SCHEMA public, scan_staging GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO alto_service;
ALTER DEFAULT PRIVILEGES IN SCHEMA public, scan_staging GRANT USAGE, SELECT ON SEQUENCES TO alto_service;
DO $$
DECLARE
    partition_table text;
BEGIN
    FOR partition_table IN SELECT relname FROM pg_class JOIN pg_namespace ON pg_namespace.oid = relnamespace
                           WHERE nspname = 'scan_staging' AND relname LIKE 'raw_scans_c%' AND relkind IN ('r', 'p')
    LOOP
        EXECUTE format('GRANT SELECT, INSERT, DELETE ON scan_staging.%I TO alto_service', partition_table);
    END LOOP;
END;
$$;
