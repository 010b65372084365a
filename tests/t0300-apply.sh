#!/bin/sh
test_description='cairn-apply apply, plan and status on SQLite, from real signed bundles'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"

test_expect_success 'setup: a project with three migrations, one with verify.sql' '
	apply_project p &&
	apply_table p 0001_users &&
	apply_mig p 0002_seed "INSERT INTO t_0001_users (v) VALUES ('"'"'ann'"'"'), ('"'"'bob'"'"');" \
		"DELETE FROM t_0001_users;" &&
	printf "SELECT count(*) = 2 FROM t_0001_users;\n" >p/migrations/0002_seed/verify.sql &&
	apply_table p 0003_orders &&
	apply_build p "$TRASH_DIRECTORY/v3.tar.gz"
'

test_expect_success 'an unsigned or untrusted bundle is refused before the database is opened' '
	test_expect_code 3 cairn-apply apply v3.tar.gz --env dev --db sqlite:db1 2>err &&
	test_grep "refusing bundle" err &&
	test_grep "pass --key" err &&
	(cd "$TRASH_DIRECTORY" && cairn keygen --no-passphrase other >/dev/null 2>&1) &&
	test_expect_code 3 cairn-apply apply v3.tar.gz --env dev --db sqlite:db1 --key other.pub 2>err &&
	test_grep "refusing bundle" err &&
	test ! -e db1
'

test_expect_success 'a tampered bundle is refused (exit 3)' '
	mkdir x && tar -xzf v3.tar.gz -C x &&
	top=$(ls x) &&
	echo "DROP TABLE t_0001_users;" >>"x/$top/migrations/0003_orders/up.sql" &&
	tar -czf forged.tar.gz -C x "$top" &&
	test_expect_code 3 cairn-apply apply forged.tar.gz --env dev --db sqlite:db1 $KEY 2>err &&
	test_grep "refusing bundle" err &&
	test ! -e db1
'

test_expect_success 'a missing bundle is exit 6' '
	test_expect_code 6 cairn-apply apply nope.tar.gz --env dev --db sqlite:db1 $KEY 2>err &&
	test_grep "cannot read bundle" err
'

test_expect_success 'a --key that cannot be used is named first, whatever the bundle (exit 6); good keys and a broken bundle: refused (exit 3)' '
	echo "not a bundle" >broken.tar.gz &&
	test_expect_code 6 cairn-apply apply broken.tar.gz --env dev --db sqlite:db1 --key nosuch.pub 2>err &&
	test_grep "cannot use key .nosuch.pub.: cannot open" err &&
	! test_grep "refusing bundle" err &&
	test_expect_code 6 cairn-apply apply forged.tar.gz --env dev --db sqlite:db1 $KEY --key broken.tar.gz 2>err &&
	test_grep "cannot use key .broken.tar.gz.: .* is not a PEM public key" err &&
	test_expect_code 6 cairn-apply apply v3.tar.gz --env dev --db sqlite:db1 $KEY --key nosuch.pub 2>err &&
	test_grep "cannot use key .nosuch.pub." err &&
	test_expect_code 3 cairn-apply apply broken.tar.gz --env dev --db sqlite:db1 $KEY --key other.pub 2>err &&
	test_grep "refusing bundle .broken.tar.gz.: not a bundle: not a gzip-compressed tarball" err &&
	test_expect_code 3 cairn-apply apply forged.tar.gz --env dev --db sqlite:db1 --key other.pub 2>err &&
	test_grep "refusing bundle" err &&
	test ! -e db1
'

