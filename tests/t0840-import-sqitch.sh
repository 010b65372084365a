#!/bin/sh
test_description='cairn import --from sqitch: plan order, dependencies, a reworked change, BEGIN/COMMIT wrappers; compared with the real sqitch'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"
. "$TEST_DIRECTORY/lib-import.sh"

M=migrations
# A project made by the real sqitch (Debian's sqitch, make deps installs
# it; never skipped under CI=true): its templates wrap every script in
# BEGIN/COMMIT; a tag, a reworked change (deploy/users@v1.0.sql), a
# dependency, a conflict and a change added after the tag.
if command -v sqitch >/dev/null 2>&1 || test "$CI" = true; then

test_expect_success 'setup: a sqitch project, made by sqitch' '
	import_project p &&
	mkdir p/db && cd p/db &&
	sqitch init shop --engine sqlite >/dev/null &&
	sqitch add users -n "Add users" >/dev/null &&
	sqitch_put deploy/users.sql "CREATE TABLE users (id integer PRIMARY KEY, email text NOT NULL);" &&
	sqitch_put revert/users.sql "DROP TABLE users;" &&
	sqitch add orders --requires users --conflicts legacy_orders -n "Add orders" >/dev/null &&
	sqitch_put deploy/orders.sql "CREATE TABLE orders (id integer PRIMARY KEY, user_id integer REFERENCES users(id));" &&
	sqitch_put revert/orders.sql "DROP TABLE orders;" &&
	sqitch tag v1.0 -n "First release" >/dev/null &&
	sqitch rework users -n "users get a name" >/dev/null &&
	sed -i "s|^CREATE TABLE users .*|ALTER TABLE users ADD COLUMN name text;|" deploy/users.sql &&
	# rework copies the previous deploy as the revert: say how to undo instead
	sed -i "s|^CREATE TABLE users .*|ALTER TABLE users DROP COLUMN name;|" revert/users.sql &&
	sqitch add order_index --requires orders -n "Index orders" >/dev/null &&
	sqitch_put deploy/order_index.sql "CREATE INDEX orders_user ON orders (user_id);" &&
	sqitch_put revert/order_index.sql "DROP INDEX orders_user;" &&
	cd "$TRASH_DIRECTORY" &&
	test -f p/db/deploy/users@v1.0.sql &&
	cp -r p/db orig
'

test_expect_success 'the BEGIN/COMMIT of the templates stop the import without --strip-transaction-wrappers' '
	(cd p && test_must_fail --exit=1 cairn import --from sqitch db >../out 2>../err) &&
	test_grep "^db/deploy/users@v1.0.sql: error: up.sql of 0001_users wraps itself in BEGIN ... COMMIT" out &&
	test "$(ls p/$M)" = ""
'

test_expect_success 'import: plan order, requires, the reworked change, what is not mapped' '
	(cd p && cairn import --from sqitch db --strip-transaction-wrappers >../out 2>../err) &&
	test "$(ls p/$M | tr "\n" " ")" = "0001_users 0002_orders 0003_users 0004_order_index " &&
	test_grep "ALTER TABLE users ADD COLUMN name" p/$M/0003_users/up.sql &&
	test_grep "CREATE TABLE users" p/$M/0001_users/up.sql &&
	test_grep ! "BEGIN\|COMMIT" p/$M/0001_users/up.sql &&
	printf "requires:\n  - \"0001_users\"\n" >expect &&
	sed -n "/^requires:/,/^[a-z]/p" p/$M/0002_orders/migration.yaml | grep -v "^[a-z]*: [a-z]" >actual &&
	test_cmp expect actual &&
	test_grep "^  - .0001_users.$" p/$M/0003_users/migration.yaml &&
	test_grep "^  - .0002_orders.$" p/$M/0004_order_index/migration.yaml &&
	test_grep "^description: .Add orders.$" p/$M/0002_orders/migration.yaml &&
	test_grep "^db/sqitch.plan: note: line [0-9]*: conflict !legacy_orders not imported" out &&
	test_grep "^db/sqitch.plan: note: line [0-9]*: tag @v1.0 not imported" out &&
	test_grep "^db/verify/users.sql: note: not imported: a sqitch verify script" out &&
	test_grep "^  plan changes  *4 -> 4$" out &&
	test_grep "^  reworked changes  *1 -> 1$" out &&
	test_grep "^  deploy scripts  *4 -> 4$" out &&
	test_grep "^  revert scripts  *4 -> 4$" out &&
	test_grep "^  verify scripts  *4 -> 0$" out &&
	test_grep "^  transaction wrappers (BEGIN/COMMIT)  *8 -> 0$" out &&
	(cd p && cairn check >../out 2>../err) &&
	import_apply p sq.tar.gz sq.db
'

test_expect_success 'the schema is what the real sqitch deploys' '
	sed -i "s/ !legacy_orders//" orig/sqitch.plan && # sqitch wants it in the plan
	(cd orig && sqitch deploy "db:sqlite:$TRASH_DIRECTORY/sqitch-target.db" >../sqitch.out 2>&1) &&
	schema sqitch-target.db >expect && schema sq.db >actual && test_cmp expect actual &&
	test_grep "name text" actual
'

test_expect_success 'rollback through the reworked change and re-apply' '
	cairn-apply rollback --db sqlite:sq.db --to 0002 >out 2>err &&
	schema sq.db >s && test_grep ! "name text" s && test_grep "CREATE TABLE users" s &&
	cairn-apply apply sq.tar.gz --env dev --db sqlite:sq.db $KEY >out 2>err &&
	test "$(schema sq.db)" = "$(cat expect)"
'

else
	say "# skipped: the real sqitch is not installed (apt-get install sqitch libdbd-sqlite3-perl)"
fi

test_done
