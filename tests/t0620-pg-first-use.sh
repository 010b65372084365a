#!/bin/sh
test_description='PostgreSQL first use: a pre-created bookkeeping schema, cairn_schema=public, a role named like the schema, timeouts from the config'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"
. "$TEST_DIRECTORY/lib-pg.sh"

pg_start

test_expect_success 'setup: roles, and a bundle of two tables' '
	pg_sql -c "create role app login" &&
	pg_sql -c "create role reader login" &&
	pg_project p &&
	apply_table p 0001_a &&
	apply_table p 0002_b &&
	apply_build p "$TRASH_DIRECTORY/b.tar.gz"
'

test_expect_success 'a schema the DBA created (as the docs allow): cairn creates its tables in it' '
	pg_fresh_db app &&
	pg_sql -d app -c "create schema cairn; grant usage, create on schema cairn to app; grant create on schema public to app" &&
	cairn-apply apply b.tar.gz --env dev --db "host=$PGHOST dbname=app user=app" $KEY >out 2>err &&
	test_grep "applied 2 migrations" out &&
	pg_sql -d app -c "select string_agg(version || '"'"'='"'"'|| state, '"'"' '"'"' order by version) from cairn.cairn_migrations" >rows &&
	echo "0001=applied 0002=applied" >want && test_cmp want rows &&
	pg_sql -d app -c "select count(*) from pg_tables where schemaname = '"'"'cairn'"'"' and tablename in ('"'"'cairn_migrations'"'"', '"'"'cairn_audit'"'"')" >n &&
	echo 2 >want && test_cmp want n
'

test_expect_success 'a schema the role may use but not create in: its own message, naming schema and privilege' '
	pg_fresh_db app &&
	pg_sql -d app -c "create schema cairn; grant usage on schema cairn to app; grant create on schema public to app" &&
	test_must_fail --exit=6 cairn-apply apply b.tar.gz --env dev --db "host=$PGHOST dbname=app user=app" $KEY >out 2>err &&
	test_grep "cannot create cairn.s tables in schema .cairn.: role app lacks CREATE on it" err &&
	test_grep "GRANT CREATE ON SCHEMA cairn TO app" err &&
	! grep "fix the migration" err &&
	pg_sql -d app -c "select count(*) from pg_tables where tablename = '"'"'t_0001_a'"'"'" >n &&
	echo 0 >want && test_cmp want n
'

test_expect_success 'cairn_schema=public: the books sit beside the application' '
	pg_fresh_db app &&
	cairn-apply apply b.tar.gz --env dev --db "host=$PGHOST dbname=app cairn_schema=public" $KEY >out 2>err &&
	pg_sql -d app -c "select count(*) from public.cairn_migrations where state = '"'"'applied'"'"'" >n &&
	echo 2 >want && test_cmp want n
'

test_expect_success 'a role named like the bookkeeping schema: the application tables stay in public' '
	pg_fresh_db app &&
	cairn-apply apply b.tar.gz --env dev --db "host=$PGHOST dbname=app user=cairn" $KEY >out 2>err &&
	pg_sql -d app -c "select schemaname from pg_tables where tablename in ('"'"'t_0001_a'"'"', '"'"'t_0002_b'"'"') order by 1" >where &&
	printf "public\npublic\n" >want && test_cmp want where &&
	cairn-apply rollback --db "host=$PGHOST dbname=app user=cairn" --last 2 >out &&
	pg_sql -d app -c "select count(*) from pg_tables where tablename like '"'"'t_000%'"'"'" >n &&
	echo 0 >want && test_cmp want n
'

test_expect_success 'statement_timeout and lock_timeout come from the environment'\''s config' '
	pg_fresh_db app &&
	pg_project q &&
	apply_mig q 0001_slow "SELECT pg_sleep(3);" "SELECT 1;" &&
	apply_build q "$TRASH_DIRECTORY/slow.tar.gz" &&
	cat >cairn-apply.yaml <<-EOF &&
	environments:
	  dev:
	    database: { dsn: "host=$PGHOST dbname=app" }
	    builders: [ci.pub]
	    postgres: { statement_timeout: 500ms, lock_timeout: 300ms, lock_retry_budget: 0s }
	EOF
	test_must_fail --exit=1 cairn-apply apply slow.tar.gz --env dev >out 2>err &&
	test_grep "canceling statement due to statement timeout" err &&
	pg_fresh_db app &&
	pg_sql -d app -c "create table public.held (x int)" &&
	pg_project r &&
	apply_mig r 0001_alter "ALTER TABLE held ADD COLUMN y int;" "ALTER TABLE held DROP COLUMN y;" &&
	apply_build r "$TRASH_DIRECTORY/alter.tar.gz" &&
	{ pg_sql -d app -c "begin; lock table public.held; select pg_sleep(3); commit" >/dev/null & } &&
	sleep 0.5 &&
	test_must_fail --exit=1 cairn-apply apply alter.tar.gz --env dev >out 2>err &&
	test_grep "canceling statement due to lock timeout" err &&
	wait
'

test_done
