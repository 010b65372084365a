#!/bin/sh
test_description='cairn-apply fleet: one verified bundle to many SQLite databases; canary, waves, halt, shards, resume, merge (issue #21)'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"

unset CAIRN_ENV CAIRN_DB CAIRN_LOCK_TIMEOUT CAIRN_APPLY_CONFIG

# tables DB: the user tables of DB, one a line, sorted.
tables() {
	sqlite3 "$1" "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'cairn%' ORDER BY name"
}

# books DB: version|state of each bookkeeping row.
books() {
	sqlite3 "$1" "SELECT version || '|' || state FROM cairn_migrations ORDER BY version"
}

# outcome RESULT TARGET: the outcome of TARGET's last line in RESULT.
outcome() {
	python3 -c 'import json,sys
o=None
for l in open(sys.argv[1]):
    if l.strip():
        r=json.loads(l)
        if r["target"]==sys.argv[2]: o=r["outcome"]
print(o)' "$1" "$2"
}

# started_after_failure EVENTS: true when a target-start event follows the
# target-end of a failed target in EVENTS (--log-format json's lines).
started_after_failure() {
	python3 -c 'import json,sys
failed=False
for l in open(sys.argv[1]):
    if not l.startswith("{"): continue
    e=json.loads(l)
    if e.get("event")=="target-end" and e.get("outcome")=="failed": failed=True
    elif e.get("event")=="target-start" and failed: sys.exit(0)
sys.exit(1)' "$1"
}

test_expect_success 'setup: a project of two migrations and ten targets' '
	apply_project shop &&
	apply_table shop 0001_users &&
	apply_table shop 0002_orders &&
	apply_build shop "$TRASH_DIRECTORY/b.tar.gz" &&
	for i in 0 1 2 3 4 5 6 7 8 9; do echo "db$i sqlite:db$i.db"; done >targets &&
	test_line_count = 10 targets
'

test_expect_success 'fleet applies to every target, each with its own books and audit chain' '
	cairn-apply fleet b.tar.gz --env dev $KEY --targets targets --parallel 3 \
		--result r1.jsonl --log-format json >events &&
	for i in 0 1 2 3 4 5 6 7 8 9; do
		printf "t_0001_users\nt_0002_orders\n" >want &&
		tables db$i.db >got && test_cmp want got &&
		printf "0001|applied\n0002|applied\n" >want &&
		books db$i.db >got && test_cmp want got &&
		test "$(sqlite3 db$i.db "SELECT count(*) FROM cairn_audit WHERE action = '"'"'apply'"'"'")" = 2 &&
		cairn-apply history --db sqlite:db$i.db --verify >out &&
		test_grep intact out &&
		test "$(outcome r1.jsonl db$i)" = applied || return 1
	done &&
	test_line_count = 10 r1.jsonl &&
	grep -c "\"event\":\"target-start\"" events >n && echo 10 >want && test_cmp want n &&
	test_grep "\"event\":\"fleet-end\",\"targets\":10,\"ok\":10,\"failed\":0" events &&
	python3 -c "import json,sys; [json.loads(l) for l in open(\"r1.jsonl\")]" &&
	test_grep "\"from\":null,\"to\":\"0002\",\"outcome\":\"applied\",\"exit\":0" r1.jsonl
'

test_expect_success 'a second fleet finds every target current' '
	cairn-apply fleet b.tar.gz --env dev $KEY --targets targets --result r2.jsonl --log-format text >out 2>err &&
	test_grep "^db3: current (0002 -> 0002" out &&
	test_grep "10 targets: 10 applied or current, 0 failed, 0 not started" err &&
	test "$(grep -c "\"outcome\":\"current\"" r2.jsonl)" = 10
'

test_expect_success 'a bad line in the targets file is an error naming FILE:LINE, and nothing runs' '
	printf "ok1 sqlite:new1.db\n\n# fine\nbad!name sqlite:x.db\n" >bad1 &&
	test_expect_code 2 cairn-apply fleet b.tar.gz --env dev $KEY --targets bad1 2>err &&
	test_grep "bad1:4: bad target name" err &&
	printf "a sqlite:new1.db\nb nonsense\n" >bad2 &&
	test_expect_code 2 cairn-apply fleet b.tar.gz --env dev $KEY --targets bad2 2>err &&
	test_grep "bad2:2: .nonsense. is not a DSN" err &&
	printf "a sqlite:new1.db\na sqlite:new2.db\n" >bad3 &&
	test_expect_code 2 cairn-apply fleet b.tar.gz --env dev $KEY --targets bad3 2>err &&
	test_grep "bad3:2: target .a. is named twice (first on line 1)" err &&
	printf "a postgres://u:s3cret@h/db\n" >bad4 &&
	test_expect_code 2 cairn-apply fleet b.tar.gz --env dev $KEY --targets bad4 2>err &&
	test_grep "bad4:1: the DSN holds a password" err &&
	! grep s3cret err &&
	printf "a sqlite:new1.db\nb env:NO_SUCH_VAR_F21\n" >bad5 &&
	test_expect_code 6 cairn-apply fleet b.tar.gz --env dev $KEY --targets bad5 2>err &&
	test_grep "bad5:2: target .b.: the environment variable .NO_SUCH_VAR_F21. is not set" err &&
	test ! -e new1.db && test ! -e new2.db
