#!/bin/sh
test_description='a database under a policy (identity policy=1) is written by no verb run without a config: rollback, restore, baseline, fleet, apply, repair (issue #15)'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"

unset CAIRN_ENV CAIRN_DB CAIRN_LOCK_TIMEOUT CAIRN_APPLY_CONFIG CAIRN_CHECKPOINT

# the books and the schema of SQLite database $1, as the file has them
state() {
	q "$1" "SELECT count(*), max(hash) FROM cairn_audit;
		SELECT version, state FROM cairn_migrations ORDER BY version;
		SELECT type, name, sql FROM sqlite_master ORDER BY name;
		SELECT * FROM users ORDER BY id"
}

# refused WHAT ERRFILE: exit 3's message names the identity row's setting
# and the way out
refused() {
	test_grep "refusing to $1 .*: the database is under the policy of environment .prod. (project .p.; its identity, audit row 1, records policy=1), and this run has no applier.s config: run it with --config FILE" "$2"
}

test_expect_success 'setup: prod (one approval: rollback requires --bundle) applied under its config, with a backup' '
	apply_key &&
	cairn keygen --no-passphrase alice >/dev/null 2>&1 &&
	apply_project p &&
	apply_mig p 0001_users "CREATE TABLE users (id integer primary key, name text, note text);
INSERT INTO users VALUES (1, '"'"'ann'"'"', '"'"'a'"'"');" "DROP TABLE users;" &&
	apply_mig p 0002_drop_note "ALTER TABLE users DROP COLUMN note;" \
		"ALTER TABLE users ADD COLUMN note text;" &&
	apply_build p "$TRASH_DIRECTORY/v2.tar.gz" &&
	apply_table p 0003_items &&
	apply_build p "$TRASH_DIRECTORY/v3.tar.gz" &&
	cat >cairn-apply.yaml <<-\EOF &&
	defaults:
	  builders: [ci.pub]
	environments:
	  dev:
	    database: { dsn: "sqlite:dev.db" }
	  prod:
	    database: { dsn: "sqlite:prod.db" }
	    approvals: 1
	    approvers: [alice.pub]
	EOF
	cp v2.tar.gz p2.tar.gz &&
	cairn promote p2.tar.gz --to prod --key alice.key >/dev/null 2>&1 &&
	cairn-apply apply p2.tar.gz --env prod >out 2>err &&
	test_grep "applied 2 migrations" out &&
	ls prod.db.0002.*.backup >backups && test_line_count = 1 backups &&
	q prod.db "SELECT detail FROM cairn_audit WHERE seq = 1" >id &&
	test_grep "^project=p; environment=prod; builders=[0-9a-f]\{16\}; policy=1\(;\|$\)" id &&
	test_expect_code 3 cairn-apply rollback --env prod --last 1 2>err &&
	test_grep "require_bundle" err &&
	mkdir elsewhere
'

test_expect_success 'rollback --db without a config: prod.s require_bundle is not skipped (exit 3), nothing written' '
	state prod.db >before &&
	(cd elsewhere && test_expect_code 3 cairn-apply rollback --db sqlite:../prod.db --last 1 >out 2>err) &&
	refused "roll back" elsewhere/err &&
	(cd elsewhere && test_expect_code 3 cairn-apply rollback --db sqlite:../prod.db --to 0001 --bundle ../v2.tar.gz --key ../ci.pub >out 2>err) &&
	refused "roll back" elsewhere/err &&
	state prod.db >after &&
	test_cmp before after &&
	q prod.db "PRAGMA table_info(users)" >cols && test_grep ! "|note|" cols
'

test_expect_success 'restore --db without a config: the backup is not brought back (exit 3), nothing written' '
	state prod.db >before &&
	(cd elsewhere && test_expect_code 3 cairn-apply restore --db sqlite:../prod.db "../$(cat ../backups)" >out 2>err) &&
	refused "restore" elsewhere/err &&
	state prod.db >after &&
	test_cmp before after
'

test_expect_success 'apply, repair and fleet --db without a config: refused as well (exit 3), nothing written' '
	state prod.db >before &&
	(cd elsewhere && test_expect_code 3 cairn-apply apply ../v3.tar.gz --env prod --db sqlite:../prod.db --key ../ci.pub >out 2>err) &&
	refused "apply to" elsewhere/err &&
	(cd elsewhere && test_expect_code 3 cairn-apply repair --db sqlite:../prod.db 0002 --mark-rolled-back >out 2>err) &&
	refused "repair" elsewhere/err &&
	echo "prod sqlite:../prod.db" >elsewhere/targets &&
	(cd elsewhere && test_expect_code 1 cairn-apply fleet ../v3.tar.gz --env prod --key ../ci.pub --targets targets >out 2>err) &&
	test_grep "\"target\":\"prod\",.*\"outcome\":\"failed\",\"exit\":3,.*the database is under the policy of environment .prod. (project .p.; its identity, audit row 1, records policy=1)" elsewhere/out &&
	state prod.db >after &&
	test_cmp before after
'

test_expect_success 'baseline --db without a config on a database under a policy whose migrations were rolled back: exit 3' '
	cairn-apply apply v2.tar.gz --env dev >out 2>err &&
	cairn-apply rollback --env dev --to 0 >out 2>err &&
	test_grep "rolled back 2 migrations" out &&
	q dev.db "SELECT detail FROM cairn_audit WHERE seq = 1" >id &&
	test_grep "; policy=1" id &&
	q dev.db "SELECT count(*), max(hash) FROM cairn_audit; SELECT version, state FROM cairn_migrations ORDER BY version" >before &&
	(cd elsewhere && test_expect_code 3 cairn-apply baseline --db sqlite:../dev.db --version 0002 >out 2>err) &&
	test_grep "refusing to baseline .*: the database is under the policy of environment .dev. (project .p.; its identity, audit row 1, records policy=1)" elsewhere/err &&
	q dev.db "SELECT count(*), max(hash) FROM cairn_audit; SELECT version, state FROM cairn_migrations ORDER BY version" >after &&
	test_cmp before after
'

test_expect_success 'the way out the message names: the same rollback with --config (and the bundle prod requires) goes through' '
	(cd elsewhere && cairn-apply rollback --config ../cairn-apply.yaml --env prod --db sqlite:../prod.db --last 1 --bundle ../v2.tar.gz >out 2>err) &&
	test_grep "rolled back 1 migration" elsewhere/out &&
	q prod.db "PRAGMA table_info(users)" >cols && test_grep "|note|" cols &&
	cairn-apply history --db sqlite:prod.db --verify >out &&
	test_grep "intact" out
'

test_expect_success 'a database no config governs keeps DESIGN.md.s config-less rollback --db DSN --last N' '
	(cd elsewhere && cairn-apply apply ../v2.tar.gz --env dev --db sqlite:free.db --key ../ci.pub >out 2>err &&
	 cairn-apply rollback --db sqlite:free.db --last 1 >out 2>err) &&
	test_grep "rolled back 1 migration" elsewhere/out
'

test_done
