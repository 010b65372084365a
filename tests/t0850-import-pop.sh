#!/bin/sh
test_description='cairn import --from pop: per-dialect files, .autocommit, 20-digit versions, fizz refused; SQLite and PostgreSQL'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"
. "$TEST_DIRECTORY/lib-import.sh"
. "$TEST_DIRECTORY/lib-pg.sh"

pg_start
M=migrations
V=201905021400000000 # ory popx style: 20 digits, above 2^64

# pg_schema DB: the user's columns and indexes, one line each, cairn's
# tables left out. Schema names are left out too: the test server's user
# is "cairn", so "$user" in the default search_path is cairn's schema.
pg_schema() {
	pg_sql -d "$1" -c "SELECT table_name || ' ' || column_name || ' ' || data_type FROM information_schema.columns WHERE table_schema NOT IN ('pg_catalog', 'information_schema') AND table_name NOT LIKE 'cairn%' ORDER BY 1" \
		-c "SELECT indexname || ' ' || regexp_replace(indexdef, ' ON [a-z_]+\\.', ' ON ') FROM pg_indexes WHERE schemaname NOT IN ('pg_catalog') AND tablename NOT LIKE 'cairn%' ORDER BY 1"
}

# pop's layout: migrations/{version}_{name}[.{dialect}][.autocommit].up|down.sql.
# Awkward cases: a generic file, per-dialect variants with an empty no-op
# for sqlite3, a mysql variant cairn has no driver for, an .autocommit
# CREATE INDEX CONCURRENTLY for postgres, a fizz migration, versions of 20
# digits. The files sit in migrations/ itself, as pop keeps them.
test_expect_success 'setup: a pop project' '
	import_project p &&
	sed -i -e "s/^drivers: .*/drivers: [sqlite, postgres]/" p/cairn.yaml &&
	d=p/$M &&
	echo "CREATE TABLE identities (id integer PRIMARY KEY, email text NOT NULL);" >$d/${V}01_identities.up.sql &&
	echo "DROP TABLE identities;" >$d/${V}01_identities.down.sql &&
	echo "ALTER TABLE identities ADD COLUMN search tsvector;" >$d/${V}02_search.postgres.up.sql &&
	echo "ALTER TABLE identities DROP COLUMN search;" >$d/${V}02_search.postgres.down.sql &&
	echo "-- no full-text column on sqlite" >$d/${V}02_search.sqlite3.up.sql &&
	echo "-- nothing to undo" >$d/${V}02_search.sqlite3.down.sql &&
	echo "ALTER TABLE identities ADD FULLTEXT (email);" >$d/${V}02_search.mysql.up.sql &&
	echo "CREATE INDEX CONCURRENTLY identities_email ON identities (email);" >$d/${V}03_email_idx.postgres.autocommit.up.sql &&
	echo "DROP INDEX CONCURRENTLY identities_email;" >$d/${V}03_email_idx.postgres.autocommit.down.sql &&
	echo "CREATE INDEX identities_email ON identities (email);" >$d/${V}03_email_idx.sqlite3.up.sql &&
	echo "DROP INDEX identities_email;" >$d/${V}03_email_idx.sqlite3.down.sql &&
	echo "create_table(\"sessions\") { t.Column(\"id\", \"uuid\", {primary: true}) }" >$d/${V}04_sessions.up.fizz &&
	cp -r p/$M orig &&
	git -C p add -A && git -C p commit -q -m "pop migrations"
'

test_expect_success 'fizz stops the import' '
	(cd p && test_must_fail --exit=1 cairn import --from pop >../out 2>../err) &&
	test_grep "^migrations/${V}04_sessions.up.fizz: error: a fizz file" out &&
	test -f p/$M/${V}01_identities.up.sql
'