test_expect_success 'apply creates the bookkeeping and applies in order' '
	cairn-apply apply v3.tar.gz --env dev --db sqlite:db1 $KEY >out &&
	test_grep "^applying 3 migrations on db1 for dev" out &&
	test_grep "^applied 0001_users" out &&
	test_grep "^applied 3 migrations; db1 is at version 0003" out &&
	q db1 "SELECT version, state, environment FROM cairn_migrations ORDER BY version" >rows &&
	printf "0001|applied|dev\n0002|applied|dev\n0003|applied|dev\n" >expect &&
	test_cmp expect rows &&
	q db1 "SELECT count(*) FROM t_0001_users" >n && echo 2 >expect && test_cmp expect n &&
	q db1 "SELECT down_sql FROM cairn_migrations WHERE version = '"'"'0003'"'"'" >down &&
	printf "DROP TABLE t_0003_orders;\n\n" >expect && test_cmp expect down &&
	q db1 "SELECT DISTINCT bundle_id FROM cairn_migrations" >bid &&
	test_grep "^sha256:[0-9a-f]\{64\}$" bid
'

test_expect_success 'a second apply has nothing to do and writes nothing' '
	cp db1 before &&
	cairn-apply apply v3.tar.gz --env dev --db sqlite:db1 $KEY >out &&
	test_grep "nothing to apply: db1 is at version 0003" out &&
	cmp before db1
'

test_expect_success 'status lists what is applied, with and without the bundle' '
	cairn-apply status --db sqlite:db1 >out &&
	test_grep "^0002 .*applied .*0002_seed" out &&
	test_grep "3 applied, 0 pending, 0 failed, 0 in progress, 0 drifted" out &&
	cairn-apply status v3.tar.gz --db sqlite:db1 $KEY --format json >json &&
	test_grep "\"summary\":{\"applied\":3,\"pending\":0" json &&
	test_grep "\"not_in_bundle\":0" json
'

test_expect_success 'a refused bundle leaves an existing database as it was (opened early, unused)' '
	cp db1 before &&
	test_expect_code 3 cairn-apply apply forged.tar.gz --env dev --db sqlite:db1 $KEY 2>err &&
	test_grep "refusing bundle" err &&
	test_grep "database is unchanged" err &&
	cmp before db1 &&
	test ! -e db1-journal &&
	test_expect_code 3 cairn-apply apply forged.tar.gz --env dev --db sqlite:db1 $KEY --dry-run 2>err &&
	cmp before db1
'

test_expect_success 'setup: the next release adds two migrations, one only for prod' '
	apply_table p 0004_items &&
	apply_mig p 0005_prod_fix "CREATE TABLE t_prod (id integer);" "DROP TABLE t_prod;" \
		"environments: [prod]" &&
	apply_table p 0006_tags &&
	apply_build p "$TRASH_DIRECTORY/v6.tar.gz"
'

test_expect_success 'plan shows order, SQL and skips, and leaves the file byte for byte' '
	cp db1 before &&
	cairn-apply plan v6.tar.gz --env dev --db sqlite:db1 $KEY >out &&
	cmp before db1 &&
	test_grep "the database is at version 0003" out &&
	test_grep "^  skip   0001_users: already applied" out &&
	test_grep "^  apply  0004_items" out &&
	test_grep "CREATE TABLE t_0004_items" out &&
	test_grep "^  skip   0005_prod_fix: not for environment dev (only prod)" out &&
	test_grep "^2 to apply, 4 skipped" out &&
	cairn-apply apply v6.tar.gz --dry-run --env dev --db sqlite:db1 $KEY >out2 &&
	test_cmp out out2 &&
	cmp before db1 &&
	ls db1* >files && echo db1 >expect && test_cmp expect files
'

test_expect_success 'plan on a database that does not exist creates nothing' '
	cairn-apply plan v6.tar.gz --env dev --db sqlite:fresh.db $KEY --format json >json &&
	test ! -e fresh.db &&
	test_grep "\"current\":null" json &&
	test_grep "\"apply\":5,\"skip\":1" json
'

test_expect_success 'status with a newer bundle shows pending migrations' '
	cairn-apply status v6.tar.gz --db sqlite:db1 --env dev $KEY >out &&
	test_grep "^0004 .*pending" out &&
	test_grep "^0005 .*skipped" out
'

