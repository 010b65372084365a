#!/bin/sh
test_description='cairn check and build: transaction control and statements that cannot run in a transaction'
. "$(dirname "$0")/test-lib.sh"

M=migrations

# fresh_project NAME [DRIVERS]: a project with one good migration, committed,
# nothing released (the history rules are t01xx).
fresh_project() {
	rm -rf "$1" && test_create_project "$1" &&
	sed -i -e "/^  - refs\//d" -e "s/^release_refs:.*/release_refs: []/" "$1/cairn.yaml" &&
	if test -n "$2"; then sed -i "s/^drivers:.*/drivers: [$2]/" "$1/cairn.yaml"; fi &&
	test_migration "$1" 20260101000000_users &&
	test_commit "$1" base
}

test_expect_success 'a golang-migrate style BEGIN/COMMIT wrapper is an error at its lines' '
	fresh_project p &&
	test_migration p 20260102000000_wrapped \
		"$(printf "BEGIN;\nCREATE TABLE a (x int);\nCOMMIT;\nSELECT 1/0;")" &&
	(cd p && test_must_fail --exit=1 cairn check >../out 2>../err) &&
	test_grep "^$M/20260102000000_wrapped/up.sql:1: error: transaction-control: BEGIN in a migration that runs in a transaction: cairn already runs each migration in a transaction and records it there, so delete the BEGIN/COMMIT wrapper, or set transaction: false in migration.yaml$" out &&
	test_grep "^$M/20260102000000_wrapped/up.sql:3: error: transaction-control: COMMIT in" out &&
	test_grep "2 errors" err
'

test_expect_success 'every spelling of transaction control, found by the parser' '
	fresh_project p postgres &&
	test_migration p 20260102000000_all "$(printf "%s\n" \
		"start transaction isolation level serializable;" \
		"CREATE TABLE a (x int);" "savepoint s1;" "release s1;" "rollback to s1;" \
		"commit and chain;" "end;" "abort;" "Rollback;" \
		"CREATE FUNCTION f() RETURNS int LANGUAGE sql AS \$\$ SELECT 1; COMMIT \$\$;" \
		"CALL p();" "-- COMMIT;" "SELECT '"'"'BEGIN;'"'"';")" &&
	(cd p && test_must_fail --exit=1 cairn check >../out 2>../err) &&
	for w in "1:.*START TRANSACTION" "3:.*SAVEPOINT" "4:.*RELEASE SAVEPOINT" \
		 "5:.*ROLLBACK TO SAVEPOINT" "6:.*COMMIT AND CHAIN" "7:.*END in" \
		 "8:.*ABORT in" "9:.*ROLLBACK in"; do
		test_grep "up.sql:$w" out || return 1
	done &&
	test $(grep -c transaction-control out) = 8
'

test_expect_success 'a sqitch verify.sql wrapper is an error even in a transaction: false migration' '
	fresh_project p &&
	test_migration p 20260102000000_v &&
	printf "%s\n" "-- sqitch style" "BEGIN;" "SELECT x FROM t_20260102000000_v WHERE false;" "ROLLBACK;" \
		>p/$M/20260102000000_v/verify.sql &&
	printf "transaction: false\n" >p/$M/20260102000000_v/migration.yaml &&
	(cd p && test_must_fail --exit=1 cairn check >../out 2>../err) &&
	test_grep "^$M/20260102000000_v/verify.sql:2: error: transaction-control: BEGIN in verify.sql: verify.sql runs read-only inside the migration.s transaction" out &&
	test_grep "^$M/20260102000000_v/verify.sql:4: error: transaction-control: ROLLBACK in verify.sql" out &&
	! grep up.sql out
'

test_expect_success 'transaction: false allows a wrapper in up.sql' '
	fresh_project p &&
	test_migration p 20260102000000_own "$(printf "BEGIN;\nCREATE TABLE a (x int);\nCOMMIT;")" &&
	printf "transaction: false\n" >p/$M/20260102000000_own/migration.yaml &&
	(cd p && cairn check >../out 2>../err) &&
	test ! -s out
'

