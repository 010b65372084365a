#!/bin/sh
# The PostgreSQL books guard's cost on a transaction: false script (issue
# #15, pgguard15b), run on demand, never by `make check`:
#
#   make all
#   sh bench/pg-guard.sh OLD_CAIRN_APPLY [N] [MIGS]
#
# OLD_CAIRN_APPLY: bin/cairn-apply built from the commit before (copy it
# aside first). The books: MIGS migrations (default 2500) of one
# statement applied first, so cairn_migrations and cairn_audit hold
# 2 x MIGS rows; then one transaction: false migration of N statements
# (default 10000, one-row INSERTs), whose every statement the guard
# checks. Each round copies the database with the books (CREATE DATABASE
# ... TEMPLATE) and applies the last migration with each build, printing
# wall seconds and the transactions the server committed meanwhile
# (pg_stat_database.xact_commit: one per statement, one per guard query
# outside a transaction, and cairn's own). BENCH_RUNS rounds (default 3).
# OLD_N (default N): the old build, whose guard read every books row after
# each statement, runs a script of OLD_N statements instead (10,000 over
# 5,000 rows took it over 45 minutes); the new build runs both.
set -eu
SRC_DIR=$(cd "$(dirname "$0")/.." && pwd)
OLD=${1:?usage: pg-guard.sh OLD_CAIRN_APPLY [N] [MIGS]}
case $OLD in /*) ;; *) OLD=$(pwd)/$OLD ;; esac
test -x "$OLD" || { echo "bench: not an executable: $OLD" >&2; exit 2; }
N=${2:-10000}
MIGS=${3:-2500}
RUNS=${BENCH_RUNS:-3}
OLD_N=${OLD_N:-$N}
NEW="$SRC_DIR/bin/cairn-apply"
CAIRN="$SRC_DIR/bin/cairn"

. "$SRC_DIR/bench/lib-pg-server.sh"
bench_pg_start pg-guard "N=$N statements, $MIGS migrations in the books"
export GIT_AUTHOR_NAME=b GIT_AUTHOR_EMAIL=b@example.com GIT_COMMITTER_NAME=b GIT_COMMITTER_EMAIL=b@example.com
git init -q p
(cd p && "$CAIRN" init >/dev/null)
sed -i -e 's/^version_style: .*/version_style: sequence/' -e 's/^drivers: .*/drivers: [postgres]/' \
	-e '/^release_refs:/,/^$/c\
release_refs: []\
' p/cairn.yaml
"$CAIRN" keygen --no-passphrase ci >/dev/null 2>&1
gen() { # gen MIGS N: the migrations, the last one of N statements
python3 - "$1" "$2" <<'PY'
import os, shutil, sys
migs, n = int(sys.argv[1]), int(sys.argv[2])
shutil.rmtree("p/migrations", ignore_errors=True)
for i in range(1, migs + 1):
    d = "p/migrations/%05d_m" % i
    os.makedirs(d)
    open(d + "/up.sql", "w").write("CREATE TABLE t%d (id int);\n" % i if i == 1 else "SELECT %d;\n" % i)
    open(d + "/down.sql", "w").write("SELECT 1;\n")
d = "p/migrations/%05d_load" % (migs + 1)
os.makedirs(d)
with open(d + "/up.sql", "w") as f:
    for i in range(n):
        f.write("INSERT INTO t1 VALUES (%d);\n" % i)
open(d + "/down.sql", "w").write("DELETE FROM t1;\n")
open(d + "/migration.yaml", "w").write("transaction: false\n")
PY
git -C p add -A && git -C p commit -q -m "$2"
(cd p && "$CAIRN" build --sign ../ci.key -o "../b$2.tar.gz" >/dev/null 2>&1)
}
gen "$MIGS" "$OLD_N"
test "$OLD_N" = "$N" || gen "$MIGS" "$N"
"$PSQL" -X -q -c "create database base"
last=$(printf '%05d' "$MIGS")
"$NEW" apply "b$N.tar.gz" --to "$last" --env dev --db "postgresql:///base?host=$PGHOST" --key ci.pub >/dev/null 2>&1
echo "# books: $("$PSQL" -X -At -d base -c "select (select count(*) from cairn.cairn_migrations) + (select count(*) from cairn.cairn_audit)") rows"
commits() {
	"$PSQL" -X -At -d postgres -c "select xact_commit from pg_stat_database where datname = '$1'"
}
r=1
while test $r -le "$RUNS"; do
	for which in old new new$N; do
		bin=$OLD n=$OLD_N
		test $which = old || bin=$NEW
		test $which != new$N || n=$N
		test $which != new$N || test "$N" != "$OLD_N" || continue
		db=r$r$which
		"$PSQL" -X -q -c "create database $db template base"
		c0=$(commits "$db")
		t0=$(date +%s.%N)
		"$bin" apply "b$n.tar.gz" --env dev --db "postgresql:///$db?host=$PGHOST" --key ci.pub >/dev/null 2>&1 ||
			echo "# $which: apply failed"
		t1=$(date +%s.%N)
		sleep 1
		c1=$(commits "$db")
		echo "$which ($n statements) round $r: $(echo "$t1 - $t0" | bc) s, $((c1 - c0)) transactions committed"
		"$PSQL" -X -q -c "drop database $db"
	done
	r=$((r + 1))
done