test_expect_success 'apply --to stops after that version' '
	cairn-apply apply v6.tar.gz --env dev --to 0004 --db sqlite:db1 $KEY >out &&
	test_grep "^skipped 0005_prod_fix: not for this environment" out &&
	test_grep "^skipped 0006_tags: after --to" out &&
	test_grep "db1 is at version 0004" out &&
	q db1 "SELECT count(*) FROM cairn_migrations" >n && echo 4 >expect && test_cmp expect n
'

test_expect_success 'bookkeeping tables with a column added by hand are still written (named columns)' '
	cp db1 extra.db &&
	q extra.db "ALTER TABLE cairn_migrations ADD COLUMN note TEXT" &&
	q extra.db "ALTER TABLE cairn_audit ADD COLUMN note TEXT" &&
	cairn-apply apply v6.tar.gz --env dev --db sqlite:extra.db $KEY >out &&
	test_grep "^applied 0006_tags" out &&
	q extra.db "SELECT version, state, note IS NULL FROM cairn_migrations WHERE version = '"'"'0006'"'"'" >row &&
	echo "0006|applied|1" >expect && test_cmp expect row &&
	cairn-apply history --db sqlite:extra.db --verify >out &&
	test_grep "audit chain intact" out
'

test_expect_success 'apply --to an unknown version is a usage error' '
	test_expect_code 2 cairn-apply apply v6.tar.gz --env dev --to 0042 --db sqlite:db1 $KEY 2>err &&
	test_grep "no migration with that version" err
'

test_expect_success 'environments: skips a migration outside its environments' '
	cairn-apply apply v6.tar.gz --env dev --db sqlite:db1 $KEY >out &&
	test_grep "^applied 0006_tags" out &&
	q db1 "SELECT count(*) FROM sqlite_master WHERE name = '"'"'t_prod'"'"'" >n &&
	echo 0 >expect && test_cmp expect n &&
	cairn-apply apply v6.tar.gz --env prod --db sqlite:db2 $KEY >out &&
	test_grep "^applied 0005_prod_fix" out
'

test_expect_success '--log-format json: one object per event' '
	cairn-apply apply v6.tar.gz --env qa --db sqlite:db3 $KEY --log-format json >out &&
	grep "\"event\":\"done\"" out >done &&
	test_line_count = 5 done &&
	test_grep "{\"time\":\"[0-9T:Z-]*\",\"event\":\"done\",\"action\":\"apply\",\"version\":\"0001\",\"migration\":\"0001_users\",\"environment\":\"qa\",\"bundle\":\"sha256:[0-9a-f]*\",\"index\":1,\"total\":5,\"duration_ms\":[0-9]*}" out &&
	test_grep "\"event\":\"skipped\",.*\"version\":\"0005\".*\"reason\":\"not for this environment\"" out &&
	test_grep "\"event\":\"finished\".*\"count\":5" out &&
	while read line; do
		printf "%s\n" "$line" | python3 -c "import json,sys; json.load(sys.stdin)" || return 1
	done <out
'

test_expect_success 'setup: a migration whose verify.sql fails, and one that errors' '
	apply_project f &&
	apply_table f 0001_a &&
	apply_mig f 0002_check "CREATE TABLE t_b (n integer); INSERT INTO t_b VALUES (0);" "DROP TABLE t_b;" &&
	printf "SELECT n FROM t_b;\n" >f/migrations/0002_check/verify.sql &&
	apply_build f "$TRASH_DIRECTORY/bad-verify.tar.gz" &&
	rm -r f/migrations/0002_check &&
	apply_mig f 0002_broken "CREATE TABLE t_c (id integer);
INSERT INTO t_nope VALUES (1);" "DROP TABLE t_c;" &&
	apply_table f 0003_after &&
	apply_build f "$TRASH_DIRECTORY/broken.tar.gz"
'

