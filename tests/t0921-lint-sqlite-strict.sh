#!/bin/sh
test_description='the SQLite linter knows a STRICT table from its schema entry (lint/sqlite-strict.c): in the migration that makes it, in later ones (lint, check, build, check --staged from its cache), after a drop, a rename and a reused rowid; and it says what SQLite'"'"'s pragma_table_list says'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-lint.sh"

M=migrations

# mig N_SLUG: a migration whose up script is stdin.
mig() {
	mkdir -p "p/$M/$1" &&
	cat >"p/$M/$1/up.sql" &&
	echo "SELECT 1;" >"p/$M/$1/down.sql"
}

# strict_of OUT: the tables the sqlite-version findings of OUT (json) call
# STRICT, one a line, sorted; with PATH, only those in that file.
strict_of() {
	python3 - "$@" <<-\PY
	import json, re, sys
	f = json.load(open(sys.argv[1]))["findings"]
	names = set()
	for x in f:
	    m = re.match(r"(.*) is a STRICT table, which SQLite has", x["message"])
	    if x["rule"] == "sqlite-version" and m and (len(sys.argv) < 3 or x["path"].endswith(sys.argv[2])):
	        names.add(m.group(1))
	print("\n".join(sorted(names)))
	PY
}

# A STRICT table s and a plain one n, then 100 more tables: s is no longer
# among the last rows of the schema when migration 2 alters it.
test_expect_success 'setup' '
	git init -q p &&
	printf "name: p\ndrivers: [sqlite]\nversion_style: sequence\nlint: {all: warning}\n" >p/cairn.yaml &&
	{
		printf "%s\n" "CREATE TABLE s (a integer) STRICT;" "CREATE TABLE n (a integer);" &&
		i=0 && while test $i -lt 100; do echo "CREATE TABLE f$i (a integer);"; i=$((i + 1)); done
	} | mig 0001_base &&
	printf "%s\n" "ALTER TABLE s ADD COLUMN b ANY;" "ALTER TABLE n ADD COLUMN b ANY;" | mig 0002_alter &&
	git -C p add -A && git -C p commit -q -m base
'

# ANY is a type only a STRICT table takes as it is: elsewhere it is
# NUMERIC affinity, and sqlite-affinity says so. A lookup that called s
# plain reports line 1; one that called n STRICT misses line 2.
test_expect_success 'an earlier migration'\''s STRICT table is STRICT to a later ADD COLUMN: lint, check and build' '
	(cd p && cairn lint --format json >../out; test $? -le 1) &&
	has out sqlite-affinity 2 "column b is declared ANY" &&
	has ! out sqlite-affinity 1 &&
	(cd p && cairn check --format json >../out; test $? -le 1) &&
	has out sqlite-affinity 2 "column b is declared ANY" &&
	has ! out sqlite-affinity 1 &&
	(cd p && cairn build -o ../b.tar.gz >../out 2>../err) &&
	test -s b.tar.gz &&
	test_grep "0002_alter/up.sql:2: warning: sqlite-affinity: column b is declared ANY" err &&
	test_grep ! "0002_alter/up.sql:1:" err
'

test_expect_success 'check --staged: the same from a cold replay and from its cache' '
	git -C p rm -q -r --cached $M/0002_alter &&
	git -C p commit -q -m "without 0002" &&
	git -C p add -A &&
	for run in cold warm; do
		(cd p && CAIRN_LINT_CACHE_VERBOSE=1 cairn check --staged --format json >../$run 2>../$run.err; test $? -le 1) &&
		has $run sqlite-affinity 2 "column b is declared ANY" &&
		has ! $run sqlite-affinity 1 || return 1
	done &&
	test_grep "0 migrations from the cache, 1 stored" cold.err &&
	test_grep "1 migrations from the cache" warm.err &&
	git -C p commit -q -m alter
'

