#!/bin/sh
test_description='cairn-apply preflight (and apply --preflight) makes the privileged-role check apply makes (issue #15, attack15i): a role apply would refuse fails the check (exit 3, the refusal and its way out), a role apply would warn about passes with the warning, text and json'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"
. "$TEST_DIRECTORY/lib-pg.sh"

pg_start_app
SU="postgresql:///su?host=$PGHOST"

# state DB: cairn's books and the tables of database DB, as the catalog has them
state() {
	pg_sql -d "$1" -c "select count(*) from pg_namespace where nspname = 'cairn'" &&
	pg_sql -d "$1" -c "select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = 'public' and c.relkind = 'r' order by 1"
}

# prod_config FILE DSN [LINE]: environment prod on DSN, one approval by
# alice, LINE added under prod; environment dev on DSN asks a build only
prod_config() {
	cat >"$1" <<-EOF
	defaults:
	  builders: [ci.pub]
	environments:
	  prod:
	    database: { dsn: "$2" }
	    approvals: 1
	    approvers: [alice.pub]
	    $3
	  dev:
	    database: { dsn: "$2" }
	EOF
}

test_expect_success 'setup: a bundle approved for prod; a database of the superuser, one of a plain role' '
	pg_project p &&
	apply_table p 0001_users &&
	apply_build p "$TRASH_DIRECTORY/v1.tar.gz" &&
	for k in alice host; do
		cairn keygen --no-passphrase $k >/dev/null 2>&1 || return 1
	done &&
	cairn promote v1.tar.gz --to prod --key alice.key >/dev/null 2>&1 &&
	pg_fresh_db su &&
	pg_plain_db plain &&
	prod_config su.yaml "$SU" &&
	prod_config warn.yaml "$SU" "postgres: { privileged_role: warn }" &&
	prod_config plain.yaml "postgresql://plain@/plain?host=$PGHOST" &&
	state su >before
'

# Before attack15i: every check passed (exit 0), and the apply was then refused.
test_expect_success 'approvals asked, privileged_role unset: the superuser fails the role check, exit 3 as apply, the refusal and the way out, nothing written' '
	test_expect_code 3 cairn-apply preflight v1.tar.gz --env prod --config su.yaml >out 2>err &&
	test_grep "^  FAIL  role         refusing to apply on postgres cairn@.*/su: role cairn is a superuser, so its migrations can hide writes to cairn.s books from the books guard .*; connect as a role that is neither, or set postgres: {privileged_role: warn} for environment .prod. (privileged_role: refuse, the default where approvals are required)" out &&
	test_grep "^preflight: 1 check failed: apply would not go through (exit 3)" out &&
	test_expect_code 3 cairn-apply apply v1.tar.gz --env prod --config su.yaml >aout 2>aerr &&
	sed -n "s/^  FAIL  role         //p" out >said &&
	sed -n "s/^cairn-apply: //p" aerr | head -n 1 >refused &&
	test_cmp refused said &&
	state su >after && test_cmp before after
'

test_expect_success 'the same in json: the check named "role", status fail, exit 3' '
	test_expect_code 3 cairn-apply preflight v1.tar.gz --env prod --config su.yaml \
		--log-format json >out &&
	python3 -c "
import json
o = json.load(open(\"out\"))
assert o[\"ok\"] is False and o[\"exit\"] == 3, o
bad = [c for c in o[\"checks\"] if c[\"status\"] == \"fail\"]
assert [c[\"check\"] for c in bad] == [\"role\"], bad
assert \"role cairn is a superuser\" in bad[0][\"detail\"], bad
assert \"privileged_role: warn} for environment \x27prod\x27\" in bad[0][\"detail\"], bad
" &&
	state su >after && test_cmp before after
'

test_expect_success 'privileged_role: warn: the check passes with the warning apply prints (text and json), exit 0' '
	cairn-apply preflight v1.tar.gz --env prod --config warn.yaml >out 2>err &&
	test_grep "^  warn  role         role cairn is a superuser: its migrations can hide writes to cairn.s books from the books guard; connect as a role that is neither" out &&
	test_grep "^preflight: every check passed" out &&
	cairn-apply preflight v1.tar.gz --env prod --config warn.yaml --log-format json >out &&
	python3 -c "
import json
o = json.load(open(\"out\"))
assert o[\"ok\"] is True and o[\"exit\"] == 0, o
r = [c for c in o[\"checks\"] if c[\"check\"] == \"role\"]
assert len(r) == 1 and r[0][\"status\"] == \"warn\", r
assert r[0][\"detail\"].startswith(\"role cairn is a superuser: \"), r
" &&
	state su >after && test_cmp before after
'

test_expect_success 'a build-only environment: a warning; with apply --preflight --receipt-key the check fails as that apply would (the default for a run that signs a receipt)' '
	cairn-apply preflight v1.tar.gz --env dev --config su.yaml >out 2>err &&
	test_grep "^  warn  role         role cairn is a superuser" out &&
	test_expect_code 3 cairn-apply apply v1.tar.gz --env dev --config su.yaml --preflight \
		--receipt-key host.key >out 2>err &&
	test_grep "^  FAIL  role         refusing to apply on .*: role cairn is a superuser.*(privileged_role: refuse, the default for a run that signs a receipt)" out &&
	test_grep "preflight failed: nothing was applied; the database is unchanged" err &&
	state su >after && test_cmp before after
'

test_expect_success 'a plain role: the role check passes; apply --preflight applies' '
	cairn-apply preflight v1.tar.gz --env prod --config plain.yaml >out 2>err &&
	test_grep "^  pass  role         the role can hide no write from the books guard" out &&
	test_grep "^preflight: every check passed" out &&
	cairn-apply apply v1.tar.gz --env prod --config plain.yaml --preflight >out 2>err &&
	test_grep "applied 1 migration" out &&
	pg_sql -d plain -c "select version || '"'"'|'"'"' || state from cairn.cairn_migrations" >got &&
	echo "0001|applied" >want && test_cmp want got
'

test_expect_success 'the role check in the metrics: 0 when it failed, 1 with a warning' '
	test_expect_code 3 cairn-apply preflight v1.tar.gz --env prod --config su.yaml \
		--metrics-file f.prom >out &&
	grep "^cairn_preflight_check_passed{env=\"prod\",check=\"role\"} 0$" f.prom &&
	cairn-apply preflight v1.tar.gz --env prod --config warn.yaml --metrics-file w.prom >out &&
	grep "^cairn_preflight_check_passed{env=\"prod\",check=\"role\"} 1$" w.prom
'

test_done
