#!/bin/sh
test_description='SQLite extensions named in the config (issue #19): loaded before the migrations, listed in the audit row, never loadable from SQL'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"

test_expect_success 'setup: an extension registering BIN2B64, and a bundle using it' '
	mkdir ext &&
	cc -shared -fPIC -o ext/b64.so "$TEST_DIRECTORY/fixtures/sqlite-b64.c" &&
	apply_project p &&
	apply_mig p 0001_blobs "CREATE TABLE blobs (id integer primary key, raw blob, b64 text);
INSERT INTO blobs (raw) VALUES (x'"'"'68656c6c6f'"'"'), (x'"'"'6869'"'"');" "DROP TABLE blobs;" &&
	apply_mig p 0002_encode "UPDATE blobs SET b64 = BIN2B64(raw);" "UPDATE blobs SET b64 = NULL;" &&
	apply_build p "$TRASH_DIRECTORY/b.tar.gz" &&
	apply_mig p 0003_sneak "SELECT load_extension('"'"'$TRASH_DIRECTORY/ext/b64.so'"'"');" "SELECT 1;" &&
	apply_build p "$TRASH_DIRECTORY/sneak.tar.gz" &&
	cat >c.yaml <<-EOF
	defaults:
	  builders: [ci.pub]
	environments:
	  plain:
	    database: { dsn: "sqlite:plain.db" }
	  ext:
	    database: { dsn: "sqlite:ext.db" }
	    sqlite: { foreign_keys: on, extensions: [ext/b64.so] }
	EOF
'

test_expect_success 'without the extension: no such function, exit 1, 0002 not applied' '
	test_must_fail --exit=1 cairn-apply apply b.tar.gz --env plain --config c.yaml >out 2>err &&
	test_grep "no such function: BIN2B64" err &&
	test "$(q plain.db "SELECT group_concat(version || \"=\" || state) FROM cairn_migrations WHERE state = \"applied\"")" = "0001=applied" &&
	test "$(q plain.db "SELECT count(*) FROM blobs WHERE b64 IS NOT NULL")" = 0
'

test_expect_success 'with sqlite: {extensions:}: applied, the audit row names the extension and its sha256' '
	cairn-apply apply b.tar.gz --env ext --config c.yaml >out 2>err &&
	test "$(q ext.db "SELECT group_concat(b64, \",\") FROM (SELECT b64 FROM blobs ORDER BY id)")" = "aGVsbG8=,aGk=" &&
	test "$(q ext.db "SELECT group_concat(version || \"=\" || state) FROM cairn_migrations")" = "0001=applied,0002=applied" &&
	sum=$(sha256sum ext/b64.so | cut -d" " -f1) &&
	q ext.db "SELECT detail FROM cairn_audit WHERE action = \"apply\"" >details &&
	test_grep "sqlite_extensions=$TRASH_DIRECTORY/ext/b64.so sha256:$sum" details &&
	test_line_count = 2 details &&
	cairn-apply history --db sqlite:ext.db --verify >out 2>err
'

test_expect_success 'plan and preflight load it too; rollback runs with it and records it' '
	cairn-apply plan b.tar.gz --env ext --config c.yaml >out 2>err &&
	cairn-apply preflight b.tar.gz --env ext --config c.yaml >out 2>err &&
	printf "not a library\n" >ext/bad.so &&
	sed -e "s|ext/b64.so|ext/bad.so|" c.yaml >bad.yaml &&
	for v in plan preflight; do
		test_must_fail --exit=6 cairn-apply $v b.tar.gz --env ext --config bad.yaml >out 2>err &&
		test_grep "cannot load SQLite extension .$TRASH_DIRECTORY/ext/bad.so.: " err || return 1
	done &&
	test_must_fail --exit=6 cairn-apply rollback --last 1 --env ext --config bad.yaml >out 2>err &&
	test_grep "cannot load SQLite extension" err &&
	test "$(q ext.db "SELECT count(*) FROM blobs WHERE b64 IS NOT NULL")" = 2 &&
	cairn-apply rollback --last 1 --env ext --config c.yaml >out 2>err &&
	test "$(q ext.db "SELECT count(*) FROM blobs WHERE b64 IS NOT NULL")" = 0 &&
	q ext.db "SELECT detail FROM cairn_audit WHERE action = \"rollback\"" >details &&
	test_grep "sqlite_extensions=.*b64.so sha256:" details &&
	cairn-apply history --db sqlite:ext.db --verify >out 2>err
'

