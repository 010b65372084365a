#!/bin/sh
test_description='destructive: {approvals: N} on SQLite: a bundle with a destructive migration still to run needs N distinct, fresh, unrevoked approvals; the applier finds the statements in the signed scripts itself'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"

unset CAIRN_ENV CAIRN_DB CAIRN_LOCK_TIMEOUT

cols() {
	sqlite3 prod.db "SELECT group_concat(name, ' ') FROM pragma_table_info('t')"
}

test_expect_success 'setup: keys, the config, bundle v1 (nothing destructive) and v2 (a dropped column, a DELETE without WHERE)' '
	mkdir -p keys &&
	for k in alice bob carol; do
		cairn keygen --no-passphrase keys/$k >/dev/null 2>&1 || return 1
	done &&
	cat >cairn-apply.yaml <<-\EOF &&
	defaults:
	  builders: [ci.pub]
	environments:
	  prod:
	    database: { dsn: "sqlite:prod.db" }
	    approvals: 1
	    approvers: [keys/alice.pub, keys/bob.pub, keys/carol.pub]
	    destructive: {approvals: 2}
	    revoked:
	      - {key: keys/carol.pub, since: 2020-01-01T00:00:00Z}
	EOF
	apply_project p &&
	apply_mig p 0001_t "CREATE TABLE t (id integer primary key, v text, w text);
INSERT INTO t VALUES (1, '"'"'a'"'"', '"'"'b'"'"');" "DROP TABLE t;" &&
	apply_mig p 0002_u "-- DROP TABLE t; in a comment runs nothing
CREATE TABLE u (id integer, note text DEFAULT '"'"'DELETE FROM t'"'"');
CREATE TRIGGER t_gone AFTER DELETE ON t BEGIN DELETE FROM u WHERE id = old.id; END;
INSERT INTO u (id) VALUES (1), (2);
UPDATE u SET id = id WHERE id = 1;" "DROP TABLE u;" &&
	apply_build p "$TRASH_DIRECTORY/v1.tar.gz" &&
	apply_mig p 0003_cleanup "ALTER TABLE t DROP COLUMN w;
DELETE FROM u;" "SELECT 1;" &&
	apply_build p "$TRASH_DIRECTORY/v2.tar.gz" &&
	cairn-apply config --env prod >out &&
	test_grep "^destructive    2 approvals for a bundle with a destructive migration to run  (file cairn-apply.yaml:8:30)" out
'

test_expect_success 'the builder flagged nothing: no destructive: true, no waiver in the signed manifest' '
	tar -xzOf v2.tar.gz --wildcards "*/manifest.yaml" >manifest &&
	test_grep ! "destructive: true" manifest &&
	test_grep ! "waivers:" manifest
'

test_expect_success 'a bundle with no destructive migration needs only the ordinary count' '
	cairn promote v1.tar.gz --to prod --key keys/alice.key >/dev/null 2>&1 &&
	cairn-apply apply v1.tar.gz --env prod >out &&
	test_grep "applied 2 migrations" out &&
	echo "id v w" >want && cols >got && test_cmp want got &&
	sqlite3 prod.db "SELECT count(*) FROM u" >n && echo 2 >want && test_cmp want n
'

test_expect_success 'one approval is refused (exit 3): the verdict names the migration, each rule, needed and found; the database is unchanged' '
	cairn promote v2.tar.gz --to prod --key keys/alice.key >/dev/null 2>&1 &&
	cp v2.tar.gz one.tar.gz &&
	test_expect_code 3 cairn-apply apply one.tar.gz --env prod >out 2>err &&
	test_grep "refusing .one.tar.gz. for .prod.: destructive: .prod. needs 2 approvals by distinct approvers (keys/alice.pub, keys/bob.pub, keys/carol.pub) for a bundle with a destructive migration to run (destructive: {approvals: 2} in its config), the bundle carries 1" err &&
	test_grep "waiting for them: migration .0003_cleanup.: drop-column at up.sql:1 (ALTER TABLE ... DROP COLUMN), delete-all at up.sql:2 (DELETE without WHERE)" err &&
	test_grep ! "0002_u" err &&
	test_grep "the database is unchanged" err &&
	test_grep "^cairn-apply: next: cairn promote one.tar.gz --to prod --key .*keys/bob.key$" err &&
	test_grep ! "next: .*alice" err &&
	echo "id v w" >want && cols >got && test_cmp want got &&
	sqlite3 prod.db "SELECT count(*) FROM u" >n && echo 2 >want && test_cmp want n &&
	sqlite3 prod.db "SELECT version FROM cairn_migrations ORDER BY 1" >rows &&
	printf "0001\n0002\n" >want && test_cmp want rows
'

test_expect_success 'plan refuses the same way; status shows what waits' '
	test_expect_code 3 cairn-apply plan one.tar.gz --env prod 2>err &&
	test_grep "destructive: .prod. needs 2 approvals.*carries 1.*migration .0003_cleanup.: drop-column at up.sql:1" err &&
	cairn-apply status one.tar.gz --env prod >out 2>err &&
	test_grep "note: the policy of .prod. would refuse .one.tar.gz.: destructive: .*migration .0003_cleanup.: drop-column" err
