#!/bin/sh
test_description='cairn-apply fleet: progress on a terminal, one checkpoint file written by parallel targets, waves with canary and --halt-on (issue #21)'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"

unset CAIRN_ENV CAIRN_DB CAIRN_LOCK_TIMEOUT CAIRN_APPLY_CONFIG CAIRN_CHECKPOINT CAIRN_CHECKPOINT_KEY

# books DB: version|state of each bookkeeping row.
books() {
	sqlite3 "$1" "SELECT version || '|' || state FROM cairn_migrations ORDER BY version"
}

# outcomes RESULT: "target outcome" of each target's last line, sorted.
outcomes() {
	python3 -c 'import json,sys
o={}
for l in open(sys.argv[1]):
    if l.strip():
        r=json.loads(l); o[r["target"]]=r["outcome"]
for t in sorted(o): print(t, o[t])' "$1"
}

# starts EVENTS: the targets in the order they started.
starts() {
	python3 -c 'import json,sys
for l in open(sys.argv[1]):
    e=json.loads(l)
    if e.get("event")=="target-start": print(e["target"], e["phase"], e["wave"])' "$1"
}

# reset_w: the eight w targets as the setup left them.
reset_w() {
	for i in 1 2 3 4 5 6 7 8; do rm -f w$i.db || return 1; done &&
	cp w4.orig w4.db && cp w5.orig w5.db
}

test_expect_success 'setup: v1 of one migration, v2 of two, a checkpoint key' '
	apply_project shop &&
	apply_table shop 0001_users &&
	apply_build shop "$TRASH_DIRECTORY/v1.tar.gz" &&
	apply_table shop 0002_orders &&
	apply_build shop "$TRASH_DIRECTORY/v2.tar.gz" &&
	cairn keygen --no-passphrase host >/dev/null 2>&1
'

test_expect_success 'on a terminal (script(1)): a progress line with counts, rate and ETA, no JSON' '
	for i in 1 2 3 4 5 6; do echo "p$i sqlite:p$i.db"; done >ptargets &&
	script -qec "cairn-apply fleet v2.tar.gz --env dev $KEY --targets ptargets --parallel 2" /dev/null >tty.out &&
	tr "\r" "\n" <tty.out >tty.lines &&
	test_grep "^fleet: 0/6 done, 0 failed, [0-2] running, .*ETA .* (canary\|wave)" tty.lines &&
	test_grep "^fleet: 6/6 done, 0 failed, 0 running, [0-9.]*/s, ETA 0s (wave)" tty.lines &&
	test_grep ! "\"event\"" tty.lines &&
	for i in 1 2 3 4 5 6; do
		printf "0001|applied\n0002|applied\n" >want && books p$i.db >got && test_cmp want got || return 1
	done &&
	for i in 1 2 3 4 5 6; do echo "q$i sqlite:q$i.db"; done >qtargets &&
	cairn-apply fleet v2.tar.gz --env dev $KEY --targets qtargets --parallel 2 >pipe.out 2>pipe.err &&
	test_grep "\"event\":\"target-end\"" pipe.out &&
	test_grep ! "ETA" pipe.err
'

test_expect_success 'one checkpoint file, twelve targets four at a time, twice: one whole line per target and run' '
	for i in $(seq 1 12); do echo "c$i sqlite:c$i.db"; done >ctargets &&
	cairn-apply fleet v1.tar.gz --env dev $KEY --targets ctargets --parallel 4 \
		--checkpoint cp.log --checkpoint-key host.key --result r1.jsonl >/dev/null 2>&1 &&
	test_line_count = 12 cp.log &&
	cairn-apply fleet v2.tar.gz --env dev $KEY --targets ctargets --parallel 4 \
		--checkpoint cp.log --checkpoint-key host.key --result r2.jsonl >/dev/null 2>&1 &&
	test_line_count = 24 cp.log &&
	python3 - cp.log <<-\EOF &&
	import collections, sys
	seen = collections.Counter()
	for line in open(sys.argv[1]):
	    f = line.rstrip("\n").split("\t")
	    assert f[0] == "cairn-checkpoint/1", line
	    kv = dict(x.split("=", 1) for x in f[1:] if "=" in x)
	    assert {"db", "length", "head", "sig"} <= set(kv), line
	    seen[kv["db"]] += 1
	assert sorted(seen) == sorted("c%d.db" % i for i in range(1, 13)), seen
	assert set(seen.values()) == {2}, seen
	EOF
	for i in $(seq 1 12); do
		printf "0001|applied\n0002|applied\n" >want && books c$i.db >got && test_cmp want got &&
		n=$(sqlite3 c$i.db "SELECT count(*) FROM cairn_audit") &&
		grep "	db=c$i.db	" cp.log | tail -n 1 | grep "	length=$n	" >/dev/null &&
		cairn-apply history --db sqlite:c$i.db --verify --checkpoint cp.log >out &&
		test_grep "matches: $n audit rows" out || return 1
	done
