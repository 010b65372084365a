#!/bin/sh
test_description='SIGKILL at random points while a 200-migration apply is applying, 30 times: always consistent, a rerun finishes'
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
	apply_many p 200 &&
	apply_build p "$TRASH_DIRECTORY/b.tar.gz"
'

# journal_hot: the rollback journal beside db has a live header, so the
# run died inside a transaction. While it holds the lock a runner keeps
# the journal in PERSIST mode, where a commit zeroes the header: a journal
# left between two migrations is cold.
journal_hot() {
	test -s db-journal &&
	test -n "$(od -An -N8 -tx1 db-journal | tr -d " 0\n")"
}

# applied: how many migrations db records as applied (0 before it has the
# table); read while no runner is alive.
applied() {
	{ test -f db && q db "SELECT count(*) FROM cairn_migrations WHERE state = 'applied'" 2>/dev/null; } ||
	echo 0
}

# size FILE: its size in bytes, 0 when it does not exist. A runner's
# progress shows in the database's size, read without taking SQLite's
# locks (a runner that commits back to back would starve a reader).
size() {
	if test -f "$1"; then stat -c %s "$1"; else echo 0; fi
}

# running PID: the job has not exited (a finished job stays a zombie until
# it is waited for).
running() {
	test -n "$(sed -n "s/^State:[[:space:]]*\([^Z]\).*/\1/p" /proc/$1/status 2>/dev/null)"
}

test_expect_success 'the size of the database with 1 and with all 200 applied' '
	cairn-apply apply b.tar.gz --env dev --db sqlite:full $KEY >out &&
	test_grep "applied 200 migrations" out &&
	size full >full-size &&
	test $(cat full-size) -gt $((200 * 1024)) &&
	cairn-apply apply b.tar.gz --env dev --db sqlite:one $KEY --to 0001 >out &&
	test_grep "applied 1 migration;" out &&
	size one >one-size
'

# Each round starts a runner and picks a random size above the database's
# (and above one with a migration applied) and below the full one's. With
# a rollback journal the file grows only when a transaction commits, so
# once it has grown to that size the runner is applying migrations, not
# verifying the bundle or setting up; it is then killed after a random
# 0-9 ms. Points so chosen are spread over the migrations whatever the
# machine's speed. Each kill either leaves a hot journal (it landed inside
# a migration's transaction) or finds a migration this run committed.
test_expect_success 'kill -9 at 30 random points while migrations are applied; consistent after each; a rerun finishes' '
	full=$(cat full-size) && one=$(cat one-size) &&
	kills=0 && mid=0 && finished=0 && round=0 &&
	while test $kills -lt 30; do
		round=$((round + 1)) &&
		if test $round -gt 200; then echo "too many rounds"; return 1; fi &&
		before=$(applied) && from=$(size db) &&
		if test $before -eq 200; then rm -f db db-journal && before=0 && from=0; fi &&
		{ cairn-apply apply b.tar.gz --env dev --db sqlite:db $KEY --lock-timeout 10s >run.out 2>&1 & } &&
		pid=$! &&
		r=$(od -An -N4 -tu4 /dev/urandom | tr -d " ") &&
		low=$from && if test $low -lt $one; then low=$one; fi &&
		span=$((full - low)) && if test $span -lt 1; then span=1; fi &&
		target=$((low + 1 + r % span)) && ms=$((r % 10)) &&
		polls=0 &&
		while test $(size db) -lt $target && running $pid && test $polls -lt 4000; do
			polls=$((polls + 1)) &&
			sleep 0.005 || return 1
		done &&
		sleep 0.00$ms &&
		{ test_sigkill $pid || { cat run.out; return 1; }; } &&
		if test -n "$killed"; then
			how=killed && kills=$((kills + 1)) &&
			if journal_hot; then
				mid=$((mid + 1))
			else
				test $(applied) -gt $before ||
				{ echo "round $round: killed before this run committed anything"; return 1; }
			fi
		else
			how=finished && finished=$((finished + 1))
		fi &&
		test $polls -lt 4000 &&
		consistent db &&
		! journal_hot &&
		test $(wc -l <recorded) -ge $before || {
			echo "inconsistent after round $round (killed $ms ms after db reached $target bytes)"; return 1
		}
		echo "round $round: $before applied before, $(applied) after a kill $ms ms after db reached $target bytes: $how" &&
		if test -z "$killed"; then rm -f db db-journal || return 1; fi
	done &&
	echo "$kills kills, $mid of them inside a migration (a hot journal, rolled back), $finished runs that finished first, $round rounds" >kills &&
	cat kills &&
	test $mid -ge 1 &&
	cairn-apply apply b.tar.gz --env dev --db sqlite:db $KEY >out &&
	test_grep "db is at version 0200" out &&
	test ! -e db-journal &&
	consistent db &&
	q db "SELECT count(*) FROM cairn_migrations WHERE state = '"'"'applied'"'"'" >n &&
	echo 200 >expect && test_cmp expect n
'
test -f kills && say "# $(cat kills)"

test_done
