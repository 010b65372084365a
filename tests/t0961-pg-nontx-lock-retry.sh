#!/bin/sh
test_description='transaction: false on PostgreSQL (issue #22): CREATE INDEX CONCURRENTLY that timed out on a lock at its first statement is retried whole within lock_retry_budget; an INVALID index a failed attempt left is dropped first, a valid one of that name never'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"
. "$TEST_DIRECTORY/lib-pg.sh"

pg_start_app

# hold SECONDS SQL: session "holder" runs SQL on t, left open SECONDS
hold() {
	pg_hold app t "$1" "$2"
}

# idx NAME: "valid" or "invalid" or "none", and the indexed column
idx() {
	pg_sql -d app -c "select coalesce((select case when i.indisvalid then 'valid' else 'invalid' end || ' ' || pg_get_indexdef(i.indexrelid) from pg_index i where i.indexrelid = to_regclass('$1')), 'none')"
}

row() {
	pg_sql -d app -c "select state, statement from cairn.cairn_migrations where version = '$1'"
}

SUE="lock table t in share update exclusive mode"

test_expect_success 'setup: table t applied' '
	pg_fresh_db app &&
	pg_project p &&
	apply_mig p 0001_t "CREATE TABLE t (id bigserial primary key, v text);
INSERT INTO t (v) SELECT md5(g::text) FROM generate_series(1, 1000) g;" "DROP TABLE t;" &&
	apply_build p "$TRASH_DIRECTORY/v1.tar.gz" &&
	pg_config_lock 500ms 20s &&
	cairn-apply apply v1.tar.gz --env dev >out &&
	test_grep "applied 1 migration" out
'

test_expect_success 'CIC waits for SHARE UPDATE EXCLUSIVE: retried, applied, the index valid, books and audit right' '
	apply_mig p 0002_idx "CREATE INDEX CONCURRENTLY t_v_idx ON t (v);" "DROP INDEX CONCURRENTLY t_v_idx;" "transaction: false" &&
	apply_build p "$TRASH_DIRECTORY/v2.tar.gz" &&
	hold 3 "$SUE" &&
	cairn-apply apply v2.tar.gz --env dev --metrics-file m.prom >out 2>err &&
	wait $holder &&
	test_grep "applied 1 migration" out &&
	test_grep "0002_idx: attempt 1 waited too long for a lock" out &&
	test_grep "55P03" out &&
	idx t_v_idx >s &&
	test_grep "^valid CREATE INDEX t_v_idx ON public.t USING btree (v)$" s &&
	row 0002 >s &&
	echo "applied|-1" >want && test_cmp want s &&
	pg_sql -d app -c "select count(*) from cairn.cairn_audit where action = '"'"'lock-retry'"'"' and version = '"'"'0002'"'"' and detail like '"'"'attempt %55P03%retrying%'"'"'" >n &&
	test $(cat n) -ge 2 &&
	pg_sql -d app -c "select action from cairn.cairn_audit where version = '"'"'0002'"'"' and action <> '"'"'lock-retry'"'"' order by seq" >a &&
	printf "apply-start\napply\n" >want && test_cmp want a &&
	sed -n "s/^cairn_apply_lock_retries{.*} \\([0-9]*\\)$/\\1/p" m.prom >retries &&
	test $(cat retries) -ge 2 &&
	cairn-apply history --db "$DB" --verify >h &&
	test_grep "audit chain intact" h
'

test_expect_success 'an attempt that left an INVALID index: dropped before the retry, one valid index at the end' '
	apply_mig p 0003_idx2 "/* for the report */ -- by v, then id
