#!/bin/sh
# Fleets (issue #21): what a fleet costs per target in CPU time and
# syscalls, not in wall time, so that it can be measured on a machine
# shared with other work. For each cairn-apply binary given, ROUNDS runs
# (interleaved) of 'fleet --parallel P' over N fresh SQLite targets: user
# and system CPU time of the fleet and its target processes (GNU time),
# then one run under 'strace -f -c' for the syscall counts per target.
#
#   bench/fleet-cpu.sh BIN...        (default: bin/cairn-apply)
#
# Environment: BENCH_DIR (default /tmp/cairn-bench-fleet-cpu; the
# workload of bench/fleet.sh, bench/lib-fleet.sh, made there when it
# holds no b.tar.gz: M migrations, default 50), N (default 20), P
# (default 2), ROUNDS (default 3).
set -e
cd "$(dirname "$0")/.."
SRC=$(pwd)
BENCH_DIR=${BENCH_DIR:-/tmp/cairn-bench-fleet-cpu}
N=${N:-20}
P=${P:-2}
BINS=${*:-$SRC/bin/cairn-apply}
mkdir -p "$BENCH_DIR"
cd "$BENCH_DIR"
if ! test -f b.tar.gz; then
	PATH="$SRC/bin:$PATH" M=${M:-50}
	. "$SRC/bench/lib-fleet.sh"
	fleet_project sqlite
fi
j=1
while test $j -le "$N"; do echo "t$j sqlite:cpu/t$j.db"; j=$((j + 1)); done >cpu-targets
run() { # BIN [WRAPPER...]: one fleet over fresh targets
	bin=$1; shift
	rm -rf cpu cpu.jsonl && mkdir cpu
	"$@" "$bin" fleet b.tar.gz --env bench --key ci.pub --targets cpu-targets \
		--parallel "$P" --result cpu.jsonl --log-format json >/dev/null
	test "$(grep -c '"outcome":"applied"' cpu.jsonl)" = "$N"
}
r=0
while test $r -lt "${ROUNDS:-3}"; do
	for b in $BINS; do
		run "$b" /usr/bin/time -f "%U %S %e" -o cpu.time
		read -r u s e <cpu.time
		echo "$b round $r load $(cut -d' ' -f1 /proc/loadavg): user ${u}s sys ${s}s" \
			"($(echo "scale=1; 1000 * ($u + $s) / $N" | bc) ms CPU a target), wall ${e}s"
	done
	r=$((r + 1))
done
for b in $BINS; do
	run "$b" strace -f -c -o cpu.strace
	echo "$b: syscalls a target (strace -f -c):" $(awk -v n="$N" \
		'$NF ~ /^(fdatasync|fsync|pwrite64|pread64|openat|fcntl|newfstatat|read|clone)$/ { printf "%s %.1f, ", $NF, $4 / n }' cpu.strace)
done
