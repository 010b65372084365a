#!/bin/sh
test_description='rollback: {require_bundle:}: where the environment asks for approvals, a rollback needs the bundle that vouches for its down scripts (issue #15)'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"

unset CAIRN_ENV CAIRN_DB CAIRN_APPLY_CONFIG CAIRN_CHECKPOINT CAIRN_CHECKPOINT_KEY

# the books and the schema
state() {
	q "$1" "SELECT version, state, down_sql FROM cairn_migrations ORDER BY version; SELECT count(*), max(hash) FROM cairn_audit; SELECT name FROM sqlite_master WHERE name LIKE 't_%' ORDER BY name"
}

# config ENV_EXTRA DEFAULTS_EXTRA: prod (two approvals asked) on r.db, dev
# (builders only) on d.db
config() {
	cat >cfg.yaml <<-EOF
	environments:
	  prod:
	    database: { dsn: "sqlite:r.db" }
	    builders: [ci.pub]
	    approvers: [a1.pub, a2.pub]
	    approvals: 2
	    $1
	  dev:
	    database: { dsn: "sqlite:d.db" }
	    builders: [ci.pub]
	$2
	EOF
}

test_expect_success 'setup: v2 applied as prod; its down script swapped and the chain recomputed (history --verify passes)' '
	cairn keygen --no-passphrase a1 >/dev/null 2>&1 &&
	cairn keygen --no-passphrase a2 >/dev/null 2>&1 &&
	apply_project p &&
	apply_table p 0001_a &&
	apply_table p 0002_b &&
	apply_build p "$TRASH_DIRECTORY/v2.tar.gz" &&
	cairn-apply apply v2.tar.gz --env prod --db sqlite:good.db $KEY >out 2>err &&
	test_grep "applied 2 migrations" out &&
	cairn-apply apply v2.tar.gz --env dev --db sqlite:dev.db $KEY >out 2>err &&
	cp good.db r.db &&
	swap_down_rechain r.db 0002 "DROP TABLE t_0001_a;" >evil.sha &&
	cairn-apply history --db sqlite:r.db --verify >out &&
	test_grep "audit chain intact" out &&
	config "" ""
'

test_expect_success 'prod asks for approvals: rollback without --bundle is refused (exit 3) with the way out; the database is unchanged' '
	state r.db >before &&
	test_expect_code 3 cairn-apply rollback --env prod --config cfg.yaml --last 1 >out 2>err &&
	test_grep "cannot roll back .prod. without --bundle: its policy runs a stored down script only when the signed manifest of the bundle that applied it vouches for it (rollback: {require_bundle: true}, the default where approvals are required); nothing was rolled back: the database is unchanged" err &&
	test_grep "give the bundle that applied the migrations: .cairn-apply rollback --env prod --last 1 --bundle BUNDLE." err &&
	test_expect_code 3 cairn-apply rollback --env prod --config cfg.yaml --to 0 >out 2>err &&
	test_grep "rollback --env prod --to 0 --bundle BUNDLE" err &&
	CAIRN_APPLY_CONFIG=cfg.yaml CAIRN_ENV=prod test_expect_code 3 cairn-apply rollback --last 1 >out 2>err &&
	test_grep "cannot roll back .prod. without --bundle" err &&
	# --db names the database; the policy is still the environment'"'"'s
	test_expect_code 3 cairn-apply rollback --env prod --config cfg.yaml --db sqlite:r.db --last 1 >out 2>err &&
	state r.db >after &&
	test_cmp before after &&
	grep "^t_0001_a$" after && grep "^t_0002_b$" after
'

test_expect_success 'with --bundle the swapped script is found (exit 5), and the untouched books roll back' '
	state r.db >before &&
	test_expect_code 5 cairn-apply rollback --env prod --config cfg.yaml --last 1 --bundle v2.tar.gz >out 2>err &&
	test_grep "migration 0002_b: its stored down script has sha256:$(cat evil.sha), but the signed manifest" err &&
	state r.db >after &&
	test_cmp before after &&
	cp r.db evil.db &&
	cp good.db r.db &&
	cairn-apply rollback --env prod --config cfg.yaml --last 1 --bundle v2.tar.gz >out 2>err &&
	test_grep "rolled back 1 migration" out &&
	test "$(q r.db "SELECT state FROM cairn_migrations WHERE version = '"'"'0002'"'"'")" = rolled_back &&
	test -z "$(q r.db "SELECT name FROM sqlite_master WHERE name = '"'"'t_0002_b'"'"'")" &&
	test -n "$(q r.db "SELECT name FROM sqlite_master WHERE name = '"'"'t_0001_a'"'"'")" &&
	cp evil.db r.db
'

test_expect_success 'the policy decides: require_bundle: false lets prod roll back from the books; dev (no approvals) does by default, unless defaults say true' '
	cp good.db r.db &&
	config "rollback: { require_bundle: false }" "" &&
	cairn-apply rollback --env prod --config cfg.yaml --last 1 >out 2>err &&
	test_grep "rolled back 1 migration" out &&
	test -z "$(q r.db "SELECT name FROM sqlite_master WHERE name = '"'"'t_0002_b'"'"'")" &&
	cp dev.db d.db &&
	config "" "" &&
	cairn-apply rollback --env dev --config cfg.yaml --last 1 >out 2>err &&
	test_grep "rolled back 1 migration" out &&
	cp dev.db d.db &&
	config "" "defaults: { rollback: { require_bundle: true } }" &&
	test_expect_code 3 cairn-apply rollback --env dev --config cfg.yaml --last 1 >out 2>err &&
	test_grep "cannot roll back .dev. without --bundle: .*(rollback: {require_bundle: true}, cfg.yaml:[0-9]*)" err &&
	state d.db >after && state dev.db >before && test_cmp before after &&
	cairn-apply rollback --env dev --config cfg.yaml --last 1 --bundle v2.tar.gz >out 2>err &&
	test_grep "rolled back 1 migration" out
'

test_expect_success 'a value that is not true or false is a config error' '
	config "rollback: { require_bundle: maybe }" "" &&
	test_must_fail cairn-apply rollback --env prod --config cfg.yaml --last 1 >out 2>err &&
	test_grep "require_bundle.*true or false" err &&
	config "rollback: { needs_bundle: true }" "" &&
	test_must_fail cairn-apply rollback --env prod --config cfg.yaml --last 1 >out 2>err &&
	test_grep "needs_bundle" err
'

test_done
