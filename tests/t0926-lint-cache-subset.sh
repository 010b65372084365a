#!/bin/sh
test_description='check --staged on a warm cache loads only the objects the staged scripts reach, and finds exactly what a full replay finds'
. "$(dirname "$0")/test-lib.sh"

# FILLERS: migrations between the early table and the rest (t0926 ran by
# hand with 9000: the same results).
FILLERS=${FILLERS:-300}

# A history with what a subset could get wrong: a table created FILLERS
# migrations before the staged one, with a trigger that writes into
# another, whose own trigger writes into a table dropped since; a chain of foreign keys; a view; a table renamed and one
# dropped; a view left broken by a drop (SQLite checks the whole schema
# after RENAME); a table with rows (the whole database is loaded then).
test_expect_success 'setup: the history, committed' '
	test_create_project p &&
	git -C p checkout -q -b main &&
	sed -i -e "s/^version_style:.*/version_style: sequence/" p/cairn.yaml &&
	test_migration p 00001_early "CREATE TABLE early (id integer primary key, note text);
CREATE TABLE audit (x integer);
CREATE TRIGGER early_audit AFTER INSERT ON early BEGIN INSERT INTO audit VALUES (new.id); END;" &&
	i=2 &&
	while test $i -le $((FILLERS + 1)); do
		d=p/migrations/$(printf "%05d" $i)_f$i &&
		mkdir -p $d &&
		echo "CREATE TABLE f$i (id integer primary key, v text);" >$d/up.sql &&
		echo "DROP TABLE f$i;" >$d/down.sql &&
		i=$((i + 1)) || return 1
	done &&
	test_migration p 50001_chain "CREATE TABLE parent (id integer primary key);
CREATE TABLE child (id integer primary key, parent_id integer REFERENCES parent (id));
CREATE TABLE grandchild (id integer primary key, child_id integer REFERENCES child (id));
CREATE VIEW child_view AS SELECT id, parent_id FROM child;" &&
	test_migration p 50002_rename "CREATE TABLE oldname (id integer);
ALTER TABLE oldname RENAME TO newname;
CREATE TABLE gone (id integer);
DROP TABLE gone;
CREATE TABLE gone2 (id integer);
CREATE VIEW reads_gone2 AS SELECT * FROM gone2;
DROP TABLE gone2;" &&
	test_migration p 50003_seeded "CREATE TABLE seeded (id integer primary key, v text UNIQUE);
INSERT INTO seeded VALUES (1, '"'"'a'"'"');" &&
	test_migration p 50004_audit2 "CREATE TABLE audit2 (x integer);
CREATE TRIGGER audit_more AFTER INSERT ON audit BEGIN INSERT INTO audit2 (x) VALUES (new.x); END;
DROP TABLE audit2;" &&
	test_migration p 50005_rows "CREATE TABLE counter (id integer PRIMARY KEY AUTOINCREMENT, v text);
INSERT INTO counter (v) VALUES ('"'"'a'"'"');
DELETE FROM counter;
CREATE TABLE emptied (id integer PRIMARY KEY);
INSERT INTO emptied VALUES (1);
DELETE FROM emptied;
CREATE TABLE many (id integer PRIMARY KEY, v text);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)
INSERT INTO many SELECT i, '"'"'x'"'"' FROM n;" &&
	test_commit p history
'

# compare NAME SQL [whole]: SQL staged as the next migration; the warm
# run's findings and exit code equal a full replay's (CAIRN_NO_LINT_CACHE);
# the warm run loaded the subset, or the whole database with "whole".
compare() {
	rm -rf p/migrations/99999_* &&
	test_migration p 99999_$1 "$2" "SELECT 1;" &&
	git -C p add -A &&
	(cd p && CAIRN_NO_LINT_CACHE=1 cairn check --staged >../full.out 2>../full.err; echo $? >../full.rc) &&
	(cd p && CAIRN_LINT_CACHE_VERBOSE=1 cairn check --staged >../warm.out 2>../warm.err; echo $? >../warm.rc) &&
	grep "lint cache" warm.err >cache.line &&
	grep -v "lint cache" warm.err >warm.err2 &&
	test_cmp full.out warm.out &&
	test_cmp full.err warm.err2 &&
	test_cmp full.rc warm.rc &&
	test_grep "$((FILLERS + 6)) migrations from the cache" cache.line &&
	if test "$3" = whole; then
		test_grep ! "the objects the scripts reach" cache.line
	else
		test_grep "the objects the scripts reach" cache.line
	fi
}