test_expect_success 'statements that cannot run in a transaction name the fix' '
	fresh_project p postgres &&
	test_migration p 20260102000000_cic "$(printf "%s\n" \
		"CREATE INDEX CONCURRENTLY i ON t_20260101000000_users (id);" \
		"DROP INDEX CONCURRENTLY j;" "REINDEX TABLE CONCURRENTLY t;" "VACUUM t;" \
		"ANALYZE t;" "CREATE DATABASE d;" "ALTER TYPE e ADD VALUE '"'"'x'"'"';" \
		"ALTER TYPE e RENAME VALUE '"'"'x'"'"' TO '"'"'y'"'"';")" &&
	(cd p && test_must_fail --exit=1 cairn check >../out 2>../err) &&
	test_grep "up.sql:1: error: not-in-transaction: CREATE INDEX CONCURRENTLY cannot run inside a transaction block, and this migration runs in one; set transaction: false in migration.yaml" out &&
	test_grep "up.sql:2: error: not-in-transaction: DROP INDEX CONCURRENTLY" out &&
	test_grep "up.sql:3: error: not-in-transaction: REINDEX CONCURRENTLY" out &&
	test_grep "up.sql:4: error: not-in-transaction: VACUUM" out &&
	test_grep "up.sql:6: error: not-in-transaction: CREATE DATABASE" out &&
	test_grep "up.sql:7: warning: not-in-transaction: ALTER TYPE ... ADD VALUE" out &&
	test $(grep -c not-in-transaction out) = 6 &&
	printf "transaction: false\n" >p/$M/20260102000000_cic/migration.yaml &&
	(cd p && cairn check >../out 2>../err) &&
	test ! -s out
'

test_expect_success 'transaction per driver: {postgres: false} keeps SQLite in a transaction' '
	fresh_project p &&
	test_migration p 20260102000000_two "$(printf "VACUUM;\nCREATE TABLE a (x int);")" &&
	printf "transaction: {postgres: false}\n" >p/$M/20260102000000_two/migration.yaml &&
	(cd p && test_must_fail --exit=1 cairn check >../out 2>../err) &&
	test_grep "up.sql:1: error: not-in-transaction: VACUUM cannot run inside a transaction block, and this migration runs in one on sqlite; set transaction: {sqlite: false} in migration.yaml" out &&
	test $(wc -l <out) = 1 &&
	printf "transaction: {postgres: false, sqlite: false}\n" >p/$M/20260102000000_two/migration.yaml &&
	(cd p && cairn check >../out 2>../err) &&
	test ! -s out &&
	printf "transaction: {postgress: false}\n" >p/$M/20260102000000_two/migration.yaml &&
	(cd p && test_must_fail --exit=1 cairn check >../out 2>../err) &&
	test_grep "migration.yaml:1: error: unknown-driver: transaction: names driver .postgress., which cairn does not know; did you mean .postgres.?" out &&
	printf "transaction: maybe\n" >p/$M/20260102000000_two/migration.yaml &&
	(cd p && test_must_fail --exit=1 cairn check >../out 2>../err) &&
	test_grep "bad-value: .transaction. must be true, false, or a map of drivers such as {postgres: false}" out
'

test_expect_success 'a driver variant is read with its own dialect; SQLite triggers are no COMMIT' '
	fresh_project p &&
	test_migration p 20260102000000_var "CREATE TABLE a (x int);" &&
	printf "%s\n" "CREATE TABLE b (x int);" \
		"CREATE TRIGGER tr AFTER INSERT ON b BEGIN" \
		"  UPDATE b SET x = CASE WHEN new.x > 1 THEN 1 END;" \
		"  INSERT INTO b VALUES (2);" "END;" "BEGIN IMMEDIATE;" \
		>p/$M/20260102000000_var/up.sqlite.sql &&
	printf "%s\n" "CREATE TABLE b (x int);" "COMMIT;" >p/$M/20260102000000_var/up.postgres.sql &&
	(cd p && test_must_fail --exit=1 cairn check >../out 2>../err) &&
	test_grep "up.sqlite.sql:6: error: transaction-control: BEGIN in a migration that runs in a transaction on sqlite" out &&
	test_grep "up.postgres.sql:2: error: transaction-control: COMMIT in a migration that runs in a transaction on postgres" out &&
	test $(wc -l <out) = 2
'

test_expect_success 'PRAGMA foreign_keys in a SQLite migration is a warning' '
	fresh_project p sqlite &&
	test_migration p 20260102000000_fk "$(printf "PRAGMA foreign_keys = ON;\nCREATE TABLE a (x int);")" &&
	(cd p && cairn check >../out 2>../err) &&
	test_grep "up.sql:1: warning: pragma-in-transaction: PRAGMA foreign_keys does nothing inside a transaction" out
'

test_expect_success 'cairn build refuses what check refuses' '
	fresh_project p &&
	test_migration p 20260102000000_wrapped "$(printf "BEGIN;\nCREATE TABLE a (x int);\nCOMMIT;")" &&
	test_commit p wrapped &&
	(cd p && test_must_fail --exit=1 cairn build -o ../b.tar.gz >../out 2>../err) &&
	test_grep "up.sql:1: error: transaction-control: BEGIN" err &&
	test ! -e b.tar.gz
'

test_done
