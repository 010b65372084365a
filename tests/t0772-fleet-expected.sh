#!/bin/sh
test_description='cairn-apply fleet: exits 7 (waits for a contract statement) and 8 (a batch stopped at its budget) are the outcomes waiting and stopped, not failures (issue #21)'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"

unset CAIRN_ENV CAIRN_DB CAIRN_LOCK_TIMEOUT CAIRN_APPLY_CONFIG

# outcomes RESULT: "target outcome exit" of each target's last line, sorted.
outcomes() {
	python3 -c 'import json,sys
last={}
for l in open(sys.argv[1]):
    if l.strip():
        r=json.loads(l)
        last[r["target"]]="%s %s %d" % (r["target"], r["outcome"], r["exit"])
for k in sorted(last): print(last[k])' "$1"
}

test_expect_success 'setup: a batch migration that stops at a 300ms budget, three targets' '
	apply_project s &&
	apply_mig s 0001_items "CREATE TABLE items (id integer primary key, price integer, cents integer);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200)
INSERT INTO items (id, price) SELECT i, i % 97 FROM n;" "DROP TABLE items;" &&
	apply_mig s 0002_backfill "UPDATE items SET cents = price * 100
WHERE id IN (SELECT id FROM items WHERE cents IS NULL LIMIT (SELECT size FROM temp.cairn_batch));" - \
		"kind: batch
irreversible: true
batch: {size: 10, pause: 100ms, max_duration: 300ms}" &&
	apply_build s "$TRASH_DIRECTORY/s.tar.gz" &&
	for i in 0 1 2; do echo "s$i sqlite:s$i.db"; done >targets
'

test_expect_success 'a stopped batch is outcome stopped, exit 8; --canary and --halt-on 1 do not stop on it' '
	test_expect_code 8 cairn-apply fleet s.tar.gz --env dev $KEY --targets targets \
		--canary 1 --halt-on 1 --result r.jsonl --log-format json >events 2>err &&
	printf "s0 stopped 8\ns1 stopped 8\ns2 stopped 8\n" >expect &&
	outcomes r.jsonl >got && test_cmp expect got &&
	test_line_count = 3 r.jsonl &&
	test_grep "\"to\":\"0001\",\"outcome\":\"stopped\",\"exit\":8,.*\"error\":\"migration 0002_backfill stopped at its time budget" r.jsonl &&
	test_grep "\"event\":\"fleet-end\",\"targets\":3,\"ok\":0,\"failed\":0,\"not_started\":0,\"waiting\":0,\"budget_stopped\":3,\"stopped\":null" events &&
	for i in 0 1 2; do
		test "$(q s$i.db "SELECT state FROM cairn_migrations WHERE version = '"'"'0002'"'"'")" = in_progress &&
		n=$(q s$i.db "SELECT count(*) FROM items WHERE cents = price * 100") &&
		test "$n" -gt 0 && test "$n" -lt 200 || return 1
	done
'

test_expect_success 'the summary line and the text lines name stopped targets' '
	test_expect_code 8 cairn-apply fleet s.tar.gz --env dev $KEY --targets targets \
		--result r.jsonl --log-format text >out 2>err &&
	test_grep "^s1: stopped (0001 -> 0001, [0-9]* ms): migration 0002_backfill stopped at its time budget" out &&
	test_grep "3 targets: 0 applied or current, 3 stopped, 0 failed, 0 not started" err
'

test_expect_success 'fleet-merge and report show stopped targets; merge exits 8' '
	test_expect_code 8 cairn-apply fleet-merge r.jsonl -o m.jsonl 2>err &&
	test_grep "3 targets: 0 applied or current, 3 stopped, 0 failed or not started" err &&
	cairn-apply report r.jsonl --format json -o rep.json &&
	test_grep "\"applied\":0,\"current\":0,\"waiting\":0,\"stopped\":3,\"failed\":0,\"not_started\":0" rep.json &&
	test_grep "\"target\":\"s0\",\"outcome\":\"stopped\",\"exit\":8" rep.json &&
	cairn-apply report r.jsonl >rep.txt &&
	test_grep "^fleet r.jsonl: 3 targets: 0 applied, 0 current, 3 stopped, 0 failed, 0 not started$" rep.txt &&
	test_grep "^    s2 stopped (exit 8): migration 0002_backfill stopped at its time budget" rep.txt &&
	cairn-apply report r.jsonl --format html -o rep.html &&
	test_grep "3 targets: 0 applied, 0 current, 3 stopped, 0 failed, 0 not started</p>" rep.html &&
	test_grep "<td>s1</td><td>stopped</td><td>8</td>" rep.html
'

test_expect_success 'a failed target next to stopped ones: the fleet exits 1' '
	{ cat targets && echo "bad sqlite:no/such/dir/x.db"; } >targets2 &&
	test_expect_code 1 cairn-apply fleet s.tar.gz --env dev $KEY --targets targets2 \
		--result r2.jsonl --log-format text >out 2>err &&
	test_grep "^bad: failed" out &&
	test_grep "^s0: stopped" out &&
	test_expect_code 1 cairn-apply fleet-merge r2.jsonl >/dev/null 2>err &&
	test_grep "3 stopped, 1 failed or not started" err
