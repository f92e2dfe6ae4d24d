#!/usr/bin/env bash
# Adds random secrets for the suite to .env beside docker-compose.yml, each only if it is not there yet: a new audit
# key would break the audit trail's chains, a new session key would end every session, and new database or broker
# passwords would no longer match the ones their servers were created with.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
file="$root/.env"
command -v openssl >/dev/null || { echo "openssl is needed to make the secrets" >&2; exit 1; }
umask 077
touch "$file"
for name in ALTO_SESSION_KEY ALTO_AUDIT_KEY ALTO_ADMIN_TOKEN ALTO_OWNER_DB_PASSWORD ALTO_APP_DB_PASSWORD ALTO_BROKER_PASSWORD \
            ALTO_GRAFANA_PASSWORD; do
    if ! grep -qs "^$name=.\{24,\}" "$file"; then
        value="$(openssl rand -hex 32)"
        [ ${#value} -eq 64 ] || { echo "openssl made no secret" >&2; exit 1; }
        echo "$name=$value" >> "$file"
        echo "added $name to $file" >&2
    fi
done
