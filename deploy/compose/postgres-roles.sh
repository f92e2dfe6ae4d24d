#!/bin/sh
# Run once by the postgres image when it makes its data folder: the roles Alto expects, with the services' login
# (alto_app) given the password of ALTO_APP_DB_PASSWORD rather than the development one.
set -eu
psql -v ON_ERROR_STOP=1 -v app_password="$ALTO_APP_DB_PASSWORD" --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" -f /alto/postgres-roles.sql
