#!/bin/sh
# Issue #14's four benchmarks (nothing pending, verify, build, apply), up to
# three builds side by side in alternating rounds, and the peak RSS of the
# nothing-pending apply at 20,000 against the 32 MiB goal.
#
#   BENCH_DIR=/tmp/perf14-bench PREPARE=1 sh bench/apply-sqlite.sh 5000 20000   # the workloads, once
#   sh bench/issue14.sh LABEL=DIR...        (DIR holds bin/cairn and bin/cairn-apply, or the two)
#
# e.g. three worktrees: before=/tmp/w-a47d8ec prev=/tmp/w-e53c965 after=.
# Each applier gets its own database, applied by itself and then run
# twice with nothing pending (the second takes the recorded-file path), so
# every timed run is the nothing-pending apply of an unchanged bundle file.
# Environment: BENCH_DIR (the workloads), WORK (default /tmp/cairn-issue14),
# RSS_ROUNDS (default 8), QUICK=1 (one round each: to try the script).
# Results go to stdout; the rounds' JSON under $WORK/alt.
set -eu
SRC=$(cd "$(dirname "$0")/.." && pwd)
BENCH_DIR=${BENCH_DIR:-/tmp/perf14-bench}
WORK=${WORK:-/tmp/cairn-issue14}
RSS_ROUNDS=${RSS_ROUNDS:-8}
W5=$BENCH_DIR/w5000/bundle.tar.gz
W20=$BENCH_DIR/w20000/bundle.tar.gz
K="--key $BENCH_DIR/ci.pub"
test $# -ge 1 || { echo "usage: bench/issue14.sh LABEL=DIR..." >&2; exit 2; }
test -f "$W5" && test -f "$W20" || { echo "bench: no workloads in $BENCH_DIR (run bench/apply-sqlite.sh with PREPARE=1)" >&2; exit 2; }
command -v hyperfine >/dev/null || { echo "bench: needs hyperfine (apt-get install hyperfine)" >&2; exit 2; }
mkdir -p "$WORK/db"
export BENCH_OUT=$WORK/alt
alt() { python3 "$SRC/bench/alternate.py" "$@"; }
if test "${QUICK:-}" = 1; then R5="1 2" R20="1 1" RV="1 2" RB="1 1" RA="1 1"; RSS_ROUNDS=1
else R5="8 10" R20="3 4" RV="4 8" RB="4 3" RA="3 1"; fi

labels=
for a in "$@"; do
	l=${a%%=*} d=${a#*=}
	test -x "$d/bin/cairn-apply" && d=$d/bin
	test -x "$d/cairn-apply" || { echo "bench: no cairn-apply in $d" >&2; exit 2; }
	cp "$d/cairn-apply" "$WORK/$l-apply"
	cp "$d/cairn" "$WORK/$l-cairn"
	for n in 5000 20000; do
		db=$WORK/db/$l-$n.db
		rm -f "$db"
		"$WORK/$l-apply" apply "$BENCH_DIR/w$n/bundle.tar.gz" --env bench --db "sqlite:$db" $K >/dev/null
		"$WORK/$l-apply" apply "$BENCH_DIR/w$n/bundle.tar.gz" --env bench --db "sqlite:$db" $K >/dev/null
		"$WORK/$l-apply" apply "$BENCH_DIR/w$n/bundle.tar.gz" --env bench --db "sqlite:$db" $K >/dev/null
	done
	labels="$labels $l"
done
last=$l
each() { # each FORMAT: one LABEL=COMMAND per build, %L the label
	for l in $labels; do printf '%s=%s\n' "$l" "$(printf '%s' "$1" | sed "s|%L|$l|g")"; done
}
echo "start $(date -u +%H:%M:%SZ), load $(cut -d' ' -f1-3 /proc/loadavg)"
for n in 5000 20000; do
	w=$BENCH_DIR/w$n/bundle.tar.gz
	r=$R5; test $n = 20000 && r=$R20
	# one argument per build: the commands hold spaces, so through a file
	each "$WORK/%L-apply apply $w --env bench --db sqlite:$WORK/db/%L-$n.db $K" >"$WORK/cmds"
	echo "sqlite3 CLI=sqlite3 $WORK/db/$last-$n.db 'SELECT count(*) FROM cairn_migrations'" >>"$WORK/cmds"
	(IFS='
'; set -f; alt noop$n ${r% *} ${r#* } "" $(cat "$WORK/cmds"))
done
each "$WORK/%L-apply verify $W5 $K" >"$WORK/cmds"
(IFS='
'; set -f; alt verify5000 ${RV% *} ${RV#* } "" $(cat "$WORK/cmds"))

echo "## peak RSS, nothing pending, 20,000: $RSS_ROUNDS alternating rounds (KiB; the goal is 32,768)"
: >"$WORK/rss"
i=0
while test $i -lt "$RSS_ROUNDS"; do
	for l in $labels; do
		/usr/bin/time -f "$l %M" -a -o "$WORK/rss" "$WORK/$l-apply" apply "$W20" --env bench \
			--db "sqlite:$WORK/db/$l-20000.db" $K >/dev/null
	done
	/usr/bin/time -f "CLI %M" -a -o "$WORK/rss" sqlite3 "$WORK/db/$last-20000.db" \
		'SELECT count(*) FROM cairn_migrations' >/dev/null
	i=$((i + 1))
done
for l in $labels CLI; do
	grep "^$l " "$WORK/rss" | cut -d' ' -f2 | sort -n | awk -v l="$l" '
		{ a[NR] = $1; if ($1 > 32768) o++ }
		END { printf "%s: %d runs, %d to %d, median %d; over 32,768: %d\n", l, NR, a[1], a[NR], a[int((NR + 1) / 2)], o }'
done

(cd "$BENCH_DIR/w5000/p" && each "$WORK/%L-cairn build --sign ../../ci.key -o $WORK/%L-b5.tgz" >"$WORK/cmds" &&
	IFS='
' && set -f && alt build5000 ${RB% *} ${RB#* } "" $(cat "$WORK/cmds"))
for l in $labels; do
	cmp -s "$WORK/$l-b5.tgz" "$W5" && echo "$l: its build is byte for byte the workload's bundle" ||
		echo "$l: its build differs from the workload's bundle"
done
each "$WORK/%L-apply apply $W5 --env bench --atomic --db sqlite:$WORK/x-%L.db $K" >"$WORK/cmds"
echo "sqlite3 CLI=sh -c 'sqlite3 $WORK/x-cli.db <$BENCH_DIR/w5000/cli-one.sql'" >>"$WORK/cmds"
# hyperfine -N runs --prepare without a shell: no glob, every file named
rmx="rm -f $WORK/x-cli.db"
for l in $labels; do rmx="$rmx $WORK/x-$l.db"; done
(IFS='
'; set -f; alt atomic5000 ${RA% *} ${RA#* } "$rmx" $(cat "$WORK/cmds"))
echo "end $(date -u +%H:%M:%SZ), load $(cut -d' ' -f1-3 /proc/loadavg)"
