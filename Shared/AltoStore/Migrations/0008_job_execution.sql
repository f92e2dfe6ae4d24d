-- Tiering execution: a job whose agent fell silent is held, one whose tier was unavailable goes back to the queue
-- until `not_before`, and the actor re-dispatches both from these rows.
ALTER TABLE tiering_jobs DROP CONSTRAINT tiering_jobs_state_check;
ALTER TABLE tiering_jobs ADD CONSTRAINT tiering_jobs_state_check
    CHECK (state IN ('queued', 'dispatched', 'running', 'held', 'done', 'partially_done', 'failed'));
ALTER TABLE tiering_jobs
    ADD COLUMN not_before timestamptz,
    ADD COLUMN state_reason text,
    ADD COLUMN dispatch_count integer NOT NULL DEFAULT 0;
COMMENT ON COLUMN tiering_jobs.dispatch_count IS 'times the actor sent the job to its agent; 0 until the first dispatch';
DROP INDEX tiering_jobs_open;
CREATE INDEX tiering_jobs_open ON tiering_jobs (customer_id, host_id)
    WHERE state IN ('queued', 'dispatched', 'running', 'held');

-- Recalls an admin asked for, through the API: routed by the actor to the host's agent, ahead of tiering work.
CREATE TABLE recall_jobs (
    id uuid PRIMARY KEY,
    customer_id uuid NOT NULL REFERENCES customers (id),
    host_id uuid NOT NULL,
    requested_by text NOT NULL,
    rule_id uuid REFERENCES rules (id),
    state text NOT NULL DEFAULT 'queued'
        CHECK (state IN ('queued', 'dispatched', 'done', 'partially_done', 'failed')),
    file_count integer NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    dispatched_at timestamptz,
    finished_at timestamptz,
    FOREIGN KEY (customer_id, host_id) REFERENCES hosts (customer_id, id)
);

CREATE TABLE recall_job_files (
    job_id uuid NOT NULL REFERENCES recall_jobs (id) ON DELETE CASCADE,
    customer_id uuid NOT NULL REFERENCES customers (id),
    file_path text NOT NULL,
    file_id bigint REFERENCES file_inventory (id),
    state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'recalled', 'failed')),
    reason text,
    PRIMARY KEY (job_id, file_path)
);
