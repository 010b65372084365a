#!/bin/sh
test_description='the SQLite database file or its journal replaced by a symbolic link, or another file renamed over the database while a run holds its lock: cairn-apply writes only the file the DSN names (issue #15, attack15g)'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"

unset CAIRN_ENV CAIRN_DB CAIRN_APPLY_CONFIG CAIRN_CHECKPOINT CAIRN_CHECKPOINT_KEY

schema() {
	q "$1" "select type || ' ' || name from sqlite_master order by name"
}

# swap_during_run BUNDLE NAME: applies BUNDLE to NAME.db in the
# background and, once the run holds its lock, renames a copy of other.db
# (its schema in swap.before) over NAME.db; the run must exit 1. Its output
# is in NAME.out and NAME.err.
swap_during_run() {
	cp other.db swap.db &&
	schema swap.db >swap.before &&
	{ cairn-apply apply "$1" --env dev --db "sqlite:$2.db" $KEY >"$2.out" 2>"$2.err" & } &&
	pid=$! &&
	n=0 &&
	while flock -n "$2.db" true; do
		n=$((n + 1)) && test $n -lt 500 && sleep 0.01 || break
	done &&
	mv swap.db "$2.db" &&
	test_expect_code 1 wait $pid
}

# 0001 creates t_0001_a; 0002 takes a second or two (a recursive count),
# then creates t_slow
test_expect_success 'setup: a bundle, and another database of the fleet at 0001' '
	apply_project p &&
	apply_table p 0001_a &&
	apply_mig p 0002_slow "CREATE TABLE t_slow AS WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3000000) SELECT count(*) AS n FROM c;" "DROP TABLE t_slow;" &&
	apply_build p "$TRASH_DIRECTORY/b.tar.gz" &&
	cairn-apply apply b.tar.gz --to 0001 --env dev --db sqlite:other.db $KEY >out 2>err &&
	schema other.db >other.before
'

# Before attack15g SQLite followed the link: the run applied 0002 to
# other.db (exit 0), the identity check passing since both are dev's.
test_expect_success 'the database replaced by a link to another database of the fleet: refused (exit 6), the other left as it was' '
	ln -s other.db prod.db &&
	test_expect_code 6 cairn-apply apply b.tar.gz --env dev --db sqlite:prod.db $KEY >out 2>err &&
	test_grep "database .prod.db. is a symbolic link: cairn-apply writes only the file the DSN names" err &&
	schema other.db >actual &&
	test_cmp other.before actual &&
	test "$(q other.db "select group_concat(version || state) from cairn_migrations")" = 0001applied &&
	test -h prod.db
'

test_expect_success 'a link to a file that does not exist yet: refused, nothing created where it points' '
	mkdir -p elsewhere &&
	ln -s elsewhere/planted.db new.db &&
	test_expect_code 6 cairn-apply apply b.tar.gz --env dev --db sqlite:new.db $KEY >out 2>err &&
	test_grep "is a symbolic link" err &&
	! test -e elsewhere/planted.db
'

# SQLite opens its journal with O_NOFOLLOW: a link planted as the journal
# (to another database, which a rollback of the journal would overwrite)
# made the open fail with "unable to open database file"; now the run says
# what the file is before SQLite looks at it.
test_expect_success 'a journal replaced by a link to another database: the run fails, the other database untouched' '
	cairn-apply apply b.tar.gz --to 0001 --env dev --db sqlite:j.db $KEY >out 2>err &&
	schema j.db >j.before &&
	cp other.db victim.db &&
	schema victim.db >victim.before &&
	ln -s victim.db j.db-journal &&
	test_expect_code 6 cairn-apply apply b.tar.gz --env dev --db sqlite:j.db $KEY >out 2>err &&
	test_grep "j.db-journal. is not a plain file (a symbolic link)" err &&
	schema victim.db >actual &&
	test_cmp victim.before actual &&
	test -h j.db-journal &&
	rm j.db-journal &&
	schema j.db >actual &&
	test_cmp j.before actual &&
	test "$(q j.db "select group_concat(version || state) from cairn_migrations")" = 0001applied
'

# Before attack15g a file renamed over the database while the run held its
# lock went unseen: the run committed 0002 to the old inode, which no name
# reached any more, and exited 0; the file now at the path said nothing.
test_expect_success 'another file renamed over the database during the run: the migration rolls back, exit non-zero, naming it' '
	cairn-apply apply b.tar.gz --to 0001 --env dev --db sqlite:run.db $KEY >out 2>err &&
	swap_during_run b.tar.gz run &&
	test_grep "database .run.db. was replaced while the run held its lock" run.err &&
	schema run.db >actual &&
	test_cmp swap.before actual
'

# CI at 1110ab6 failed test 5 once: the file was renamed over before the
# migration's first write, and SQLite refused that write with "attempt to
# write a readonly database" (SQLITE_READONLY_DBMOVED), which sent the
# operator after permissions. Here the window is held open on purpose: a
# slow read first, the write after it.
test_expect_success 'another file renamed over the database before the first write: the write is refused, naming the replacement' '
	apply_project p2 &&
	apply_table p2 0001_a &&
	apply_mig p2 0002_late "SELECT count(*) FROM (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3000000) SELECT x FROM c);
CREATE TABLE t_late (x);" "DROP TABLE t_late;" &&
	apply_build p2 "$TRASH_DIRECTORY/b2.tar.gz" &&
	cairn-apply apply b2.tar.gz --to 0001 --env dev --db sqlite:late.db $KEY >out 2>err &&
	swap_during_run b2.tar.gz late &&
	test_grep "database .late.db. was replaced while the run held its lock" late.err &&
	test_grep ! "readonly database" late.err &&
	schema late.db >actual &&
	test_cmp swap.before actual
'

# A hot journal planted by another user who can write the directory: SQLite
# rolls its pages into the database at the first open. Before attack15g
# the run opened the database and SQLite replayed it.
if test "$(id -u)" = 0; then # chown needs root (CI runs as root)
test_expect_success 'a journal owned by another user than the database: refused before SQLite opens it' '
	cairn-apply apply b.tar.gz --to 0001 --env dev --db sqlite:o.db $KEY >out 2>err &&
	schema o.db >o.before &&
	printf "planted" >o.db-journal &&
	chown 65534 o.db-journal &&
	test_expect_code 6 cairn-apply apply b.tar.gz --env dev --db sqlite:o.db $KEY >out 2>err &&
	test_grep "o.db-journal. belongs to uid 65534, the database to uid 0" err &&
	test "$(cat o.db-journal)" = planted &&
	rm o.db-journal &&
	schema o.db >actual &&
	test_cmp o.before actual
'
fi

test_done
