#!/bin/sh
test_description='PostgreSQL: SIGINT, SIGTERM and SIGKILL during a slow statement; a second runner never overlaps the first'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"
. "$TEST_DIRECTORY/lib-pg.sh"

pg_start
DB="host=$PGHOST dbname=app"

test_expect_success 'setup: a migration whose statement takes 3 s' '
	apply_project p &&
	sed -i -e "s/^drivers: .*/drivers: [postgres]/" p/cairn.yaml &&
	apply_mig p 0001_slow "CREATE TABLE slow (x int);
SELECT pg_sleep(3);
INSERT INTO slow VALUES (1);" "DROP TABLE slow;" &&
	apply_build p "$TRASH_DIRECTORY/b.tar.gz"
'

# sleepers: how many server sessions run the migration's pg_sleep now
sleepers() {
	pg_sql -d app -c "select count(*) from pg_stat_activity where state = 'active' and query like '%pg_sleep(3)%' and pid <> pg_backend_pid()"
}

# race SIG: runner 1 starts; once its statement runs, SIG goes to it and
# runner 2 starts at once. Writes rc1, err1, rc2, and max (the most
# sessions seen running the statement together while runner 2 ran).
race() {
	rm -f rc1 rc2 max &&
	pg_fresh_db app || return 1
	cairn-apply apply b.tar.gz --env dev --db "$DB" $KEY >out1 2>err1 &
	pid1=$!
	n=0 &&
	while test "$(sleepers)" != 1 && test $n -lt 100; do sleep 0.05; n=$((n + 1)); done &&
	test "$(sleepers)" = 1 &&
	kill -$1 $pid1 || return 1
	{ cairn-apply apply b.tar.gz --env dev --db "$DB" $KEY --lock-timeout 20s >out2 2>err2; echo $? >rc2; } &
	max=0 &&
	while ! test -s rc2; do
		s=$(sleepers) && if test "$s" -gt "$max"; then max=$s; fi
		sleep 0.05
	done
	wait $pid1
	echo $? >rc1 &&
	wait &&
	echo $max >max
}

for sig in INT:130 TERM:143; do
	code=${sig#*:} sig=${sig%:*}
	test_expect_success "SIG$sig cancels the statement, rolls back, records it, and only then frees the lock" '
		race '$sig' &&
		test "$(cat rc1)" = '$code' &&
		test_grep "interrupted by SIG'$sig': the running statement was cancelled and migration 0001_slow rolled back" err1 &&
		test "$(cat rc2)" = 0 &&
		test "$(cat max)" = 1 &&
		pg_sql -d app -c "select action from cairn.cairn_audit order by seq" | tr "\n" " " >actions &&
		test "$(cat actions)" = "apply-failed apply " &&
		pg_sql -d app -c "select detail from cairn.cairn_audit where action = '"'"'apply-failed'"'"'" >detail &&
		test_grep "interrupted by SIG'$sig'" detail &&
		test "$(pg_sql -d app -c "select state from cairn.cairn_migrations")" = applied &&
		test "$(pg_sql -d app -c "select count(*) from slow")" = 1
	'
done

test_expect_success 'SIGKILL: the lock lives as long as the server session, so runner 2 waits for the statement' '
	race KILL &&
	test "$(cat rc1)" = 137 &&
	test "$(cat rc2)" = 0 &&
	test "$(cat max)" = 1 &&
	test "$(pg_sql -d app -c "select state from cairn.cairn_migrations")" = applied &&
	test "$(pg_sql -d app -c "select count(*) from slow")" = 1
'

test_expect_success 'SIGTERM during a rollback: the down script is cancelled and rolled back, the row stays applied' '
	apply_mig p 0002_slowdown "CREATE TABLE sd (x int);" "SELECT pg_sleep(3);
DROP TABLE sd;" &&
	apply_build p "$TRASH_DIRECTORY/b2.tar.gz" &&
	cairn-apply apply b2.tar.gz --env dev --db "$DB" $KEY >out &&
	{ cairn-apply rollback --db "$DB" --last 1 >rout 2>rerr & } &&
	rpid=$! &&
	n=0 &&
	while test "$(sleepers)" != 1 && test $n -lt 100; do sleep 0.05; n=$((n + 1)); done &&
	kill -TERM $rpid &&
	{ wait $rpid; echo $? >rrc; } &&
	test "$(cat rrc)" = 143 &&
	test_grep "interrupted by SIGTERM: the running down script was cancelled and rolled back" rerr &&
	test "$(sleepers)" = 0 &&
	test "$(pg_sql -d app -c "select state from cairn.cairn_migrations where version = '"'"'0002'"'"'")" = applied &&
	test "$(pg_sql -d app -c "select count(*) from pg_tables where tablename = '"'"'sd'"'"'")" = 1
'

test_done
