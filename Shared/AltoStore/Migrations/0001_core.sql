-- Core tenancy, inventory, jobs, stubs and audit (DESIGN.md, "Data"). Every tenant row carries customer_id.

CREATE TABLE customers (
    id uuid PRIMARY KEY,
    name text NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE hosts (
    id uuid PRIMARY KEY,
    customer_id uuid NOT NULL REFERENCES customers (id),
    hostname text NOT NULL,
    os text NOT NULL DEFAULT 'linux',
    agent_token_hash bytea,
    last_scan_at timestamptz,
    last_heartbeat_at timestamptz,
    file_count bigint NOT NULL DEFAULT 0,
    total_bytes bigint NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (customer_id, hostname),
    UNIQUE (customer_id, id)
);

CREATE TABLE storage_targets (
    id uuid PRIMARY KEY,
    customer_id uuid NOT NULL REFERENCES customers (id),
    name text NOT NULL,
    kind text NOT NULL CHECK (kind IN ('filesystem', 'smb', 's3', 'azure_blob')),
    location text NOT NULL,
    settings jsonb NOT NULL DEFAULT '{}',
    bandwidth_bytes_per_second bigint CHECK (bandwidth_bytes_per_second > 0),
    max_concurrency integer CHECK (max_concurrency > 0),
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (customer_id, name),
    UNIQUE (customer_id, id)
);

CREATE TABLE rules (
    id uuid PRIMARY KEY,
    customer_id uuid NOT NULL REFERENCES customers (id),
    name text NOT NULL,
    priority integer NOT NULL,
    enabled boolean NOT NULL DEFAULT true,
    path_globs text[] NOT NULL DEFAULT '{}',
    path_regex text,
    case_sensitive boolean NOT NULL DEFAULT true,
    min_days_since_modified integer CHECK (min_days_since_modified >= 0),
    min_days_since_accessed integer CHECK (min_days_since_accessed >= 0),
    min_size bigint CHECK (min_size >= 0),
    max_size bigint CHECK (max_size >= 0),
    include_extensions text[] NOT NULL DEFAULT '{}',
    exclude_extensions text[] NOT NULL DEFAULT '{}',
    target_id uuid NOT NULL,
    version integer NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (customer_id, name),
    CHECK (min_size IS NULL OR max_size IS NULL OR min_size <= max_size),
    FOREIGN KEY (customer_id, target_id) REFERENCES storage_targets (customer_id, id)
);

CREATE TABLE file_inventory (
    id bigserial PRIMARY KEY,
    customer_id uuid NOT NULL REFERENCES customers (id),
    host_id uuid NOT NULL,
    file_path text NOT NULL,
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
    UNIQUE (host_id, file_path),
    FOREIGN KEY (customer_id, host_id) REFERENCES hosts (customer_id, id)
);
CREATE INDEX file_inventory_candidates ON file_inventory (customer_id, host_id, last_accessed)
    WHERE NOT is_stubbed AND deleted_at IS NULL;
CREATE INDEX file_inventory_scan ON file_inventory (host_id, last_scan_id) WHERE deleted_at IS NULL;

CREATE TABLE tiering_jobs (
    id uuid PRIMARY KEY,
    customer_id uuid NOT NULL REFERENCES customers (id),
    host_id uuid NOT NULL,
    rule_id uuid NOT NULL REFERENCES rules (id),
    target_id uuid NOT NULL REFERENCES storage_targets (id),
    priority integer NOT NULL,
    state text NOT NULL DEFAULT 'queued'
        CHECK (state IN ('queued', 'dispatched', 'running', 'done', 'partially_done', 'failed')),
    file_count integer NOT NULL,
    total_bytes bigint NOT NULL,
    estimated_space_saved bigint NOT NULL,
    estimated_duration_seconds double precision NOT NULL,
    bytes_saved bigint NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now(),
    dispatched_at timestamptz,
    finished_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (customer_id, host_id) REFERENCES hosts (customer_id, id)
);
CREATE INDEX tiering_jobs_open ON tiering_jobs (customer_id, host_id)
    WHERE state IN ('queued', 'dispatched', 'running');

CREATE TABLE tiering_job_files (
    job_id uuid NOT NULL REFERENCES tiering_jobs (id) ON DELETE CASCADE,
    file_id bigint NOT NULL REFERENCES file_inventory (id),
    customer_id uuid NOT NULL REFERENCES customers (id),
    file_path text NOT NULL,
    file_size bigint NOT NULL,
    state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'tiered', 'skipped', 'failed')),
    reason text,
    PRIMARY KEY (job_id, file_id)
);
CREATE INDEX tiering_job_files_file ON tiering_job_files (file_id) WHERE state = 'pending';

CREATE TABLE stub_registry (
    id bigserial PRIMARY KEY,
    customer_id uuid NOT NULL REFERENCES customers (id),
    host_id uuid NOT NULL,
    file_id bigint REFERENCES file_inventory (id),
    file_path text NOT NULL,
    target_id uuid REFERENCES storage_targets (id),
    tiered_location text NOT NULL,
    hash text NOT NULL,
    size bigint NOT NULL,
    job_id uuid REFERENCES tiering_jobs (id),
    state text NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'recalled')),
    created_at timestamptz NOT NULL DEFAULT now(),
    recalled_at timestamptz,
    FOREIGN KEY (customer_id, host_id) REFERENCES hosts (customer_id, id)
);
CREATE UNIQUE INDEX stub_registry_active ON stub_registry (host_id, file_path) WHERE state = 'active';

CREATE TABLE audit_log (
    id bigserial PRIMARY KEY,
    customer_id uuid REFERENCES customers (id),
    at timestamptz NOT NULL DEFAULT now(),
    actor text NOT NULL,
    action text NOT NULL,
    target text NOT NULL,
    result text NOT NULL,
    details jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_customer ON audit_log (customer_id, at);

-- Messages written in the same transaction as the state they announce, published afterwards by a relay.
CREATE TABLE outbox (
    id bigserial PRIMARY KEY,
    message_id uuid NOT NULL,
    exchange text NOT NULL DEFAULT '',
    routing_key text NOT NULL,
    body bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Envelope ids a consumer has applied, so a redelivered message changes nothing.
CREATE TABLE processed_messages (
    consumer text NOT NULL,
    message_id uuid NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, message_id)
);