test_expect_success 'import in place: per-driver files, transaction: {postgres: false}, the pop files gone' '
	(cd p && cairn import --from pop --skip ${V}04 >../out 2>../err) &&
	test_grep "^migrations/${V}02_search.mysql.up.sql: note: for mysql, which cairn does not apply; not imported" out &&
	test_grep "^migrations/${V}03_email_idx.postgres.autocommit.down.sql: mapped: .autocommit for postgres: transaction: {postgres: false}$" out &&
	test_grep "^  per-dialect scripts  *8 -> 8$" out &&
	test_grep "^  generic scripts  *2 -> 2$" out &&
	test_grep "^  files for dialects cairn has no driver for  *1 -> 0$" out &&
	test_grep "^  fizz files  *1 -> 0$" out &&
	test "$(ls p/$M | tr "\n" " ")" = "${V}01_identities ${V}02_search ${V}03_email_idx ${V}04_sessions.up.fizz " &&
	rm p/$M/${V}04_sessions.up.fizz &&
	test "$(ls p/$M/${V}02_search | tr "\n" " ")" = "down.postgres.sql down.sqlite.sql migration.yaml up.postgres.sql up.sqlite.sql " &&
	test_grep "^noop: true" p/$M/${V}02_search/migration.yaml &&
	sed -n "/^transaction:/,\$p" p/$M/${V}03_email_idx/migration.yaml >tx &&
	printf "transaction:\n  postgres: false\n" >want && test_cmp want tx &&
	git -C p add -A && git -C p commit -q -m imported &&
	(cd p && cairn check >../out 2>../err) &&
	import_apply p pop.tar.gz pop.db
'

test_expect_success 'SQLite: the schema is what the generic and sqlite3 files give by hand' '
	for f in orig/${V}01_identities.up.sql orig/${V}03_email_idx.sqlite3.up.sql; do
		sqlite3 byhand.db <$f || return 1
	done &&
	schema byhand.db >expect && schema pop.db >actual && test_cmp expect actual &&
	test "$(q pop.db "SELECT max(version) FROM cairn_migrations")" = "${V}03" &&
	test "$(q pop.db "SELECT transactional FROM cairn_migrations WHERE version = '"'"'${V}03'"'"'")" = 1
'

test_expect_success 'PostgreSQL: the schema is what the generic and postgres files give by hand (psql)' '
	pg_fresh_db byhand && pg_fresh_db app &&
	for f in orig/${V}01_identities.up.sql orig/${V}02_search.postgres.up.sql orig/${V}03_email_idx.postgres.autocommit.up.sql; do
		pg_sql -d byhand -f $f || return 1
	done &&
	cairn-apply apply pop.tar.gz --env dev --db "postgresql:///app?host=$PGHOST" $KEY >out 2>err &&
	pg_schema byhand >expect && pg_schema app >actual && test_cmp expect actual &&
	test_grep "identities search tsvector" actual &&
	pg_sql -d app -c "SELECT version || '"'"' '"'"' || transactional FROM cairn.cairn_migrations ORDER BY version" >rows &&
	printf "%s\n" "${V}01 true" "${V}02 true" "${V}03 false" >want && test_cmp want rows &&
	cairn-apply rollback --db "postgresql:///app?host=$PGHOST" --to ${V}01 >out 2>err &&
	pg_schema app >after && test_line_count = 3 after &&
	cairn-apply apply pop.tar.gz --env dev --db "postgresql:///app?host=$PGHOST" $KEY >out 2>err &&
	pg_schema app >actual && test_cmp expect actual
'

test_expect_success 'a statement that cannot run in a transaction in one dialect.s file: that driver only' '
	import_project q &&
	sed -i -e "s/^drivers: .*/drivers: [sqlite, postgres]/" q/cairn.yaml &&
	echo "CREATE TABLE t (id integer);" >q/$M/${V}01_t.up.sql &&
	echo "CREATE INDEX CONCURRENTLY t_id ON t (id);" >q/$M/${V}02_t_id.postgres.up.sql &&
	echo "CREATE INDEX t_id ON t (id);" >q/$M/${V}02_t_id.sqlite3.up.sql &&
	(cd q && cairn import --from pop >../out 2>../err) &&
	test_grep "^migrations/${V}02_t_id.postgres.up.sql: mapped: up.postgres.sql holds CREATE INDEX CONCURRENTLY, which cannot run in a transaction: transaction: {postgres: false}$" out &&
	sed -n "/^transaction:/,/^irreversible:/p" q/$M/${V}02_t_id/migration.yaml >tx &&
	printf "transaction:\n  postgres: false\nirreversible: true\n" >want && test_cmp want tx &&
	(cd q && cairn check >../out 2>../err)
'

test_done
