#!/usr/bin/env bash
# Installs (when missing) and runs Alto's PostgreSQL 15 and RabbitMQ for one machine, without systemd or
# Docker: both listen on 127.0.0.1 only and keep their data under .alto/ in the checkout.
#   scripts/local-servers.sh up     install what is missing, start both, wait until they answer (safe to rerun)
#   scripts/local-servers.sh down   stop both
#   scripts/local-servers.sh env    print the environment the services and tests read
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
state="${ALTO_LOCAL_STATE:-$root/.alto}"
# The database and broker run as their own system users, which must be able to reach the data folder; a
# checkout under a private home folder gets its data folder under /var/tmp instead.
if [ -z "${ALTO_LOCAL_STATE:-}" ] && id postgres >/dev/null 2>&1 && [ "$(id -u)" = 0 ] \
    && ! runuser -u postgres -- test -x "$root" 2>/dev/null; then
    state="/var/tmp/alto-$(printf '%s' "$root" | md5sum | cut -c1-12)"
fi
pg_port="${ALTO_LOCAL_PG_PORT:-55432}"
amqp_port="${ALTO_LOCAL_AMQP_PORT:-55672}"
# AMQP over TLS beside plain AMQP (the Erlang distribution port is the one between), with the machine's own
# certificate; and RabbitMQ's management API, through which the API keeps each agent's own broker account.
amqps_port="${ALTO_LOCAL_AMQPS_PORT:-$((amqp_port + 3))}"
admin_port="${ALTO_LOCAL_AMQP_ADMIN_PORT:-$((amqp_port + 2))}"
pg_bin=/usr/lib/postgresql/15/bin
# Sized for a bulk-loading inventory on one machine: room in memory for the inventory's indexes, and checkpoints
# spaced so a million-row scan does not trigger several.
pg_tuning="-c shared_buffers=1GB -c max_wal_size=8GB -c checkpoint_timeout=15min -c wal_buffers=64MB -c log_min_duration_statement=${ALTO_LOCAL_PG_LOG_SLOWER_THAN_MS:--1}"
rabbit_home="$state/rabbitmq"
rabbit_node="alto@localhost"

say() { printf '[local-servers] %s\n' "$*" >&2; }

# Fails with a clear message when another program already listens on a port one of our servers needs.
require_free() {
    local port="$1" variable="$2"
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        say "127.0.0.1:$port is taken by another program (another checkout's servers?); stop it or set $variable"
        exit 1
    fi
}

as_user() {
    local user="$1"; shift
    if [ "$(id -un)" = "$user" ]; then "$@"; elif [ "$(id -u)" = 0 ]; then runuser -u "$user" -- "$@"; else sudo -u "$user" -- "$@"; fi
}

