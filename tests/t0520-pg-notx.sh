#!/bin/sh
test_description='PostgreSQL driver: transaction: false migrations, CREATE INDEX CONCURRENTLY, interrupted runs'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-pg.sh"

pg_start
DSN="dbname=app"

test_expect_success 'setup' '
	pg_fresh_db app &&
	pg_mig m/0001_t "create table t (id int primary key, v text); insert into t select g, md5(g::text) from generate_series(1, 20000) g;" "drop table t;" &&
	"$PD" migrate "$DSN" m/0001_t >out &&
	echo "applied 0001" >want && test_cmp want out
'

test_expect_success 'outside a transaction every statement goes on its own: CIC is not in an implicit one' '
	printf "create index concurrently t_v_tmp on t (v);\nselect 1;\n" >cic.sql &&
	"$PD" exec "$DSN" cic.sql &&
	test "$(pg_sql -d app -c "select count(*) from pg_indexes where indexname = '"'"'t_v_tmp'"'"'")" = 1 &&
	pg_sql -d app -c "drop index t_v_tmp"
'

test_expect_success 'in a transaction CIC still fails, and nothing after it runs' '
	printf "create index concurrently t_v_bad on t (v);\ncreate table after_cic (a int);\n" >cic.sql &&
	test_must_fail "$PD" exec "$DSN" cic.sql --tx 2>err &&
	test_grep "cic.sql:1: error: 25001: CREATE INDEX CONCURRENTLY cannot run inside a transaction block" err &&
	test "$(pg_sql -d app -c "select count(*) from pg_indexes where indexname = '"'"'t_v_bad'"'"'")" = 0 &&
	test "$(pg_sql -d app -c "select to_regclass('"'"'after_cic'"'"') is null")" = t
'

test_expect_success 'transaction: false runs it statement by statement' '
	pg_mig m/0002_cic "-- builds without blocking writes
create index concurrently t_v on t (v);
/* a dollar-quoted body with ; inside */
do \$\$ begin perform 1; end \$\$;
create index concurrently t_v2 on t (lower(v));" "drop index t_v; drop index t_v2;" &&
	touch m/0002_cic/notx &&
	"$PD" migrate "$DSN" m/0001_t m/0002_cic >out &&
	echo "applied 0002" >want && test_cmp want out &&
	pg_sql -d app -c "select indexname from pg_indexes where tablename = '"'"'t'"'"' order by 1" >idx &&
	printf "t_pkey\nt_v\nt_v2\n" >want && test_cmp want idx &&
	pg_sql -d app -c "select state, transactional, statement from cairn.cairn_migrations where version = '"'"'0002'"'"'" >row &&
	echo "applied|f|-1" >want && test_cmp want row
'

test_expect_success 'CREATE INDEX CONCURRENTLY does not deadlock with the runner lock (Flyway bug)' '
	pg_mig m/0003_cic2 "create index concurrently t_v3 on t (v, id);" "drop index t_v3;" &&
	touch m/0003_cic2/notx &&
	echo "20000 0" >m/0003_cic2/timeouts &&
	{ "$PSQL" -X -q -d app -c "select count(*) from t" >/dev/null & } &&
	"$PD" migrate "$DSN" m/0001_t m/0002_cic m/0003_cic2 >out 2>err &&
	echo "applied 0003" >want && test_cmp want out &&
	wait &&
	pg_sql -d app -c "select indisvalid from pg_index where indexrelid = '"'"'t_v3'"'"'::regclass" >valid &&
	echo t >want && test_cmp want valid
'

