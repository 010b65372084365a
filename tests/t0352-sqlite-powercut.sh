#!/bin/sh
test_description='a power cut at every sync of a SQLite apply: committed migrations survive, books match the schema; the journal directory is synced once per journal, not per commit'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"

# tests/helpers/powercut.c, preloaded: at the Nth fsync/fdatasync of the
# database, its journal or their directory, the disk keeps what was synced
# (and half of the sync under way) and the process stops (exit 99).
CUT="$SRC_DIR/build/tests/powercut.so"
# a sanitized cairn-apply must let a library come before its runtime
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
export ASAN_OPTIONS

test_expect_success 'setup: v0 with one migration, v1 with four, each a table and rows over several pages' '
	test -f "$CUT" &&
	apply_project p &&
	for i in 1 2 3 4; do
		n=000${i}_m$i &&
		apply_mig p $n "CREATE TABLE t_$n (id integer primary key, v text);
INSERT INTO t_$n (v) VALUES (hex(randomblob(900))), (hex(randomblob(900))), (hex(randomblob(900)));" \
			"DROP TABLE t_$n;" || return 1
		if test $i = 1; then apply_build p "$TRASH_DIRECTORY/v0.tar.gz" || return 1; fi
	done &&
	apply_build p "$TRASH_DIRECTORY/v1.tar.gz" &&
	cairn-apply apply v0.tar.gz --env dev --db sqlite:pristine $KEY >/dev/null &&
	test ! -e pristine-journal && sync
'

# consistent DB OUT: SQLite's integrity check passes, every migration's
# table exists exactly when its row says applied, none is left in another
# state, the audit chain holds, and each migration OUT says was applied
# (said after its commit returned) is applied.
consistent() {
	q "$1" "PRAGMA integrity_check" >ic && echo ok >ok && test_cmp ok ic &&
	q "$1" "SELECT 't_' || name FROM cairn_migrations WHERE state = 'applied' ORDER BY 1" >recorded &&
	q "$1" "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 't\\_%' ESCAPE '\\' ORDER BY 1" >tables &&
	test_cmp recorded tables &&
	q "$1" "SELECT count(*) FROM cairn_migrations WHERE state != 'applied'" >others &&
	echo 0 >zero && test_cmp zero others &&
	cairn-apply history --db "sqlite:$1" --verify >/dev/null &&
	sed -n "s/^applied \(0[0-9]*_m[0-9]*\) .*/t_\1/p" "$2" >said &&
	comm -23 said recorded >lost &&
	test ! -s lost
}

# cut_every WHERE [NEW]: from a fresh copy of pristine each time, a power
# cut at each sync point of the apply of v1 in turn; after each, the state
# is consistent and a rerun (power back) finishes at 0004. NEW: the
# journal is there already, named by a process that never synced the
# directory (a run killed before its journal's first sync).
cut_every() {
	rm -rf "$1" && mkdir "$1" && cp pristine "$1/db" &&
	if test -n "$2"; then head -c 8192 /dev/zero >"$1/db-journal" && new="$TRASH_DIRECTORY/$1/db-journal"; else new=; fi &&
	POWERCUT_DB="$TRASH_DIRECTORY/$1/db" POWERCUT_COUNT="$TRASH_DIRECTORY/$1.count" POWERCUT_NEW=$new \
		LD_PRELOAD="$CUT" cairn-apply apply v1.tar.gz --env dev --db "sqlite:$TRASH_DIRECTORY/$1/db" $KEY >out &&
	test_grep "is at version 0004" out &&
	read syncs dirsyncs <"$1.count" &&
	test "$syncs" -gt 12 &&
	n=1 && while test $n -le $syncs; do
		rm -rf "$1" && mkdir "$1" && cp pristine "$1/db" &&
		if test -n "$2"; then head -c 8192 /dev/zero >"$1/db-journal"; fi &&
		test_expect_code 99 env POWERCUT_DB="$TRASH_DIRECTORY/$1/db" POWERCUT_AT=$n POWERCUT_NEW=$new \
			LD_PRELOAD="$CUT" cairn-apply apply v1.tar.gz --env dev \
			--db "sqlite:$TRASH_DIRECTORY/$1/db" $KEY >cut.out 2>cut.err &&
		{ consistent "$1/db" cut.out || { echo "inconsistent after a power cut at sync $n of $syncs"; return 1; }; } &&
		cairn-apply apply v1.tar.gz --env dev --db "sqlite:$1/db" $KEY >rerun.out &&
		test_grep "is at version 0004" rerun.out &&
		consistent "$1/db" rerun.out &&
		n=$((n + 1)) || return 1
	done &&
	echo "$syncs syncs, $dirsyncs of the directory: a power cut at each, consistent" >"$1.said"
}

