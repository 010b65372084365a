#!/bin/sh
test_description='a SQLite apply killed (SIGKILL) or its power cut before a chosen write or sync (spread evenly, then at random: CAIRN_TEST_SEED), during a callback and during a batch migration: after a rerun the books match the schema, the chain holds, the batch is whole'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"

# tests/helpers/powercut.c, preloaded (a sanitized cairn-apply must let it
# come before its runtime)
CUT="$SRC_DIR/build/tests/powercut.so"
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
export ASAN_OPTIONS

test_expect_success 'setup: rows, callbacks around every migration, a table, a batch backfill, a table' '
	test -f "$CUT" &&
	apply_project p &&
	apply_mig p 0001_items "CREATE TABLE items (id integer primary key, price integer, cents integer);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000)
INSERT INTO items (id, price) SELECT i, i % 97 FROM n;" "DROP TABLE items;" &&
	apply_build p "$TRASH_DIRECTORY/v1.tar.gz" &&
	apply_log_callbacks p before_migrate before_each after_each after_migrate &&
	apply_table p 0002_a &&
	apply_mig p 0003_backfill "UPDATE items SET cents = price * 100
WHERE id IN (SELECT id FROM items WHERE cents IS NULL LIMIT 250);" - "kind: batch
irreversible: true" &&
	apply_table p 0004_b &&
	apply_build p "$TRASH_DIRECTORY/v2.tar.gz" &&
	cairn-apply apply v1.tar.gz --env dev --db sqlite:pristine $KEY >/dev/null &&
	test ! -e pristine-journal
'

# consistent DB: integrity, each table migration's table there exactly
# when its row says applied, no row in another state than applied (but
# the batch in_progress: its committed batches stay, a rerun resumes),
# the rows the batch's row counts are the rows filled (none without a
# row), a batch applied only when no row is left unfilled, and the audit
# chain intact
consistent() {
	test "$(q "$1" "PRAGMA integrity_check")" = ok &&
	q "$1" "SELECT 't_' || name FROM cairn_migrations WHERE state = 'applied' AND name IN ('0002_a', '0004_b') ORDER BY 1" >recorded &&
	q "$1" "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 't\_%' ESCAPE '\' ORDER BY 1" >tables &&
	test_cmp recorded tables &&
	q "$1" "SELECT count(*) FROM cairn_migrations WHERE state != 'applied' AND NOT (version = '0003' AND state = 'in_progress')" >others &&
	echo 0 >zero && test_cmp zero others &&
	if test "$(q "$1" "SELECT state FROM cairn_migrations WHERE version = '0003'")" = applied
	then
		test "$(q "$1" "SELECT count(*) FROM items WHERE cents IS NULL")" = 0
	fi &&
	if test -n "$(q "$1" "SELECT 1 FROM cairn_migrations WHERE version = '0003'")"
	then
		test "$(q "$1" "SELECT rows_changed FROM cairn_migrations WHERE version = '0003'")" = \
			"$(q "$1" "SELECT count(*) FROM items WHERE cents IS NOT NULL")"
	else
		test "$(q "$1" "SELECT count(*) FROM items WHERE cents IS NOT NULL")" = 0
	fi &&
	cairn-apply history --db "sqlite:$1" --verify >/dev/null
}

# finished DB: a rerun brought it to 0004, every row filled
finished() {
	consistent "$1" &&
	q "$1" "SELECT version || '|' || state FROM cairn_migrations ORDER BY version" >rows &&
	printf "0001|applied\n0002|applied\n0003|applied\n0004|applied\n" >want &&
	test_cmp want rows &&
	test "$(q "$1" "SELECT count(*) FROM items WHERE cents = price * 100")" = 3000
}

test_expect_success 'a whole apply, traced: its writes and syncs' '
	for on in write sync
	do
		cp pristine db &&
		POWERCUT_ON=$on POWERCUT_TRACE="$TRASH_DIRECTORY/trace.$on" LD_PRELOAD="$CUT" \
			cairn-apply apply v2.tar.gz --env dev --db sqlite:db $KEY >out &&
		test_grep "is at version 0004" out &&
		finished db || return 1
	done &&
	q db "SELECT what FROM cb_log" >log &&
	test_grep before_migrate log && test_grep after_migrate log &&
	wc -l trace.write trace.sync >&2
'

# stopped_at HOW ON N: the apply stopped before the Nth call ON (HOW:
# kill, exit 137; cut, the power cut, exit 99), the database consistent
# (the batch's state then added to outcomes); then a rerun finishes it
stopped_at() {
	{ powercut_run $1 $2 $3 cairn-apply apply v2.tar.gz --env dev --db sqlite:db $KEY || { echo "the run stopped before $2 $3 of $(wc -l <trace.$2) did not end as a $1 (want exit $pr_want)"; cat out err; return 1; }; } &&
	{ consistent db || { echo "inconsistent after a $1 before $2 $3"; return 1; }; } &&
	q db "SELECT coalesce((SELECT state || ':' || rows_changed FROM cairn_migrations WHERE version = '0003'), 'none')" >>"$TRASH_DIRECTORY/outcomes" &&
	{ cairn-apply apply v2.tar.gz --env dev --db sqlite:db $KEY >out 2>err || { echo "the rerun after a $1 before $2 $3 failed"; cat out err; return 1; }; } &&
	{ finished db || { echo "not finished after a $1 before $2 $3 and a rerun"; return 1; }; }
}

for how in kill cut
do
	for on in write sync
	do
		test_expect_success "$how before the Nth $on, 10 spread over the apply (callbacks, a batch): consistent, a rerun finishes" '
			powercut_rounds '"$how $on"' 10
		'
	done
done

# the same at random calls: 5 rounds each of kill and cut before a write
# and before a sync, N drawn from the whole run's calls; the seed is
# printed (CAIRN_TEST_SEED=S repeats a run)
test_expect_success 'kill or cut before a random write or sync, 5 rounds each: consistent, a rerun finishes' '
	seed=${CAIRN_TEST_SEED:-$$} &&
	echo "# t1067 random rounds: CAIRN_TEST_SEED=$seed" >&2 &&
	for how in kill cut; do
		for on in write sync; do
			awk -v s=$seed -v t=$(wc -l <trace.$on) \
				"BEGIN { srand(s); for (i = 0; i < 5; i++) print 1 + int(rand() * t) }" >points &&
			while read n; do
				stopped_at $how $on $n || { echo "CAIRN_TEST_SEED=$seed"; return 1; }
			done <points || return 1
		done || return 1
	done
'

test_expect_success 'some of those stopped the batch partway (in_progress, some rows filled): each resumed to the end' '
	sort outcomes | uniq -c >&2 &&
	awk -F: "\$1 == \"in_progress\" && \$2 > 0 && \$2 < 3000" outcomes >partway &&
	test -s partway
'

test_done
