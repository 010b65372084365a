#!/bin/sh
test_description='rollback callbacks inside the bundle (issue #20): before_rollback, before_each_rollback, after_each_rollback, after_rollback and on_error around rollback --bundle on SQLite'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"

sq="'"
log() {
	echo "CREATE TABLE IF NOT EXISTS cb_log (what text); INSERT INTO cb_log VALUES ($sq$1$sq);"
}

test_expect_success 'setup: two migrations and the four rollback callbacks, applied' '
	apply_project p &&
	apply_table p 0001_users &&
	apply_table p 0002_orders &&
	mkdir -p p/migrations/callbacks &&
	for cb in before_rollback before_each_rollback after_each_rollback after_rollback on_error
	do
		log $cb >p/migrations/callbacks/$cb.sql || return 1
	done &&
	apply_build p "$TRASH_DIRECTORY/v1.tar.gz" &&
	tar xzf v1.tar.gz -O --wildcards "*/manifest.yaml" >m1 &&
	test_grep "^format: cairn-bundle/2$" m1 &&
	test_grep "^  - name: before_each_rollback.sql$" m1 &&
	cairn inspect v1.tar.gz >insp &&
	test_grep "^  after_each_rollback.sql  sha256:" insp &&
	apply_config "" &&
	cairn-apply apply v1.tar.gz --env dev >out &&
	q db "SELECT count(*) FROM sqlite_master WHERE name = ${sq}cb_log$sq" >n &&
	echo 0 >want && test_cmp want n
'

test_expect_success 'plan shows the rollback callbacks and that only rollback --bundle runs them' '
	cairn-apply plan v1.tar.gz --env dev >plan &&
	test_grep "^callback before_rollback: migrations/callbacks/before_rollback.sql (sha256:[0-9a-f]*) by rollback --bundle: once, before the first down script" plan &&
	test_grep "^callback after_each_rollback: .* by rollback --bundle: in each step.s transaction, after its down script" plan &&
	test_grep ! "before_rollback.*nothing is pending" plan
'

test_expect_success 'rollback --bundle runs them in order, each in the audit chain' '
	cairn-apply rollback --env dev --last 2 --bundle v1.tar.gz >out &&
	q db "SELECT what FROM cb_log ORDER BY rowid" >log &&
	cat >want <<-\EOF &&
	before_rollback
	before_each_rollback
	after_each_rollback
	before_each_rollback
	after_each_rollback
	after_rollback
	EOF
	test_cmp want log &&
	q db "SELECT count(*) FROM sqlite_master WHERE name LIKE ${sq}t_000%$sq" >n &&
	echo 0 >want && test_cmp want n &&
	q db "SELECT action, version FROM cairn_audit WHERE seq > (SELECT max(seq) FROM cairn_audit WHERE action = ${sq}apply$sq) AND action <> ${sq}identity$sq ORDER BY seq" >rows &&
	printf "callback|\nrollback|0002\nrollback|0001\ncallback|\n" >want &&
	test_cmp want rows &&
	sum=$(sha256sum <p/migrations/callbacks/after_each_rollback.sql | cut -d" " -f1) &&
	q db "SELECT count(*) FROM cairn_audit WHERE action = ${sq}rollback$sq AND detail LIKE $sq%callback=before_each_rollback.sql; sha256=%; outcome=ok; callback=after_each_rollback.sql; sha256=$sum; outcome=ok%$sq" >n &&
	echo 2 >want && test_cmp want n &&
	q db "SELECT detail FROM cairn_audit WHERE action = ${sq}callback$sq ORDER BY seq" >cb &&
	test_grep "^callback=before_rollback.sql; sha256=[0-9a-f]*; outcome=ok" cb &&
	test_grep "^callback=after_rollback.sql; sha256=[0-9a-f]*; outcome=ok" cb &&
	cairn-apply history --db sqlite:db --verify >out
'

test_expect_success 'rollback without --bundle runs none (the books carry no callbacks)' '
	cairn-apply apply v1.tar.gz --env dev >out &&
	q db "SELECT count(*) FROM cb_log" >n.before &&
	cairn-apply rollback --env dev --last 1 >out &&
	q db "SELECT count(*) FROM cb_log" >n.after &&
	test_cmp n.before n.after &&
	q db "SELECT state FROM cairn_migrations WHERE version = ${sq}0002$sq" >st &&
	echo rolled_back >want && test_cmp want st &&
	cairn-apply apply v1.tar.gz --env dev >out
'

test_expect_success 'a failing before_rollback stops the rollback: tables, books unchanged; on_error runs' '
	echo "INSERT INTO nowhere VALUES (1);" >p/migrations/callbacks/before_rollback.sql &&
	apply_build p "$TRASH_DIRECTORY/v2.tar.gz" &&
	q db "SELECT version, state FROM cairn_migrations ORDER BY version" >books.before &&
	q db "SELECT name FROM sqlite_master WHERE type = ${sq}table$sq ORDER BY name" >tables.before &&
	test_expect_code 1 cairn-apply rollback --env dev --last 1 --bundle v2.tar.gz >out 2>err &&
	test_grep "callback before_rollback (sha256:[0-9a-f]*) failed: migrations/callbacks/before_rollback.sql:1: .*nowhere.*; nothing was rolled back" err &&
	q db "SELECT version, state FROM cairn_migrations ORDER BY version" >books.after &&
	test_cmp books.before books.after &&
	q db "SELECT name FROM sqlite_master WHERE type = ${sq}table$sq ORDER BY name" >tables.after &&
	test_cmp tables.before tables.after &&
	test_grep "^t_0002_orders$" tables.after &&
	q db "SELECT what FROM cb_log ORDER BY rowid DESC LIMIT 1" >last &&
	echo on_error >want && test_cmp want last &&
	q db "SELECT detail FROM cairn_audit WHERE action = ${sq}callback$sq ORDER BY seq DESC LIMIT 2" >cb &&
	test_grep "^callback=before_rollback.sql; sha256=[0-9a-f]*; outcome=failed: " cb &&
	test_grep "^callback=on_error.sql; sha256=[0-9a-f]*; outcome=ok" cb &&
	cairn-apply history --db sqlite:db --verify >out
'

test_expect_success 'a failing after_each_rollback rolls that step back: the table is back, the books say applied' '
	log before_rollback >p/migrations/callbacks/before_rollback.sql &&
	echo "INSERT INTO nowhere VALUES (2);" >p/migrations/callbacks/after_each_rollback.sql &&
	apply_build p "$TRASH_DIRECTORY/v3.tar.gz" &&
	q db "SELECT version, state FROM cairn_migrations ORDER BY version" >books.before &&
	test_expect_code 1 cairn-apply rollback --env dev --last 1 --bundle v3.tar.gz >out 2>err &&
	test_grep "rollback of 0002_orders failed: callback after_each_rollback (sha256:[0-9a-f]*) failed: migrations/callbacks/after_each_rollback.sql:1: .*nowhere" err &&
	q db "SELECT version, state FROM cairn_migrations ORDER BY version" >books.after &&
	test_cmp books.before books.after &&
	q db "SELECT count(*) FROM sqlite_master WHERE name = ${sq}t_0002_orders$sq" >n &&
	echo 1 >want && test_cmp want n &&
	q db "SELECT what FROM cb_log ORDER BY rowid DESC LIMIT 2" >last &&
	printf "on_error\nbefore_rollback\n" >want && test_cmp want last &&
	cairn-apply history --db sqlite:db --verify >out
'


test_done