'

test_expect_success 'targets from stdin, env: and file: references' '
	echo sqlite:s2.db >dsn-file &&
	printf "s1 env:F21_DSN\ns2 file:dsn-file\nsqlite:s3.db\n" |
		F21_DSN=sqlite:s1.db cairn-apply fleet b.tar.gz --env dev $KEY --targets - --result rs.jsonl >/dev/null &&
	for d in s1 s2 s3; do
		printf "0001|applied\n0002|applied\n" >want && books $d.db >got && test_cmp want got || return 1
	done &&
	test_grep "\"target\":\"s1\",\"dsn\":\"env:F21_DSN\"" rs.jsonl &&
	test_grep "\"target\":\"sqlite:s3.db\"" rs.jsonl
'

test_expect_success 'a forged bundle is refused once (exit 3) and no target is touched' '
	cp b.tar.gz forged.tar.gz &&
	printf "\001" | dd of=forged.tar.gz bs=1 seek=200 conv=notrunc 2>/dev/null &&
	printf "f1 sqlite:f1.db\nf2 sqlite:f2.db\n" >ftargets &&
	test_expect_code 3 cairn-apply fleet forged.tar.gz --env dev $KEY --targets ftargets 2>err &&
	test_grep "no target was touched" err &&
	test ! -e f1.db && test ! -e f2.db
'

test_expect_success 'setup: a broken target (its table exists already)' '
	for i in 0 1 2 3 4 5; do echo "c$i sqlite:c$i.db"; done >ctargets &&
	sqlite3 c1.db "CREATE TABLE t_0001_users (x int)"
'

test_expect_success 'a target that fails in the canary stops the rest: exit 1, the others untouched' '
	test_expect_code 1 cairn-apply fleet b.tar.gz --env dev $KEY --targets ctargets --canary 2 \
		--wave 2 --parallel 2 --result rc.jsonl --log-format text >out 2>err &&
	test_grep "6 targets: 1 applied or current, 1 failed, 4 not started (the canary failed)" err &&
	test "$(outcome rc.jsonl c0)" = applied &&
	test "$(outcome rc.jsonl c1)" = failed &&
	test_grep "\"target\":\"c1\".*\"exit\":1,.*\"error\":\"migration 0001" rc.jsonl &&
	for i in 2 3 4 5; do
		test "$(outcome rc.jsonl c$i)" = not-started && test ! -e c$i.db || return 1
	done &&
	echo x >want && tables c1.db | sed "s/t_0001_users/x/" >got && test_cmp want got &&
	test "$(sqlite3 c1.db "SELECT count(*) FROM cairn_migrations")" = 0
'

test_expect_success 'fleet --resume retries only the failed and the never started, and finishes the job' '
	sqlite3 c1.db "DROP TABLE t_0001_users" &&
	before=$(sqlite3 c0.db "SELECT count(*) FROM cairn_audit") &&
	cairn-apply fleet b.tar.gz --env dev $KEY --targets ctargets --resume rc.jsonl --parallel 2 \
		--log-format json >events &&
	test "$(grep -c "\"event\":\"target-start\"" events)" = 5 &&
	! grep "\"target-start\",\"target\":\"c0\"" events &&
	test "$(sqlite3 c0.db "SELECT count(*) FROM cairn_audit")" = "$before" &&
	for i in 0 1 2 3 4 5; do
		printf "0001|applied\n0002|applied\n" >want && books c$i.db >got && test_cmp want got &&
		test "$(outcome rc.jsonl c$i)" = applied || return 1
	done &&
	cairn-apply fleet b.tar.gz --env dev $KEY --targets ctargets --resume rc.jsonl 2>err &&
	test_grep "no targets to apply to: every target is applied or current" err
'