'

test_expect_success 'status --format json says the same: the destructive migration not applied, needing 2 approvals, carrying 1' '
	cairn-apply status one.tar.gz --env prod --format json >out 2>err &&
	test ! -s err &&
	destructive_json out >got &&
	cat >want <<-\EOF &&
	2 1 False True
	0003 0003_cleanup drop-column up.sql:1 ALTER TABLE ... DROP COLUMN
	0003 0003_cleanup delete-all up.sql:2 DELETE without WHERE
	EOF
	test_cmp want got &&
	python3 -c "import json,sys; m=json.load(open(\"out\"))[\"destructive\"][\"message\"]; sys.exit(\"needs 2 approvals\" not in m or \"carries 1\" not in m)" &&
	sqlite3 prod.db "SELECT version FROM cairn_migrations ORDER BY 1" >rows &&
	printf "0001\n0002\n" >want && test_cmp want rows
'

test_expect_success 'the same signer twice: a copy of its approval under a second approver.s name is refused' '
	tar -xzf one.tar.gz --wildcards "*/approvals/prod-*" &&
	a=$(ls */approvals/prod-*.yaml) &&
	bob=$(cairn-apply config --env prod | sed -n "s/^ *\([0-9a-f]\{16\}\)  keys\/bob.pub.*/\1/p") &&
	test -n "$bob" &&
	python3 "$TEST_DIRECTORY/helpers/bundle-rewrite.py" one.tar.gz twice.tar.gz --repack \
		"approvals/prod-$bob.yaml" "$a" "approvals/prod-$bob.sig" "${a%.yaml}.sig" &&
	test $(tar -tzf twice.tar.gz | grep -c "approvals/prod-.*yaml") = 2 &&
	test_expect_code 3 cairn-apply apply twice.tar.gz --env prod 2>err &&
	test_grep "approvals/prod-$bob.yaml. (approval by keys/alice.pub .*): signed with key [0-9a-f]* but named for key $bob" err &&
	test_grep "the database is unchanged" err &&
	echo "id v w" >want && cols >got && test_cmp want got
'

test_expect_success 'an expired approval does not count' '
	cp one.tar.gz exp.tar.gz &&
	cairn promote exp.tar.gz --to prod --key keys/bob.key --expires 1s >/dev/null 2>&1 &&
	sleep 2 &&
	test_expect_code 3 cairn-apply apply exp.tar.gz --env prod 2>err &&
	test_grep "destructive: .prod. needs 2 approvals.*carries 1; .approvals/prod-[0-9a-f]*.yaml. by keys/bob.pub ([0-9a-f]*) expired at" err &&
	echo "id v w" >want && cols >got && test_cmp want got
'

test_expect_success 'a revoked approver does not count' '
	cp one.tar.gz rev.tar.gz &&
	cairn promote rev.tar.gz --to prod --key keys/carol.key >/dev/null 2>&1 &&
	test_expect_code 3 cairn-apply apply rev.tar.gz --env prod 2>err &&
	test_grep "destructive: .prod. needs 2 approvals.*carries 1" err &&
	test_grep "note: ignored: .approvals/prod-[0-9a-f]*.yaml. is signed by keys/carol.pub.*revoked since" err &&
	echo "id v w" >want && cols >got && test_cmp want got
'

test_expect_success 'the next: line, pasted, adds the second approval; then it applies' '
	cp one.tar.gz ok.tar.gz &&
	test_expect_code 3 cairn-apply apply ok.tar.gz --env prod 2>err &&
	sed -n "s/^cairn-apply: next: //p" err >next &&
	test_line_count = 1 next &&
	sh -c "$(cat next)" >/dev/null 2>&1 &&
	cairn-apply status ok.tar.gz --env prod --format json >out &&
	destructive_json out >got &&
	head -n 1 got >first && echo "2 2 True False" >want && test_cmp want first &&
	test_line_count = 3 got &&
	cairn-apply apply ok.tar.gz --env prod >out &&
	test_grep "applied 1 migration" out &&
	echo "id v" >want && cols >got && test_cmp want got &&
	sqlite3 prod.db "SELECT count(*) FROM u" >n && echo 0 >want && test_cmp want n
'

test_expect_success 'once applied, the destructive migration waits for nothing: a later bundle needs the ordinary count' '
	apply_table p 0004_x &&
	apply_build p "$TRASH_DIRECTORY/v3.tar.gz" &&
	cairn promote v3.tar.gz --to prod --key keys/alice.key >/dev/null 2>&1 &&
	cairn-apply apply v3.tar.gz --env prod >out &&
	test_grep "applied 1 migration" out &&
	sqlite3 prod.db "SELECT count(*) FROM t_0004_x" >n && echo 0 >want && test_cmp want n &&
	cairn-apply status v3.tar.gz --env prod >out 2>err &&
	test_grep ! "destructive" err &&
	cairn-apply status v3.tar.gz --env prod --format json >out &&
	destructive_json out >got && echo none >want && test_cmp want got
'

