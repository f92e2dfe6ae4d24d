-- The planner's issue: rules with candidate order, caps, schedule windows and watermarks, soft-deleted so the jobs
-- they planned keep their history; targets with secrets kept apart from what the API shows; the volumes agents
-- report; a record of every plan run.

ALTER TABLE rules
    ALTER COLUMN case_sensitive DROP NOT NULL,
    ALTER COLUMN case_sensitive DROP DEFAULT,
    ADD COLUMN candidate_order text NOT NULL DEFAULT 'coldest' CHECK (candidate_order IN ('coldest', 'largest')),
    ADD COLUMN max_files_per_run integer CHECK (max_files_per_run > 0),
    ADD COLUMN max_bytes_per_run bigint CHECK (max_bytes_per_run > 0),
    ADD COLUMN schedule jsonb,
    ADD COLUMN watermark_high_percent double precision CHECK (watermark_high_percent BETWEEN 0 AND 100),
    ADD COLUMN watermark_low_percent double precision CHECK (watermark_low_percent BETWEEN 0 AND 100),
    ADD COLUMN deleted_at timestamptz,
    ADD CHECK ((watermark_high_percent IS NULL) = (watermark_low_percent IS NULL)),
    ADD CHECK (watermark_low_percent < watermark_high_percent),
    DROP CONSTRAINT rules_customer_id_name_key;
COMMENT ON COLUMN rules.case_sensitive IS 'NULL: Windows paths compare case-insensitively, POSIX paths case-sensitively';
CREATE UNIQUE INDEX rules_live_name ON rules (customer_id, name) WHERE deleted_at IS NULL;
-- Priorities are unique within a tenant, so the order of evaluation never rests on a tie-break.
CREATE UNIQUE INDEX rules_live_priority ON rules (customer_id, priority) WHERE deleted_at IS NULL;

ALTER TABLE storage_targets
    ADD COLUMN secrets jsonb NOT NULL DEFAULT '{}',
    ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN deleted_at timestamptz,
    DROP CONSTRAINT storage_targets_customer_id_name_key;
COMMENT ON COLUMN storage_targets.secrets IS 'credentials; written by the API, read by the actor, never returned';
CREATE UNIQUE INDEX storage_targets_live_name ON storage_targets (customer_id, name) WHERE deleted_at IS NULL;

CREATE TABLE host_volumes (
    customer_id uuid NOT NULL,
    host_id uuid NOT NULL,
    mount_point text COLLATE "C" NOT NULL,
    total_bytes bigint NOT NULL CHECK (total_bytes >= 0),
    used_bytes bigint NOT NULL CHECK (used_bytes >= 0),
    reported_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (host_id, mount_point),
    FOREIGN KEY (customer_id, host_id) REFERENCES hosts (customer_id, id) ON DELETE CASCADE
);

ALTER TABLE hosts ADD COLUMN last_planned_at timestamptz;

ALTER TABLE tiering_jobs
    ADD COLUMN rule_version integer NOT NULL DEFAULT 1,
    ADD COLUMN plan_id uuid,
    ADD COLUMN bandwidth_bytes_per_second bigint NOT NULL DEFAULT 0;

CREATE TABLE plan_runs (
    id uuid PRIMARY KEY,
    customer_id uuid NOT NULL REFERENCES customers (id),
    host_id uuid NOT NULL,
    reason text NOT NULL,
    started_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    files_evaluated bigint NOT NULL DEFAULT 0,
    files_planned bigint NOT NULL DEFAULT 0,
    bytes_planned bigint NOT NULL DEFAULT 0,
    jobs integer NOT NULL DEFAULT 0,
    FOREIGN KEY (customer_id, host_id) REFERENCES hosts (customer_id, id) ON DELETE CASCADE
);
CREATE INDEX plan_runs_host ON plan_runs (customer_id, host_id, started_at);
