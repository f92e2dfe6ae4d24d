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
