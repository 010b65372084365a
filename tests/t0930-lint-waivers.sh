#!/bin/sh
test_description='lint waivers in the signed manifest: inspect shows them, the applier policy refuses them by rule'
. "$(dirname "$0")/test-lib.sh"

unset CAIRN_ENV CAIRN_DB CAIRN_LOCK_TIMEOUT

# the migration that waives: drop-column by a comment, drop-table by
# migration.yaml (lint: {allow:}), rename-column by destructive: true
test_expect_success 'setup: a project whose second migration waives three findings, a signed bundle' '
	cairn keygen --no-passphrase ci >/dev/null 2>&1 &&
	test_create_project p &&
	printf "lint: {contract-only: off}\n" >>p/cairn.yaml &&
	test_migration p 20260101000000_users \
		"CREATE TABLE users (id integer PRIMARY KEY, legacy text, nick text); CREATE TABLE old (id integer);" \
		"DROP TABLE users; DROP TABLE old;" &&
	test_commit p v1 &&
	test_migration p 20260102000000_cleanup "-- cairn:allow drop-column legacy is unread since v3.2
ALTER TABLE users DROP COLUMN legacy;
DROP TABLE old;
ALTER TABLE users RENAME COLUMN nick TO handle;" "SELECT 1;" &&
	printf "lint: {allow: [drop-table]}\ndestructive: true\n" >p/migrations/20260102000000_cleanup/migration.yaml &&
	test_commit p v2 &&
	(cd p && cairn build --sign ../ci.key -o ../b.tar.gz >/dev/null 2>&1) &&
	cat >cairn-apply.yaml <<-\EOF &&
	defaults:
	  builders: [ci.pub]
	environments:
	  dev:
	    database: { dsn: "sqlite:dev.db" }
	  prod:
	    database: { dsn: "sqlite:prod.db" }
	    lint: {refuse_waived: [ban-drop-table]}
	  stage:
	    database: { dsn: "sqlite:stage.db" }
	    lint: {refuse_waived: [drop-column, rename-column]}
	EOF
	cairn-apply config --env prod >/dev/null
'

test_expect_success 'the manifest records each waived finding: comment, migration.yaml and destructive alike' '
	tar -xzOf b.tar.gz --wildcards "*/manifest.yaml" >manifest &&
	cat >expect <<-\EOF &&
	    waivers:
	      - rule: drop-column
	        file: up.sql
	        line: 2
	        via: comment
	        reason: "legacy is unread since v3.2"
	      - rule: drop-table
	        file: up.sql
	        line: 3
	        via: allow
	      - rule: rename-column
	        file: up.sql
	        line: 4
	        via: destructive
	EOF
	sed -n "/^    waivers:/,\$p" manifest >actual &&
	test_cmp expect actual
'

test_expect_success 'inspect shows them, in text and json' '
	cairn inspect b.tar.gz >out &&
	test_grep "waived drop-column at up.sql:2 (comment): legacy is unread since v3.2" out &&
	test_grep "waived drop-table at up.sql:3 (allow)" out &&
	test_grep "waived rename-column at up.sql:4 (destructive)" out &&
	cairn inspect --format json b.tar.gz >j &&
	python3 -c "import json,sys; w=json.load(open(\"j\"))[\"migrations\"][1][\"waivers\"]; assert [(x[\"rule\"],x[\"via\"],x[\"line\"]) for x in w]==[(\"drop-column\",\"comment\",2),(\"drop-table\",\"allow\",3),(\"rename-column\",\"destructive\",4)], w" &&
	python3 -c "import json; assert json.load(open(\"j\"))[\"migrations\"][0][\"waivers\"]==[]"
'

test_expect_success 'plan shows them before the SQL, in text and json' '
	cairn-apply plan b.tar.gz --env dev --db sqlite:plan.db >out &&
	test_grep "^      waived drop-column at up.sql:2 (comment): legacy is unread since v3.2" out &&
	test_grep "^      waived drop-table at up.sql:3 (allow)" out &&
	cairn-apply plan b.tar.gz --env dev --db sqlite:plan.db --format json >j &&
	python3 -c "import json; s=json.load(open(\"j\"))[\"steps\"]; assert \"waivers\" not in s[0] and [w[\"rule\"] for w in s[1][\"waivers\"]]==[\"drop-column\",\"drop-table\",\"rename-column\"], s"
'

