#!/bin/sh
test_description='SIGKILL at random points during a 200-migration apply, 30 times: always consistent, a rerun finishes'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"

# consistent DB: every migration's table exists exactly when its row says
# applied, SQLite's own integrity check passes, and the audit chain holds.
consistent() {
	q "$1" "PRAGMA integrity_check" >ic && echo ok >ok && test_cmp ok ic &&
	if test -n "$(q "$1" "SELECT name FROM sqlite_master WHERE name = 'cairn_migrations'")"; then
		q "$1" "SELECT 't_' || name FROM cairn_migrations WHERE state = 'applied' ORDER BY 1" >recorded &&
		q "$1" "SELECT count(*) FROM cairn_migrations WHERE state != 'applied'" >others &&
		echo 0 >zero && test_cmp zero others &&
		q "$1" "SELECT count(*) FROM cairn_audit WHERE action <> 'identity'" >audits &&
		wc -l <recorded | tr -d " " >napplied && test_cmp napplied audits &&
		cairn-apply history --db "sqlite:$1" --verify >/dev/null
	else
		: >recorded
	fi &&
	q "$1" "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 't\\_%' ESCAPE '\\' ORDER BY 1" >tables &&
	test_cmp recorded tables &&
	# each migration inserted its one row exactly once
	for t in $(cat tables); do
		echo "SELECT count(*) FROM $t;"
	done >counts.sql &&
	sqlite3 "$1" <counts.sql | sort -u >c &&
	{ test ! -s tables || { echo 1 >one && test_cmp one c; }; }
}

test_expect_success 'setup: 200 migrations, each a table and a row' '
	apply_project p &&
	i=1 && while test $i -le 200; do
		n=$(printf "%04d_m%d" $i $i) &&
		apply_mig p $n "CREATE TABLE t_$n (id integer primary key, v text);
INSERT INTO t_$n (v) VALUES ('"'"'$n'"'"');" "DROP TABLE t_$n;" || return 1
		i=$((i + 1))
	done &&
	apply_build p "$TRASH_DIRECTORY/b.tar.gz"
'

test_expect_success 'kill -9 at 30 random points; consistent after each; a rerun finishes' '
	kills=0 && finished=0 && round=0 &&
	while test $kills -lt 30; do
		round=$((round + 1)) &&
		test $round -le 200 || { echo "too many rounds"; return 1; }
		# a delay in [0, 300) ms, from /dev/urandom
		ms=$(od -An -N2 -tu2 /dev/urandom | tr -d " ") && ms=$((ms % 300)) &&
		cairn-apply apply b.tar.gz --env dev --db sqlite:db $KEY --lock-timeout 10s >run.out 2>&1 &
		pid=$! &&
		sleep $(printf "0.%03d" $ms) &&
		if kill -9 $pid 2>/dev/null; then
			wait $pid; kills=$((kills + 1))
		else
			wait $pid || { cat run.out; return 1; }
			finished=$((finished + 1)) &&
			rm -f db db-journal
		fi &&
		consistent db || { echo "inconsistent after round $round (kill after $ms ms)"; return 1; }
	done &&
	echo "$kills kills, $finished runs that finished first, $round rounds" &&
	cairn-apply apply b.tar.gz --env dev --db sqlite:db $KEY >out &&
	test_grep "db is at version 0200" out &&
	test ! -e db-journal &&
	consistent db &&
	q db "SELECT count(*) FROM cairn_migrations WHERE state = '"'"'applied'"'"'" >n &&
	echo 200 >expect && test_cmp expect n
'

test_done
