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

. "$SRC_DIR/bench/lib-pg-server.sh"
bench_pg_start fleet-pg
PATH="$SRC_DIR/bin:$PATH"
export CAIRN_TEMPLATE_DIR="$SRC_DIR/templates"

# the project: M migrations of one table each, a signed bundle
. "$SRC_DIR/bench/lib-fleet.sh"
fleet_project postgres

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
