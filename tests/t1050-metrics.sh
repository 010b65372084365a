#!/bin/sh
test_description='apply and preflight --metrics-file: Prometheus textfiles that promtool accepts, counters carried from run to run'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"

# metric FILE SAMPLE: the value of the sample whose name and labels are
# SAMPLE (as written, e.g. cairn_apply_pending_migrations{env="dev"}).
metric() {
	awk -v k="$2" 'substr($0, 1, length(k) + 1) == k " " { print substr($0, length(k) + 2) }' "$1"
}

# applied DB: applied migrations, from the books
applied() {
	q "$1" "SELECT count(*) FROM cairn_migrations WHERE state = 'applied'"
}

test_expect_success 'setup: v1 (a table), v2 (a batch migration and one more), v3 (a failing one)' '
	apply_project p &&
	apply_mig p 0001_items "CREATE TABLE items (id integer primary key, price integer, cents integer);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000)
INSERT INTO items (id, price) SELECT i, i % 97 FROM n;" "DROP TABLE items;" &&
	apply_build p "$TRASH_DIRECTORY/v1.tar.gz" &&
	apply_mig p 0002_backfill "UPDATE items SET cents = price * 100
WHERE id IN (SELECT id FROM items WHERE cents IS NULL LIMIT 300);" - \
		"kind: batch
irreversible: true" &&
	apply_table p 0003_orders &&
	apply_build p "$TRASH_DIRECTORY/v2.tar.gz" &&
	apply_mig p 0004_bad "INSERT INTO no_such_table VALUES (1);" "SELECT 1;" &&
	apply_build p "$TRASH_DIRECTORY/v3.tar.gz" &&
	echo "-- edited after release" >>p/migrations/0001_items/up.sql &&
	apply_build p "$TRASH_DIRECTORY/drift.tar.gz"
'

test_expect_success 'a first run: one success, the migrations the books hold, nothing pending' '
	cairn-apply apply v1.tar.gz --env dev --db sqlite:db $KEY --metrics-file m.prom >out &&
	promtool check metrics <m.prom &&
	test "$(metric m.prom "cairn_apply_runs_total{env=\"dev\",outcome=\"success\"}")" = 1 &&
	test "$(metric m.prom "cairn_apply_runs_total{env=\"dev\",outcome=\"failed\"}")" = 0 &&
	test "$(metric m.prom "cairn_apply_migrations_applied_total{env=\"dev\"}")" = "$(applied db)" &&
	test "$(metric m.prom "cairn_apply_pending_migrations{env=\"dev\"}")" = 0 &&
	test "$(metric m.prom "cairn_apply_drifted_migrations{env=\"dev\"}")" = 0 &&
	test "$(metric m.prom "cairn_apply_last_run_success{env=\"dev\"}")" = 1 &&
	test "$(metric m.prom "cairn_apply_migration_duration_seconds_count{env=\"dev\"}")" = 1 &&
	test "$(metric m.prom "cairn_apply_migration_duration_seconds_bucket{env=\"dev\",le=\"+Inf\"}")" = 1 &&
	last=$(metric m.prom "cairn_apply_last_run_timestamp_seconds{env=\"dev\"}") &&
	test "$(metric m.prom "cairn_apply_last_success_timestamp_seconds{env=\"dev\"}")" = "$last" &&
	now=$(date +%s) && test $((now - last)) -le 60 &&
	metric m.prom "cairn_apply_lock_wait_seconds{env=\"dev\"}" >wait && test -s wait &&
	id=$(q db "SELECT bundle_id FROM cairn_migrations WHERE version = '"'"'0001'"'"'") &&
	test_grep "^cairn_apply_last_run_info{env=\"dev\",bundle=\"$id\",outcome=\"success\",from_version=\"\",to_version=\"0001\"} 1$" m.prom &&
	! grep pending_since m.prom
'

test_expect_success '--to: the batch migration reports its rows, 0003 stays pending, counters carry on' '
	CAIRN_METRICS_FILE=m.prom cairn-apply apply v2.tar.gz --env dev --db sqlite:db $KEY --to 0002 >out &&
	promtool check metrics <m.prom &&
	test "$(metric m.prom "cairn_apply_runs_total{env=\"dev\",outcome=\"success\"}")" = 2 &&
	test "$(applied db)" = 2 &&
	test "$(metric m.prom "cairn_apply_migrations_applied_total{env=\"dev\"}")" = 2 &&
	test "$(metric m.prom "cairn_apply_migration_duration_seconds_count{env=\"dev\"}")" = 2 &&
	rows=$(q db "SELECT rows_changed FROM cairn_migrations WHERE version = '"'"'0002'"'"'") &&
	test "$rows" = 1000 &&
	test "$(metric m.prom "cairn_apply_migration_rows_changed{env=\"dev\",version=\"0002\",migration=\"0002_backfill\"}")" = "$rows" &&
	test "$(metric m.prom "cairn_apply_pending_migrations{env=\"dev\"}")" = 1 &&
	since=$(metric m.prom "cairn_apply_pending_since_timestamp_seconds{env=\"dev\"}") &&
	test "$since" = "$(metric m.prom "cairn_apply_last_run_timestamp_seconds{env=\"dev\"}")" &&
	echo "$since" >since
