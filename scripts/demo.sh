#!/usr/bin/env bash
# The demo: installs what is missing, starts PostgreSQL and RabbitMQ, builds Alto, runs its six services as
# separate processes, scans a sample tree, tiers the cold files to a local tier-2 folder, shows what was saved,
# and reads one stub with `cat` to show the transparent recall. The sample tree gets a mount of its own, which the
# stub guard watches; the guard keeps running after the demo, so its stubs never read as zeros (a read of one then
# fails with EIO until `alto-agent recall` or the next demo).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
state="$("$root/scripts/local-servers.sh" state)"
cd "$root"

"$root/scripts/local-servers.sh" up
if ! command -v swift >/dev/null; then echo "Swift 6.3 is needed on PATH (https://swift.org/install)" >&2; exit 1; fi
command -v curl >/dev/null || { sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo; $sudo apt-get install -y -qq curl >/dev/null; }
echo "== building Alto and its web UI"
swift build 2>&1 | tail -1
"$root/scripts/build-ui.sh"
trap '"$root/scripts/run-suite.sh" stop' EXIT
"$root/scripts/run-suite.sh" start
eval "$("$root/scripts/local-servers.sh" env)"
export ALTO_POSTGRES_URL ALTO_POSTGRES_MIGRATION_URL ALTO_AMQP_URL ALTO_KEY_DIR ALTO_ADMIN_TOKEN ALTO_SESSION_KEY ALTO_AUDIT_KEY

sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo -E"
echo "== generating a sample tree"
demo="$state/demo"
if [ -f "$state/guard.pid" ]; then
    $sudo kill -TERM "$(cat "$state/guard.pid")" 2>/dev/null || true
    for _ in $(seq 1 50); do $sudo kill -0 "$(cat "$state/guard.pid")" 2>/dev/null || break; sleep 0.2; done
    rm -f "$state/guard.pid"
fi
if mountpoint -q "$demo/data" 2>/dev/null; then $sudo umount -l "$demo/data"; fi
rm -rf "$demo"; mkdir -p "$demo/data/projects/2019" "$demo/data/projects/current" "$demo/data/media" "$demo/tier2"
for i in 1 2 3; do head -c $((3 * 1024 * 1024 + i)) /dev/urandom > "$demo/data/projects/2019/report-$i.pdf"; done
head -c $((8 * 1024 * 1024)) /dev/urandom > "$demo/data/media/old, \"quoted\" video.mp4"
head -c $((2 * 1024 * 1024)) /dev/urandom > "$demo/data/projects/current/draft.docx"
echo "fresh notes" > "$demo/data/projects/current/notes.txt"
touch -d "400 days ago" "$demo/data/projects/2019/"* "$demo/data/media/"*
sha256sum "$demo/data/media/old, \"quoted\" video.mp4" | cut -d' ' -f1 > "$demo/original.sha256"
du_before=$(du -sk "$demo/data" | cut -f1)

api=http://127.0.0.1:8080/api/v1
admin=(-H "Authorization: Bearer $ALTO_ADMIN_TOKEN" -H "Content-Type: application/json")
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
echo "== creating a tenant, a host, a tier-2 target and a rule"
customer=$(curl -fsS "${admin[@]}" -d "{\"name\":\"demo-$(date +%s)\"}" "$api/customers" | json "['id']")
host_json=$(curl -fsS "${admin[@]}" -d '{"hostname":"fileserver-1"}' "$api/customers/$customer/hosts")
host=$(echo "$host_json" | json "['id']"); token=$(echo "$host_json" | json "['agent_token']")
tenant=(-H "X-Alto-Customer-Id: $customer")
target=$(curl -fsS "${admin[@]}" "${tenant[@]}" -d "{\"name\":\"tier2\",\"kind\":\"filesystem\",\"location\":\"$demo/tier2\"}" "$api/storage-targets" | json "['id']")
# A tenant admin for the web UI, with a password of its own kept in the state folder.
ui_password="$(openssl rand -hex 12)"; echo "$ui_password" > "$state/demo-admin.password"; chmod 600 "$state/demo-admin.password"
curl -fsS "${admin[@]}" "${tenant[@]}" -d "{\"email\":\"admin@demo.example\",\"password\":\"$ui_password\",\"role\":\"admin\"}" "$api/users" >/dev/null
curl -fsS "${admin[@]}" "${tenant[@]}" -d "{\"name\":\"cold after 180 days\",\"priority\":10,\"path_globs\":[\"$demo/data/**\"],\"min_days_since_modified\":180,\"min_size\":4096,\"target_id\":\"$target\"}" "$api/rules" >/dev/null

