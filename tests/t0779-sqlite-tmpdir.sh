#!/bin/sh
test_description='SQLite'"'"'s temporary directory under attack (issue #15, attack15h): $SQLITE_TMPDIR or $TMPDIR naming a directory others may write without the sticky bit, one of another user, or a link another user planted is refused before a writing run opens the database (exit 6, nothing written); a directory of the runner'"'"'s is pinned'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"

unset CAIRN_ENV CAIRN_DB CAIRN_APPLY_CONFIG SQLITE_TMPDIR

# the schema and the books of database $1, as SQLite has them
state() {
	q "$1" "SELECT type || ' ' || name FROM sqlite_master ORDER BY name" &&
	q "$1" "SELECT version || '|' || state FROM cairn_migrations ORDER BY version" &&
	q "$1" "SELECT count(*) || '|' || max(hash) FROM cairn_audit"
}

test_expect_success 'setup: v1 applied; v2 sorts more than the cache holds (a temporary file)' '
	apply_project p &&
	apply_table p 0001_a &&
	apply_build p "$TRASH_DIRECTORY/v1.tar.gz" &&
	apply_mig p 0002_sorted "PRAGMA cache_size = 10; CREATE TABLE s AS WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000) SELECT i, hex(randomblob(64)) AS v FROM n ORDER BY v;" "DROP TABLE s;" &&
	apply_build p "$TRASH_DIRECTORY/v2.tar.gz" &&
	cairn-apply apply v1.tar.gz --env dev --db sqlite:app.db $KEY >out &&
	test_grep "applied 1 migration" out &&
	mkdir open-dir && chmod 0777 open-dir &&
	mkdir other-dir && chown 65534 other-dir && chmod 0700 other-dir &&
	mkdir mine && chmod 0700 mine &&
	ln -s "$TRASH_DIRECTORY/mine" planted && chown -h 65534 planted &&
	ln -s "$TRASH_DIRECTORY/mine" mylink
'

# Before attack15h each of these applied (exit 0): SQLite used the directory.
for case in \
	"SQLITE_TMPDIR|open-dir|writable by others and not sticky" \
	"SQLITE_TMPDIR|other-dir|owned by another user (uid 65534)" \
	"SQLITE_TMPDIR|planted|a symbolic link owned by another user (uid 65534)" \
	"TMPDIR|open-dir|writable by others and not sticky"
do
	var=${case%%|*} rest=${case#*|} dir=${rest%%|*} why=${rest#*|}
	test_expect_success "\$$var=$dir: refused (exit 6) naming it, the database unchanged" '
		state app.db >before &&
		test_expect_code 6 env $var="$TRASH_DIRECTORY/$dir" cairn-apply apply v2.tar.gz --env dev --db sqlite:app.db $KEY >out 2>err &&
		test_grep "cannot use .*$dir. for a temporary file: $why (from \\\$$var): SQLite.s temporary files (sorts, VACUUM, temp tables) would go there; point $var at a directory of yours" err &&
		state app.db >after &&
		test_cmp before after
	'
done

test_expect_success 'the same for rollback, which writes too; a read-only status is not refused' '
	state app.db >before &&
	test_expect_code 6 env SQLITE_TMPDIR="$TRASH_DIRECTORY/open-dir" cairn-apply rollback --last 1 --db sqlite:app.db >out 2>err &&
	test_grep "writable by others and not sticky (from .SQLITE_TMPDIR)" err &&
	state app.db >after &&
	test_cmp before after &&
	env SQLITE_TMPDIR="$TRASH_DIRECTORY/open-dir" cairn-apply status --db sqlite:app.db >out 2>err
'

test_expect_success 'a directory of the runner'"'"'s, and a link the runner made to one: applied' '
	env SQLITE_TMPDIR="$TRASH_DIRECTORY/mylink" cairn-apply apply v2.tar.gz --env dev --db sqlite:app.db $KEY >out &&
	test_grep "applied 1 migration" out &&
	test "$(q app.db "SELECT count(*) FROM s")" = 20000 &&
	test -z "$(ls -A mine)"
'

test_done
