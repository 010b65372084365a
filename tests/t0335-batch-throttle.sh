#!/bin/sh
test_description='throttled batch migrations (issue #22): batch: {size, pause, max_duration, max_replication_lag}, exit 8 at the time budget and resume, lag waits, signals between batches'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"
. "$TEST_DIRECTORY/lib-attack.sh"

unset CAIRN_ENV CAIRN_DB CAIRN_LOCK_TIMEOUT

# mig DIR YAML_BATCH: 0001 makes 1,000 rows, 0002 fills cents a batch at a
# time, reading its size from temp.cairn_batch, with batch: YAML_BATCH.
mig() {
	apply_project "$1" &&
	apply_mig "$1" 0001_items "CREATE TABLE items (id integer primary key, price integer, cents integer);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000)
INSERT INTO items (id, price) SELECT i, i % 97 FROM n;" "DROP TABLE items;" &&
	apply_mig "$1" 0002_backfill "UPDATE items SET cents = price * 100
WHERE id IN (SELECT id FROM items WHERE cents IS NULL LIMIT (SELECT size FROM temp.cairn_batch));" - \
		"kind: batch
irreversible: true
batch: $2"
}

filled() {
	q "$1" "SELECT count(*) FROM items WHERE cents = price * 100"
}

row() {
	q "$1" "SELECT state, batches, rows_changed FROM cairn_migrations WHERE version = '0002'"
}

test_expect_success 'the batch keys are in the signed manifest, only those set (t0220: bundles without them keep their bytes)' '
	mig p "{size: 100, pause: 200ms}" &&
	apply_build p "$TRASH_DIRECTORY/b.tar.gz" &&
	tar xzf b.tar.gz --wildcards "*/manifest.yaml" -O >manifest &&
	grep -A3 "^    batch:" manifest >keys &&
	printf "    batch:\n      size: 100\n      pause_ms: 200\n    checksum: %s\n" \
		"$(sed -n "/^    batch:/,/checksum/s/^    checksum: //p" manifest)" >expect &&
	test_cmp expect keys
'

test_expect_success 'size is the batch size, pause sleeps between batches' '
	cairn-apply apply b.tar.gz --env dev --db sqlite:db $KEY --log-format json >out &&
	row db >s && echo "applied|10|1000" >expect && test_cmp expect s &&
	filled db >n && echo 1000 >expect && test_cmp expect n &&
	grep "\"event\":\"batch\"" out >batches &&
	test_line_count = 10 batches &&
	grep "\"rows_per_s\":" batches >/dev/null &&
	last=$(sed -n "\$s/.*\"duration_ms\":\([0-9]*\).*/\1/p" batches) &&
	echo "10 batches in $last ms" &&
	test "$last" -ge 1800 &&
	q db "SELECT detail FROM cairn_audit WHERE action = '"'"'apply'"'"' AND version = '"'"'0002'"'"'" >d &&
	test_grep "rows=1000 rows_per_s=[0-9]* lag_waits=0 lag_wait_ms=0" d &&
	q db "SELECT count(*) FROM sqlite_master WHERE name = '"'"'cairn_batch'"'"'" >t &&
	echo 0 >expect && test_cmp expect t
'