'

test_expect_success 'a failed run: counted as failed, the last success kept, pending since kept' '
	success=$(metric m.prom "cairn_apply_last_success_timestamp_seconds{env=\"dev\"}") &&
	sleep 1 &&
	test_expect_code 1 cairn-apply apply v3.tar.gz --env dev --db sqlite:db $KEY --metrics-file m.prom >out 2>err &&
	promtool check metrics <m.prom &&
	test "$(applied db)" = 3 &&
	q db "SELECT count(*) FROM cairn_migrations WHERE version = '"'"'0004'"'"'" >n && echo 0 >want && test_cmp want n &&
	test "$(metric m.prom "cairn_apply_runs_total{env=\"dev\",outcome=\"success\"}")" = 2 &&
	test "$(metric m.prom "cairn_apply_runs_total{env=\"dev\",outcome=\"failed\"}")" = 1 &&
	test "$(metric m.prom "cairn_apply_migrations_applied_total{env=\"dev\"}")" = 3 &&
	test "$(metric m.prom "cairn_apply_last_run_success{env=\"dev\"}")" = 0 &&
	test "$(metric m.prom "cairn_apply_last_success_timestamp_seconds{env=\"dev\"}")" = "$success" &&
	test "$(metric m.prom "cairn_apply_pending_migrations{env=\"dev\"}")" = 1 &&
	test "$(metric m.prom "cairn_apply_pending_since_timestamp_seconds{env=\"dev\"}")" = "$(cat since)"
'

test_expect_success 'a run that waits for the lock and does not get it: locked, the wait measured' '
	lock_hold db 30 &&
	test_expect_code 4 cairn-apply apply v3.tar.gz --env dev --db sqlite:db $KEY --lock-timeout 1s \
		--metrics-file m.prom >out 2>err &&
	lock_release &&
	promtool check metrics <m.prom &&
	test "$(metric m.prom "cairn_apply_runs_total{env=\"dev\",outcome=\"locked\"}")" = 1 &&
	wait=$(metric m.prom "cairn_apply_lock_wait_seconds{env=\"dev\"}") &&
	awk -v w="$wait" "BEGIN { exit !(w >= 0.9 && w < 10) }"
'

test_expect_success 'a refused bundle: refused, no lock asked for, the rest carried' '
	cairn keygen --no-passphrase other >/dev/null 2>&1 &&
	test_expect_code 3 cairn-apply apply v3.tar.gz --env dev --db sqlite:db --key other.pub \
		--metrics-file m.prom >out 2>err &&
	promtool check metrics <m.prom &&
	test "$(metric m.prom "cairn_apply_runs_total{env=\"dev\",outcome=\"refused\"}")" = 1 &&
	test "$(metric m.prom "cairn_apply_runs_total{env=\"dev\",outcome=\"success\"}")" = 2 &&
	! grep "^cairn_apply_lock_wait_seconds" m.prom &&
	test "$(metric m.prom "cairn_apply_pending_migrations{env=\"dev\"}")" = 1
'

test_expect_success 'drift: needs an operator, the drifted migrations counted' '
	cp db drift.db &&
	test_expect_code 5 cairn-apply apply drift.tar.gz --env dev --db sqlite:drift.db $KEY \
		--metrics-file d.prom >out 2>err &&
	test_grep "drift: 0001_items was applied with checksum" err &&
	promtool check metrics <d.prom &&
	test "$(metric d.prom "cairn_apply_runs_total{env=\"dev\",outcome=\"needs-operator\"}")" = 1 &&
	test "$(metric d.prom "cairn_apply_drifted_migrations{env=\"dev\"}")" = 1 &&
	test "$(applied drift.db)" = "$(applied db)"
'

test_expect_success 'a metrics file that cannot be written: a warning, the exit code of the run' '
	cairn-apply apply v2.tar.gz --env dev --db sqlite:db $KEY --to 0002 \
		--metrics-file no/such/dir/m.prom >out 2>err &&
	test_grep "warning: cannot write the metrics to .no/such/dir/m.prom." err
'

