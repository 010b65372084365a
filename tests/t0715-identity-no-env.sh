#!/bin/sh
test_description='rollback, repair and baseline without --env still meet the database identity: no side door by leaving out the flag (issue #15)'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"

unset CAIRN_ENV CAIRN_DB CAIRN_APPLY_CONFIG CAIRN_CHECKPOINT CAIRN_CHECKPOINT_KEY

# state DB: the books and the schema, to compare before and after
state() {
	q "$1" "SELECT version, state FROM cairn_migrations ORDER BY version; SELECT count(*) FROM cairn_audit; SELECT name FROM sqlite_master WHERE name LIKE 't_%' ORDER BY name"
}

test_expect_success 'setup: prod.db applied as prod; fail.db with a failed migration' '
	apply_project p &&
	apply_table p 0001_a &&
	apply_table p 0002_b &&
	apply_build p "$TRASH_DIRECTORY/v2.tar.gz" &&
	cairn-apply apply v2.tar.gz --env prod --db sqlite:prod.db $KEY >out &&
	apply_mig p 0003_bad "CREATE TABLE t_c (id int); INSERT INTO nowhere VALUES (1);" "DROP TABLE t_c;" "transaction: false" &&
	apply_build p "$TRASH_DIRECTORY/v3.tar.gz" &&
	test_expect_code 5 cairn-apply apply v3.tar.gz --env prod --db sqlite:fail.db $KEY >out 2>err &&
	test "$(q fail.db "SELECT state FROM cairn_migrations WHERE version = '"'"'0003'"'"'")" = failed &&
	cat >apply.yaml <<-EOF
	defaults:
	  builders: [ci.pub]
	environments:
	  dev:
	    database: { dsn: "sqlite:dev.db" }
	  prod:
	    database: { dsn: "sqlite:prod.db" }
	EOF
'

test_expect_success 'CAIRN_ENV=dev rollback --db prod.db: refused (exit 3), naming both, nothing changed' '
	state prod.db >before &&
	CAIRN_ENV=dev test_expect_code 3 cairn-apply rollback --db sqlite:prod.db --last 1 >out 2>err &&
	test_grep "refusing to roll back .prod.db.: the database belongs to environment .prod. (project .p.), not .dev." err &&
	state prod.db >after &&
	test_cmp before after
'

test_expect_success 'CAIRN_ENV=dev repair --db fail.db: refused (exit 3), the row stays failed' '
	state fail.db >before &&
	CAIRN_ENV=dev test_expect_code 3 cairn-apply repair --db sqlite:fail.db 0003 --mark-applied >out 2>err &&
	test_grep "refusing to repair .fail.db.: the database belongs to environment .prod." err &&
	state fail.db >after &&
	test_cmp before after
'

test_expect_success 'CAIRN_ENV=dev baseline --db prod.db: refused (exit 3) for the identity' '
	state prod.db >before &&
	CAIRN_ENV=dev test_expect_code 3 cairn-apply baseline --db sqlite:prod.db --version 0009 >out 2>err &&
	test_grep "refusing to baseline .prod.db.: the database belongs to environment .prod." err &&
	state prod.db >after &&
	test_cmp before after
'

test_expect_success 'with an applier config, rollback names no environment: refused before the database is touched' '
	state prod.db >before &&
	CAIRN_APPLY_CONFIG=apply.yaml test_expect_code 2 cairn-apply rollback --db sqlite:prod.db --last 1 >out 2>err &&
	test_grep "no environment named" err &&
	CAIRN_APPLY_CONFIG=apply.yaml CAIRN_ENV=dev test_expect_code 3 cairn-apply rollback --db sqlite:prod.db --last 1 >out 2>err &&
	test_grep "belongs to environment .prod." err &&
	state prod.db >after &&
	test_cmp before after
'

test_expect_success 'with an applier config, repair without --env is under the policy: it needs the admin override' '
	state fail.db >before &&
	CAIRN_APPLY_CONFIG=apply.yaml CAIRN_ENV=prod test_expect_code 2 cairn-apply repair --db sqlite:fail.db 0003 --mark-applied >out 2>err &&
	test_grep "missing --bundle BUNDLE: under an environment.s policy a repair needs an admin.s override" err &&
	CAIRN_APPLY_CONFIG=apply.yaml test_expect_code 2 cairn-apply repair --db sqlite:fail.db 0003 --mark-applied >out 2>err &&
	state fail.db >after &&
	test_cmp before after
'

test_expect_success 'baseline in policy mode takes the environment from the config' '
	CAIRN_APPLY_CONFIG=apply.yaml test_expect_code 2 cairn-apply baseline --db sqlite:new.db --version 0005 >out 2>err &&
	test_grep "no environment named" err &&
	test ! -f new.db
'

test_expect_success 'the environment named the right way still works: rollback --env prod through the config' '
	CAIRN_APPLY_CONFIG=apply.yaml cairn-apply rollback --env prod --last 1 >out 2>err &&
	test_grep "rolled back 1 migration" out &&
	test "$(q prod.db "SELECT state FROM cairn_migrations WHERE version = '"'"'0002'"'"'")" = rolled_back &&
	q prod.db "SELECT environment FROM cairn_audit WHERE action = '"'"'rollback'"'"'" >envs &&
	test_grep "^prod$" envs
'

test_expect_success 'without a config or an environment named, the contract form keeps working as the recorded environment' '
	cairn-apply apply v2.tar.gz --env prod --db sqlite:free.db $KEY >out &&
	cairn-apply rollback --db sqlite:free.db --last 1 >out &&
	test_grep "rolled back 1 migration" out &&
	test "$(q free.db "SELECT environment FROM cairn_audit ORDER BY seq DESC LIMIT 1")" = prod
'

test_expect_success 'but not on a database a run under the config has put under its policy (policy=1): exit 3, unchanged' '
	state prod.db >before &&
	test_expect_code 3 cairn-apply rollback --db sqlite:prod.db --last 1 >out 2>err &&
	test_grep "refusing to roll back .prod.db.: the database is under the policy of environment .prod. (project .p.; its identity, audit row [0-9]*, records policy=1), and this run has no applier.s config: run it with --config FILE" err &&
	state prod.db >after &&
	test_cmp before after
'

test_done
