#!/bin/sh
test_description='SIGHUP (a closed terminal or ssh session) stops apply, rollback, repair and baseline like SIGTERM, and a closed output pipe (SIGPIPE) does not kill a run halfway (SQLite and PostgreSQL)'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"
. "$TEST_DIRECTORY/lib-pg.sh"

pg_start
DB="host=$PGHOST dbname=app"

# sleepers: server sessions running a migration's pg_sleep now
sleepers() {
	pg_sql -d app -c "select count(*) from pg_stat_activity where state = 'active' and query like '%pg_sleep(%' and pid <> pg_backend_pid()"
}

# hup_when_sleeping CMD...: runs CMD in the background; once its statement
# sleeps on the server, SIGHUP goes to it. Its exit code goes to rc, and
# the sessions still sleeping right after it exited to left.
hup_when_sleeping() {
	{ "$@" >out 2>err & } &&
	vpid=$! &&
	n=0 &&
	while test "$(sleepers)" != 1 && test $n -lt 200; do sleep 0.05; n=$((n + 1)); done &&
	test "$(sleepers)" = 1 &&
	kill -HUP $vpid &&
	{ wait $vpid; echo $? >rc; } &&
	sleepers >left
}

# hup_stopped MESSAGE: the run hup_when_sleeping stopped exited 129, its
# statement no longer runs on the server, and it said MESSAGE
hup_stopped() {
	test "$(cat rc)" = 129 &&
	test "$(cat left)" = 0 &&
	test_grep "interrupted by SIGHUP: $1" err
}

# pg_variant DIR MIG FILE SQL: MIG's FILE.postgres.sql (PostgreSQL runs it
# instead of FILE.sql, which SQLite runs)
pg_variant() {
	printf '%s\n' "$4" >"$1/migrations/$2/$3.postgres.sql"
}

test_expect_success 'setup: a migration whose statement sleeps 4 s on PostgreSQL, one whose down script does, and a transaction: false one' '
	apply_project p &&
	sed -i -e "s/^drivers: .*/drivers: [sqlite, postgres]/" p/cairn.yaml &&
	apply_mig p 0001_slow "CREATE TABLE slow (x int);
INSERT INTO slow VALUES (1);" "DROP TABLE slow;" &&
	pg_variant p 0001_slow up "CREATE TABLE slow (x int);
SELECT pg_sleep(4);
INSERT INTO slow VALUES (1);" &&
	apply_build p "$TRASH_DIRECTORY/b1.tar.gz" &&
	apply_mig p 0002_slowdown "CREATE TABLE sd (x int);" "DROP TABLE sd;" &&
	pg_variant p 0002_slowdown down "SELECT pg_sleep(4);
DROP TABLE sd;" &&
	apply_build p "$TRASH_DIRECTORY/b2.tar.gz" &&
	apply_mig p 0003_notx "CREATE TABLE nt (x int);
CREATE TABLE nt2 (x int);" "DROP TABLE nt2;
DROP TABLE nt;" "transaction: false" &&
	pg_variant p 0003_notx up "CREATE TABLE nt (x int);
SELECT pg_sleep(4);
CREATE TABLE nt2 (x int);" &&
	apply_build p "$TRASH_DIRECTORY/b3.tar.gz" &&
	pg_fresh_db app
'

test_expect_success 'PostgreSQL: SIGHUP during a statement cancels it, rolls back, records it: exit 129' '
	hup_when_sleeping cairn-apply apply b1.tar.gz --env dev --db "$DB" $KEY &&
	hup_stopped "the running statement was cancelled and migration 0001_slow rolled back" &&
	pg_sql -d app -c "select action from cairn.cairn_audit order by seq" | tr "\n" " " >actions &&
	test "$(cat actions)" = "identity apply-failed " &&
	test "$(pg_sql -d app -c "select count(*) from pg_tables where tablename = '"'"'slow'"'"'")" = 0 &&
	test "$(pg_sql -d app -c "select count(*) from pg_locks where locktype = '"'"'advisory'"'"'")" = 0 &&
	cairn-apply history --db "$DB" --verify >out &&
	cairn-apply apply b1.tar.gz --env dev --db "$DB" $KEY >out &&
	test "$(pg_sql -d app -c "select count(*) from slow")" = 1
