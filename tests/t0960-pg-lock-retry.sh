#!/bin/sh
test_description='lock-safe DDL on PostgreSQL (issue #22): lock_timeout, the migration rolled back and retried with backoff while another session holds its lock, other sessions never queued behind it for longer than the timeout, a spent budget a clean failure'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"
. "$TEST_DIRECTORY/lib-pg.sh"

pg_start_app

# hold SECONDS: session "holder" reads t in a transaction that stays open
# for SECONDS (ACCESS SHARE: every ALTER TABLE on t waits for it).
hold() {
	pg_hold app t "$1" "select count(*) from t"
}

# probe N: N rounds of a read and a write of t from one session, 50 ms
# apart; each statement's time (psql's \timing) into probe.ms, the
# longest into probe.max (whole milliseconds).
probe() {
	{
		printf "%s\n" "\\timing on" &&
		i=0 &&
		while test $i -lt "$1"; do
			echo "select count(*) from t;" &&
			echo "insert into t (v) values ('probe');" &&
			printf "%s\n" "\\timing off" &&
			echo "select pg_sleep(0.05);" &&
			printf "%s\n" "\\timing on" &&
			i=$((i + 1)) || return 1
		done
	} >probe.sql &&
	PGAPPNAME=prober pg_sql -d app -f probe.sql >probe.out &&
	sed -n "s/^Time: \([0-9.]*\) ms.*/\1/p" probe.out >probe.ms &&
	test $(wc -l <probe.ms) = $((2 * $1)) &&
	sort -n probe.ms | tail -n 1 | cut -d. -f1 >probe.max
}

test_expect_success 'setup: table t with rows, applied; a migration that alters it' '
	pg_fresh_db app &&
	pg_project p &&
	apply_mig p 0001_t "CREATE TABLE t (id bigserial primary key, v text);
INSERT INTO t (v) SELECT md5(g::text) FROM generate_series(1, 1000) g;" "DROP TABLE t;" &&
	apply_build p "$TRASH_DIRECTORY/v1.tar.gz" &&
	pg_config_lock 300ms 20s &&
	cairn-apply apply v1.tar.gz --env dev >out &&
	test_grep "applied 1 migration" out &&
	apply_mig p 0002_addcol "ALTER TABLE t ADD COLUMN c integer;" "ALTER TABLE t DROP COLUMN c;" &&
	apply_build p "$TRASH_DIRECTORY/v2.tar.gz"
'

test_expect_success 'the naive way: an ALTER without lock_timeout queues every reader behind it (the probe can fail)' '
	hold 3 &&
	{ "$PSQL" -X -q -d app -c "alter table t add column naive integer" >/dev/null 2>&1 & } &&
	naive=$! &&
	sleep 0.3 &&
	probe 5 &&
	wait $naive &&
	wait $holder &&
	naive_max=$(cat probe.max) &&
	echo "naive: longest probe statement ${naive_max} ms" &&
	test "$naive_max" -ge 1500 &&
	pg_sql -d app -c "alter table t drop column naive"
'

test_expect_success 'apply waits politely: rolled back and retried while the holder reads, done once it commits' '
	hold 3 &&
	t0=$(date +%s%N) &&
	{ cairn-apply apply v2.tar.gz --env dev >out 2>err & } &&
	applier=$! &&
	probe 40 &&
	wait $applier &&
	t1=$(date +%s%N) &&
	wait $holder &&
	max=$(cat probe.max) &&
	echo "polite: longest probe statement ${max} ms; apply took $(( (t1 - t0) / 1000000 )) ms" &&
	test "$max" -lt 1000 &&
	test $(( (t1 - t0) / 1000000 )) -ge 2000 &&
	test_grep "applied 1 migration" out &&
	test_grep "0002_addcol: attempt 1 waited too long for a lock and was rolled back; retrying in [0-9]* ms" out &&
	test_grep "55P03: canceling statement due to lock timeout" out &&
	test_grep "held by pid $holder_pid (user .*, application holder, idle in transaction\|held by pid $holder_pid (user .*, application holder, active" out &&
	test_grep "AccessShareLock on t" out &&
	pg_sql -d app -c "select count(*) from information_schema.columns where table_name = '"'"'t'"'"' and column_name = '"'"'c'"'"'" >n &&
	echo 1 >want && test_cmp want n &&
	pg_sql -d app -c "select state from cairn.cairn_migrations where version = '"'"'0002'"'"'" >s &&
	echo applied >want && test_cmp want s &&
	pg_sql -d app -c "select count(*) from cairn.cairn_audit where action = '"'"'lock-retry'"'"' and version = '"'"'0002'"'"' and detail like '"'"'attempt %lock timeout%held by pid $holder_pid %retrying%'"'"'" >n &&
	test $(cat n) -ge 2 &&
	cairn-apply history --db "$DB" --verify >h &&
	test_grep "audit chain intact" h
'

test_expect_success 'a spent budget fails cleanly: nothing of the migration, no row, the catalog unchanged' '
	apply_mig p 0003_two "CREATE TABLE side (x integer);
