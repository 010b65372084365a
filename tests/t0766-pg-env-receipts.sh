#!/bin/sh
test_description='issue #15 on PostgreSQL: the policy is not chosen by a flag (--env, CAIRN_ENV, CAIRN_DB on a database recorded as prod, or no config at all: exit 3), and receipts carry checkpoints'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"
. "$TEST_DIRECTORY/lib-pg.sh"

pg_start
# prod and staging ask more than a build: their role is a plain one
# (pg_plain_db), privileged_role: refuse being their default (attack15h)
PROD="postgresql://prod@/prod?host=$PGHOST"
STAGING="postgresql://staging@/staging?host=$PGHOST"
unset CAIRN_ENV CAIRN_DB CAIRN_APPLY_CONFIG CAIRN_CHECKPOINT CAIRN_CHECKPOINT_KEY

# the books and the schema of database $1, as the catalog has them
state() {
	pg_sql -d "$1" -c "select version || '|' || state || '|' || environment from cairn.cairn_migrations order by version" &&
	pg_sql -d "$1" -c "select count(*) || '|' || max(hash) from cairn.cairn_audit" &&
	pg_sql -d "$1" -c "select tablename from pg_tables where tablename like 't\_%' order by tablename"
}

test_expect_success 'setup: prod applied under a policy of one approval; v2 not approved' '
	pg_plain_db prod &&
	pg_plain_db staging &&
	pg_project_ab p &&
	cairn keygen --no-passphrase alice >/dev/null 2>&1 &&
	cairn keygen --no-passphrase host >/dev/null 2>&1 &&
	cat >cfg.yaml <<-EOF &&
	defaults:
	  builders: [ci.pub]
	environments:
	  dev:
	    database: { dsn: "postgresql:///dev?host=$PGHOST" }
	  prod:
	    database: { dsn: "$PROD" }
	    approvals: 1
	    approvers: [alice.pub]
	EOF
	cp v1.tar.gz p1.tar.gz &&
	cairn promote p1.tar.gz --to prod --key alice.key >/dev/null 2>&1 &&
	cairn-apply apply p1.tar.gz --env prod --config cfg.yaml >out 2>err &&
	test_grep "applied 1 migration" out &&
	pg_sql -d prod -c "select action || '"'"'|'"'"'|| environment from cairn.cairn_audit where seq = 1" >id &&
	echo "identity|prod" >want && test_cmp want id &&
	test_expect_code 3 cairn-apply apply v2.tar.gz --env prod --config cfg.yaml 2>err
'

test_expect_success '--env dev --db PROD: dev'"'"'s policy is not prod'"'"'s: refused (exit 3) naming both, nothing written' '
	state prod >before &&
	test_expect_code 3 cairn-apply apply v2.tar.gz --env dev --config cfg.yaml --db "$PROD" >out 2>err &&
	test_grep "the database belongs to environment .prod. (project .p.), not .dev." err &&
	test_expect_code 3 cairn-apply apply v2.tar.gz --env dev --db "$PROD" $KEY >out 2>err &&
	test_grep "the database belongs to environment .prod. (project .p.), not .dev." err &&
	state prod >after &&
	test_cmp before after &&
	! grep "^t_0002_b$" after
'

test_expect_success 'CAIRN_ENV and CAIRN_DB cannot do it either (apply, rollback, repair, baseline)' '
	state prod >before &&
	CAIRN_ENV=dev CAIRN_DB="$PROD" test_expect_code 3 cairn-apply apply v2.tar.gz --config cfg.yaml 2>err1 &&
	test_grep "belongs to environment .prod. (project .p.), not .dev." err1 &&
	CAIRN_ENV=dev test_expect_code 3 cairn-apply rollback --db "$PROD" --last 1 2>err3 &&
	test_grep "belongs to environment .prod." err3 &&
	CAIRN_ENV=dev test_expect_code 3 cairn-apply repair --db "$PROD" 0001 --mark-rolled-back 2>err4 &&
	test_grep "belongs to environment .prod." err4 &&
	CAIRN_ENV=dev test_expect_code 3 cairn-apply baseline --db "$PROD" --version 1 2>err5 &&
	test_grep "belongs to environment .prod." err5 &&
	state prod >after &&
	test_cmp before after &&
	grep "^t_0001_a$" after
'

test_expect_success 'no config at all (--db and --key): the policy recorded in prod'"'"'s identity is not skipped (exit 3), nothing written' '
	pg_sql -d prod -c "select detail from cairn.cairn_audit where seq = 1" >id &&
	test_grep "^project=p; environment=prod; builders=[0-9a-f]\{16\}; policy=1" id &&
	state prod >before &&
	test_expect_code 3 cairn-apply apply v2.tar.gz --env prod --db "$PROD" $KEY >out 2>err &&
	test_grep "the database is under the policy of environment .prod. (project .p.; its identity, audit row 1, records policy=1), and this run has no applier.s config: run it with --config FILE" err &&
	test_expect_code 3 cairn-apply repair --db "$PROD" 0001 --mark-rolled-back >out 2>err &&
	test_grep "refusing to repair .*: the database is under the policy of environment .prod." err &&
	state prod >after &&
	test_cmp before after &&
	! grep "^t_0002_b$" after
