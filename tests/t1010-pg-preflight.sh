#!/bin/sh
test_description='cairn-apply preflight on PostgreSQL: privileges from the parsed statements, blockers, the lock, the version'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"
. "$TEST_DIRECTORY/lib-pg.sh"

pg_start_app
WEAK="postgresql://weak@/app?host=$PGHOST"

# catalog: what preflight must leave as it was (relations, schemas, the
# books' rows, privileges and owners).
catalog() {
	pg_sql -d app -c "select n.nspname, c.relname, c.relkind, c.relowner::regrole, c.relacl
		from pg_class c join pg_namespace n on n.oid = c.relnamespace
		where n.nspname in ('public', 'cairn') order by 1, 2" \
		-c "select nspname, nspacl from pg_namespace order by 1" \
		-c "select version, state from cairn.cairn_migrations order by 1" \
		-c "select count(*) from cairn.cairn_audit" >"$1"
}

test_expect_success 'setup: the first migration applied, a bundle with three more' '
	pg_fresh_db app &&
	pg_project p &&
	apply_table p 0001_users &&
	apply_build p "$TRASH_DIRECTORY/v1.tar.gz" &&
	cairn-apply apply v1.tar.gz --env dev --db "$DB" $KEY >out &&
	apply_mig p 0002_email "ALTER TABLE t_0001_users ADD COLUMN email text;" \
		"ALTER TABLE t_0001_users DROP COLUMN email;" &&
	apply_mig p 0003_orders "CREATE TABLE orders (id int);
CREATE INDEX orders_id ON orders (id);
INSERT INTO orders VALUES (1);" "DROP TABLE orders;" &&
	apply_mig p 0004_seed "UPDATE t_0001_users SET v = v WHERE id = 0;" "SELECT 1;" &&
	apply_build p "$TRASH_DIRECTORY/v4.tar.gz" &&
	pg_sql -c "create role weak login" &&
	pg_sql -d app -c "grant usage on schema cairn to weak" &&
	catalog before
'

test_expect_success 'the owner passes every check; nothing changes' '
	cairn-apply preflight v4.tar.gz --env dev --db "$DB" $KEY >out &&
	test_grep "^  pass  connect      opened postgres cairn@" out &&
	test_grep "^  pass  plan         3 to apply, 1 skipped; the database is at version 0001" out &&
	test_grep "^  info  version      PostgreSQL 1[0-9]" out &&
	test_grep "^  pass  books " out &&
	test_grep "^  pass  privileges   the role has all 3 privileges the pending statements need (3 more are met by what the run itself creates)" out &&
	test_grep "^  skip  disk " out &&
	test_grep "^  pass  blockers     no other session holds a lock on the 1 table touched" out &&
	test_grep "^  pass  lock " out &&
	test_grep "^  info  replication  no standby attached" out &&
	test_grep "^preflight: every check passed" out &&
	catalog after && test_cmp before after
'

test_expect_success 'a role that cannot write the books: exit 6' '
	test_expect_code 6 cairn-apply preflight v4.tar.gz --env dev --db "$WEAK" $KEY >out &&
	test_grep "^  FAIL  books        role weak cannot write the bookkeeping tables" out &&
	catalog after && test_cmp before after
'

test_expect_success 'a role without a privilege: exit 1, each statement named with its line' '
	pg_sql -d app -c "grant select, insert, update on cairn.cairn_migrations to weak" \
		-c "grant select, insert on cairn.cairn_audit to weak" &&
	catalog before &&
	test_expect_code 1 cairn-apply preflight v4.tar.gz --env dev --db "$WEAK" $KEY >out &&
	test_grep "^  pass  books " out &&
	test_grep "^  FAIL  privileges   migrations/0002_email/up.sql:1: ALTER TABLE needs ownership of t_0001_users: role weak does not own t_0001_users (owner: cairn)" out &&
	test_grep "^ *migrations/0003_orders/up.sql:1: CREATE TABLE needs CREATE on schema: role weak has no CREATE on schema public" out &&
	test_grep "^ *migrations/0004_seed/up.sql:1: UPDATE needs UPDATE on t_0001_users: role weak has no UPDATE on t_0001_users" out &&
	test_grep ! "orders_id\|0003_orders/up.sql:[23]" out &&
	test_grep "^preflight: 1 check failed: apply would not go through (exit 1)" out &&
	catalog after && test_cmp before after
'