test_expect_success 'verify.sql returning false rolls its migration back (exit 1)' '
	test_expect_code 1 cairn-apply apply bad-verify.tar.gz --env dev --db sqlite:v.db $KEY >out 2>err &&
	test_grep "^applied 0001_a" out &&
	test_grep "migration 0002_check failed: .*verify.sql: verify.sql returned false or no row" err &&
	test_grep "the database was rolled back to version 0001: migrations committed before the failure stay applied" err &&
	test_grep "next: fix the migration" err &&
	q v.db "SELECT count(*) FROM sqlite_master WHERE name = '"'"'t_b'"'"'" >n &&
	echo 0 >expect && test_cmp expect n &&
	q v.db "SELECT version FROM cairn_migrations" >rows && echo 0001 >expect && test_cmp expect rows &&
	q v.db "SELECT action FROM cairn_audit ORDER BY seq" >actions &&
	printf "identity\napply\napply-failed\n" >expect && test_cmp expect actions
'

test_expect_success 'a failing statement names the file and line, and stops the run' '
	test_expect_code 1 cairn-apply apply broken.tar.gz --env dev --db sqlite:e.db $KEY 2>err &&
	test_grep "migration 0002_broken failed: migrations/0002_broken/up.sql:2: SQLITE_ERROR: no such table: t_nope" err &&
	q e.db "SELECT count(*) FROM sqlite_master WHERE name IN ('"'"'t_c'"'"', '"'"'t_0003_after'"'"')" >n &&
	echo 0 >expect && test_cmp expect n
'

test_expect_success '--atomic: all or nothing' '
	test_expect_code 1 cairn-apply apply broken.tar.gz --atomic --env dev --db sqlite:a.db $KEY 2>err &&
	test_grep "nothing from this run was applied" err &&
	q a.db "SELECT count(*) FROM sqlite_master WHERE name LIKE '"'"'t_%'"'"'" >n &&
	echo 0 >expect && test_cmp expect n &&
	q a.db "SELECT count(*) FROM cairn_migrations" >n && test_cmp expect n &&
	cairn-apply apply v6.tar.gz --atomic --env prod --db sqlite:a2.db $KEY >out &&
	test_grep "applied 6 migrations" out &&
	q a2.db "SELECT count(*) FROM cairn_migrations WHERE state = '"'"'applied'"'"'" >n &&
	echo 6 >expect && test_cmp expect n &&
	cairn-apply history --db sqlite:a2.db --verify >out &&
	test_grep "audit chain intact: 7 rows, 6 migrations anchored" out
'

test_expect_success 'drift: an applied migration changed in the bundle stops the run (exit 5)' '
	apply_project d &&
	apply_table d 0001_a &&
	apply_table d 0002_b &&
	apply_build d "$TRASH_DIRECTORY/d1.tar.gz" &&
	cairn-apply apply d1.tar.gz --env dev --db sqlite:d.db $KEY >/dev/null &&
	old=$(q d.db "SELECT checksum FROM cairn_migrations WHERE version = '"'"'0002'"'"'") &&
	rm -rf d/.git && git init -q d &&
	apply_mig d 0002_b "CREATE TABLE t_0002_b (id integer primary key, v text, extra int);" "DROP TABLE t_0002_b;" &&
	rm -r d/migrations/0001_a &&
	apply_table d 0003_c &&
	apply_build d "$TRASH_DIRECTORY/d2.tar.gz" &&
	cp d.db before &&
	test_expect_code 5 cairn-apply apply d2.tar.gz --env dev --db sqlite:d.db $KEY >out 2>err &&
	test_grep "warning: 0001_a is applied in the database (by bundle sha256:[0-9a-f]*) but is not in this bundle" err &&
	test_grep "drift: 0002_b was applied with checksum $old (by bundle sha256:[0-9a-f]* at [0-9T:Z-]*), but the bundle has sha256:" err &&
	test_grep "the database is unchanged by this run (at version 0002)" err &&
	cmp before d.db &&
	test_expect_code 5 cairn-apply status d2.tar.gz --db sqlite:d.db $KEY >out &&
	test_grep "^0002 .*drifted" out &&
	test_grep "0001_a  (not in this bundle)" out
