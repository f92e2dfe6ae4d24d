#!/usr/bin/env bash
# Starts or stops the five central services as separate processes, logging under .alto/logs.
#   scripts/run-suite.sh start [BUILD_DIR]   (BUILD_DIR defaults to .build/debug)
#   scripts/run-suite.sh stop
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
state="$("$root/scripts/local-servers.sh" state)"
logs="$state/logs"
mkdir -p "$logs"
eval "$("$root/scripts/local-servers.sh" env)"
export ALTO_POSTGRES_URL ALTO_POSTGRES_MIGRATION_URL ALTO_AMQP_URL ALTO_KEY_DIR ALTO_ADMIN_TOKEN ALTO_SESSION_KEY ALTO_AUDIT_KEY
# The web UI that scripts/build-ui.sh built, served by alto-api at /ui/.
export ALTO_UI_DIR="${ALTO_UI_DIR:-$root/web/dist}"

case "${1:-start}" in
start)
    bin="${2:-$root/.build/debug}"
    "$bin/alto-api" migrate
    for service in api ingest planner actor sanitizer; do
        if [ -f "$state/$service.pid" ] && kill -0 "$(cat "$state/$service.pid")" 2>/dev/null; then continue; fi
        nohup "$bin/alto-$service" >"$logs/$service.log" 2>&1 &
        echo $! > "$state/$service.pid"
    done
    for _ in $(seq 1 60); do
        curl -fsS http://127.0.0.1:8080/healthz >/dev/null 2>&1 && break
        sleep 0.5
    done
    for port in 8080 9101 9102 9103 9104; do
        curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null || { echo "service on port $port is not healthy; see $logs" >&2; exit 1; }
    done
    ;;
stop)
    for service in agent api ingest planner actor sanitizer; do
        if [ -f "$state/$service.pid" ]; then
            pid="$(cat "$state/$service.pid")"
            kill -TERM "$pid" 2>/dev/null || true
            for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
            rm -f "$state/$service.pid"
        fi
    done
    ;;
*) echo "usage: $0 start [BUILD_DIR] | stop" >&2; exit 2 ;;
esac
