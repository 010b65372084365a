#!/bin/sh
test_description='rollback callbacks on PostgreSQL (issue #20): in each step transaction, a failing one leaves the catalog and the books as they were'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"
. "$TEST_DIRECTORY/lib-pg.sh"

pg_start_app
sq="'"

test_expect_success 'setup: two migrations, a log table, rollback callbacks (a postgres variant), applied' '
	pg_fresh_db app &&
	apply_project p &&
	sed -i -e "s/^drivers: .*/drivers: [sqlite, postgres]/" p/cairn.yaml &&
	apply_mig p 0001_log "CREATE TABLE cb_log (what text, tx bigint, at serial);" "DROP TABLE cb_log;" &&
	apply_table p 0002_users &&
	apply_table p 0003_orders &&
	mkdir -p p/migrations/callbacks &&
	echo "INSERT INTO cb_log (what) VALUES (${sq}before_rollback$sq);" >p/migrations/callbacks/before_rollback.sql &&
	echo "INSERT INTO cb_log (what) VALUES (${sq}generic$sq);" >p/migrations/callbacks/before_each_rollback.sql &&
	echo "INSERT INTO cb_log (what, tx) VALUES (${sq}before_each_rollback$sq, txid_current());" \
		>p/migrations/callbacks/before_each_rollback.postgres.sql &&
	echo "INSERT INTO cb_log (what, tx) VALUES (${sq}after_each_rollback$sq, txid_current());" \
		>p/migrations/callbacks/after_each_rollback.sql &&
	echo "INSERT INTO cb_log (what) VALUES (${sq}after_rollback$sq);" >p/migrations/callbacks/after_rollback.sql &&
	echo "INSERT INTO cb_log (what) VALUES (${sq}on_error$sq);" >p/migrations/callbacks/on_error.sql &&
	apply_build p "$TRASH_DIRECTORY/v1.tar.gz" &&
	pg_config "" &&
	cairn-apply apply v1.tar.gz --env dev >out &&
	pg_sql -d app -c "select count(*) from cb_log" >n && echo 0 >want && test_cmp want n
'

test_expect_success 'rollback --bundle: each step callbacks run in the step transaction, the others once' '
	cairn-apply rollback --env dev --last 2 --bundle v1.tar.gz >out &&
	pg_sql -d app -c "select what from cb_log order by at" >log &&
	cat >want <<-\EOF &&
	before_rollback
	before_each_rollback
	after_each_rollback
	before_each_rollback
	after_each_rollback
	after_rollback
	EOF
	test_cmp want log &&
	pg_sql -d app -c "select count(distinct tx) from cb_log where tx is not null" >n &&
	echo 2 >want && test_cmp want n &&
	pg_sql -d app -c "select count(*) from pg_catalog.pg_class where relname in (${sq}t_0002_users$sq, ${sq}t_0003_orders$sq)" >n &&
	echo 0 >want && test_cmp want n &&
	pg_sql -d app -c "select count(*) from cairn.cairn_audit where action = ${sq}rollback$sq and detail like $sq%callback=before_each_rollback.postgres.sql; sha256=%$sq" >n &&
	echo 2 >want && test_cmp want n &&
	cairn-apply history --env dev --verify >out &&
	cairn-apply apply v1.tar.gz --env dev >out
'

test_expect_success 'a failing before_rollback stops the rollback: catalog and books unchanged, on_error runs' '
	echo "SELECT 1/0;" >p/migrations/callbacks/before_rollback.postgres.sql &&
	apply_build p "$TRASH_DIRECTORY/v2.tar.gz" &&
	pg_sql -d app -c "select version, state from cairn.cairn_migrations order by version" >books.before &&
	pg_sql -d app -c "select relname from pg_catalog.pg_class where relname like ${sq}t\_000%$sq order by 1" >rel.before &&
	test_expect_code 1 cairn-apply rollback --env dev --last 1 --bundle v2.tar.gz >out 2>err &&
	test_grep "callback before_rollback (sha256:[0-9a-f]*) failed: migrations/callbacks/before_rollback.postgres.sql:1: .*division by zero.*; nothing was rolled back" err &&
	pg_sql -d app -c "select version, state from cairn.cairn_migrations order by version" >books.after &&
	test_cmp books.before books.after &&
	pg_sql -d app -c "select relname from pg_catalog.pg_class where relname like ${sq}t\_000%$sq order by 1" >rel.after &&
	test_cmp rel.before rel.after &&
	test_grep "^t_0003_orders$" rel.after &&
	pg_sql -d app -c "select what from cb_log order by at desc limit 1" >last &&
	echo on_error >want && test_cmp want last &&
	cairn-apply history --env dev --verify >out
'

test_expect_success 'a failing after_each_rollback rolls that step back: the table and its row stay, the books say applied' '
	rm p/migrations/callbacks/before_rollback.postgres.sql &&
	echo "SELECT 1/0;" >p/migrations/callbacks/after_each_rollback.postgres.sql &&
	apply_build p "$TRASH_DIRECTORY/v3.tar.gz" &&
	pg_sql -d app -c "insert into t_0003_orders values (1, ${sq}kept$sq)" &&
	pg_sql -d app -c "select version, state from cairn.cairn_migrations order by version" >books.before &&
	test_expect_code 1 cairn-apply rollback --env dev --last 1 --bundle v3.tar.gz >out 2>err &&
	test_grep "rollback of 0003_orders failed: callback after_each_rollback (sha256:[0-9a-f]*) failed: migrations/callbacks/after_each_rollback.postgres.sql:1: .*division by zero" err &&
	pg_sql -d app -c "select version, state from cairn.cairn_migrations order by version" >books.after &&
	test_cmp books.before books.after &&
	pg_sql -d app -c "select v from t_0003_orders" >v && echo kept >want && test_cmp want v &&
	pg_sql -d app -c "select what from cb_log order by at desc limit 2" >last &&
	printf "on_error\nbefore_rollback\n" >want && test_cmp want last &&
	cairn-apply history --env dev --verify >out
'

test_done
