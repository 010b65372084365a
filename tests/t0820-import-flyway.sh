#!/bin/sh
test_description='cairn import --from flyway: V/U files, script configuration, repeatables refused, dotted versions kept in order'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"
. "$TEST_DIRECTORY/lib-import.sh"

M=migrations

# Flyway's layout: db/flyway/V<version>__<description>.sql. Awkward cases: an
# undo file (U2__), a skipped version kept as a comment-only placeholder,
# executeInTransaction=false in a .sql.conf file and in a script comment,
# a repeatable (R__), which cairn cannot keep, a dotted version (V5.1__),
# which maps every version of the project (unless --skip leaves it out), and
# a placeholder ${...}.
test_expect_success 'setup: a Flyway project' '
	import_project p &&
	mkdir -p p/db/flyway &&
	printf "flyway.url=jdbc:sqlite:app.db\nflyway.locations=filesystem:db/flyway,classpath:db/migration\n" >p/flyway.conf &&
	echo "CREATE TABLE users (id integer PRIMARY KEY, email text NOT NULL);" >p/db/flyway/V1__Create_users.sql &&
	echo "CREATE TABLE orders (id integer PRIMARY KEY, user_id integer REFERENCES users(id));" >p/db/flyway/V2__Add_orders.sql &&
	echo "DROP TABLE orders;" >p/db/flyway/U2__Add_orders.sql &&
	echo "-- version 3 was skipped in production" >p/db/flyway/V3__Skipped.sql &&
	echo "CREATE INDEX orders_user ON orders (user_id);" >p/db/flyway/V4__Orders_index.sql &&
	echo "executeInTransaction=false" >p/db/flyway/V4__Orders_index.sql.conf &&
	printf -- "-- flyway:executeInTransaction=false\nCREATE INDEX users_email ON users (email);\n" >p/db/flyway/V5__Users_index.sql &&
	echo "CREATE VIEW IF NOT EXISTS v_orders AS SELECT * FROM orders;" >p/db/flyway/R__Views.sql &&
	echo "ALTER TABLE users ADD COLUMN name text;" >p/db/flyway/V5.1__Dotted.sql &&
	echo "INSERT INTO users (email) VALUES ('"'"'\${admin_email}'"'"');" >p/db/flyway/V6__Seed_admin.sql &&
	cp -r p/db/flyway orig
'

test_expect_success 'a repeatable and a placeholder stop the import; a dotted version maps' '
	(cd p && test_must_fail --exit=1 cairn import --from flyway >../out 2>../err) &&
	test_grep "^db/flyway/R__Views.sql: error: a repeatable migration (R__): cairn applies each migration once" out &&
	test_grep "^db/flyway/V5.1__Dotted.sql: mapped: version 5.1: 51, in Flyway.s order (the name keeps v5-1)$" out &&
	test_grep "^db/flyway/V5__Users_index.sql: mapped: version 5: 50, in Flyway.s order (the name keeps v5)$" out &&
	test_grep "^db/flyway/V6__Seed_admin.sql: error: uses a Flyway placeholder" out &&
	test_grep "stopped: 2 migrations cannot be mapped" err &&
	test "$(ls p/$M)" = ""
'

test_expect_success 'with --skip: import, check, build, apply' '
	(cd p && cairn import --from flyway --skip R__Views.sql --skip 5.1 --skip 6 >../out 2>../err) &&
	test_grep "^db/flyway/V4__Orders_index.sql.conf: mapped: executeInTransaction=false: transaction: false" out &&
	test_grep "^db/flyway/V5__Users_index.sql: mapped: flyway:executeInTransaction=false: transaction: false" out &&
	test_grep "^  versioned migrations  *7 -> 5$" out &&
	test_grep "^  undo migrations  *1 -> 1$" out &&
	test_grep "^  repeatable migrations  *1 -> 0$" out &&
	test_grep "^  migrations  *8 -> 5$" out &&
	test "$(ls p/$M | tr "\n" " ")" = "1_create_users 2_add_orders 3_skipped 4_orders_index 5_users_index " &&
	test -f p/$M/2_add_orders/down.sql &&
	test_grep "^noop: true" p/$M/3_skipped/migration.yaml &&
	test_grep "^irreversible: true" p/$M/1_create_users/migration.yaml &&
	test_grep "^description: Create_users" p/$M/1_create_users/migration.yaml &&
	(cd p && cairn check >../out 2>../err) &&
	import_apply p fw.tar.gz fw.db &&
	test "$(q fw.db "SELECT group_concat(version || \":\" || transactional, \" \") FROM (SELECT * FROM cairn_migrations ORDER BY CAST(version AS integer))")" = "1:1 2:1 3:1 4:0 5:0"
'

test_expect_success 'the schema is what the originals give by hand' '
	for v in 1 2 3 4 5; do cat orig/V${v}__*.sql | sqlite3 byhand.db || return 1; done &&
	schema byhand.db >expect && schema fw.db >actual && test_cmp expect actual &&
	test_line_count = 4 actual
'

test_done
