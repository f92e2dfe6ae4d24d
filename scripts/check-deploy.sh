#!/usr/bin/env bash
# Checks the deployment files offline, as the test command's step "deploy": docker-compose.yml with Debian's
# docker-compose (no engine needed), both kustomize overlays rendered by kubectl and checked against the Kubernetes
# schemas by kubernetes-validate --strict, and the agent's systemd units by systemd-analyze (their syntax, and an
# exposure score no worse than they ship with), installed into a scratch root by install-agent.sh.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
failed=0
step() { printf '== %s\n' "$*"; }
fail() { printf 'FAILED: %s\n' "$*" >&2; failed=1; }
for tool in docker-compose kubectl systemd-analyze openssl; do
    command -v "$tool" >/dev/null || { echo "check-deploy: $tool is needed (Debian's docker-compose, systemd and openssl; kubectl)" >&2; exit 1; }
done
python3 -c 'import kubernetes_validate' 2>/dev/null || { echo "check-deploy: pip install kubernetes-validate" >&2; exit 1; }

step "docker-compose config"
for name in ALTO_SESSION_KEY ALTO_AUDIT_KEY ALTO_ADMIN_TOKEN ALTO_OWNER_DB_PASSWORD ALTO_APP_DB_PASSWORD ALTO_BROKER_PASSWORD \
            ALTO_GRAFANA_PASSWORD; do
    echo "$name=$(openssl rand -hex 32)"
done > "$work/compose.env"
if ! docker-compose --project-directory "$root" -f "$root/docker-compose.yml" --env-file "$work/compose.env" config -q; then
    fail "docker-compose.yml"
fi
services="$(docker-compose --project-directory "$root" -f "$root/docker-compose.yml" --env-file "$work/compose.env" \
    --profile example-agent config --services | sort | tr '\n' ' ')"
for service in postgres rabbitmq migrate api ingest planner actor sanitizer agent prometheus grafana; do
    case " $services" in *" $service "*) ;; *) fail "docker-compose.yml has no $service service (it has: $services)" ;; esac
done

for overlay in dev prod; do
    step "kustomize overlay $overlay"
    if ! kubectl kustomize "$root/k8s/overlays/$overlay" > "$work/$overlay.yaml"; then
        fail "kubectl kustomize k8s/overlays/$overlay"
        continue
    fi
    if ! python3 -m kubernetes_validate --strict "$work/$overlay.yaml" > "$work/$overlay.validate" 2>&1; then
        cat "$work/$overlay.validate" >&2
        fail "kubernetes-validate --strict k8s/overlays/$overlay"
    fi
    for kind in Namespace ConfigMap Job Deployment Service HorizontalPodAutoscaler PodDisruptionBudget NetworkPolicy; do
        grep -q "^kind: $kind\$" "$work/$overlay.yaml" || fail "overlay $overlay renders no $kind"
    done
    printf '%s objects\n' "$(grep -c '^kind:' "$work/$overlay.yaml")"
done

step "systemd units"
printf 'ALTO_API_URL=https://alto.example.com\nALTO_CUSTOMER_ID=%s\nALTO_HOST_ID=%s\nALTO_AGENT_TOKEN=token\nALTO_AGENT_AMQP_URL=amqps://broker.example.com:5671/%%2f\nALTO_AGENT_SCAN_ROOTS=/srv/share\n' \
    "$(cat /proc/sys/kernel/random/uuid)" "$(cat /proc/sys/kernel/random/uuid)" > "$work/agent.env"
printf '#!/bin/sh\n' > "$work/alto-agent" && chmod +x "$work/alto-agent"
if ! "$root/scripts/install-agent.sh" --binary "$work/alto-agent" --env "$work/agent.env" --root "$work/host"; then
    fail "install-agent.sh --root"
fi
[ "$(stat -c %a "$work/host/etc/alto/agent.env")" = 600 ] || fail "agent.env is not installed root-only"
# The host's own units (the targets these are ordered against) beside the staged ones.
mkdir -p "$work/host/usr/lib/systemd"
ln -s /lib/systemd/system "$work/host/usr/lib/systemd/system"
# systemd older than 254 does not know FileDescriptorStorePreserve= and says so; nothing else may be reported.
if ! systemd-analyze verify --root="$work/host" alto-stub-guard.service alto-agent.service > "$work/verify" 2>&1 \
   || grep -v "Unknown key 'FileDescriptorStorePreserve'" "$work/verify" | grep -q .; then
    cat "$work/verify" >&2
    fail "systemd-analyze verify"
fi
for unit in alto-stub-guard:40 alto-agent:50; do
    name="${unit%%:*}" threshold="${unit##*:}"
    if ! systemd-analyze security --offline=true --root="$work/host" --threshold="$threshold" "$name.service" > "$work/$name.security" 2>&1; then
        grep -v '^✓' "$work/$name.security" >&2 || true
        fail "$name.service is more exposed than $((threshold / 10)).$((threshold % 10))"
    fi
    tail -1 "$work/$name.security"
done

[ "$failed" -eq 0 ] && echo "deployment files: all checks passed"
exit "$failed"
