#!/bin/sh
test_description='cairn import --from dbmate: -- migrate:up/down sections, transaction:false, a real dbmate run to compare'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"
. "$TEST_DIRECTORY/lib-import.sh"

M=migrations

# dbmate's layout: db/migrations/{version}_{name}.sql with both directions
# in one file. Awkward cases: a migration with no down section, one marked
# transaction:false, a semicolon inside a string, an up section that is
# only a comment (a placeholder), a file that is not a migration.
test_expect_success 'setup: a dbmate project' '
	import_project p &&
	mkdir -p p/db/migrations &&
	cat >p/db/migrations/20240101120000_create_users.sql <<-\EOF &&
	-- migrate:up
	CREATE TABLE users (id integer PRIMARY KEY, email text NOT NULL, note text DEFAULT '"'"'a;b'"'"');

	-- migrate:down
	DROP TABLE users;
	EOF
	cat >p/db/migrations/20240102120000_users_email_index.sql <<-\EOF &&
	-- migrate:up transaction:false
	CREATE UNIQUE INDEX users_email ON users (email);

	-- migrate:down transaction:false
	DROP INDEX users_email;
	EOF
	cat >p/db/migrations/20240103120000_reserved.sql <<-\EOF &&
	-- migrate:up
	-- kept so that the numbering matches production

	-- migrate:down
	EOF
	cat >p/db/migrations/20240104120000_audit.sql <<-\EOF &&
	-- migrate:up
	CREATE TABLE audit (id integer PRIMARY KEY, at text);
	CREATE TRIGGER users_audit AFTER INSERT ON users BEGIN INSERT INTO audit (at) VALUES (datetime('"'"'now'"'"')); END;

	-- migrate:down
	EOF
	echo "notes" >p/db/migrations/NOTES.txt &&
	cp -r p/db orig
'

test_expect_success 'import, check, build and apply' '
	(cd p && cairn import --from dbmate >../out 2>../err) &&
	test_grep "^db/migrations/20240102120000_users_email_index.sql: mapped: transaction:false: transaction: false$" out &&
	test_grep "^db/migrations/NOTES.txt: note: not a dbmate migration" out &&
	test_grep "^  up sections  *4 -> 4$" out &&
	test_grep "^  down sections  *4 -> 4$" out &&
	test_grep "^db/migrations/20240104120000_audit.sql: mapped: down.sql is empty or comments only: not written, irreversible: true$" out &&
	test_grep "^  empty down scripts (irreversible: true)  *1 -> 1$" out &&
	test ! -e p/$M/20240104120000_audit/down.sql &&
	test_grep "^  transaction:false options  *1 -> 1$" out &&
	test_grep "^  migrations  *4 -> 4$" out &&
	test_grep "^transaction: false$" p/$M/20240102120000_users_email_index/migration.yaml &&
	test_grep "^noop: true$" p/$M/20240103120000_reserved/migration.yaml &&
	test_grep "^irreversible: true$" p/$M/20240104120000_audit/migration.yaml &&
	test_grep ! "migrate:" p/$M/20240101120000_create_users/up.sql &&
	(cd p && cairn check >../out 2>../err) &&
	import_apply p dbmate.tar.gz cairn.db &&
	test "$(q cairn.db "SELECT group_concat(version || \":\" || transactional, \" \") FROM (SELECT * FROM cairn_migrations ORDER BY version)")" = "20240101120000:1 20240102120000:0 20240103120000:1 20240104120000:1"
'

test_expect_success 'the schema is what the originals give by hand (sqlite3)' '
	for f in orig/migrations/*.sql; do
		sed -n "/^-- migrate:up/,/^-- migrate:down/p" "$f" | sqlite3 byhand.db || return 1
	done &&
	schema byhand.db >expect &&
	schema cairn.db >actual &&
	test_cmp expect actual &&
	test_line_count = 4 actual
'

# The real dbmate (npm install -g dbmate; make deps installs it): never
# skipped under CI=true.
if command -v dbmate >/dev/null 2>&1 || test "$CI" = true; then
test_expect_success 'the schema is what the real dbmate gives' '
	DATABASE_URL="sqlite:$TRASH_DIRECTORY/dbmate.db" dbmate --no-dump-schema --migrations-dir orig/migrations up >dbmate.out 2>&1 &&
	schema dbmate.db | grep -v "^table schema_migrations " >actual.dbmate &&
	test_cmp expect actual.dbmate &&
	test "$(q dbmate.db "SELECT group_concat(version) FROM schema_migrations")" = "$(q cairn.db "SELECT group_concat(version) FROM (SELECT version FROM cairn_migrations ORDER BY version)")"
'
else
	say "# skipped: the real dbmate is not installed (npm install -g dbmate)"
fi

test_done
