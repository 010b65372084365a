#!/bin/sh
test_description='cairn lint: each rule fires and stays quiet, waivers, levels, formats, check and build'
. "$(dirname "$0")/test-lib.sh"

M=migrations
RULES="$TEST_DIRECTORY/lint/rules.txt"

# lint_json FILE...: cairn lint's json, exit 0 or 1 (findings) but no crash.
lint_json() {
	cairn lint --format json "$@"
	test $? -le 1
}

. "$TEST_DIRECTORY/lib-lint.sh"

test_expect_success 'setup: a folder with every rule on' '
	mkdir r && printf "lint: {all: warning}\n" >r/cairn.yaml
'

# rules.txt: rule|firing SQL|quiet SQL ('@' is a line break). Each line is
# two tests: the rule is reported on the firing SQL (in the json, at line
# 1 or 2) and not on the quiet one.
while IFS='|' read -r rule fire quiet; do
	case "$rule" in '#'*|'') continue ;; esac
	test_expect_success "$rule fires" '
		printf "%s\n" "$fire" | tr @ "\n" >r/f.sql &&
		(cd r && lint_json f.sql >../out) &&
		has out "$rule"
	'
	test_expect_success "$rule stays quiet on the safe form" '
		printf "%s\n" "$quiet" | tr @ "\n" >r/q.sql &&
		(cd r && lint_json q.sql >../out) &&
		has ! out "$rule"
	'
done <"$RULES"

test_expect_success 'every rule of the table has its line in rules.txt and docs/lint.md' '
	(cd r && cairn lint --format sarif q.sql >../sarif) &&
	python3 -c "import json,sys; [print(r[\"id\"]) for r in json.load(open(\"sarif\"))[\"runs\"][0][\"tool\"][\"driver\"][\"rules\"]]" >ids &&
	test $(wc -l <ids) -ge 37 &&
	while read -r id; do
		# contract-only reads a migration'"'"'s phase: t0950 tests it
		test "$id" = not-rerunnable || test "$id" = contract-only || grep -q "^$id|" "$RULES" "$TEST_DIRECTORY/lint/sqlite-rules.txt" || { echo "no test line for $id"; return 1; }
		grep -q "| \`$id\` |" "$SRC_DIR/docs/lint.md" || { echo "$id not in docs/lint.md"; return 1; }
	done <ids
'

test_expect_success 'not-rerunnable: outside a transaction, a statement that fails run twice' '
	mkdir -p r/m1 &&
	printf "CREATE INDEX CONCURRENTLY i ON t (a);\nCREATE INDEX CONCURRENTLY IF NOT EXISTS j ON t (b);\n" >r/m1/up.sql &&
	printf "transaction: false\n" >r/m1/migration.yaml &&
	(cd r && cairn lint --format json m1 >../out) &&
	has out not-rerunnable 1 "CREATE INDEX CONCURRENTLY without IF NOT EXISTS" &&
	has ! out not-rerunnable 2 &&
	has ! out concurrent-in-transaction
'

test_expect_success 'CONCURRENTLY: an error in a transactional migration, fine with transaction: false' '
	mkdir -p r/m2 && printf "CREATE INDEX CONCURRENTLY i ON t (a);\n" >r/m2/up.sql &&
	(cd r && cairn lint m2 >../out 2>../err) &&
	test_grep "^m2/up.sql:1:1: warning: concurrent-in-transaction: CREATE INDEX CONCURRENTLY cannot run inside a transaction block" out &&
	printf "lint: {concurrent-in-transaction: error}\n" >r/cairn.yaml &&
	(cd r && test_must_fail --exit=1 cairn lint m2 >../out 2>../err) &&
	test_grep "error: concurrent-in-transaction" out &&
	test_grep "1 file linted, 1 error, 0 warnings" err &&
	printf "transaction: false\n" >r/m2/migration.yaml &&
	(cd r && cairn lint m2 >../out 2>../err) &&
	test_grep ! concurrent-in-transaction out
'

