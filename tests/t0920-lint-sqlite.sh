#!/bin/sh
test_description='cairn lint on SQLite scripts: SQLite itself prepares them on the schema the earlier migrations built'
. "$(dirname "$0")/test-lib.sh"

RULES="$TEST_DIRECTORY/lint/sqlite-rules.txt"

. "$TEST_DIRECTORY/lib-lint.sh"

# sqlite_project DIR EARLIER_SQL SQL: a project that targets SQLite only,
# whose second migration is SQL.
sqlite_project() {
	rm -rf "$1" && mkdir -p "$1/migrations/0001_base" "$1/migrations/0002_change" &&
	printf "drivers: [sqlite]\nversion_style: sequence\nlint: {all: warning}\nsqlite: {version: 3.34}\n" >"$1/cairn.yaml" &&
	printf "%s\n" "$2" | tr @ "\n" >"$1/migrations/0001_base/up.sql" &&
	printf "%s\n" "$3" | tr @ "\n" >"$1/migrations/0002_change/up.sql"
}

lint_json() {
	cairn lint --format json "$@"
	test $? -le 1
}

while IFS='|' read -r rule base fire quiet; do
	case "$rule" in '#'*|'') continue ;; esac
	test_expect_success "$rule fires" '
		sqlite_project p "$base" "$fire" &&
		(cd p && lint_json >../out) &&
		has out "$rule" &&
		python3 -c "import json,sys; f=[x for x in json.load(open(\"out\"))[\"findings\"] if x[\"rule\"]==sys.argv[1]]; assert all(x[\"path\"].endswith(\"0002_change/up.sql\") for x in f), f" "$rule"
	'
	test_expect_success "$rule stays quiet on the safe form" '
		sqlite_project p "$base" "$quiet" &&
		(cd p && lint_json >../out) &&
		has ! out "$rule"
	'
done <"$RULES"

test_expect_success 'every SQLite rule has its line in sqlite-rules.txt and docs/lint.md' '
	(cd p && cairn lint --format sarif >../sarif) &&
	python3 -c "import json; [print(r[\"id\"]) for r in json.load(open(\"sarif\"))[\"runs\"][0][\"tool\"][\"driver\"][\"rules\"] if r[\"id\"].startswith(\"sqlite-\")]" >ids &&
	test $(wc -l <ids) -eq 10 &&
	while read -r id; do
		grep -q "^$id|" "$RULES" || { echo "no test line for $id"; return 1; }
		grep -q "| \`$id\` |" "$SRC_DIR/docs/lint.md" || { echo "$id not in docs/lint.md"; return 1; }
	done <ids
'

test_expect_success 'a syntax error names the file, line and column where SQLite stopped' '
	sqlite_project p "CREATE TABLE t (a integer);" "$(printf "%s\n" "-- two" "UPDATE t SET a = 1;" "ALTER TABLE t ADD COLUMN b uuid DEFAULT gen_random_uuid();")" &&
	printf "drivers: [sqlite]\nversion_style: sequence\n" >p/cairn.yaml &&
	(cd p && test_must_fail --exit=1 cairn lint >../out 2>../err) &&
	test_grep "^migrations/0002_change/up.sql:3:56: error: sqlite-syntax: SQLite.s parser refuses the statement: near \"(\": syntax error" out &&
	test_grep "^    3 | ALTER TABLE t ADD COLUMN b uuid DEFAULT gen_random_uuid();$" out
'

test_expect_success 'the schema comes from the earlier migrations: a table created in the same migration is new and empty' '
	sqlite_project p "CREATE TABLE t (a integer);" "$(printf "%s\n" "CREATE TABLE n (a integer);" "ALTER TABLE n ADD COLUMN b integer NOT NULL;" "ALTER TABLE t ADD COLUMN b integer NOT NULL;")" &&
	(cd p && lint_json >../out) &&
	has ! out sqlite-add-column 2 &&
	has out sqlite-add-column 3 "Cannot add a NOT NULL column with default value NULL" &&
	sqlite_project p "CREATE TABLE t (a integer);" "ALTER TABLE t ADD COLUMN at text DEFAULT CURRENT_TIMESTAMP;" &&
	(cd p && lint_json >../out) &&
	has out sqlite-add-column 1 "non-constant default" &&
	sqlite_project p "CREATE TABLE t (a integer);" "ALTER TABLE missing ADD COLUMN b integer;" &&
	(cd p && lint_json >../out) &&
	has out sqlite-error 1 "no such table: missing"
'

# A doubled quote inside a quoted name split the name in two for the
# words the rules read: ALTER TABLE "q""x" ADD COLUMN lost its ADD, and
# sqlite-add-column stayed quiet, a side door around the rule.
test_expect_success 'a quoted table name with a doubled quote: the ADD COLUMN rule still fires, at the column' '
	sqlite_project p "CREATE TABLE \"q\"\"uote(d\" (a integer);@CREATE TABLE [sq] (a integer);@CREATE TABLE \`b\`\`t\` (a integer);" \
		"ALTER TABLE \"q\"\"uote(d\" ADD COLUMN b integer NOT NULL;@ALTER TABLE main.\"q\"\"uote(d\" ADD c integer NOT NULL;@ALTER TABLE [sq] ADD COLUMN b integer NOT NULL;@ALTER TABLE \`b\`\`t\` ADD COLUMN b integer NOT NULL;" &&
	(cd p && lint_json >../out) &&
	has out sqlite-add-column 1 &&
	has out sqlite-add-column 2 &&
	has out sqlite-add-column 3 &&
	has out sqlite-add-column 4 &&
	python3 -c "import json; f=[(x[\"line\"], x[\"column\"]) for x in json.load(open(\"out\"))[\"findings\"] if x[\"rule\"]==\"sqlite-add-column\"]; assert (1, 36) in f and (3, 29) in f, f"
