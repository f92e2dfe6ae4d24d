#!/usr/bin/env bash
# Runs every test: unit tests (no servers), integration tests against a real PostgreSQL and RabbitMQ, and the
# end-to-end test that runs all six executables as processes. Installs and starts what is missing first.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
command -v swift >/dev/null || { echo "Swift 6.3 is needed on PATH (https://swift.org/install)" >&2; exit 1; }
"$root/scripts/local-servers.sh" up
eval "$("$root/scripts/local-servers.sh" env)"
export ALTO_POSTGRES_URL ALTO_POSTGRES_MIGRATION_URL ALTO_AMQP_URL ALTO_RABBITMQCTL
# Independent clients and peers the tests check Alto against: moto's S3 server, boto3, Microsoft's Azure SDK, and
# schemathesis, which fuzzes the API from openapi.yaml.
python3 -c 'import moto.server, boto3, azure.storage.blob, schemathesis' 2>/dev/null \
    || python3 -m pip install -q 'moto[server]' boto3 azure-storage-blob schemathesis
# Each integration test makes a database of its own; drop those earlier runs left behind.
for database in $(psql "$ALTO_POSTGRES_MIGRATION_URL" -tAc "select datname from pg_database where datname ~ '^alto_(test|e2e)_[0-9a-f]+$'"); do
    psql -q "$ALTO_POSTGRES_MIGRATION_URL" -c "drop database if exists $database with (force)" >/dev/null
done
swift build --build-tests
if [ $# -gt 0 ]; then exec swift test --skip-build "$@"; fi
# Schemathesis keeps both cores busy for minutes, which would starve the other suites' services as they start, so
# the fuzzing runs after them; the broker-restart tests stop RabbitMQ for a moment, so they run alone, last.
swift test --skip-build --skip EndToEndTests
swift test --skip-build --filter EndToEndTests --skip BrokerRestartTests --skip APIFuzzTests
swift test --skip-build --filter APIFuzzTests
swift test --skip-build --filter BrokerRestartTests
