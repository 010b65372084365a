#!/bin/sh
test_description='cairn-apply preflight on SQLite: every check, text and json, changes nothing'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"

# snapshot DB: the file's bytes and every sqlite_master row, to compare
# after a preflight.
snapshot() {
	sha256sum "$1" >"$1.sum" &&
	q "$1" "SELECT type, name, sql FROM sqlite_master ORDER BY name" >>"$1.sum"
}

test_expect_success 'setup: two bundles, the first applied' '
	apply_project p &&
	apply_table p 0001_users &&
	apply_build p "$TRASH_DIRECTORY/v1.tar.gz" &&
	apply_table p 0002_orders &&
	apply_build p "$TRASH_DIRECTORY/v2.tar.gz" &&
	cairn-apply apply v1.tar.gz --env dev --db sqlite:db $KEY >out &&
	snapshot db && cp db.sum before
'

test_expect_success 'every check passes: exit 0, one line per check' '
	cairn-apply preflight v2.tar.gz --env dev --db sqlite:db $KEY >out &&
	test_grep "^  pass  connect " out &&
	test_grep "^  pass  bundle .* verifies" out &&
	test_grep "^  pass  plan         1 to apply, 1 skipped; the database is at version 0001" out &&
	test_grep "^  info  version      SQLite 3" out &&
	test_grep "^  pass  books " out &&
	test_grep "^  pass  disk .* bytes free" out &&
	test_grep "^  pass  blockers " out &&
	test_grep "^  pass  lock         the run lock is free" out &&
	test_grep "^preflight: every check passed" out &&
	snapshot db && test_cmp before db.sum
'

test_expect_success 'json: one object, every check with its status' '
	cairn-apply preflight v2.tar.gz --env dev --db sqlite:db $KEY --log-format json >out &&
	python3 -c "
import json, sys
o = json.load(open(\"out\"))
assert o[\"ok\"] is True and o[\"exit\"] == 0, o
ids = [c[\"check\"] for c in o[\"checks\"]]
assert ids == [\"connect\", \"bundle\", \"plan\", \"version\", \"books\", \"privileges\", \"disk\", \"blockers\", \"lock\"], ids
assert all(c[\"status\"] in (\"pass\", \"info\") for c in o[\"checks\"]), o
" &&
	snapshot db && test_cmp before db.sum
'

test_expect_success 'a runner holding the lock: exit 4, named with its pid' '
	lock_hold db 30 &&
	test_expect_code 4 cairn-apply preflight v2.tar.gz --env dev --db sqlite:db $KEY >out &&
	lock_release &&
	test_grep "^  FAIL  lock         another runner (pid $holder) holds the lock on .db." out &&
	test_grep "^preflight: 1 check failed: apply would not go through (exit 4)" out &&
	snapshot db && test_cmp before db.sum
'

# writer_start DB: a sqlite3 process ($sq) inside a write transaction on
# DB, fed through fd 9; writer_stop rolls it back and reaps it.
writer_start() {
	rm -f cmds && mkfifo cmds &&
	{ sqlite3 "$1" <cmds >/dev/null 2>&1 & } &&
	sq=$! &&
	exec 9>cmds &&
	echo "BEGIN IMMEDIATE; INSERT INTO t_0001_users VALUES (1, 1);" >&9 &&
	n=0 &&
	until test -e "$1-journal"; do
		n=$((n + 1)) && test $n -lt 1000 && sleep 0.01 || return 1
	done
}
writer_stop() {
	echo "ROLLBACK;" >&9 && exec 9>&- && wait $sq
}

test_expect_success 'a connection with a write transaction open: exit 1, named with its pid' '
	writer_start db &&
	if test_expect_code 1 cairn-apply preflight v2.tar.gz --env dev --db sqlite:db $KEY >out
	then rc=0
	else rc=1
	fi &&
	writer_stop &&
	test $rc = 0 &&
	test_grep "^  FAIL  blockers     sessions hold locks the migrations would wait for:" out &&
	test_grep "pid $sq holds a write transaction open on .db." out &&
	test_grep "^  pass  lock " out &&
	q db "SELECT count(*) FROM t_0001_users" >n && echo 0 >want && test_cmp want n
'

test_expect_success 'drift: exit 5' '
	cp db drifted &&
	q drifted "UPDATE cairn_migrations SET checksum = '"'"'sha256:00'"'"'" &&
	test_expect_code 5 cairn-apply preflight v2.tar.gz --env dev --db sqlite:drifted $KEY >out &&
	test_grep "^  FAIL  plan .*(drift)" out
'

test_expect_success 'a bundle signed by an unknown key: exit 3, the database checks still made' '
	(cd "$TRASH_DIRECTORY" && cairn keygen --no-passphrase other >/dev/null 2>&1) &&
	test_expect_code 3 cairn-apply preflight v2.tar.gz --env dev --db sqlite:db \
		--key other.pub >out 2>err &&
	test_grep "^  FAIL  bundle " out &&
	test_grep "^  pass  lock " out &&
	snapshot db && test_cmp before db.sum
'

test_expect_success 'a read-only directory: the books cannot be written, exit 6' '
	mkdir ro && cp db ro/db && chmod 555 ro && chmod 444 ro/db &&
	if test "$(id -u)" = 0
	then
		# root may write anyway: ask as a user who may not
		chmod o+rx "$TRASH_DIRECTORY" && chmod o+r v2.tar.gz ci.pub &&
		run="setpriv --reuid=nobody --regid=nogroup --clear-groups"
	else
		run=
	fi &&
	test_expect_code 6 $run cairn-apply preflight v2.tar.gz --env dev --db sqlite:ro/db $KEY >out &&
	test_grep "^  FAIL  books        .ro/db. is not writable" out
'

test_expect_success 'a missing database file: nothing created' '
	cairn-apply preflight v2.tar.gz --env dev --db sqlite:new.db $KEY >out &&
	test_grep "^  pass  plan         2 to apply" out &&
	test ! -e new.db
'

test_expect_success 'apply --preflight stops before anything runs when a check fails' '
	lock_hold db 30 &&
	test_expect_code 4 cairn-apply apply v2.tar.gz --env dev --db sqlite:db $KEY --preflight >out 2>err &&
	lock_release &&
	test_grep "^  FAIL  lock " out &&
	test_grep "preflight failed: nothing was applied" err &&
	snapshot db && test_cmp before db.sum
'

test_expect_success 'apply --preflight applies when every check passes' '
	cairn-apply apply v2.tar.gz --env dev --db sqlite:db $KEY --preflight >out &&
	test_grep "^preflight: every check passed" out &&
	test_grep "^applied 1 migration" out &&
	q db "SELECT version, state FROM cairn_migrations ORDER BY version" >rows &&
	printf "0001|applied\n0002|applied\n" >want && test_cmp want rows
'

test_done
