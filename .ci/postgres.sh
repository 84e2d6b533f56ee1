#!/usr/bin/env bash
# A throwaway PostgreSQL on loopback for the tests marked `postgres` (shared Optuna
# studies). Debian/Ubuntu, run as root. Usage:
#
#     eval "$(sudo bash .ci/postgres.sh)"    # then: pytest -m postgres
#
# On success stdout holds one line, `export REGBENCH_TEST_POSTGRES_URL=postgresql://...`.
# On any failure it explains on stderr and exits 0 with nothing on stdout, so CI goes
# on and the postgres tests skip with a message instead of failing the build.
set -u

DB=${REGBENCH_PG_DB:-regbench_test}
ROLE=${REGBENCH_PG_USER:-regbench}
PASSWORD=${REGBENCH_PG_PASSWORD:-regbench}
PYTHON=${PYTHON:-$( [ -n "${VIRTUAL_ENV:-}" ] && echo "$VIRTUAL_ENV/bin/python" || command -v python3 || echo python)}

log() { echo ".ci/postgres.sh: $*" >&2; }
give_up() { log "$*; PostgreSQL tests will be skipped"; exit 0; }

[ "$(id -u)" = 0 ] || give_up "needs root (apt-get, pg_ctlcluster)"

if ! command -v pg_lsclusters >/dev/null 2>&1; then
  log "installing PostgreSQL from the Debian packages"
  export DEBIAN_FRONTEND=noninteractive
  { apt-get update -qq && apt-get install -y -qq --no-install-recommends postgresql; } >&2 \
    || give_up "apt-get install postgresql failed"
fi

# The package creates a cluster but may not start it (no init system in containers).
cluster=$(pg_lsclusters --no-header 2>/dev/null | head -n 1)
if [ -z "$cluster" ]; then
  version=$(ls /usr/lib/postgresql 2>/dev/null | sort -V | tail -n 1)
  [ -n "$version" ] || give_up "no PostgreSQL server binaries under /usr/lib/postgresql"
  pg_createcluster "$version" main >&2 || give_up "pg_createcluster $version main failed"
  cluster=$(pg_lsclusters --no-header | head -n 1)
fi
read -r version name port status _ <<<"$cluster"
if [ "$status" != online ]; then
  # listen_addresses=localhost: loopback only, whatever the cluster's config says.
  pg_ctlcluster "$version" "$name" start -- -o "-c listen_addresses=localhost" >&2 \
    || pg_ctlcluster "$version" "$name" start >&2 \
    || give_up "could not start cluster $version/$name (see /var/log/postgresql)"
fi

psql_admin() { runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -p "$port" "$@"; }
for _ in $(seq 30); do psql_admin -c "select 1" >/dev/null 2>&1 && break; sleep 1; done
psql_admin -c "select 1" >/dev/null 2>&1 || give_up "server on port $port does not answer"

psql_admin >&2 <<SQL || give_up "could not create role $ROLE"
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$ROLE') THEN
    CREATE ROLE $ROLE LOGIN PASSWORD '$PASSWORD';
  ELSE
    ALTER ROLE $ROLE LOGIN PASSWORD '$PASSWORD';
  END IF;
END \$\$;
SQL
if [ "$(psql_admin -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB'")" != 1 ]; then
  psql_admin -c "CREATE DATABASE $DB OWNER $ROLE" >&2 || give_up "could not create database $DB"
fi

"$PYTHON" -c "import psycopg2" 2>/dev/null \
  || "$PYTHON" -m pip install -q psycopg2-binary >&2 \
  || give_up "pip install psycopg2-binary into $PYTHON failed"

url="postgresql://$ROLE:$PASSWORD@127.0.0.1:$port/$DB"
# regbench picks psycopg2 for a plain postgresql:// URL when psycopg (3) is absent.
"$PYTHON" - "$url" >&2 <<'PY' || give_up "cannot connect to the new database with SQLAlchemy"
import sys
import sqlalchemy
url = sqlalchemy.engine.make_url(sys.argv[1]).set(drivername="postgresql+psycopg2")
with sqlalchemy.create_engine(url).connect() as conn:
    conn.execute(sqlalchemy.text("select 1"))
PY

log "PostgreSQL $version ready on 127.0.0.1:$port, database $DB"
echo "export REGBENCH_TEST_POSTGRES_URL=$url"