test_expect_success 'a cold run stores the cache' '
	test_migration p 99999_first "CREATE TABLE first (id integer);" &&
	git -C p add -A &&
	(cd p && CAIRN_LINT_CACHE_VERBOSE=1 cairn check --staged >../out 2>../err) &&
	test_grep "0 migrations from the cache, $((FILLERS + 6)) stored" err
'

test_expect_success 'the table created long before: ADD COLUMN NOT NULL without a default' '
	compare early_add "ALTER TABLE early ADD COLUMN c integer NOT NULL;" &&
	test_grep "sqlite-add-column" full.out
'

test_expect_success 'the table created long before: a column it lacks, a table nobody made' '
	compare early_err "INSERT INTO early (id, nope) VALUES (1, 2);" &&
	test_grep "no column named nope" full.out &&
	compare nobody "INSERT INTO nobody VALUES (1);" &&
	test_grep "no such table: nobody" full.out
'

test_expect_success 'an INSERT fires a trigger whose insert fires another, into a table dropped since' '
	compare early_ins "INSERT INTO early (id, note) VALUES (7, '"'"'x'"'"');" &&
	test_grep "no such table: main.audit2" full.out &&
	compare audit "ALTER TABLE audit ADD COLUMN y integer NOT NULL;" &&
	test_grep "sqlite-add-column" full.out
'

test_expect_success 'the foreign key chain: DROP TABLE of a referenced parent' '
	compare fk_drop "DROP TABLE parent;" &&
	test_grep "sqlite-drop-referenced" full.out
'

test_expect_success 'the foreign key chain: DROP COLUMN of a referencing column, one a view uses' '
	compare fk_col "ALTER TABLE grandchild DROP COLUMN child_id;
ALTER TABLE child DROP COLUMN parent_id;" &&
	test_grep "sqlite-drop-column" full.out
'

test_expect_success 'the view: renaming the column it reads, dropping it, creating it again' '
	compare view "ALTER TABLE child RENAME COLUMN parent_id TO p_id;
DROP VIEW child_view;
CREATE VIEW child_view AS SELECT id FROM child;
CREATE VIEW early AS SELECT 1;"
'

test_expect_success 'the renamed table: the old name is gone, the new one is there' '
	compare renamed "INSERT INTO oldname VALUES (1);" &&
	test_grep "no such table: oldname" full.out &&
	compare renamed2 "INSERT INTO newname VALUES (1);
CREATE TABLE newname (a integer);" &&
	test_grep "table newname already exists" full.out
'

test_expect_success 'the dropped table: creating it again is fine, reading it is not' '
	compare dropped "CREATE TABLE gone (id integer, v text);
DROP TABLE IF EXISTS gone;
SELECT * FROM gone;"
'

test_expect_success 'a name in a string, an index name taken, a type affinity' '
	compare strings "SELECT * FROM pragma_table_info('"'"'early'"'"');
CREATE INDEX sqlite_autoindex_x ON early (note);
CREATE TABLE t_new (x STRING, y UUID);
CREATE INDEX early_note ON early (note);"
'

test_expect_success 'a view the history left broken fails a RENAME of a table it does not name' '
	compare broken "ALTER TABLE f3 RENAME TO f3b;" &&
	test_grep "error in view reads_gone2: no such table: main.gone2" full.out &&
	compare broken_drop "ALTER TABLE f4 DROP v;" &&
	test_grep "error in view reads_gone2: no such table: main.gone2" full.out
'

test_expect_success 'a table with rows, the schema read whole: the whole database is loaded' '
	compare seeded "INSERT INTO seeded (id, v) VALUES (2, '"'"'a'"'"');" whole &&
	test_grep "UNIQUE constraint failed" full.out &&
	compare schema "SELECT count(*) FROM sqlite_schema;
ALTER TABLE early ADD COLUMN d integer NOT NULL;" whole &&
	compare fk_on "PRAGMA foreign_keys = ON;
DELETE FROM parent;" whole
'

test_expect_success 'rows read from the pages: an emptied table is empty, a counter or many rows need the whole' '
	compare emptied "INSERT INTO emptied VALUES (1);
ALTER TABLE emptied ADD COLUMN c integer NOT NULL;" &&
	test_grep "sqlite-add-column" full.out &&
	compare counter "INSERT INTO counter (v) VALUES ('"'"'b'"'"');" whole &&
	compare many "INSERT INTO many VALUES (2000, '"'"'y'"'"');" whole &&
	test_grep "UNIQUE constraint failed: many.id" full.out
'

test_done
