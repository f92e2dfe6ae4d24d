-- A message the broker will not take stays in the outbox with its reason, retried with a growing pause, without
-- holding up the others.
ALTER TABLE outbox ADD COLUMN attempts integer NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN last_error text;
ALTER TABLE outbox ADD COLUMN last_attempt_at timestamptz;
