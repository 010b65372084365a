#!/bin/sh
test_description='a SQL callback'\''s waivers are signed in the manifest (format cairn-bundle/3): inspect and plan show them, the applier'\''s lint and destructive policies count them as a migration'\''s'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-attack.sh"

unset CAIRN_ENV CAIRN_DB CAIRN_LOCK_TIMEOUT

C=migrations/callbacks

test_expect_success 'setup: a project whose after_migrate callback rebuilds a staging table' '
	cairn keygen --no-passphrase ci >/dev/null 2>&1 &&
	cairn keygen --no-passphrase alice >/dev/null 2>&1 &&
	cairn keygen --no-passphrase bob >/dev/null 2>&1 &&
	test_create_project p &&
	git -C p checkout -q -b work &&
	printf "lint: {contract-only: off, drop-table: error}\n" >>p/cairn.yaml &&
	test_migration p 20260101000000_users "CREATE TABLE users (id integer PRIMARY KEY);" "DROP TABLE users;" &&
	mkdir -p p/$C &&
	printf "DROP TABLE IF EXISTS staging;\nCREATE TABLE staging (id integer);\n" >p/$C/after_migrate.sql &&
	echo "SELECT 1;" >p/$C/before_each.sql &&
	test_commit p v1 &&
	cat >cairn-apply.yaml <<-\EOF &&
	defaults:
	  builders: [ci.pub]
	environments:
	  dev:
	    database: { dsn: "sqlite:dev.db" }
	  prod:
	    database: { dsn: "sqlite:prod.db" }
	    lint: {refuse_waived: [drop-table]}
	  stage:
	    database: { dsn: "sqlite:stage.db" }
	    approvals: 1
	    approvers: [alice.pub, bob.pub]
	    destructive: {approvals: 2}
	EOF
	cairn-apply config --env prod >/dev/null
'

test_expect_success 'a destructive statement in an after callback needs its waiver: the build refuses it without one' '
	(cd p && test_must_fail cairn build --sign ../ci.key -o ../no.tar.gz >../out 2>&1) &&
	test_grep "^$C/after_migrate.sql:1: error: drop-table" out &&
	test ! -e no.tar.gz
'

test_expect_success 'with a waiver in the callback the build goes through, and the manifest (format 3) records it' '
	printf -- "-- cairn:allow drop-table the staging table is rebuilt each run\nDROP TABLE IF EXISTS staging;\nCREATE TABLE staging (id integer);\n" \
		>p/$C/after_migrate.sql &&
	test_commit p waived &&
	(cd p && cairn build --sign ../ci.key -o ../b.tar.gz >../out 2>&1) &&
	tar -xzOf b.tar.gz --wildcards "*/manifest.yaml" >manifest &&
	test_grep "^format: cairn-bundle/3$" manifest &&
	cat >expect <<-\EOF &&
	callback_waivers:
	  - rule: drop-table
	    file: after_migrate.sql
	    line: 2
	    via: comment
	    reason: "the staging table is rebuilt each run"
	EOF
	sed -n "/^callback_waivers:/,\$p" manifest >actual &&
	test_cmp expect actual &&
	test_grep ! "^    waivers:" manifest
'

test_expect_success 'the build is reproducible: the same commit builds the same bytes' '
	(cd p && cairn build --sign ../ci.key -o ../b2.tar.gz >/dev/null 2>&1) &&
	cmp b.tar.gz b2.tar.gz
'

test_expect_success 'inspect shows it under the callback, in text and json' '
	cairn inspect b.tar.gz >out &&
	grep -A1 "^  after_migrate.sql  sha256:" out >after &&
	test_grep "^      waived drop-table at after_migrate.sql:2 (comment): the staging table is rebuilt each run" after &&
	cairn inspect --format json b.tar.gz >j &&
	python3 -c "
