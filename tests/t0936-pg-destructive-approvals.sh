#!/bin/sh
test_description='destructive: {approvals: N} on PostgreSQL: a DROP inside a DO block that the build did not flag still needs N distinct, fresh, unrevoked approvals; the server is untouched until it has them'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"
. "$TEST_DIRECTORY/lib-pg.sh"

pg_start_app
# prod asks for approvals: its role is a plain one (pg_plain_db),
# privileged_role: refuse being its default (attack15h)
DB="postgresql://app@/app?host=$PGHOST"

# the server's state: t's columns, whether u exists, the books' versions
state() {
	pg_sql -d app -c "select string_agg(column_name, ' ' order by ordinal_position) from information_schema.columns where table_name = 't'" &&
	pg_sql -d app -c "select to_regclass('u') is not null" &&
	pg_sql -d app -c "select string_agg(version, ' ' order by version) from cairn.cairn_migrations"
}

test_expect_success 'setup: keys, the config, bundle v1 (nothing destructive) and v2 (a DROP hidden in a DO block, a dropped column)' '
	pg_plain_db app &&
	mkdir -p keys &&
	for k in alice bob carol; do
		cairn keygen --no-passphrase keys/$k >/dev/null 2>&1 || return 1
	done &&
	cat >cairn-apply.yaml <<-EOF &&
	defaults:
	  builders: [ci.pub]
	environments:
	  prod:
	    database: { dsn: "$DB" }
	    approvals: 1
	    approvers: [keys/alice.pub, keys/bob.pub, keys/carol.pub]
	    destructive: {approvals: 2}
	    revoked:
	      - {key: keys/carol.pub, since: 2020-01-01T00:00:00Z}
	EOF
	apply_project p &&
	sed -i -e "s/^drivers: .*/drivers: [postgres]/" \
		-e "s/^lint: {/lint: {contract-only: off, /" p/cairn.yaml &&
	apply_mig p 0001_t "CREATE TABLE t (id integer primary key, v text, w text);
INSERT INTO t VALUES (1, '"'"'a'"'"', '"'"'b'"'"');" "DROP TABLE t;" &&
	apply_mig p 0002_u "/* DROP TABLE t; in a comment runs nothing */
CREATE TABLE u (id integer);
COMMENT ON TABLE u IS '"'"'DROP TABLE t'"'"';
DELETE FROM u WHERE id = 1;" "DROP TABLE u;" &&
	apply_build p "$TRASH_DIRECTORY/v1.tar.gz" &&
	apply_mig p 0003_hidden "DO \$\$ BEGIN EXECUTE '"'"'DROP TABLE '"'"' || '"'"'u'"'"'; END \$\$;
-- cairn:allow drop-column w is unread since 0002
ALTER TABLE t DROP COLUMN w;" "SELECT 1;" &&
	apply_build p "$TRASH_DIRECTORY/v2.tar.gz" &&
	tar -xzOf v2.tar.gz --wildcards "*/manifest.yaml" >manifest &&
	test_grep ! "destructive: true" manifest &&
	test_grep ! "rule: opaque-code" manifest
'

test_expect_success 'a bundle with no destructive migration needs only the ordinary count' '
	cairn promote v1.tar.gz --to prod --key keys/alice.key >/dev/null 2>&1 &&
	cairn-apply apply v1.tar.gz --env prod >out &&
	test_grep "applied 2 migrations" out &&
	state >got &&
	printf "id v w\nt\n0001 0002\n" >want && test_cmp want got
'

test_expect_success 'one approval is refused (exit 3), naming the DO block and the waived drop; the server is unchanged' '
	cairn promote v2.tar.gz --to prod --key keys/alice.key >/dev/null 2>&1 &&
	test_expect_code 3 cairn-apply apply v2.tar.gz --env prod 2>err &&
	test_grep "refusing .v2.tar.gz. for .prod.: destructive: .prod. needs 2 approvals by distinct approvers .*, the bundle carries 1" err &&
	test_grep "migration .0003_hidden.: .*opaque-code at up.sql:1 (DO block (code the applier cannot read through))" err &&
	test_grep "drop-column at up.sql:3" err &&
	test_grep "the database is unchanged" err &&
	test_grep "^cairn-apply: next: cairn promote v2.tar.gz --to prod --key .*keys/bob.key$" err &&
	state >got &&
	printf "id v w\nt\n0001 0002\n" >want && test_cmp want got &&
	test_expect_code 3 cairn-apply plan v2.tar.gz --env prod 2>err &&
	test_grep "destructive: .*opaque-code at up.sql:1" err
'

test_expect_success 'status --format json names the DO block and the waived drop, needing 2 approvals, carrying 1' '
	cairn-apply status v2.tar.gz --env prod --format json >out 2>err &&
	test ! -s err &&
	destructive_json out >got &&
	cat >want <<-\EOF &&
	2 1 False True
	0003 0003_hidden drop-column up.sql:3 a waived lint finding (comment)
	0003 0003_hidden opaque-code up.sql:1 DO block (code the applier cannot read through)
	EOF
	test_cmp want got &&
	state >got &&
	printf "id v w\nt\n0001 0002\n" >want && test_cmp want got
'

test_expect_success 'the same signer twice, an expired approval and a revoked approver count for nothing' '
	tar -xzf v2.tar.gz --wildcards "*/approvals/prod-*" &&
	a=$(ls */approvals/prod-*.yaml) &&
	bob=$(cairn-apply config --env prod | sed -n "s/^ *\\([0-9a-f]\\{16\\}\\)  keys\\/bob.pub.*/\\1/p") &&
	python3 "$TEST_DIRECTORY/helpers/bundle-rewrite.py" v2.tar.gz twice.tar.gz --repack \
		"approvals/prod-$bob.yaml" "$a" "approvals/prod-$bob.sig" "${a%.yaml}.sig" &&
	test_expect_code 3 cairn-apply apply twice.tar.gz --env prod 2>err &&
	test_grep "named for key $bob" err &&
	cp v2.tar.gz exp.tar.gz &&
	cairn promote exp.tar.gz --to prod --key keys/bob.key --expires 1s >/dev/null 2>&1 &&
	cairn promote exp.tar.gz --to prod --key keys/carol.key >/dev/null 2>&1 &&
	sleep 2 &&
	test_expect_code 3 cairn-apply apply exp.tar.gz --env prod 2>err &&
	test_grep "destructive: .prod. needs 2 approvals.*carries 1; .approvals/prod-[0-9a-f]*.yaml. by keys/bob.pub ([0-9a-f]*) expired at" err &&
	test_grep "note: ignored: .approvals/prod-[0-9a-f]*.yaml. is signed by keys/carol.pub.*revoked since" err &&
	state >got &&
	printf "id v w\nt\n0001 0002\n" >want && test_cmp want got
'

test_expect_success 'two distinct approvers: it applies, and the DO block ran' '
	cairn promote v2.tar.gz --to prod --key keys/bob.key >/dev/null 2>&1 &&
	cairn-apply status v2.tar.gz --env prod --format json >out &&
	destructive_json out >got &&
	head -n 1 got >first && echo "2 2 True False" >want && test_cmp want first &&
	cairn-apply apply v2.tar.gz --env prod >out &&
	test_grep "applied 1 migration" out &&
	state >got &&
	printf "id v\nf\n0001 0002 0003\n" >want && test_cmp want got &&
	cairn-apply status v2.tar.gz --env prod --format json >out &&
	destructive_json out >got && echo none >want && test_cmp want got
'

test_done
