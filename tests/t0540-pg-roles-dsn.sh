#!/bin/sh
test_description='PostgreSQL driver: DSN forms, passwords never shown, schema option, read-only role'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-pg.sh"

pg_start

test_expect_success 'setup' '
	pg_fresh_db app &&
	mkdir -p m/0001_a &&
	echo "create table a (x int);" >m/0001_a/up.sql &&
	echo "drop table a;" >m/0001_a/down.sql &&
	pg_sql -c "create role cairn_pw login password '"'"'Sekr3t-pw'"'"'" &&
	pg_sql -d app -c "grant all on database app to cairn_pw" -c "grant create on schema public to cairn_pw"
'

test_expect_success 'URI, keyword string and libpq environment all reach the server' '
	"$PD" display "postgresql:///app?host=$PGHOST" >out &&
	test_grep "^postgres cairn@$PGHOST:$PGPORT/app$" out &&
	"$PD" display "postgres://cairn@/app?host=$PGHOST&port=$PGPORT" >out &&
	test_grep "^postgres cairn@$PGHOST:$PGPORT/app$" out &&
	"$PD" display "host=$PGHOST dbname = '"'"'app'"'"'" >out &&
	test_grep "/app$" out &&
	PGDATABASE=app "$PD" display "dbname=app" >out &&
	test_grep "/app$" out
'

test_expect_success 'a password in the DSN works and is never shown' '
	"$PD" display "postgresql://cairn_pw:Sekr3t-pw@/app?host=$PGHOST" >out 2>&1 &&
	test_grep "^postgres cairn_pw@" out &&
	test_grep ! "Sekr3t" out &&
	test_must_fail "$PD" migrate "user=cairn_pw password=Wrong-pw dbname=app" m/0001_a >out 2>&1 &&
	test_grep "password authentication failed for user \"cairn_pw\"" out &&
	test_grep ! "Wrong-pw" out
'

test_expect_success 'PGPASSFILE supplies the password' '
	echo "*:*:*:cairn_pw:Sekr3t-pw" >pgpass &&
	chmod 600 pgpass &&
	PGPASSFILE="$PWD/pgpass" "$PD" migrate "user=cairn_pw dbname=app" m/0001_a >out &&
	echo "applied 0001" >want && test_cmp want out &&
	test_must_fail env PGPASSFILE=/nonexistent "$PD" status "user=cairn_pw dbname=app" 2>err &&
	test_grep "no password supplied\|password authentication failed" err
'

test_expect_success 'a service file names the database and the password' '
	cat >services <<-EOF &&
	[appdb]
	host=$PGHOST
	port=$PGPORT
	dbname=app
	user=cairn_pw
	password=Sekr3t-pw
	EOF
	PGSERVICEFILE="$PWD/services" "$PD" status "service=appdb" >out 2>&1 &&
	test_grep "^0001 0001_a applied" out &&
	test_grep ! "Sekr3t" out
'

test_expect_success 'the bookkeeping schema is configurable by DSN option and environment' '
	"$PD" migrate "dbname=app cairn_schema=ops_books" m/0001_a >out &&
	pg_sql -d app -c "select version from ops_books.cairn_migrations" >v &&
	echo 0001 >want && test_cmp want v &&
	CAIRN_PG_SCHEMA=env_books "$PD" status "dbname=app" >out &&
	echo "no bookkeeping yet" >want && test_cmp want out &&
	"$PD" status "postgresql:///app?cairn_schema=ops_books" >out &&
	test_grep "^0001 " out &&
	test_must_fail "$PD" status "dbname=app cairn_schema=Bad-Name" 2>err &&
	test_grep "invalid bookkeeping schema name .Bad-Name." err &&
	test_must_fail "$PD" status "dbname=app cairn_schema=\"x\";drop" 2>err &&
	test_grep "invalid bookkeeping schema name" err
'

test_expect_success 'a malformed keyword string is refused without echoing it' '
	test_must_fail "$PD" status "dbname=app password='"'"'Sekr3t-open" 2>err &&
	test_grep "unterminated quoted value" err &&
	test_grep ! Sekr3t err &&
	test_must_fail "$PD" status "dbname=app nosuchkeyword=1" 2>err &&
	test_grep "invalid connection option \"nosuchkeyword\"" err
'

test_expect_success 'a role that may only read the bookkeeping schema: status works, writes refused' '
	pg_sql -c "create role cairn_ro login" &&
	pg_sql -d app -c "grant usage on schema cairn to cairn_ro" -c "grant select on all tables in schema cairn to cairn_ro" &&
	"$PD" status "dbname=app user=cairn_ro" >out &&
	test_grep "^0001 0001_a applied" out &&
	test_grep "^audit 1 rows" out &&
	mkdir -p m/0002_b &&
	echo "create table b (x int);" >m/0002_b/up.sql && echo "drop table b;" >m/0002_b/down.sql &&
	test_must_fail "$PD" migrate "dbname=app user=cairn_ro" m/0001_a m/0002_b 2>err &&
	test_grep "42501: permission denied" err &&
	pg_sql -d app -c "select count(*) from cairn.cairn_migrations" >n &&
	echo 1 >want && test_cmp want n
'

test_expect_success 'read-only open creates nothing, even as superuser' '
	pg_fresh_db empty &&
	"$PD" status "dbname=empty" >out &&
	echo "no bookkeeping yet" >want && test_cmp want out &&
	pg_sql -d empty -c "select count(*) from pg_namespace where nspname = '"'"'cairn'"'"'" >n &&
	echo 0 >want && test_cmp want n
'

test_done
