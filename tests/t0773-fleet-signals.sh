#!/bin/sh
test_description='cairn-apply fleet stopped by SIGHUP (a closed terminal) or SIGKILL: its running targets stop and roll back, every target'"'"'s books match its schema, and fleet --resume finishes the job (SQLite)'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"

unset CAIRN_ENV CAIRN_DB CAIRN_LOCK_TIMEOUT CAIRN_APPLY_CONFIG

# books_match DB: no row but applied, each applied migration's table there
# and no other, the audit chain intact
books_match() {
	sqlite3 "$1" "SELECT 't_' || name FROM cairn_migrations WHERE state = 'applied' ORDER BY 1" >recorded &&
	test "$(sqlite3 "$1" "SELECT count(*) FROM cairn_migrations WHERE state <> 'applied'")" = 0 &&
	sqlite3 "$1" "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 't\\_%' ESCAPE '\\' ORDER BY 1" >tables &&
	test_cmp recorded tables &&
	cairn-apply history --db "sqlite:$1" --verify >out
}

# resumed: fleet --resume finishes every target, each at 0003
resumed() {
	cairn-apply fleet slow.tar.gz --env dev $KEY --targets ktargets --parallel 2 \
		--resume rk.jsonl --result rk2.jsonl >out 2>err &&
	for i in 0 1 2 3 4 5; do
		books_match k$i.db &&
		test "$(sqlite3 k$i.db "SELECT max(version) FROM cairn_migrations WHERE state = 'applied'")" = 0003 ||
		return 1
	done
}

test_expect_success 'setup: two migrations, then one that takes about 2 s; six targets' '
	apply_project shop &&
	apply_table shop 0001_users &&
	apply_table shop 0002_orders &&
	apply_mig shop 0003_slow "CREATE TABLE t_0003_slow AS WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 4000000) SELECT max(x) AS m FROM c;" "DROP TABLE t_0003_slow;" &&
	apply_build shop "$TRASH_DIRECTORY/slow.tar.gz" &&
	for i in 0 1 2 3 4 5; do echo "k$i sqlite:k$i.db"; done >ktargets
'

test_expect_success 'SIGHUP during a fleet: exit 129, running targets roll back, the rest never start; --resume finishes' '
	rm -f k*.db* &&
	fleet_signal_started HUP slow.tar.gz &&
	test "$(cat fleet.rc)" = 129 &&
	test_grep "\"target\":\"k0\".*interrupted by SIGHUP" rk.jsonl &&
	test_grep "\"target\":\"k1\".*interrupted by SIGHUP" rk.jsonl &&
	for i in 0 1; do
		books_match k$i.db &&
		test "$(sqlite3 k$i.db "SELECT count(*) FROM cairn_migrations")" = 2 || return 1
	done &&
	for i in 2 3 4 5; do test ! -e k$i.db || return 1; done &&
	resumed
'

# Without it the targets ran on unseen in their own process groups: they
# finished their migration after the fleet was gone.
test_expect_success 'SIGKILL to the fleet: its running targets stop as on SIGTERM, none applies after; --resume finishes' '
	rm -f k*.db* &&
	fleet_signal_started KILL slow.tar.gz &&
	test "$(cat fleet.rc)" = 137 &&
	sleep 4 &&
	for i in 0 1; do
		books_match k$i.db &&
		test "$(sqlite3 k$i.db "SELECT count(*) FROM cairn_migrations")" = 2 &&
		sqlite3 k$i.db "SELECT action, detail FROM cairn_audit ORDER BY seq DESC LIMIT 1" >last &&
		test_grep "^apply-failed|.*interrupted by SIGTERM" last || return 1
	done &&
	for i in 2 3 4 5; do test ! -e k$i.db || return 1; done &&
	resumed
'

test_done
