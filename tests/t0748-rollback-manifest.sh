#!/bin/sh
test_description='rollback --bundle: a stored down script runs only if its sha256 is the one the signed manifest records (issue #15)'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"

unset CAIRN_ENV CAIRN_DB CAIRN_APPLY_CONFIG CAIRN_CHECKPOINT CAIRN_CHECKPOINT_KEY

# the books and the schema
state() {
	q "$1" "SELECT version, state, down_sql FROM cairn_migrations ORDER BY version; SELECT count(*), max(hash) FROM cairn_audit; SELECT name FROM sqlite_master WHERE name LIKE 't_%' ORDER BY name"
}

# the sha256 of the down script database $1 stores for version $2
down_sha() {
	python3 -c 'import hashlib, sqlite3, sys
r = sqlite3.connect(sys.argv[1]).execute("SELECT down_sql FROM cairn_migrations WHERE version = ?", (sys.argv[2],)).fetchone()
print(hashlib.sha256(r[0].encode()).hexdigest())' "$1" "$2"
}

test_expect_success 'setup: v2 (two migrations) applied; v1 lists only the first; the down script swapped and the chain recomputed' '
	apply_project p &&
	apply_table p 0001_a &&
	apply_build p "$TRASH_DIRECTORY/v1.tar.gz" &&
	apply_table p 0002_b &&
	apply_build p "$TRASH_DIRECTORY/v2.tar.gz" &&
	cairn-apply apply v2.tar.gz --env dev --db sqlite:good.db $KEY >out 2>err &&
	test_grep "applied 2 migrations" out &&
	cp good.db r.db &&
	swap_down_rechain r.db 0002 "DROP TABLE t_0001_a;" >evil.sha &&
	cairn-apply history --db sqlite:r.db --verify >out &&
	test_grep "audit chain intact" out
'

test_expect_success 'rollback --bundle v2: the swapped script is refused (exit 5) naming the migration and both hashes; nothing runs' '
	real=$(down_sha good.db 0002) &&
	test -n "$real" &&
	state r.db >before &&
	test_expect_code 5 cairn-apply rollback --db sqlite:r.db --last 1 --bundle v2.tar.gz $KEY >out 2>err &&
	test_grep "migration 0002_b: its stored down script has sha256:$(cat evil.sha), but the signed manifest of bundle .* (sha256:[0-9a-f]*) records sha256:$real: the script was changed after apply; nothing was rolled back" err &&
	state r.db >after &&
	test_cmp before after &&
	grep "^t_0001_a$" after &&
	grep "^t_0002_b$" after
'

test_expect_success 'the same under an applier config: the environment'"'"'s builder keys verify the bundle' '
	cat >cfg.yaml <<-EOF &&
	environments:
	  dev:
	    database: { dsn: "sqlite:r.db" }
	    builders: [ci.pub]
	EOF
	state r.db >before &&
	test_expect_code 5 cairn-apply rollback --env dev --config cfg.yaml --last 1 --bundle v2.tar.gz >out 2>err &&
	test_grep "migration 0002_b: its stored down script has sha256:$(cat evil.sha), but the signed manifest" err &&
	state r.db >after &&
	test_cmp before after
'

test_expect_success 'a bundle that does not list the migration cannot vouch for its down script: exit 5' '
	state r.db >before &&
	test_expect_code 5 cairn-apply rollback --db sqlite:r.db --last 1 --bundle v1.tar.gz $KEY >out 2>err &&
	test_grep "migration 0002_b: its stored down script (sha256:$(cat evil.sha)) cannot be checked: bundle .* does not list it; give the bundle that applied it (sha256:[0-9a-f]*)" err &&
	state r.db >after &&
	test_cmp before after
'

test_expect_success 'a bundle not signed by the given key is refused (exit 3); --key alone is a usage error (exit 2)' '
	cairn keygen --no-passphrase other >/dev/null 2>&1 &&
	test_expect_code 3 cairn-apply rollback --db sqlite:r.db --last 1 --bundle v2.tar.gz --key other.pub >out 2>err &&
	test_expect_code 2 cairn-apply rollback --db sqlite:r.db --last 1 $KEY >out 2>err &&
	test_grep "key verifies --bundle BUNDLE" err &&
	state r.db >after &&
	test_cmp before after
'

test_expect_success 'the untouched books: rollback --bundle v2 runs the signed down script' '
	cp good.db ok.db &&
	cairn-apply rollback --db sqlite:ok.db --last 1 --bundle v2.tar.gz $KEY >out 2>err &&
	test_grep "rolled back 1 migration" out &&
	test "$(q ok.db "SELECT state FROM cairn_migrations WHERE version = '"'"'0002'"'"'")" = rolled_back &&
	test -z "$(q ok.db "SELECT name FROM sqlite_master WHERE name = '"'"'t_0002_b'"'"'")" &&
	test -n "$(q ok.db "SELECT name FROM sqlite_master WHERE name = '"'"'t_0001_a'"'"'")"
'

test_done
