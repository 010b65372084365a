#!/bin/sh
test_description='a migration that ends cairn'\''s transaction itself: the books tell the truth (PostgreSQL and SQLite)'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"
. "$TEST_DIRECTORY/lib-pg.sh"

pg_start
DB="host=$PGHOST dbname=app"
FX="$TEST_DIRECTORY/fixtures/tx"
TKEY="--key $TEST_DIRECTORY/fixtures/keys/test.pub"

# rows DB: version=state of every bookkeeping row, in order, on one line
pg_rows() {
	pg_sql -d app -c "select string_agg(version || '=' || state, ' ' order by version) from cairn.cairn_migrations"
}
pg_has() {
	pg_sql -d app -c "select count(*) from pg_tables where schemaname = 'public' and tablename = '$1'"
}

test_expect_success 'PostgreSQL: BEGIN; CREATE TABLE a; COMMIT; SELECT 1/0 is recorded as failed, not as nothing applied' '
	pg_fresh_db app &&
	test_must_fail --exit=5 cairn-apply apply "$FX/txwrap.tar.gz" --env dev --db "$DB" $TKEY >out 2>err &&
	test_grep "migration 0002_wrapped ended cairn.s transaction itself: migrations/0002_wrapped/up.postgres.sql:3: COMMIT" err &&
	test_grep "the database needs an operator: 0002_wrapped committed part of its work itself" err &&
	! grep "nothing from this run was applied" err &&
	test_grep "next: .*cairn-apply repair --db \"host=$PGHOST dbname=app\" 0002 --mark-applied" err &&
	test "$(pg_rows)" = "0001=applied 0002=failed" &&
	test "$(pg_has a)" = 1 &&
	test "$(pg_has first)" = 1 &&
	pg_sql -d app -c "select error from cairn.cairn_migrations where version = '"'"'0002'"'"'" >e &&
	test_grep "up.postgres.sql:3: COMMIT" e &&
	pg_sql -d app -c "select action from cairn.cairn_audit order by seq" | tr "\n" " " >actions &&
	test "$(cat actions)" = "identity apply apply-failed "
'

# A new database's books and identity row come with its first migration's
# transaction (branch fleet21e): when that migration's own COMMIT commits
# them, they stay once, and the chain goes on from the identity row.
test_expect_success 'PostgreSQL: a new database whose first migration commits itself: one identity row, the failure recorded, the chain intact' '
	pg_fresh_db first &&
	test_must_fail --exit=5 cairn-apply apply "$FX/txfirst.tar.gz" --env dev --db "host=$PGHOST dbname=first" \
		$TKEY >out 2>err &&
	test_grep "migration 0002_wrapped ended cairn.s transaction itself" err &&
	pg_sql -d first -c "select action from cairn.cairn_audit order by seq" | tr "\n" " " >actions &&
	test "$(cat actions)" = "identity apply-failed " &&
	pg_sql -d first -c "select string_agg(version || '"'"'='"'"'  || state, '"'"' '"'"') from cairn.cairn_migrations" >rows &&
	echo "0002=failed" >want && test_cmp want rows &&
	pg_sql -d first -c "select count(*) from pg_tables where schemaname = '"'"'public'"'"' and tablename = '"'"'a'"'"'" >n &&
	echo 1 >one && test_cmp one n &&
	cairn-apply history --db "host=$PGHOST dbname=first" --verify >v &&
	test_grep intact v
'

test_expect_success 'SQLite: a new file whose first migration wraps itself: books, identity and the failure, nothing of it stays' '
	test_must_fail --exit=1 cairn-apply apply "$FX/txfirst.tar.gz" --env dev --db sqlite:first.db $TKEY >out 2>err &&
	test "$(q first.db "SELECT group_concat(action, \" \") FROM (SELECT action FROM cairn_audit ORDER BY seq)")" = "identity apply-failed" &&
	test -z "$(q first.db "SELECT name FROM sqlite_master WHERE name = \"a\"")" &&
	cairn-apply history --db sqlite:first.db --verify >v &&
	test_grep intact v
'

test_expect_success 'PostgreSQL: the next apply stops for the operator instead of failing on "relation a already exists"' '
	test_must_fail --exit=5 cairn-apply apply "$FX/txwrap.tar.gz" --env dev --db "$DB" $TKEY >out 2>err &&
	! grep "already exists" err &&
	test_grep "0002" err &&
	test "$(pg_rows)" = "0001=applied 0002=failed"
'

test_expect_success 'PostgreSQL --atomic: the COMMIT committed 0001 too, and the books say so' '
	pg_fresh_db app &&
	test_must_fail --exit=5 cairn-apply apply "$FX/txwrap.tar.gz" --env dev --db "$DB" $TKEY --atomic >out 2>err &&
	test_grep "ended cairn.s transaction itself: migrations/0002_wrapped/up.postgres.sql:3: COMMIT" err &&
	! grep "nothing from this run was applied" err &&
	test "$(pg_has first)" = 1 &&
	test "$(pg_has a)" = 1 &&
	test "$(pg_rows)" = "0001=applied 0002=failed"
