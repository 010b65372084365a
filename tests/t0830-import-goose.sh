#!/bin/sh
test_description='cairn import --from goose: annotations, StatementBegin/End, NO TRANSACTION, Go migrations refused'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"
. "$TEST_DIRECTORY/lib-import.sh"

M=migrations

# goose's layout: migrations/{version}_{name}.sql with -- +goose Up/Down.
# Awkward cases: a trigger body between StatementBegin/End (semicolons
# inside), NO TRANSACTION, a Go migration, a timestamp version beside
# sequence ones (goose allows both after "goose fix"), no Down section.
test_expect_success 'setup: a goose project' '
	import_project p &&
	mkdir -p p/db &&
	cat >p/db/00001_create_users.sql <<-\EOF &&
	-- +goose Up
	CREATE TABLE users (id integer PRIMARY KEY, email text NOT NULL, updated_at text);

	-- +goose Down
	DROP TABLE users;
	EOF
	cat >p/db/00002_touch_trigger.sql <<-\EOF &&
	-- +goose Up
	-- +goose StatementBegin
	CREATE TRIGGER users_touch AFTER UPDATE ON users BEGIN
	  UPDATE users SET updated_at = datetime('"'"'now'"'"') WHERE id = NEW.id;
	END;
	-- +goose StatementEnd

	-- +goose Down
	DROP TRIGGER users_touch;
	EOF
	cat >p/db/00003_email_index.sql <<-\EOF &&
	-- +goose NO TRANSACTION
	-- +goose Up
	CREATE INDEX users_email ON users (email);
	-- +goose Down
	DROP INDEX users_email;
	EOF
	printf "package migrations\n\nfunc init() {}\n" >p/db/00004_backfill.go &&
	cat >p/db/20240105120000_settings.sql <<-\EOF &&
	-- +goose Up
	CREATE TABLE settings (k text PRIMARY KEY, v text);
	EOF
	cp -r p/db orig
'

test_expect_success 'a Go migration stops the import' '
	(cd p && test_must_fail --exit=1 cairn import --from goose db >../out 2>../err) &&
	test_grep "^db/00004_backfill.go: error: a Go migration: cairn runs SQL only" out &&
	test "$(ls p/$M)" = ""
'

test_expect_success 'with --skip: import, check, build, apply' '
	(cd p && cairn import --from goose db --skip 00004_backfill.go >../out 2>../err) &&
	test_grep "^db/00003_email_index.sql: mapped: NO TRANSACTION: transaction: false$" out &&
	test_grep "^  StatementBegin/End markers (dropped: cairn reads quotes)  *2 -> 2$" out &&
	test_grep "^  Go migrations  *1 -> 0$" out &&
	test_grep "^  up sections  *4 -> 4$" out &&
	test_grep "^  down sections  *3 -> 3$" out &&
	test_grep "^  migrations  *5 -> 4$" out &&
	test_grep ! "goose" p/$M/00002_touch_trigger/up.sql &&
	test_grep "^transaction: false" p/$M/00003_email_index/migration.yaml &&
	test_grep "^irreversible: true" p/$M/20240105120000_settings/migration.yaml &&
	(cd p && cairn check >../out 2>../err) &&
	import_apply p goose.tar.gz goose.db &&
	test "$(q goose.db "SELECT group_concat(version || \":\" || transactional, \" \") FROM (SELECT * FROM cairn_migrations ORDER BY length(version), version)")" = "00001:1 00002:1 00003:0 20240105120000:1"
'

test_expect_success 'the schema is what the originals give by hand, and the trigger works' '
	for f in orig/*.sql; do
		sed -n "/^-- +goose Up/,/^-- +goose Down/p" "$f" | grep -v "^-- +goose" | sqlite3 byhand.db || return 1
	done &&
	schema byhand.db >expect && schema goose.db >actual && test_cmp expect actual &&
	test_line_count = 4 actual &&
	q goose.db "INSERT INTO users (email) VALUES ('"'"'a@b'"'"'); UPDATE users SET email = '"'"'c@d'"'"';" &&
	test -n "$(q goose.db "SELECT updated_at FROM users")"
'

test_expect_success 'rollback and re-apply through the converted downs' '
	cairn-apply apply goose.tar.gz --env dev --db sqlite:g3.db $KEY --to 00003 >out 2>err &&
	cairn-apply rollback --db sqlite:g3.db --to 00001 >out 2>err &&
	test "$(q g3.db "SELECT count(*) FROM sqlite_master WHERE name IN ('"'"'users_touch'"'"', '"'"'users_email'"'"')")" = 0 &&
	cairn-apply apply goose.tar.gz --env dev --db sqlite:g3.db $KEY >out 2>err &&
	test "$(schema g3.db)" = "$(schema byhand.db)"
'

test_done
