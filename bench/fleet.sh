#!/bin/sh
# Fleets (issue #21): one bundle of M migrations to N SQLite databases,
# three ways, same run, same machine: 'cairn-apply apply' once per target in
# a shell loop, the same commands under GNU parallel -j P, and one
# 'cairn-apply fleet --parallel P'. Then every database is checked: M rows
# applied in its books and M tables. And the fleet's peak RSS (the fleet's
# own process, and the largest target process) at each N.
#
#   bench/fleet.sh [N...]       (default: 100 1000)
#
# Environment: BENCH_DIR (default /tmp/cairn-bench-fleet), M (default 50),
# P (default 2: this is a 2-core machine; auto: the fleet's own default), ROUNDS (default 1): the three
# ways run ROUNDS times each, in reversed order every other round, so that
# a machine shared with other work weighs on all of them alike; each round
# starts from fresh databases and prints its line. WAYS (default "loop par
# fleet") runs fewer of them (the RSS of a fleet of 1,000 alone).
set -e
cd "$(dirname "$0")/.."
SRC=$(pwd)
PATH="$SRC/bin:$PATH"
BENCH_DIR=${BENCH_DIR:-/tmp/cairn-bench-fleet}
M=${M:-50}
P=${P:-2}
# P=auto: the fleet without --parallel (its default for SQLite: twice the
# CPUs, at most 16), GNU parallel with -j of that count
PFLAG="--parallel $P"
if test "$P" = auto; then
	P=$((2 * $(nproc)))
	test $P -le 16 || P=16
	PFLAG=
fi
rm -rf "$BENCH_DIR"
mkdir -p "$BENCH_DIR"
cd "$BENCH_DIR"

# the project: M migrations of one table each, a signed bundle
. "$SRC/bench/lib-fleet.sh"
fleet_project sqlite

# check DIR N: every database in DIR has M migrations applied and M tables
check() { fleet_check "$@"; }

now() { date +%s.%N; }

# run WAY N: one way, from fresh databases; prints its wall time
run() {
	rm -rf "$1$2" && mkdir "$1$2"
	t0=$(now)
	case $1 in
	loop)
		j=1
		while test $j -le "$2"; do
			cairn-apply apply b.tar.gz --env bench --db "sqlite:loop$2/t$j.db" --key ci.pub >/dev/null
			j=$((j + 1))
		done ;;
	par)
		seq 1 "$2" | parallel -j "$P" \
			cairn-apply apply b.tar.gz --env bench --db "sqlite:par$2/t{}.db" --key ci.pub ">/dev/null" ;;
	fleet)
		/usr/bin/time -f "%M" -o "rss$2" cairn-apply fleet b.tar.gz --env bench --key ci.pub \
			--targets "targets$2" $PFLAG --result "r$2.jsonl" --log-format json >"events$2" ;;
	esac
	t1=$(now)
	echo "$t1 - $t0" | bc
}

for N in ${*:-100 1000}; do
	j=1
	while test $j -le "$N"; do echo "t$j sqlite:fleet$N/t$j.db"; j=$((j + 1)); done >"targets$N"
	r=0
	while test $r -lt "${ROUNDS:-1}"; do
		load=$(cut -d" " -f1 /proc/loadavg)
		ways=${WAYS:-loop par fleet}
		test $((r % 2)) = 0 || ways=$(echo "$ways" | tr " " "\n" | sed -n "1!G;h;\$p" | tr "\n" " ")
		command -v parallel >/dev/null || ways=$(echo "$ways" | sed "s/par //")
		loop=- par=- fleet=-
		for w in $ways; do
			eval "$w=\$(run $w $N)"
		done
		ratio=-
		test "$loop" = - || test "$fleet" = - || ratio=$(echo "scale=2; $loop / $fleet" | bc)
		echo "N=$N M=$M P=$P round $r ($ways) load=$load: loop ${loop}s, parallel -j$P ${par}s," \
			"fleet ${PFLAG:-(default $P)} ${fleet}s; loop/fleet ${ratio}x;" \
			"fleet's largest process RSS $(cat "rss$N" 2>/dev/null || echo -) KiB;" \
			"wrong databases: loop $(test "$loop" = - && echo - || check "loop$N" "$N"), parallel $(test "$par" = - && echo - || check "par$N" "$N"), fleet $(test "$fleet" = - && echo - || check "fleet$N" "$N")"
		r=$((r + 1))
	done
done