CREATE INDEX CONCURRENTLY t_v2_idx ON t (v, id);" "DROP INDEX CONCURRENTLY t_v2_idx;" "transaction: false" &&
	apply_build p "$TRASH_DIRECTORY/v3.tar.gz" &&
	hold 3 "insert into t (v) values ('"'"'held'"'"')" &&
	cairn-apply apply v3.tar.gz --env dev >out 2>err &&
	wait $holder &&
	test_grep "applied 1 migration" out &&
	test_grep "0003_idx2: attempt 1 waited too long for a lock" out &&
	test_grep "dropping the invalid index t_v2_idx the attempt left: .*55P03" out &&
	idx t_v2_idx >s &&
	test_grep "^valid CREATE INDEX t_v2_idx ON public.t USING btree (v, id)$" s &&
	pg_sql -d app -c "select count(*) from pg_index where not indisvalid" >n &&
	echo 0 >want && test_cmp want n &&
	row 0003 >s &&
	echo "applied|-1" >want && test_cmp want s
'

test_expect_success 'a valid index of that name (an operator'"'"'s own) is never dropped' '
	pg_sql -d app -c "create index t_own_idx on t (id)" &&
	oid=$(pg_sql -d app -c "select '"'"'t_own_idx'"'"'::regclass::oid") &&
	apply_mig p 0004_own "CREATE INDEX CONCURRENTLY IF NOT EXISTS t_own_idx ON t (v);" "DROP INDEX CONCURRENTLY IF EXISTS t_own_idx;" "transaction: false" &&
	apply_build p "$TRASH_DIRECTORY/v4.tar.gz" &&
	hold 3 "$SUE" &&
	cairn-apply apply v4.tar.gz --env dev >out 2>err &&
	wait $holder &&
	test_grep "applied 1 migration" out &&
	test_grep "0004_own: attempt 1 waited too long for a lock" out &&
	idx t_own_idx >s &&
	test_grep "^valid CREATE INDEX t_own_idx ON public.t USING btree (id)$" s &&
	pg_sql -d app -c "select '"'"'t_own_idx'"'"'::regclass::oid" >o &&
	echo "$oid" >want && test_cmp want o
'

test_expect_success 'a spent budget: failed at statement 0, no invalid index left, the books say so' '
	apply_mig p 0005_idx3 "CREATE INDEX CONCURRENTLY t_v3_idx ON t (id, v);" "DROP INDEX CONCURRENTLY t_v3_idx;" "transaction: false" &&
	apply_build p "$TRASH_DIRECTORY/v5.tar.gz" &&
	pg_config_lock 300ms 1s &&
	hold 4 "$SUE" &&
	test_expect_code 5 cairn-apply apply v5.tar.gz --env dev >out 2>err &&
	wait $holder &&
	test_grep "gave up after [0-9]* attempts in [0-9]* ms: lock retry budget 1000 ms" err &&
	idx t_v3_idx >s &&
	echo none >want && test_cmp want s &&
	pg_sql -d app -c "select count(*) from pg_index where not indisvalid" >n &&
	echo 0 >want && test_cmp want n &&
	row 0005 >s &&
	echo "failed|0" >want && test_cmp want s &&
	pg_sql -d app -c "select action from cairn.cairn_audit where version = '"'"'0005'"'"' order by seq" >a &&
	tail -n 1 a >last && echo apply-failed >want && test_cmp want last &&
	test $(grep -c lock-retry a) -ge 2
'

test_expect_success 'a later statement'"'"'s timeout is not retried: its earlier statements committed' '
	pg_sql -d app -c "delete from cairn.cairn_migrations where version = '"'"'0005'"'"'" &&
	apply_mig p 0005_idx3 "CREATE TABLE side (x integer);
CREATE INDEX CONCURRENTLY t_v3_idx ON t (id, v);" "DROP INDEX CONCURRENTLY t_v3_idx; DROP TABLE side;" "transaction: false" &&
	apply_build p "$TRASH_DIRECTORY/v6.tar.gz" &&
	pg_config_lock 300ms 20s &&
	hold 3 "$SUE" &&
	test_expect_code 5 cairn-apply apply v6.tar.gz --env dev >out 2>err &&
	wait $holder &&
	test_grep ! "waited too long" out &&
	row 0005 >s &&
	echo "failed|1" >want && test_cmp want s
'

test_done