test_expect_success 'a migration calling load_extension() is refused, even with extensions configured' '
	test_must_fail --exit=1 cairn-apply apply sneak.tar.gz --env ext --config c.yaml >out 2>err &&
	test_grep "not authorized" err &&
	test -z "$(q ext.db "SELECT version FROM cairn_migrations WHERE version = \"0003\" AND state = \"applied\"")" &&
	test "$(q ext.db "SELECT group_concat(version || \"=\" || state) FROM cairn_migrations")" = "0001=applied,0002=applied"
'

test_expect_success 'a missing extension is a config error naming file:line and the path; nothing opened' '
	sed "s|ext/b64.so|ext/none.so|" c.yaml >m.yaml &&
	test_must_fail --exit=6 cairn-apply apply b.tar.gz --env ext --config m.yaml >out 2>err &&
	test_grep "m.yaml:8:.*sqlite extension .*ext/none.so. does not exist" err &&
	test ! -e none.db
'

test_expect_success 'an extension that fails to load: exit 6 with the path and SQLite message, nothing applied' '
	sed -e "s|ext/b64.so|ext/bad.so|" -e "s|sqlite:ext.db|sqlite:bad.db|" c.yaml >bad.yaml &&
	test_must_fail --exit=6 cairn-apply apply b.tar.gz --env ext --config bad.yaml >out 2>err &&
	test_grep "cannot load SQLite extension .$TRASH_DIRECTORY/ext/bad.so.: " err &&
	test -z "$(q bad.db "SELECT name FROM sqlite_master WHERE name = \"cairn_migrations\"")"
'

test_expect_success 'extensions: must be a list' '
	sed "s|\[ext/b64.so\]|ext/b64.so|" c.yaml >l.yaml &&
	test_must_fail --exit=6 cairn-apply apply b.tar.gz --env ext --config l.yaml >out 2>err &&
	test_grep "l.yaml:8:.*extensions" err
'

test_expect_success 'cairn-apply config shows the extensions the applier loads, text and JSON' '
	cairn-apply config --env ext --config c.yaml >out 2>err &&
	test_grep "^extensions  *$TRASH_DIRECTORY/ext/b64.so$" out &&
	test_grep "^foreign_keys  *on$" out &&
	cairn-apply config --env plain --config c.yaml >out 2>err &&
	test_grep "^extensions  *none$" out &&
	cairn-apply config --env ext --config c.yaml --format json >out 2>err &&
	test_grep "\"sqlite\":{\"foreign_keys\":\"on\",\"extensions\":\[\"$TRASH_DIRECTORY/ext/b64.so\"\]}" out
'

test_expect_success 'baseline and restore record the extensions in their audit rows' '
	apply_project r &&
	apply_mig r 0001_blobs "CREATE TABLE blobs (id integer primary key, raw blob, b64 text);
INSERT INTO blobs (raw) VALUES (x'"'"'6869'"'"');" "DROP TABLE blobs;" &&
	apply_mig r 0002_encode "UPDATE blobs SET b64 = BIN2B64(raw);" "UPDATE blobs SET b64 = NULL;" &&
	apply_mig r 0003_drop "ALTER TABLE blobs DROP COLUMN raw;" "ALTER TABLE blobs ADD COLUMN raw blob;" &&
	apply_build r "$TRASH_DIRECTORY/r.tar.gz" &&
	sed -e "s|sqlite:ext.db|sqlite:rest.db|" c.yaml >r.yaml &&
	cairn-apply apply r.tar.gz --env ext --config r.yaml >out 2>err &&
	ls rest.db.0003.*.backup >backups && test_line_count = 1 backups &&
	cairn-apply restore --env ext --config r.yaml "$(cat backups)" >out 2>err &&
	test "$(q rest.db "SELECT group_concat(name) FROM pragma_table_info(\"blobs\")")" = "id,raw,b64" &&
	sum=$(sha256sum ext/b64.so | cut -d" " -f1) &&
	q rest.db "SELECT detail FROM cairn_audit WHERE action = \"restore\"" >details &&
	test_line_count = 1 details &&
	test_grep "sqlite_extensions=$TRASH_DIRECTORY/ext/b64.so sha256:$sum" details &&
	sqlite3 legacy.db "CREATE TABLE blobs (id integer primary key, raw blob, b64 text)" &&
	sed -e "s|sqlite:ext.db|sqlite:legacy.db|" c.yaml >l.yaml &&
	cairn-apply baseline --env ext --config l.yaml --version 0001 >out 2>err &&
	q legacy.db "SELECT detail FROM cairn_audit WHERE action = \"baseline\"" >details &&
	test_line_count = 1 details &&
	test_grep "sqlite_extensions=$TRASH_DIRECTORY/ext/b64.so sha256:$sum" details &&
	cairn-apply history --db sqlite:legacy.db --verify >out 2>err
