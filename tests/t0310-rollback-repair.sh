#!/bin/sh
test_description='cairn-apply rollback, baseline and repair; transaction: false'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"

test_expect_success 'setup: four migrations, the third irreversible' '
	apply_project p &&
	apply_table p 0001_a &&
	apply_table p 0002_b &&
	apply_mig p 0003_c "CREATE TABLE t_0003_c (id integer);" - "irreversible: true" &&
	apply_table p 0004_d &&
	apply_build p "$TRASH_DIRECTORY/b.tar.gz" &&
	cairn-apply apply b.tar.gz --env dev --db sqlite:db $KEY >/dev/null
'

test_expect_success 'rollback --last 1 runs the stored down script, without the bundle' '
	mv b.tar.gz away.tar.gz &&
	cairn-apply rollback --db sqlite:db --last 1 >out &&
	test_grep "^rolled back 0004_d" out &&
	test_grep "rolled back 1 migration; db is at version 0003" out &&
	q db "SELECT count(*) FROM sqlite_master WHERE name = '"'"'t_0004_d'"'"'" >n &&
	echo 0 >expect && test_cmp expect n &&
	q db "SELECT state FROM cairn_migrations WHERE version = '"'"'0004'"'"'" >s &&
	echo rolled_back >expect && test_cmp expect s &&
	mv away.tar.gz b.tar.gz
'

test_expect_success 'an irreversible migration stops the rollback before anything runs' '
	cp db before &&
	test_expect_code 1 cairn-apply rollback --db sqlite:db --to 0001 2>err &&
	test_grep "migration 0003_c is irreversible: cannot roll back past it; nothing was rolled back" err &&
	test_grep "the database is unchanged (at version 0003)" err &&
	cmp before db
'

test_expect_success 'a rolled back migration shows as rolled back, and apply runs it again' '
	cairn-apply status b.tar.gz --db sqlite:db $KEY >out &&
	test_grep "^0004  *rolled_back .*0004_d  (not applied: the bundle would apply it again)" out &&
	cairn-apply apply b.tar.gz --env dev --db sqlite:db $KEY >out &&
	test_grep "^applied 0004_d" out &&
	q db "SELECT action FROM cairn_audit ORDER BY seq" >actions &&
	printf "identity\napply\napply\napply\napply\nrollback\napply\n" >expect &&
	test_cmp expect actions
'

test_expect_success 'rollback --to the version above the irreversible one' '
	cairn-apply rollback --db sqlite:db --to 0003 --log-format json >out &&
	test_grep "\"event\":\"done\",\"action\":\"rollback\",\"version\":\"0004\"" out &&
	cairn-apply rollback --db sqlite:db --to 0003 >out &&
	test_grep "nothing to roll back: db is at version 0003" out
'

test_expect_success 'rollback usage' '
	test_expect_code 2 cairn-apply rollback --db sqlite:db 2>err &&
	test_grep "give one of --to VERSION or --last N" err &&
	test_expect_code 2 cairn-apply rollback --db sqlite:db --to 1 --last 2 2>err &&
	test_expect_code 2 cairn-apply rollback --db sqlite:db --last 0 2>err &&
	test_grep "positive number" err
'

test_expect_success 'a failing down script is rolled back and stops (exit 1)' '
	apply_project f &&
	apply_table f 0001_a &&
	apply_mig f 0002_b "CREATE TABLE t_b (id integer);" "DROP TABLE t_b; DROP TABLE t_not_there;" &&
	apply_build f "$TRASH_DIRECTORY/f.tar.gz" &&
	cairn-apply apply f.tar.gz --env dev --db sqlite:f.db $KEY >/dev/null &&
	test_expect_code 1 cairn-apply rollback --db sqlite:f.db --to 0 2>err &&
	test_grep "rollback of 0002_b failed: down script of 0002_b:1: SQLITE_ERROR: no such table: t_not_there" err &&
	test_grep "the database is at version 0002: the failed down script was rolled back" err &&
	q f.db "SELECT count(*) FROM sqlite_master WHERE name = '"'"'t_b'"'"'" >n &&
	echo 1 >expect && test_cmp expect n
'

test_expect_success 'baseline marks an existing database; apply starts above it' '
	sqlite3 legacy.db "CREATE TABLE t_0001_a (id integer primary key, v text); CREATE TABLE t_0002_b (id integer primary key, v text);" &&
	cairn-apply baseline --db sqlite:legacy.db --version 0002 --env prod >out &&
	test_grep "baseline: legacy.db is at version 0002" out &&
	cairn-apply plan b.tar.gz --env prod --db sqlite:legacy.db $KEY >out &&
	test_grep "^  skip   0001_a: at or below the baseline" out &&
	test_grep "^  skip   0002_b: already applied" out &&
	cairn-apply apply b.tar.gz --env prod --db sqlite:legacy.db $KEY >out &&
	test_grep "applied 2 migrations; legacy.db is at version 0004" out &&
	test_expect_code 5 cairn-apply baseline --db sqlite:legacy.db --version 0003 2>err &&
	test_grep "already records migrations" err &&
	test_expect_code 2 cairn-apply baseline --db sqlite:legacy.db --version v2 2>err
