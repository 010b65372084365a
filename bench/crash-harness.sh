#!/bin/sh
# Crash and interrupt harness (issue #16), run on demand, never by `make check`:
#
#   make && sh bench/crash-harness.sh [sqlite|postgres|all]
#
# TRIALS (default 200) trials per engine. A trial: a fresh database, one
# `cairn-apply apply` of a signed bundle of 8 migrations (even ones in a
# transaction, odd ones `transaction: false`), each creating a table, logging
# two rows into app_log around a short slow statement; after a random delay
# (uniform over the time a whole run takes) the runner gets SIGKILL or
# SIGTERM (each half the time); once no statement of it runs on the server,
# the state is checked. A migration is consistent when
#   - it is recorded applied and all its effects are there, or
#   - it is not recorded (or recorded rolled back) and none of them is, or
#   - it is recorded in_progress or failed at statement K (transaction:
#     false only): every statement before K took effect, none after K did
#     (K = -1: killed between marking it in progress and its first
#     statement, so none did).
# Then a second runner applies the rest (after `repair` of a row left in
# progress, marked the way the effects say), and the final state must be
# every migration applied exactly once. Prints one line per engine and
# exits 1 if any trial was inconsistent.
set -eu
SRC_DIR=$(cd "$(dirname "$0")/.." && pwd)
what=${1:-all}
TRIALS=${TRIALS:-200}
N=8
PATH="$SRC_DIR/bin:$PATH"
export PATH
test -x "$SRC_DIR/bin/cairn-apply" || { echo "harness: build first: make" >&2; exit 2; }

TRASH_DIRECTORY=$(mktemp -d /tmp/cairn-crash.XXXXXX)
chmod 755 "$TRASH_DIRECTORY"
TEST_NAME=crash-harness
test_failure=0
test_at_done=
say() { printf '%s\n' "$*"; }
test_done() { exit 1; }
W=$TRASH_DIRECTORY
cd "$W"
pg_started=
cleanup() { if test -n "$pg_started"; then pg_stop; fi; rm -rf "$TRASH_DIRECTORY"; }
trap cleanup EXIT

# rand N: a number in [0, N)
rand() { od -An -N4 -tu4 /dev/urandom | awk -v n="$1" '{ print $1 % n }'; }

# The project: migration i creates t_i, logs (i, 1), runs a slow statement,
# logs (i, 2). SLOW is the engine's slow statement.
make_bundle() { # DRIVER SLOW OUT
	rm -rf proj && git init -q proj &&
	(cd proj && cairn init >/dev/null) &&
	sed -i -e 's/^version_style: .*/version_style: sequence/' -e "s/^drivers: .*/drivers: [$1]/" \
		-e '/^release_refs:/,/^$/c\
release_refs: []\
' proj/cairn.yaml &&
	mkdir -p proj/migrations/0000_log &&
	echo "CREATE TABLE app_log (version int, step int);" >proj/migrations/0000_log/up.sql &&
	echo "DROP TABLE app_log;" >proj/migrations/0000_log/down.sql &&
	for i in $(seq 1 $N); do
		d=proj/migrations/$(printf %04d $i)_m
		mkdir -p $d &&
		printf 'CREATE TABLE t_%d (x int);\nINSERT INTO app_log VALUES (%d, 1);\n%s;\nINSERT INTO app_log VALUES (%d, 2);\n' \
			$i $i "$2" $i >$d/up.sql &&
		printf 'DROP TABLE t_%d;\nDELETE FROM app_log WHERE version = %d;\n' $i $i >$d/down.sql &&
		if test $((i % 2)) = 1; then echo "transaction: false" >$d/migration.yaml; fi
	done &&
	git -C proj add -A && git -C proj commit -qm m &&
	(cd proj && cairn build --sign "$W/k.key" -o "$3" >/dev/null 2>&1)
}

# check Q: every migration consistent (Q DSN-less query runner prints
# "version|state|statement|table|logs" for 1..N); prints the bad ones.
check_rows() {
	awk -F'|' -v n=$N '
	{ v = $1 + 0; st = $2; k = $3; tab = $4; logs = $5
	  # effects of statements 0..3: table, log 1, (slow), log 2
	  e0 = tab > 0; e1 = logs >= 1; e3 = logs >= 2
	  ok = 0
	  if (st == "applied") ok = e0 && e1 && e3
	  else if (st == "" || st == "rolled_back") ok = !e0 && !e1 && !e3
	  else if ((st == "in_progress" || st == "failed") && v % 2 == 1 && k >= -1) {
		# before K: all took effect; after K: none did
		ok = 1
		if (k > 0 && !e0) ok = 0
		if (k > 1 && !e1) ok = 0
		if (k > 3 && !e3) ok = 0
		if (k < 0 && e0) ok = 0
		if (k < 1 && e1) ok = 0
		if (k < 3 && e3) ok = 0
	  }
	  if (!ok) print "inconsistent: " $0 }'
}

sqlite_state() { # FILE
	test -f "$1" || { for i in $(seq 1 $N); do echo "$i||-1|0|0"; done; return 0; }
	sqlite3 "$1" "
		WITH RECURSIVE v(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM v WHERE i < $N)
		SELECT v.i,
		       coalesce((SELECT state FROM cairn_migrations m WHERE m.version + 0 = v.i), ''),
		       coalesce((SELECT statement FROM cairn_migrations m WHERE m.version + 0 = v.i), -1),
		       (SELECT count(*) FROM sqlite_master WHERE name = 't_' || v.i),
		       (SELECT count(*) FROM pragma_table_info('app_log')) > 0
		FROM v" 2>/dev/null | while IFS='|' read -r i st k tab haslog; do
		logs=0
		if test "$haslog" = 1; then logs=$(sqlite3 "$1" "SELECT count(*) FROM app_log WHERE version = $i"); fi
		echo "$i|$st|$k|$tab|$logs"
	done
}

