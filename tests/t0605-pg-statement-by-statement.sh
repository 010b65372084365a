#!/bin/sh
test_description='PostgreSQL: a script runs statement by statement, split by PostgreSQL'\''s parser; nothing runs after a statement that ended cairn'\''s transaction (issue #16)'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-pg.sh"

pg_start
DSN="dbname=app"

# has NAME: t when the relation exists in the database, else f
has() {
	pg_sql -d app -c "select to_regclass('$1') is not null"
}

test_expect_success 'setup' '
	pg_sql -c "create database app"
'

test_expect_success 'in a transaction: what follows the script'\''s own COMMIT never reaches the server' '
	printf "BEGIN;\nCREATE TABLE a (x int);\nCOMMIT;\nCREATE TABLE after_commit (x int);\n" >wrap.sql &&
	test_must_fail "$PD" exec "$DSN" wrap.sql --tx 2>err &&
	test_grep "wrap.sql:3: error: COMMIT ended the transaction cairn runs the migration in: statements were committed outside cairn.s bookkeeping" err &&
	test "$(has a)" = t &&
	test "$(has after_commit)" = f &&
	pg_sql -d app -c "select count(*) from pg_stat_activity where datname = '"'"'app'"'"' and state like '"'"'idle in transaction%'"'"'" >open &&
	echo 0 >want && test_cmp want open
'

test_expect_success 'in a transaction: a ROLLBACK is the last statement run, and undid the work before it' '
	pg_sql -d app -c "drop table a" &&
	printf "CREATE TABLE b (x int);\nROLLBACK;\nCREATE TABLE after_rollback (x int);\n" >rb.sql &&
	test_must_fail "$PD" exec "$DSN" rb.sql --tx 2>err &&
	test_grep "rb.sql:2: error: ROLLBACK ended the transaction cairn runs the migration in: what ran in it was rolled back" err &&
	test "$(has b)" = f &&
	test "$(has after_rollback)" = f
'

test_expect_success 'in a transaction: a SAVEPOINT that leaves it open still fails the script, and nothing stays' '
	printf "CREATE TABLE c (x int);\nSAVEPOINT s;\nCREATE TABLE c2 (x int);\n" >sp.sql &&
	test_must_fail "$PD" exec "$DSN" sp.sql --tx 2>err &&
	test_grep "sp.sql:2: error: SAVEPOINT steered the transaction cairn runs the migration in" err &&
	test "$(has c)" = f &&
	test "$(has c2)" = f
'

test_expect_success 'a SQL-standard function body (BEGIN ATOMIC) is one statement' '
	printf "CREATE FUNCTION f() RETURNS int LANGUAGE sql\nBEGIN ATOMIC\n  SELECT 1;\n  SELECT 2;\nEND;\nCREATE TABLE after_f (x int);\n" >atomic.sql &&
	"$PD" exec "$DSN" atomic.sql --tx >out &&
	echo "statements 2 changes 0" >want && test_cmp want out &&
	test "$(pg_sql -d app -c "select f()")" = 2 &&
	test "$(has after_f)" = t
'

test_expect_success 'errors keep their file:line in a script split by the parser' '
	printf -- "-- header\nCREATE TABLE d (x int);\n\nSELECT\n  nosuchcol FROM d;\n" >pos.sql &&
	test_must_fail "$PD" exec "$DSN" pos.sql --tx 2>err &&
	test_grep "pos.sql:5: error: 42703: column \"nosuchcol\" does not exist" err &&
	test "$(has d)" = f
'

test_expect_success 'what the parser refuses goes whole: the server reports it and runs none of it' '
	printf "CREATE TABLE e (x int);\nSELEC 2;\nCREATE TABLE e2 (x int);\n" >typo.sql &&
	test_must_fail "$PD" exec "$DSN" typo.sql --split 2>err &&
	test_grep "typo.sql:2: error: 42601: syntax error at or near \"SELEC\"" err &&
	test "$(has e)" = f &&
	test "$(has e2)" = f
'

test_expect_success 'a psql meta-command is refused before anything runs' '
	printf "CREATE TABLE g (x int);\n\\\\connect other\nCREATE TABLE g2 (x int);\n" >meta.sql &&
	test_must_fail "$PD" exec "$DSN" meta.sql --split 2>err &&
	test_grep "line 2: .\\\\connect. is a psql meta-command, not SQL" err &&
	test "$(has g)" = f
'

test_expect_success 'COPY ... FROM STDIN with inline rows is refused, naming data/' '
	printf "CREATE TABLE h (x int);\nCOPY h (x) FROM stdin;\n1\n2\n\\\\.\n" >copy.sql &&
	test_must_fail "$PD" exec "$DSN" copy.sql --split 2>err &&
	test_grep "line 2: COPY ... FROM STDIN with its rows inline is psql.s format, not SQL: put the rows in the migration.s data/ directory" err &&
	test "$(has h)" = f
'

test_expect_success 'outside a transaction: a transaction the script opens and ends is its own' '
	printf "BEGIN;\nCREATE TABLE k (x int);\nCOMMIT;\nCREATE TABLE k2 (x int);\n" >own.sql &&
	"$PD" exec "$DSN" own.sql --split &&
	test "$(has k)" = t &&
	test "$(has k2)" = t
'

test_expect_success 'outside a transaction: one left open at the script'\''s end is rolled back and fails it' '
	printf "CREATE TABLE m (x int);\nBEGIN;\nCREATE TABLE m2 (x int);\n" >open.sql &&
	test_must_fail "$PD" exec "$DSN" open.sql --split 2>err &&
	test_grep "the transaction the script opened at line 2 was still open at its end: what ran in it was rolled back" err &&
	test "$(has m)" = t &&
	test "$(has m2)" = f
'

test_done
