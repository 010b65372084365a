#!/bin/sh
# Fleets on PostgreSQL (issue #21): one bundle of M migrations to N
# databases on one throwaway server (tests/lib-pg.sh: Unix socket, fsync
# off), three ways as bench/fleet.sh does on SQLite: 'cairn-apply apply' once
# per database in a shell loop, the same commands under GNU parallel -j P,
# and one 'cairn-apply fleet --parallel P'; ROUNDS rounds, the order
# reversed every other round, every database dropped and created anew
# before each way. Then each database is checked: M rows applied in its
# books and M tables of its own in pg_class.
#
#   make && sh bench/fleet-pg.sh          (N default 100, M 50, P 2, ROUNDS 1,
#                                          FIRST_ROUND 0)
set -eu
SRC_DIR=$(cd "$(dirname "$0")/.." && pwd)
N=${N:-100}
M=${M:-50}
P=${P:-2}

# lib-pg.sh expects the test library's few names.
TRASH_DIRECTORY=$(mktemp -d /tmp/cairn-bench-fleet-pg.XXXXXX)
chmod 755 "$TRASH_DIRECTORY"
TEST_NAME=fleet-pg-bench
test_failure=0
test_at_done=
say() { printf '%s\n' "$*"; }
test_done() { exit 1; }
. "$SRC_DIR/tests/lib-pg.sh"
cleanup() { pg_stop; rm -rf "$TRASH_DIRECTORY"; }
trap cleanup EXIT
pg_start
cd "$TRASH_DIRECTORY"
export LC_ALL=C
PATH="$SRC_DIR/bin:$PATH"
export CAIRN_TEMPLATE_DIR="$SRC_DIR/templates"
echo "# server: $("$PSQL" -X -At -c 'show server_version') on $(nproc) CPUs"

cairn keygen --no-passphrase ci >/dev/null 2>&1
git init -q p
(cd p && cairn init >/dev/null &&
 sed -i -e 's/^version_style: .*/version_style: sequence/' -e 's/^drivers: .*/drivers: [postgres]/' \
	-e '/^release_refs:/,/^$/c\
release_refs: []\
' cairn.yaml)
i=1
while test $i -le "$M"; do
	v=$(printf %04d $i)
	mkdir -p "p/migrations/${v}_t$i"
	echo "CREATE TABLE t$i (id integer primary key, v text);" >"p/migrations/${v}_t$i/up.sql"
	echo "DROP TABLE t$i;" >"p/migrations/${v}_t$i/down.sql"
	i=$((i + 1))
done
git -C p add -A
git -C p -c user.name=bench -c user.email=bench@example.com commit -q -m migrations
(cd p && cairn build --sign ../ci.key -o ../b.tar.gz >/dev/null 2>&1)

j=1
while test $j -le "$N"; do echo "t$j host=$PGHOST dbname=t$j"; j=$((j + 1)); done >targets

fresh() {
	j=1
	while test $j -le "$N"; do
		echo "DROP DATABASE IF EXISTS t$j WITH (FORCE); CREATE DATABASE t$j;"
		j=$((j + 1))
	done | "$PSQL" -X -q -v ON_ERROR_STOP=1 -d postgres >/dev/null 2>&1
}

check() {
	bad=0
	j=1
	while test $j -le "$N"; do
		got=$("$PSQL" -X -At -d "t$j" -c "SELECT (SELECT count(*) FROM cairn.cairn_migrations WHERE state = 'applied') || ' ' || (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relname LIKE 't%')" 2>/dev/null || echo none)
		test "$got" = "$M $M" || bad=$((bad + 1))
		j=$((j + 1))
	done
	echo "$bad"
}

now() { date +%s.%N; }

run() {
	fresh
	t0=$(now)
	case $1 in
	loop)
		j=1
		while test $j -le "$N"; do
			cairn-apply apply b.tar.gz --env bench --db "host=$PGHOST dbname=t$j" --key ci.pub >/dev/null
			j=$((j + 1))
		done ;;
	par)
		seq 1 "$N" | parallel -j "$P" \
			cairn-apply apply b.tar.gz --env bench --db "'host=$PGHOST dbname=t{}'" --key ci.pub ">/dev/null" ;;
	fleet)
		/usr/bin/time -f "%M" -o rss cairn-apply fleet b.tar.gz --env bench --key ci.pub \
			--targets targets --parallel "$P" --result r.jsonl --log-format json >events ;;
	esac
	t1=$(now)
	echo "$(echo "$t1 - $t0" | bc) $(check)"
}

# FIRST_ROUND=1 starts with the reversed order (a second round run later)
r=${FIRST_ROUND:-0}
while test $r -lt $((${FIRST_ROUND:-0} + ${ROUNDS:-1})); do
	load=$(cut -d" " -f1 /proc/loadavg)
	ways="loop par fleet"
	test $((r % 2)) = 0 || ways="fleet par loop"
	loop="- -" par="- -" fleet="- -"
	for w in $ways; do
		eval "$w=\"\$(run $w)\""
	done
	set -- $loop; lt=$1 lb=$2
	set -- $par; pt=$1 pb=$2
	set -- $fleet; ft=$1 fb=$2
	echo "N=$N M=$M P=$P round $r ($ways) load=$load: loop ${lt}s, parallel -j$P ${pt}s," \
		"fleet --parallel $P ${ft}s; loop/fleet $(echo "scale=2; $lt / $ft" | bc)x;" \
		"fleet's largest process RSS $(cat rss) KiB; wrong databases: loop $lb, parallel $pb, fleet $fb"
	r=$((r + 1))
done
