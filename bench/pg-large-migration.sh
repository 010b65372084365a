#!/bin/sh
# One large PostgreSQL migration, before and after the driver ran scripts
# statement by statement (issue #16), run on demand, never by `make check`:
#
#   make all build/tests/pg-driver
#   sh bench/pg-large-migration.sh OLD_PG_DRIVER [N]
#
# OLD_PG_DRIVER: build/tests/pg-driver built from the commit before (copy
# it aside first). The migration: N statements (default 10000), one
# CREATE TABLE and then INSERTs of one row each, a data migration's usual
# shape; run in one transaction (pg-driver exec --tx, the driver's path for
# a transactional migration), against one throwaway server (tests/lib-pg.sh:
# Unix socket, fsync off). Rounds interleave the two builds; each prints
# wall seconds; BENCH_RUNS rounds (default 5).
set -eu
SRC_DIR=$(cd "$(dirname "$0")/.." && pwd)
OLD=${1:?usage: pg-large-migration.sh OLD_PG_DRIVER [N]}
# the script works in the server's directory: a relative path is the caller's
case $OLD in /*) ;; *) OLD=$(pwd)/$OLD ;; esac
test -x "$OLD" || { echo "bench: not an executable: $OLD" >&2; exit 2; }
N=${2:-10000}
RUNS=${BENCH_RUNS:-5}
NEW="$SRC_DIR/build/tests/pg-driver"
test -x "$NEW" || { echo "bench: build first: make build/tests/pg-driver" >&2; exit 2; }

. "$SRC_DIR/bench/lib-pg-server.sh"
bench_pg_start pg-large-migration "N=$N statements"
"$PSQL" -X -q -c "create database app"
{
	echo "CREATE TABLE big (id int primary key, v text);"
	i=1
	while test $i -lt "$N"; do
		echo "INSERT INTO big VALUES ($i, 'row $i');"
		i=$((i + 1))
	done
} >big.sql
now() { date +%s.%N; }
run() {
	"$PSQL" -X -q -d app -c "drop table if exists big" &&
	t0=$(now) &&
	"$1" exec "dbname=app" big.sql --tx >/dev/null &&
	t1=$(now) &&
	echo "$t0 $t1" | awk '{ printf "%.3f\n", $2 - $1 }'
}
r=1
while test $r -le "$RUNS"; do
	echo "round $r: before $(run "$OLD") s, after $(run "$NEW") s"
	r=$((r + 1))
done
echo "# load: $(cut -d' ' -f1-3 /proc/loadavg)"
