#!/usr/bin/env bash
# Builds the release executables and runs Alto's benchmarks against their baselines in the same run:
#   scripts/bench.sh            all: scan (alto-agent vs find -printf), ingest (alto vs psql \copy + upsert), plan
#                               (rule evaluation in memory; a full plan by alto-planner vs psql reading the same rows),
#                               tier (to a filesystem target vs tee >(openssl dgst -sha256) and cp, each with sync),
#                               recall (first-byte latency of a 1 MiB stub recalled on access; needs root) and sanitize
#                               (a reconciliation run over 1M copies vs find -printf; a moto bucket listed vs boto3) and
#                               analytics (a 10M-file host's overview distributions through the API vs psql count and sum)
#   scripts/bench.sh scan ARGS  one of them, with alto-bench's options (see .build/release/alto-bench help)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
"$root/scripts/local-servers.sh" up
eval "$("$root/scripts/local-servers.sh" env)"
export ALTO_POSTGRES_URL ALTO_POSTGRES_MIGRATION_URL ALTO_AMQP_URL ALTO_RABBITMQCTL ALTO_BROKER_MANAGEMENT_URL
swift build -c release
if [ $# -gt 0 ]; then exec .build/release/alto-bench "$@"; fi
.build/release/alto-bench scan
.build/release/alto-bench ingest
.build/release/alto-bench plan
.build/release/alto-bench scale
.build/release/alto-bench tier
.build/release/alto-bench recall
.build/release/alto-bench sanitize
.build/release/alto-bench analytics
