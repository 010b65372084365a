#!/bin/sh
test_description='kind: batch data migrations: one transaction per batch, progress, resume after SIGKILL'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"

test_expect_success 'setup: 100,000 rows and a batch migration that fills a column 250 rows at a time' '
	apply_project p &&
	apply_mig p 0001_items "CREATE TABLE items (id integer primary key, price integer, cents integer);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000)
INSERT INTO items (id, price) SELECT i, i % 97 FROM n;" "DROP TABLE items;" &&
	apply_mig p 0002_backfill_cents "UPDATE items SET cents = price * 100
WHERE id IN (SELECT id FROM items WHERE cents IS NULL LIMIT 250);" - \
		"kind: batch
irreversible: true" &&
	printf "SELECT count(*) = 0 FROM items WHERE cents IS NULL;\n" >p/migrations/0002_backfill_cents/verify.sql &&
	apply_table p 0003_after &&
	apply_build p "$TRASH_DIRECTORY/b.tar.gz"
'

test_expect_success 'plan says the migration repeats' '
	cairn-apply plan b.tar.gz --env dev --db sqlite:db $KEY >out &&
	test_grep "^  apply  0002_backfill_cents  \[batch: repeats until it changes no row\]  \[irreversible\]" out
'

test_expect_success 'apply runs it to the end, one transaction per batch, with progress' '
	cairn-apply apply b.tar.gz --env dev --db sqlite:small.db $KEY --to 0002 >out &&
	test_grep "^  0002_backfill_cents: batch 1, 250 rows so far" out &&
	test_grep "^applied 0002_backfill_cents" out &&
	q small.db "SELECT state, batches, rows_changed FROM cairn_migrations WHERE version = '"'"'0002'"'"'" >s &&
	echo "applied|400|100000" >expect && test_cmp expect s &&
	q small.db "SELECT count(*) FROM items WHERE cents IS NULL" >n && echo 0 >expect && test_cmp expect n
'

test_expect_success 'json events report each batch' '
	cairn-apply apply b.tar.gz --env dev --db sqlite:json.db $KEY --to 0002 --log-format json >out &&
	grep "\"event\":\"batch\"" out >batches &&
	test_line_count = 400 batches &&
	test_grep "\"event\":\"batch\",.*\"version\":\"0002\",.*\"batches\":400,\"rows\":100000" out
'

test_expect_success 'SIGKILL halfway, then a rerun resumes where it stopped' '
	cairn-apply apply b.tar.gz --env dev --db sqlite:db $KEY --to 0001 >/dev/null &&
	{ cairn-apply apply b.tar.gz --env dev --db sqlite:db $KEY >run1 2>&1 & } &&
	pid=$! &&
	n=0 &&
	while test $n -lt 400; do
		b=$(sqlite3 -cmd ".timeout 2000" db "SELECT batches FROM cairn_migrations WHERE version = '"'"'0002'"'"'" 2>/dev/null || :) &&
		if test -n "$b" && test "$b" -ge 20; then break; fi &&
		sleep 0.01 && n=$((n + 1)) || return 1
	done &&
	test $n -lt 400 &&
	kill -9 $pid &&
	{ wait $pid; test $? -eq 137; } &&
	q db "SELECT state FROM cairn_migrations WHERE version = '"'"'0002'"'"'" >s &&
	echo in_progress >expect && test_cmp expect s &&
	done_rows=$(q db "SELECT count(*) FROM items WHERE cents IS NOT NULL") &&
	recorded=$(q db "SELECT rows_changed FROM cairn_migrations WHERE version = '"'"'0002'"'"'") &&
	batches=$(q db "SELECT batches FROM cairn_migrations WHERE version = '"'"'0002'"'"'") &&
	echo "killed after $batches batches, $done_rows rows" &&
	test "$done_rows" = "$recorded" &&
	test "$recorded" = $((batches * 250)) &&
	test "$done_rows" -lt 100000 &&
	cairn-apply status --db sqlite:db >st &&
	test_grep "1 batch migration to resume" st &&
	cairn-apply plan b.tar.gz --env dev --db sqlite:db $KEY >plan &&
	test_grep "^  resume 0002_backfill_cents" plan &&
	test_grep "(resumes after $batches batches, $done_rows rows)" plan &&
	cairn-apply apply b.tar.gz --env dev --db sqlite:db $KEY >run2 &&
	test_grep "applied 2 migrations; db is at version 0003" run2 &&
	q db "SELECT state, batches, rows_changed FROM cairn_migrations WHERE version = '"'"'0002'"'"'" >s &&
	echo "applied|400|100000" >expect && test_cmp expect s &&
	q db "SELECT count(*) FROM items WHERE cents IS NULL OR cents != price * 100" >n &&
	echo 0 >expect && test_cmp expect n &&
	cairn-apply history --db sqlite:db --verify >/dev/null
'

test_expect_success 'a failing batch keeps the committed batches; the next run resumes' '
	apply_project f &&
	apply_mig f 0001_t "CREATE TABLE t (id integer primary key, v integer);
INSERT INTO t (id) VALUES (1), (2), (3), (4), (5);
CREATE TABLE gate (open integer); INSERT INTO gate VALUES (1);" "DROP TABLE t; DROP TABLE gate;" &&
	apply_mig f 0002_fill "UPDATE t SET v = 1 / (SELECT CASE WHEN open = 1 OR id < 3 THEN 1 ELSE NULL END FROM gate)
WHERE id = (SELECT min(id) FROM t WHERE v IS NULL);
SELECT CASE WHEN (SELECT open FROM gate) = 0 AND (SELECT count(*) FROM t WHERE v IS NOT NULL) >= 2
THEN json_extract('"'"'x'"'"', '"'"'\$'"'"') END;" - "kind: batch
irreversible: true" &&
	apply_build f "$TRASH_DIRECTORY/f.tar.gz" &&
	cairn-apply apply f.tar.gz --env dev --db sqlite:f.db $KEY --to 0001 >/dev/null &&
	sqlite3 f.db "UPDATE gate SET open = 0" &&
	test_expect_code 1 cairn-apply apply f.tar.gz --env dev --db sqlite:f.db $KEY >out 2>err &&
	test_grep "migration 0002_fill failed: migrations/0002_fill/up.sql:[0-9]*: SQLITE_ERROR: malformed JSON" err &&
	test_grep "has the failing batch of 0002 rolled back; batches committed before it stay" err &&
	test_grep "run apply again: the migration resumes" err &&
	q f.db "SELECT state, batches FROM cairn_migrations WHERE version = '"'"'0002'"'"'" >s &&
	echo "failed|1" >expect && test_cmp expect s &&
	sqlite3 f.db "UPDATE gate SET open = 1" &&
	cairn-apply apply f.tar.gz --env dev --db sqlite:f.db $KEY >out &&
	q f.db "SELECT state, batches FROM cairn_migrations WHERE version = '"'"'0002'"'"'" >s &&
	echo "applied|5" >expect && test_cmp expect s
'

test_done