test_expect_success 'json names the failed check' '
	test_expect_code 1 cairn-apply preflight v4.tar.gz --env dev --db "$WEAK" $KEY \
		--log-format json >out &&
	python3 -c "
import json
o = json.load(open(\"out\"))
assert o[\"ok\"] is False and o[\"exit\"] == 1, o
bad = [c for c in o[\"checks\"] if c[\"status\"] == \"fail\"]
assert [c[\"check\"] for c in bad] == [\"privileges\"], bad
assert bad[0][\"detail\"].count(\"\\n\") == 2, bad
"
'

test_expect_success 'once granted, the same role passes, and apply with --preflight applies' '
	pg_sql -d app -c "grant create on schema public to weak" \
		-c "alter table t_0001_users owner to weak" &&
	cairn-apply preflight v4.tar.gz --env dev --db "$WEAK" $KEY >out &&
	test_grep "^preflight: every check passed" out &&
	cp v4.tar.gz v4b.tar.gz
'

test_expect_success 'a session holding a lock on a touched table is named; exit 1' '
	rm -f cmds && mkfifo cmds &&
	{ PGAPPNAME=holder "$PSQL" -X -q -d app <cmds >/dev/null 2>&1 & } && ps=$! &&
	exec 9>cmds &&
	echo "BEGIN; SELECT count(*) FROM t_0001_users;" >&9 &&
	n=0 &&
	until pg_sql -d app -c "select 1 from pg_stat_activity where application_name = '"'"'holder'"'"' and state = '"'"'idle in transaction'"'"'" | grep -q 1
	do n=$((n + 1)) && test $n -lt 100 && sleep 0.1 || break; done &&
	if test_expect_code 1 cairn-apply preflight v4.tar.gz --env dev --db "$DB" $KEY >out
	then rc=0
	else rc=1
	fi &&
	echo "ROLLBACK;" >&9 && exec 9>&- && wait $ps &&
	test $rc = 0 &&
	test_grep "^  FAIL  blockers     sessions hold locks the migrations would wait for:" out &&
	test_grep "^ *pid [0-9]* (user cairn, application holder, idle in transaction, transaction since 20.*): AccessShareLock on t_0001_users" out
'

test_expect_success 'another runner holding the lock: exit 4, named' '
	{ "$PD" lock "$DB" 0 3000 >holder.out & } &&
	for i in $(seq 1 50); do grep -q locked holder.out && break; sleep 0.1; done &&
	test_expect_code 4 cairn-apply preflight v4.tar.gz --env dev --db "$DB" $KEY >out &&
	wait &&
	test_grep "^  FAIL  lock         another runner holds the lock on .postgres cairn@.*/app. (schema cairn) (held by" out
'

test_expect_success 'the environment says a newer server than this one: exit 1' '
	major=$(pg_sql -d app -c "select current_setting('"'"'server_version_num'"'"')::int / 10000") &&
	cat >cairn-apply.yaml <<-EOF &&
	environments:
	  dev:
	    database: { dsn: "$DB" }
	    builders: [ci.pub]
	    postgres: { version: $((major + 1)) }
	  same:
	    database: { dsn: "$DB" }
	    builders: [ci.pub]
	    postgres: { version: $major }
	EOF
	test_expect_code 1 cairn-apply preflight v4.tar.gz --env dev >out &&
	test_grep "^  FAIL  version      the server is PostgreSQL $major.*, older than the $((major + 1)) the environment" out &&
	test_grep "^  pass  bundle .* verifies; the environment.s policy is met" out &&
	cairn-apply preflight v4.tar.gz --env same >out &&
	test_grep "^  pass  version      PostgreSQL $major.* (postgres: {version: $major})" out &&
	rm cairn-apply.yaml
'

test_expect_success 'apply --preflight on PostgreSQL: the role that passes applies' '
	cairn-apply apply v4.tar.gz --env dev --db "$WEAK" $KEY --preflight >out &&
	test_grep "^preflight: every check passed" out &&
	test_grep "^applied 3 migrations" out &&
	pg_sql -d app -c "select version, state from cairn.cairn_migrations order by 1" >rows &&
	printf "0001|applied\n0002|applied\n0003|applied\n0004|applied\n" >want &&
	test_cmp want rows &&
	pg_sql -d app -c "select relowner::regrole from pg_class where relname = '"'"'orders'"'"'" >owner &&
	echo weak >want && test_cmp want owner
'

test_done
