#!/bin/sh
test_description='PostgreSQL driver: data files loaded with COPY FROM STDIN, streamed'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-pg.sh"

pg_start
DSN="dbname=app"

test_expect_success 'setup' '
	pg_fresh_db app &&
	mkdir -p m/0001_load/data &&
	cat >m/0001_load/up.sql <<-\EOF &&
	create table cities (id int primary key, name text not null, pop bigint);
	-- the data file travels in the bundle; the driver streams it
	copy cities (id, name, pop) from '"'"'data/cities.csv'"'"' with (format csv, header true);
	update cities set name = upper(name) where id = 2;
	EOF
	echo "drop table cities;" >m/0001_load/down.sql &&
	{
		echo "id,name,pop" &&
		seq 1 50000 | sed -e "s/.*/&,city &,&00/"
	} >m/0001_load/data/cities.csv
'

test_expect_success 'COPY FROM a data file loads it in the migration transaction' '
	"$PD" migrate "$DSN" m/0001_load >out &&
	echo "applied 0001" >want && test_cmp want out &&
	pg_sql -d app -c "select count(*), sum(pop), max(name) filter (where id = 2) from cities" >sum &&
	echo "50000|125002500000|CITY 2" >want && test_cmp want sum
'

test_expect_success 'the rows loaded count as changes' '
	cp -R m/0001_load load2 &&
	sed -e "s/create table cities/create table cities2/; s/copy cities /copy cities2 /; s/update cities /update cities2 /" m/0001_load/up.sql >load2/up.sql &&
	"$PD" exec "$DSN" load2/up.sql --tx >out &&
	echo "statements 3 changes 50001" >want && test_cmp want out
'

test_expect_success 'a bad row fails the load, names the data line, and rolls everything back' '
	mkdir -p m/0002_bad/data &&
	printf "create table bad (id int primary key, n int);\ncopy bad from '"'"'data/bad.csv'"'"' (format csv);\n" >m/0002_bad/up.sql &&
	echo "drop table bad;" >m/0002_bad/down.sql &&
	printf "1,10\n2,20\n3,thirty\n4,40\n" >m/0002_bad/data/bad.csv &&
	test_must_fail --exit=1 "$PD" migrate "$DSN" m/0001_load m/0002_bad 2>err &&
	test_grep "m/0002_bad/up.sql:2: error: 22P02: invalid input syntax for type integer: \"thirty\"" err &&
	test_grep "context: COPY bad, line 3, column n" err &&
	pg_sql -d app -c "select to_regclass('"'"'bad'"'"') is null" >t &&
	echo t >want && test_cmp want t
'

test_expect_success 'a missing data file aborts the COPY and rolls back' '
	rm m/0002_bad/data/bad.csv &&
	test_must_fail --exit=1 "$PD" migrate "$DSN" m/0001_load m/0002_bad 2>err &&
	test_grep "up.sql:2: error: cannot open .*data/bad.csv" err &&
	pg_sql -d app -c "select to_regclass('"'"'bad'"'"') is null" >t &&
	echo t >want && test_cmp want t
'

test_expect_success 'COPY FROM STDIN without a data file is refused, not hung' '
	printf "create table s (x int);\ncopy s from stdin;\n" >stdin.sql &&
	test_must_fail "$PD" exec "$DSN" stdin.sql --tx 2>err &&
	test_grep "57014: COPY from stdin failed: COPY FROM STDIN needs FROM .data/FILE. in a migration" err
'

test_expect_success 'a COPY load also runs in a transaction: false migration' '
	mkdir -p m/0003_notx/data &&
	printf "create table nt (x int);\ncopy nt from '"'"'data/x.csv'"'"';\n" >m/0003_notx/up.sql &&
	echo "drop table nt;" >m/0003_notx/down.sql &&
	touch m/0003_notx/notx &&
	seq 1 1000 >m/0003_notx/data/x.csv &&
	"$PD" migrate "$DSN" m/0001_load m/0003_notx >out &&
	echo "applied 0003" >want && test_cmp want out &&
	pg_sql -d app -c "select count(*) from nt" >n &&
	echo 1000 >want && test_cmp want n
'

test_done
