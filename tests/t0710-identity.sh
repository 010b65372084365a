#!/bin/sh
test_description='a database knows its project and environment: no flag or variable picks a weaker policy (issue #15)'
. "$(dirname "$0")/test-lib.sh"

unset CAIRN_ENV CAIRN_DB CAIRN_LOCK_TIMEOUT CAIRN_APPLY_CONFIG

# q DB SQL
q() {
	sqlite3 "$1" "$2"
}

test_expect_success 'setup: keys, two projects, the applier config with a strict prod' '
	mkdir -p keys &&
	for k in ci alice dba; do
		cairn keygen --no-passphrase keys/$k >/dev/null 2>&1 || return 1
	done &&
	test_create_project shop &&
	test_migration shop 20260101000000_users &&
	test_migration shop 20260102000000_orders &&
	test_commit shop v1 &&
	(cd shop && cairn build --sign ../keys/ci.key -o ../v1.tar.gz >/dev/null 2>&1) &&
	test_migration shop 20260103000000_items &&
	test_commit shop v2 &&
	(cd shop && cairn build --sign ../keys/ci.key -o ../v2.tar.gz >/dev/null 2>&1) &&
	test_create_project blog &&
	sed -i "s/^name: .*/name: blog/" blog/cairn.yaml &&
	test_migration blog 20260201000000_posts &&
	test_commit blog b1 &&
	(cd blog && cairn build --sign ../keys/ci.key -o ../blog.tar.gz >/dev/null 2>&1) &&
	cat >cairn-apply.yaml <<-\EOF &&
	defaults:
	  builders: [keys/ci.pub]
	  admins: [keys/dba.pub]
	environments:
	  dev:
	    database: { dsn: "sqlite:dev.db" }
	  prod:
	    database: { dsn: "sqlite:prod.db" }
	    approvals: 1
	    approvers: [keys/alice.pub]
	EOF
	cp v1.tar.gz p1.tar.gz &&
	cairn promote p1.tar.gz --to prod --key keys/alice.key >/dev/null 2>&1 &&
	cairn-apply apply p1.tar.gz --env prod >out &&
	test_grep "applied 2 migrations" out
'

test_expect_success 'the first apply records the identity in the audit chain' '
	q prod.db "SELECT seq, action, environment, detail FROM cairn_audit WHERE action = '"'"'identity'"'"'" >id &&
	test_grep "^1|identity|prod|project=shop; environment=prod; builders=[0-9a-f]\{16\}\(;\|$\)" id &&
	cairn-apply history --db sqlite:prod.db --verify >out &&
	test_grep "intact" out
'

test_expect_success '--env dev --db prod.db: refused (exit 3), naming both environments, nothing written' '
	q prod.db "SELECT count(*) FROM cairn_audit" >before &&
	test_expect_code 3 cairn-apply apply v2.tar.gz --env dev --db sqlite:prod.db >out 2>err &&
	test_grep "refusing to apply to .prod.db.: the database belongs to environment .prod. (project .shop.), not .dev." err &&
	q prod.db "SELECT count(*) FROM cairn_audit" >after &&
	test_cmp before after &&
	q prod.db "SELECT count(*) FROM cairn_migrations" >n &&
	echo 2 >want && test_cmp want n &&
	test "$(q prod.db "SELECT count(*) FROM sqlite_master WHERE name = '"'"'t_20260103000000_items'"'"'")" = 0
'

test_expect_success 'CAIRN_DB and CAIRN_ENV cannot do it either' '
	CAIRN_ENV=dev CAIRN_DB=sqlite:prod.db test_expect_code 3 cairn-apply apply v2.tar.gz 2>err &&
	test_grep "belongs to environment .prod. (project .shop.), not .dev." err &&
	test "$(q prod.db "SELECT count(*) FROM cairn_migrations")" = 2
'

test_expect_success 'no config at all (--db and --key, run from elsewhere): prod.s policy is not skipped (exit 3), nothing written' '
	q prod.db "SELECT count(*), max(hash) FROM cairn_audit; SELECT version, state FROM cairn_migrations" >before &&
	mkdir -p elsewhere &&
	(cd elsewhere && test_expect_code 3 cairn-apply apply ../v2.tar.gz --env prod --db sqlite:../prod.db --key ../keys/ci.pub >out 2>err.apply) &&
	test_grep "refusing to apply to .*prod.db.: the database is under the policy of environment .prod. (project .shop.; its identity, audit row 1, records policy=1), and this run has no applier.s config: run it with --config FILE" elsewhere/err.apply &&
	(cd elsewhere && test_expect_code 3 cairn-apply repair --db sqlite:../prod.db 20260102000000 --mark-rolled-back >out 2>err.repair) &&
	test_grep "refusing to repair .*: the database is under the policy of environment .prod." elsewhere/err.repair &&
	q prod.db "SELECT count(*), max(hash) FROM cairn_audit; SELECT version, state FROM cairn_migrations" >after &&
	test_cmp before after &&
	test "$(q prod.db "SELECT count(*) FROM sqlite_master WHERE name = '"'"'t_20260103000000_items'"'"'")" = 0 &&
	q prod.db "SELECT detail FROM cairn_audit WHERE action = '"'"'identity'"'"'" >id &&
	test_grep "^project=shop; environment=prod; builders=[0-9a-f]\{16\}; policy=1\(;\|$\)" id