test_expect_success '--halt-on 1 starts nothing new after a failure; running targets finish' '
	for i in 0 1 2 3 4 5 6 7 8 9 10 11; do echo "h$i sqlite:h$i.db"; done >htargets &&
	sqlite3 h0.db "CREATE TABLE t_0002_orders (x int)" &&
	test_expect_code 1 cairn-apply fleet b.tar.gz --env dev $KEY --targets htargets --halt-on 1 \
		--parallel 2 --result rh.jsonl --log-format json >events 2>err &&
	test_grep "\"stopped\":\"--halt-on was reached\"" events &&
	test "$(outcome rh.jsonl h0)" = failed &&
	! started_after_failure events &&
	grep -c "\"event\":\"target-start\"" events >nstarted &&
	test "$(cat nstarted)" -lt 12 &&
	test "$(outcome rh.jsonl h11)" = not-started &&
	test ! -e h11.db &&
	for i in 1 2 3 4 5 6 7 8 9 10; do
		o=$(outcome rh.jsonl h$i) &&
		case "$o" in applied|not-started) ;; *) echo "h$i: $o"; false;; esac || return 1
	done &&
	printf "t_0001_users\nt_0002_orders\n" >want && tables h0.db >got && test_cmp want got &&
	echo "0001|applied" >want && books h0.db >got && test_cmp want got
'

test_expect_success '--metrics: Prometheus metrics of the run, which promtool accepts' '
	for i in 0 1 2; do echo "m$i sqlite:m$i.db"; done >mtargets &&
	sqlite3 m1.db "CREATE TABLE t_0001_users (x int)" &&
	test_expect_code 1 cairn-apply fleet b.tar.gz --env dev $KEY --targets mtargets --shard 0/1 \
		--metrics fleet.prom >/dev/null 2>&1 &&
	promtool check metrics <fleet.prom &&
	test_grep "^cairn_fleet_targets{env=\"dev\",bundle=\"sha256:[0-9a-f]*\",shard=\"0/1\",outcome=\"applied\"} 2$" fleet.prom &&
	test_grep "outcome=\"failed\"} 1$" fleet.prom &&
	test_grep "^cairn_fleet_target_duration_seconds_count{.*} 3$" fleet.prom &&
	test_grep "^cairn_fleet_target_duration_seconds_bucket{.*le=\"+Inf\"} 3$" fleet.prom
'

test_expect_success '--wave P% runs waves of that share; usage errors' '
	for i in 0 1 2 3; do echo "w$i sqlite:w$i.db"; done >wtargets &&
	cairn-apply fleet b.tar.gz --env dev $KEY --targets wtargets --wave 50% --log-format json >events &&
	test_grep "\"target\":\"w1\",\"phase\":\"wave\",\"wave\":1" events &&
	test_grep "\"target\":\"w2\",\"phase\":\"wave\",\"wave\":2" events &&
	test_expect_code 2 cairn-apply fleet b.tar.gz --env dev $KEY --targets wtargets --wave 0 2>err &&
	test_grep "wave must be a whole number above 0" err &&
	test_expect_code 2 cairn-apply fleet b.tar.gz --env dev $KEY --targets wtargets --shard 4/4 2>err &&
	test_grep "shard must be I/N with 0 <= I < N" err &&
	test_expect_code 2 cairn-apply fleet b.tar.gz $KEY --targets wtargets 2>err &&
	test_grep "missing --env ENV" err
'

test_expect_success '--shard I/N: disjoint slices that cover every target, stable when lines move' '
	for i in $(seq 0 39); do echo "s$i sqlite:sh$i.db"; done >stargets &&
	for s in 0 1 2; do
		cairn-apply fleet b.tar.gz --env dev $KEY --targets stargets --shard $s/3 \
			--result shard$s.jsonl >/dev/null || return 1
	done &&
	cat shard0.jsonl shard1.jsonl shard2.jsonl | python3 -c "import json,sys