# r is the last table made, dropped and made again: SQLite gives the new
# r the rowid of the old one, so the hint of where r was seen points at a
# row that is r's, but no longer STRICT. s and n trade places through a
# rename.
test_expect_success 'a drop, a rename and a reused rowid: the entry read now decides, not what was seen before' '
	printf "%s\n" \
		"CREATE TABLE r (a integer) STRICT;" \
		"ALTER TABLE r ADD COLUMN b ANY;" \
		"DROP TABLE r;" \
		"CREATE TABLE r (a integer);" \
		"ALTER TABLE r ADD COLUMN c ANY;" \
		"ALTER TABLE s RENAME TO s_old;" \
		"CREATE TABLE s (a integer);" \
		"ALTER TABLE s ADD COLUMN c ANY;" \
		"ALTER TABLE s_old ADD COLUMN c ANY;" \
		"DROP TABLE n;" \
		"CREATE TABLE N (a integer) STRICT;" \
		"ALTER TABLE n ADD COLUMN c ANY;" | mig 0003_again &&
	git -C p add -A && git -C p commit -q -m again &&
	(cd p && cairn lint --format json >../out; test $? -le 1) &&
	python3 -c "import json; print(sorted(x[\"line\"] for x in json.load(open(\"out\"))[\"findings\"] if x[\"rule\"] == \"sqlite-affinity\" and x[\"path\"].endswith(\"0003_again/up.sql\")))" >lines &&
	echo "[5, 8]" >want &&
	test_cmp want lines &&
	printf "%s\n" "CREATE TABLE f (a integer);" "CREATE TABLE r (a integer) STRICT;" \
		"SELECT rowid FROM sqlite_schema WHERE name = '\''r'\'';" "DROP TABLE r;" "CREATE TABLE r (a integer);" \
		"SELECT rowid FROM sqlite_schema WHERE name = '\''r'\'';" | sqlite3 :memory: >rowids &&
	test_line_count = 2 rowids &&
	test $(sort -u rowids | wc -l) -eq 1
'

# Table options after comments, quoted names and strings that hold
# parentheses and the word STRICT: the tables cairn calls STRICT (through
# sqlite-version, with sqlite: {version: 3.34}) are the ones SQLite's
# pragma_table_list calls strict, when made and when altered later. (Not
# altered: "q""uote(d", whose ALTER TABLE the linter's reader of the
# statement's first words takes for another form, before and after
# lint/sqlite-strict.c: no ADD COLUMN check runs on it.)
test_expect_success 'the tables called STRICT are the ones SQLite calls strict' '
	rm -rf p && git init -q p &&
	printf "drivers: [sqlite]\nversion_style: sequence\nlint: {all: warning}\nsqlite: {version: 3.34}\n" >p/cairn.yaml &&
	cat >corpus.sql <<-\EOF &&
	CREATE TABLE a1 (x INTEGER) STRICT;
	CREATE TABLE a2 (x INTEGER PRIMARY KEY) WITHOUT ROWID, STRICT;
	create table a3 (x integer primary key) strict , without rowid;
	CREATE TABLE "a4 ) strict" (x INTEGER);
	CREATE TABLE a5 (x TEXT DEFAULT '"'"') STRICT'"'"', y TEXT CHECK (y <> '"'"'('"'"'));
	CREATE TABLE a6 (x TEXT -- ) STRICT
	, y TEXT);
	CREATE TABLE a7 ("(" INTEGER, [)] TEXT, `x)` ANY) STRICT;
	CREATE TABLE a8 (x INTEGER, y INTEGER AS (x * (2 + 1))) STRICT;
	CREATE TABLE a9 AS SELECT 1 AS x;
	CREATE TABLE a10 (x INTEGER) /* ( ) */ STRICT;
	CREATE TABLE a11 (x INTEGER PRIMARY KEY) WITHOUT ROWID /* STRICT */;
	CREATE TABLE a12 (x TEXT DEFAULT '"'"'it'"'"''"'"'s ) STRICT'"'"') STRICT;
	CREATE TABLE MixedCase (x INTEGER) STRICT;
	CREATE TABLE strict (x INTEGER);
	CREATE TABLE "q""uote(d" (x INTEGER) STRICT;
	CREATE TABLE IF NOT EXISTS a1 (x TEXT);
	CREATE TABLE a13 (x INTEGER, CHECK ((x) > (0)), UNIQUE (x)) STRICT;
	EOF
	mig 0001_corpus <corpus.sql &&
	sqlite3 :memory: ".read corpus.sql" "SELECT name FROM pragma_table_list WHERE schema = '\''main'\'' AND strict ORDER BY name" |
		LC_ALL=C sort >want &&
	test $(wc -l <want) -eq 10 &&
	sqlite3 :memory: ".read corpus.sql" "SELECT name FROM pragma_table_list WHERE schema = '\''main'\'' AND type = '\''table'\'' AND name NOT LIKE '\''sqlite%'\'' AND name NOT LIKE '\''q%'\''" >tables &&
	while read -r t; do
		printf "ALTER TABLE \"%s\" ADD COLUMN added INTEGER;\n" "$(printf "%s" "$t" | sed "s/\"/\"\"/g")"
	done <tables | sed "s/\"MixedCase\"/mixedcase/" | mig 0002_add &&
	git -C p add -A && git -C p commit -q -m corpus &&
	(cd p && cairn lint --format json >../out; test $? -le 1) &&
	strict_of out 0001_corpus/up.sql | LC_ALL=C sort >made &&
	test_cmp want made &&
	strict_of out 0002_add/up.sql | LC_ALL=C sort >altered &&
	grep -v "^q" want >want_altered &&
	test_cmp want_altered altered
'

test_done
