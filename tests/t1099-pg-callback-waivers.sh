#!/bin/sh
test_description='a SQL callback'\''s waivers on PostgreSQL (issue #20): signed in the manifest (format cairn-bundle/3), applied with the callback where the policy allows waivers, refused where it does not, the catalog as the books say'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"
. "$TEST_DIRECTORY/lib-pg.sh"

pg_start_app
C=migrations/callbacks

# tables DB: the public tables of DB, one a line, sorted
tables() {
	pg_sql -d "$1" -c "select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = 'public' and c.relkind = 'r' order by 1"
}

test_expect_success 'setup: a PostgreSQL project whose after_migrate callback drops and rebuilds a staging table, with a waiver' '
	pg_fresh_db app &&
	pg_fresh_db prod &&
	pg_project p &&
	sed -i -e "s/^lint: {/lint: {contract-only: off, drop-table: error, /" p/cairn.yaml &&
	apply_mig p 0001_users "CREATE TABLE users (id integer PRIMARY KEY);" "DROP TABLE users;" &&
	mkdir -p p/$C &&
	printf -- "-- cairn:allow drop-table the staging table is rebuilt each run\nDROP TABLE IF EXISTS staging;\nCREATE TABLE staging (id integer);\n" \
		>p/$C/after_migrate.sql &&
	apply_build p "$TRASH_DIRECTORY/b.tar.gz" &&
	tar -xzOf b.tar.gz --wildcards "*/manifest.yaml" >manifest &&
	test_grep "^format: cairn-bundle/3$" manifest &&
	test_grep "^callback_waivers:$" manifest &&
	cat >cairn-apply.yaml <<-EOF
	defaults:
	  builders: [ci.pub]
	environments:
	  dev:
	    database: { dsn: "$DB" }
	  prod:
	    database: { dsn: "postgresql:///prod?host=$PGHOST" }
	    lint: {refuse_waived: [drop-table]}
	EOF
'

test_expect_success 'plan names the waiver under its callback' '
	cairn-apply plan b.tar.gz --env dev >out 2>&1 &&
	test_grep "drop-table" out &&
	test_grep "the staging table is rebuilt each run" out
'

test_expect_success 'dev applies it: the migration, the callback'\''s table, its audit row, the chain intact' '
	cairn-apply apply b.tar.gz --env dev >out 2>&1 &&
	tables app >got &&
	printf "staging\nusers\n" >want &&
	test_cmp want got &&
	pg_sql -d app -c "select version || '"'"'|'"'"' || state from cairn.cairn_migrations" >got &&
	echo "0001|applied" >want &&
	test_cmp want got &&
	pg_sql -d app -c "select count(*) from cairn.cairn_audit where action = '"'"'callback'"'"' and detail like '"'"'callback=after_migrate.sql;%outcome=ok%'"'"'" >got &&
	echo 1 >want &&
	test_cmp want got &&
	cairn-apply history --verify --db "$DB" >out 2>&1
'

test_expect_success 'prod refuses waived drop-table: the callback'\''s waiver refuses the bundle (exit 3), nothing of cairn made, no table' '
	test_expect_code 3 cairn-apply apply b.tar.gz --env prod 2>err &&
	test_grep "lint-waiver: callback .after_migrate.sql. waives drop-table at after_migrate.sql:2" err &&
	test_grep "the database is unchanged" err &&
	test "$(pg_sql -d prod -c "select count(*) from pg_namespace where nspname = '"'"'cairn'"'"'")" = 0 &&
	test -z "$(tables prod)"
'

test_done