'

test_expect_success 'a database first used without a config gets policy=1 on its first run under one, and keeps it' '
	cairn-apply apply v1.tar.gz --env dev --db sqlite:keyed.db --key keys/ci.pub >/dev/null &&
	q keyed.db "SELECT detail FROM cairn_audit WHERE action = '"'"'identity'"'"'" >id &&
	! grep "policy=1" id &&
	sed "s/sqlite:dev.db/sqlite:keyed.db/" cairn-apply.yaml >keyed.yaml &&
	cairn-apply apply v2.tar.gz --env dev --config keyed.yaml >out 2>err &&
	test_grep "applied 1 migration" out &&
	q keyed.db "SELECT detail FROM cairn_audit WHERE action = '"'"'identity'"'"' ORDER BY seq DESC LIMIT 1" >id &&
	test_grep "^project=shop; environment=dev; builders=[0-9a-f]*; policy=1; was: project=shop; environment=dev; builders=[0-9a-f]*\(;\|$\)" id &&
	mkdir -p elsewhere &&
	(cd elsewhere && test_expect_code 3 cairn-apply apply ../v2.tar.gz --env dev --db sqlite:../keyed.db --key ../keys/ci.pub 2>err) &&
	(cd elsewhere && test_expect_code 3 cairn-apply rollback --db sqlite:../keyed.db --last 1 >out 2>err) &&
	test_grep "refusing to roll back .*: the database is under the policy of environment .dev. (project .shop.; its identity, audit row [0-9]*, records policy=1)" elsewhere/err &&
	(cd elsewhere && cairn-apply rollback --config ../keyed.yaml --env dev --db sqlite:../keyed.db --last 1 >out 2>err) &&
	test_grep "rolled back 1 migration" elsewhere/out &&
	cairn-apply history --db sqlite:keyed.db --verify >out
'

test_expect_success 'a bundle of another project is refused on shop.s database, naming both' '
	cairn-apply apply v1.tar.gz --env dev --db sqlite:dev-shop.db --key keys/ci.pub >/dev/null &&
	test_expect_code 3 cairn-apply apply blog.tar.gz --env dev --db sqlite:dev-shop.db --key keys/ci.pub 2>err &&
	test_grep "the database belongs to project .shop. (environment .dev.), not .blog." err &&
	test "$(q dev-shop.db "SELECT count(*) FROM sqlite_master WHERE name = '"'"'t_20260201000000_posts'"'"'")" = 0
'

test_expect_success 'rollback, repair and baseline naming another environment are refused' '
	test_expect_code 3 cairn-apply rollback --db sqlite:prod.db --env dev --last 1 2>err &&
	test_grep "belongs to environment .prod." err &&
	test "$(q prod.db "SELECT count(*) FROM cairn_migrations WHERE state = '"'"'applied'"'"'")" = 2 &&
	test_expect_code 3 cairn-apply baseline --db sqlite:prod.db --env dev --version 1 2>err &&
	test_grep "belongs to environment .prod." err
'

test_expect_success 'an admin override moves the database to another environment, and the audit says so' '
	cp v2.tar.gz move.tar.gz &&
	cairn override move.tar.gz --env dev --key keys/dba.key --allow identity --comment "prod copy is dev now" >/dev/null 2>&1 &&
	cairn-apply apply move.tar.gz --env dev --db sqlite:prod.db >out 2>err &&
	test_grep "applied 1 migration" out &&
	q prod.db "SELECT detail FROM cairn_audit WHERE action = '"'"'identity'"'"' ORDER BY seq DESC LIMIT 1" >id &&
	test_grep "^project=shop; environment=dev; builders=[0-9a-f]*; policy=1; was: project=shop; environment=prod" id &&
	cairn-apply history --db sqlite:prod.db --verify >out
'

test_expect_success 'a database with books but no identity (older cairn) gets one on the next apply' '
	cairn-apply apply v1.tar.gz --env dev --db sqlite:old.db --key keys/ci.pub >/dev/null &&
	python3 "$TEST_DIRECTORY/helpers/audit-rechain.py" old.db \
		"DELETE FROM cairn_audit WHERE action = '"'"'identity'"'"'" &&
	test "$(q old.db "SELECT count(*) FROM cairn_audit WHERE action = '"'"'identity'"'"'")" = 0 &&
	cairn-apply history --db sqlite:old.db --verify >out &&
	cairn-apply apply v2.tar.gz --env dev --db sqlite:old.db --key keys/ci.pub >out &&
	q old.db "SELECT detail FROM cairn_audit WHERE action = '"'"'identity'"'"'" >id &&
	test_grep "^project=shop; environment=dev; builders=[0-9a-f]*; id=[0-9a-f]\{32\}; adopted: the books had no identity$" id &&
	test_expect_code 3 cairn-apply apply v2.tar.gz --env prod --db sqlite:old.db --key keys/ci.pub 2>err &&
	test_grep "belongs to environment .dev." err
'

test_done