ALTER TABLE t ADD COLUMN d integer;" "DROP TABLE side; ALTER TABLE t DROP COLUMN d;" &&
	apply_build p "$TRASH_DIRECTORY/v3.tar.gz" &&
	pg_config_lock 200ms 1s &&
	pg_sql -d app -c "select count(*) from pg_class" >classes.before &&
	hold 5 &&
	test_expect_code 1 cairn-apply apply v3.tar.gz --env dev --metrics-file m.prom >out 2>err &&
	wait $holder &&
	test_grep "retry budget is spent" out &&
	sed -n "s/^cairn_apply_lock_retries{.*} \\([0-9]*\\)$/\\1/p" m.prom >retries &&
	test $(cat retries) -ge 2 &&
	test_grep "^cairn_apply_lock_retry_wait_seconds{.*} [0-9]*\\.[0-9]*$" m.prom &&
	test_grep ! "^cairn_apply_lock_retry_wait_seconds{.*} 0\\.000$" m.prom &&
	test_grep "migration 0003_two failed: migrations/0003_two/up.sql:2: 55P03: canceling statement due to lock timeout (gave up after [0-9]* attempts in [0-9]* ms: lock retry budget 1000 ms)" err &&
	pg_sql -d app -c "select to_regclass('"'"'side'"'"') is null, count(*) from information_schema.columns where table_name = '"'"'t'"'"' and column_name = '"'"'d'"'"'" >t &&
	echo "t|0" >want && test_cmp want t &&
	pg_sql -d app -c "select count(*) from pg_class" >classes.after &&
	test_cmp classes.before classes.after &&
	pg_sql -d app -c "select count(*) from cairn.cairn_migrations where version = '"'"'0003'"'"'" >n &&
	echo 0 >want && test_cmp want n &&
	pg_sql -d app -c "select action from cairn.cairn_audit where version = '"'"'0003'"'"' order by seq" >a &&
	tail -n 1 a >last && echo apply-failed >want && test_cmp want last &&
	test $(grep -c lock-retry a) -ge 2 &&
	cairn-apply apply v3.tar.gz --env dev >out &&
	test_grep "applied 1 migration" out &&
	pg_sql -d app -c "select to_regclass('"'"'side'"'"') is not null" >t &&
	echo t >want && test_cmp want t
'

test_expect_success 'lock_retry_budget: 0 retries nothing: the first timeout fails the run' '
	apply_mig p 0004_e "ALTER TABLE t ADD COLUMN e integer;" "ALTER TABLE t DROP COLUMN e;" &&
	apply_build p "$TRASH_DIRECTORY/v4.tar.gz" &&
	pg_config_lock 200ms 0s &&
	hold 2 &&
	test_expect_code 1 cairn-apply apply v4.tar.gz --env dev >out 2>err &&
	wait $holder &&
	test_grep "attempt 1 waited too long for a lock and was rolled back; the lock retry budget is spent" out &&
	test_grep "gave up after 1 attempt in" err &&
	pg_sql -d app -c "select count(*) from cairn.cairn_migrations where version = '"'"'0004'"'"'" >n &&
	echo 0 >want && test_cmp want n
'

test_expect_success '--log-format json: a lock-retry event with the attempt, the pause and the holders' '
	hold 2 &&
	test_expect_code 1 cairn-apply apply v4.tar.gz --env dev --log-format json >out 2>err &&
	wait $holder &&
	grep "\"event\":\"lock-retry\"" out >ev &&
	test_line_count = 1 ev &&
	test_grep "\"migration\":\"0004_e\"" ev &&
	test_grep "\"error\":\"migrations/0004_e/up.sql:1: 55P03: canceling statement due to lock timeout\"" ev &&
	test_grep "\"blockers\":\"pid $holder_pid (user [^)]*application holder[^)]*): AccessShareLock on t\"" ev &&
	test_grep "\"attempt\":1,\"retry_in_ms\":-1" ev
'

test_expect_success 'defaults: lock_timeout 2s for a retried migration; transaction: false keeps the server default and waits' '
	cairn-apply apply v4.tar.gz --env dev >out &&
	test_grep "applied 1 migration" out &&
	apply_mig p 0005_f "ALTER TABLE t ADD COLUMN f integer;" "ALTER TABLE t DROP COLUMN f;" &&
	apply_mig p 0006_g "ALTER TABLE t ADD COLUMN g integer;" "ALTER TABLE t DROP COLUMN g;" "transaction: false" &&
	apply_build p "$TRASH_DIRECTORY/v6.tar.gz" &&
	pg_config "" &&
	hold 3 &&
	cairn-apply apply v6.tar.gz --env dev --to 0005 >out 2>err &&
	wait $holder &&
	test_grep "0005_f: attempt 1 waited too long for a lock and was rolled back; retrying in" out &&
	test $(grep -c "waited too long for a lock" out) = 1 &&
	hold 3 &&
	cairn-apply apply v6.tar.gz --env dev >out 2>err &&
	wait $holder &&
	test_grep "applied 1 migration" out &&
	test_grep ! "waited too long" out &&
	pg_sql -d app -c "select version, state from cairn.cairn_migrations where version >= '"'"'0005'"'"' order by 1" >s &&
	printf "0005|applied\n0006|applied\n" >want && test_cmp want s
'

test_done
