#!/bin/sh
test_description='the books attacks of issue #15 on PostgreSQL: checksum, environment and bundle id edited by SQL, a recomputed chain, newest rows cut, both tables dropped'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"
. "$TEST_DIRECTORY/lib-pg.sh"

pg_start_app

# the books and the schema as the catalog has them
state() {
	bk "select version || '|' || state || '|' || checksum || '|' || environment || '|' || bundle_id from cairn.cairn_migrations order by version" &&
	bk "select count(*) || '|' || max(hash) from cairn.cairn_audit" &&
	bk "select tablename from pg_tables where tablename like 't\_%' order by tablename"
}

rechain() {
	pg_rechain app
}

test_expect_success 'setup: three migrations applied as prod, with a checkpoint; a saved copy' '
	pg_fresh_db app &&
	pg_project p &&
	apply_table p 0001_a &&
	apply_table p 0002_b &&
	apply_table p 0003_c &&
	apply_build p "$TRASH_DIRECTORY/b.tar.gz" &&
	cairn keygen --no-passphrase host >/dev/null 2>&1 &&
	cairn-apply apply b.tar.gz --env prod --db "$DB" $KEY --checkpoint cp.log --checkpoint-key host.key >out 2>err &&
	test_grep "applied 3 migrations" out &&
	pg_sql -d postgres -c "CREATE DATABASE good TEMPLATE app" &&
	cairn-apply history --db "$DB" --verify --checkpoint cp.log >out
'

# restore: app from the saved copy
restore() {
	pg_sql -d postgres -c "DROP DATABASE app WITH (FORCE)" -c "CREATE DATABASE app TEMPLATE good"
}

for field in checksum environment bundle_id; do
	test_expect_success "a row's $field edited by SQL: apply and rollback stop (exit 5) naming it, nothing runs" '
		restore &&
		case $field in
		checksum) fact="checksum"; val="sha256:0000" ;;
		environment) fact="env"; val="dev" ;;
		bundle_id) fact="bundle"; val="sha256:1111" ;;
		esac &&
		bk "update cairn.cairn_migrations set $field = '"'"'$val'"'"' where version = '"'"'0002'"'"'" &&
		state >before &&
		test_expect_code 5 cairn-apply apply b.tar.gz --env prod --db "$DB" $KEY 2>err &&
		test_grep "the books were changed outside cairn-apply: migration 0002: $fact is .$val., the audit chain recorded" err &&
		test_expect_code 5 cairn-apply rollback --db "$DB" --env prod --last 1 2>err &&
		test_grep "migration 0002: $fact is .$val." err &&
		test_expect_code 1 cairn-apply history --db "$DB" --verify 2>err &&
		test_grep "migration 0002: $fact is" err &&
		state >after &&
		test_cmp before after &&
		grep "^t_0003_c$" after
	'
done

test_expect_success 'an edit hidden by a chain recomputed with the unkeyed hash: the chain passes, the checkpoint does not' '
	restore &&
	bk "update cairn.cairn_migrations set checksum = '"'"'sha256:0000'"'"' where version = '"'"'0002'"'"'" &&
	bk "update cairn.cairn_audit set detail = regexp_replace(detail, '"'"'checksum=[^;]*'"'"', '"'"'checksum=sha256:0000'"'"') where action = '"'"'apply'"'"' and version = '"'"'0002'"'"'" &&
	rechain &&
	cairn-apply history --db "$DB" --verify >out &&
	test_grep "audit chain intact" out &&
	test_expect_code 1 cairn-apply history --db "$DB" --verify --checkpoint cp.log 2>err &&
	test_grep "checkpoint mismatch: audit row [0-9]* hashes to [0-9a-f]*..., but the checkpoint of .* recorded [0-9a-f]*...: the chain was rewritten" err
'

test_expect_success 'the newest audit rows deleted with the rows they anchor: found by the checkpoint' '
	restore &&
	bk "delete from cairn.cairn_migrations where version in ('"'"'0002'"'"', '"'"'0003'"'"'); delete from cairn.cairn_audit where seq > (select max(seq) - 2 from cairn.cairn_audit)" &&
	cairn-apply history --db "$DB" --verify >out &&
	test_grep "audit chain intact" out &&
	test_expect_code 1 cairn-apply history --db "$DB" --verify --checkpoint cp.log 2>err &&
	test_grep "its newest rows were deleted" err
'

test_expect_success 'both tables dropped: found by the checkpoint, and history recreates nothing' '
	restore &&
	bk "drop table cairn.cairn_audit; drop table cairn.cairn_migrations" &&
	test_expect_code 1 cairn-apply history --db "$DB" --verify --checkpoint cp.log 2>err &&
	test_grep "checkpoint mismatch: the audit chain is empty (the tables were dropped or emptied)" err &&
	bk "select count(*) from pg_tables where schemaname = '"'"'cairn'"'"'" >n &&
	echo 0 >want && test_cmp want n
'

test_expect_success 'a down script swapped, its facts edited and the chain recomputed: rollback --bundle refuses it (exit 5) naming both hashes; nothing runs' '
	restore &&
	real=$(bk "select encode(sha256(convert_to(down_sql, '"'"'UTF8'"'"')), '"'"'hex'"'"') from cairn.cairn_migrations where version = '"'"'0003'"'"'") &&
	evil="DROP TABLE t_0001_a;" &&
	sha=$(printf "%s" "$evil" | sha256sum | cut -d" " -f1) &&
	bk "update cairn.cairn_migrations set down_sql = '"'"'$evil'"'"' where version = '"'"'0003'"'"'" &&
	bk "update cairn.cairn_audit set detail = regexp_replace(detail, '"'"'down=sha256:[0-9a-f]*'"'"', '"'"'down=sha256:$sha'"'"') where action = '"'"'apply'"'"' and version = '"'"'0003'"'"'" &&
	rechain &&
	cairn-apply history --db "$DB" --verify >out &&
	test_grep "audit chain intact" out &&
	state >before &&
	test_expect_code 5 cairn-apply rollback --db "$DB" --env prod --last 1 --bundle b.tar.gz $KEY >out 2>err &&
	test_grep "migration 0003_c: its stored down script has sha256:$sha, but the signed manifest of bundle .* records sha256:$real: the script was changed after apply; nothing was rolled back" err &&
	state >after &&
	test_cmp before after &&
	grep "^t_0001_a$" after &&
	grep "^t_0003_c$" after
'

test_expect_success 'cleanup: the saved copy' '
	pg_sql -d postgres -c "DROP DATABASE good WITH (FORCE)"
'

test_done