export ALTO_CUSTOMER_ID=$customer ALTO_HOST_ID=$host ALTO_AGENT_TOKEN=$token ALTO_HTTP_PORT=9105
export ALTO_AGENT_STATE_DIR="$state/agent" ALTO_AGENT_SCAN_ROOTS="$demo/data" ALTO_AGENT_START_GUARD=false ALTO_AGENT_RECALL_WAIT_SECONDS=5
echo "== starting the stub guard on a mount of the sample tree, and the agent"
$sudo mount --bind "$demo/data" "$demo/data"
$sudo setsid nohup .build/debug/alto-agent guard >"$state/logs/guard.log" 2>&1 < /dev/null &
echo $! > "$state/guard.pid"
$sudo nohup .build/debug/alto-agent run >"$state/logs/agent.log" 2>&1 &
echo $! > "$state/agent.pid"

echo "== scanning and uploading"
.build/debug/alto-agent scan "$demo/data"

echo "== waiting for the cold files to be tiered"
for _ in $(seq 1 120); do
    stubbed=$(curl -fsS "${admin[@]}" "$api/customers/$customer/report" | json "['stubbed_files']")
    [ "$stubbed" -ge 4 ] && break
    sleep 0.5
done
report=$(curl -fsS "${admin[@]}" "$api/customers/$customer/report")
echo "$report" | python3 -c '
import json, sys
r = json.load(sys.stdin)
print("tiered files:")
for s in r["stubs"]:
    print("  %s  %10d bytes  ->  %s" % (s["path"], s["size"], s["location"]))
print("files in inventory: %d, stubbed: %d, bytes tiered: %d, disk bytes saved: %d"
      % (r["files"], r["stubbed_files"], r["tiered_bytes"], r["bytes_saved"]))
'
curl -fsS "${admin[@]}" "${tenant[@]}" "$api/analytics/savings" | python3 -c '
import json, sys
s = json.load(sys.stdin)
print("analytics (what the web UI overview shows): %d bytes saved, %d files tiered today, per target: %s"
      % (s["bytes_saved"], s["days"][-1]["files_tiered"], ", ".join("%s %d bytes" % (t["name"], t["bytes_saved"]) for t in s["targets"])))
'
echo "each tier-2 copy is sealed with a data key of the tenant's (AES-256-GCM), wrapped by the tenant's key in $ALTO_KEY_DIR"
du_after=$(du -sk "$demo/data" | cut -f1)
echo "disk used by the sample tree: ${du_before} KiB before, ${du_after} KiB after"
[ "$(echo "$report" | json "['stubbed_files']")" -ge 4 ] || { echo "the cold files were not tiered; see $state/logs" >&2; exit 1; }

echo "== reading a stub with cat: the guard holds the read while the agent recalls the file"
if [ "$(cat "$demo/data/media/old, \"quoted\" video.mp4" | sha256sum | cut -d' ' -f1)" = "$(cat "$demo/original.sha256")" ]; then
    echo "cat read the original bytes (sha256 $(cat "$demo/original.sha256")); the file is whole again"
else
    echo "cat did not read the original bytes" >&2; exit 1
fi

echo "== checking the tenant's audit trail (a hash chain)"
.build/debug/alto-api audit verify --customer "$customer" | python3 -c '
import json, sys
r = json.load(sys.stdin)
print("audit trail intact: %d records checked, %d problems" % (r["checked_rows"], len(r["problems"])))
sys.exit(1 if r["problems"] else 0)
'
echo "the stub guard (pid $(cat "$state/guard.pid")) keeps watching $demo/data after the demo: with no agent running its stubs"
echo "read as an error, never as zeros, until \`alto-agent recall $demo/data\` (in the demo's environment) or the next demo"
echo "the web UI: scripts/run-suite.sh start, then http://127.0.0.1:8080/ui/ as admin@demo.example with the password in $state/demo-admin.password"
