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

# Before attack15i each of these applied (exit 0): a directory above the
# pinned one was not looked at.
test_expect_success 'a directory above \$SQLITE_TMPDIR that others may write without the sticky bit, or of another user: refused (exit 6), the database unchanged' '
	mkdir open-dir/inner && chmod 0700 open-dir/inner &&
	mkdir theirs && chown 65534 theirs && chmod 0755 theirs &&
	mkdir theirs/inner && chmod 0700 theirs/inner &&
	state app.db >before &&
	test_expect_code 6 env SQLITE_TMPDIR="$TRASH_DIRECTORY/open-dir/inner" cairn-apply apply v2.tar.gz --env dev --db sqlite:app.db $KEY >out 2>err &&
	test_grep "cannot use .*/open-dir/inner. for a temporary file: .*/open-dir. above it is writable by others and not sticky, so others can put another directory in its place (from .SQLITE_TMPDIR): SQLite.s temporary files" err &&
	test_expect_code 6 env SQLITE_TMPDIR="$TRASH_DIRECTORY/theirs/inner" cairn-apply apply v2.tar.gz --env dev --db sqlite:app.db $KEY >out 2>err &&
	test_grep "cannot use .*/theirs/inner. for a temporary file: .*/theirs. above it is owned by another user (uid 65534), who can put another directory in its place (from .SQLITE_TMPDIR)" err &&
	state app.db >after &&
	test_cmp before after
'

# schema DB: the tables and the books' states of DB (a failed run adds an
# audit row, so the audit table is left out)
schema() {
	q "$1" "SELECT type || ' ' || name FROM sqlite_master ORDER BY name" &&
	q "$1" "SELECT version || '|' || state FROM cairn_migrations ORDER BY version"
}

# hook_config BEFORE: environment dev on hook.db (app.db's copy: a run
# under a config puts a database under its policy), signed by ci.pub, with
# a before hook (which runs once the database is open, the directory pinned)
hook_config() {
	test -f hook.db || cp app.db hook.db
	cat >hook.yaml <<-EOF
	environments:
	  dev:
	    database: { dsn: "sqlite:hook.db" }
	    builders: [ci.pub]
	    hooks: { before: "$1" }
	EOF
}

# Before attack15i each of these applied (exit 0): SQLite fell back from
# the pinned directory to $TMPDIR (unchecked) once it was gone, and used
# whatever directory stood at the pinned path.
test_expect_success 'the pinned directory removed once the run has opened the database: no fallback to an unchecked $TMPDIR; the migration fails, the database unchanged' '
	mkdir gone && chmod 0700 gone &&
	hook_config "rmdir $TRASH_DIRECTORY/gone" &&
	schema hook.db >before &&
	test_expect_code 1 env SQLITE_TMPDIR="$TRASH_DIRECTORY/gone" TMPDIR="$TRASH_DIRECTORY/open-dir" cairn-apply apply v2.tar.gz --env dev --config hook.yaml >out 2>err &&
	test ! -d gone &&
	test_grep "migration 0002_sorted failed: .*SQLITE_CANTOPEN" err &&
	schema hook.db >after &&
	test_cmp before after
'

test_expect_success 'the pinned directory replaced by one of another user: the migration fails, the database unchanged' '
	mkdir swap && chmod 0700 swap &&
	hook_config "mv $TRASH_DIRECTORY/swap $TRASH_DIRECTORY/swap.old && mkdir $TRASH_DIRECTORY/swap && chown 65534 $TRASH_DIRECTORY/swap" &&
	schema hook.db >before &&
	test_expect_code 1 env SQLITE_TMPDIR="$TRASH_DIRECTORY/swap" cairn-apply apply v2.tar.gz --env dev --config hook.yaml >out 2>err &&
	test "$(stat -c %u swap)" = 65534 &&
	test_grep "migration 0002_sorted failed: .*SQLITE_CANTOPEN" err &&
	schema hook.db >after &&
	test_cmp before after &&
	test -z "$(ls -A swap)" && test -z "$(ls -A swap.old)"
'

test_expect_success 'a directory of the runner'"'"'s, and a link the runner made to one: applied' '
	env SQLITE_TMPDIR="$TRASH_DIRECTORY/mylink" cairn-apply apply v2.tar.gz --env dev --db sqlite:app.db $KEY >out &&
	test_grep "applied 1 migration" out &&
	test "$(q app.db "SELECT count(*) FROM s")" = 20000 &&
	test -z "$(ls -A mine)"
'

test_done
