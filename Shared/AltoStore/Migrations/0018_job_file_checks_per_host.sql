-- What a plan of a million-file host spent writing, profiled: a quarter of it in the job files' statement check,
-- which looked each new row's inventory file up on its own (a probe per row, through the job's host, which was not
-- known before the row was read), and an eighth in compressing the outbox's bodies with pglz.
--
-- The rows' distinct jobs are now found once, not once per question about them, and the files are checked once
-- per host the rows' jobs belong to (one, for a plan), by a statement planned with that host and its jobs as
-- values: it counts the rows that find their file in that one partition and compares that with the rows (a file is
-- named once per job, and a host's partition holds an id once). PostgreSQL plans the join by the sizes it sees:
-- for a plan of a quarter of a million-file host's files, one scan and hash of the partition, 0.43 s where the
-- anti join's probe per row took 0.5 to 0.9 s (a filter of the rows on their customer, which their jobs' check
-- makes needless, had made PostgreSQL expect a few hundred of them and join them to the jobs by a nested loop);
-- for a few files, probes by key.
--
-- The outbox's bodies, a job's JSON of a thousand files each, are compressed with lz4, several times faster than
-- pglz for the same kind of saving; the rows live only until the relay has published them.

CREATE OR REPLACE FUNCTION check_job_file_parents() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    job_ids uuid[];
    customer_ids uuid[];
    locked integer;
    job_host record;
    missing boolean;
BEGIN
    SELECT coalesce(array_agg(job_id), '{}'), coalesce(array_agg(customer_id), '{}') INTO job_ids, customer_ids
    FROM (SELECT DISTINCT customer_id, job_id FROM written_rows) AS pairs;
    SELECT count(*) INTO locked FROM (
        SELECT 1 FROM tiering_jobs AS job
        JOIN unnest(job_ids, customer_ids) AS pair (job_id, customer_id)
            ON job.id = pair.job_id AND job.customer_id = pair.customer_id
        FOR KEY SHARE OF job) AS found;
    IF locked <> cardinality(job_ids) THEN
        RAISE foreign_key_violation USING MESSAGE = 'tiering_job_files rows must belong to a tiering job of their own customer';
    END IF;
    FOR job_host IN
        SELECT job.customer_id, job.host_id, array_agg(job.id) AS job_ids FROM tiering_jobs AS job
        WHERE job.id = ANY(job_ids)
        GROUP BY job.customer_id, job.host_id
    LOOP
        EXECUTE $check$
            SELECT (SELECT count(*) FROM written_rows WHERE job_id = ANY($3))
                <> (SELECT count(*) FROM written_rows AS written
                    JOIN file_inventory AS file ON file.host_id = $2 AND file.id = written.file_id AND file.customer_id = $1
                    WHERE written.job_id = ANY($3))
            $check$ INTO missing USING job_host.customer_id, job_host.host_id, job_host.job_ids;
        IF missing THEN
            RAISE foreign_key_violation USING MESSAGE = 'tiering_job_files rows must name an inventory file of their own customer';
        END IF;
    END LOOP;
    RETURN NULL;
END;
$$;

ALTER TABLE outbox ALTER COLUMN body SET COMPRESSION lz4;

-- The inventory's checks name their tables unqualified, and a temporary table of the same name, which any login may
-- create, would have been found first.
ALTER FUNCTION check_job_file_parents_of_row() SET search_path = pg_catalog, public, pg_temp;
ALTER FUNCTION check_named_inventory_file() SET search_path = pg_catalog, public, pg_temp;
ALTER FUNCTION check_inventory_hosts() SET search_path = pg_catalog, public, pg_temp;
ALTER FUNCTION keep_inventory_named_by_jobs() SET search_path = pg_catalog, public, pg_temp;