'

# The swap: the first extension, when loaded, renames another file over
# the second one, between the moment the applier hashed the second and
# the moment it loads it. What loads must be the bytes hashed (the
# descriptor opened when the config was read), not the file now at the path.
test_expect_success 'an extension replaced after it was hashed: the hashed bytes load, not the new file' '
	cat >swap.c <<-\EOF &&
	#include <sqlite3ext.h>
	#include <stdio.h>
	#include <stdlib.h>
	SQLITE_EXTENSION_INIT1
	int sqlite3_extension_init(sqlite3 *db, char **err, const sqlite3_api_routines *api)
	{
		SQLITE_EXTENSION_INIT2(api);
		if (getenv("SWAP_FROM"))
			rename(getenv("SWAP_FROM"), getenv("SWAP_TO"));
		return SQLITE_OK;
	}
	EOF
	cat >which.c <<-\EOF &&
	#include <sqlite3ext.h>
	SQLITE_EXTENSION_INIT1
	static void which(sqlite3_context *c, int n, sqlite3_value **v)
	{
		sqlite3_result_text(c, WHICH, -1, SQLITE_STATIC);
	}
	int sqlite3_extension_init(sqlite3 *db, char **err, const sqlite3_api_routines *api)
	{
		SQLITE_EXTENSION_INIT2(api);
		return sqlite3_create_function(db, "WHICH", 0, SQLITE_UTF8, 0, which, 0, 0);
	}
	EOF
	cc -shared -fPIC -o ext/swap.so swap.c &&
	cc -shared -fPIC -DWHICH="\"hashed\"" -o ext/which.so which.c &&
	cc -shared -fPIC -DWHICH="\"swapped-in\"" -o ext/evil.so which.c &&
	hashed=$(sha256sum ext/which.so | cut -d" " -f1) &&
	evil=$(sha256sum ext/evil.so | cut -d" " -f1) &&
	apply_project w &&
	apply_mig w 0001_which "CREATE TABLE w AS SELECT WHICH() AS v;" "DROP TABLE w;" &&
	apply_build w "$TRASH_DIRECTORY/w.tar.gz" &&
	cat >w.yaml <<-EOF &&
	defaults:
	  builders: [ci.pub]
	environments:
	  swap:
	    database: { dsn: "sqlite:w.db" }
	    sqlite: { extensions: [ext/swap.so, ext/which.so] }
	EOF
	SWAP_FROM=$TRASH_DIRECTORY/ext/evil.so SWAP_TO=$TRASH_DIRECTORY/ext/which.so \
		cairn-apply apply w.tar.gz --env swap --config w.yaml >out 2>err &&
	test "$(sha256sum ext/which.so | cut -d" " -f1)" = "$evil" &&
	test ! -e ext/evil.so &&
	test "$(q w.db "SELECT v FROM w")" = hashed &&
	q w.db "SELECT detail FROM cairn_audit WHERE action = \"apply\"" >details &&
	test_grep "$TRASH_DIRECTORY/ext/which.so sha256:$hashed" details
'

test_expect_success 'an extension with no sqlite3_extension_init: the entry point comes from its file name' '
	cat >named.c <<-\EOF &&
	#include <sqlite3ext.h>
	SQLITE_EXTENSION_INIT1
	static void answer(sqlite3_context *c, int n, sqlite3_value **v)
	{
		sqlite3_result_int(c, 42);
	}
	int sqlite3_fooext_init(sqlite3 *db, char **err, const sqlite3_api_routines *api)
	{
		SQLITE_EXTENSION_INIT2(api);
		return sqlite3_create_function(db, "ANSWER", 0, SQLITE_UTF8, 0, answer, 0, 0);
	}
	EOF
	cc -shared -fPIC -o ext/libfoo-ext.so named.c &&
	apply_project n &&
	apply_mig n 0001_answer "CREATE TABLE a AS SELECT ANSWER() AS v;" "DROP TABLE a;" &&
	apply_build n "$TRASH_DIRECTORY/n.tar.gz" &&
	sed -e "s|sqlite:w.db|sqlite:n.db|" -e "s|\[ext/swap.so, ext/which.so\]|[ext/libfoo-ext.so]|" \
		w.yaml >n.yaml &&
	cairn-apply apply n.tar.gz --env swap --config n.yaml >out 2>err &&
	test "$(q n.db "SELECT v FROM a")" = 42
'

test_done
