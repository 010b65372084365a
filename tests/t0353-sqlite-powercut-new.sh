#!/bin/sh
test_description='a power cut at every sync of the first apply to a new SQLite file: the books and the identity row come with the first migration, the books match the schema, a rerun finishes'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"

# tests/helpers/powercut.c, preloaded (t0352): at the Nth sync of the
# database, its journal or their directory the disk keeps what was synced
# and the process stops (exit 99). A file whose name was never made durable
# vanishes.
CUT="$SRC_DIR/build/tests/powercut.so"
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
export ASAN_OPTIONS

test_expect_success 'setup: three migrations, each a table and rows over several pages' '
	test -f "$CUT" &&
	apply_project p &&
	for i in 1 2 3; do
		n=000${i}_m$i &&
		apply_mig p $n "CREATE TABLE t_$n (id integer primary key, v text);
INSERT INTO t_$n (v) VALUES (hex(randomblob(900))), (hex(randomblob(900))), (hex(randomblob(900)));" \
			"DROP TABLE t_$n;" || return 1
	done &&
	apply_build p "$TRASH_DIRECTORY/b.tar.gz"
'

# state DB: what a cut left. "none" (no file, or a file without books and
# without tables of the migrations), or "books" when the books are there
# with exactly one identity row as the chain's first row and at least the
# first migration applied (they come in its commit), SQLite's
# integrity check passes, every migration's table exists exactly when its
# row says applied and the audit chain holds. Anything else fails.
state() {
	if test ! -s "$1"; then echo none; return 0; fi &&
	q "$1" "PRAGMA integrity_check" >ic && echo ok >ok && test_cmp ok ic &&
	q "$1" "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 't\\_%' ESCAPE '\\' ORDER BY 1" >tables &&
	if test -z "$(q "$1" "SELECT name FROM sqlite_master WHERE name = 'cairn_migrations'")"; then
		test -z "$(q "$1" "SELECT name FROM sqlite_master WHERE name = 'cairn_audit'")" &&
		test ! -s tables && echo none
	else
		q "$1" "SELECT action FROM cairn_audit ORDER BY seq LIMIT 1" >first &&
		echo identity >want && test_cmp want first &&
		q "$1" "SELECT count(*) FROM cairn_audit WHERE action = 'identity'" >nid &&
		echo 1 >one && test_cmp one nid &&
		q "$1" "SELECT 't_' || name FROM cairn_migrations WHERE state = 'applied' ORDER BY 1" >recorded &&
		test_cmp recorded tables &&
		test -s recorded &&
		cairn-apply history --db "sqlite:$1" --verify >/dev/null &&
		echo books
	fi
}

test_expect_success 'a power cut at every sync point of a first apply: no books, or books with their identity' '
	mkdir run &&
	POWERCUT_DB="$TRASH_DIRECTORY/run/db" POWERCUT_COUNT="$TRASH_DIRECTORY/count" \
		LD_PRELOAD="$CUT" cairn-apply apply b.tar.gz --env dev --db "sqlite:$TRASH_DIRECTORY/run/db" $KEY >out &&
	test_grep "is at version 0003" out &&
	read syncs dirsyncs <count &&
	test "$syncs" -gt 12 &&
	: >states &&
	n=1 && while test $n -le $syncs; do
		rm -rf run && mkdir run &&
		test_expect_code 99 env POWERCUT_DB="$TRASH_DIRECTORY/run/db" POWERCUT_AT=$n \
			LD_PRELOAD="$CUT" cairn-apply apply b.tar.gz --env dev \
			--db "sqlite:$TRASH_DIRECTORY/run/db" $KEY >cut.out 2>cut.err &&
		{ s=$(state run/db) || { echo "bad state after a power cut at sync $n of $syncs"; return 1; }; } &&
		echo "$n $s" >>states &&
		cairn-apply apply b.tar.gz --env dev --db "sqlite:run/db" $KEY >rerun.out &&
		test_grep "is at version 0003" rerun.out &&
		test "$(state run/db)" = books &&
		q run/db "SELECT count(*) FROM cairn_migrations WHERE state = '\''applied'\''" >napplied &&
		echo 3 >three && test_cmp three napplied &&
		n=$((n + 1)) || return 1
	done &&
	cat states &&
	grep -q " none$" states && grep -q " books$" states
'

# The books and the identity come with the first migration's commit: a
# first apply of three migrations makes four transactions on SQLite (three
# migrations, and after the run lock the bundle file recorded as applied),
# four syncs each, plus a directory sync for each of the two journals made
# (the kept one under the lock, the second after it). Six transactions (26
# syncs) when the books and the identity had one each.
test_expect_success 'a first apply of three migrations commits four transactions' '
	read syncs dirsyncs <count &&
	test "$dirsyncs" = 2 &&
	test "$syncs" = $((4 * 4 + 2))
'

# The first migration's transaction carries the books and the identity
# row: when it fails, what it leaves must be what a run that wrote them
# first would leave (the failure recorded after the identity).
test_expect_success 'a failing first migration on a new file: the books record it failed, one identity row' '
	apply_project f &&
	apply_mig f 0001_bad "CREATE TABLE t_0001_bad (id integer); INSERT INTO nowhere VALUES (1);" \
		"DROP TABLE t_0001_bad;" &&
	apply_table f 0002_next &&
	apply_build f "$TRASH_DIRECTORY/f.tar.gz" &&
	test_expect_code 1 cairn-apply apply f.tar.gz --env dev --db sqlite:fdb $KEY >out 2>err &&
	test_grep "nothing from this run was applied" err &&
	q fdb "SELECT action FROM cairn_audit ORDER BY seq" >actions &&
	printf "identity\napply-failed\n" >want && test_cmp want actions &&
	test -z "$(q fdb "SELECT name FROM sqlite_master WHERE name LIKE '\''t\_%'\'' ESCAPE '\''\\'\''")" &&
	cairn-apply history --db sqlite:fdb --verify >v && test_grep intact v
'

# A first migration whose script commits cairn's transaction itself: t0600
# (SQLite refuses the wrapper inside the transaction; PostgreSQL runs it).

test_done