'

test_expect_success '--resume retries stopped targets until every backfill is done' '
	n=0 && rc=8 &&
	while test $rc = 8 && test $n -lt 20; do
		rc=0 && cairn-apply fleet s.tar.gz --env dev $KEY --targets targets --parallel 3 \
			--resume r.jsonl --log-format text >out 2>err || rc=$? &&
		n=$((n + 1))
	done &&
	echo "finished after $n resumes" &&
	test $rc = 0 &&
	printf "s0 applied 0\ns1 applied 0\ns2 applied 0\n" >expect &&
	outcomes r.jsonl >got && test_cmp expect got &&
	for i in 0 1 2; do
		test "$(q s$i.db "SELECT state FROM cairn_migrations WHERE version = '"'"'0002'"'"'")" = applied &&
		test "$(q s$i.db "SELECT count(*) FROM items WHERE cents = price * 100")" = 200 &&
		cairn-apply history --db sqlite:s$i.db --verify >/dev/null || return 1
	done &&
	cairn-apply fleet s.tar.gz --env dev $KEY --targets targets --resume r.jsonl >out 2>err &&
	test_grep "every target is applied or current" err
'

test_expect_success 'setup: a contract migration between two expand ones, promoted without a contract statement' '
	phase_setup sqlite:unused.db &&
	phase_project p &&
	apply_mig p 0001_t "CREATE TABLE t (id integer primary key, v text);" "DROP TABLE t;" &&
	apply_mig p 0002_drop_v "ALTER TABLE t DROP COLUMN v;" "ALTER TABLE t ADD COLUMN v text;" "phase: contract
destructive: true" &&
	apply_mig p 0003_u "CREATE TABLE u (id integer);" "DROP TABLE u;" &&
	test_commit p one &&
	(cd p && cairn build --sign ../keys/ci.key -o ../c.tar.gz >/dev/null 2>&1) &&
	cairn promote c.tar.gz --to prod --key keys/alice.key >/dev/null 2>&1 &&
	for i in 0 1 2; do echo "c$i sqlite:c$i.db"; done >ctargets
'

test_expect_success 'a target that waits for a contract statement is outcome waiting, exit 7; --halt-on 1 does not stop on it' '
	test_expect_code 7 cairn-apply fleet c.tar.gz --env prod --targets ctargets \
		--canary 1 --halt-on 1 --result c.jsonl --log-format text >out 2>err &&
	printf "c0 waiting 7\nc1 waiting 7\nc2 waiting 7\n" >expect &&
	outcomes c.jsonl >got && test_cmp expect got &&
	test_grep "^c0: waiting (none -> 0001" out &&
	test_grep "3 targets: 0 applied or current, 3 waiting, 0 failed, 0 not started" err &&
	test_grep "\"error\":\"migration 0002_drop_v is phase: contract" c.jsonl &&
	for i in 0 1 2; do
		test "$(q c$i.db "SELECT group_concat(version || \":\" || state) FROM cairn_migrations")" = "0001:applied" &&
		q c$i.db "SELECT name FROM pragma_table_info(\"t\")" >cols &&
		test_grep "^v$" cols &&
		test -z "$(q c$i.db "SELECT name FROM sqlite_master WHERE name = \"u\"")" || return 1
	done &&
	test_expect_code 7 cairn-apply fleet-merge c.jsonl >/dev/null 2>err &&
	test_grep "3 waiting" err
'

test_expect_success 'stopped and waiting together: fleet-merge exits 7 (waiting needs a person), as fleet does' '
	cat r.jsonl c.jsonl >both.jsonl &&
	printf "{\"target\":\"z\",\"outcome\":\"stopped\",\"exit\":8}\n" >>both.jsonl &&
	test_expect_code 7 cairn-apply fleet-merge both.jsonl >/dev/null 2>err &&
	test_grep "3 applied or current, 3 waiting, 1 stopped, 0 failed or not started" err
'

test_expect_success 'once the contract statement exists, --resume applies the rest' '
	cairn promote c.tar.gz --to prod --contract --key keys/alice.key >/dev/null 2>&1 &&
	cairn-apply fleet c.tar.gz --env prod --targets ctargets --resume c.jsonl \
		--log-format text >out 2>err &&
	printf "c0 applied 0\nc1 applied 0\nc2 applied 0\n" >expect &&
	outcomes c.jsonl >got && test_cmp expect got &&
	for i in 0 1 2; do
		test "$(q c$i.db "SELECT group_concat(version || \":\" || state) FROM cairn_migrations")" = "0001:applied,0002:applied,0003:applied" &&
		! q c$i.db "SELECT name FROM pragma_table_info(\"t\")" | grep "^v$" &&
		test "$(q c$i.db "SELECT name FROM sqlite_master WHERE name = \"u\"")" = u &&
		cairn-apply history --db sqlite:c$i.db --verify >/dev/null || return 1
	done
'

test_done
