#!/bin/sh
test_description='cairn check against git history: released migrations, order, collisions, the base'
. "$(dirname "$0")/test-lib.sh"

M=migrations

# A project on main with two released migrations, tagged v1.0.
test_expect_success 'setup: two migrations released as v1.0' '
	test_create_project p &&
	test_migration p 20260101000000_users &&
	test_migration p 20260102000000_orders &&
	test_commit p "users and orders" &&
	git -C p tag v1.0 &&
	(cd p && cairn check 2>../err) &&
	test_grep "cairn: base: [0-9a-f]\{12\} (merge base of HEAD and refs/heads/main, which is HEAD itself: what the work tree changes since HEAD)" err &&
	test_grep "cairn: HEAD as .cairn build. checks it: no base: HEAD is a root commit already in refs/heads/main" err
'

test_expect_success 'released-edited: an edit of a released migration is refused, naming ref and commit' '
	git -C p checkout -q -b edit main &&
	echo "ALTER TABLE t ADD x int;" >>p/$M/20260101000000_users/up.sql &&
	(cd p && test_must_fail --exit=1 cairn check >../out 2>../err) &&
	intro=$(git -C p rev-parse --short=12 main) &&
	test_grep "^$M/20260101000000_users: error: released-edited: migration .20260101000000_users. was released in refs/tags/v1.0 (commit $intro) and must not change (up.sql changed)" out &&
	test_grep "cairn new NAME" out &&
	(cd p && git add -A && test_must_fail cairn check --staged >../out) &&
	test_grep "released-edited" out
'

test_expect_success 'released-edited: an added or removed file counts too' '
	git -C p checkout -q -f edit && git -C p reset -q --hard main &&
	echo "SELECT 1;" >p/$M/20260101000000_users/verify.sql &&
	rm p/$M/20260102000000_orders/down.sql &&
	(cd p && test_must_fail cairn check >../out) &&
	test_grep "20260101000000_users: error: released-edited: .*(verify.sql added)" out &&
	test_grep "20260102000000_orders: error: released-edited: .*(down.sql removed)" out
'

test_expect_success 'passing neighbour: editing a migration not yet released is fine' '
	git -C p reset -q --hard main && git -C p clean -q -fd &&
	test_migration p 20260103000000_items &&
	test_commit p items &&
	echo "CREATE INDEX i ON t_items(id);" >>p/$M/20260103000000_items/up.sql &&
	(cd p && cairn check --ref HEAD && cairn check >../out 2>../err) &&
	test_grep "base: .*(merge base of HEAD and refs/heads/main)" err &&
	test ! -s out
'

test_expect_success 'passing neighbour: the executable bit is not an edit' '
	git -C p checkout -q -f main && git -C p checkout -q -B modebit &&
	chmod +x p/$M/20260101000000_users/up.sql &&
	(cd p && git add -A && cairn check --staged && cairn check)
'

test_expect_success 'released-deleted: deleting a released migration is refused' '
	git -C p checkout -q -f -B del main &&
	git -C p rm -q -r $M/20260102000000_orders &&
	(cd p && test_must_fail --exit=1 cairn check --staged >../out) &&
	test_grep "^$M/20260102000000_orders: error: released-deleted: migration .20260102000000_orders. was released in refs/tags/v1.0" out &&
	test_grep "git checkout [0-9a-f]* -- $M/20260102000000_orders" out
'

test_expect_success 'released-renamed: renaming a released migration is refused' '
	git -C p checkout -q -f -B ren main &&
	git -C p mv $M/20260102000000_orders $M/20260102000000_purchase_orders &&
	(cd p && test_must_fail cairn check --staged >../out) &&
	test_grep "^$M/20260102000000_orders: error: released-renamed: .*now .20260102000000_purchase_orders." out &&
	test_grep "git mv $M/20260102000000_purchase_orders $M/20260102000000_orders" out &&
	test_grep ! "out-of-order\|version-collision\|released-deleted" out
'

test_expect_success 'released-renamed: the same contents under a new version is a rename' '
	git -C p checkout -q -f -B ren2 main &&
	git -C p mv $M/20260102000000_orders $M/20260109000000_orders &&
	(cd p && test_must_fail cairn check --staged >../out) &&
	test_grep "released-renamed: .*now .20260109000000_orders." out
'

