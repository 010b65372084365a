#!/bin/sh
test_description='a signed migration that turns on cairn'"'"'s own books (SQLite): a trigger on them, DROP, ALTER, DELETE of audit rows (issue #15, trust15e)'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"

unset CAIRN_ENV CAIRN_DB CAIRN_APPLY_CONFIG

# try NAME SQL: a bundle whose 0002 runs SQL, applied on a database at 0001
try() {
	apply_at_0001 "$1" sqlite "sqlite:$1.db" "$2"
}

# Before trust15e trig, del, upd, idx and temp applied with exit 0: the
# audit rows before them gone (history --verify found it afterwards), the
# state rewritten, or (temp) the run's own audit row written into a temp
# table that vanished at close; DROP, RENAME and the writable schema
# failed already, when the engine wrote the books after the script, or as
# SQLite refused the rewrite. Each is now refused by the SQLite driver's
# authorizer while a script runs (drivers/sqlite-exec.c). ttrig, a TEMP
# trigger on main's cairn_audit (its action code is not CREATE_TRIGGER's
# and its database "temp"), applied with exit 0 until fleet21g, every
# audit row before the last deleted by the engine's own inserts.
for case in \
	"trig|CREATE TRIGGER evil AFTER INSERT ON cairn_audit BEGIN DELETE FROM cairn_audit WHERE seq < NEW.seq; END;" \
	"ttrig|CREATE TEMP TRIGGER evil AFTER INSERT ON main.cairn_audit BEGIN DELETE FROM cairn_audit WHERE seq < NEW.seq; END;" \
	"del|DELETE FROM cairn_audit;" \
	"upd|UPDATE cairn_migrations SET state = 'rolled_back';" \
	"drop|DROP TABLE cairn_audit;" \
	"alt|ALTER TABLE cairn_migrations RENAME TO m2;" \
	"idx|CREATE INDEX evil ON cairn_audit (seq);" \
	"schema|PRAGMA writable_schema = ON; UPDATE sqlite_master SET sql = sql WHERE name = 'cairn_audit';" \
	"temp|CREATE TEMP TABLE cairn_audit (seq, at, actor, action, version, from_version, to_version, bundle_id, environment, detail, prev_hash, hash);"
do
	name=${case%%|*} sql=${case#*|}
	test_expect_success "a migration that does $name on cairn's books: refused before it ran, books and schema unchanged" '
		try $name "$sql" &&
		q $name.db "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY name" >schema.before &&
		q $name.db "SELECT * FROM cairn_audit ORDER BY seq" >audit.before &&
		test_expect_code 1 cairn-apply apply $name.tar.gz --env dev --db sqlite:$name.db $KEY >out 2>err &&
		test_grep "migrations/0002_x/up.sql:1: .*a script may not write, alter, drop or put a trigger on cairn.s books" err &&
		q $name.db "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY name" >schema.after &&
		q $name.db "SELECT * FROM cairn_audit WHERE seq <= $(wc -l <audit.before) ORDER BY seq" >audit.after &&
		test_cmp schema.before schema.after &&
		test_cmp audit.before audit.after &&
		test "$(q $name.db "SELECT version || state FROM cairn_migrations")" = 0001applied &&
		cairn-apply history --verify --db sqlite:$name.db >out 2>err
	'
done

test_expect_success 'the same statement on a table of its own, or a temp table, runs' '
	try own "CREATE TABLE my_audit (seq int); CREATE TRIGGER t AFTER INSERT ON my_audit BEGIN DELETE FROM my_audit WHERE seq < NEW.seq; END; CREATE TEMP TABLE my_batch (x int); INSERT INTO temp.my_batch VALUES (1);" &&
	cairn-apply apply own.tar.gz --env dev --db sqlite:own.db $KEY >out 2>err &&
	test "$(q own.db "SELECT state FROM cairn_migrations WHERE version = '"'"'0002'"'"'")" = applied &&
	cairn-apply history --verify --db sqlite:own.db >out 2>err
'

test_done
