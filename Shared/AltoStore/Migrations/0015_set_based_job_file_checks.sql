-- A plan writes one job file per planned file, a quarter of a million for a million-file host, and each of the three
-- foreign keys of tiering_job_files checked and locked its parent row with a trigger call per row: two thirds of the
-- time the plan spent writing, measured. A statement trigger now checks what a plan inserts, once per statement:
-- each distinct job looked up and locked as the key did, each file looked up by key (OFFSET 0 keeps the planner
-- from hashing the whole inventory for a few thousand rows). What the keys also promised stays true: the services
-- may no longer delete jobs or inventory rows at all (none ever did), and for the owner a deleted job takes its
-- files along, as the cascade did, and an inventory row a job names is not deleted. A row trigger checks the rare
-- update that changes a job file's keys, so the actor's updates of a file's state cost nothing more.

ALTER TABLE tiering_job_files
    DROP CONSTRAINT tiering_job_files_customer_id_fkey,
    DROP CONSTRAINT tiering_job_files_customer_id_job_id_fkey,
    DROP CONSTRAINT tiering_job_files_customer_id_file_id_fkey;

REVOKE DELETE ON file_inventory, tiering_jobs FROM alto_service;

CREATE FUNCTION check_job_file_parents() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    jobs integer;
    locked integer;
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
    IF EXISTS (SELECT 1 FROM written_rows AS written
               WHERE NOT EXISTS (SELECT 1 FROM file_inventory AS file
                                 WHERE file.customer_id = written.customer_id AND file.id = written.file_id OFFSET 0)) THEN
        RAISE foreign_key_violation USING MESSAGE = 'tiering_job_files rows must name an inventory file of their own customer';
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER tiering_job_files_parents_on_insert AFTER INSERT ON tiering_job_files
    REFERENCING NEW TABLE AS written_rows FOR EACH STATEMENT EXECUTE FUNCTION check_job_file_parents();

CREATE FUNCTION check_job_file_parents_of_row() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM tiering_jobs WHERE customer_id = NEW.customer_id AND id = NEW.job_id FOR KEY SHARE;
    IF NOT FOUND THEN
        RAISE foreign_key_violation USING MESSAGE = 'tiering_job_files rows must belong to a tiering job of their own customer';
    END IF;
    PERFORM 1 FROM file_inventory WHERE customer_id = NEW.customer_id AND id = NEW.file_id FOR KEY SHARE;
    IF NOT FOUND THEN
        RAISE foreign_key_violation USING MESSAGE = 'tiering_job_files rows must name an inventory file of their own customer';
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER tiering_job_files_parents_on_update BEFORE UPDATE OF customer_id, job_id, file_id ON tiering_job_files
    FOR EACH ROW WHEN ((OLD.customer_id, OLD.job_id, OLD.file_id) IS DISTINCT FROM (NEW.customer_id, NEW.job_id, NEW.file_id))
    EXECUTE FUNCTION check_job_file_parents_of_row();

CREATE FUNCTION delete_files_of_deleted_jobs() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM tiering_job_files AS job_file USING deleted_rows AS job
    WHERE job_file.customer_id = job.customer_id AND job_file.job_id = job.id;
    RETURN NULL;
END;
$$;

CREATE TRIGGER tiering_jobs_take_their_files AFTER DELETE ON tiering_jobs
    REFERENCING OLD TABLE AS deleted_rows FOR EACH STATEMENT EXECUTE FUNCTION delete_files_of_deleted_jobs();

CREATE FUNCTION keep_inventory_named_by_jobs() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM deleted_rows AS file JOIN tiering_job_files AS job_file
                   ON job_file.customer_id = file.customer_id AND job_file.file_id = file.id) THEN
        RAISE foreign_key_violation USING MESSAGE = 'an inventory file a tiering job names is not deleted';
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER file_inventory_keep_job_files AFTER DELETE ON file_inventory
    REFERENCING OLD TABLE AS deleted_rows FOR EACH STATEMENT EXECUTE FUNCTION keep_inventory_named_by_jobs();