test_expect_success 'max_duration stops after a batch with exit 8; apply again resumes and finishes' '
	mig pd "{size: 10, pause: 100ms, max_duration: 1s}" &&
	apply_build pd "$TRASH_DIRECTORY/d.tar.gz" &&
	test_expect_code 8 cairn-apply apply d.tar.gz --env dev --db sqlite:dd $KEY >out 2>err &&
	test_grep "stopped at its time budget after [0-9]* batches ([0-9]* rows, [0-9]* rows/s); run apply again to resume" err &&
	state=$(q dd "SELECT state FROM cairn_migrations WHERE version = '"'"'0002'"'"'") &&
	test "$state" = in_progress &&
	b1=$(q dd "SELECT batches FROM cairn_migrations WHERE version = '"'"'0002'"'"'") &&
	r1=$(q dd "SELECT rows_changed FROM cairn_migrations WHERE version = '"'"'0002'"'"'") &&
	echo "stopped after $b1 batches, $r1 rows" &&
	test "$b1" -ge 5 && test "$b1" -le 12 &&
	test "$r1" = $((b1 * 10)) &&
	test "$(filled dd)" = "$r1" &&
	q dd "SELECT count(*) FROM cairn_audit WHERE action = '"'"'apply-stopped'"'"'" >n &&
	echo 1 >expect && test_cmp expect n &&
	cairn-apply plan d.tar.gz --env dev --db sqlite:dd $KEY >plan &&
	test_grep "^  resume 0002_backfill" plan &&
	n=0 && rc=8 &&
	while test $rc = 8 && test $n -lt 20; do
		rc=0 && cairn-apply apply d.tar.gz --env dev --db sqlite:dd $KEY >out 2>err || rc=$? &&
		n=$((n + 1))
	done &&
	test $rc = 0 &&
	echo "finished after $n more runs" &&
	row dd >s && echo "applied|100|1000" >expect && test_cmp expect s &&
	filled dd >f && echo 1000 >expect && test_cmp expect f &&
	cairn-apply history --db sqlite:dd --verify >/dev/null
'

test_expect_success 'the metrics file counts the stop, the rate and the waits' '
	mig pm "{size: 10, max_duration: 300ms, pause: 100ms}" &&
	apply_build pm "$TRASH_DIRECTORY/m.tar.gz" &&
	test_expect_code 8 cairn-apply apply m.tar.gz --env dev --db sqlite:mm $KEY --metrics-file prom 2>/dev/null >/dev/null &&
	test_grep "cairn_apply_runs_total{.*outcome=\"stopped\".*} 1" prom &&
	test_grep "^cairn_apply_batch_rows_per_second{.*} [1-9]" prom &&
	test_grep "^cairn_apply_batch_lag_waits{.*} 0" prom
'

test_expect_success 'a stop at the time budget appends a checkpoint of the chain it leaves' '
	cairn keygen --no-passphrase host >/dev/null 2>&1 &&
	test_expect_code 8 cairn-apply apply m.tar.gz --env dev --db sqlite:cp.db $KEY \
		--checkpoint cp.log --checkpoint-key host.key >out 2>err &&
	test_line_count = 1 cp.log &&
	n=$(q cp.db "SELECT count(*) FROM cairn_audit") &&
	test_grep "	length=$n	head=$(q cp.db "SELECT hash FROM cairn_audit ORDER BY seq DESC LIMIT 1")	" cp.log &&
	test_expect_code 8 cairn-apply apply m.tar.gz --env dev --db sqlite:cp.db $KEY \
		--checkpoint cp.log --checkpoint-key host.key >out 2>err &&
	test_line_count = 2 cp.log
'

test_expect_success 'max_replication_lag waits while the config query says the standby lags' '
	mig pl "{size: 500, max_replication_lag: 500ms}" &&
	apply_build pl "$TRASH_DIRECTORY/l.tar.gz" &&
	until=$(($(date +%s) + 3)) &&
	apply_config "replication_lag_query: \"SELECT CASE WHEN strftime(\x27%s\x27, \x27now\x27) + 0 < $until THEN 4000 ELSE 0 END\"" &&
	sed -i "s/\\\\x27/'"'"'/g" cairn-apply.yaml &&
	sed -i "s|sqlite:db|sqlite:ll|" cairn-apply.yaml &&
	cat cairn-apply.yaml &&
	cairn-apply apply l.tar.gz --config cairn-apply.yaml --env dev >out 2>err &&
	cat out &&
	test_grep "0002_backfill: the standby lags 4000 ms, over max_replication_lag: waiting 1000 ms before batch 1" out &&
	waits=$(grep -c "the standby lags" out) &&
	test "$waits" -ge 2 &&
	row ll >s && echo "applied|2|1000" >expect && test_cmp expect s &&
	q ll "SELECT detail FROM cairn_audit WHERE action = '"'"'apply'"'"' AND version = '"'"'0002'"'"'" >d &&
	test_grep "lag_waits=$waits lag_wait_ms=[0-9]" d