test_expect_success 'out-of-order: a new migration below a released one is refused' '
	git -C p checkout -q -f -B late main &&
	test_migration p 20251231000000_early &&
	(cd p && test_must_fail --exit=1 cairn check >../out) &&
	test_grep "^$M/20251231000000_early: error: out-of-order: new migration .20251231000000_early. (version 20251231000000) is not above .20260102000000_orders. (version 20260102000000)" out &&
	test_grep "git mv $M/20251231000000_early $M/[0-9]\{14\}_early" out &&
	test_grep "allow-out-of-order" out
'

test_expect_success 'out-of-order with ordering: allow-out-of-order only warns, listing each' '
	test_migration p 20251230000000_earlier &&
	sed -i "s/^ordering: strict/ordering: allow-out-of-order/" p/cairn.yaml &&
	(cd p && cairn check >../out 2>../err) &&
	test_grep "^$M/20251231000000_early: warning: out-of-order:" out &&
	test_grep "^$M/20251230000000_earlier: warning: out-of-order:" out &&
	test_grep "0 errors\|2 warnings" err
'

test_expect_success 'passing neighbour: a new migration above every released one' '
	git -C p checkout -q -f -B fine main && git -C p clean -q -fd &&
	test_migration p 20260105000000_fine &&
	(cd p && git add -A && cairn check --staged && cairn check)
'

test_expect_success 'a branch merged late: caught before the merge, from the release ref that moved on' '
	git -C p checkout -q -f main && git -C p clean -q -fd &&
	git -C p checkout -q -b slow &&
	test_migration p 20260110000000_slow && test_commit p slow &&
	(cd p && cairn check) &&
	git -C p checkout -q main &&
	test_migration p 20260120000000_fast && test_commit p fast &&
	git -C p checkout -q slow &&
	(cd p && test_must_fail cairn check >../out 2>../err) &&
	test_grep "^$M/20260110000000_slow: error: out-of-order: .*20260120000000_fast. (version 20260120000000) in refs/heads/main" out &&
	git -C p merge -q -m "merge main" main &&
	(cd p && test_must_fail cairn check >../out) &&
	test_grep "20260110000000_slow: error: out-of-order: .*20260120000000_fast" out
'

test_expect_success 'passing neighbour: after a rebase and a new version the branch passes' '
	git -C p checkout -q -B slow2 main &&
	test_migration p 20260121000000_slow && test_commit p slow2 &&
	git -C p checkout -q -b tmp main~1 && git -C p checkout -q slow2 &&
	git -C p rebase -q main &&
	(cd p && cairn check && cairn check --ref HEAD)
'

test_expect_success 'version-collision: two branches add the same version, git merges without conflict' '
	git -C p checkout -q -B left main &&
	test_migration p 20260130000000_left && test_commit p left &&
	git -C p checkout -q -B right main &&
	test_migration p 20260130000000_right && test_commit p right &&
	git -C p checkout -q main && git -C p merge -q --no-ff -m "merge left" left &&
	git -C p merge -q --no-ff -m "merge right" right &&
	(cd p && test_must_fail cairn check --ref HEAD >../out 2>../err) &&
	test_grep "^$M/20260130000000_right: error: version-collision: new migration .20260130000000_right. uses version 20260130000000, which .20260130000000_left. already has in" out &&
	test_grep "duplicate-version" out &&
	test_grep "first parent of HEAD, which is already in refs/heads/main" err
'

test_expect_success 'version-collision is caught on the branch too, before the merge' '
	git -C p reset -q --hard HEAD~1 &&
	git -C p checkout -q right &&
	(cd p && test_must_fail cairn check >../out) &&
	test_grep "20260130000000_right: error: version-collision: .*20260130000000_left. already has in refs/heads/main" out
'

test_expect_success 'passing neighbour: two branches with different versions merge fine' '
	git -C p checkout -q -B right2 main~1 &&
	test_migration p 20260131000000_right && test_commit p right2 &&
	git -C p checkout -q main && git -C p merge -q --no-ff -m "merge right2" right2 &&
	(cd p && cairn check --ref HEAD && cairn check)
'

test_expect_success 'a squash-merged migration edited afterwards on its branch is refused' '
	git -C p checkout -q -B squashy main &&
	test_migration p 20260201000000_sq && test_commit p sq &&
	git -C p checkout -q main && git -C p merge -q --squash squashy && git -C p commit -q -m squashed &&
	git -C p checkout -q squashy &&
	echo "-- more" >>p/$M/20260201000000_sq/up.sql &&
	(cd p && test_must_fail cairn check >../out) &&
	test_grep "20260201000000_sq: error: released-edited: .*released in refs/heads/main" out &&
	git -C p checkout -q -f squashy && (cd p && cairn check)
