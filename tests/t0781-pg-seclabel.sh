#!/bin/sh
test_description='SECURITY LABEL on cairn'"'"'s books by a signed migration (issue #15, attack15h): the books guard compares pg_seclabel, shown with a label provider of the tests (tests/helpers/pg-label, loaded by this server only)'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"
. "$TEST_DIRECTORY/lib-pg.sh"

LABEL_SO="$SRC_DIR/build/tests/pg-label/cairn_label.so"
if ! test -f "$LABEL_SO"; then
	if test "${CI:-}" = true; then
		say "not ok - $LABEL_SO was not built (postgresql-server-dev: make deps, then make check)"
		test_failure=1
		test_done
	fi
	say "# SKIP $TEST_NAME: no $LABEL_SO (install postgresql-server-dev-15: make deps)"
	test_done
fi
pg_start
pg_preload "$LABEL_SO" || pg_fail_ "the server did not restart with $LABEL_SO"
unset CAIRN_ENV CAIRN_DB CAIRN_APPLY_CONFIG CAIRN_CHECKPOINT CAIRN_CHECKPOINT_KEY

bk() {
	pg_sql -d "$1" -c "$2"
}

# labels DB: the security labels on cairn's books, as pg_seclabel has them
labels() {
	bk "$1" "select c.relname || '|' || l.provider || '|' || l.label from pg_seclabel l join pg_class c on c.oid = l.objoid join pg_namespace n on n.oid = c.relnamespace where n.nspname = 'cairn' order by 1"
}

# try NAME SQL [YAML]: a bundle whose 0002 creates t_mine then runs SQL,
# applied on a fresh database at 0001
try() {
	pg_fresh_db "$1" &&
	apply_at_0001 "$1" postgres "postgresql:///$1?host=$PGHOST" "CREATE TABLE t_mine (id int);
$2" "$3"
}

test_expect_success 'the provider is loaded: a label can be set and read back' '
	pg_fresh_db probe &&
	bk probe "create table t (id int); security label for cairn_test on table t is '"'"'x'"'"'" &&
	test "$(bk probe "select provider || label from pg_seclabel")" = cairn_testx
'

# Before this test, pg_seclabel was compared but no test could set a label
# (t0763's note); each of these fails when the comparison is cut out of
# drivers/pg-guard.c.
for case in \
	"setlabel||SECURITY LABEL FOR cairn_test ON TABLE cairn.cairn_audit IS 'unclassified';" \
	"relabel|SECURITY LABEL FOR cairn_test ON TABLE cairn.cairn_audit IS 'secret'|SECURITY LABEL FOR cairn_test ON TABLE cairn.cairn_audit IS 'public';" \
	"unlabel|SECURITY LABEL FOR cairn_test ON TABLE cairn.cairn_migrations IS 'secret'|SECURITY LABEL FOR cairn_test ON TABLE cairn.cairn_migrations IS NULL;"
do
	name=${case%%|*} rest=${case#*|} before=${rest%%|*} sql=${rest#*|}
	test_expect_success "a migration that does $name on cairn's books: refused before COMMIT, labels and books unchanged" '
		try $name "$sql" &&
		if test -n "$before"; then bk $name "$before"; fi &&
		labels $name >before &&
		bk $name "select version || state from cairn.cairn_migrations order by version" >before-rows &&
		test_expect_code 1 cairn-apply apply $name.tar.gz --env dev --db "postgresql:///$name?host=$PGHOST" $KEY >out 2>err &&
		test_grep "migrations/0002_x/up.sql:.*a script may not write, alter, drop or put a trigger on cairn.s books: it put a comment or security label on cairn.cairn_" err &&
		test_grep "rolled back with the migration" err &&
		labels $name >after &&
		test_cmp before after &&
		bk $name "select version || state from cairn.cairn_migrations order by version" >after-rows &&
		test_cmp before-rows after-rows &&
		test "$(bk $name "select count(*) from pg_class where relname = '"'"'t_mine'"'"'")" = 0
	'
done

test_expect_success 'transaction: false: a label set on cairn_audit stops the run after that statement (it committed)' '
	try nontx "SECURITY LABEL FOR cairn_test ON TABLE cairn.cairn_audit IS '"'"'unclassified'"'"';
CREATE TABLE t_after (id int);" "transaction: false" &&
	test_expect_code 5 cairn-apply apply nontx.tar.gz --env dev --db "postgresql:///nontx?host=$PGHOST" $KEY >out 2>err &&
	test_grep "up.sql:2: .*it put a comment or security label on cairn.cairn_audit (it had committed" err &&
	labels nontx >got &&
	echo "cairn_audit|cairn_test|unclassified" >want &&
	test_cmp want got &&
	test "$(bk nontx "select count(*) from pg_class where relname = '"'"'t_after'"'"'")" = 0 &&
	test "$(bk nontx "select state from cairn.cairn_migrations where version = '"'"'0002'"'"'")" = failed
'

test_done
