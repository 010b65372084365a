#!/bin/sh
test_description='the attacks of issue #15 on PostgreSQL: identity, books edited by hand, checkpoints'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"
. "$TEST_DIRECTORY/lib-pg.sh"

pg_start_app

test_expect_success 'setup: three migrations applied as prod, with a checkpoint' '
	pg_fresh_db app &&
	pg_project p &&
	apply_table p 0001_a &&
	apply_table p 0002_b &&
	apply_table p 0003_c &&
	apply_build p "$TRASH_DIRECTORY/b.tar.gz" &&
	cairn keygen --no-passphrase host >/dev/null 2>&1 &&
	cairn-apply apply b.tar.gz --env prod --db "$DB" $KEY --checkpoint cp.log --checkpoint-key host.key >out 2>err &&
	test_grep "applied 3 migrations" out &&
	bk "select action, environment from cairn.cairn_audit where seq = 1" >id &&
	echo "identity|prod" >want && test_cmp want id &&
	cairn-apply history --db "$DB" --verify --checkpoint cp.log >out
'

test_expect_success 'another environment is refused (exit 3), nothing written' '
	bk "select count(*) from cairn.cairn_audit" >before &&
	test_expect_code 3 cairn-apply apply b.tar.gz --env dev --db "$DB" $KEY 2>err &&
	test_grep "the database belongs to environment .prod. (project .p.), not .dev." err &&
	test_expect_code 3 cairn-apply rollback --db "$DB" --env dev --last 1 2>err &&
	bk "select count(*) from cairn.cairn_audit" >after &&
	test_cmp before after &&
	bk "select count(*) from cairn.cairn_migrations where state = '"'"'applied'"'"'" >n &&
	echo 3 >want && test_cmp want n
'

test_expect_success 'a state set to rolled_back by hand: apply stops (exit 5), nothing runs again' '
	bk "update cairn.cairn_migrations set state = '"'"'rolled_back'"'"' where version = '"'"'0003'"'"'" &&
	test_expect_code 5 cairn-apply apply b.tar.gz --env prod --db "$DB" $KEY 2>err &&
	test_grep "migration 0003: state is .rolled_back., the audit chain recorded .applied." err &&
	bk "select count(*) from pg_tables where tablename = '"'"'t_0003_c'"'"'" >n &&
	echo 1 >want && test_cmp want n &&
	bk "update cairn.cairn_migrations set state = '"'"'applied'"'"' where version = '"'"'0003'"'"'"
'

test_expect_success 'a replaced down script is not run by rollback (exit 5)' '
	bk "update cairn.cairn_migrations set down_sql = '"'"'DROP TABLE t_0001_a;'"'"' where version = '"'"'0003'"'"'" &&
	test_expect_code 5 cairn-apply rollback --db "$DB" --last 1 2>err &&
	test_grep "migration 0003: down is .sha256:[0-9a-f]*., the audit chain recorded" err &&
	bk "select count(*) from pg_tables where tablename in ('"'"'t_0001_a'"'"', '"'"'t_0003_c'"'"')" >n &&
	echo 2 >want && test_cmp want n &&
	bk "update cairn.cairn_migrations set down_sql = '"'"'DROP TABLE t_0003_c;'"'"' || chr(10) where version = '"'"'0003'"'"'" &&
	cairn-apply history --db "$DB" --verify >out
'

test_expect_success 'the newest audit row deleted with its row: found by the checkpoint' '
	bk "delete from cairn.cairn_migrations where version = '"'"'0003'"'"'; delete from cairn.cairn_audit where seq = (select max(seq) from cairn.cairn_audit)" &&
	cairn-apply history --db "$DB" --verify >out &&
	test_expect_code 1 cairn-apply history --db "$DB" --verify --checkpoint cp.log 2>err &&
	test_grep "its newest rows were deleted" err
'

test_expect_success 'a wrong password and malformed DSNs: the password is never printed' '
	pg_sql -c "create role pw_user login password '"'"'Sekr3t-pw'"'"'" &&
	for dsn in "postgresql://pw_user:Wr0ng-pw@/app?host=$PGHOST" \
		"postgresql://pw_user:Wr0ng-pw@[::1/app" \
		"host=$PGHOST dbname=app user=pw_user password=Wr0ng-pw sslmode=bogus"; do
		{ cairn-apply status --db "$dsn" >out 2>&1; true; } &&
		{ cairn-apply apply b.tar.gz --env prod --db "$dsn" $KEY --log-format json >>out 2>&1; true; } &&
		test -s out &&
		if grep Wr0ng out; then return 1; fi || return 1
	done
'

test_done
