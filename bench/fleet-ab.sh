#!/bin/sh
# Fleets (issue #21): two cairn-apply builds, same fleet, alternating: the
# wall time of 'fleet --parallel P' over N fresh SQLite targets with each
# build in turn (A B, then B A, ... ROUNDS rounds), every database checked
# (bench/lib-fleet.sh's fleet_check: M migrations applied in its books,
# M tables of its own).
#
#   bench/fleet-ab.sh BIN_A BIN_B
#
# Environment: BENCH_DIR (default /tmp/cairn-bench-fleet-ab), N (default
# 100), M (default 50), P (default 2; "auto": no --parallel, the build's
# own default), ROUNDS (default 2).
set -e
cd "$(dirname "$0")/.."
SRC=$(pwd)
A=$(realpath "$1")
B=$(realpath "$2")
BENCH_DIR=${BENCH_DIR:-/tmp/cairn-bench-fleet-ab}
N=${N:-100}
M=${M:-50}
P=${P:-2}
PFLAG="--parallel $P"
test "$P" != auto || PFLAG=
rm -rf "$BENCH_DIR"
mkdir -p "$BENCH_DIR"
cd "$BENCH_DIR"
. "$SRC/bench/lib-fleet.sh"
PATH="$SRC/bin:$PATH" fleet_project sqlite
j=1
while test $j -le "$N"; do echo "t$j sqlite:f/t$j.db"; j=$((j + 1)); done >targets

# one BIN: prints the wall time, then the wrong databases
one() {
	rm -rf f && mkdir f
	t0=$(date +%s.%N)
	"$1" fleet b.tar.gz --env bench --key ci.pub --targets targets $PFLAG --result r.jsonl \
		--log-format json >/dev/null
	t1=$(date +%s.%N)
	echo "$(echo "$t1 - $t0" | bc) s, $(fleet_check f "$N") wrong"
}

r=0
while test $r -lt "${ROUNDS:-2}"; do
	if test $((r % 2)) = 0; then first=$A second=$B; else first=$B second=$A; fi
	load=$(cut -d" " -f1 /proc/loadavg)
	x=$(one "$first")
	y=$(one "$second")
	if test $((r % 2)) = 0; then a=$x b=$y; else a=$y b=$x; fi
	echo "N=$N M=$M P=$P round $r (load $load, $(test $((r % 2)) = 0 && echo "A first" || echo "B first")): A $a; B $b"
	r=$((r + 1))
done
