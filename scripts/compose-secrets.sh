#!/usr/bin/env bash
# Writes .env beside docker-compose.yml with random secrets for the central suite, once: an existing .env is kept,
# since a new audit key would break the audit trail's chains and a new session key would end every session.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
file="$root/.env"
if [ -s "$file" ]; then echo "$file exists; keeping it" >&2; exit 0; fi
umask 077
{
    echo "ALTO_SESSION_KEY=$(openssl rand -hex 32)"
    echo "ALTO_AUDIT_KEY=$(openssl rand -hex 32)"
    echo "ALTO_ADMIN_TOKEN=$(openssl rand -hex 32)"
} > "$file.partial"
mv "$file.partial" "$file"
echo "wrote $file; the admin token is ALTO_ADMIN_TOKEN in it" >&2