test_expect_success 'text: file:line:col, the source line and a caret under the column' '
	mkdir d &&
	printf "SET lock_timeout = 1000;\nALTER TABLE orders ADD COLUMN n bigint NOT NULL;\n" >d/c.sql &&
	(cd d && test_must_fail --exit=1 cairn lint c.sql >../out 2>../err) &&
	test_grep "^c.sql:2:31: error: required-column: ADD COLUMN n NOT NULL without a default" out &&
	test_grep "^    2 | ALTER TABLE orders ADD COLUMN n bigint NOT NULL;$" out &&
	test_grep "^      |                               ^$" out
'

test_expect_success 'colour on a terminal, none with NO_COLOR' '
	command -v script >/dev/null &&
	(cd d && unset NO_COLOR && script -qec "cairn lint c.sql" /dev/null >../tty || :) &&
	test_grep "$(printf "\033")\[1;31merror" tty &&
	(cd d && NO_COLOR=1 script -qec "cairn lint c.sql" /dev/null >../tty || :) &&
	test_grep ! "$(printf "\033")" tty &&
	test_grep "c.sql:2:31: error: required-column" tty
'

test_expect_success 'json, sarif, github and gitlab forms' '
	(cd d && test_must_fail cairn lint --format json c.sql >../j &&
	 test_must_fail cairn lint --format sarif c.sql >../s &&
	 test_must_fail cairn lint --format github c.sql >../g &&
	 test_must_fail cairn lint --format gitlab c.sql >../l) &&
	python3 -c "import json; d=json.load(open(\"j\")); f=d[\"findings\"][0]; assert (f[\"line\"], f[\"column\"], f[\"rule\"], f[\"squawk\"]) == (2, 31, \"required-column\", \"adding-required-field\"), f" &&
	python3 -c "import json; d=json.load(open(\"s\")); assert d[\"version\"] == \"2.1.0\"; r=d[\"runs\"][0][\"results\"][0]; assert r[\"ruleId\"] == \"required-column\" and r[\"level\"] == \"error\" and r[\"locations\"][0][\"physicalLocation\"][\"region\"] == {\"startLine\": 2, \"startColumn\": 31}, r" &&
	test_grep "^::error file=c.sql,line=2,col=31,title=required-column::ADD COLUMN n NOT NULL" g &&
	python3 -c "import json; d=json.load(open(\"l\")); x=d[0]; assert x[\"check_name\"] == \"required-column\" and x[\"severity\"] == \"major\" and x[\"location\"] == {\"path\": \"c.sql\", \"lines\": {\"begin\": 2}} and len(x[\"fingerprint\"]) == 64, x"
'

test_expect_success 'waivers: a cairn:allow comment, an unknown rule, an unused one' '
	printf "%s\n" "-- cairn:allow drop-column the column is unused since v3" \
		"ALTER TABLE t DROP COLUMN legacy;" "-- cairn:allow drop-colum typo" \
		"ALTER TABLE t DROP COLUMN other;" "-- cairn:allow rename-table nothing to rename" \
		"SELECT 1;" >r/w.sql &&
	(cd r && cairn lint --format json w.sql >../out) &&
	has ! out drop-column 2 &&
	has out unused-waiver 3 "drop-colum" &&
	has out unused-waiver 3 "which is not a lint rule" &&
	has out drop-column 4 &&
	has out unused-waiver 5 "cairn:allow rename-table waives nothing"
'

test_expect_success 'postgres: {version:} decides the version-dependent rules' '
	printf "ALTER TABLE t ADD COLUMN n bigint DEFAULT 0;\nALTER TABLE p DETACH PARTITION p1;\n" >r/v.sql &&
	printf "lint: {all: warning}\npostgres: {version: 10}\n" >r/cairn.yaml &&
	(cd r && cairn lint --format json v.sql >../out) &&
	has out volatile-default 1 "before PostgreSQL 11" &&
	has ! out detach-not-concurrent &&
	printf "lint: {all: warning}\npostgres: {version: 16}\n" >r/cairn.yaml &&
	(cd r && cairn lint --format json v.sql >../out) &&
	has ! out volatile-default &&
	has out detach-not-concurrent 2
