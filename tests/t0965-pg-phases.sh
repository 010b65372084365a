#!/bin/sh
test_description='expand and contract phases on PostgreSQL (issue #22): the contract migration waits for the signed contract statement on the real server; inspect shows each phase'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"
. "$TEST_DIRECTORY/lib-pg.sh"

pg_start_app
# prod asks for approvals: its role is a plain one (pg_plain_db),
# privileged_role: refuse being its default (attack15h)
DB="postgresql://app@/app?host=$PGHOST"

test_expect_success 'setup: keys, the config, a bundle: expand, contract, expand' '
	pg_plain_db app &&
	phase_setup "$DB" &&
	pg_project p &&
	apply_mig p 0001_t "CREATE TABLE t (id integer primary key, v text, w text);
INSERT INTO t VALUES (1, '"'"'a'"'"', '"'"'b'"'"');" "DROP TABLE t;" &&
	apply_mig p 0002_drop_v "ALTER TABLE t DROP COLUMN v;" "ALTER TABLE t ADD COLUMN v text;" "phase: contract
destructive: true" &&
	apply_mig p 0003_u "CREATE TABLE u (id integer);" "DROP TABLE u;" &&
	test_commit p one &&
	(cd p && cairn build --sign ../keys/ci.key -o ../b.tar.gz >/dev/null 2>&1) &&
	cairn promote b.tar.gz --to prod --key keys/alice.key >/dev/null 2>&1
'

test_expect_success 'inspect shows each migration.s phase' '
	cairn inspect b.tar.gz >out &&
	test_grep "0002_drop_v .*\[phase: contract\]" out &&
	test $(grep -c "phase: contract" out) = 1 &&
	cairn inspect b.tar.gz --format json >out.json &&
	test_grep "\"name\":\"0001_t\".*\"phase\":\"expand\"" out.json &&
	test_grep "\"name\":\"0002_drop_v\".*\"phase\":\"contract\"" out.json &&
	test $(grep -o "\"phase\":\"[a-z]*\"" out.json | wc -l) = 3
'

test_expect_success 'apply without a contract statement: 0001 applied, 0002 and 0003 wait (exit 7), the column is still there' '
	test_expect_code 7 cairn-apply apply b.tar.gz --env prod >out 2>err &&
	test_grep "applied 1 migration; .* is at version 0001; 2 wait for a contract statement" out &&
	test_grep "migration 0002_drop_v is phase: contract, and .prod. has no contract statement for this bundle" err &&
	pg_sql -d app -c "select version, state from cairn.cairn_migrations order by 1" >rows &&
	echo "0001|applied" >want && test_cmp want rows &&
	pg_sql -d app -c "select count(*) from information_schema.columns where table_name = '"'"'t'"'"' and column_name = '"'"'v'"'"'" >n &&
	echo 1 >want && test_cmp want n &&
	pg_sql -d app -c "select to_regclass('"'"'u'"'"') is null" >u &&
	echo t >want && test_cmp want u &&
	cairn-apply plan b.tar.gz --env prod >plan &&
	test_grep "wait   0002_drop_v: phase: contract: waits for a contract statement" plan &&
	test_grep "wait   0003_u: after a contract migration that waits" plan &&
	cairn-apply status b.tar.gz --env prod >st &&
	test_grep "^0001 *applied" st &&
	test_grep "^0002 *pending .*0002_drop_v  (phase: contract: applies only with a contract statement" st &&
	test_grep "^0003 *pending .*0003_u  (after a contract migration: waits with it)" st
'

test_expect_success 'a contract statement by a non-approver counts for nothing on the server either' '
	cairn promote b.tar.gz --to prod --contract --key keys/eve.key -o eve.tar.gz >/dev/null 2>&1 &&
	test_expect_code 7 cairn-apply apply eve.tar.gz --env prod >out 2>err &&
	pg_sql -d app -c "select count(*) from cairn.cairn_migrations" >n &&
	echo 1 >want && test_cmp want n &&
	pg_sql -d app -c "select count(*) from information_schema.columns where table_name = '"'"'t'"'"' and column_name = '"'"'v'"'"'" >n &&
	echo 1 >want && test_cmp want n
'

test_expect_success 'status evaluates the policy: a bundle without approvals is a note, not a refusal' '
	cairn-apply status eve.tar.gz --env prod >st 2>err &&
	test_grep "^0002 *pending .*(phase: contract: applies only with a contract statement" st &&
	(cd p && cairn build --sign ../keys/ci.key -o ../unapproved.tar.gz >/dev/null 2>&1) &&
	cairn-apply status unapproved.tar.gz --env prod >st 2>err &&
	test_grep "note: the policy of .prod. would refuse .unapproved.tar.gz.: approvals" err &&
	test_grep "^0002 *pending" st
'

test_expect_success 'the approver signs the contract statement: the column goes, 0003 runs, the audit names the statement' '
	cairn promote b.tar.gz --to prod --contract --key keys/alice.key >/dev/null 2>&1 &&
	cairn-apply apply b.tar.gz --env prod >out &&
	test_grep "applied 2 migrations; .* is at version 0003" out &&
	pg_sql -d app -c "select version, state from cairn.cairn_migrations order by 1" >rows &&
	printf "0001|applied\n0002|applied\n0003|applied\n" >want && test_cmp want rows &&
	pg_sql -d app -c "select count(*) from information_schema.columns where table_name = '"'"'t'"'"' and column_name = '"'"'v'"'"'" >n &&
	echo 0 >want && test_cmp want n &&
	pg_sql -d app -c "select to_regclass('"'"'u'"'"') is not null" >u &&
	echo t >want && test_cmp want u &&
	pg_sql -d app -c "select detail from cairn.cairn_audit where action = '"'"'apply'"'"' and version = '"'"'0002'"'"'" >detail &&
	test_grep "contract approvals/prod-contract-[0-9a-f]*.yaml" detail &&
	cairn-apply history --db "$DB" --verify >h &&
	test_grep "audit chain intact" h &&
	cairn-apply status b.tar.gz --env prod >st &&
	test_grep ! "waits" st &&
	test_grep "^0003 *applied" st
'

test_done