'

test_expect_success 'setup: a transaction: false migration that fails on its second statement' '
	apply_project nt &&
	apply_table nt 0001_a &&
	apply_mig nt 0002_nontx "CREATE TABLE t_half (id integer);
INSERT INTO t_missing VALUES (1);
CREATE TABLE t_never (id integer);" "DROP TABLE t_half;" "transaction: false" &&
	apply_table nt 0003_c &&
	apply_build nt "$TRASH_DIRECTORY/n.tar.gz"
'

test_expect_success 'a failed transaction: false migration is marked failed (exit 5)' '
	test_expect_code 5 cairn-apply apply n.tar.gz --env dev --db sqlite:n.db $KEY >out 2>err &&
	test_grep "migration 0002_nontx failed: migrations/0002_nontx/up.sql:2: SQLITE_ERROR: no such table: t_missing" err &&
	test_grep "needs an operator: migration 0002 ran outside a transaction and may be partly applied; it is marked failed" err &&
	test_grep "cairn-apply repair --db sqlite:n.db 0002 --mark-applied" err &&
	q n.db "SELECT state, statement FROM cairn_migrations WHERE version = '"'"'0002'"'"'" >s &&
	echo "failed|1" >expect && test_cmp expect s &&
	q n.db "SELECT count(*) FROM sqlite_master WHERE name = '"'"'t_half'"'"'" >n &&
	echo 1 >expect && test_cmp expect n
'

test_expect_success 'a later run stops until repair, naming the way out' '
	test_expect_code 5 cairn-apply apply n.tar.gz --env dev --db sqlite:n.db $KEY >out 2>err &&
	test_grep "0002_nontx failed in an earlier run: migrations/0002_nontx/up.sql:2" err &&
	test_grep "cairn-apply repair --db sqlite:n.db VERSION --mark-applied" err &&
	test_expect_code 5 cairn-apply status --db sqlite:n.db >out 2>err &&
	test_grep "^0002 .*failed" out &&
	test_expect_code 5 cairn-apply rollback --db sqlite:n.db --last 1 2>err &&
	test_grep "repair it before rolling back" err
'

test_expect_success 'repair refuses rows that are not failed or in progress' '
	test_expect_code 1 cairn-apply repair --db sqlite:n.db 0001 --mark-applied 2>err &&
	test_grep "is applied, not failed or in progress" err &&
	test_expect_code 1 cairn-apply repair --db sqlite:n.db 0009 --mark-applied 2>err &&
	test_grep "no migration 0009" err &&
	test_expect_code 2 cairn-apply repair --db sqlite:n.db 0002 2>err
'

test_expect_success 'repair --mark-rolled-back after undoing by hand; apply runs it again' '
	sqlite3 n.db "DROP TABLE t_half; CREATE TABLE t_missing (id integer);" &&
	cairn-apply repair --db sqlite:n.db 0002 --mark-rolled-back >out &&
	test_grep "repaired 0002: marked rolled back" out &&
	q n.db "SELECT action, detail FROM cairn_audit ORDER BY seq DESC LIMIT 1" >last &&
	test_grep "^repair|failed -> rolled_back; was: migrations/0002_nontx/up.sql:2" last &&
	cairn-apply apply n.tar.gz --env dev --db sqlite:n.db $KEY >out &&
	test_grep "applied 2 migrations; n.db is at version 0003" out &&
	q n.db "SELECT state, statement FROM cairn_migrations WHERE version = '"'"'0002'"'"'" >s &&
	echo "applied|-1" >expect && test_cmp expect s
'

test_expect_success 'repair --mark-applied clears an interrupted migration' '
	python3 "$TEST_DIRECTORY/helpers/audit-rechain.py" n.db \
		"UPDATE cairn_audit SET detail = replace(detail, '"'"'facts{state=applied'"'"', '"'"'facts{state=in_progress'"'"') WHERE hash = (SELECT audit_hash FROM cairn_migrations WHERE version = '"'"'0003'"'"')" \
		"UPDATE cairn_migrations SET state = '"'"'in_progress'"'"', statement = 2 WHERE version = '"'"'0003'"'"'" &&
	test_expect_code 5 cairn-apply apply n.tar.gz --env dev --db sqlite:n.db $KEY 2>err &&
	test_grep "0003_c did not finish: a run stopped at statement 3 of its up script" err &&
	cairn-apply repair --db sqlite:n.db 0003 --mark-applied >out &&
	cairn-apply apply n.tar.gz --env dev --db sqlite:n.db $KEY >out &&
	test_grep "nothing to apply" out
'

test_done
