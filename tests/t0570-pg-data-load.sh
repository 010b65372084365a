#!/bin/sh
test_description='cairn-apply on PostgreSQL: CSV data files in the bundle, streamed with COPY'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"
. "$TEST_DIRECTORY/lib-pg.sh"

pg_start_app

test_expect_success 'setup: a migration shipping a 40 MiB CSV file' '
	pg_fresh_db app &&
	pg_project p &&
	apply_mig p 0001_cities "CREATE TABLE cities (id bigint PRIMARY KEY, name text NOT NULL, pop bigint);
-- streamed from the bundle, never held whole in memory
COPY cities (id, name, pop) FROM '"'"'data/cities.csv'"'"' WITH (FORMAT csv, HEADER true);" \
		"DROP TABLE cities;" &&
	mkdir -p p/migrations/0001_cities/data &&
	{
		echo "id,name,pop" &&
		awk "BEGIN { for (i = 1; i <= 800000; i++) printf \"%d,city number %d with a longer name,%d\n\", i, i, i * 3 }"
	} >p/migrations/0001_cities/data/cities.csv &&
	test $(wc -c <p/migrations/0001_cities/data/cities.csv) -gt 40000000 &&
	apply_build p "$TRASH_DIRECTORY/v1.tar.gz"
'

test_expect_success 'setup: a one-row bundle, to measure what cairn-apply needs without the file' '
	pg_project small &&
	apply_mig small 0001_cities "CREATE TABLE cities (id bigint PRIMARY KEY, name text NOT NULL, pop bigint);
COPY cities (id, name, pop) FROM '"'"'data/cities.csv'"'"' WITH (FORMAT csv, HEADER true);" \
		"DROP TABLE cities;" &&
	mkdir -p small/migrations/0001_cities/data &&
	printf "id,name,pop\n1,one,3\n" >small/migrations/0001_cities/data/cities.csv &&
	apply_build small "$TRASH_DIRECTORY/small.tar.gz" &&
	pg_fresh_db base &&
	/usr/bin/time -f "%M" -o rss-base cairn-apply apply small.tar.gz --env dev \
		--db "postgresql:///base?host=$PGHOST" $KEY >out 2>err &&
	test_grep "applied 1 migration" out
'

# The bound is relative to the same program applying a one-row file in the
# same build (a sanitizer build needs more of its own): held whole, the
# 40 MiB file would add at least 40 MiB; streamed, it adds a buffer.
test_expect_success 'apply loads the file in the migration transaction, in bounded memory' '
	/usr/bin/time -f "%M" -o rss cairn-apply apply v1.tar.gz --env dev --db "$DB" $KEY >out 2>err &&
	test_grep "applied 1 migration" out &&
	pg_sql -d app -c "select count(*), sum(pop) from cities" >sum &&
	echo "800000|960001200000" >want && test_cmp want sum &&
	rss=$(cat rss) &&
	base=$(cat rss-base) &&
	echo "peak RSS $rss KiB, $base KiB for a one-row file" &&
	test "$rss" -lt $((base + 16384))
'

test_expect_success 'a bad row rolls back the whole migration and names the data line' '
	pg_fresh_db app &&
	printf "id,name,pop\n1,a,1\n2,b,not-a-number\n" >p/migrations/0001_cities/data/cities.csv &&
	apply_build p "$TRASH_DIRECTORY/bad.tar.gz" &&
	test_expect_code 1 cairn-apply apply bad.tar.gz --env dev --db "$DB" $KEY >out 2>err &&
	test_grep "migrations/0001_cities/up.sql:3: .*22P02: invalid input syntax for type bigint: \"not-a-number\"" err &&
	test_grep "COPY cities, line 3, column pop" err &&
	pg_sql -d app -c "select to_regclass('"'"'cities'"'"') is null" >t &&
	echo t >want && test_cmp want t
'

test_expect_success 'a COPY naming a file the migration does not ship fails cleanly' '
	pg_fresh_db app &&
	apply_mig p 0001_cities "CREATE TABLE cities (id bigint);
COPY cities FROM '"'"'data/nosuch.csv'"'"' (FORMAT csv);" "DROP TABLE cities;" &&
	apply_build p "$TRASH_DIRECTORY/missing.tar.gz" &&
	test_expect_code 1 cairn-apply apply missing.tar.gz --env dev --db "$DB" $KEY >out 2>err &&
	test_grep "has no file .data/nosuch.csv. in the bundle" err &&
	pg_sql -d app -c "select to_regclass('"'"'cities'"'"') is null" >t &&
	echo t >want && test_cmp want t
'

test_done
