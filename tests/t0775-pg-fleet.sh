#!/bin/sh
test_description='cairn-apply fleet on PostgreSQL: several databases on one throwaway server (issue #21)'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"
. "$TEST_DIRECTORY/lib-pg.sh"

pg_start
unset CAIRN_ENV CAIRN_DB CAIRN_LOCK_TIMEOUT CAIRN_APPLY_CONFIG

# outcome RESULT TARGET: the outcome of TARGET's last line in RESULT.
outcome() {
	python3 -c 'import json,sys
o=None
for l in open(sys.argv[1]):
    if l.strip():
        r=json.loads(l)
        if r["target"]==sys.argv[2]: o=r["outcome"]
print(o)' "$1" "$2"
}

# rows DB: version|state of the books of DB.
rows() {
	pg_sql -d "$1" -c "select version || '|' || state from cairn.cairn_migrations order by version"
}

# has_table DB NAME: t or f.
has_table() {
	pg_sql -d "$1" -c "select count(*) > 0 from pg_class where relname = '$2' and relkind = 'r'"
}

test_expect_success 'setup: a PostgreSQL bundle and six databases' '
	pg_project p &&
	apply_table p 0001_users &&
	apply_mig p 0002_index "CREATE INDEX CONCURRENTLY users_v ON t_0001_users (v);" \
		"DROP INDEX CONCURRENTLY users_v;" "transaction: false" &&
	apply_build p "$TRASH_DIRECTORY/v2.tar.gz" &&
	for i in 1 2 3 4 5 6; do pg_fresh_db tenant$i || return 1; done &&
	{
		echo "# tenants, one database each" &&
		echo "tenant1 host=$PGHOST dbname=tenant1" &&
		echo "tenant2 postgresql:///tenant2?host=$PGHOST" &&
		echo "tenant3 env:F21_T3" &&
		for i in 4 5 6; do echo "tenant$i host=$PGHOST dbname=tenant$i" || return 1; done
	} >targets
'

test_expect_success 'fleet applies to every database, keyword strings, URIs and env: alike' '
	F21_T3="host=$PGHOST dbname=tenant3" cairn-apply fleet v2.tar.gz --env dev $KEY \
		--targets targets --parallel 3 --result r.jsonl --log-format json >events &&
	for i in 1 2 3 4 5 6; do
		printf "0001|applied\n0002|applied\n" >want && rows tenant$i >got && test_cmp want got &&
		pg_sql -d tenant$i -c "select indisvalid from pg_index where indexrelid = '"'"'users_v'"'"'::regclass" >v &&
		echo t >want && test_cmp want v &&
		pg_sql -d tenant$i -c "select count(*) from cairn.cairn_audit where action = '"'"'identity'"'"' and environment = '"'"'dev'"'"'" >n &&
		echo 1 >want && test_cmp want n &&
		test "$(outcome r.jsonl tenant$i)" = applied || return 1
	done &&
	test_grep "\"target\":\"tenant3\",\"dsn\":\"env:F21_T3\"" r.jsonl &&
	test_grep "\"event\":\"fleet-end\",\"targets\":6,\"ok\":6" events
'