'

test_expect_success 'a bare file has no history: unknown tables are not errors, its rules still work' '
	printf "%s\n" "ALTER TABLE orders ADD COLUMN total integer NOT NULL;" "INSERT INTO nowhere VALUES (1);" >a.sqlite.sql &&
	lint_json a.sqlite.sql >out &&
	has out sqlite-add-column 1 &&
	has ! out sqlite-error
'

test_expect_success 'transaction: {sqlite: false}: VACUUM and PRAGMA foreign_keys are fine there, and foreign_keys = OFF quiets the rebuild' '
	sqlite_project p "CREATE TABLE p (id integer PRIMARY KEY);@CREATE TABLE c (p integer REFERENCES p (id));" \
		"PRAGMA foreign_keys = OFF;@CREATE TABLE p2 (id integer PRIMARY KEY, x text);@INSERT INTO p2 (id) SELECT id FROM p;@DROP TABLE p;@ALTER TABLE p2 RENAME TO p;@PRAGMA foreign_key_check;@VACUUM;" &&
	(cd p && lint_json >../out) &&
	has out sqlite-pragma-in-transaction 1 &&
	has out sqlite-drop-referenced 4 "referenced by c" &&
	printf "transaction: {sqlite: false}\n" >p/migrations/0002_change/migration.yaml &&
	(cd p && lint_json >../out) &&
	has ! out sqlite-pragma-in-transaction &&
	has ! out sqlite-drop-referenced &&
	has ! out sqlite-not-in-transaction
'

test_expect_success 'the sandbox: ATTACH opens no file, VACUUM INTO writes none, an endless query is stopped' '
	printf "%s\n" "ATTACH DATABASE '\''$PWD/attached.db'\'' AS x;" "VACUUM INTO '\''$PWD/copy.db'\'';" \
		"CREATE TABLE t (a integer);" \
		"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) INSERT INTO t SELECT x FROM c;" \
		"ALTER TABLE t ADD COLUMN b integer NOT NULL;" >s.sqlite.sql &&
	lint_json s.sqlite.sql >out &&
	! test -e attached.db &&
	! test -e copy.db &&
	has out sqlite-not-in-transaction 1 "ATTACH"
'

test_expect_success 'waivers: cairn:allow and lint: {allow}; a PostgreSQL waiver is not the SQLite linter'\''s to call unused' '
	sqlite_project p "CREATE TABLE t (a integer);" "-- cairn:allow sqlite-add-column the table is empty in every environment@ALTER TABLE t ADD COLUMN b integer NOT NULL;@-- cairn:allow drop-table not SQLite'\''s@DROP TABLE t;" &&
	(cd p && lint_json >../out) &&
	has ! out sqlite-add-column &&
	has ! out unused-waiver &&
	sqlite_project p "CREATE TABLE t (a integer);" "-- cairn:allow sqlite-affinity nothing here@SELECT 1;" &&
	(cd p && lint_json >../out) &&
	has out unused-waiver 1 "sqlite-affinity waives nothing" &&
	sqlite_project p "CREATE TABLE t (a integer);" "ALTER TABLE t ADD COLUMN b integer NOT NULL;" &&
	printf "lint: {allow: [sqlite-add-column]}\n" >p/migrations/0002_change/migration.yaml &&
	(cd p && lint_json >../out) &&
	has ! out sqlite-add-column
'

test_expect_success 'cairn check and build: SQLite findings in a SQLite project, the history from git' '
	test_create_project g &&
	sed -i "s/^drivers:.*/drivers: [sqlite]/" g/cairn.yaml &&
	test_migration g 20260101000000_users "CREATE TABLE users (id integer PRIMARY KEY, email text);" &&
	test_commit g base &&
	test_migration g 20260102000000_token "ALTER TABLE users ADD COLUMN token text NOT NULL;" "ALTER TABLE users DROP COLUMN token;" &&
	git -C g add -A &&
	(cd g && test_must_fail --exit=1 cairn check --staged >../out 2>../err) &&
	test_grep "^migrations/20260102000000_token/up.sql:1: error: sqlite-add-column: SQLite refuses this ADD COLUMN once the table has a row: Cannot add a NOT NULL column with default value NULL" out &&
	git -C g checkout -q -b token &&
	test_commit g token &&
	(cd g && test_must_fail cairn build -o ../b.tar.gz >../out 2>../err) &&
	! test -e b.tar.gz &&
	test_grep "sqlite-add-column" err &&
	test_migration g 20260102000000_token "ALTER TABLE users ADD COLUMN token text NOT NULL DEFAULT '\'''\'';" "ALTER TABLE users DROP COLUMN token;" &&
	test_commit g token-default &&
	(cd g && cairn check >../out 2>../err) &&
	test_grep ! sqlite- out &&
	(cd g && cairn build -o ../b.tar.gz >../out 2>../err) &&
	test -s b.tar.gz
'

test_expect_success 'cairn check leaves VACUUM and PRAGMA foreign_keys in a transaction to its own rules' '
	test_migration g 20260103000000_vac "PRAGMA foreign_keys = OFF;@VACUUM;" &&
	sed -i "s/@/\n/g" g/migrations/20260103000000_vac/up.sql &&
	git -C g add -A &&
	(cd g && test_must_fail cairn check --staged >../out 2>../err) &&
	test_grep "not-in-transaction: VACUUM" out &&
	test_grep "pragma-in-transaction" out &&
	test_grep ! "sqlite-not-in-transaction" out &&
	test_grep ! "sqlite-pragma-in-transaction" out
'

test_done
