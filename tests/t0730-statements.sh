#!/bin/sh
test_description='statements age and keys rotate: strip, revoked keys, future dates, max_approval_age (issue #15)'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-attack.sh"

unset CAIRN_ENV CAIRN_DB CAIRN_LOCK_TIMEOUT CAIRN_APPLY_CONFIG

kid() {
	openssl pkey -pubin -in "$1" -outform DER | tail -c 32 | sha256sum | cut -c1-16
}

test_expect_success 'setup: keys and a bundle signed by the old CI key' '
	mkdir -p keys &&
	for k in ci ci2 alice bob dba; do
		cairn keygen --no-passphrase keys/$k >/dev/null 2>&1 || return 1
	done &&
	test_create_project shop &&
	test_migration shop 20260101000000_users &&
	test_commit shop v1 &&
	(cd shop && cairn build --sign ../keys/ci.key -o ../b.tar.gz >/dev/null 2>&1) &&
	cairn inspect b.tar.gz | sed -n "s/^id *//p" >id.before
'

test_expect_success 'strip removes the statements a key signed; the bundle id stays' '
	cp b.tar.gz s.tar.gz &&
	cairn sign s.tar.gz --key keys/ci2.key >/dev/null 2>&1 &&
	cairn promote s.tar.gz --to dev --key keys/ci.key >/dev/null 2>&1 &&
	test "$(tar tzf s.tar.gz | grep -c "$(kid keys/ci.pub)")" = 4 &&
	cairn strip s.tar.gz --key-id "$(kid keys/ci.pub)" >out 2>err &&
	test_grep "^s.tar.gz$" out &&
	test_grep "removed 2 statements by key $(kid keys/ci.pub)" err &&
	test "$(tar tzf s.tar.gz | grep -c "$(kid keys/ci.pub)")" = 0 &&
	test "$(tar tzf s.tar.gz | grep -c "$(kid keys/ci2.pub)")" = 2 &&
	cairn inspect s.tar.gz | sed -n "s/^id *//p" >id.after &&
	test_cmp id.before id.after &&
	cairn verify s.tar.gz --key keys/ci2.pub >/dev/null &&
	test_expect_code 3 cairn verify s.tar.gz --key keys/ci.pub 2>err &&
	test_expect_code 1 cairn strip s.tar.gz --key-id "$(kid keys/ci.pub)" 2>err &&
	test_grep "holds no statement by key" err &&
	test_expect_code 2 cairn strip s.tar.gz --key-id nothex 2>err &&
	test_grep "is not a key id" err &&
	cairn strip b.tar.gz --key-id "$(kid keys/ci.pub)" -o none.tar.gz >/dev/null 2>&1 &&
	cairn inspect none.tar.gz >out &&
	test_grep "none: unsigned" out
'

test_expect_success 'key rotation, as docs/runbooks/key-rotation.md says, end to end' '
	cat >cairn-apply.yaml <<-\EOF &&
	defaults:
	  builders: [keys/ci.pub, keys/ci2.pub]
	environments:
	  prod:
	    database: { dsn: "sqlite:prod.db" }
	    approvers: [keys/alice.pub]
	EOF
	cp b.tar.gz r.tar.gz &&
	cairn promote r.tar.gz --to prod --key keys/alice.key >/dev/null 2>&1 &&
	cairn-apply verify r.tar.gz --env prod >/dev/null &&
	cairn sign r.tar.gz --key keys/ci2.key >/dev/null 2>&1 &&
	cat >cairn-apply.yaml <<-\EOF &&
	defaults:
	  builders: [keys/ci2.pub]
	  revoked:
	    - {key: keys/ci.pub}
	environments:
	  prod:
	    database: { dsn: "sqlite:prod.db" }
	    approvers: [keys/alice.pub]
	EOF
	cairn-apply verify r.tar.gz --env prod >out 2>err &&
	test_grep "signatures/$(kid keys/ci.pub).yaml.* revoked" out &&
	cairn-apply apply r.tar.gz --env prod >out &&
	test_grep "applied 1 migration" out &&
	sqlite3 prod.db "SELECT detail FROM cairn_audit WHERE action = '"'"'apply'"'"'" >detail &&
	test_grep "ignored: .signatures/$(kid keys/ci.pub).yaml" detail &&
	cairn strip r.tar.gz --key-id "$(kid keys/ci.pub)" >/dev/null 2>&1 &&
	cairn-apply verify r.tar.gz --env prod >out &&
	test_grep ! "$(kid keys/ci.pub)" out &&
	cp b.tar.gz old-only.tar.gz &&
	cairn promote old-only.tar.gz --to prod --key keys/alice.key >/dev/null 2>&1 &&
	test_expect_code 3 cairn-apply verify old-only.tar.gz --env prod 2>err &&
	test_grep "build signature by unknown key $(kid keys/ci.pub)" err
