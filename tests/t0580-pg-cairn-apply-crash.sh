#!/bin/sh
test_description='cairn-apply on PostgreSQL: 8 concurrent appliers, SIGKILL mid-run, lock timeout'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"
. "$TEST_DIRECTORY/lib-pg.sh"

pg_start
DB="dbname=app"

test_expect_success 'setup: a bundle of 60 migrations that log each application' '
	pg_fresh_db app &&
	pg_sql -d app -c "create table applied_log (version text, pid int default pg_backend_pid())" &&
	apply_project p &&
	sed -i -e "s/^drivers: .*/drivers: [postgres]/" p/cairn.yaml &&
	for i in $(seq -w 1 60); do
		apply_mig p 00${i}_m "CREATE TABLE t_00$i (x int);
INSERT INTO applied_log (version) VALUES ('"'"'00$i'"'"');
SELECT pg_sleep(0.05);" "DROP TABLE t_00$i; DELETE FROM applied_log WHERE version = '"'"'00$i'"'"';" || return 1
	done &&
	apply_build p "$TRASH_DIRECTORY/b.tar.gz"
'

# check_consistent: every migration's table, its log row and its applied
# bookkeeping row all exist, or none does. Before a runner has created
# cairn.cairn_migrations no row can say applied; any other failing query
# is a failure, never "consistent".
check_consistent() {
	pg_sql -d app -c "select to_regclass('cairn.cairn_migrations') is not null" >has_bk &&
	if test "$(cat has_bk)" = t; then
		bk="exists (select 1 from cairn.cairn_migrations m where m.version = v.version and m.state = 'applied')"
	else
		bk=false
	fi &&
	pg_sql -d app -c "
		with v as (select lpad(g::text, 4, '0') as version from generate_series(1, 60) g)
		select v.version from v
		where (to_regclass('t_' || v.version) is not null)::int
		    + (exists (select 1 from applied_log l where l.version = v.version))::int
		    + ($bk)::int
		    not in (0, 3)" >inconsistent &&
	test_line_count = 0 inconsistent
}

test_expect_success 'SIGKILL at 8 points of a run: consistent after each, and a rerun finishes' '
	: >killed &&
	for round in 1 2 3 4 5 6 7 8; do
		{ cairn-apply apply b.tar.gz --env dev --db "$DB" $KEY --lock-timeout 10s >/dev/null 2>&1 & } &&
		pid=$! &&
		sleep 0.$((round % 4 + 2)) &&
		test_sigkill $pid &&
		if test -n "$killed"; then echo $round >>killed; fi &&
		check_consistent || return 1
	done &&
	test_line_count -ge 6 killed &&
	cairn-apply apply b.tar.gz --env dev --db "$DB" $KEY >out &&
	pg_sql -d app -c "select count(*), count(distinct version) from applied_log" >n &&
	echo "60|60" >want && test_cmp want n &&
	check_consistent
'

test_expect_success '8 concurrent appliers: each migration applied exactly once' '
	cairn-apply rollback --db "$DB" --to 0 >/dev/null &&
	pg_sql -d app -c "select count(*) from applied_log" >n &&
	echo 0 >want && test_cmp want n &&
	pg_sql -d app -c "delete from cairn.cairn_migrations" &&
	for r in 1 2 3 4 5 6 7 8; do
		{ cairn-apply apply b.tar.gz --env dev --db "$DB" $KEY --lock-timeout 60s >out.$r 2>err.$r; echo $? >rc.$r; } &
	done &&
	wait &&
	cat rc.* | sort -u >rcs &&
	echo 0 >want && test_cmp want rcs &&
	grep -h "^applied [0-9]* migration" out.* >summaries &&
	test_line_count = 1 summaries &&
	test_grep "applied 60 migrations" summaries &&
	pg_sql -d app -c "select count(*), count(distinct version) from applied_log" >n &&
	echo "60|60" >want && test_cmp want n
'

test_expect_success 'a runner waiting longer than --lock-timeout exits 4 naming the holder' '
	{ "$SRC_DIR/build/tests/pg-driver" lock "$DB" 0 3000 >holder.out & } &&
	for i in $(seq 1 50); do grep -q locked holder.out && break; sleep 0.1; done &&
	test_expect_code 4 cairn-apply apply b.tar.gz --env dev --db "$DB" $KEY --lock-timeout 300ms >out 2>err &&
	test_grep "another runner holds the lock .*held by cairn-apply, pid [0-9]*" err &&
	wait
'

test_done