'

test_expect_success '--base REV: everything reachable from REV counts as released' '
	git -C p checkout -q -f main &&
	(cd p && cairn check --base v1.0 --format json >../out.json 2>../err) &&
	python3 -c "
import json,subprocess
d=json.load(open(\"out.json\"))
want=subprocess.check_output([\"git\",\"-C\",\"p\",\"rev-parse\",\"v1.0^{commit}\"]).decode().strip()
assert d[\"base\"][\"commit\"]==want, d[\"base\"]
assert d[\"base\"][\"how\"]==\"--base v1.0\", d[\"base\"]
" &&
	(cd p && cairn check --base v1.0 2>../err) &&
	test_grep "cairn: base: [0-9a-f]* (--base v1.0)" err &&
	echo "-- edit" >>p/$M/20260120000000_fast/up.sql &&
	(cd p && cairn check --base v1.0 >../out) &&
	test_grep ! "released-edited" out &&
	(cd p && test_must_fail --exit=1 cairn check --base main >../out) &&
	test_grep "20260120000000_fast: error: released-edited" out &&
	git -C p checkout -q -f main
'

test_expect_success '--base with a bad revision is an environment error' '
	(cd p && test_expect_code 6 cairn check --base no-such-rev 2>../err) &&
	test_grep "cannot resolve --base .no-such-rev." err
'

test_expect_success 'no release ref yet: no base, said clearly, and no history rule' '
	git init -q -b trunk fresh && (cd fresh && cairn init >/dev/null) &&
	test_migration fresh 20260101000000_a && test_commit fresh a &&
	echo "-- x" >>fresh/$M/20260101000000_a/up.sql &&
	(cd fresh && cairn check --format json >../out.json 2>../err && cairn check 2>../err) &&
	test_grep "cairn: no base: no release ref exists yet; every migration counts as new" err &&
	python3 -c "
import json
d=json.load(open(\"out.json\"))
assert d[\"base\"]=={\"commit\":None,\"how\":\"no release ref exists yet\"}, d
"
'

test_expect_success 'release_refs in cairn.yaml: only those refs release' '
	git -C fresh tag v9 && git -C fresh checkout -q -f . &&
	printf "release_refs: [refs/tags/rel-*]\n" >>fresh/cairn.yaml &&
	sed -i "/^release_refs:$/,/^$/d" fresh/cairn.yaml &&
	test_commit fresh cfg &&
	echo "-- x" >>fresh/$M/20260101000000_a/up.sql &&
	(cd fresh && cairn check 2>../err) &&
	test_grep "no base" err &&
	git -C fresh tag rel-1 HEAD &&
	(cd fresh && test_must_fail cairn check >../out) &&
	test_grep "released-edited: .*released in refs/tags/rel-1" out
'

test_expect_success 'a release_refs entry that is not a full ref name is an error' '
	sed -i "s|^release_refs: .*|release_refs: [main, refs/tags/rel-*]|" fresh/cairn.yaml &&
	(cd fresh && test_must_fail cairn check >../out) &&
	test_grep "^cairn.yaml:[0-9]*: error: bad-value: release_refs entry .main. is not a full ref name, so it would match nothing; write refs/heads/main" out &&
	git -C fresh checkout -q -f cairn.yaml
'

test_expect_success 'on a release branch, what that branch holds is released' '
	git init -q -b main rb && (cd rb && cairn init >/dev/null) &&
	sed -i "s|^  - refs/tags/v\*|  - refs/heads/release/*|" rb/cairn.yaml &&
	test_migration rb 20260101000000_a && test_commit rb a &&
	git -C rb checkout -q -b release/1 &&
	test_migration rb 20260102000000_fix && test_commit rb fix &&
	echo "-- edit" >>rb/$M/20260102000000_fix/up.sql &&
	(cd rb && test_must_fail cairn check >../out 2>../err) &&
	test_grep "base: [0-9a-f]* (merge base of HEAD and refs/heads/release/1, which is HEAD itself" err &&
	test_grep "HEAD as .cairn build. checks it: base: [0-9a-f]* (first parent of HEAD, which is already in refs/heads/release/1)" err &&
	test_grep "20260102000000_fix: error: released-edited: .*released in refs/heads/release/1" out &&
	git -C rb checkout -q -f -b topic main &&
	test_migration rb 20260103000000_topic && test_commit rb topic &&
	echo "-- edit" >>rb/$M/20260103000000_topic/up.sql &&
	(cd rb && cairn check 2>../err) &&
	test_grep "merge base of HEAD and refs/heads/main" err
'

test_expect_success 'the default branch may be master' '
	git init -q -b master old && (cd old && cairn init >/dev/null) &&
	sed -i "/^release_refs:$/,/^$/d" old/cairn.yaml &&
	test_migration old 20260101000000_a && test_commit old a &&
	git -C old checkout -q -b topic &&
	rm -r old/$M/20260101000000_a &&
	(cd old && test_must_fail cairn check >../out 2>../err) &&
	test_grep "merge base of HEAD and refs/heads/master" err &&
	test_grep "released-deleted: .*released in refs/heads/master" out
'

test_expect_success '--staged skips the content rules only on migrations identical to the base' '
	git init -q -b main c && (cd c && cairn init >/dev/null) &&
	test_migration c 20260101000000_a "-- nothing yet" &&
	test_commit c "a bad one slipped in" &&
	test_migration c 20260102000000_b &&
	git -C c add -A &&
	(cd c && cairn check --staged >../out) &&
	test_grep ! "empty-up" out &&
	(cd c && test_must_fail cairn check --staged --full >../out) &&
	test_grep "20260101000000_a/up.sql: error: empty-up" out &&
	(cd c && test_must_fail cairn check >../out) &&
	test_grep "20260101000000_a/up.sql: error: empty-up" out &&
	test_migration c 20260103000000_c "-- empty too" &&
	git -C c add -A &&
	(cd c && test_must_fail cairn check --staged >../out) &&
	test_grep "20260103000000_c/up.sql: error: empty-up" out
'

test_expect_success 'a changed cairn.yaml makes --staged re-run every content rule' '
	echo "max_file_size: 10" >>c/cairn.yaml && sed -i "/^max_file_size: 16MiB/d" c/cairn.yaml &&
	git -C c rm -q -r --cached $M/20260103000000_c && rm -r c/$M/20260103000000_c &&
	git -C c add -A &&
	(cd c && test_must_fail cairn check --staged >../out) &&
	test_grep "20260101000000_a/up.sql: error: \(empty-up\|file-too-large\)" out
'

test_expect_success 'a project in a subdirectory of the repository' '
	git init -q -b main mono && mkdir -p mono/db &&
	(cd mono/db && cairn init >/dev/null) &&
	test_migration mono/db 20260101000000_a && test_commit mono a &&
	echo "-- x" >>mono/db/$M/20260101000000_a/up.sql &&
	(cd mono/db && test_must_fail cairn check >../../out) &&
	test_grep "released-edited: .*git checkout [0-9a-f]* -- db/$M/20260101000000_a" out &&
	git -C mono add -A &&
	(cd mono/db && test_must_fail cairn check --staged >../../out) &&
	test_grep "released-edited" out
'

test_expect_success 'the work tree check takes unchanged files from the index, and still sees edits' '
	git init -q -b main st && (cd st && cairn init >/dev/null) &&
	test_migration st 20260101000000_a "CREATE TABLE a (id int);" &&
	test_commit st a &&
	find st/$M -type f -exec touch -d "2020-01-01 00:00:00" {} + &&
	git -C st update-index --refresh -q >/dev/null &&
	sleep 1 &&
	git -C st update-index --really-refresh -q >/dev/null &&
	(cd st && cairn check) &&
	echo "CREATE TABLE b (id int);" >st/$M/20260101000000_a/up.sql &&
	(cd st && test_must_fail cairn check >../out) &&
	test_grep "released-edited: .*(up.sql changed)" out
'

test_expect_success 'a same-size edit in the second the index was written is hashed, not trusted' '
	git -C st checkout -q -f . && git -C st update-index --really-refresh -q >/dev/null &&
	echo "CREATE TABLE z (id int);" >st/$M/20260101000000_a/up.sql &&
	test_expect_code 1 git -C st update-index --really-refresh -q >/dev/null &&
	echo "CREATE TABLE y (id int);" >st/$M/20260101000000_a/up.sql &&
	(cd st && test_must_fail cairn check >../out) &&
	test_grep "released-edited" out
'

test_expect_success 'usage errors' '
	(cd p && test_expect_code 2 cairn check --ref-update a b 2>../err) &&
	test_grep "three arguments" err &&
	(cd p && test_expect_code 2 cairn check --pre-receive --staged 2>../err) &&
	test_grep "takes no --staged" err
'

test_done
