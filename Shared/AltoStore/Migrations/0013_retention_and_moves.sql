-- Copies of deleted stubs kept for the target's retention window and then purged, stubs that users moved told from
-- stubs they deleted, the stubs of every host on a share or bucket checked by that host, registry rows rebuilt
-- from the copies' descriptions, and copies made again from a duplicate's.

-- The kernel's handle of each stub (`StubHandle`), which still finds it after a user renames or moves it within
-- its file system and no longer does once it is deleted; and when a deleted stub's copy was purged.
ALTER TABLE stub_registry ADD COLUMN stub_handle text;
ALTER TABLE stub_registry ADD COLUMN purged_at timestamptz;
CREATE INDEX stub_registry_deleted ON stub_registry (customer_id, target_id, host_id, deleted_at) WHERE state = 'deleted';

-- A `stubs` run lists nothing: on a share or bucket that another host lists for the tenant, a host checks its own
-- stubs and carries out its own purges and deletions. `purges` are the copies the run's agent was told to purge.
ALTER TABLE reconciliation_runs DROP CONSTRAINT reconciliation_runs_scope_check;
ALTER TABLE reconciliation_runs ADD CONSTRAINT reconciliation_runs_scope_check CHECK (scope IN ('host', 'tenant', 'stubs'));
ALTER TABLE reconciliation_runs ADD COLUMN purges text[] NOT NULL DEFAULT '{}';

-- A stub row's outcome may also be 'moved' (to `moved_to`, in the inventory's encoding), 'purged' (its copy, on
-- the sanitizer's word) or 'kept' (a purge the agent refused, with the reason).
ALTER TABLE scan_staging.reconciliation_rows ADD COLUMN moved_to text COLLATE "C";

-- Registry rows rebuilt from tier-2: a copy no row names whose description authenticates is reported by its host
-- (kind 'described', with the row its description gives in `entry`) and registered again. `rebuilds` are the
-- copies a run's agent was asked to describe; a finding whose description cannot rebuild a row says why, and
-- only then may the copy go as an orphan.
ALTER TABLE scan_staging.reconciliation_rows DROP CONSTRAINT reconciliation_rows_kind_check;
ALTER TABLE scan_staging.reconciliation_rows ADD CONSTRAINT reconciliation_rows_kind_check CHECK (kind IN ('object', 'stub', 'described'));
ALTER TABLE scan_staging.reconciliation_rows ADD COLUMN entry jsonb;
ALTER TABLE reconciliation_runs ADD COLUMN rebuilds text[] NOT NULL DEFAULT '{}';
ALTER TABLE findings ADD COLUMN rebuild_refused text;

-- Copies made again from another copy of the same content: the registry finds those by content hash.
CREATE INDEX stub_registry_content ON stub_registry (customer_id, hash) WHERE state = 'active';
ALTER TABLE reconciliation_runs ADD COLUMN remakes text[] NOT NULL DEFAULT '{}';
