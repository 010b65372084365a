#!/bin/sh
test_description='the builder keys a database trusts (its identity) are enforced: a bundle signed only by another key is refused unless the policy rotates (issue #15)'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"

unset CAIRN_ENV CAIRN_DB CAIRN_APPLY_CONFIG CAIRN_CHECKPOINT CAIRN_CHECKPOINT_KEY

state() {
	q "$1" "SELECT version, state FROM cairn_migrations ORDER BY version; SELECT count(*) FROM cairn_audit; SELECT name FROM sqlite_master WHERE name LIKE 't_%' ORDER BY name"
}

test_expect_success 'setup: db.db applied with bundles signed by ci; v2 signed only by another key' '
	cairn keygen --no-passphrase other >/dev/null 2>&1 &&
	apply_project p &&
	apply_table p 0001_a &&
	apply_build p "$TRASH_DIRECTORY/v1.tar.gz" &&
	apply_table p 0002_b &&
	(cd p && git add -A && git commit -qm two && cairn build --sign ../other.key -o ../v2.tar.gz >/dev/null 2>&1) &&
	cairn-apply apply v1.tar.gz --env dev --db sqlite:db.db $KEY >out &&
	cp db.db pol.db &&
	ci=$(cairn inspect v1.tar.gz | sed -n "s/.*build signature by \([0-9a-f]\{16\}\).*/\1/p" | head -n 1) &&
	q db.db "SELECT detail FROM cairn_audit WHERE action = '"'"'identity'"'"'" >id &&
	test_grep "builders=[0-9a-f]\{16\}; id=[0-9a-f]\{32\}$" id
'

test_expect_success '--key other.pub on a database that trusts ci: refused (exit 3) naming both keys, nothing changed' '
	state db.db >before &&
	test_expect_code 3 cairn-apply apply v2.tar.gz --env dev --db sqlite:db.db --key other.pub >out 2>err &&
	test_grep "refusing to apply to .db.db.: the bundle is signed by builder key [0-9a-f]\{16\}, but the database trusts builder key [0-9a-f]\{16\} (its identity)" err &&
	state db.db >after &&
	test_cmp before after
'

test_expect_success 'policy mode, the config trusting only the other key: refused too' '
	cat >cfg.yaml <<-EOF &&
	environments:
	  dev:
	    database: { dsn: "sqlite:pol.db" }
	    builders: [other.pub]
	EOF
	state pol.db >before &&
	test_expect_code 3 cairn-apply apply v2.tar.gz --env dev --config cfg.yaml >out 2>err &&
	test_grep "the database trusts builder key" err &&
	state pol.db >after &&
	test_cmp before after
'

test_expect_success 'a revocation dated in the future is no rotation yet: refused (exit 3); once its time has come it is' '
	cp pol.db later.db &&
	later=$(date -u -d "@$(($(date +%s) + 3600))" +%Y-%m-%dT%H:%M:%SZ) &&
	past=$(date -u -d "@$(($(date +%s) - 60))" +%Y-%m-%dT%H:%M:%SZ) &&
	cat >later.yaml <<-EOF &&
	environments:
	  dev:
	    database: { dsn: "sqlite:later.db" }
	    builders: [other.pub]
	    revoked:
	      - {key: ci.pub, since: $later}
	EOF
	state later.db >before &&
	test_expect_code 3 cairn-apply apply v2.tar.gz --env dev --config later.yaml >out 2>err &&
	test_grep "the bundle is signed by builder key [0-9a-f]\{16\}, but the database trusts builder key [0-9a-f]\{16\} (its identity)" err &&
	state later.db >after &&
	test_cmp before after &&
	sed "s/since: $later/since: $past/" later.yaml >now.yaml &&
	cairn-apply apply v2.tar.gz --env dev --config now.yaml >out 2>err &&
	test_grep "applied 1 migration" out &&
	test -n "$(q later.db "SELECT name FROM sqlite_master WHERE name = '"'"'t_0002_b'"'"'")"
'

test_expect_success 'a rotation (the old key revoked in the policy) lets the new key through, and the identity records it' '
	cat >cfg.yaml <<-EOF &&
	environments:
	  dev:
	    database: { dsn: "sqlite:pol.db" }
	    builders: [other.pub]
	    revoked:
	      - {key: ci.pub}
	EOF
	cairn-apply apply v2.tar.gz --env dev --config cfg.yaml >out 2>err &&
	test_grep "applied 1 migration" out &&
	test -n "$(q pol.db "SELECT name FROM sqlite_master WHERE name = '"'"'t_0002_b'"'"'")" &&
	q pol.db "SELECT detail FROM cairn_audit WHERE action = '"'"'identity'"'"' ORDER BY seq DESC LIMIT 1" >id &&
	test_grep "builders=[0-9a-f]\{16\}; policy=1; was: .*builders=[0-9a-f]\{16\}" id
'

test_expect_success 'a bundle signed by both keys goes through when the run trusts both (step 2 of the rotation runbook)' '
	cp v2.tar.gz both.tar.gz &&
	cairn sign both.tar.gz --key ci.key >/dev/null 2>&1 &&
	cairn-apply apply both.tar.gz --env dev --db sqlite:db.db --key other.pub --key ci.pub >out 2>err &&
	test_grep "applied 1 migration" out
'

test_done
