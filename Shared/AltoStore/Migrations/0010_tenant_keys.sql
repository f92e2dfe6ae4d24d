-- Per-tenant keys: each encrypted copy's data key, wrapped by its tenant's key (envelope encryption), is kept
-- with the stub, so rotating the tenant's key rewraps these without touching a byte of the copies.
ALTER TABLE stub_registry ADD COLUMN wrapped_key text;
COMMENT ON COLUMN stub_registry.wrapped_key IS 'the copy''s data key wrapped by the tenant''s key; NULL for a copy in the clear';
COMMENT ON COLUMN storage_targets.secrets IS 'credentials, each value encrypted with the tenant''s key; written by the API, opened only by the agent';
