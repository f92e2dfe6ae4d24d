-- What a plan of a million-file host spent writing, profiled: a quarter of it in the job files' statement check,
-- which looked each new row's inventory file up on its own (a probe per row, through the job's host, which was not
-- known before the row was read), and an eighth in compressing the outbox's bodies with pglz.
--
-- The check now runs once per host the new rows' jobs belong to (one, for a plan), as a statement planned with
-- that host and its jobs as values: the files are then checked against the one partition by a single anti join.
-- (A job's customer is its rows' customer, checked above, so the rows need no filter on it, which would have
-- made PostgreSQL expect a few hundred of them and join them to the jobs by a nested loop.) The outbox's
-- bodies, a job's JSON of a thousand files each, are compressed with lz4, several times faster than pglz for the
-- same kind of saving; the rows live only until the relay has published them.

CREATE OR REPLACE FUNCTION check_job_file_parents() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    jobs integer;
    locked integer;
    job_host record;
    missing boolean;
BEGIN
    SELECT count(*) INTO jobs FROM (SELECT DISTINCT customer_id, job_id FROM written_rows) AS pairs;
    SELECT count(*) INTO locked FROM (
        SELECT 1 FROM tiering_jobs AS job
        JOIN (SELECT DISTINCT customer_id, job_id FROM written_rows) AS pairs
            ON job.id = pairs.job_id AND job.customer_id = pairs.customer_id
        FOR KEY SHARE OF job) AS found;
    IF locked <> jobs THEN
        RAISE foreign_key_violation USING MESSAGE = 'tiering_job_files rows must belong to a tiering job of their own customer';
    END IF;
    FOR job_host IN
        SELECT job.customer_id, job.host_id, array_agg(job.id) AS job_ids FROM tiering_jobs AS job
        JOIN (SELECT DISTINCT customer_id, job_id FROM written_rows) AS pairs
            ON job.id = pairs.job_id AND job.customer_id = pairs.customer_id
        GROUP BY job.customer_id, job.host_id
    LOOP
        EXECUTE $check$
            SELECT EXISTS (
                SELECT 1 FROM written_rows AS written
                WHERE written.job_id = ANY($3)
                  AND NOT EXISTS (SELECT 1 FROM file_inventory AS file
                                  WHERE file.host_id = $2 AND file.id = written.file_id AND file.customer_id = $1))
            $check$ INTO missing USING job_host.customer_id, job_host.host_id, job_host.job_ids;
        IF missing THEN
            RAISE foreign_key_violation USING MESSAGE = 'tiering_job_files rows must name an inventory file of their own customer';
        END IF;
    END LOOP;
    RETURN NULL;
END;
$$;

ALTER TABLE outbox ALTER COLUMN body SET COMPRESSION lz4;
