-- Listings of changes: an agent that kept an index of its previous scan sends only the files that changed since
-- and the keys of those it no longer finds, instead of every file again (a million unchanged rows staged, merged
-- and compared for nothing). Staged rows carry the key the inventory keeps (file_inventory.path_key, migration
-- 16); the uploads say what each batch lists and, with the final batch, how many files the scan found, which the
-- inventory is checked against.

ALTER TABLE scan_staging.raw_scans ADD COLUMN path_key bigint;

ALTER TABLE scan_staging.uploads
    ADD COLUMN listing text NOT NULL DEFAULT 'complete' CHECK (listing IN ('complete', 'changes')),
    ADD COLUMN kind text NOT NULL DEFAULT 'files' CHECK (kind IN ('files', 'deletions')),
    ADD COLUMN scan_files bigint CHECK (scan_files >= 0),
    ADD CHECK (kind = 'files' OR (listing = 'changes' AND is_full_scan));

-- The tenant policies on customer_id call alto_tenant() and alto_all_tenants() for every row they filter:
-- measured, 420 ms of a million-row count of a host's files that takes 170 ms without. As subqueries they are
-- evaluated once per statement, with the same meaning.
CREATE OR REPLACE FUNCTION alto_isolate_tenant_table(tenant_table regclass) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', tenant_table);
    EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', tenant_table);
    EXECUTE format('CREATE POLICY tenant_isolation ON %s USING (customer_id = (SELECT alto_tenant()) OR (SELECT alto_all_tenants()))',
                   tenant_table);
END;
$$;

DO $$
DECLARE
    isolated record;
BEGIN
    FOR isolated IN SELECT schemaname, tablename FROM pg_policies
                    WHERE policyname = 'tenant_isolation' AND qual = '((customer_id = alto_tenant()) OR alto_all_tenants())' LOOP
        EXECUTE format('ALTER POLICY tenant_isolation ON %I.%I USING (customer_id = (SELECT alto_tenant()) OR (SELECT alto_all_tenants()))',
                       isolated.schemaname, isolated.tablename);
    END LOOP;
END;
$$;

-- Whether a listing of changes can be applied to the host: its inventory holds a complete listing (the host has a
-- partition) and no first full scan of it is still loading. The API refuses one otherwise, and the agent that
-- sent it lists every file next time.
CREATE FUNCTION inventory.takes_changes(customer uuid, host uuid) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT to_regclass('inventory.' || inventory.partition_of(host)) IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM inventory.loads WHERE loads.host_id = host AND loads.customer_id = customer)
$$;