test_expect_success 'a power cut at every sync point: consistent, nothing committed lost, a rerun finishes' '
	cut_every fresh &&
	cat fresh.said
'

test_expect_success 'the same with a journal left by a run that never synced its directory: it is synced again' '
	cut_every left new &&
	cat left.said
'

# SQLite's unix VFS syncs a journal's directory whenever it opens the
# journal with O_CREAT: before the driver's VFS (drivers/sqlite-vfs.c) a
# run synced it once per transaction (7 here, plus the lock's); now once
# per journal made: for the transaction before the run lock (the file is
# still in DELETE mode, its journal deleted at commit) and for the journal
# the runner keeps while it holds the lock.
test_expect_success 'the directory is synced once per journal made, not once per commit' '
	read syncs dirsyncs <fresh.count &&
	test "$dirsyncs" -ge 1 && test "$dirsyncs" -le 2 &&
	read syncs dirsyncs <left.count &&
	test "$dirsyncs" -ge 1 && test "$dirsyncs" -le 2
'

# While it holds the run lock a runner grows the file 64 KiB at a time
# (drivers/sqlite.c, SQLITE_FCNTL_CHUNK_SIZE): a commit that adds a page
# then fits in blocks the file already has, and the database's fdatasync
# has no new size to write.
test_expect_success 'the file grows by 64 KiB chunks under the lock, and is read by its page count' '
	rm -f small && cairn-apply apply v0.tar.gz --env dev --db sqlite:small $KEY >/dev/null &&
	size=$(wc -c <small) && pages=$(q small "PRAGMA page_count") && psize=$(q small "PRAGMA page_size") &&
	test $((size % 65536)) = 0 && test $((pages * psize)) -lt "$size" &&
	echo ok >ok && q small "PRAGMA integrity_check" >ic && test_cmp ok ic &&
	cp small grown && q grown "CREATE TABLE filler (v text); INSERT INTO filler VALUES (hex(randomblob(20000)))" &&
	cairn-apply apply v1.tar.gz --env dev --db sqlite:grown $KEY >out &&
	test_grep "is at version 0004" out &&
	size=$(wc -c <grown) && pages=$(q grown "PRAGMA page_count") &&
	test $((size % 65536)) = 0 && test $((pages * psize)) -le "$size" && test "$size" -gt 65536 &&
	consistent grown out &&
	test ! -e grown-journal
'

# The same power cuts on a file whose growth under v1 crosses a chunk's
# end (24 KiB of other data first, and a VACUUM without chunks): the cut can
# fall between the chunk's writes and the sync that makes them durable.
test_expect_success 'a power cut at every sync of an apply that grows the file by a chunk' '
	mv pristine pristine.small && cp pristine.small pristine &&
	q pristine "CREATE TABLE filler (v text); INSERT INTO filler VALUES (hex(randomblob(12000))); VACUUM" &&
	test $(wc -c <pristine) -lt 65536 && test $(wc -c <pristine) -gt 40000 &&
	cut_every chunked &&
	cat chunked.said &&
	mv pristine.small pristine
'

test_done
