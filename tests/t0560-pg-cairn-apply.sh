#!/bin/sh
test_description='cairn-apply on PostgreSQL end to end: apply, plan, status, rollback, drift, history'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"
. "$TEST_DIRECTORY/lib-pg.sh"

pg_start
DB="postgresql:///app?host=$PGHOST"

test_expect_success 'setup: a signed bundle with four migrations' '
	pg_fresh_db app &&
	pg_project p &&
	apply_table p 0001_users &&
	apply_mig p 0002_seed "INSERT INTO t_0001_users (id, v) VALUES (1, '"'"'ann'"'"'), (2, '"'"'bob'"'"');" \
		"DELETE FROM t_0001_users;" &&
	printf "SELECT count(*) = 2 FROM t_0001_users;\n" >p/migrations/0002_seed/verify.sql &&
	apply_mig p 0003_index "CREATE INDEX CONCURRENTLY users_v ON t_0001_users (v);" \
		"DROP INDEX CONCURRENTLY users_v;" "transaction: false" &&
	apply_table p 0004_orders &&
	apply_build p "$TRASH_DIRECTORY/v4.tar.gz"
'

test_expect_success 'plan (dry run) shows the order and changes nothing' '
	cairn-apply plan v4.tar.gz --env dev --db "$DB" $KEY >out &&
	test_grep "0001_users" out &&
	test_grep "0004_orders" out &&
	pg_sql -d app -c "select count(*) from pg_namespace where nspname = '"'"'cairn'"'"'" >n &&
	echo 0 >want && test_cmp want n &&
	cairn-apply apply v4.tar.gz --env dev --db "$DB" $KEY --dry-run >out &&
	pg_sql -d app -c "select count(*) from pg_namespace where nspname = '"'"'cairn'"'"'" >n &&
	test_cmp want n
'

test_expect_success 'apply applies all four, CREATE INDEX CONCURRENTLY included' '
	cairn-apply apply v4.tar.gz --env dev --db "$DB" $KEY >out 2>err &&
	test_grep "applied 4 migrations" out &&
	pg_sql -d app -c "select version, state, transactional from cairn.cairn_migrations order by version" >rows &&
	printf "0001|applied|t\n0002|applied|t\n0003|applied|f\n0004|applied|t\n" >want &&
	test_cmp want rows &&
	pg_sql -d app -c "select indisvalid from pg_index where indexrelid = '"'"'users_v'"'"'::regclass" >v &&
	echo t >want && test_cmp want v
'

test_expect_success 'the DSN and its password never show in the output' '
	pg_sql -c "create role cairn_pw login superuser password '"'"'Sekr3t-pw'"'"'" &&
	cairn-apply status --db "postgresql://cairn_pw:Sekr3t-pw@/app?host=$PGHOST" >out 2>&1 &&
	test_grep ! Sekr3t out &&
	test_must_fail cairn-apply status --db "postgresql://cairn_pw:Wrong-pw@/app?host=$PGHOST" >out 2>&1 &&
	test_grep "password authentication failed" out &&
	test_grep ! Wrong-pw out
'

test_expect_success 'status and history with a role that may only read the bookkeeping' '
	pg_sql -c "create role reader login" &&
	pg_sql -d app -c "grant usage on schema cairn to reader" -c "grant select on all tables in schema cairn to reader" &&
	cairn-apply status --db "$DB&user=reader" >out &&
	test_grep "0004" out &&
	cairn-apply history --db "$DB&user=reader" --verify >out &&
	test_grep "apply" out &&
	test_must_fail cairn-apply rollback --db "$DB&user=reader" --last 1 >out 2>&1 &&
	test_grep "rollback of 0004_orders failed" out &&
	pg_sql -d app -c "select count(*) from cairn.cairn_migrations where state = '"'"'applied'"'"'" >n &&
	echo 4 >want && test_cmp want n
'

test_expect_success 'rollback runs the stored down scripts' '
	cairn-apply rollback --db "$DB" --last 2 >out 2>err &&
	pg_sql -d app -c "select version, state from cairn.cairn_migrations order by version" >rows &&
	printf "0001|applied\n0002|applied\n0003|rolled_back\n0004|rolled_back\n" >want &&
	test_cmp want rows &&
	pg_sql -d app -c "select to_regclass('"'"'users_v'"'"') is null, to_regclass('"'"'t_0004_orders'"'"') is null" >t &&
	echo "t|t" >want && test_cmp want t &&
	cairn-apply apply v4.tar.gz --env dev --db "$DB" $KEY >out &&
	test_grep "applied 2 migrations" out
'

test_expect_success 'a failing statement mid-file: SQLSTATE, file:line, nothing half-applied' '
	apply_mig p 0005_bad "INSERT INTO t_0001_users (id, v) VALUES (3, '"'"'cy'"'"');
CREATE TABLE half_done (x int);

INSERT INTO t_0001_users (id, nosuch) VALUES (4, 1);" "SELECT 1;" &&
	apply_build p "$TRASH_DIRECTORY/v5.tar.gz" &&
	test_expect_code 1 cairn-apply apply v5.tar.gz --env dev --db "$DB" $KEY >out 2>err &&
	test_grep "migrations/0005_bad/up.sql:4: .*42703: column \"nosuch\" of relation \"t_0001_users\" does not exist" err &&
	pg_sql -d app -c "select count(*) from t_0001_users where id = 3" >n &&
	echo 0 >want && test_cmp want n &&
	pg_sql -d app -c "select to_regclass('"'"'half_done'"'"') is null" >t &&
	echo t >want && test_cmp want t
'

test_expect_success 'drift: an edited applied migration stops the run (exit 5)' '
	rm -rf p/migrations/0005_bad &&
	apply_mig p 0001_users "CREATE TABLE t_0001_users (id bigint primary key, v text);" "DROP TABLE t_0001_users;" &&
	apply_build p "$TRASH_DIRECTORY/drift.tar.gz" &&
	test_expect_code 5 cairn-apply apply drift.tar.gz --env dev --db "$DB" $KEY >out 2>err &&
	cat out err >all &&
	test_grep "drift" all &&
	test_grep "0001_users" all
'

test_expect_success 'history --verify finds an edited audit row' '
	cairn-apply history --db "$DB" --verify >out &&
	test_grep "audit chain intact: [0-9]* rows" out &&
	pg_sql -d app -c "update cairn.cairn_audit set actor = '"'"'mallory'"'"' where seq = 2" &&
	test_expect_code 1 cairn-apply history --db "$DB" --verify >out 2>err &&
	test_grep "audit chain broken: row 2: its contents do not match its hash: the row was edited" err
'

test_done