'

test_expect_success 'PostgreSQL: SIGHUP during a rollback cancels the down script; the row stays applied, the table stays' '
	cairn-apply apply b2.tar.gz --env dev --db "$DB" $KEY >out &&
	hup_when_sleeping cairn-apply rollback --db "$DB" --last 1 &&
	hup_stopped "the running down script was cancelled and rolled back" &&
	test "$(pg_sql -d app -c "select state from cairn.cairn_migrations where version = '"'"'0002'"'"'")" = applied &&
	test "$(pg_sql -d app -c "select count(*) from pg_tables where tablename = '"'"'sd'"'"'")" = 1 &&
	cairn-apply history --db "$DB" --verify >out
'

test_expect_success 'PostgreSQL: SIGHUP inside a transaction: false migration: the statement is cancelled, the row failed, the second table never made' '
	hup_when_sleeping cairn-apply apply b3.tar.gz --env dev --db "$DB" $KEY &&
	hup_stopped "the running statement was cancelled; migration 0003_notx ran outside a transaction and stopped partway" &&
	test "$(pg_sql -d app -c "select state from cairn.cairn_migrations where version = '"'"'0003'"'"'")" = failed &&
	test "$(pg_sql -d app -c "select count(*) from pg_tables where tablename = '"'"'nt2'"'"'")" = 0 &&
	cairn-apply history --db "$DB" --verify >out
'

# hup_in_lock_wait FILE CMD...: CMD waits for the lock another process
# holds on FILE; SIGHUP goes to it after 1 s; its exit code goes to rc.
hup_in_lock_wait() {
	f=$1 && shift &&
	lock_hold "$f" 30 &&
	{ "$@" --lock-timeout 20s >out 2>err & } &&
	vpid=$! && sleep 1 && kill -HUP $vpid &&
	{ wait $vpid; echo $? >rc; } &&
	lock_release
}

test_expect_success 'SQLite: SIGHUP while apply waits for the lock: exit 129, nothing applied' '
	hup_in_lock_wait s.db cairn-apply apply b2.tar.gz --env dev --db sqlite:s.db $KEY &&
	test "$(cat rc)" = 129 &&
	test_grep "interrupted by SIGHUP while waiting for the run lock: nothing was done" err &&
	test -z "$(q s.db "SELECT name FROM sqlite_master WHERE name LIKE \"cairn%\" OR name = \"sd\"")"
'

test_expect_success 'SQLite: SIGHUP while baseline waits for the lock: exit 129, nothing recorded' '
	hup_in_lock_wait b.db cairn-apply baseline --db sqlite:b.db --version 0001 &&
	test "$(cat rc)" = 129 &&
	test_grep "interrupted by SIGHUP: the baseline was not recorded" err &&
	test -z "$(q b.db "SELECT name FROM sqlite_master WHERE name LIKE \"cairn%\"")"
'

# The runner's output goes to a pipe whose reader has gone (a closed ssh
# session took the pager or tee with it) before the runner writes a line:
# the run must not die at its first line, halfway.
# It finishes, and says on stderr that its output was lost (exit 6).
test_expect_success 'SQLite: output to a pipe nobody reads: apply finishes (exit 6: the output was lost), the books and schema match' '
	lock_hold pipe.db 2 &&
	{ cairn-apply apply b2.tar.gz --env dev --db sqlite:pipe.db $KEY --lock-timeout 20s 2>err; echo $? >rc; } | true &&
	{ wait $holder || :; } &&
	test "$(cat rc)" = 6 &&
	test_grep "cannot write the output" err &&
	q pipe.db "SELECT version || \"|\" || state FROM cairn_migrations ORDER BY version" >rows &&
	printf "0001|applied\n0002|applied\n" >want && test_cmp want rows &&
	q pipe.db "SELECT name FROM sqlite_master WHERE name IN (\"slow\", \"sd\") ORDER BY name" >tables &&
	printf "sd\nslow\n" >want && test_cmp want tables &&
	cairn-apply history --db sqlite:pipe.db --verify >out
'

test_done
