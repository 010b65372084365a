#!/bin/sh
test_description='cairn import --from diesel: directories with dashes in the version, metadata.toml, converted in place'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"
. "$TEST_DIRECTORY/lib-import.sh"

M=migrations

# diesel's layout: migrations/{version}_{name}/up.sql, down.sql and an
# optional metadata.toml. Awkward cases: the initial setup directory
# (version 00000000000000), whose name is already a cairn name, so it is
# converted in place; versions with dashes; run_in_transaction = false.
test_expect_success 'setup: a diesel project' '
	import_project p &&
	d=p/$M &&
	mkdir -p $d/00000000000000_diesel_initial_setup $d/2024-01-01-120000_create_posts $d/2024-01-02-120000_posts_index &&
	printf -- "-- This file was automatically created by Diesel to setup helper functions\n-- (none on SQLite)\n" >$d/00000000000000_diesel_initial_setup/up.sql &&
	printf -- "-- This file should undo anything in up.sql\n" >$d/00000000000000_diesel_initial_setup/down.sql &&
	echo "CREATE TABLE posts (id integer PRIMARY KEY NOT NULL, title varchar NOT NULL, body text NOT NULL, published boolean NOT NULL DEFAULT 0);" >$d/2024-01-01-120000_create_posts/up.sql &&
	echo "DROP TABLE posts;" >$d/2024-01-01-120000_create_posts/down.sql &&
	echo "CREATE INDEX posts_published ON posts (published);" >$d/2024-01-02-120000_posts_index/up.sql &&
	echo "DROP INDEX posts_published;" >$d/2024-01-02-120000_posts_index/down.sql &&
	echo "run_in_transaction = false" >$d/2024-01-02-120000_posts_index/metadata.toml &&
	touch $d/.keep &&
	cp -r p/$M orig &&
	git -C p add -A && git -C p commit -q -m "diesel migrations"
'

test_expect_success 'import in place, check, build, apply' '
	(cd p && cairn import --from diesel >../out 2>../err) &&
	test_grep "^migrations/2024-01-02-120000_posts_index/metadata.toml: mapped: run_in_transaction = false: transaction: false$" out &&
	test_grep "^  up scripts  *3 -> 3$" out &&
	test_grep "^  down scripts  *3 -> 3$" out &&
	test_grep "^  metadata.toml files  *1 -> 1$" out &&
	test "$(ls p/$M | tr "\n" " ")" = "00000000000000_diesel_initial_setup 20240101120000_create_posts 20240102120000_posts_index " &&
	test "$(ls p/$M/00000000000000_diesel_initial_setup | tr "\n" " ")" = "down.sql migration.yaml up.sql " &&
	test_grep "^noop: true" p/$M/00000000000000_diesel_initial_setup/migration.yaml &&
	test_grep "^transaction: false" p/$M/20240102120000_posts_index/migration.yaml &&
	git -C p add -A && git -C p commit -q -m imported &&
	(cd p && cairn check >../out 2>../err) &&
	import_apply p diesel.tar.gz diesel.db &&
	test "$(q diesel.db "SELECT group_concat(version || \":\" || transactional, \" \") FROM (SELECT * FROM cairn_migrations ORDER BY version)")" = "00000000000000:1 20240101120000:1 20240102120000:0"
'

test_expect_success 'the schema is what the originals give by hand; rollback and re-apply' '
	for f in orig/*/up.sql; do sqlite3 byhand.db <$f || return 1; done &&
	schema byhand.db >expect && schema diesel.db >actual && test_cmp expect actual &&
	test_line_count = 2 actual &&
	cairn-apply rollback --db sqlite:diesel.db --to 00000000000000 >out 2>err &&
	test "$(schema diesel.db)" = "" &&
	cairn-apply apply diesel.tar.gz --env dev --db sqlite:diesel.db $KEY >out 2>err &&
	schema diesel.db >actual && test_cmp expect actual
'

test_done
