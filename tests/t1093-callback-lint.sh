#!/bin/sh
test_description='SQL callbacks are linted by check, build and lint like migrations (ops20d): in a transaction, with in-file waivers'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"

C=migrations/callbacks

test_expect_success 'setup: a project for both drivers with one migration' '
	apply_project p &&
	sed -i -e "s/^drivers: .*/drivers: [sqlite, postgres]/" -e "s/^lint: {.*}$//" p/cairn.yaml &&
	apply_table p 0001_users &&
	mkdir -p p/$C &&
	echo "INSERT INTO t_0001_users (v) VALUES (1);" >p/$C/before_each.sql &&
	apply_build p "$TRASH_DIRECTORY/ok.tar.gz"
'

test_expect_success 'CONCURRENTLY in a callback is an error of check (every callback runs in a transaction)' '
	echo "CREATE INDEX CONCURRENTLY users_v ON t_0001_users (v);" >p/$C/after_migrate.postgres.sql &&
	(cd p && test_must_fail cairn check >../out 2>&1) &&
	test_grep "^$C/after_migrate.postgres.sql:1: error: concurrent-in-transaction: CREATE INDEX CONCURRENTLY cannot run inside a transaction block; a callback always runs inside a transaction" out &&
	test_grep ! "after_migrate.postgres.sql.*sqlite" out
'

test_expect_success 'and of cairn lint, and cairn build refuses the commit' '
	(cd p && test_must_fail cairn lint >../out 2>&1) &&
	test_grep "$C/after_migrate.postgres.sql:1:1: error: concurrent-in-transaction" out &&
	git -C p add -A && git -C p commit -q -m concurrently &&
	(cd p && test_must_fail cairn build --sign "$TRASH_DIRECTORY/ci.key" -o ../bad.tar.gz >../out 2>&1) &&
	test_grep "$C/after_migrate.postgres.sql:1: error: concurrent-in-transaction" out &&
	test ! -e bad.tar.gz
'

test_expect_success 'a generic callback is read by SQLite too, on the schema the migrations build' '
	rm p/$C/after_migrate.postgres.sql &&
	echo "INSERT INTO no_such_table VALUES (1);" >p/$C/on_error.sql &&
	(cd p && test_must_fail cairn check >../out 2>&1) &&
	test_grep "^$C/on_error.sql:1: error: sqlite-error: .*no such table: no_such_table" out &&
	test_grep ! "before_each.sql" out &&
	rm p/$C/on_error.sql
'

test_expect_success 'an in-file waiver with a reason waives it, as in a migration' '
	printf -- "-- cairn:allow concurrent-in-transaction the table holds ten rows\nCREATE INDEX CONCURRENTLY users_v ON t_0001_users (v);\n" \
		>p/$C/after_migrate.postgres.sql &&
	git -C p add -A && git -C p commit -q -m waived &&
	(cd p && cairn check >../out 2>&1) &&
	test_grep ! "concurrent-in-transaction" out &&
	apply_build p "$TRASH_DIRECTORY/waived.tar.gz" &&
	tar tzf waived.tar.gz | grep -q "callbacks/after_migrate.postgres.sql$"
'

test_done