pg_state() {
	pg_sql -d app -c "
		select v, coalesce(m.state, ''), coalesce(m.statement, -1),
		       (to_regclass('public.t_' || v) is not null)::int,
		       case when to_regclass('public.app_log') is null then 0 else
		         (xpath('/row/c/text()', query_to_xml('select count(*) as c from public.app_log where version = ' || v, false, true, '')))[1]::text::int end
		from generate_series(1, $N) v
		left join cairn.cairn_migrations m on m.version::int = v" 2>/dev/null ||
	for i in $(seq 1 $N); do echo "$i||-1|0|0"; done
}

# finish STATE_FN DSN: repair rows left in progress the way the effects say,
# then apply the rest; every migration must end applied with its effects.
finish() {
	$1 >st
	awk -F'|' '($2 == "in_progress" || $2 == "failed") { print $1, ($4 > 0 && $5 >= 2) ? "--mark-applied" : "--mark-rolled-back" }' st |
	while read -r v how; do
		if test "$how" = --mark-rolled-back; then
			# undo by hand what the statements before K did
			undo "$v"
		fi
		cairn-apply repair --db "$2" "$(printf %04d "$v")" $how >/dev/null 2>&1 || echo "repair $v failed"
	done
	cairn-apply apply b.tar.gz --env dev --db "$2" --key "$W/k.pub" --lock-timeout 60s >/dev/null 2>fin.err ||
		{ echo "rerun failed: $(tail -n 2 fin.err | tr '\n' ' ')"; return 0; }
	$1 | awk -F'|' '!($2 == "applied" && $4 > 0 && $5 == 2) { print "not applied once: " $0 }'
}

run_engine() { # ENGINE
	engine=$1
	bad=0 kills=0 terms=0 finished=0 neither=0 partial=0
	if test $engine = sqlite; then
		make_bundle sqlite "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 200000) SELECT count(*) FROM c" "$W/b.tar.gz"
		dsn="sqlite:$W/h.db"
		undo() { sqlite3 "$W/h.db" "DROP TABLE IF EXISTS t_$1; DELETE FROM app_log WHERE version = $1" 2>/dev/null || :; }
		state() { sqlite_state "$W/h.db"; }
		fresh() { rm -f "$W"/h.db*; }
		quiet() { :; }
	else
		make_bundle postgres "SELECT pg_sleep(0.04)" "$W/b.tar.gz"
		dsn="host=$PGHOST dbname=app"
		undo() { pg_sql -d app -c "DROP TABLE IF EXISTS t_$1; DELETE FROM app_log WHERE version = $1" >/dev/null 2>&1 || :; }
		state() { pg_state; }
		fresh() { pg_fresh_db app >/dev/null 2>&1; }
		# no statement of a killed runner may still run when we look
		quiet() {
			n=0
			while test "$(pg_sql -d app -c "select count(*) from pg_stat_activity where datname = 'app' and application_name = 'cairn-apply'")" != 0 &&
			      test $n -lt 400; do sleep 0.025; n=$((n + 1)); done
		}
	fi
	# how long a whole run takes, to spread the kills over it
	fresh
	t0=$(date +%s%N)
	cairn-apply apply b.tar.gz --env dev --db "$dsn" --key "$W/k.pub" >/dev/null
	span=$(( ($(date +%s%N) - t0) / 1000000 ))
	for t in $(seq 1 "$TRIALS"); do
		fresh
		delay=$(rand $((span + 50)))
		if test $(rand 2) = 0; then sig=KILL; kills=$((kills + 1)); else sig=TERM; terms=$((terms + 1)); fi
		cairn-apply apply b.tar.gz --env dev --db "$dsn" --key "$W/k.pub" >/dev/null 2>"run.err" &
		pid=$!
		sleep "$(awk -v d="$delay" 'BEGIN { printf "%.3f", d / 1000 }')"
		kill -$sig $pid 2>/dev/null || :
		wait $pid 2>/dev/null || :
		quiet
		state >st.$t
		if check_rows <st.$t >bad.$t && test ! -s bad.$t; then
			grep -q "|in_progress|\||failed|" st.$t && partial=$((partial + 1))
			awk -F'|' '$2 == "applied"' st.$t | grep -q . || neither=$((neither + 1))
		else
			bad=$((bad + 1))
			echo "trial $t ($engine, SIG$sig after ${delay} ms):" >&2
			sed 's/^/  /' bad.$t >&2
		fi
		finish state "$dsn" >fin.$t
		if test -s fin.$t; then
			bad=$((bad + 1))
			echo "trial $t ($engine, SIG$sig after ${delay} ms), rerun:" >&2
			sed 's/^/  /' fin.$t >&2
		else
			finished=$((finished + 1))
		fi
	done
	echo "$engine: $TRIALS trials (SIGKILL $kills, SIGTERM $terms, kill within the first $((span + 50)) ms of a $span ms run), $bad inconsistent; $partial left a transaction: false row in progress or failed at its statement, $neither had nothing applied; $finished finished by a rerun (after repair where needed)"
	total_bad=$((total_bad + bad))
}

(cd "$W" && cairn keygen --no-passphrase k >/dev/null 2>&1)
total_bad=0
case $what in
sqlite|all) run_engine sqlite ;;
esac
case $what in
postgres|all)
	. "$SRC_DIR/tests/lib-pg.sh"
	pg_start
	pg_started=t
	run_engine postgres
	;;
esac
test $total_bad = 0
