#!/usr/bin/env bash
# Installs the Alto agent on a file server that runs systemd: the binary, the hardened stub-guard and agent units,
# /etc/alto/agent.env (kept when it exists, since it holds the host's token) and the state folder; then starts the
# guard before the agent, once the host is ready for it (a kernel with pre-content fanotify, managed roots that are
# mounts of their own).
#
#   scripts/install-agent.sh [--binary PATH] [--env FILE] [--root DIR] [--no-start]
#
# --binary   the alto-agent executable (default: .build/release/alto-agent)
# --env      an agent.env to install (default: systemd/agent.env.example, to be filled in)
# --root     install below DIR instead of / and start nothing (to stage an image or check the result)
# --no-start install and enable, start nothing
set -euo pipefail
source_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
binary="$source_root/.build/release/alto-agent"
env_file="$source_root/systemd/agent.env.example"
env_given=false
root=""
start=true
while [ $# -gt 0 ]; do
    case "$1" in
        --binary) binary="$2"; shift 2 ;;
        --env) env_file="$2"; env_given=true; shift 2 ;;
        --root) root="${2%/}"; start=false; shift 2 ;;
        --no-start) start=false; shift ;;
        -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "install-agent: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done

fail() { echo "install-agent: $*" >&2; exit 1; }
[ -x "$binary" ] || fail "no alto-agent executable at $binary (build it with swift build -c release, or pass --binary)"
[ -r "$env_file" ] || fail "cannot read $env_file"
if [ -z "$root" ]; then
    [ "$(id -u)" -eq 0 ] || fail "run as root: the agent and its guard run as root"
    command -v systemctl >/dev/null || fail "systemctl not found: this script installs systemd units"
fi

install -d -m 0755 "$root/usr/local/bin" "$root/etc/systemd/system"
install -d -m 0700 "$root/etc/alto" "$root/var/lib/alto-agent"
install -m 0755 "$binary" "$root/usr/local/bin/alto-agent"
install -m 0644 "$source_root/systemd/alto-stub-guard.service" "$source_root/systemd/alto-agent.service" "$root/etc/systemd/system/"
if [ -e "$root/etc/alto/agent.env" ]; then
    if $env_given; then
        echo "install-agent: /etc/alto/agent.env exists and holds this host's token; $env_file was not installed over it" >&2
    else
        echo "install-agent: keeping the existing /etc/alto/agent.env" >&2
    fi
else
    install -m 0600 "$env_file" "$root/etc/alto/agent.env"
fi

# What the guard needs of the host, checked before anything starts.
problems=()
for required in ALTO_API_URL ALTO_CUSTOMER_ID ALTO_HOST_ID ALTO_AGENT_TOKEN ALTO_AGENT_AMQP_URL ALTO_AGENT_SCAN_ROOTS; do
    grep -q "^$required=." "$root/etc/alto/agent.env" || problems+=("/etc/alto/agent.env sets no $required")
done
if [ -z "$root" ]; then
    read -r kernel_major kernel_minor _ <<<"$(uname -r | tr '.-' '  ')"
    if [ "$kernel_major" -lt 6 ] || { [ "$kernel_major" -eq 6 ] && [ "$kernel_minor" -lt 14 ]; }; then
        problems+=("Linux $(uname -r) has no pre-content fanotify events; the stub guard needs 6.14 or later")
    fi
    roots="$(sed -n 's/^ALTO_AGENT_SCAN_ROOTS=//p' /etc/alto/agent.env | tail -1 | tr -d "\"'")"
    IFS=, read -r -a managed <<<"$roots"
    for folder in "${managed[@]}"; do
        folder="$(echo "$folder" | sed 's/^[[:space:]]*//; s/[[:space:]]*$//')"
        [ -z "$folder" ] && continue
        mountpoint -q "$folder" || problems+=("$folder is not a mount point: give it a volume, or mount --bind $folder $folder in /etc/fstab")
    done
fi

if [ "${#problems[@]}" -gt 0 ]; then
    printf 'install-agent: installed, not started:\n' >&2
    printf '  - %s\n' "${problems[@]}" >&2
    [ -z "$root" ] && systemctl daemon-reload
    exit 1
fi
[ -z "$root" ] || { echo "install-agent: staged below $root"; exit 0; }
systemctl daemon-reload
systemctl enable alto-stub-guard.service alto-agent.service
if $start; then
    systemctl restart alto-stub-guard.service
    systemctl restart alto-agent.service
    systemctl --no-pager --lines=0 status alto-stub-guard.service alto-agent.service
fi
