#!/bin/sh
test_description='baseline and repair catch SIGINT and SIGTERM like apply: the books stay consistent, exit 130 or 143 (SQLite and PostgreSQL)'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"
. "$TEST_DIRECTORY/lib-pg.sh"

pg_start
DB="host=$PGHOST dbname=app"

# wait_lock_waiters N: PostgreSQL sessions waiting for an advisory lock
pg_waiters() {
	pg_sql -d app -c "select count(*) from pg_locks where locktype = 'advisory' and not granted"
}

# stop_verb SIG CMD...: runs CMD in the background, sends SIG once it waits
# for the lock (after 1 s), and writes its exit code to rc and its time to secs.
stop_verb() {
	sig=$1 && shift &&
	start=$(date +%s) &&
	{ "$@" >out 2>err & } &&
	vpid=$! &&
	sleep 1 &&
	kill -$sig $vpid &&
	{ wait $vpid; echo $? >rc; } &&
	echo $(( $(date +%s) - start )) >secs
}

test_expect_success 'setup: a transaction: false migration that fails halfway' '
	apply_half_project p "$TRASH_DIRECTORY/b.tar.gz"
'

test_expect_success 'SQLite: SIGTERM while repair waits for the lock: exit 143, the row still failed, the audit unchanged' '
	test_must_fail --exit=5 cairn-apply apply b.tar.gz --env dev --db sqlite:r.db $KEY >out 2>err &&
	q r.db "SELECT count(*) FROM cairn_audit" >audit-before &&
	lock_hold r.db 30 &&
	stop_verb TERM cairn-apply repair --db sqlite:r.db 0002 --mark-applied --lock-timeout 20s &&
	lock_release &&
	test "$(cat rc)" = 143 &&
	test "$(cat secs)" -lt 10 &&
	test_grep "interrupted by SIGTERM: the repair was not recorded" err &&
	test "$(q r.db "SELECT state FROM cairn_migrations WHERE version = \"0002\"")" = failed &&
	q r.db "SELECT count(*) FROM cairn_audit" >audit-after &&
	test_cmp audit-before audit-after &&
	cairn-apply repair --db sqlite:r.db 0002 --mark-applied >out &&
	test "$(q r.db "SELECT state FROM cairn_migrations WHERE version = \"0002\"")" = applied
'

test_expect_success 'SQLite: SIGINT while baseline waits for the lock: exit 130, no books written' '
	sqlite3 app.db "CREATE TABLE legacy (x int)" &&
	lock_hold app.db 30 &&
	stop_verb INT cairn-apply baseline --db sqlite:app.db --version 0001 --lock-timeout 20s &&
	lock_release &&
	test "$(cat rc)" = 130 &&
	test "$(cat secs)" -lt 10 &&
	test_grep "interrupted by SIGINT: the baseline was not recorded" err &&
	test -z "$(q app.db "SELECT name FROM sqlite_master WHERE name LIKE \"cairn%\"")" &&
	cairn-apply baseline --db sqlite:app.db --version 0001 >out &&
	test "$(q app.db "SELECT state FROM cairn_migrations")" = applied
'

test_expect_success 'PostgreSQL: SIGINT while repair waits for the lock: exit 130, the books unchanged, no session left waiting' '
	pg_fresh_db app &&
	test_must_fail --exit=5 cairn-apply apply b.tar.gz --env dev --db "$DB" $KEY >out 2>err &&
	pg_sql -d app -c "select count(*) from cairn.cairn_audit" >audit-before &&
	{ "$PD" lock "dbname=app" 1000 6000 >held 2>&1 & } &&
	hpid=$! &&
	n=0 && while ! grep -q locked held 2>/dev/null && test $n -lt 100; do sleep 0.05; n=$((n + 1)); done &&
	stop_verb INT cairn-apply repair --db "$DB" 0002 --mark-applied --lock-timeout 20s &&
	test "$(cat rc)" = 130 &&
	test "$(cat secs)" -lt 5 &&
	test_grep "interrupted by SIGINT: the repair was not recorded" err &&
	test "$(pg_waiters)" = 0 &&
	wait $hpid &&
	test "$(pg_sql -d app -c "select state from cairn.cairn_migrations where version = '"'"'0002'"'"'")" = failed &&
	pg_sql -d app -c "select count(*) from cairn.cairn_audit" >audit-after &&
	test_cmp audit-before audit-after
'

test_expect_success 'PostgreSQL: SIGTERM while baseline waits for the lock: exit 143, nothing recorded' '
	pg_fresh_db app &&
	pg_sql -d app -c "create table legacy (x int)" &&
	{ "$PD" lock "dbname=app" 1000 6000 >held 2>&1 & } &&
	hpid=$! &&
	n=0 && while ! grep -q locked held 2>/dev/null && test $n -lt 100; do sleep 0.05; n=$((n + 1)); done &&
	stop_verb TERM cairn-apply baseline --db "$DB" --version 0001 --lock-timeout 20s &&
	test "$(cat rc)" = 143 &&
	test_grep "interrupted by SIGTERM: the baseline was not recorded" err &&
	test "$(pg_waiters)" = 0 &&
	wait $hpid &&
	{ test "$(pg_sql -d app -c "select to_regclass('"'"'cairn.cairn_migrations'"'"') is null")" = t ||
	  test "$(pg_sql -d app -c "select count(*) from cairn.cairn_migrations")" = 0; }
'

test_done
