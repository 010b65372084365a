#!/bin/sh
test_description='work and memory before refusal: statement caps, member sizes, peak RSS (issue #15)'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"

unset CAIRN_ENV CAIRN_DB CAIRN_APPLY_CONFIG

# rss_kib FILE CMD...: runs CMD, writes its peak RSS in KiB to FILE, and
# returns CMD's exit code
rss_kib() {
	out=$1 && shift &&
	/usr/bin/time -f "%M" -o "$out" "$@"
}

test_expect_success 'setup: a signed bundle with a 36-byte data file' '
	apply_project p &&
	apply_mig p 0001_cities "CREATE TABLE cities (id integer, name text);" "DROP TABLE cities;" &&
	mkdir -p p/migrations/0001_cities/data &&
	printf "id,name\n1,Oslo\n2,Lima\n3,Bern\n4,Rome\n" >p/migrations/0001_cities/data/c.csv &&
	test "$(wc -c <p/migrations/0001_cities/data/c.csv)" = 36 &&
	apply_build p "$TRASH_DIRECTORY/b.tar.gz" &&
	cairn-apply verify b.tar.gz $KEY >/dev/null
'

test_expect_success '100,000 hostile statements: refused at the cap, in little memory and time' '
	python3 "$TEST_DIRECTORY/helpers/hostile-statements.py" b.tar.gz many.tar.gz 100000 4096 &&
	test_expect_code 3 rss_kib rss cairn-apply verify many.tar.gz $KEY 2>err &&
	test_grep "more than 100 statements, the most a bundle carries" err &&
	test "$(tail -n 1 rss)" -lt 65536 &&
	test_expect_code 3 rss_kib rss cairn-apply apply many.tar.gz --env dev --db sqlite:m.db $KEY 2>err &&
	test "$(tail -n 1 rss)" -lt 65536 &&
	test ! -f m.db &&
	test_expect_code 3 rss_kib rss cairn inspect many.tar.gz 2>err &&
	test "$(tail -n 1 rss)" -lt 65536
'

# No timing: the stream is cut 1 MiB after the member's header, so a reader
# that reads the member before comparing its size with the manifest's meets
# the end of the stream and says so instead of the refusal.
test_expect_success 'a data member swapped for a large stream is refused before it is read' '
	head -c 200000000 /dev/zero >big.csv &&
	python3 "$TEST_DIRECTORY/helpers/bundle-rewrite.py" b.tar.gz swapped.tar.gz --repack \
		migrations/0001_cities/data/c.csv big.csv &&
	rm big.csv &&
	python3 - swapped.tar.gz cut.tar.gz <<-\EOF &&
	import gzip, sys
	raw = gzip.open(sys.argv[1]).read()
	name = b"migrations/0001_cities/data/c.csv"
	at = raw.index(name)
	at -= at % 512
	open(sys.argv[2], "wb").write(gzip.compress(raw[:at + 512 + (1 << 20)], mtime=0))
	EOF
	test_expect_code 3 cairn-apply verify swapped.tar.gz $KEY 2>err &&
	test_grep "member .migrations/0001_cities/data/c.csv.: 200000000 bytes, but the signed manifest says 36 (refused before reading it)" err &&
	test_expect_code 3 cairn-apply verify cut.tar.gz $KEY 2>err &&
	test_grep "member .migrations/0001_cities/data/c.csv.: 200000000 bytes, but the signed manifest says 36 (refused before reading it)" err
'

test_done
