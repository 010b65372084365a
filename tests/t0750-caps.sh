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

# big_project DIR MIB: MIB MiB of SQL in six migrations (comment lines, then
# a CREATE TABLE), as large as a text member may be shipped.
big_project() {
	apply_project "$1" &&
	sed -i -e "s/^max_file_size: .*/max_file_size: 64MiB/" "$1/cairn.yaml" &&
	python3 - "$1" "$2" <<-\PY
	import os, sys
	line = b"-- padding, so that the script is large and compresses as SQL dumps do 0123456789\n"
	each = (int(sys.argv[2]) << 20) // 6 // len(line)
	for i in range(1, 7):
	    d = "%s/migrations/000%d_big%d" % (sys.argv[1], i, i)
	    os.makedirs(d)
	    with open(d + "/up.sql", "wb") as f:
	        f.write(line * each + b"CREATE TABLE big%d (id integer primary key);\n" % i)
	    with open(d + "/down.sql", "wb") as f:
	        f.write(b"DROP TABLE big%d;\n" % i)
	PY
}

# The bound is relative: the sanitizer build spends ~20 MiB of its own. A
# text member is kept after its check only up to 16 MiB in all
# (BUNDLE_TEXT_KEEP); applying holds the SQL of one step at a time past
# that, so the largest script (50 MiB here) comes on top for apply.
# Under the sanitizers a freed block waits in ASan's quarantine (256 MiB by
# default) before its memory goes back: the scripts freed after each step
# would count. A small quarantine measures what the program holds.
test_expect_success 'verifying and applying 300 MiB of SQL holds one script at a time, not all of it' '
	ASAN_OPTIONS="$ASAN_OPTIONS:quarantine_size_mb=8" &&
	export ASAN_OPTIONS &&
	rss_kib small cairn-apply verify b.tar.gz $KEY >/dev/null &&
	small=$(tail -n 1 small) &&
	big_project big 300 &&
	apply_build big "$TRASH_DIRECTORY/big.tar.gz" &&
	rss_kib rss cairn-apply verify big.tar.gz $KEY >out &&
	test_grep "^big.tar.gz: ok: sha256:" out &&
	echo "verify: $(tail -n 1 rss) KiB, a small bundle $small KiB" &&
	test "$(tail -n 1 rss)" -lt $((small + 16384)) &&
	rss_kib rss cairn-apply apply big.tar.gz --env dev --db sqlite:big.db $KEY >out &&
	test_grep "applied 6 migrations" out &&
	echo "apply: $(tail -n 1 rss) KiB" &&
	test "$(tail -n 1 rss)" -lt $((small + 51200 + 32768)) &&
	test "$(q big.db "SELECT count(*) FROM sqlite_master WHERE type = '"'"'table'"'"' AND name LIKE '"'"'big%'"'"'")" = 6 &&
	test "$(q big.db "SELECT count(*) FROM cairn_migrations WHERE state = '"'"'applied'"'"'")" = 6 &&
	rss_kib rss cairn-apply apply big.tar.gz --env dev --db sqlite:big.db $KEY >out &&
	test_grep "nothing to apply" out &&
	test "$(tail -n 1 rss)" -lt $((small + 16384))
'

test_done