'

test_expect_success 'no config: rollback (with or without --bundle), restore and fleet are refused too (exit 3): prod.s require_bundle is not skipped' '
	state prod >before &&
	test_expect_code 3 cairn-apply rollback --db "$PROD" --last 1 >out 2>err &&
	test_grep "refusing to roll back .*: the database is under the policy of environment .prod. (project .p.; its identity, audit row 1, records policy=1), and this run has no applier.s config: run it with --config FILE" err &&
	test_expect_code 3 cairn-apply rollback --db "$PROD" --last 1 --bundle v1.tar.gz $KEY >out 2>err &&
	test_grep "refusing to roll back .*: the database is under the policy of environment .prod." err &&
	test_expect_code 3 cairn-apply restore --db "$PROD" v1.tar.gz >out 2>err &&
	test_grep "refusing to restore .*: the database is under the policy of environment .prod." err &&
	echo "prod $PROD" >targets &&
	test_expect_code 1 cairn-apply fleet v2.tar.gz --env prod $KEY --targets targets >out 2>err &&
	test_grep "\"outcome\":\"failed\",\"exit\":3,.*the database is under the policy of environment .prod." out &&
	state prod >after &&
	test_cmp before after &&
	grep "^t_0001_a$" after &&
	cairn-apply rollback --env prod --config cfg.yaml --last 1 --bundle v1.tar.gz >out 2>err &&
	test_grep "rolled back 1 migration" out &&
	state prod >after &&
	! grep "^t_0001_a$" after
'

test_expect_success 'no config: baseline on a database under the policy whose migrations were all rolled back: exit 3, nothing written' '
	pg_sql -d prod -c "select count(*) from cairn.cairn_migrations where state <> '"'"'rolled_back'"'"'" >n &&
	echo 0 >want && test_cmp want n &&
	state prod >before &&
	test_expect_code 3 cairn-apply baseline --db "$PROD" --version 0002 >out 2>err &&
	test_grep "refusing to baseline .*: the database is under the policy of environment .prod. (project .p.; its identity, audit row 1, records policy=1)" err &&
	state prod >after &&
	test_cmp before after &&
	cairn-apply apply p1.tar.gz --env prod --config cfg.yaml >out 2>err &&
	test_grep "applied 1 migration" out
'

test_expect_success 'a receipt carries the staging run'"'"'s checkpoint; history --verify --checkpoint BUNDLE checks it and finds a cut' '
	cp v2.tar.gz rc.tar.gz &&
	cairn-apply apply rc.tar.gz --env staging --db "$STAGING" $KEY --receipt-key host.key >out 2>err &&
	test_grep "applied 2 migrations" out &&
	tar xzf rc.tar.gz --wildcards "*/approvals/staging-receipt-*.yaml" -O >receipt.yaml &&
	n=$(pg_sql -d staging -c "select count(*) from cairn.cairn_audit") &&
	head=$(pg_sql -d staging -c "select hash from cairn.cairn_audit order by seq desc limit 1") &&
	test_grep "^checkpoint: \"cairn-checkpoint/1\\\\ttime=.*\\\\tenv=staging\\\\tproject=p\\\\tlength=$n\\\\thead=$head\\\\t" receipt.yaml &&
	cairn-apply history --db "$STAGING" --verify --checkpoint rc.tar.gz >out &&
	test_grep "checkpoint of .* matches: $n audit rows" out &&
	pg_sql -d staging -c "delete from cairn.cairn_migrations where version = '"'"'0002'"'"'" \
		-c "delete from cairn.cairn_audit where seq = (select max(seq) from cairn.cairn_audit)" &&
	cairn-apply history --db "$STAGING" --verify >out &&
	test_grep "audit chain intact" out &&
	test_expect_code 1 cairn-apply history --db "$STAGING" --verify --checkpoint rc.tar.gz 2>err &&
	test_grep "checkpoint mismatch: .*its newest rows were deleted" err &&
	test_grep "receipt approvals/staging-receipt-" err &&
	test "$(pg_sql -d staging -c "select count(*) from cairn.cairn_audit")" = $((n - 1))
'

test_expect_success 'the receipt'"'"'s checkpoint names the staging database: prod'"'"'s books are not checked against it' '
	test_expect_code 1 cairn-apply history --db "$PROD" --verify --checkpoint rc.tar.gz 2>err &&
	test_grep "holds no receipt with a checkpoint of" err
'

test_done