names=[json.loads(l)[\"target\"] for l in sys.stdin]
assert len(names)==40 and len(set(names))==40, names" &&
	test_grep "\"shard\":\"1/3\"" shard1.jsonl &&
	python3 -c "
h=0xcbf29ce484222325
for c in b\"s7\": h=((h^c)*0x100000001b3)%2**64
print(h%3)" >want &&
	for s in 0 1 2; do if grep -q "\"target\":\"s7\"" shard$s.jsonl; then echo $s; fi; done >got &&
	test_cmp want got &&
	sort -r stargets >reordered &&
	cairn-apply fleet b.tar.gz --env dev $KEY --targets reordered --shard 1/3 --result re1.jsonl >/dev/null &&
	sed "s/.*\"target\":\"\([^\"]*\)\".*/\1/" shard1.jsonl | sort >a &&
	sed "s/.*\"target\":\"\([^\"]*\)\".*/\1/" re1.jsonl | sort >b &&
	test_cmp a b
'

test_expect_success 'fleet-merge joins the shards into one result; the last line of a target wins' '
	cairn-apply fleet-merge shard0.jsonl shard1.jsonl shard2.jsonl -o merged.jsonl 2>err &&
	test_line_count = 40 merged.jsonl &&
	test_grep "40 targets: 40 applied or current, 0 failed" err &&
	cairn-apply fleet-merge rc.jsonl >m2 2>err &&
	test_line_count = 6 m2 &&
	test "$(outcome m2 c1)" = applied &&
	echo "{not json" >broken.jsonl &&
	test_expect_code 2 cairn-apply fleet-merge merged.jsonl broken.jsonl 2>err &&
	test_grep "broken.jsonl:1: not a fleet result line" err &&
	printf "{\"target\":\"x\",\"outcome\":\"failed\",\"exit\":1}\n" >one.jsonl &&
	test_expect_code 1 cairn-apply fleet-merge one.jsonl >/dev/null 2>err &&
	test_grep "1 failed or not started" err
'

test_expect_success 'a target whose database belongs to another environment is refused and counted failed' '
	cat >cairn-apply.yaml <<-EOF &&
	defaults:
	  builders: [ci.pub]
	environments:
	  dev:
	    targets:
	      - "i1 sqlite:i1.db"
	      - "i2 sqlite:i2.db"
	      - "i3 sqlite:i3.db"
	  prod:
	    database: { dsn: "sqlite:prod.db" }
	EOF
	cairn-apply apply b.tar.gz --env prod --db sqlite:i2.db >/dev/null &&
	sqlite3 i2.db "SELECT count(*) FROM cairn_audit" >before &&
	test_expect_code 1 cairn-apply fleet b.tar.gz --env dev --result ri.jsonl --log-format text >out 2>err &&
	test "$(outcome ri.jsonl i1)" = applied &&
	test "$(outcome ri.jsonl i3)" = applied &&
	test "$(outcome ri.jsonl i2)" = failed &&
	test_grep "\"target\":\"i2\".*\"exit\":3,.*belongs to environment .prod. (project .shop.), not .dev." ri.jsonl &&
	sqlite3 i2.db "SELECT count(*) FROM cairn_audit" >after &&
	test_cmp before after
'

test_expect_success 'a bad line of the config s targets: list names the config and its line' '
	cat >bad.yaml <<-EOF &&
	defaults:
	  builders: [ci.pub]
	environments:
	  dev:
	    targets:
	      - "ok sqlite:ok.db"
	      - "a b c"
	EOF
	test_expect_code 2 cairn-apply fleet b.tar.gz --env dev --config bad.yaml 2>err &&
	test_grep "bad.yaml:7: " err &&
	test ! -e ok.db
'

test_expect_success '--receipt-key: each target its own receipt, in its own copy of the bundle' '
	cairn keygen --no-passphrase applier >/dev/null 2>&1 &&
	printf "x1 sqlite:x1.db\nx2 sqlite:x2.db\n" >xtargets &&
	rm -f cairn-apply.yaml &&
	cairn-apply fleet b.tar.gz --env dev $KEY --targets xtargets --receipt-key applier.key \
		--receipt-dir rc >/dev/null 2>&1 &&
	for x in x1 x2; do
		cairn inspect rc/$x.tar.gz --format json >i.json &&
		python3 -c "import json,sys; r=[s for s in json.load(open(\"i.json\"))[\"statements\"] if s[\"type\"]==\"receipt\"]; assert len(r)==1 and r[0][\"database\"]==\"$x.db\" and r[0][\"environment\"]==\"dev\", r" || return 1
	done &&
	cairn inspect b.tar.gz >i && test_grep ! receipt i &&
	test_expect_code 2 cairn-apply fleet b.tar.gz --env dev $KEY --targets xtargets --receipt-key applier.key 2>err &&
	test_grep "receipt-key and --receipt-dir go together" err
'

test_expect_success '--trail-dir: the audit trail of each target names it and its database; report shows each database' '
	printf "y1 sqlite:y1.db\ny2 sqlite:y2.db\ny3 sqlite:y3.db\n" >ytargets &&
	sqlite3 y3.db "CREATE TABLE t_0002_orders (x int)" &&
	test_expect_code 1 cairn-apply fleet b.tar.gz --env dev $KEY --targets ytargets --parallel 3 \
		--trail-dir tr --result ry.jsonl >/dev/null 2>&1 &&
	for y in y1 y2 y3; do
		sqlite3 $y.db "SELECT detail FROM cairn_audit WHERE action = '"'"'identity'"'"'" |
			sed -n "s/.*; id=\([0-9a-f]*\).*/\1/p" >$y.id &&
		test "$(wc -c <$y.id)" = 33 &&
		python3 -c "import json,sys; t=json.load(open(\"tr/$y.json\")); assert t[\"target\"]==\"$y\" and t[\"database\"]==\"$y.db\" and t[\"database_id\"]==open(\"$y.id\").read().strip() and t[\"environment\"]==\"dev\", t" || return 1
	done &&
	test "$(sort -u y1.id y2.id y3.id | wc -l)" = 3 &&
	cairn-apply report ry.jsonl tr/y3.json tr/y1.json tr/y2.json --format json >rep.json &&
	python3 - rep.json <<-\EOF
	import json, sys
	r = json.load(open(sys.argv[1]))
	t = r["trails"]
	assert [x["target"] for x in t] == ["y1", "y2", "y3"], t
	assert [(h["applied"], h["failed"], h["to"]) for h in t[0]["hops"]] == [(2, 0, "0002")], t[0]
	assert [(h["applied"], h["failed"]) for h in t[2]["hops"]] == [(1, 1)], t[2]
	assert r["fleets"][0]["failed_targets"][0]["target"] == "y3", r["fleets"]
	EOF
'

test_expect_success 'setup: a slow migration' '
	apply_mig shop 0003_slow "CREATE TABLE t_slow AS WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 300000000) SELECT max(x) AS m FROM c;" "DROP TABLE t_slow;" &&
	apply_build shop "$TRASH_DIRECTORY/slow.tar.gz" &&
	for i in 0 1 2 3 4 5; do echo "k$i sqlite:k$i.db"; done >ktargets
'

test_expect_success 'SIGTERM during a fleet: running targets roll back, the rest never start, each database consistent' '
	rm -f cairn-apply.yaml &&
	fleet_signal_started TERM slow.tar.gz &&
	test "$(cat fleet.rc)" = 143 &&
	test "$(outcome rk.jsonl k0)" = interrupted &&
	test "$(outcome rk.jsonl k1)" = interrupted &&
	test "$(outcome rk.jsonl k5)" = not-started &&
	test_grep "\"target\":\"k0\".*interrupted by SIGTERM" rk.jsonl &&
	for i in 0 1; do
		printf "0001|applied\n0002|applied\n" >want && books k$i.db >got && test_cmp want got &&
		test "$(sqlite3 k$i.db "SELECT count(*) FROM sqlite_master WHERE name = '"'"'t_slow'"'"'")" = 0 &&
		cairn-apply history --db sqlite:k$i.db --verify >out &&
		test_grep intact out || return 1
	done &&
	for i in 2 3 4 5; do test ! -e k$i.db || return 1; done &&
	test_grep "\"event\":\"fleet-end\".*\"stopped\":\"the fleet was interrupted\"" kevents
'

# --parallel's default for SQLite targets: twice the CPUs the fleet may run
# on (the targets wait on their syncs more than they compute), at most 16.
test_expect_success 'without --parallel a SQLite fleet runs twice its CPUs at once, at most 16' '
	for i in 0 1 2 3 4; do echo "p$i sqlite:p$i.db"; done >ptargets &&
	taskset -c 0 cairn-apply fleet b.tar.gz --env dev $KEY --targets ptargets \
		--result rp.jsonl --log-format json >events &&
	test_grep "\"event\":\"fleet-start\".*\"targets\":5,\"parallel\":2}" events &&
	n=$(nproc) && want=$((2 * n)) && if test $want -gt 16; then want=16; fi &&
	rm -f p?.db rp.jsonl &&
	cairn-apply fleet b.tar.gz --env dev $KEY --targets ptargets --result rp.jsonl \
		--log-format json >events &&
	test_grep "\"event\":\"fleet-start\".*\"parallel\":$want}" events &&
	for i in 0 1 2 3 4; do
		printf "0001|applied\n0002|applied\n" >want && books p$i.db >got && test_cmp want got || return 1
	done &&
	cairn-apply fleet b.tar.gz --env dev $KEY --targets ptargets --parallel 1 --log-format json >events &&
	test_grep "\"event\":\"fleet-start\".*\"parallel\":1}" events
'

test_done
