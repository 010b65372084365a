#!/bin/sh
test_description='SQL callbacks inside the bundle on PostgreSQL (issue #20): the driver variant, in the migration transaction, rolled back with it'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"
. "$TEST_DIRECTORY/lib-attack.sh"
. "$TEST_DIRECTORY/lib-pg.sh"

pg_start_app
sq="'"

test_expect_success 'setup: a format 1 bundle, then one with callbacks (a generic and a postgres variant)' '
	pg_fresh_db app &&
	pg_fresh_db old &&
	apply_project p &&
	sed -i -e "s/^drivers: .*/drivers: [sqlite, postgres]/" p/cairn.yaml &&
	apply_table p 0001_users &&
	apply_build p "$TRASH_DIRECTORY/v1.tar.gz" &&
	mkdir -p p/migrations/callbacks &&
	echo "CREATE TABLE IF NOT EXISTS cb_log (what text, tx bigint, at serial);" \
		>p/migrations/callbacks/before_migrate.sql &&
	echo "INSERT INTO cb_log (what) VALUES (${sq}generic$sq);" >p/migrations/callbacks/before_each.sql &&
	echo "INSERT INTO cb_log (what, tx) VALUES (${sq}before_each$sq, txid_current());" \
		>p/migrations/callbacks/before_each.postgres.sql &&
	echo "INSERT INTO cb_log (what) VALUES (${sq}on_error$sq);" >p/migrations/callbacks/on_error.sql &&
	apply_table p 0002_orders &&
	apply_build p "$TRASH_DIRECTORY/v2.tar.gz" &&
	tar xzf v2.tar.gz -O --wildcards "*/manifest.yaml" >m2 &&
	test_grep "^format: cairn-bundle/2$" m2 &&
	pg_config ""
'

test_expect_success 'a format 1 bundle is still applied' '
	cairn-apply apply v1.tar.gz --env dev --db "postgresql:///old?host=$PGHOST" >out &&
	pg_sql -d old -c "select state from cairn.cairn_migrations" >st &&
	echo applied >want && test_cmp want st
'

test_expect_success 'before_each (the postgres variant) runs inside each migration transaction' '
	cairn-apply apply v2.tar.gz --env dev >out &&
	pg_sql -d app -c "select what from cb_log order by at" >log &&
	printf "before_each\nbefore_each\n" >want && test_cmp want log &&
	pg_sql -d app -c "select count(distinct tx) from cb_log" >n && echo 2 >want && test_cmp want n &&
	pg_sql -d app -c "select count(*) from cairn.cairn_audit where action = ${sq}callback$sq and detail like ${sq}callback=before_migrate.sql; %$sq" >n &&
	echo 1 >want && test_cmp want n &&
	sum=$(sha256sum <p/migrations/callbacks/before_each.postgres.sql | cut -d" " -f1) &&
	pg_sql -d app -c "select count(*) from cairn.cairn_audit where action = ${sq}apply$sq and detail like $sq%callback=before_each.postgres.sql; sha256=$sum; outcome=ok%$sq" >n &&
	echo 2 >want && test_cmp want n &&
	cairn-apply history --env dev --verify >out
'

test_expect_success 'a failing after_each rolls the migration back (catalog and books unchanged); on_error runs in its own transaction' '
	echo "SELECT 1/0;" >p/migrations/callbacks/after_each.postgres.sql &&
	apply_table p 0003_items &&
	apply_build p "$TRASH_DIRECTORY/v3.tar.gz" &&
	pg_sql -d app -c "select version, state from cairn.cairn_migrations order by version" >books.before &&
	test_expect_code 1 cairn-apply apply v3.tar.gz --env dev >out 2>err &&
	test_grep "callback after_each (sha256:[0-9a-f]*) failed: migrations/callbacks/after_each.postgres.sql:1: .*division by zero" err &&
	pg_sql -d app -c "select count(*) from pg_catalog.pg_class where relname = ${sq}t_0003_items$sq" >n &&
	echo 0 >want && test_cmp want n &&
	pg_sql -d app -c "select version, state from cairn.cairn_migrations where state = ${sq}applied$sq order by version" >books.after &&
	test_cmp books.before books.after &&
	pg_sql -d app -c "select what from cb_log order by at" >log &&
	printf "before_each\nbefore_each\non_error\n" >want && test_cmp want log &&
	pg_sql -d app -c "select detail from cairn.cairn_audit where action = ${sq}callback$sq order by seq desc limit 1" >cb &&
	test_grep "^callback=on_error.sql; sha256=[0-9a-f]*; outcome=ok" cb &&
	cairn-apply history --env dev --verify >out
'

test_expect_success 'a tampered callback member is refused (exit 3) before the database is touched' '
	pg_fresh_db fresh &&
	bundle_rewrite v2.tar.gz forged.tar.gz \
		"m[\"migrations/callbacks/before_each.postgres.sql\"] = b\"DROP TABLE t_0001_users;\\n\"" &&
	test_expect_code 3 cairn-apply apply forged.tar.gz --env dev --db "postgresql:///fresh?host=$PGHOST" 2>err &&
	test_grep "the sha256 of .migrations/callbacks/before_each.postgres.sql. differs from manifest.yaml" err &&
	pg_sql -d fresh -c "select count(*) from pg_catalog.pg_namespace where nspname = ${sq}cairn$sq" >n &&
	echo 0 >want && test_cmp want n
'

test_done