test_expect_success 'a password in a targets file is refused; through env: it is used and never shown' '
	pg_sql -c "create role fleet_pw login superuser password '"'"'Fl33t-pw'"'"'" &&
	echo "pw postgresql://fleet_pw:Fl33t-pw@/tenant1?host=$PGHOST" >pw-targets &&
	test_expect_code 2 cairn-apply fleet v2.tar.gz --env dev $KEY --targets pw-targets 2>err &&
	test_grep "pw-targets:1: the DSN holds a password" err &&
	test_grep ! Fl33t err &&
	echo "pw env:F21_PW" >pw-targets &&
	F21_PW="postgresql://fleet_pw:Fl33t-pw@/tenant1?host=$PGHOST" \
		cairn-apply fleet v2.tar.gz --env dev $KEY --targets pw-targets --result pw.jsonl \
		--trail-dir ptr >out 2>&1 &&
	test "$(outcome pw.jsonl pw)" = current &&
	! grep Fl33t out pw.jsonl ptr/pw.json &&
	id=$(pg_sql -d tenant1 -Atc "SELECT detail FROM cairn.cairn_audit WHERE action = '"'"'identity'"'"' ORDER BY seq LIMIT 1" |
		sed -n "s/.*; id=\([0-9a-f]*\).*/\1/p") &&
	test ${#id} = 32 &&
	python3 -c "import json,sys; t=json.load(open(\"ptr/pw.json\")); assert t[\"target\"]==\"pw\" and t[\"database_id\"]==\"$id\" and \"tenant1\" in t[\"database\"] and t[\"rows\"], t"
'

test_expect_success 'a database of another environment is refused (identity) and counted failed; the others go on' '
	pg_fresh_db prod1 &&
	cairn-apply apply v2.tar.gz --env prod --db "host=$PGHOST dbname=prod1" $KEY >/dev/null &&
	pg_fresh_db new1 &&
	printf "prod1 host=$PGHOST dbname=prod1\nnew1 host=$PGHOST dbname=new1\n" >mixed &&
	pg_sql -d prod1 -c "select count(*) from cairn.cairn_audit" >before &&
	test_expect_code 1 cairn-apply fleet v2.tar.gz --env dev $KEY --targets mixed --result rm.jsonl >/dev/null 2>&1 &&
	test "$(outcome rm.jsonl prod1)" = failed &&
	test_grep "\"target\":\"prod1\".*\"exit\":3,.*belongs to environment .prod." rm.jsonl &&
	test "$(outcome rm.jsonl new1)" = applied &&
	pg_sql -d prod1 -c "select count(*) from cairn.cairn_audit" >after &&
	test_cmp before after
'

test_expect_success 'a canary that fails stops the fleet; resume finishes it' '
	for i in 1 2 3 4; do pg_fresh_db c$i || return 1; done &&
	pg_sql -d c1 -c "create table t_0001_users (x int)" &&
	for i in 1 2 3 4; do echo "c$i host=$PGHOST dbname=c$i"; done >ctargets &&
	test_expect_code 1 cairn-apply fleet v2.tar.gz --env dev $KEY --targets ctargets --canary 1 \
		--result rc.jsonl --log-format json >events 2>/dev/null &&
	test "$(outcome rc.jsonl c1)" = failed &&
	# no --parallel: one PostgreSQL target at a time (SQLite targets: t0770)
	test_grep "\"event\":\"fleet-start\".*\"parallel\":1}" events &&
	for i in 2 3 4; do
		test "$(outcome rc.jsonl c$i)" = not-started &&
		pg_sql -d c$i -c "select count(*) from pg_namespace where nspname = '"'"'cairn'"'"'" >n &&
		echo 0 >want && test_cmp want n || return 1
	done &&
	pg_sql -d c1 -c "drop table t_0001_users" &&
	cairn-apply fleet v2.tar.gz --env dev $KEY --targets ctargets --resume rc.jsonl --parallel 2 >/dev/null &&
	for i in 1 2 3 4; do
		printf "0001|applied\n0002|applied\n" >want && rows c$i >got && test_cmp want got || return 1
	done
'

test_expect_success 'SIGTERM during a fleet on PostgreSQL: the running migrations are cancelled and rolled back' '
	apply_mig p 0003_slow "CREATE TABLE t_slow AS SELECT 1 AS s FROM pg_sleep(60);" "DROP TABLE t_slow;" &&
	apply_build p "$TRASH_DIRECTORY/slow.tar.gz" &&
	{ cairn-apply fleet slow.tar.gz --env dev $KEY --targets ctargets --parallel 2 \
		--result rk.jsonl --log-format json >kevents 2>kerr & } &&
	pid=$! &&
	n=0 &&
	until test "$(pg_sql -c "select count(*) from pg_stat_activity where query like '"'"'%pg_sleep(60)%'"'"' and pid <> pg_backend_pid()")" = 2; do
		n=$((n + 1)) && test $n -lt 500 && sleep 0.02 || return 1
	done &&
	kill -TERM $pid &&
	{ wait $pid; rc=$?; } &&
	test $rc = 143 &&
	test "$(outcome rk.jsonl c1)" = interrupted &&
	test "$(outcome rk.jsonl c2)" = interrupted &&
	test "$(outcome rk.jsonl c4)" = not-started &&
	for i in 1 2 3 4; do
		printf "0001|applied\n0002|applied\n" >want && rows c$i >got && test_cmp want got &&
		test "$(has_table c$i t_slow)" = f &&
		cairn-apply history --db "host=$PGHOST dbname=c$i" --verify >out &&
		test_grep intact out || return 1
	done &&
	test "$(pg_sql -c "select count(*) from pg_stat_activity where query like '"'"'%pg_sleep(60)%'"'"' and pid <> pg_backend_pid()")" = 0
'

test_done