'

test_expect_success 'plan and inspect show the signed batch keys, text and JSON' '
	mig pi "{size: 250, pause: 1500ms, max_duration: 10m, max_replication_lag: 5s}" &&
	apply_build pi "$TRASH_DIRECTORY/i.tar.gz" &&
	cairn inspect i.tar.gz >ins &&
	test_grep "^      batch: size 250, pause 1500ms, max_duration 10m, max_replication_lag 5s$" ins &&
	cairn inspect i.tar.gz --format json >ins.json &&
	test_grep "\"kind\":\"batch\",\"phase\":\"expand\",\"batch\":{\"size\":250,\"pause_ms\":1500,\"max_duration_ms\":600000,\"max_replication_lag_ms\":5000}" ins.json &&
	cairn-apply plan i.tar.gz --env dev --db sqlite:pi.db $KEY >plan &&
	grep -A1 "^  apply  0002_backfill" plan >p2 &&
	test_grep "^      batch: size 250, pause 1500ms, max_duration 10m, max_replication_lag 5s$" p2 &&
	cairn-apply plan i.tar.gz --env dev --db sqlite:pi.db $KEY --format json >plan.json &&
	test_grep "\"migration\":\"0002_backfill\",\"action\":\"apply\",\"transaction\":true,\"kind\":\"batch\",\"batch\":{\"size\":250,\"pause_ms\":1500,\"max_duration_ms\":600000,\"max_replication_lag_ms\":5000}" plan.json &&
	test_grep "\"migration\":\"0001_items\",\"action\":\"apply\",\"transaction\":true,\"kind\":\"schema\",\"sql\":" plan.json &&
	grep -A1 "^  apply  0001_items" plan >p1 &&
	test_line_count = 2 p1 &&
	! grep "batch:" p1 &&
	test "$(q pi.db "SELECT count(*) FROM sqlite_master WHERE name = '"'"'items'"'"'")" = 0
'

test_expect_success 'max_replication_lag in bytes: signed as max_replication_lag_bytes, read by replication_lag_bytes_query' '
	mig pb "{size: 500, max_replication_lag: 16MB}" &&
	apply_build pb "$TRASH_DIRECTORY/lb.tar.gz" &&
	tar xzf lb.tar.gz --wildcards "*/manifest.yaml" -O >manifest &&
	grep -A2 "^    batch:" manifest >keys &&
	printf "    batch:\n      size: 500\n      max_replication_lag_bytes: 16777216\n" >expect &&
	test_cmp expect keys &&
	cairn inspect lb.tar.gz >ins &&
	test_grep "^      batch: size 500, max_replication_lag 16MiB$" ins &&
	until=$(($(date +%s) + 3)) &&
	apply_config "replication_lag_query: \"SELECT 999999\"" &&
	echo "    replication_lag_bytes_query: \"SELECT CASE WHEN strftime(\x27%s\x27, \x27now\x27) + 0 < $until THEN 20000000 ELSE 1000 END\"" >>cairn-apply.yaml &&
	sed -i "s/\\\\x27/'"'"'/g" cairn-apply.yaml &&
	sed -i "s|sqlite:db|sqlite:lb|" cairn-apply.yaml &&
	cairn-apply apply lb.tar.gz --config cairn-apply.yaml --env dev >out 2>err &&
	cat out &&
	test_grep "0002_backfill: the standby lags 20000000 bytes, over max_replication_lag: waiting 1000 ms before batch 1" out &&
	! grep "999999" out &&
	waits=$(grep -c "the standby lags" out) &&
	test "$waits" -ge 2 &&
	row lb >s && echo "applied|2|1000" >expect && test_cmp expect s &&
	q lb "SELECT detail FROM cairn_audit WHERE action = '"'"'apply'"'"' AND version = '"'"'0002'"'"'" >d &&
	test_grep "lag_waits=$waits lag_wait_ms=[0-9]" d
