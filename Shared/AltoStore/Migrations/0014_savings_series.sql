-- What the analytics dashboard draws: per tenant, day (UTC), host and target, the files and bytes tiered and
-- recalled, the stubs whose files users deleted, and the disk bytes that tiering gave back net of what recalls and
-- deletions took again. The actor adds to it in the
-- transaction that records an agent's result, so a chart over a year reads 365 rows per host and target, never the
-- inventory.
CREATE TABLE savings_daily (
    customer_id uuid NOT NULL REFERENCES customers (id),
    day date NOT NULL,
    host_id uuid NOT NULL,
    target_id uuid NOT NULL,
    files_tiered bigint NOT NULL DEFAULT 0,
    bytes_tiered bigint NOT NULL DEFAULT 0,
    files_recalled bigint NOT NULL DEFAULT 0,
    bytes_recalled bigint NOT NULL DEFAULT 0,
    -- Stubs found deleted by a user: their files would take no disk now either, so they count as saving no more.
    files_removed bigint NOT NULL DEFAULT 0,
    -- Disk bytes freed by the day's tiering minus those its recalls and deletions took back: a change, summed over
    -- days for the bytes saved at any date.
    bytes_saved bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (customer_id, day, host_id, target_id),
    FOREIGN KEY (customer_id, host_id) REFERENCES hosts (customer_id, id),
    FOREIGN KEY (customer_id, target_id) REFERENCES storage_targets (customer_id, id)
);
SELECT alto_isolate_tenant_table('savings_daily');

-- The disk bytes this stub gave back when it was made, which its recall takes again.
ALTER TABLE stub_registry ADD COLUMN bytes_saved bigint CHECK (bytes_saved >= 0);

-- Stubs made before the series existed: their size stands for the bytes they saved, on the day they were made,
-- taken back on the day of a recall or of the deletion the sanitizer found.
INSERT INTO savings_daily (customer_id, day, host_id, target_id, files_tiered, bytes_tiered, bytes_saved)
SELECT customer_id, (created_at AT TIME ZONE 'UTC')::date, host_id, target_id, count(*), sum(size), sum(size)
FROM stub_registry WHERE target_id IS NOT NULL
GROUP BY 1, 2, 3, 4;
INSERT INTO savings_daily AS series (customer_id, day, host_id, target_id, files_recalled, bytes_recalled, files_removed, bytes_saved)
SELECT customer_id, (coalesce(recalled_at, deleted_at) AT TIME ZONE 'UTC')::date, host_id, target_id,
       count(*) FILTER (WHERE state = 'recalled'), coalesce(sum(size) FILTER (WHERE state = 'recalled'), 0),
       count(*) FILTER (WHERE state <> 'recalled'), -sum(size)
FROM stub_registry
WHERE target_id IS NOT NULL AND ((state = 'recalled' AND recalled_at IS NOT NULL) OR (state IN ('deleted', 'purged') AND deleted_at IS NOT NULL))
GROUP BY 1, 2, 3, 4
ON CONFLICT (customer_id, day, host_id, target_id) DO UPDATE SET
    files_recalled = series.files_recalled + EXCLUDED.files_recalled,
    bytes_recalled = series.bytes_recalled + EXCLUDED.bytes_recalled,
    files_removed = series.files_removed + EXCLUDED.files_removed,
    bytes_saved = series.bytes_saved + EXCLUDED.bytes_saved;

-- The agent version each host last reported in its heartbeat, for the hosts page.
ALTER TABLE hosts ADD COLUMN agent_version text;

-- The ingest lag gauge reads the oldest batch still waiting.
CREATE INDEX uploads_waiting ON scan_staging.uploads (received_at) WHERE ingested_at IS NULL;