test_expect_success 'preflight --metrics-file: each check passed or not, the verdict' '
	cairn-apply preflight v2.tar.gz --env dev --db sqlite:db $KEY --metrics-file p.prom >out &&
	promtool check metrics <p.prom &&
	test "$(metric p.prom "cairn_preflight_passed{env=\"dev\"}")" = 1 &&
	test "$(metric p.prom "cairn_preflight_check_passed{env=\"dev\",check=\"lock\"}")" = 1 &&
	lock_hold db 30 &&
	test_expect_code 4 cairn-apply preflight v2.tar.gz --env dev --db sqlite:db $KEY --metrics-file p.prom >out &&
	lock_release &&
	promtool check metrics <p.prom &&
	test "$(metric p.prom "cairn_preflight_passed{env=\"dev\"}")" = 0 &&
	test "$(metric p.prom "cairn_preflight_check_passed{env=\"dev\",check=\"lock\"}")" = 0 &&
	test "$(metric p.prom "cairn_preflight_check_passed{env=\"dev\",check=\"bundle\"}")" = 1
'

test_expect_success 'status --format prometheus: the counts of status --format json, which promtool accepts' '
	cairn-apply status v3.tar.gz --env dev --db sqlite:db $KEY --format prometheus >s.prom &&
	promtool check metrics <s.prom &&
	cairn-apply status v3.tar.gz --env dev --db sqlite:db $KEY --format json >s.json &&
	python3 -c "
import json, re
summary = json.load(open(\"s.json\"))[\"summary\"]
got = dict(re.findall(r\"^cairn_status_migrations\\{env=\\\"dev\\\",state=\\\"(\\w+)\\\"\\} (\\d+)$\", open(\"s.prom\").read(), re.M))
assert len(got) == 10, got
for state, n in got.items():
    assert summary[state] == int(n), (state, n, summary)
assert summary[\"applied\"] == 3 and summary[\"apply_failed\"] == 1, summary
" &&
	test "$(metric s.prom "cairn_status_needs_operator{env=\"dev\"}")" = 0 &&
	test_expect_code 5 cairn-apply status drift.tar.gz --env dev --db sqlite:drift.db $KEY \
		--format prometheus >d2.prom 2>err &&
	test ! -s err &&
	test "$(metric d2.prom "cairn_status_migrations{env=\"dev\",state=\"drifted\"}")" = 1 &&
	test "$(metric d2.prom "cairn_status_needs_operator{env=\"dev\"}")" = 1 &&
	cairn-apply status --db sqlite:db --format prometheus >n.prom &&
	promtool check metrics <n.prom &&
	test "$(metric n.prom "cairn_status_migrations{env=\"\",state=\"applied\"}")" = 3 &&
	! grep "state=\"pending\"" n.prom
'

test_expect_success 'the alert rules: promtool checks and tests them; docs/operations.md shows the same file' '
	cp "$SRC_DIR/examples/prometheus/cairn-alerts.yml" "$SRC_DIR/examples/prometheus/cairn-alerts.test.yml" . &&
	promtool check rules cairn-alerts.yml &&
	promtool test rules cairn-alerts.test.yml &&
	sed -n "/^### Alert rules/,/^## /p" "$SRC_DIR/docs/operations.md" |
		sed -n "/^\`\`\`yaml/,/^\`\`\`\$/p" | sed "1d;\$d" >shown &&
	test_cmp cairn-alerts.yml shown
'

test_expect_success 'every metric the alert rules name is one cairn-apply writes' '
	echo "f0 sqlite:f0.db" >targets &&
	cairn-apply fleet v1.tar.gz --env dev $KEY --targets targets --metrics f.prom >/dev/null 2>&1 &&
	cat m.prom d.prom p.prom f.prom | sed -n "s/^\(cairn_[a-z_]*\)[{ ].*/\1/p" | sort -u >written &&
	grep -o "cairn_[a-z_]*" cairn-alerts.yml | sort -u >named &&
	test_line_count -ge 5 named &&
	comm -23 named written >unknown &&
	test_line_count = 0 unknown
'

test_expect_success '--metrics-file a device node (as root: a /dev/null of its own) is written through, never replaced' '
	if test "$(id -u)" = 0
	then
		mknod mnull c 1 3 &&
		cairn-apply apply v1.tar.gz --env dev --db sqlite:db $KEY --metrics-file mnull >out &&
		test -c mnull
	fi &&
	ln -s m.prom mlink &&
	cairn-apply apply v1.tar.gz --env dev --db sqlite:db $KEY --metrics-file mlink >out &&
	test -L mlink &&
	test_grep "^cairn_apply_runs_total" m.prom
'

test_done