import json
c = {x[\"name\"]: x[\"waivers\"] for x in json.load(open(\"j\"))[\"callbacks\"]}
assert c[\"before_each.sql\"] == [], c
assert c[\"after_migrate.sql\"] == [{\"rule\": \"drop-table\", \"file\": \"after_migrate.sql\", \"line\": 2, \"via\": \"comment\", \"reason\": \"the staging table is rebuilt each run\"}], c
"
'

test_expect_success 'plan shows it under the callback, in text and json' '
	cairn-apply plan b.tar.gz --env dev >out &&
	grep -A1 "^callback after_migrate: migrations/callbacks/after_migrate.sql" out >after &&
	test_grep "^      waived drop-table at after_migrate.sql:2 (comment): the staging table is rebuilt each run" after &&
	grep -A1 "^callback before_each:" out >before &&
	test_grep ! "waived" before &&
	cairn-apply plan b.tar.gz --env dev --format json >j &&
	python3 -c "
import json
c = {x[\"name\"]: x[\"waivers\"] for x in json.load(open(\"j\"))[\"callbacks\"]}
assert c[\"before_each\"] == [], c
assert [(w[\"rule\"], w[\"line\"], w[\"via\"]) for w in c[\"after_migrate\"]] == [(\"drop-table\", 2, \"comment\")], c
" &&
	test ! -e dev.db
'

test_expect_success 'an environment with no lint policy applies it, the callback included' '
	cairn-apply apply b.tar.gz --env dev >out 2>&1 &&
	sqlite3 dev.db "SELECT name FROM sqlite_master WHERE type = '\''table'\'' AND name IN ('\''users'\'', '\''staging'\'') ORDER BY name" >got &&
	printf "staging\nusers\n" >want &&
	test_cmp want got &&
	sqlite3 dev.db "SELECT version FROM cairn_migrations" >got &&
	echo 20260101000000 >want &&
	test_cmp want got &&
	sqlite3 dev.db "SELECT count(*) FROM cairn_audit WHERE action = '\''callback'\'' AND detail LIKE '\''callback=after_migrate.sql;%outcome=ok%'\''" >got &&
	echo 1 >want &&
	test_cmp want got &&
	cairn-apply history --verify --db sqlite:dev.db >out 2>&1
'

test_expect_success 'an environment that refuses waived drop-table refuses the callback'\''s (exit 3), the database untouched' '
	test_expect_code 3 cairn-apply apply b.tar.gz --env prod 2>err &&
	test_grep "lint-waiver: callback .after_migrate.sql. waives drop-table at after_migrate.sql:2 (by comment: the staging table is rebuilt each run), and .prod. refuses waived drop-table findings" err &&
	test_grep "the database is unchanged" err &&
	test ! -e prod.db &&
	test_expect_code 3 cairn-apply verify b.tar.gz --env prod 2>err &&
	test_grep "lint-waiver: callback .after_migrate.sql. waives drop-table" err
'

test_expect_success 'the destructive policy counts the callback'\''s waived finding as a migration'\''s' '
	cp b.tar.gz s.tar.gz &&
	cairn promote s.tar.gz --to stage --key alice.key >/dev/null 2>&1 &&
	test_expect_code 3 cairn-apply apply s.tar.gz --env stage 2>err &&
	test_grep "destructive: .stage. needs 2 approvals by distinct approvers (alice.pub, bob.pub) for a bundle with a destructive migration to run" err &&
	test_grep "migration .callbacks.: drop-table at after_migrate.sql:2 (a waived lint finding (comment))" err &&
	test_grep "the database is unchanged" err &&
	test -z "$(sqlite3 stage.db "SELECT name FROM sqlite_master WHERE name IN ('\''users'\'', '\''staging'\'', '\''cairn_migrations'\'')")"
'

test_expect_success 'a format 2 manifest with callback_waivers, a format 3 one without, or a waiver of no callback is refused (exit 3)' '
	bundle_rewrite b.tar.gz f2u.tar.gz \
		"m[\"manifest.yaml\"] = m[\"manifest.yaml\"].replace(b\"format: cairn-bundle/3\", b\"format: cairn-bundle/2\")" &&
	bundle_resign f2u.tar.gz f2.tar.gz "$TRASH_DIRECTORY/ci" &&
	test_expect_code 3 cairn-apply verify f2.tar.gz --key ci.pub >out 2>err &&
	test_grep "manifest.yaml:[0-9]*:[0-9]*: .callback_waivers. needs format cairn-bundle/3" err &&
	bundle_rewrite b.tar.gz f3u.tar.gz \
		"m[\"manifest.yaml\"] = m[\"manifest.yaml\"].split(b\"callback_waivers:\")[0]" &&
	bundle_resign f3u.tar.gz f3.tar.gz "$TRASH_DIRECTORY/ci" &&
	test_expect_code 3 cairn-apply verify f3.tar.gz --key ci.pub >out 2>err &&
	test_grep "format cairn-bundle/3 lists its .callback_waivers.: a non-empty list" err &&
	bundle_rewrite b.tar.gz f4u.tar.gz \
		"m[\"manifest.yaml\"] = m[\"manifest.yaml\"].replace(b\"file: after_migrate.sql\", b\"file: after_each.sql\")" &&
	bundle_resign f4u.tar.gz f4.tar.gz "$TRASH_DIRECTORY/ci" &&
	test_expect_code 3 cairn-apply verify f4.tar.gz --key ci.pub >out 2>err &&
	test_grep "a callback.s waiver names .after_each.sql., which is not one of the bundle.s callbacks" err &&
	test_expect_code 3 cairn-apply apply f2.tar.gz --env dev --db sqlite:forged.db 2>err &&
	test ! -e forged.db
'

test_done
