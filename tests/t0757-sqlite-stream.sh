#!/bin/sh
test_description='a large SQLite up script runs streamed from the bundle, hashed on the way (issue #15)'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"

unset CAIRN_ENV CAIRN_DB CAIRN_APPLY_CONFIG

# quotes and comment marks the statement finder must step over
good_tail="INSERT INTO t VALUES (-1, ';--'' /*'); -- the end"
want_v=";--' /*"

test_expect_success 'setup: a 2 MiB load, and one with an error at its end' '
	apply_project p &&
	apply_mig p 0001_t "CREATE TABLE t (id integer primary key, v text);" "DROP TABLE t;" &&
	mkdir -p p/migrations/0002_load &&
	load_sql p/migrations/0002_load/up.sql 2 "" "$good_tail" &&
	echo "DELETE FROM t;" >p/migrations/0002_load/down.sql &&
	apply_build p "$TRASH_DIRECTORY/good.tar.gz" &&
	lines=$(wc -l <p/migrations/0002_load/up.sql) &&
	load_sql p/migrations/0002_load/up.sql 2 "" "INSERT INTO nowhere VALUES (1);" &&
	apply_build p "$TRASH_DIRECTORY/bad.tar.gz" &&
	echo $((lines)) >badline
'

test_expect_success 'a streamed script applies every statement' '
	cairn-apply apply good.tar.gz --env dev --db sqlite:good.db $KEY >out &&
	test_grep "applied 2 migrations" out &&
	test "$(q good.db "SELECT count(*) FROM t")" -gt 20000 &&
	test "$(q good.db "SELECT v FROM t WHERE id = -1")" = "$want_v" &&
	test "$(q good.db "SELECT state FROM cairn_migrations WHERE version = '"'"'0002'"'"'")" = applied
'

test_expect_success 'an error deep in a streamed script names its line, nothing of it stays' '
	test_expect_code 1 cairn-apply apply bad.tar.gz --env dev --db sqlite:bad.db $KEY >out 2>err &&
	test_grep "migrations/0002_load/up.sql:$(cat badline): .*no such table: nowhere" err &&
	test "$(q bad.db "SELECT count(*) FROM t")" = 0 &&
	test "$(q bad.db "SELECT count(*) FROM cairn_migrations WHERE state = '"'"'applied'"'"'")" = 1
'

# The member is swapped in the file after the bundle was verified (a before
# hook rewrites it): the same size, one byte changed in its last statement.
# Past BUNDLE_TEXT_KEEP (16 MiB) a script is not kept after its check but
# read again from the file, which is what the swap changes.
test_expect_success 'bytes that differ from the manifest when streamed: rolled back, nothing applied' '
	sed -i -e "s/^max_file_size: .*/max_file_size: 64MiB/" p/cairn.yaml &&
	load_sql p/migrations/0002_load/up.sql 17 "" "$good_tail" &&
	apply_build p "$TRASH_DIRECTORY/good.tar.gz" &&
	ASAN_OPTIONS="$ASAN_OPTIONS:quarantine_size_mb=8" &&
	export ASAN_OPTIONS &&
	/usr/bin/time -f %M -o rss-small cairn-apply apply bad.tar.gz --to 0001 --env dev \
		--db sqlite:small.db $KEY >/dev/null &&
	/usr/bin/time -f %M -o rss cairn-apply apply good.tar.gz --env dev --db sqlite:big.db $KEY >out &&
	echo "17 MiB script: $(tail -n 1 rss) KiB, a one-table bundle $(tail -n 1 rss-small) KiB" &&
	# less than the small bundle plus the script: held whole once it would
	# not be (main held it three times: +50 MiB); ASan+UBSan add about
	# 13 MiB of their own here (quarantine, shadow), a plain build 0.3 MiB
	test "$(tail -n 1 rss)" -lt $(($(tail -n 1 rss-small) + 17 * 1024)) &&
	test "$(q big.db "SELECT count(*) FROM t WHERE id = -1")" = 1 &&
	tar -xzf good.tar.gz --wildcards "*/migrations/0002_load/up.sql" -O >up.sql &&
	sed -i "s/(-1, /(-7, /" up.sql &&
	python3 "$TEST_DIRECTORY/helpers/bundle-rewrite.py" good.tar.gz forged.tar.gz --repack \
		migrations/0002_load/up.sql up.sql &&
	cp good.tar.gz victim.tar.gz &&
	apply_config "hooks: { before: \"cat $TRASH_DIRECTORY/forged.tar.gz >$TRASH_DIRECTORY/victim.tar.gz\" }" &&
	test_expect_code 1 cairn-apply apply victim.tar.gz --env dev >out 2>err &&
	test_grep "changed since it was verified (sha256 differs)" err &&
	test "$(q db "SELECT count(*) FROM t")" = 0 &&
	test "$(q db "SELECT count(*) FROM t WHERE id = -7")" = 0 &&
	test "$(q db "SELECT count(*) FROM cairn_migrations WHERE state = '"'"'applied'"'"'")" = 1
'

test_done
