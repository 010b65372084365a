#!/bin/sh
test_description='expand and contract phases: the contract-only rule, the manifest, contract statements (issue #22), on SQLite'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"

unset CAIRN_ENV CAIRN_DB CAIRN_LOCK_TIMEOUT

test_expect_success 'setup: keys, the applier config' '
	phase_setup sqlite:prod.db
'

test_expect_success 'check: each backward-incompatible statement in an expand migration is an error, with the fix' '
	phase_project c &&
	apply_mig c 0001_t "CREATE TABLE t (id integer primary key, v text, w text);" "DROP TABLE t;" &&
	apply_mig c 0002_bad "-- cairn:allow contract-only trying to waive it
ALTER TABLE t DROP COLUMN v;
ALTER TABLE t RENAME COLUMN w TO w2;
ALTER TABLE t RENAME TO t2;
ALTER TABLE t ADD COLUMN n integer NOT NULL;
ALTER TABLE t ALTER COLUMN w TYPE integer;
ALTER TABLE t ALTER COLUMN w SET NOT NULL;
ALTER TABLE t ADD CONSTRAINT c CHECK (id > 0) NOT VALID;
DROP TABLE old_t;" "SELECT 1;" "lint: {allow: [contract-only]}" &&
	test_commit c one &&
	test_expect_code 1 cairn -C c check >out 2>&1 &&
	test_grep "migrations/0002_bad/up.sql:2: error: contract-only: DROP COLUMN on t breaks the release still running; this migration.s phase is expand (the default).*phase: contract.*cairn promote BUNDLE --to ENV --contract" out &&
	test_grep "up.sql:3: error: contract-only: RENAME COLUMN on t" out &&
	test_grep "up.sql:4: error: contract-only: RENAME TO on t" out &&
	test_grep "up.sql:5: error: contract-only: ADD COLUMN ... NOT NULL without a default on t" out &&
	test_grep "up.sql:6: error: contract-only: ALTER COLUMN ... TYPE on t" out &&
	test_grep "up.sql:7: error: contract-only: SET NOT NULL on t" out &&
	test_grep "up.sql:8: error: contract-only: ADD CONSTRAINT ... CHECK on t" out &&
	test_grep "up.sql:9: error: contract-only: DROP TABLE on old_t" out &&
	test $(grep -c "error: contract-only:" out) = 8
'

test_expect_success 'check: neither waiver nor destructive: true lets one through; the waivers are unused' '
	test_grep "warning: unused-waiver: cairn:allow contract-only waives nothing" out &&
	test_grep "migration.yaml:1: warning: unused-waiver: lint: allow lists contract-only" out &&
	printf "destructive: true\n" >c/migrations/0002_bad/migration.yaml &&
	test_commit c destructive &&
	test_expect_code 1 cairn -C c check >out 2>&1 &&
	test $(grep -c "error: contract-only:" out) = 8
'

test_expect_success 'check: phase: contract accepts them; compatible statements and new tables stay clean' '
	printf "phase: contract\ndestructive: true\nlint: {allow: [required-column]}\n" \
		>c/migrations/0002_bad/migration.yaml &&
	apply_mig c 0003_ok "CREATE TABLE n (id integer);
ALTER TABLE n ADD COLUMN x integer NOT NULL;
ALTER TABLE n RENAME COLUMN x TO y;
DROP TABLE n;
ALTER TABLE t ADD COLUMN z text;
ALTER TABLE t ADD COLUMN d integer NOT NULL DEFAULT 0;
CREATE TABLE n2 (id integer);" "DROP TABLE n2;" &&
	test_commit c two &&
	cairn -C c check >out 2>&1 &&
	! grep "error: contract-only" out
'

test_expect_success 'check: a phase other than expand or contract is an error' '
	printf "phase: later\n" >c/migrations/0003_ok/migration.yaml &&
	test_commit c bad-phase &&
	test_expect_code 1 cairn -C c check >out 2>&1 &&
	test_grep "0003_ok/migration.yaml:1: error: .*phase.*expand.*contract" out
'

test_expect_success 'build: the manifest says phase: contract for the contract migration only' '
	phase_project p &&
	apply_mig p 0001_t "CREATE TABLE t (id integer primary key, v text);" "DROP TABLE t;" &&
	apply_mig p 0002_drop_v "ALTER TABLE t DROP COLUMN v;" "ALTER TABLE t ADD COLUMN v text;" "phase: contract
