#!/bin/sh
test_description='a backup before a destructive migration on SQLite: taken, fsynced, in the audit row, restored'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"

# audit_detail DB ACTION VERSION: the detail of that audit row.
audit_detail() {
	q "$1" "SELECT detail FROM cairn_audit WHERE action = '$2' AND version = '$3'"
}

test_expect_success 'setup: data, then a bundle that drops a column' '
	apply_project p &&
	apply_mig p 0001_users "CREATE TABLE users (id integer primary key, name text, note text);" \
		"DROP TABLE users;" &&
	apply_mig p 0002_seed "INSERT INTO users VALUES (1, '"'"'ann'"'"', '"'"'a'"'"'), (2, '"'"'bob'"'"', '"'"'b'"'"');" \
		"DELETE FROM users WHERE id IN (1, 2);" &&
	apply_build p "$TRASH_DIRECTORY/v2.tar.gz" &&
	apply_mig p 0003_drop_note "ALTER TABLE users DROP COLUMN note;" \
		"ALTER TABLE users ADD COLUMN note text;" &&
	apply_build p "$TRASH_DIRECTORY/v3.tar.gz"
'

test_expect_success 'no destructive statement: no backup, no backup row' '
	cairn-apply apply v2.tar.gz --env dev --db sqlite:db $KEY >out &&
	test_grep ! "^backup" out &&
	ls >files && test_grep ! "^db\.0003\..*\.backup$" files &&
	q db "SELECT count(*) FROM cairn_audit WHERE action = '"'"'backup'"'"'" >n &&
	echo 0 >want && test_cmp want n &&
	q db "SELECT * FROM users ORDER BY id" >data.before &&
	q db "PRAGMA table_info(users)" >cols.before &&
	cp db db.before
'

test_expect_success 'DROP COLUMN: the database is copied first; its sha256 is in the audit row' '
	cairn-apply apply v3.tar.gz --env dev --db sqlite:db $KEY >out &&
	test_grep "^backup before 0003_drop_note: backup=db.0003.[0-9TZ]*.backup; sha256=[0-9a-f]*; bytes=[0-9]*; destructive: line 1: DROP COLUMN" out &&
	ls db.0003.*.backup >backups && test_line_count = 1 backups &&
	backup=$(cat backups) &&
	audit_detail db backup 0003 >detail &&
	sum=$(sha256sum "$backup" | cut -d" " -f1) &&
	test_grep "^backup=$backup; sha256=$sum; bytes=$(wc -c <"$backup"); " detail &&
	q db "SELECT seq, action FROM cairn_audit WHERE version = '"'"'0003'"'"' ORDER BY seq" >rows &&
	head -n 1 rows >first && test_grep "|backup$" first &&
	q "$backup" "PRAGMA table_info(users)" >cols.backup && test_cmp cols.before cols.backup &&
	q "$backup" "SELECT * FROM users ORDER BY id" >data.backup && test_cmp data.before data.backup &&
	q db "PRAGMA table_info(users)" >cols.after && test_grep ! "|note|" cols.after &&
	cairn-apply history --db sqlite:db --verify >out
'

test_expect_success 'the restore command in the audit row brings the column and its data back' '
	cmd=$(audit_detail db backup 0003 | sed -e "s/.*; restore: //" -e "s/; .*//") &&
	test -n "$cmd" &&
	eval "$cmd" &&
	q db "PRAGMA table_info(users)" >cols && test_cmp cols.before cols &&
	q db "SELECT * FROM users ORDER BY id" >data && test_cmp data.before data &&
	q db "SELECT version, state FROM cairn_migrations ORDER BY version" >rows &&
	printf "0001|applied\n0002|applied\n" >want && test_cmp want rows &&
	cairn-apply history --db sqlite:db --verify >out &&
	cairn-apply status --db sqlite:db >out &&
	test_grep "^2 applied" out
'

test_expect_success 'backup: {dir: D} puts the copy there' '
	rm -f db.0003.*.backup &&
	apply_config "backup: { dir: saved }" &&
	cairn-apply apply v3.tar.gz --env dev >out &&
	ls saved >files && test_line_count = 1 files &&
	test_grep "^db.0003.[0-9TZ]*.backup$" files &&
	ls >here && test_grep ! "^db\.0003\..*\.backup$" here &&
	audit_detail db backup 0003 >detail && test_grep "^backup=saved/db.0003" detail
'

test_expect_success 'backup: off copies nothing and says so in the audit row' '
	cp db.before db && rm -rf saved &&
	apply_config "backup: off" &&
	cairn-apply apply v3.tar.gz --env dev >out &&
	test_grep "^backup before 0003_drop_note: backup=none (backup: off); destructive: line 1: DROP COLUMN" out &&
	ls >files && test_grep ! "^db\.0003\..*\.backup$" files &&
	audit_detail db backup 0003 >detail && test_grep "^backup=none (backup: off)" detail
'

test_expect_success 'a backup that cannot be written stops the run before the migration' '
	cp db.before db && : >not-a-dir &&
	apply_config "backup: { dir: not-a-dir/x }" &&
	test_expect_code 1 cairn-apply apply v3.tar.gz --env dev >out 2>err &&
	test_grep "before migration 0003_drop_note: .*not-a-dir.*; nothing of it ran" err &&
	q db "PRAGMA table_info(users)" >cols && test_cmp cols.before cols &&
	q db "SELECT version FROM cairn_migrations WHERE state = '"'"'applied'"'"' ORDER BY version" >rows &&
	printf "0001\n0002\n" >want && test_cmp want rows
'

test_expect_success 'fleet: each target backed up before the destructive step, the verdict decided once before the fork' '
	printf "f1 sqlite:f1.db\nf2 sqlite:f2.db\nf3 sqlite:f3.db\n" >ftargets &&
	for f in f1 f2 f3; do cairn-apply apply v2.tar.gz --env dev --db sqlite:$f.db $KEY >/dev/null || return 1; done &&
	cairn-apply fleet v3.tar.gz --env dev $KEY --targets ftargets --parallel 2 --result fr.jsonl >/dev/null 2>&1 &&
	for f in f1 f2 f3; do
		audit_detail $f.db backup 0003 >d &&
		test_grep "^backup=$f.db.0003.[0-9TZ]*.backup; sha256=[0-9a-f]*; bytes=[0-9]*; destructive: line 1: DROP COLUMN" d &&
		b=$(sed -n "s/^backup=\([^;]*\);.*/\1/p" d) &&
		test "$(q $b "SELECT count(*) FROM pragma_table_info('"'"'users'"'"') WHERE name = '"'"'note'"'"'")" = 1 &&
		test "$(q $f.db "SELECT count(*) FROM pragma_table_info('"'"'users'"'"') WHERE name = '"'"'note'"'"'")" = 0 || return 1
	done
'

test_done