test_expect_success 'a new database: the old destructive migration is still to run, so it counts again' '
	sed "s/prod.db/fresh.db/" cairn-apply.yaml >fresh.yaml &&
	test_expect_code 3 cairn-apply apply v3.tar.gz --env prod --config fresh.yaml 2>err &&
	test_grep "destructive: .*migration .0003_cleanup.: drop-column" err &&
	test_grep "the database is unchanged" err &&
	sqlite3 fresh.db "SELECT count(*) FROM sqlite_master WHERE name IN (\"t\", \"u\")" >n &&
	echo 0 >want && test_cmp want n
'

test_expect_success 'a harmless up.sqlite.sql beside a destructive up.postgres.sql: applying on SQLite still needs the larger count' '
	apply_project q &&
	sed -i -e "s/^drivers: .*/drivers: [sqlite, postgres]/" \
		-e "s/^lint: {/lint: {contract-only: off, /" q/cairn.yaml &&
	apply_mig q 0001_t "CREATE TABLE t (id integer primary key);" "DROP TABLE t;" &&
	apply_mig q 0002_drop "SELECT 1;" "SELECT 1;" &&
	mv q/migrations/0002_drop/up.sql q/migrations/0002_drop/up.sqlite.sql &&
	printf "DROP TABLE t;\n" >q/migrations/0002_drop/up.postgres.sql &&
	apply_build q "$TRASH_DIRECTORY/q.tar.gz" &&
	tar -tzf q.tar.gz | grep -q "0002_drop/up.postgres.sql" &&
	cairn promote q.tar.gz --to prod --key keys/alice.key >/dev/null 2>&1 &&
	sed "s/prod.db/q.db/" cairn-apply.yaml >q.yaml &&
	test_expect_code 3 cairn-apply apply q.tar.gz --env prod --config q.yaml 2>err &&
	test_grep "destructive: .*migration .0002_drop.: drop-table at up.postgres.sql:1 (DROP TABLE)" err &&
	test_grep ! "up.sqlite.sql" err &&
	sqlite3 q.db "SELECT count(*) FROM sqlite_master" >n && echo 0 >want && test_cmp want n
'

test_expect_success 'a destructive statement in an apply callback counts while a migration is to run; a rollback callback does not' '
	apply_project c &&
	apply_mig c 0001_t "CREATE TABLE t (id integer primary key);" "DROP TABLE t;" &&
	mkdir -p c/migrations/callbacks &&
	echo "CREATE TABLE IF NOT EXISTS log (x int);" >c/migrations/callbacks/before_migrate.sql &&
	echo "DROP TABLE IF EXISTS scratch;" >c/migrations/callbacks/after_rollback.sql &&
	apply_build c "$TRASH_DIRECTORY/c1.tar.gz" &&
	cairn promote c1.tar.gz --to prod --key keys/alice.key >/dev/null 2>&1 &&
	sed "s/prod.db/c.db/" cairn-apply.yaml >c.yaml &&
	cairn-apply apply c1.tar.gz --env prod --config c.yaml >out &&
	echo "DELETE FROM log;" >c/migrations/callbacks/before_each.sql &&
	apply_table c 0002_u &&
	apply_build c "$TRASH_DIRECTORY/c2.tar.gz" &&
	cairn promote c2.tar.gz --to prod --key keys/alice.key >/dev/null 2>&1 &&
	test_expect_code 3 cairn-apply apply c2.tar.gz --env prod --config c.yaml 2>err &&
	test_grep "destructive: .*migration .callbacks.: delete-all at before_each.sql:1 (DELETE without WHERE)" err &&
	test_grep ! "after_rollback" err &&
	sqlite3 c.db "SELECT version FROM cairn_migrations" >v && echo 0001 >want && test_cmp want v &&
	cp c2.tar.gz c2one.tar.gz &&
	cairn promote c2.tar.gz --to prod --key keys/bob.key >/dev/null 2>&1 &&
	cairn-apply apply c2.tar.gz --env prod --config c.yaml >out &&
	test_grep "applied 1 migration" out &&
	cairn-apply apply c2one.tar.gz --env prod --config c.yaml >out &&
	test_grep "nothing to apply" out
'

test_expect_success 'the config: approvals must be a number from 1, and no more than the approvers' '
	sed "s/destructive: {approvals: 2}/destructive: {approvals: 4}/" cairn-apply.yaml >four.yaml &&
	test_must_fail cairn-apply config --env prod --config four.yaml 2>err &&
	test_grep "four.yaml:8:.*needs 4 approvals for destructive migrations but names 3 distinct approvers" err &&
	sed "s/destructive: {approvals: 2}/destructive: {approvals: 0}/" cairn-apply.yaml >zero.yaml &&
	test_must_fail cairn-apply config --env prod --config zero.yaml 2>err &&
	test_grep "zero.yaml:8:.*must be a whole number from 1" err &&
	sed "s/destructive: {approvals: 2}/destructive: {aprovals: 2}/" cairn-apply.yaml >typo.yaml &&
	test_must_fail cairn-apply config --env prod --config typo.yaml 2>err &&
	test_grep "unknown key .aprovals. in destructive" err
'

test_done