'

test_expect_success 'setup: eight targets, the fourth and fifth broken (their first table exists)' '
	for i in 1 2 3 4 5 6 7 8; do echo "w$i sqlite:w$i.db"; done >wtargets &&
	sqlite3 w4.db "CREATE TABLE t_0001_users (x int)" &&
	sqlite3 w5.db "CREATE TABLE t_0001_users (x int)" &&
	cp w4.db w4.orig && cp w5.db w5.orig
'

test_expect_success 'canary 1, waves of 2: failures in a wave do not stop the next ones without --halt-on' '
	test_expect_code 1 cairn-apply fleet v2.tar.gz --env dev $KEY --targets wtargets --canary 1 \
		--wave 2 --parallel 2 --result ra.jsonl --log-format json >ea 2>err &&
	starts ea >got &&
	cat >want <<-\EOF &&
	w1 canary 0
	w2 wave 1
	w3 wave 1
	w4 wave 2
	w5 wave 2
	w6 wave 3
	w7 wave 3
	w8 wave 4
	EOF
	test_cmp want got &&
	outcomes ra.jsonl >got &&
	printf "w1 applied\nw2 applied\nw3 applied\nw4 failed\nw5 failed\nw6 applied\nw7 applied\nw8 applied\n" >want &&
	test_cmp want got &&
	test "$(books w4.db)" = "" && test "$(books w8.db)" = "$(printf "0001|applied\n0002|applied")"
'

test_expect_success '--halt-on 2: the wave that reaches it finishes, nothing new starts' '
	reset_w &&
	test_expect_code 1 cairn-apply fleet v2.tar.gz --env dev $KEY --targets wtargets --canary 1 \
		--wave 2 --parallel 2 --halt-on 2 --result rb.jsonl --log-format json >eb 2>err &&
	test_grep "\"event\":\"fleet-end\",.*\"stopped\":\"--halt-on was reached\"" eb &&
	outcomes rb.jsonl >got &&
	printf "w1 applied\nw2 applied\nw3 applied\nw4 failed\nw5 failed\nw6 not-started\nw7 not-started\nw8 not-started\n" >want &&
	test_cmp want got &&
	test ! -e w6.db && test ! -e w8.db
'

test_expect_success '--halt-on 3 with two failures: every target is tried' '
	reset_w &&
	test_expect_code 1 cairn-apply fleet v2.tar.gz --env dev $KEY --targets wtargets --canary 1 \
		--wave 2 --parallel 2 --halt-on 3 --result rc.jsonl --log-format json >ec 2>err &&
	test_grep "\"event\":\"fleet-end\",\"targets\":8,\"ok\":6,\"failed\":2,\"not_started\":0," ec &&
	test_grep ! "halt-on was reached" ec &&
	test "$(grep -c "\"outcome\":\"applied\"" rc.jsonl)" = 6 &&
	test "$(grep -c "\"outcome\":\"failed\"" rc.jsonl)" = 2
'

test_expect_success 'a canary of 3 whose last target fails: no wave starts' '
	reset_w &&
	printf "w1 sqlite:w1.db\nw2 sqlite:w2.db\nw4 sqlite:w4.db\nw6 sqlite:w6.db\nw7 sqlite:w7.db\n" >ktargets &&
	test_expect_code 1 cairn-apply fleet v2.tar.gz --env dev $KEY --targets ktargets --canary 3 \
		--wave 1 --parallel 3 --result rk.jsonl --log-format json >ek 2>err &&
	test_grep "\"event\":\"fleet-end\",.*\"stopped\":\"the canary failed\"" ek &&
	test_grep ! "\"phase\":\"wave\"" ek &&
	outcomes rk.jsonl >got &&
	printf "w1 applied\nw2 applied\nw4 failed\nw6 not-started\nw7 not-started\n" >want &&
	test_cmp want got &&
	test ! -e w6.db
'

test_done
