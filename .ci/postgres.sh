# Sourced by scripts/test.sh (README's test command, run by .ci/run): a
# throwaway PostgreSQL for the PostgreSQL tests (registry backends, sealing).
#
# Installs PostgreSQL from Debian's packages if it is not there, starts a
# cluster in a temporary folder (as the `postgres` user when run as root;
# PostgreSQL refuses to run as root), listening on 127.0.0.1 only, creates a
# database, and exports
#   URNA_TEST_POSTGRES_URL  postgres://urna@127.0.0.1:PORT/urna_test
#   URNA_REQUIRE_POSTGRES=1 so the PostgreSQL tests fail instead of skipping
# The cluster is stopped and removed when the sourcing shell exits.
#
# Use: `source .ci/postgres.sh` (bash, with `set -euo pipefail` as in scripts/test.sh).
# `URNA_PG_FSYNC=on` starts the cluster with fsync on (durability benchmarks).

urna_pg_setup() {
    local bin
    bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
        echo "postgres.sh: installing PostgreSQL from Debian's packages"
        export DEBIAN_FRONTEND=noninteractive
        local sudo=()
        [ "$(id -u)" != 0 ] && sudo=(sudo)
        "${sudo[@]}" apt-get update -qq
        "${sudo[@]}" apt-get install -y -qq postgresql >/dev/null
        bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
    fi

    local run=()
    if [ "$(id -u)" = 0 ]; then
        id postgres >/dev/null 2>&1 || useradd --system --home-dir /nonexistent postgres
        run=(runuser -u postgres --)
    fi

    URNA_PG_DIR=$(mktemp -d /tmp/urna-pg.XXXXXX)
    [ "$(id -u)" = 0 ] && chown postgres "$URNA_PG_DIR"
    # A free port: ask the kernel for one.
    local port
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

    "${run[@]}" "$bin/initdb" -D "$URNA_PG_DIR/data" -U urna -A trust -E UTF8 --locale=C --no-sync >"$URNA_PG_DIR/initdb.log" 2>&1 \
        || { cat "$URNA_PG_DIR/initdb.log"; return 1; }
    # fsync off: a test cluster thrown away at the end, not a durability test.
    # Benchmarks of durable appends set URNA_PG_FSYNC=on.
    "${run[@]}" "$bin/pg_ctl" -D "$URNA_PG_DIR/data" -l "$URNA_PG_DIR/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $URNA_PG_DIR -c fsync=${URNA_PG_FSYNC:-off} -c max_connections=200" start >/dev/null \
        || { cat "$URNA_PG_DIR/server.log"; return 1; }
    URNA_PG_STOP=("${run[@]}" "$bin/pg_ctl" -D "$URNA_PG_DIR/data" -m fast -w stop)
    "${run[@]}" "$bin/createdb" -h 127.0.0.1 -p "$port" -U urna urna_test

    export URNA_TEST_POSTGRES_URL="postgres://urna@127.0.0.1:$port/urna_test"
    export URNA_REQUIRE_POSTGRES=1
    echo "postgres.sh: PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port"
}

urna_pg_teardown() {
    if [ -n "${URNA_PG_STOP+set}" ]; then
        "${URNA_PG_STOP[@]}" >/dev/null 2>&1 || true
    fi
    if [ -n "${URNA_PG_DIR:-}" ]; then
        rm -rf "$URNA_PG_DIR"
    fi
}

# Registered first, so a setup that fails half-way still cleans up. A later
# `trap ... EXIT` in the sourcing script replaces it: call urna_pg_teardown
# from there.
trap urna_pg_teardown EXIT
urna_pg_setup