destructive: true" &&
	apply_mig p 0003_u "CREATE TABLE u (id integer);" "DROP TABLE u;" &&
	test_commit p one &&
	(cd p && cairn build --sign ../keys/ci.key -o ../b.tar.gz >/dev/null 2>&1) &&
	tar -xzOf b.tar.gz --wildcards "*/manifest.yaml" >manifest &&
	test $(grep -c "^    phase: contract$" manifest) = 1 &&
	sed -n "/name: .0002_drop_v/,/files:/p" manifest >m2 &&
	test_grep "phase: contract" m2 &&
	! grep phase manifest | grep -v "phase: contract" &&
	cairn inspect b.tar.gz >/dev/null
'

test_expect_success 'apply: expand migrations run, the contract one and those after it wait (exit 7)' '
	cairn promote b.tar.gz --to prod --key keys/alice.key >/dev/null 2>&1 &&
	test_expect_code 7 cairn-apply apply b.tar.gz --env prod >out 2>err &&
	test_grep "applied 1 migration; prod.db is at version 0001; 2 wait for a contract statement" out &&
	test_grep "cairn-apply: migration 0002_drop_v is phase: contract, and .prod. has no contract statement for this bundle: it and the 1 after it were not applied" err &&
	test_grep "cairn promote b.tar.gz --to prod --contract --key KEY" err &&
	test "$(q prod.db "SELECT version || \":\" || state FROM cairn_migrations ORDER BY version")" = "0001:applied" &&
	q prod.db "SELECT name FROM pragma_table_info(\"t\")" >cols &&
	test_grep "^v$" cols &&
	test -z "$(q prod.db "SELECT name FROM sqlite_master WHERE name = \"u\"")" &&
	cairn-apply history --db sqlite:prod.db --verify >/dev/null
'

test_expect_success 'plan and status show what waits' '
	cairn-apply plan b.tar.gz --env prod >plan &&
	test_grep "wait   0002_drop_v: phase: contract: waits for a contract statement" plan &&
	test_grep "wait   0003_u: after a contract migration that waits" plan &&
	cairn-apply status b.tar.gz --env prod >st &&
	test_grep "^0002 *pending .*0002_drop_v  (phase: contract: applies only with a contract statement" st &&
	test_grep "^0003 *pending .*0003_u  (after a contract migration: waits with it)" st &&
	cairn-apply status b.tar.gz --env prod --format json >st.json &&
	test_grep "\"migration\":\"0002_drop_v\",\"state\":\"pending\",\"phase\":\"contract\",\"waits_for_contract\":true" st.json
'

test_expect_success 'status with --key (no policy, as apply --key) holds nothing back' '
	cairn-apply status b.tar.gz --db sqlite:prod.db --key keys/ci.pub >st &&
	test_grep "^0002 *pending .*0002_drop_v$" st &&
	test_grep ! "waits" st &&
	cairn-apply status b.tar.gz --db sqlite:prod.db --key keys/ci.pub --format json >st.json &&
	test_grep "\"migration\":\"0002_drop_v\",\"state\":\"pending\",\"phase\":\"contract\"" st.json &&
	test_grep ! "waits_for_contract" st.json
'

test_expect_success 'a contract statement by a key that is not an approver counts for nothing' '
	cairn promote b.tar.gz --to prod --contract --key keys/eve.key -o eve.tar.gz >/dev/null 2>&1 &&
	tar -tzf eve.tar.gz | grep "approvals/prod-contract-[0-9a-f]*.yaml" &&
	test_expect_code 7 cairn-apply apply eve.tar.gz --env prod >out 2>err &&
	test "$(q prod.db "SELECT count(*) FROM cairn_migrations")" = 1
'

test_expect_success 'an approver signs the contract statement: the rest applies' '
	cairn promote b.tar.gz --to prod --contract --key keys/alice.key 2>err >/dev/null &&
	test_grep "contract migrations approved in sha256:[0-9a-f]* for .prod." err &&
	cairn-apply apply b.tar.gz --env prod >out &&
	test_grep "applied 2 migrations; prod.db is at version 0003" out &&
	q prod.db "SELECT name FROM pragma_table_info(\"t\")" >cols &&
	! grep "^v$" cols &&
	test "$(q prod.db "SELECT name FROM sqlite_master WHERE name = \"u\"")" = u &&
	q prod.db "SELECT detail FROM cairn_audit WHERE detail LIKE \"%0002_drop_v%\"" >detail &&
	test_grep "contract approvals/prod-contract-[0-9a-f]*.yaml" detail &&
	cairn-apply history --db sqlite:prod.db --verify >/dev/null
'

test_expect_success '--key mode (a developer database, no policy) applies contract migrations' '
	cairn-apply apply b.tar.gz --env dev --db sqlite:dev.db --key keys/ci.pub >out &&
	test_grep "applied 3 migrations" out
'

test_done
