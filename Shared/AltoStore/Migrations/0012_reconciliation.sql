-- Reconciliation: the sanitizer has agents list each target and check their stubs, stages what they report, and
-- merges it with the stub registry into findings.

-- What the registry must know to judge a listing: the copy's stored size, whether the stub is at risk (its only
-- copy is gone or damaged), and stubs users deleted, whose copies are kept for the target's retention window.
ALTER TABLE stub_registry ADD COLUMN stored_bytes bigint;
ALTER TABLE stub_registry ADD COLUMN at_risk boolean NOT NULL DEFAULT false;
ALTER TABLE stub_registry ADD COLUMN deleted_at timestamptz;
ALTER TABLE stub_registry DROP CONSTRAINT stub_registry_state_check;
ALTER TABLE stub_registry ADD CONSTRAINT stub_registry_state_check CHECK (state IN ('active', 'recalled', 'deleted', 'purged'));
-- Compared with listed locations byte for byte, as paths are (0005 did the same for file_path).
ALTER TABLE stub_registry ALTER COLUMN tiered_location TYPE text COLLATE "C";
CREATE INDEX stub_registry_target_location ON stub_registry (customer_id, target_id, tiered_location);

-- One listing of one target by one agent: its whole tenant prefix (`tenant` scope: SMB, S3, Azure, which every
-- host reaches alike) or only its own host's copies (`host` scope: a folder, which may be local to the host).
CREATE TABLE reconciliation_runs (
    id uuid PRIMARY KEY,
    customer_id uuid NOT NULL REFERENCES customers (id),
    target_id uuid NOT NULL,
    host_id uuid NOT NULL,
    scope text NOT NULL CHECK (scope IN ('host', 'tenant')),
    verify text NOT NULL CHECK (verify IN ('sample', 'all')),
    state text NOT NULL DEFAULT 'sent' CHECK (state IN ('sent', 'listed', 'merged', 'expired', 'failed')),
    requested_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    listed_at timestamptz,
    merged_at timestamptz,
    objects_listed bigint NOT NULL DEFAULT 0,
    copies_verified bigint NOT NULL DEFAULT 0,
    stubs_checked bigint NOT NULL DEFAULT 0,
    -- Copies the run's agent was told to delete first: orphans past their grace.
    deletions text[] NOT NULL DEFAULT '{}',
    error text,
    FOREIGN KEY (customer_id, target_id) REFERENCES storage_targets (customer_id, id),
    FOREIGN KEY (customer_id, host_id) REFERENCES hosts (customer_id, id)
);
CREATE INDEX reconciliation_runs_open ON reconciliation_runs (customer_id, target_id, host_id) WHERE state IN ('sent', 'listed');

-- What an agent listed and checked, until its run is merged: objects on the target (with the outcome of reading
-- and verifying a sample of copies) and the stubs of its host that are gone or differ from the registry.
CREATE TABLE scan_staging.reconciliation_rows (
    run_id uuid NOT NULL REFERENCES reconciliation_runs (id) ON DELETE CASCADE,
    customer_id uuid NOT NULL REFERENCES customers (id),
    kind text NOT NULL CHECK (kind IN ('object', 'stub')),
    location text COLLATE "C" NOT NULL,
    key text COLLATE "C",
    size bigint,
    modified_at timestamptz,
    -- For an object: 'ok' or 'damaged' when its copy was read and verified, NULL when it was not read. For a stub:
    -- 'missing' or 'differs'.
    outcome text,
    detail text
);
CREATE INDEX reconciliation_rows_run ON scan_staging.reconciliation_rows (run_id, kind, location);

-- A finding stays one row while it is seen run after run (first and last seen); an admin may accept it, a repair
-- or a later run that no longer sees it ends it.
CREATE TABLE findings (
    id bigserial PRIMARY KEY,
    customer_id uuid NOT NULL REFERENCES customers (id),
    kind text NOT NULL CHECK (kind IN ('missing_copy', 'orphan', 'size_drift', 'hash_drift', 'stub_missing', 'stub_differs',
                                        'undescribed_copy')),
    target_id uuid NOT NULL,
    host_id uuid,
    file_path text,
    location text COLLATE "C" NOT NULL,
    detail text NOT NULL DEFAULT '',
    state text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'accepted', 'repaired', 'resolved')),
    first_seen timestamptz NOT NULL DEFAULT now(),
    last_seen timestamptz NOT NULL DEFAULT now(),
    ended_at timestamptz,
    last_run_id uuid REFERENCES reconciliation_runs (id) ON DELETE SET NULL,
    FOREIGN KEY (customer_id, target_id) REFERENCES storage_targets (customer_id, id)
);
CREATE UNIQUE INDEX findings_current ON findings (customer_id, target_id, kind, location) WHERE state IN ('open', 'accepted');
CREATE INDEX findings_listing ON findings (customer_id, id);

-- Puts a tenant table under row-level security as 0009 and 0011 did theirs; later migrations call it too.
CREATE FUNCTION alto_isolate_tenant_table(tenant_table regclass) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', tenant_table);
    EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', tenant_table);
    EXECUTE format('CREATE POLICY tenant_isolation ON %s USING (customer_id = alto_tenant() OR alto_all_tenants())', tenant_table);
END;
$$;
SELECT alto_isolate_tenant_table(tenant_table)
FROM unnest(ARRAY['reconciliation_runs', 'scan_staging.reconciliation_rows', 'findings']::regclass[]) AS tenant_table;
