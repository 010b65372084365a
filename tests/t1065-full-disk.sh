#!/bin/sh
test_description='a full disk (SQLite on a small tmpfs) during apply, the backup before a destructive migration, and restore: nothing half-applied, an error naming the file and the way out, and the next run finishes'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"

M="$TRASH_DIRECTORY/mnt"
mkdir "$M"
if ! mount -t tmpfs -o size=1m cairn-test "$M" 2>/dev/null; then
	# a small filesystem needs root (mount) or a user namespace
	say "# SKIP $TEST_NAME: cannot mount a tmpfs here (not root)"
	test_done
fi
test_at_done="umount '$M'"

# size N: the tmpfs holds N KiB from now on
size() {
	mount -o remount,size=${1}k "$M"
}

# books_match DB: the books and the schema agree: no row but applied,
# SQLite's integrity check passes, the audit chain holds
books_match() {
	test "$(q "$1" "PRAGMA integrity_check")" = ok &&
	test "$(q "$1" "SELECT count(*) FROM cairn_migrations WHERE state NOT IN ('applied', 'rolled_back')")" = 0 &&
	cairn-apply history --db "sqlite:$1" --verify >verify.out
}

test_expect_success 'setup: a table; 2 MB of rows; a migration that drops a column (it takes a backup)' '
	apply_project p &&
	apply_mig p 0001_users "CREATE TABLE users (id integer primary key, note text);
INSERT INTO users VALUES (1, '"'"'a'"'"');" "DROP TABLE users;" &&
	apply_build p "$TRASH_DIRECTORY/v1.tar.gz" &&
	apply_mig p 0002_big "CREATE TABLE big (x text);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)
INSERT INTO big SELECT hex(randomblob(50)) FROM n;" "DROP TABLE big;" &&
	apply_build p "$TRASH_DIRECTORY/v2.tar.gz" &&
	apply_mig p 0003_drop_note "ALTER TABLE users DROP COLUMN note;" \
		"ALTER TABLE users ADD COLUMN note text;" &&
	apply_build p "$TRASH_DIRECTORY/v3.tar.gz" &&
	cairn-apply apply v1.tar.gz --env dev --db "sqlite:$M/db" $KEY >out
'

test_expect_success 'apply on a full disk: rolled back, the file and the way out named; with room, apply again finishes' '
	test_expect_code 1 cairn-apply apply v2.tar.gz --env dev --db "sqlite:$M/db" $KEY >out 2>err &&
	test_grep "migration 0002_big failed: .*$M/db.*database or disk is full" err &&
	test_grep "the database was rolled back to version 0001: nothing from this run was applied" err &&
	test_grep "next: the disk is full, not the migration at fault: free space where the file named above lives" err &&
	test_grep ! "fix the migration" err &&
	test -z "$(q "$M/db" "SELECT name FROM sqlite_master WHERE name = \"big\"")" &&
	test "$(q "$M/db" "SELECT group_concat(version) FROM cairn_migrations WHERE state = \"applied\"")" = 0001 &&
	books_match "$M/db" &&
	size 8192 &&
	cairn-apply apply v2.tar.gz --env dev --db "sqlite:$M/db" $KEY >out &&
	test "$(q "$M/db" "SELECT count(*) FROM big")" = 20000 &&
	books_match "$M/db"
'

# The database (about 2.2 MB) fits; its copy does not.
test_expect_success 'no room for the backup: the destructive migration never runs, no partial copy left, the way out named' '
	used=$(du -k "$M/db" | cut -f1) &&
	size $((used + 600)) &&
	test_expect_code 1 cairn-apply apply v3.tar.gz --env dev --db "sqlite:$M/db" $KEY >out 2>err &&
	test_grep "cannot back up .$M/db. to .$M/db.0003.*: database or disk is full" err &&
	test_grep "nothing of it ran" err &&
	ls "$M" >files && test_grep ! "\.backup" files &&
	q "$M/db" "PRAGMA table_info(users)" >cols && test_grep "|note|" cols &&
	books_match "$M/db" &&
	size 8192 &&
	cairn-apply apply v3.tar.gz --env dev --db "sqlite:$M/db" $KEY >out &&
	q "$M/db" "PRAGMA table_info(users)" >cols && test_grep ! "|note|" cols &&
	books_match "$M/db"
'

# Restoring first copies the backup beside it (the restore row is written
# into that copy), then writes every page through the rollback journal: a
# copy of the database's pages beside it. Either can meet the full disk.
test_expect_success 'no room to restore: the database is unchanged, the file named; with room, restore finishes' '
	backup=$(ls "$M"/db.0003.*.backup) &&
	sha256sum "$M/db" >sum.before &&
	used=$(du -sk "$M" | cut -f1) &&
	size $((used + 200)) &&
	test_expect_code 6 cairn-apply restore --db "sqlite:$M/db" "$backup" >out 2>err &&
	test_grep "cannot copy .$backup. to .$backup.tmp[0-9]*.: No space left on device; nothing was restored" err &&
	ls "$M" >files && test_grep ! "\.tmp" files &&
	sha256sum "$M/db" >sum && test_cmp sum.before sum &&
	books_match "$M/db" &&
	size $((used + $(du -k "$backup" | cut -f1) + 200)) &&
	test_expect_code 6 cairn-apply restore --db "sqlite:$M/db" "$backup" >out 2>err &&
	test_grep "cannot restore .$M/db. from .$backup.tmp[0-9]*.: database or disk is full" err &&
	ls "$M" >files && test_grep ! "\.tmp" files &&
	sha256sum "$M/db" >sum && test_cmp sum.before sum &&
	books_match "$M/db" &&
	size 16384 &&
	cairn-apply restore --db "sqlite:$M/db" "$backup" >out &&
	q "$M/db" "PRAGMA table_info(users)" >cols && test_grep "|note|" cols &&
	books_match "$M/db"
'

test_done