'

test_expect_success 'a run leaves no journal beside the file; a WAL file stays in WAL' '
	rm -f j.db j.db-journal &&
	cairn-apply apply v3.tar.gz --env dev --db sqlite:j.db $KEY >out &&
	test_grep "at version 0003" out &&
	test ! -e j.db-journal &&
	q j.db "PRAGMA journal_mode" >mode && echo delete >expect && test_cmp expect mode &&
	rm -f w.db && q w.db "PRAGMA journal_mode=WAL" >/dev/null &&
	cairn-apply apply v3.tar.gz --env dev --db sqlite:w.db $KEY >out &&
	test_grep "at version 0003" out &&
	q w.db "PRAGMA journal_mode" >mode && echo wal >expect && test_cmp expect mode &&
	test ! -e w.db-journal
'

test_expect_success 'a journal with a zeroed header (a run killed between migrations) is ignored, then removed' '
	rm -f j.db j.db-journal &&
	cairn-apply apply v3.tar.gz --env dev --db sqlite:j.db $KEY --to 0001 >out &&
	cp j.db before &&
	head -c 4096 /dev/zero >j.db-journal &&
	cairn-apply apply v3.tar.gz --env dev --db sqlite:j.db $KEY >out &&
	test_grep "at version 0003" out &&
	test ! -e j.db-journal &&
	q j.db "PRAGMA integrity_check" >ic && echo ok >expect && test_cmp expect ic &&
	: >j.db-journal &&
	cairn-apply status --db sqlite:j.db >out &&
	test_grep "3 applied, 0 pending" out
'

test_expect_success 'usage errors' '
	test_expect_code 2 cairn-apply apply 2>err && test_grep "missing BUNDLE" err &&
	test_expect_code 2 cairn-apply apply v3.tar.gz --db sqlite:nodb 2>err && test_grep "missing --env" err &&
	test_expect_code 2 cairn-apply apply v3.tar.gz --env dev 2>err && test_grep "missing --db" err &&
	test_expect_code 2 cairn-apply apply v3.tar.gz --env dev --db mysql://x 2>err &&
	test_grep "unsupported database" err &&
	test_expect_code 2 cairn-apply apply v3.tar.gz --env dev --db sqlite:nodb --lock-timeout soon 2>err &&
	test_grep "lock-timeout must be a duration" err &&
	test_expect_code 2 cairn-apply status 2>err && test_grep "missing --db" err &&
	test ! -e nodb
'

test_expect_success 'a failed migration says how long it ran, transactional or not, and the failed row of a non-transactional one keeps it' '
	apply_project slow &&
	for tx in true false; do
		apply_mig slow 0001_slow_$tx "CREATE TABLE big_$tx AS WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1500000) SELECT x FROM c;
INSERT INTO nowhere VALUES (1);" "DROP TABLE big_$tx;" "transaction: $tx" &&
		apply_build slow "$TRASH_DIRECTORY/slow-$tx.tar.gz" &&
		rm -rf slow/migrations/0001_slow_$tx &&
		test_must_fail cairn-apply apply slow-$tx.tar.gz --env dev --db sqlite:slow-$tx.db $KEY >out 2>&1 &&
		line=$(grep "^FAILED 0001_slow_$tx (" out) &&
		ms=${line##*(} && ms=${ms%% ms)} &&
		test "$ms" -gt 0 &&
		if test $tx = false; then
			test "$(q slow-$tx.db "SELECT state || \" \" || (duration_ms > 0) FROM cairn_migrations WHERE version = '"'"'0001'"'"'")" = "failed 1" || return 1
		else
			test "$(q slow-$tx.db "SELECT count(*) FROM cairn_migrations WHERE version = '"'"'0001'"'"'")" = 0 || return 1
		fi
	done
'

test_done