'

test_expect_success 'setup: a policy with staging before prod, and a receipt key' '
	cairn keygen --no-passphrase keys/stg >/dev/null 2>&1 &&
	cat >age.yaml <<-\EOF
	defaults:
	  builders: [keys/ci.pub]
	environments:
	  staging:
	    database: { dsn: "sqlite:stg.db" }
	    approvers: [keys/alice.pub]
	  prod:
	    database: { dsn: "sqlite:prod2.db" }
	    approvers: [keys/bob.pub]
	    after: staging
	    receipts_from: [keys/stg.pub]
	    max_approval_age: 7d
	EOF
'

test_expect_success 'an approval dated in the future (2099) is refused' '
	statement_add b.tar.gz f.tar.gz keys/alice approval staging 2099-01-01T00:00:00Z &&
	test_expect_code 3 cairn-apply verify f.tar.gz --env staging --config age.yaml 2>err &&
	test_grep "future-statement: .approvals/staging-$(kid keys/alice.pub).yaml. is dated 2099-01-01T00:00:00Z, ahead of this host.s clock" err &&
	now=$(date -u -d "+1 minute" +%Y-%m-%dT%H:%M:%SZ) &&
	statement_add b.tar.gz skew.tar.gz keys/alice approval staging "$now" &&
	cairn-apply verify skew.tar.gz --env staging --config age.yaml >out
'

test_expect_success 'a receipt dated 2099 is refused; one older than the approval it follows from does not count' '
	then=$(date -u -d "-2 hours" +%Y-%m-%dT%H:%M:%SZ) &&
	before=$(date -u -d "-3 hours" +%Y-%m-%dT%H:%M:%SZ) &&
	after=$(date -u -d "-1 hour" +%Y-%m-%dT%H:%M:%SZ) &&
	statement_add b.tar.gz s1.tar.gz keys/alice approval staging "$then" &&
	statement_add s1.tar.gz s2.tar.gz keys/bob approval prod "$then" &&
	statement_add s2.tar.gz r99.tar.gz keys/stg receipt staging 2099-01-01T00:00:00Z "database: nowhere.db" &&
	test_expect_code 3 cairn-apply verify r99.tar.gz --env prod --config age.yaml 2>err &&
	test_grep "future-statement: .approvals/staging-receipt-$(kid keys/stg.pub).yaml. is dated 2099" err &&
	statement_add s2.tar.gz rold.tar.gz keys/stg receipt staging "$before" "database: stg.db" &&
	test_expect_code 3 cairn-apply verify rold.tar.gz --env prod --config age.yaml 2>err &&
	test_grep "is a receipt dated $before, before the approval .approvals/staging-$(kid keys/alice.pub).yaml. ($then) it follows from" err &&
	statement_add s2.tar.gz rok.tar.gz keys/stg receipt staging "$after" "database: stg.db" &&
	cairn-apply verify rok.tar.gz --env prod --config age.yaml >out
'

test_expect_success 'max_approval_age: an approval without expires, or with a far one, ages out' '
	old=$(date -u -d "-8 days" +%Y-%m-%dT%H:%M:%SZ) &&
	recent=$(date -u -d "-2 hours" +%Y-%m-%dT%H:%M:%SZ) &&
	statement_add b.tar.gz a1.tar.gz keys/alice approval staging "$recent" &&
	statement_add a1.tar.gz a2.tar.gz keys/stg receipt staging "$recent" "database: stg.db" &&
	statement_add a2.tar.gz old.tar.gz keys/bob approval prod "$old" &&
	test_expect_code 3 cairn-apply verify old.tar.gz --env prod --config age.yaml 2>err &&
	test_grep "approvals/prod-$(kid keys/bob.pub).yaml. by keys/bob.pub ([0-9a-f]*) was signed at $old, longer ago than .prod. allows (max_approval_age 7 days)" err &&
	statement_add a2.tar.gz far.tar.gz keys/bob approval prod "$old" "expires: \"2098-01-01T00:00:00Z\"" &&
	test_expect_code 3 cairn-apply verify far.tar.gz --env prod --config age.yaml 2>err &&
	test_grep "longer ago than .prod. allows" err &&
	statement_add a2.tar.gz fresh.tar.gz keys/bob approval prod "$recent" &&
	cairn-apply verify fresh.tar.gz --env prod --config age.yaml >out &&
	printf "environments:\n  dev:\n    database: { dsn: \"sqlite:x.db\" }\n    builders: [keys/ci.pub]\n    max_approval_age: soon\n" >bad.yaml &&
	test_expect_code 6 cairn-apply config --env dev --config bad.yaml 2>err &&
	test_grep "max_approval_age" err
'

test_done
