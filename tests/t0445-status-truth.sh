#!/bin/sh
test_description='status tells the truth: rolled back and failed migrations, with and without a bundle'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"

test_expect_success 'setup: three applied, a fourth that fails, the third rolled back' '
	apply_project p &&
	apply_table p 0001_a &&
	apply_table p 0002_b &&
	apply_table p 0003_c &&
	apply_mig p 0004_bad "CREATE TABLE t_bad (x int); SELECT * FROM nowhere;" "DROP TABLE t_bad;" &&
	apply_build p "$TRASH_DIRECTORY/b.tar.gz" &&
	cairn-apply apply b.tar.gz --env dev --db sqlite:db $KEY --to 0003 >/dev/null &&
	test_must_fail --exit=1 cairn-apply apply b.tar.gz --env dev --db sqlite:db $KEY >/dev/null 2>err &&
	test_grep "no such table: nowhere" err &&
	cairn-apply rollback --db sqlite:db --last 1 >/dev/null &&
	test "$(q db "SELECT version || \"=\" || state FROM cairn_migrations ORDER BY version" | tr "\n" " ")" = "0001=applied 0002=applied 0003=rolled_back " &&
	test -z "$(q db "SELECT name FROM sqlite_master WHERE name IN (\"t_0003_c\", \"t_bad\")")"
'

test_expect_success 'status BUNDLE shows the rolled-back and the failed migration as they are' '
	cairn-apply status b.tar.gz --db sqlite:db $KEY >out &&
	test_grep "^0003  *rolled_back .*0003_c  (not applied: the bundle would apply it again)" out &&
	test_grep "^0004  *apply_failed *[0-9T:Z-]* .*0004_bad  (rolled back: nothing applied; the next apply runs it again)" out &&
	test_grep "^  *error: .*no such table: nowhere" out &&
	test_grep "^2 applied, 0 pending, 0 failed, 0 in progress, 0 drifted, 1 rolled back, 1 failed and rolled back" out &&
	! grep " pending .*0003_c" out
'

test_expect_success 'status without a bundle shows them too' '
	cairn-apply status --db sqlite:db >out &&
	test_grep "^0003  *rolled_back " out &&
	test_grep "^0004  *apply_failed .* -  (rolled back: nothing applied" out &&
	test_grep "1 rolled back, 1 failed and rolled back" out
'

test_expect_success 'status JSON carries the real states, the error and its time' '
	cairn-apply status b.tar.gz --db sqlite:db $KEY --format json >out.json &&
	cairn-apply status --db sqlite:db --format json >out2.json &&
	python3 -c "
import json
for f in (\"out.json\", \"out2.json\"):
    d = json.load(open(f))
    m = {x[\"version\"]: x for x in d[\"migrations\"]}
    assert m[\"0003\"][\"state\"] == \"rolled_back\", m[\"0003\"]
    assert m[\"0004\"][\"state\"] == \"apply_failed\", m[\"0004\"]
    assert \"no such table: nowhere\" in m[\"0004\"][\"error\"], m[\"0004\"]
    assert m[\"0004\"][\"failed_at\"], m[\"0004\"]
    assert d[\"summary\"][\"rolled_back\"] == 1 and d[\"summary\"][\"apply_failed\"] == 1, d[\"summary\"]
    assert d[\"summary\"][\"pending\"] == 0, d[\"summary\"]
d = json.load(open(\"out.json\"))
m = {x[\"version\"]: x for x in d[\"migrations\"]}
assert m[\"0003\"][\"would_apply\"] is True and m[\"0004\"][\"would_apply\"] is True
"
'

test_expect_success 'once the fix applies, the failure is history and status says applied' '
	apply_mig p 0004_bad "CREATE TABLE t_bad (x int);" "DROP TABLE t_bad;" &&
	apply_build p "$TRASH_DIRECTORY/b2.tar.gz" &&
	cairn-apply apply b2.tar.gz --env dev --db sqlite:db $KEY >/dev/null &&
	cairn-apply status b2.tar.gz --db sqlite:db $KEY >out &&
	test_grep "^0004  *applied " out &&
	test_grep "^4 applied, 0 pending, 0 failed, 0 in progress, 0 drifted, 0 rolled back" out &&
	! grep apply_failed out
'

test_done