install_missing() {
    local wanted=(postgresql-15 postgresql-client-15 rabbitmq-server librabbitmq-dev libzstd-dev zlib1g-dev libpcre2-dev
                  libsmbclient-dev samba smbclient rsyslog pkgconf openssl curl)
    local missing=()
    for package in "${wanted[@]}"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    say "installing ${missing[*]}"
    local sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo apt-get update -qq
    # Debian's packages try to start their own system services; there is no init here, and we run our own.
    DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

rabbit_vars=(
    HOME="$rabbit_home"
    RABBITMQ_NODENAME="$rabbit_node"
    RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
    RABBITMQ_NODE_PORT="$amqp_port"
    RABBITMQ_DIST_PORT="$((amqp_port + 1))"
    ERL_EPMD_ADDRESS=127.0.0.1
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
    RABBITMQ_MNESIA_BASE="$rabbit_home/mnesia"
    RABBITMQ_LOG_BASE="$rabbit_home/log"
    RABBITMQ_PID_FILE="$rabbit_home/rabbit.pid"
    RABBITMQ_CONFIG_FILE="$rabbit_home/rabbitmq"
    RABBITMQ_ENABLED_PLUGINS_FILE="$rabbit_home/enabled_plugins"
)

rabbitmqctl_local() {
    (cd "$rabbit_home" && as_user rabbitmq env "${rabbit_vars[@]}" /usr/lib/rabbitmq/bin/rabbitmqctl "$@")
}

start_postgres() {
    mkdir -p "$state"
    if [ ! -s "$state/pg/PG_VERSION" ]; then
        say "creating a PostgreSQL cluster in $state/pg"
        install -d -o postgres -g postgres "$state/pg" "$state/pg-run"
        local pwfile; pwfile="$(mktemp)"; echo alto > "$pwfile"; chmod 644 "$pwfile"
        as_user postgres "$pg_bin/initdb" -D "$state/pg" -U alto --pwfile="$pwfile" --auth-local=trust \
            --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >/dev/null
        rm -f "$pwfile"
    fi
    install -d -o postgres -g postgres "$state/pg-run"
    if ! as_user postgres "$pg_bin/pg_ctl" -D "$state/pg" status >/dev/null 2>&1; then
        require_free "$pg_port" ALTO_LOCAL_PG_PORT
        say "starting PostgreSQL on 127.0.0.1:$pg_port"
        as_user postgres "$pg_bin/pg_ctl" -D "$state/pg" -l "$state/pg-run/postgres.log" -w -t 60 \
            -o "-c listen_addresses=127.0.0.1 -p $pg_port -k $state/pg-run -c max_connections=200 -c fsync=on $pg_tuning" start >/dev/null
    fi
    for _ in $(seq 1 60); do
        pg_isready -q -h 127.0.0.1 -p "$pg_port" && break
        sleep 0.5
    done
    pg_isready -q -h 127.0.0.1 -p "$pg_port" || { say "PostgreSQL did not answer"; exit 1; }
    if ! PGPASSWORD=alto psql -h 127.0.0.1 -p "$pg_port" -U alto -d postgres -tAc "select 1 from pg_database where datname='alto'" | grep -q 1; then
        PGPASSWORD=alto psql -q -h 127.0.0.1 -p "$pg_port" -U alto -d postgres -c "create database alto"
    fi
    # TLS for clients that ask for it (sslmode=verify-full with the machine's own authority); reloaded, not restarted.
    certificates
    install -o postgres -g postgres -m 600 "$state/tls/server.key" "$state/pg-run/server.key"
    PGPASSWORD=alto psql -q -X -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$pg_port" -U alto -d postgres >/dev/null <<SQL
ALTER SYSTEM SET ssl_cert_file = '$state/tls/server.pem';
ALTER SYSTEM SET ssl_key_file = '$state/pg-run/server.key';
ALTER SYSTEM SET ssl = on;
SELECT pg_reload_conf();
SQL
    PGPASSWORD=alto psql -q -X -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$pg_port" -U alto -d postgres \
        -f "$root/scripts/postgres-roles.sql" >/dev/null
}

# This machine's own certificate authority and a server certificate for 127.0.0.1 and localhost, made once.
certificates() {
    local tls="$state/tls"
    [ -s "$tls/server.pem" ] && return 0
    command -v openssl >/dev/null || install_missing >&2
    mkdir -p "$tls"
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=Alto local CA" \
        -keyout "$tls/ca.key" -out "$tls/ca.pem" >/dev/null 2>&1
    openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout "$tls/server.key" -out "$tls/server.csr" >/dev/null 2>&1
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' > "$tls/server.ext"
    openssl x509 -req -in "$tls/server.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca.key" -CAcreateserial -days 3650 \
        -extfile "$tls/server.ext" -out "$tls/server.pem.partial" >/dev/null 2>&1
    chmod 644 "$tls/server.pem.partial" "$tls/ca.pem"
    mv "$tls/server.pem.partial" "$tls/server.pem"
}

management_answers() {
    curl -fsS -m 5 -u guest:guest "http://127.0.0.1:$admin_port/api/overview" >/dev/null 2>&1
}

# Whether the broker completes a TLS handshake with a certificate of the machine's authority.
tls_answers() {
    timeout 5 openssl s_client -connect "127.0.0.1:$amqps_port" -CAfile "$state/tls/ca.pem" -verify_return_error </dev/null 2>/dev/null \
        | grep -q 'Verify return code: 0 (ok)'
}

start_rabbitmq() {
    install -d -o rabbitmq -g rabbitmq "$rabbit_home" "$rabbit_home/mnesia" "$rabbit_home/log" "$rabbit_home/tls"
    certificates
    install -o rabbitmq -g rabbitmq -m 600 "$state/tls/server.key" "$rabbit_home/tls/server.key"
    install -o rabbitmq -g rabbitmq -m 644 "$state/tls/server.pem" "$rabbit_home/tls/server.pem"
    install -o rabbitmq -g rabbitmq -m 644 "$state/tls/ca.pem" "$rabbit_home/tls/ca.pem"
    cat > "$rabbit_home/rabbitmq.conf" <<CONF
listeners.tcp.1 = 127.0.0.1:$amqp_port
listeners.ssl.1 = 127.0.0.1:$amqps_port
ssl_options.cacertfile = $rabbit_home/tls/ca.pem
ssl_options.certfile = $rabbit_home/tls/server.pem
ssl_options.keyfile = $rabbit_home/tls/server.key
ssl_options.verify = verify_none
ssl_options.fail_if_no_peer_cert = false
loopback_users.guest = true
management.tcp.ip = 127.0.0.1
management.tcp.port = $admin_port
CONF
    echo '[rabbitmq_management].' > "$rabbit_home/enabled_plugins"
    chown rabbitmq:rabbitmq "$rabbit_home/rabbitmq.conf" "$rabbit_home/enabled_plugins"
    # A broker started by an older copy of this script lacks the management API or TLS: it starts again with this one.
    if rabbitmqctl_local -q status >/dev/null 2>&1 && ! { management_answers && tls_answers; }; then
        say "restarting RabbitMQ with its management API on 127.0.0.1:$admin_port and TLS on 127.0.0.1:$amqps_port"
        rabbitmqctl_local -q stop >/dev/null 2>&1 || true
    fi
    if rabbitmqctl_local -q status >/dev/null 2>&1; then
        rabbitmqctl_local -q start_app >/dev/null 2>&1 || true
    else
        require_free "$amqp_port" ALTO_LOCAL_AMQP_PORT
        require_free "$admin_port" ALTO_LOCAL_AMQP_ADMIN_PORT
        require_free "$amqps_port" ALTO_LOCAL_AMQPS_PORT
        say "starting RabbitMQ on 127.0.0.1:$amqp_port"
        (cd "$rabbit_home" && as_user rabbitmq env "${rabbit_vars[@]}" /usr/lib/rabbitmq/bin/rabbitmq-server -detached >/dev/null 2>&1)
    fi
    for _ in $(seq 1 120); do
        if rabbitmqctl_local -q await_startup --timeout 5 >/dev/null 2>&1 && management_answers && tls_answers; then
            return 0
        fi
        sleep 1
    done
    say "RabbitMQ did not start with its management API and TLS listener; see $rabbit_home/log"
    exit 1
}

stop_all() {
    if [ -s "$state/pg/PG_VERSION" ] && as_user postgres "$pg_bin/pg_ctl" -D "$state/pg" status >/dev/null 2>&1; then
        as_user postgres "$pg_bin/pg_ctl" -D "$state/pg" -m fast -w stop >/dev/null && say "PostgreSQL stopped"
    fi
    if [ -d "$rabbit_home" ] && rabbitmqctl_local -q status >/dev/null 2>&1; then
        rabbitmqctl_local -q stop >/dev/null 2>&1 && say "RabbitMQ stopped"
    fi
}

# The API's secrets for this machine, made once: nothing runs with a value anyone could read in the repository.
secrets() {
    local file="$state/secrets.env" admin session audit partial
    if ! grep -qs '^ALTO_AUDIT_KEY=.\{24,\}' "$file"; then
        command -v openssl >/dev/null || install_missing >&2
        admin="$(openssl rand -hex 32)"; session="$(openssl rand -hex 32)"; audit="$(openssl rand -hex 32)"
        [ ${#admin} -eq 64 ] && [ ${#session} -eq 64 ] && [ ${#audit} -eq 64 ] || { say "openssl made no secrets"; exit 1; }
        mkdir -p "$state"
        partial="$(mktemp "$state/.secrets.XXXXXX")"
        printf 'ALTO_ADMIN_TOKEN=%s\nALTO_SESSION_KEY=%s\nALTO_AUDIT_KEY=%s\n' "$admin" "$session" "$audit" > "$partial"
        mv "$partial" "$file"
    fi
    sed 's/^/export /' "$file"
}

print_env() {
    secrets
    cat <<ENV
export ALTO_POSTGRES_URL=postgres://alto_app:alto_app@127.0.0.1:$pg_port/alto
export ALTO_POSTGRES_MIGRATION_URL=postgres://alto:alto@127.0.0.1:$pg_port/alto
export ALTO_KEY_DIR="$state/keys"
export ALTO_AMQP_URL=amqp://guest:guest@127.0.0.1:$amqp_port/%2f
export ALTO_BROKER_MANAGEMENT_URL=http://guest:guest@127.0.0.1:$admin_port
export ALTO_LOCAL_CA="$state/tls/ca.pem"
export ALTO_LOCAL_AMQPS_PORT=$amqps_port
export ALTO_RABBITMQCTL="$root/scripts/local-servers.sh rabbitmqctl"
ENV
}

case "${1:-up}" in
    state) echo "$state" ;;
    up) install_missing; start_postgres; start_rabbitmq; say "PostgreSQL and RabbitMQ are ready" ;;
    down) stop_all ;;
    env) print_env ;;
    rabbitmqctl) shift; rabbitmqctl_local "$@" ;;
    *) echo "usage: $0 up|down|env|state|rabbitmqctl ARGS" >&2; exit 2 ;;
esac
