#!/bin/sh
test_description='status and history find the database through --env and the config, as DESIGN.md says'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"

unset CAIRN_ENV CAIRN_DB CAIRN_APPLY_CONFIG STAGING_DSN

test_expect_success 'setup: a bundle applied to two databases, and a config naming them' '
	apply_project p &&
	apply_table p 0001_a &&
	apply_table p 0002_b &&
	apply_build p "$TRASH_DIRECTORY/b.tar.gz" &&
	cairn-apply apply b.tar.gz --env dev --db sqlite:dev.db --key ci.pub >/dev/null &&
	cairn-apply apply b.tar.gz --env staging --db sqlite:staging.db --key ci.pub --to 0001 >/dev/null &&
	cat >cairn-apply.yaml <<-\EOF
	environments:
	  dev:
	    database: { dsn: "sqlite:dev.db" }
	    builders: [ci.pub]
	  staging:
	    database: { dsn_env: STAGING_DSN }
	    builders: [ci.pub]
	EOF
'

test_expect_success 'status --env reads the environment'\''s database from the config' '
	cairn-apply status --env dev >out &&
	test_grep "^database: dev.db" out &&
	test_grep "2 applied" out
'

test_expect_success 'a dsn_env database: unset is an error naming the variable, set is used' '
	test_must_fail cairn-apply status --env staging 2>err &&
	test_grep STAGING_DSN err &&
	STAGING_DSN=sqlite:staging.db cairn-apply status --env staging >out &&
	test_grep "^database: staging.db" out &&
	test_grep "1 applied" out
'

test_expect_success 'history --env, and --config naming the file from elsewhere' '
	mkdir elsewhere && cp dev.db elsewhere/ &&
	(cd elsewhere && cairn-apply history --env dev --config ../cairn-apply.yaml --verify >../out) &&
	test_grep "audit chain intact: 3 rows" out
'

test_expect_success 'the database: --db, then CAIRN_DB, then the config' '
	cairn-apply status --env dev --db sqlite:staging.db >out &&
	test_grep "^database: staging.db" out &&
	CAIRN_DB=sqlite:dev.db cairn-apply history >out &&
	test_grep "apply" out &&
	CAIRN_DB=sqlite:staging.db cairn-apply status --env dev >out &&
	test_grep "^database: staging.db" out &&
	mkdir noconfig && cp staging.db noconfig/ &&
	(cd noconfig && CAIRN_DB=sqlite:staging.db cairn-apply status --env staging >../out) &&
	test_grep "^database: staging.db" out
'

test_expect_success 'neither --db nor --env: a usage error that says both ways' '
	test_expect_code 2 cairn-apply status 2>err &&
	test_grep "missing --db DSN (or --env ENV" err &&
	test_expect_code 2 cairn-apply history 2>err &&
	test_grep "missing --db DSN (or --env ENV" err
'

test_expect_success 'an environment the config does not have' '
	test_must_fail cairn-apply status --env prod 2>err &&
	test_grep "prod" err
'

test_done