'

test_expect_success 'PostgreSQL: a sqitch verify.sql (BEGIN; SELECT true; ROLLBACK) is a failure, never "applied"' '
	pg_fresh_db app &&
	test_must_fail --exit=1 cairn-apply apply "$FX/txverify.tar.gz" --env dev --db "$DB" $TKEY >out 2>err &&
	test_grep "migrations/0001_verify/verify.postgres.sql:4: ROLLBACK" err &&
	test_grep "nothing from this run was applied" err &&
	test "$(pg_has b)" = 0 &&
	test -z "$(pg_rows)" &&
	pg_sql -d app -c "select action from cairn.cairn_audit order by seq" >actions &&
	printf "identity\napply-failed\n" >want && test_cmp want actions
'

test_expect_success 'setup: verify scripts that write, and one that only reads' '
	apply_project p &&
	sed -i -e "s/^drivers: .*/drivers: [sqlite, postgres]/" p/cairn.yaml &&
	apply_mig p 0001_c "CREATE TABLE c (x int);" "DROP TABLE c;" &&
	printf "INSERT INTO c VALUES (1);\nSELECT count(*) = 1 FROM c;\n" >p/migrations/0001_c/verify.sql &&
	apply_build p "$TRASH_DIRECTORY/writes.tar.gz" &&
	printf "SELECT count(*) = 0 FROM c;\n" >p/migrations/0001_c/verify.sql &&
	apply_build p "$TRASH_DIRECTORY/reads.tar.gz"
'

test_expect_success 'PostgreSQL: verify.sql runs read-only; a read-only one keeps the migration'\''s work' '
	pg_fresh_db app &&
	test_must_fail --exit=1 cairn-apply apply writes.tar.gz --env dev --db "$DB" $KEY >out 2>err &&
	test_grep "verify.sql:1: .*read-only transaction" err &&
	test "$(pg_has c)" = 0 &&
	test -z "$(pg_rows)" &&
	cairn-apply apply reads.tar.gz --env dev --db "$DB" $KEY >out 2>err &&
	test "$(pg_has c)" = 1 &&
	test "$(pg_rows)" = "0001=applied"
'

test_expect_success 'SQLite: the wrapper fails inside cairn'\''s transaction, and nothing of it stays' '
	test_must_fail --exit=1 cairn-apply apply "$FX/txwrap.tar.gz" --env dev --db sqlite:w.db $TKEY >out 2>err &&
	test_grep "0002_wrapped" err &&
	test "$(q w.db "SELECT group_concat(version || \"=\" || state, \" \") FROM cairn_migrations")" = "0001=applied" &&
	test -z "$(q w.db "SELECT name FROM sqlite_master WHERE name = \"a\"")"
'

test_expect_success 'SQLite: verify.sql runs read-only' '
	test_must_fail --exit=1 cairn-apply apply writes.tar.gz --env dev --db sqlite:v.db $KEY >out 2>err &&
	test_grep "verify.sql" err &&
	test -z "$(q v.db "SELECT name FROM sqlite_master WHERE name = \"c\"")" &&
	cairn-apply apply reads.tar.gz --env dev --db sqlite:v.db $KEY >out 2>err &&
	test "$(q v.db "SELECT count(*) FROM c")" = 0 &&
	test "$(q v.db "SELECT state FROM cairn_migrations")" = applied
'

test_expect_success 'transaction: {postgres: false} reaches the applier: CIC on PostgreSQL, a transaction on SQLite' '
	apply_project two &&
	sed -i -e "s/^drivers: .*/drivers: [sqlite, postgres]/" two/cairn.yaml &&
	apply_mig two 0001_t "CREATE TABLE t (x int);" "DROP TABLE t;" &&
	apply_mig two 0002_i "CREATE INDEX t_x ON t (x);" "DROP INDEX t_x;" "transaction: {postgres: false}" &&
	printf "CREATE INDEX CONCURRENTLY t_x ON t (x);\n" >two/migrations/0002_i/up.postgres.sql &&
	apply_build two "$TRASH_DIRECTORY/two.tar.gz" &&
	tar -xzOf two.tar.gz --wildcards "*/manifest.yaml" >manifest &&
	test_grep "^    no_transaction: \[postgres\]$" manifest &&
	pg_fresh_db app &&
	cairn-apply apply two.tar.gz --env dev --db "$DB" $KEY >out 2>err &&
	test "$(pg_sql -d app -c "select count(*) from pg_indexes where indexname = '"'"'t_x'"'"'")" = 1 &&
	test "$(pg_sql -d app -c "select transactional from cairn.cairn_migrations where version = '"'"'0002'"'"'")" = f &&
	cairn-apply apply two.tar.gz --env dev --db sqlite:two.db $KEY >out 2>err &&
	test "$(q two.db "SELECT transactional FROM cairn_migrations WHERE version = \"0002\"")" = 1
'

test_done
