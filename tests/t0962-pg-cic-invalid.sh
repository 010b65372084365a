#!/bin/sh
test_description='transaction: false on PostgreSQL (issue #15, pgguard15b): the INVALID index a failed CREATE INDEX CONCURRENTLY left is dropped before the script runs again: on a later run after repair (else IF NOT EXISTS skipped it and the books said applied), and on a lock retry of a spilled script (over 1 MiB, never looked at before)'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"
. "$TEST_DIRECTORY/lib-pg.sh"

pg_start_app

# idx NAME: "valid", "invalid" or "none", from pg_index (of database $D)
D=app
idx() {
	pg_sql -d $D -c "select coalesce((select case when i.indisvalid then 'valid' else 'invalid' end from pg_index i where i.indexrelid = to_regclass('$1')), 'none')"
}

row() {
	pg_sql -d $D -c "select state from cairn.cairn_migrations where version = '$1'"
}

test_expect_success 'setup: table t with a duplicate value applied' '
	pg_fresh_db app &&
	pg_project p &&
	apply_mig p 0001_t "CREATE TABLE t (id bigserial primary key, v text);
INSERT INTO t (v) SELECT md5(g::text) FROM generate_series(1, 1000) g;
INSERT INTO t (v) VALUES ('"'"'dup'"'"'), ('"'"'dup'"'"');" "DROP TABLE t;" &&
	apply_build p "$TRASH_DIRECTORY/v1.tar.gz" &&
	pg_config_lock 500ms 20s &&
	cairn-apply apply v1.tar.gz --env dev >out &&
	test_grep "applied 1 migration" out
'

# Before pgguard15b the second apply ended 0 with the books saying
# applied and pg_index saying the unique index was not valid (so never
# used, and no uniqueness enforced): IF NOT EXISTS skipped the index the
# failed run left.
# in_q COMMAND...: in q/, where no cairn-apply.yaml names an environment
# (a database under no policy, so repair needs no admin's override)
in_q() {
	(cd q && "$@")
}

test_expect_success 'a unique CIC failed on duplicates, data fixed, repaired, applied again: the invalid index is dropped and built anew' '
	D=app2 && DB2="postgresql:///app2?host=$PGHOST" &&
	pg_fresh_db app2 &&
	mkdir -p q &&
	apply_mig p 0002_uniq "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS t_v_uniq ON t (v);" "DROP INDEX CONCURRENTLY IF EXISTS t_v_uniq;" "transaction: false" &&
	apply_build p "$TRASH_DIRECTORY/v2.tar.gz" &&
	test_expect_code 5 in_q cairn-apply apply ../v2.tar.gz --env dev --db "$DB2" $KEY >out 2>err &&
	test_grep "23505" err &&
	test "$(row 0002)" = failed &&
	test "$(idx t_v_uniq)" = invalid &&
	pg_sql -d app2 -c "delete from t where v = '"'"'dup'"'"' and id = (select max(id) from t)" &&
	in_q cairn-apply repair --db "$DB2" 0002 --mark-rolled-back >out 2>err &&
	test "$(row 0002)" = rolled_back &&
	in_q cairn-apply apply ../v2.tar.gz --env dev --db "$DB2" $KEY >out 2>err &&
	test_grep "applied 1 migration" out &&
	test "$(row 0002)" = applied &&
	test "$(idx t_v_uniq)" = valid &&
	pg_sql -d app2 -c "select count(*) from pg_index where not indisvalid" >n &&
	echo 0 >want && test_cmp want n &&
	in_q cairn-apply history --db "$DB2" --verify >h &&
	test_grep "audit chain intact" h &&
	D=app
'

# A script over 1 MiB is spilled and streamed; m->up is NULL then, and the
# retry looked for no index at all: the next attempt met the invalid one
# ("already exists", exit 5).
test_expect_success 'a spilled CIC that timed out on a lock: the invalid index dropped before the retry, applied, valid' '
	big=$(awk "BEGIN { s = \"\"; for (i = 0; i < 2000; i++) s = s \"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"; print s }") &&
	D=app &&
	pg_sql -d app -c "delete from t where v = '"'"'dup'"'"' and id = (select max(id) from t)" &&
	apply_mig p 0003_big "CREATE INDEX CONCURRENTLY t_v2_idx ON t (v, id);
SELECT length('"'"'$big'"'"');" "DROP INDEX CONCURRENTLY t_v2_idx;" "transaction: false" &&
	test $(wc -c <p/migrations/0003_big/up.sql) -gt 1100000 &&
	apply_build p "$TRASH_DIRECTORY/v3.tar.gz" &&
	cairn-apply apply v2.tar.gz --env dev >out 2>err &&
	pg_hold app t 3 "insert into t (v) values ('"'"'held'"'"')" &&
	cairn-apply apply v3.tar.gz --env dev >out 2>err &&
	wait $holder &&
	test_grep "applied 1 migration" out &&
	test_grep "0003_big: attempt 1 waited too long for a lock" out &&
	test "$(idx t_v2_idx)" = valid &&
	pg_sql -d app -c "select count(*) from pg_index where not indisvalid" >n &&
	echo 0 >want && test_cmp want n &&
	test "$(row 0003)" = applied
'

test_done
