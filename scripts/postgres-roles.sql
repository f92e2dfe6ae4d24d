-- The database roles Alto expects, created once per PostgreSQL cluster by its owner (a superuser):
--   alto_service  the group every service's login belongs to; the migrations grant it what the services may do,
--                 under row-level security (it is neither a superuser nor BYPASSRLS);
--   alto_app      the login the services use (ALTO_POSTGRES_URL); the tables' owner runs the migrations
--                 (ALTO_POSTGRES_MIGRATION_URL).
-- psql -v app_password=... sets alto_app's password; without it the development password alto_app is used.
\if :{?app_password}
\else
\set app_password alto_app
\endif
SELECT NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'alto_service') AS missing_group \gset
\if :missing_group
CREATE ROLE alto_service NOLOGIN NOSUPERUSER NOBYPASSRLS;
\endif
SELECT NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'alto_app') AS missing_login \gset
\if :missing_login
CREATE ROLE alto_app LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE IN ROLE alto_service;
\endif
ALTER ROLE alto_app PASSWORD :'app_password';
