#!/bin/sh
test_description='apply and preflight --metrics-file on PostgreSQL: the counts match the catalog and the books, the lock wait is measured'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"
. "$TEST_DIRECTORY/lib-pg.sh"

pg_start_app

metric() {
	awk -v k="$2" 'substr($0, 1, length(k) + 1) == k " " { print substr($0, length(k) + 2) }' "$1"
}

books() {
	pg_sql -d app -c "select $1 from cairn.cairn_migrations $2"
}

test_expect_success 'setup: a table with rows, a batch migration, a failing one' '
	pg_fresh_db app &&
	pg_project p &&
	apply_mig p 0001_items "CREATE TABLE items (id int primary key, price int, cents int);
INSERT INTO items (id, price) SELECT i, i % 97 FROM generate_series(1, 500) i;" "DROP TABLE items;" &&
	apply_mig p 0002_backfill "UPDATE items SET cents = price * 100
WHERE id IN (SELECT id FROM items WHERE cents IS NULL LIMIT 200);" - "kind: batch
irreversible: true" &&
	apply_build p "$TRASH_DIRECTORY/v1.tar.gz" &&
	apply_mig p 0003_bad "INSERT INTO no_such_table VALUES (1);" "SELECT 1;" &&
	apply_build p "$TRASH_DIRECTORY/v2.tar.gz"
'

test_expect_success 'a successful run: the counts are the books'"'"', the batch rows the catalog'"'"'s' '
	cairn-apply apply v1.tar.gz --env dev --db "$DB" $KEY --metrics-file m.prom >out &&
	promtool check metrics <m.prom &&
	test "$(metric m.prom "cairn_apply_runs_total{env=\"dev\",outcome=\"success\"}")" = 1 &&
	test "$(metric m.prom "cairn_apply_migrations_applied_total{env=\"dev\"}")" = \
		"$(books "count(*)" "where state = '"'"'applied'"'"'")" &&
	test "$(pg_sql -d app -c "select count(*) from items where cents is not null")" = 500 &&
	test "$(metric m.prom "cairn_apply_migration_rows_changed{env=\"dev\",version=\"0002\",migration=\"0002_backfill\"}")" = \
		"$(books rows_changed "where version = '"'"'0002'"'"'")" &&
	test "$(metric m.prom "cairn_apply_pending_migrations{env=\"dev\"}")" = 0 &&
	test "$(metric m.prom "cairn_apply_drifted_migrations{env=\"dev\"}")" = 0
'

test_expect_success 'a run that waits for another runner: the wait is measured, then it fails' '
	{ "$PD" lock "$DB" 0 1500 >holder.out & } &&
	for i in $(seq 1 50); do grep -q locked holder.out && break; sleep 0.1; done &&
	test_expect_code 1 cairn-apply apply v2.tar.gz --env dev --db "$DB" $KEY --lock-timeout 20s \
		--metrics-file m.prom >out 2>err &&
	wait &&
	promtool check metrics <m.prom &&
	test "$(books "count(*)" "where version = '"'"'0003'"'"'")" = 0 &&
	test "$(metric m.prom "cairn_apply_runs_total{env=\"dev\",outcome=\"failed\"}")" = 1 &&
	test "$(metric m.prom "cairn_apply_runs_total{env=\"dev\",outcome=\"success\"}")" = 1 &&
	test "$(metric m.prom "cairn_apply_pending_migrations{env=\"dev\"}")" = 1 &&
	wait=$(metric m.prom "cairn_apply_lock_wait_seconds{env=\"dev\"}") &&
	awk -v w="$wait" "BEGIN { exit !(w >= 0.5 && w < 20) }"
'

test_expect_success 'preflight --metrics-file: a session holding a lock on a touched table fails blockers' '
	cat >hold.sql <<-\EOF &&
	BEGIN;
	LOCK TABLE items IN ACCESS SHARE MODE;
	SELECT pg_sleep(30);
	EOF
	{ pg_sql -d app -f hold.sql >/dev/null 2>&1 & } &&
	holder=$! &&
	for i in $(seq 1 100); do
		test "$(pg_sql -d app -c "select count(*) from pg_locks l join pg_class c on c.oid = l.relation where c.relname = '"'"'items'"'"' and l.pid <> pg_backend_pid()")" -ge 1 && break
		sleep 0.1
	done &&
	apply_mig p 0004_alter "ALTER TABLE items ADD COLUMN note text;" "ALTER TABLE items DROP COLUMN note;" &&
	git -C p rm -rq migrations/0003_bad &&
	apply_build p "$TRASH_DIRECTORY/v3.tar.gz" &&
	test_expect_code 1 cairn-apply preflight v3.tar.gz --env dev --db "$DB" $KEY --metrics-file p.prom >out &&
	kill $holder && wait &&
	promtool check metrics <p.prom &&
	test "$(metric p.prom "cairn_preflight_passed{env=\"dev\"}")" = 0 &&
	test "$(metric p.prom "cairn_preflight_check_passed{env=\"dev\",check=\"blockers\"}")" = 0 &&
	test "$(metric p.prom "cairn_preflight_check_passed{env=\"dev\",check=\"privileges\"}")" = 1
'

test_done