test_expect_success 'an environment with no lint policy applies it' '
	cairn-apply apply b.tar.gz --env dev >out &&
	sqlite3 dev.db "SELECT name FROM pragma_table_info(\"users\") ORDER BY cid" >cols &&
	printf "id\nhandle\n" >expect &&
	test_cmp expect cols &&
	test -z "$(sqlite3 dev.db "SELECT name FROM sqlite_master WHERE name = \"old\"")"
'

test_expect_success 'refuse_waived by Squawk name refuses the waived drop-table (exit 3), names rule, migration and way out' '
	test_expect_code 3 cairn-apply apply b.tar.gz --env prod 2>err &&
	test_grep "refusing .b.tar.gz. for .prod.: lint-waiver: migration .20260102000000_cleanup. waives drop-table at up.sql:3 (by migration.yaml lint: {allow:})" err &&
	test_grep "fix the statement so the finding is gone and build again, or have the policy.s owner take drop-table out of refuse_waived" err &&
	test_grep "the database is unchanged" err &&
	test_grep ! "drop-column" err &&
	test ! -f prod.db &&
	test_expect_code 3 cairn-apply verify b.tar.gz --env prod 2>err &&
	test_grep "lint-waiver: migration .20260102000000_cleanup. waives drop-table" err
'

test_expect_success 'each refused rule is its own refusal, with the comment reason' '
	test_expect_code 3 cairn-apply apply b.tar.gz --env stage 2>err &&
	test_grep "lint-waiver: migration .20260102000000_cleanup. waives drop-column at up.sql:2 (by comment: legacy is unread since v3.2)" err &&
	test_grep "lint-waiver: migration .20260102000000_cleanup. waives rename-column at up.sql:4 (by destructive)" err &&
	test_grep ! "waives drop-table" err &&
	test ! -f stage.db
'

test_expect_success 'a name that is no rule is a config error, not a silent pass' '
	sed "s/ban-drop-table/ban-drop-tabel/" cairn-apply.yaml >typo.yaml &&
	test_must_fail cairn-apply apply b.tar.gz --env prod --config typo.yaml 2>err &&
	test_grep "typo.yaml:8:.*.refuse_waived. names .ban-drop-tabel., which is not a lint rule" err &&
	test ! -f prod.db
'

test_expect_success 'a waiver taken out of the manifest after signing: the build signature no longer covers it (exit 3)' '
	python3 "$TEST_DIRECTORY/helpers/bundle-rewrite.py" b.tar.gz forged.tar.gz --code "
import re
m[\"manifest.yaml\"] = re.sub(rb\"    waivers:\n(      - .*\n(        .*\n)*)+\", b\"\", m[\"manifest.yaml\"])" &&
	tar -xzOf forged.tar.gz --wildcards "*/manifest.yaml" >fm &&
	test_grep ! "waivers:" fm &&
	test_expect_code 3 cairn-apply apply forged.tar.gz --env prod 2>err &&
	test_grep "signature" err &&
	test_grep ! "lint-waiver" err &&
	test ! -f prod.db
'

test_expect_success 'a waiver rewritten after signing to slip past refuse_waived: the signature fails (exit 3)' '
	python3 "$TEST_DIRECTORY/helpers/bundle-rewrite.py" b.tar.gz forged2.tar.gz --code "
m[\"manifest.yaml\"] = m[\"manifest.yaml\"].replace(b\"rule: drop-table\", b\"rule: drop-index-not-concurrent\", 1)" &&
	tar -xzOf forged2.tar.gz --wildcards "*/manifest.yaml" >fm &&
	test_grep "rule: drop-index-not-concurrent" fm &&
	test_expect_code 3 cairn-apply apply forged2.tar.gz --env prod 2>err &&
	test_grep "changed after signing" err &&
	test ! -f prod.db
'

test_expect_success 'a cairn:allow by Squawk name waives nothing: the finding stays and the comment is reported' '
	test_migration p 20260103000000_more "-- cairn:allow ban-drop-table old habit
DROP TABLE users;" "SELECT 1;" &&
	(cd p && cairn check --format json >../c.json 2>/dev/null) &&
	python3 -c "import json; f=json.load(open(\"c.json\"))[\"findings\"]; r=[x[\"rule\"] for x in f if \"20260103\" in x[\"path\"]]; assert \"drop-table\" in r and \"unused-waiver\" in r, r"
'

test_done
