#!/bin/sh
test_description='cairn import --from golang-migrate: pairs of up/down files, self-wrapped transactions, a no-op'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"
. "$TEST_DIRECTORY/lib-import.sh"

M=migrations

# A small shop in golang-migrate's layout, with its awkward cases: a file
# wrapped in BEGIN/COMMIT (golang-migrate adds no transaction of its own),
# an up with no down, a comment-only placeholder, a README, and a .json
# migration (for MongoDB) that cannot be mapped.
test_expect_success 'setup: a golang-migrate project' '
	import_project p &&
	mkdir -p p/db &&
	cat >p/db/000001_create_users.up.sql <<-\EOF &&
	CREATE TABLE users (id integer PRIMARY KEY, email text NOT NULL UNIQUE);
	EOF
	echo "DROP TABLE users;" >p/db/000001_create_users.down.sql &&
	cat >p/db/000002_add_orders.up.sql <<-\EOF &&
	BEGIN;
	CREATE TABLE orders (id integer PRIMARY KEY, user_id integer REFERENCES users(id), note text DEFAULT '"'"'it;s'"'"');
	CREATE INDEX orders_user ON orders (user_id);
	COMMIT;
	EOF
	printf "BEGIN;\nDROP TABLE orders;\nCOMMIT;\n" >p/db/000002_add_orders.down.sql &&
	printf -- "-- reserved: version 3 was never used\n" >p/db/000003_placeholder.up.sql &&
	printf -- "-- nothing\n" >p/db/000003_placeholder.down.sql &&
	echo "CREATE VIEW user_orders AS SELECT u.email, o.id FROM users u JOIN orders o ON o.user_id = u.id;" >p/db/000004_view.up.sql &&
	echo "[]" >p/db/000005_mongo_index.up.json &&
	printf -- "-- reclaim the space of the old tables\nVACUUM;\n" >p/db/000006_vacuum.up.sql &&
	echo "# migrations" >p/db/README.md
'

test_expect_success 'a wrapped file and a non-SQL migration stop the import; nothing is written' '
	(cd p && test_must_fail --exit=1 cairn import --from golang-migrate db >../out 2>../err) &&
	test_grep "^db/000002_add_orders.up.sql: error: up.sql of 000002_add_orders wraps itself in BEGIN ... COMMIT.*--strip-transaction-wrappers" out &&
	test_grep "^db/000005_mongo_index.up.json: error: not an SQL file" out &&
	test_grep "^db/README.md: note: not a golang-migrate file" out &&
	test_grep "import from golang-migrate stopped: 2 migrations cannot be mapped" err &&
	test "$(ls p/$M)" = "" &&
	test -f p/db/000001_create_users.up.sql
'

test_expect_success '--dry-run shows the plan and the counts, writes nothing' '
	(cd p && cairn import --from golang-migrate db --strip-transaction-wrappers --skip 000005 --dry-run >../out 2>../err) &&
	test_grep "^would write migrations/000001_create_users <- 000001_create_users.up.sql (down.sql, up.sql)$" out &&
	test_grep "^would write migrations/000004_view <- 000004_view.up.sql (up.sql) irreversible$" out &&
	test_grep "^would write migrations/000003_placeholder .* noop$" out &&
	test_grep "^db/000005_mongo_index.up.json: note: skipped (--skip)" out &&
	test_grep "^db/000006_vacuum.up.sql: mapped: up.sql holds VACUUM, which cannot run in a transaction: transaction: false$" out &&
	test_grep "^  up scripts  *6 -> 5$" out &&
	test_grep "^  down scripts  *3 -> 3$" out &&
	test_grep "^  transaction wrappers (BEGIN/COMMIT)  *2 -> 0$" out &&
	test_grep "^  migrations  *6 -> 5$" out &&
	test "$(ls p/$M)" = ""
'

test_expect_success 'the import writes cairn migrations that check, build and apply' '
	(cd p && cairn import --from golang-migrate db --strip-transaction-wrappers --skip 000005 >../out 2>../err) &&
	test_grep "imported from golang-migrate; now run .cairn check." err &&
	test "$(ls p/$M | tr "\n" " ")" = "000001_create_users 000002_add_orders 000003_placeholder 000004_view 000006_vacuum " &&
	test_grep "^transaction: false$" p/$M/000006_vacuum/migration.yaml &&
	test_grep ! "BEGIN\|COMMIT" p/$M/000002_add_orders/up.sql &&
	test_grep "CREATE INDEX orders_user" p/$M/000002_add_orders/up.sql &&
	test_grep "^noop: true$" p/$M/000003_placeholder/migration.yaml &&
	test_grep "^irreversible: true$" p/$M/000004_view/migration.yaml &&
	(cd p && cairn check >../out 2>../err) &&
	import_apply p gm.tar.gz gm.db
'

test_expect_success 'the schema is the one the originals give by hand' '
	for f in p/db/000001_create_users.up.sql p/db/000002_add_orders.up.sql p/db/000004_view.up.sql; do
		sqlite3 byhand.db <"$f" || return 1
	done &&
	schema byhand.db >expect &&
	schema gm.db >actual &&
	test_cmp expect actual &&
	test_line_count = 4 actual &&
	test "$(q gm.db "SELECT group_concat(version || \":\" || transactional, \" \") FROM (SELECT * FROM cairn_migrations WHERE state = '"'"'applied'"'"' ORDER BY version)")" = "000001:1 000002:1 000003:1 000004:1 000006:0"
'

test_expect_success 'rollback stops at the migration that had no down, and runs the converted downs' '
	test_expect_code 1 cairn-apply rollback --db sqlite:gm.db --to 000001 >out 2>err &&
	test_grep "migration 000006_vacuum is irreversible" err &&
	test "$(schema gm.db)" = "$(schema byhand.db)" &&
	cairn-apply apply gm.tar.gz --env dev --db sqlite:gm3.db $KEY --to 000003 >out 2>err &&
	cairn-apply rollback --db sqlite:gm3.db --to 000001 >out 2>err &&
	test "$(q gm3.db "SELECT group_concat(name) FROM sqlite_master WHERE name IN ('"'"'orders'"'"', '"'"'users'"'"')")" = users &&
	cairn-apply apply gm.tar.gz --env dev --db sqlite:gm3.db $KEY >out 2>err &&
	test "$(schema gm3.db)" = "$(schema byhand.db)"
'

test_expect_success 'a second import refuses to overwrite what the first wrote' '
	(cd p && test_must_fail --exit=1 cairn import --from golang-migrate db --strip-transaction-wrappers --skip 000005 >../out 2>../err) &&
	test_grep "migrations/000001_create_users. exists already; nothing was written" err
'

test_expect_success 'usage: an unknown tool, a missing directory, no cairn.yaml' '
	(cd p && test_expect_code 2 cairn import --from flyaway >../out 2>../err) &&
	test_grep "unknown tool .flyaway.; did you mean .flyway." err &&
	(cd p && test_must_fail --exit=1 cairn import --from dbmate >../out 2>../err) &&
	test_grep "no directory .db/migrations. to import from" err &&
	(cd p/db && test_must_fail --exit=1 cairn import --from golang-migrate . >../../out 2>../../err) &&
	test_grep "no cairn.yaml here: run .cairn init. first" err
'

test_done