test_expect_success 'the same CIC does wait for a session holding a snapshot (the test can fail)' '
	pg_mig m/0099_cicwait "create index concurrently t_wait on t (v, id, v);" "select 1;" &&
	touch m/0099_cicwait/notx &&
	echo "1500 0" >m/0099_cicwait/timeouts &&
	{ "$PSQL" -X -q -d app -c "begin isolation level repeatable read; select count(*) from t; select pg_sleep(4); commit;" >/dev/null 2>&1 & } &&
	sleep 0.5 &&
	test_must_fail --exit=1 "$PD" migrate "$DSN" m/0099_cicwait 2>err &&
	test_grep "57014: canceling statement due to statement timeout" err &&
	wait &&
	pg_sql -d app -c "drop index if exists t_wait" -c "delete from cairn.cairn_migrations where version = '"'"'0099'"'"'"
'

test_expect_success 'the run lock is held by the session that runs the migration (issue #16)' '
	pg_mig m/0004_watch "select pg_sleep(1.5);" "select 1;" &&
	touch m/0004_watch/notx &&
	{ "$PD" migrate "$DSN" m/0001_t m/0002_cic m/0003_cic2 m/0004_watch >out 2>err & } &&
	sleep 0.7 &&
	pg_sql -d app -c "select l.granted, a.state, a.query like '"'"'%pg_sleep(1.5)%'"'"' from pg_locks l join pg_stat_activity a using (pid) where l.locktype = '"'"'advisory'"'"'" >lockrow &&
	wait &&
	echo "t|active|t" >want && test_cmp want lockrow &&
	echo "applied 0004" >want && test_cmp want out
'

test_expect_success 'a statement failing halfway leaves the row failed at that statement' '
	pg_mig m/0005_half "create index concurrently t_half1 on t (id, v);
select 1;

select nosuch from t;
create index concurrently t_half2 on t (v, id);" "select 1;" &&
	touch m/0005_half/notx &&
	test_must_fail --exit=1 "$PD" migrate "$DSN" m/0001_t m/0005_half 2>err &&
	test_grep "m/0005_half/up.sql:4: error: 42703: column \"nosuch\" does not exist" err &&
	pg_sql -d app -c "select state, statement from cairn.cairn_migrations where version = '"'"'0005'"'"'" >row &&
	echo "failed|2" >want && test_cmp want row &&
	pg_sql -d app -c "select count(*) from pg_indexes where indexname in ('"'"'t_half1'"'"', '"'"'t_half2'"'"')" >n &&
	echo 1 >want && test_cmp want n
'

test_expect_success 'the next run stops, naming the statement reached and the way out' '
	test_must_fail --exit=5 "$PD" migrate "$DSN" m/0001_t m/0005_half 2>err &&
	test_grep "0005 is failed at statement 3 (transaction: false)" err &&
	test_grep "repair 0005 --mark-applied" err &&
	pg_sql -d app -c "delete from cairn.cairn_migrations where version = '"'"'0005'"'"'"
'

test_expect_success 'SIGKILL during a transaction: false migration leaves it in progress' '
	pg_mig m/0006_killed "create index concurrently t_k1 on t (v, id);
create index concurrently t_k2 on t (id, v);
create index concurrently t_k3 on t (lower(v), id);" "select 1;" &&
	touch m/0006_killed/notx &&
	{ PG_DRIVER_PAUSE_BEFORE=1 "$PD" migrate "$DSN" m/0001_t m/0006_killed >out 2>err & } &&
	pid=$! &&
	for i in $(seq 1 100); do grep -q "paused" out && break; sleep 0.1; done &&
	test_grep "paused at statement 1" out &&
	kill -9 $pid && { wait $pid; true; } &&
	pg_sql -d app -c "select state, statement from cairn.cairn_migrations where version = '"'"'0006'"'"'" >row &&
	echo "in_progress|1" >want && test_cmp want row &&
	test_must_fail --exit=5 "$PD" migrate "$DSN" m/0001_t m/0006_killed 2>err &&
	test_grep "0006 is in_progress at statement 2 (transaction: false): it stopped halfway" err &&
	test_grep "cairn-apply repair 0006" err
'

test_expect_success 'the killed runner left no stale lock' '
	"$PD" lock "$DSN" 0 0 >out &&
	echo locked >want && test_cmp want out
'

test_done
