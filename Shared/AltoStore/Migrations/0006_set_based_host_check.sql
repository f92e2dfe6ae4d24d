-- An inventory row must belong to an enrolled host of its own customer. The foreign key said so with a trigger call
-- per row, a quarter of a million-row upsert; these statement triggers say it once per statement, for the distinct
-- (customer, host) pairs the statement wrote, and lock those hosts as the foreign key did so none is deleted or
-- moved to another customer underneath.

ALTER TABLE file_inventory DROP CONSTRAINT file_inventory_customer_id_host_id_fkey;

CREATE FUNCTION check_inventory_hosts() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    written integer;
    enrolled integer;
BEGIN
    SELECT count(*) INTO written FROM (SELECT DISTINCT customer_id, host_id FROM written_rows) AS pairs;
    SELECT count(*) INTO enrolled FROM (
        SELECT 1 FROM hosts
        JOIN (SELECT DISTINCT customer_id, host_id FROM written_rows) AS pairs
            ON hosts.id = pairs.host_id AND hosts.customer_id = pairs.customer_id
        FOR KEY SHARE OF hosts) AS locked;
    IF enrolled <> written THEN
        RAISE foreign_key_violation USING MESSAGE = 'file_inventory rows must belong to an enrolled host of their own customer';
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER file_inventory_hosts_on_insert AFTER INSERT ON file_inventory
    REFERENCING NEW TABLE AS written_rows FOR EACH STATEMENT EXECUTE FUNCTION check_inventory_hosts();
CREATE TRIGGER file_inventory_hosts_on_update AFTER UPDATE ON file_inventory
    REFERENCING NEW TABLE AS written_rows FOR EACH STATEMENT EXECUTE FUNCTION check_inventory_hosts();

-- The other side of the key: a host with inventory keeps its id and customer, and is not deleted.
CREATE FUNCTION keep_hosts_with_inventory() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM file_inventory WHERE host_id = OLD.id AND customer_id = OLD.customer_id) THEN
        RAISE foreign_key_violation USING MESSAGE = format('host %s still has files in the inventory', OLD.id);
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END;
$$;

CREATE TRIGGER hosts_keep_inventory BEFORE DELETE OR UPDATE OF id, customer_id ON hosts
    FOR EACH ROW EXECUTE FUNCTION keep_hosts_with_inventory();