'

test_expect_success 'a lag under the bound in bytes waits for nothing; a query that is no number fails the run' '
	apply_config "replication_lag_bytes_query: \"SELECT 16777216\"" &&
	sed -i "s|sqlite:db|sqlite:lb2|" cairn-apply.yaml &&
	cairn-apply apply lb.tar.gz --config cairn-apply.yaml --env dev --log-format json >out 2>err &&
	! grep "lag-wait" out &&
	row lb2 >s && echo "applied|2|1000" >expect && test_cmp expect s &&
	apply_config "replication_lag_bytes_query: \"SELECT \x27lots\x27\"" &&
	sed -i "s/\\\\x27/'"'"'/g" cairn-apply.yaml &&
	sed -i "s|sqlite:db|sqlite:lb3|" cairn-apply.yaml &&
	test_must_fail cairn-apply apply lb.tar.gz --config cairn-apply.yaml --env dev >out 2>err &&
	test_grep "the replication lag query returned .lots., not a number of bytes" err
'

test_expect_success 'SIGTERM in a pause stops between batches; the row stays resumable' '
	mig ps "{size: 400, pause: 5s}" &&
	apply_build ps "$TRASH_DIRECTORY/s.tar.gz" &&
	{ cairn-apply apply s.tar.gz --env dev --db sqlite:ss $KEY >run1 2>&1 & } &&
	pid=$! &&
	n=0 &&
	while test $n -lt 500; do
		b=$(sqlite3 -cmd ".timeout 2000" ss "SELECT batches FROM cairn_migrations WHERE version = '"'"'0002'"'"'" 2>/dev/null || :) &&
		if test "$b" = 1; then break; fi &&
		sleep 0.01 && n=$((n + 1)) || return 1
	done &&
	t0=$(date +%s) &&
	kill -TERM $pid &&
	{ wait $pid; rc=$?; } &&
	t1=$(date +%s) &&
	test $rc -eq 143 &&
	test $((t1 - t0)) -le 2 &&
	cat run1 &&
	test_grep "stopped between batches, after 1 batches, 400 rows" run1 &&
	test_grep "interrupted by SIGTERM: batch migration 0002_backfill stopped between batches" run1 &&
	row ss >s && echo "in_progress|1|400" >expect && test_cmp expect s &&
	filled ss >f && echo 400 >expect && test_cmp expect f
'

test_expect_success 'a bundle whose batch keys were edited after signing is refused' '
	bundle_rewrite b.tar.gz edited.tar.gz "m[\"manifest.yaml\"] = m[\"manifest.yaml\"].replace(b\"pause_ms: 200\", b\"pause_ms: 1\", 1)" &&
	test_expect_code 3 cairn-apply apply edited.tar.gz --env dev --db sqlite:e $KEY 2>err &&
	test_grep "changed after signing" err &&
	! test -s e
'

test_expect_success 'migration.yaml: batch: on a schema migration, unknown keys and bad values are errors' '
	apply_project y &&
	apply_mig y 0001_a "CREATE TABLE a (x int);" "DROP TABLE a;" "batch: {size: 10}" &&
	apply_mig y 0002_b "UPDATE a SET x = 1 WHERE x IS NULL;" - "kind: batch
batch: {size: 0, pause: soon, speed: 3, max_replication_lag: 16 parsecs}" &&
	git -C y add -A && git -C y commit -qm m &&
	test_expect_code 1 sh -c "cd y && cairn check" >out 2>&1 &&
	cat out &&
	test_grep "throttles a batch migration: add kind: batch" out &&
	test_grep "batch: size. must be a number of rows" out &&
	test_grep "unknown key .batch: speed." out &&
	test_grep "pause. must be a duration" out &&
	test_grep "max_replication_lag. must be a duration such as 5s or a byte size such as 16MB" out
'

test_done