'

test_expect_success 'usage: an unknown format, a missing path, a bad level in cairn.yaml' '
	(cd r && test_must_fail --exit=2 cairn lint --format xml v.sql 2>../err) &&
	test_grep "unknown format .xml." err &&
	(cd r && test_must_fail --exit=6 cairn lint nothere.sql 2>../err) &&
	test_grep "cannot lint .nothere.sql." err &&
	printf "lint: {drop-colum: error, drop-table: loud}\n" >r/cairn.yaml &&
	(cd r && cairn lint v.sql 2>../err >/dev/null) &&
	test_grep "cairn.yaml:1: error: unknown-key: lint: .drop-colum. is not a lint rule" err &&
	test_grep "cairn.yaml:1: error: bad-value: .drop-table." err
'

# ---- in a project: check, build, migration.yaml ----

test_expect_success 'setup: a project with a released table' '
	test_create_project p &&
	sed -i -e "/^  - refs\//d" -e "s/^release_refs:.*/release_refs: []/" -e "s/^drivers:.*/drivers: [postgres]/" p/cairn.yaml &&
	printf "lint:\n  contract-only: off\n" >>p/cairn.yaml &&
	test_migration p 20260101000000_users "CREATE TABLE users (id bigint, email text, legacy text);" &&
	test_commit p base
'

test_expect_success 'check: the five dangerous statements of the issue are findings with their lines' '
	test_migration p 20260102000000_five "$(printf "%s\n" \
		"CREATE INDEX users_email_idx ON users (email);" \
		"ALTER TABLE users ADD COLUMN token uuid NOT NULL DEFAULT gen_random_uuid();" \
		"ALTER TABLE users ALTER COLUMN id TYPE numeric;" \
		"ALTER TABLE users ADD CONSTRAINT users_self_fk FOREIGN KEY (id) REFERENCES users (id);" \
		"ALTER TABLE users DROP COLUMN legacy;")" &&
	(cd p && cairn check >../out 2>../err) &&
	f=$M/20260102000000_five/up.sql &&
	test_grep "^$f:1: warning: index-not-concurrent: CREATE INDEX on users takes a SHARE lock, which blocks INSERT, UPDATE and DELETE" out &&
	test_grep "^$f:2: warning: volatile-default: ADD COLUMN token with a volatile DEFAULT rewrites all of users under an ACCESS EXCLUSIVE lock" out &&
	test_grep "^$f:3: warning: column-type: ALTER COLUMN id TYPE takes an ACCESS EXCLUSIVE lock on users" out &&
	test_grep "^$f:4: warning: foreign-key: a foreign key takes SHARE ROW EXCLUSIVE locks" out &&
	test_grep "^$f:4: warning: constraint-not-valid:" out &&
	test_grep "^$f:5: warning: drop-column: DROP COLUMN legacy takes an ACCESS EXCLUSIVE lock" out &&
	test_grep "^$f:1: warning: lock-timeout:" out &&
	test_grep "2 migrations checked, 7 warnings" err &&
	(cd p && cairn check --format json >../out) &&
	test_grep "\"line\":2,\"column\":30,\"severity\":\"warning\",\"rule\":\"volatile-default\"" out
'

test_expect_success 'build: a rule set to error refuses the build, and no bundle is written' '
	test_commit p five &&
	printf "  drop-column: error\n" >>p/cairn.yaml && test_commit p strict &&
	(cd p && test_must_fail --exit=1 cairn build -o ../b.tar.gz >../out 2>&1) &&
	test_grep "up.sql:5: error: drop-column" out &&
	test ! -e b.tar.gz
'

