#!/bin/sh
test_description='PostgreSQL driver: apply, rollback, drift, errors with file:line, timeouts'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-pg.sh"

pg_start
DSN="dbname=app"

test_expect_success 'setup' '
	pg_fresh_db app &&
	pg_mig m/0001_users "create table users (id int primary key, email text not null unique);" \
		"drop table users;" &&
	pg_mig m/0002_seed "insert into users values (1, '"'"'a@example.com'"'"');" \
		"delete from users where id = 1;" &&
	pg_mig m/0003_orders "create table orders (id int primary key, user_id int references users);" \
		"drop table orders;"
'

test_expect_success 'apply creates the bookkeeping schema and applies in order' '
	"$PD" migrate "$DSN" m/0001_users m/0002_seed m/0003_orders >out &&
	printf "applied %s\n" 0001 0002 0003 >want &&
	test_cmp want out &&
	pg_sql -d app -c "select version, state, transactional from cairn.cairn_migrations order by version" >rows &&
	printf "%s|applied|t\n" 0001 0002 0003 >want &&
	test_cmp want rows &&
	pg_sql -d app -c "select count(*) from users" >n &&
	echo 1 >want && test_cmp want n &&
	pg_sql -d app -c "select seq, action, version from cairn.cairn_audit order by seq" >audit &&
	printf "1|apply|0001\n2|apply|0002\n3|apply|0003\n" >want &&
	test_cmp want audit
'

test_expect_success 'a second apply has nothing to do' '
	"$PD" migrate "$DSN" m/0001_users m/0002_seed m/0003_orders >out &&
	test_line_count = 0 out
'

test_expect_success 'status reads the bookkeeping' '
	"$PD" status "$DSN" >out &&
	test_grep "^0003 0003_orders applied" out &&
	test_grep "^audit 3 rows" out
'

test_expect_success 'rollback runs the stored down scripts in reverse, each with its row' '
	"$PD" rollback "$DSN" 2 >out &&
	printf "rolled back %s\n" 0003 0002 >want &&
	test_cmp want out &&
	pg_sql -d app -c "select to_regclass('"'"'orders'"'"') is null, (select count(*) from users)" >st &&
	echo "t|0" >want && test_cmp want st &&
	pg_sql -d app -c "select version, state from cairn.cairn_migrations order by version" >rows &&
	printf "0001|applied\n0002|rolled_back\n0003|rolled_back\n" >want &&
	test_cmp want rows
'

test_expect_success 'a failing statement mid-file: SQLSTATE, file:line, nothing half-applied' '
	pg_mig m/0004_bad "insert into users values (10, '"'"'x@example.com'"'"');
create table half_done (x int);

insert into users (id, nosuchcolumn) values (11, 1);
insert into users values (12, '"'"'z@example.com'"'"');" "select 1;" &&
	test_must_fail --exit=1 "$PD" migrate "$DSN" m/0001_users m/0004_bad 2>err &&
	test_grep "m/0004_bad/up.sql:4: error: 42703: column \"nosuchcolumn\" of relation \"users\" does not exist" err &&
	test_grep "0004 rolled back" err &&
	pg_sql -d app -c "select count(*) from users where id >= 10" >n &&
	echo 0 >want && test_cmp want n &&
	pg_sql -d app -c "select to_regclass('"'"'half_done'"'"') is null" >t &&
	echo t >want && test_cmp want t &&
	pg_sql -d app -c "select count(*) from cairn.cairn_migrations where version = '"'"'0004'"'"'" >n &&
	echo 0 >want && test_cmp want n
'

test_expect_success 'the error position counts characters: multibyte text before it' '
	printf "select '"'"'héllo wörld ünïcödé'"'"';\nselect  '"'"'ÄÖÜ'"'"', nosuch\n  from users;\n" >pos.sql &&
	test_must_fail --exit=1 "$PD" exec "$DSN" pos.sql 2>err &&
	test_grep "pos.sql:2: error: 42703: column \"nosuch\" does not exist" err
'

test_expect_success 'an error without a position names the failing statement line' '
	printf "select 1;\n\nselect 2;\nselect 1/0;\n" >div.sql &&
	test_must_fail --exit=1 "$PD" exec "$DSN" div.sql 2>err &&
	test_grep "div.sql:4: error: 22012: division by zero" err
'

test_expect_success 'errors show detail and hint' '
	printf "insert into users values (1, '"'"'a@example.com'"'"');\ninsert into users values (1, '"'"'b@example.com'"'"');\n" >dup.sql &&
	test_must_fail "$PD" exec "$DSN" dup.sql --tx 2>err &&
	test_grep "dup.sql:2: error: 23505: duplicate key value violates unique constraint \"users_pkey\" (Key (id)=(1) already exists.)" err &&
	printf "select pg_sleep(0.01);\ncreate tabel x (a int);\n" >syn.sql &&
	test_must_fail "$PD" exec "$DSN" syn.sql 2>err &&
	test_grep "syn.sql:2: error: 42601: syntax error at or near \"tabel\"" err &&
	printf "do \$\$ begin raise exception '"'"'boom'"'"' using detail = '"'"'the detail'"'"', hint = '"'"'the hint'"'"'; end \$\$;\n" >raise.sql &&
	test_must_fail "$PD" exec "$DSN" raise.sql 2>err &&
	test_grep "raise.sql:1: error: P0001: boom (the detail; context: PL/pgSQL function inline_code_block line 1 at RAISE; hint: the hint)" err
'

test_expect_success 'syntax error at the end of the script points at its last line' '
	printf "select 1;\nselect (1 +\n" >eof.sql &&
	test_must_fail "$PD" exec "$DSN" eof.sql 2>err &&
	test_grep "eof.sql:3: error: 42601: syntax error at end of input" err
'

test_expect_success 'drift: an applied migration whose checksum changed stops the run' '
	pg_mig m/0001_users "create table users (id bigint primary key);" "drop table users;" &&
	test_must_fail --exit=5 env PG_DRIVER_CHECK_DRIFT=1 "$PD" migrate "$DSN" m/0001_users 2>err &&
	test_grep "drift: 0001 applied with sha256:[0-9a-f]*, now sha256:" err
'

test_expect_success 'statement_timeout and lock_timeout are SET LOCAL per migration' '
	pg_mig m/0010_slow "select pg_sleep(2);" "select 1;" &&
	echo "150 0" >m/0010_slow/timeouts &&
	test_must_fail --exit=1 "$PD" migrate "$DSN" m/0010_slow 2>err &&
	test_grep "57014: canceling statement due to statement timeout" err &&
	pg_mig m/0011_locked "alter table users add column note text;" "alter table users drop column note;" &&
	echo "0 200" >m/0011_locked/timeouts &&
	{ "$PSQL" -X -q -d app -c "begin; lock table users; select pg_sleep(3); commit;" >/dev/null 2>&1 & } &&
	sleep 0.5 &&
	test_must_fail --exit=1 "$PD" migrate "$DSN" m/0011_locked 2>err &&
	test_grep "55P03: canceling statement due to lock timeout" err &&
	wait &&
	pg_mig m/0012_sleepy "select pg_sleep(0.4);" "select 1;" &&
	pg_mig m/0009_short "select 1;" "select 1;" &&
	echo "100 100" >m/0009_short/timeouts &&
	"$PD" migrate "$DSN" m/0009_short m/0012_sleepy >out &&
	printf "applied 0009\napplied 0012\n" >want &&
	test_cmp want out
'

test_expect_success 'a script run in a transaction commits' '
	printf "select 1;\n" >one.sql &&
	"$PD" exec "$DSN" one.sql --tx >out &&
	echo "statements 1 changes 0" >want &&
	test_cmp want out
'

test_expect_success 'changes count the rows written' '
	printf "create table cnt (x int);\ninsert into cnt select generate_series(1, 7);\nupdate cnt set x = x + 1 where x > 4;\ndelete from cnt where x = 1;\n" >cnt.sql &&
	"$PD" exec "$DSN" cnt.sql --tx >out &&
	echo "statements 4 changes 11" >want &&
	test_cmp want out
'

test_done