test_expect_success 'migration.yaml lint: {allow: [...]} waives; an unused entry is a finding at its line' '
	printf "lint:\n  allow: [drop-column, rename-table]\nlock_timeout: 2s\n" >p/$M/20260102000000_five/migration.yaml &&
	git -C p add -A && git -C p commit -q --allow-empty -m lint-692 &&
	(cd p && cairn check >../out 2>../err) &&
	test_grep ! "drop-column" out &&
	test_grep ! "lock-timeout" out &&
	test_grep "^$M/20260102000000_five/migration.yaml:2: warning: unused-waiver: lint: allow lists rename-table, which waives nothing" out &&
	(cd p && cairn build -o ../b.tar.gz >../out 2>../err) &&
	test -s b.tar.gz
'

test_expect_success 'destructive: true acknowledges drop-column; a cairn:allow comment in up.sql too' '
	printf "destructive: true\nlock_timeout: 2s\n" >p/$M/20260102000000_five/migration.yaml &&
	git -C p add -A && git -C p commit -q --allow-empty -m lint-692 &&
	(cd p && cairn check >../out 2>../err) &&
	test_grep ! "drop-column" out &&
	printf "lock_timeout: 2s\n" >p/$M/20260102000000_five/migration.yaml &&
	sed -i "s/^ALTER TABLE users DROP COLUMN legacy;/-- cairn:allow drop-column unused since v3\n&/" p/$M/20260102000000_five/up.sql &&
	git -C p add -A && git -C p commit -q --allow-empty -m lint-692 &&
	(cd p && cairn check >../out 2>../err) &&
	test_grep ! "drop-column" out &&
	test_grep ! "unused-waiver" out
'

test_expect_success 'migration.yaml: a lint: allow naming no rule is an error' '
	printf "lint: {allow: [drop-colum]}\n" >p/$M/20260102000000_five/migration.yaml &&
	(cd p && test_must_fail --exit=1 cairn check >../out 2>../err) &&
	test_grep "migration.yaml:1: error: unknown-key: lint: allow names .drop-colum., which is not a lint rule" out
'

test_expect_success 'a table created in the same migration: no lock findings on it' '
	printf "lock_timeout: 2s\n" >p/$M/20260102000000_five/migration.yaml &&
	test_migration p 20260103000000_tags "$(printf "%s\n" \
		"CREATE TABLE tags (id bigint, name text);" "CREATE INDEX tags_name ON tags (name);" \
		"ALTER TABLE tags ADD CONSTRAINT tags_name_key UNIQUE (name);" \
		"ALTER TABLE tags ADD COLUMN n bigint NOT NULL;")" &&
	git -C p add -A && git -C p commit -q --allow-empty -m lint-692 &&
	(cd p && cairn check >../out 2>../err) &&
	test_grep ! "20260103000000_tags" out
'

test_expect_success 'cairn lint with no PATH lints the project, a migration as cairn check does' '
	printf "lock_timeout: 2s\n" >p/$M/20260102000000_five/migration.yaml &&
	(cd p && cairn lint >../out 2>../err) &&
	test_grep "20260102000000_five/up.sql:1:1: warning: index-not-concurrent" out &&
	test_grep ! "lock-timeout" out &&
	test_grep ! "20260101000000_users" out
'

test_expect_success 'lock-timeout names the lock taken: VALIDATE CONSTRAINT alone takes SHARE UPDATE EXCLUSIVE, which reads and writes pass' '
	mkdir -p v &&
	printf "ALTER TABLE users VALIDATE CONSTRAINT users_chk;\n" >v/v.sql &&
	printf "ALTER TABLE users ADD COLUMN x int, VALIDATE CONSTRAINT c;\n" >v/w.sql &&
	(cd v && cairn lint v.sql w.sql >../out 2>../err) &&
	test_grep "^v.sql:1:1: warning: lock-timeout: this statement waits for the SHARE UPDATE EXCLUSIVE lock with no lock_timeout set: reads and writes go on" out &&
	test_grep ! "^v.sql.*ACCESS EXCLUSIVE" out &&
	test_grep "^w.sql:1:1: warning: lock-timeout: this statement waits for the ACCESS EXCLUSIVE lock" out
'

test_done
