#!/bin/sh
test_description='cairn check --pre-receive: a bare server repository refuses pushes that break history'
. "$(dirname "$0")/test-lib.sh"

M=migrations

# push REMOTE-ARGS...: git push from the clone, output in ../push.out
push() {
	(cd work && git push "$@" >../push.out 2>&1)
}

test_expect_success 'setup: a server with the pre-receive hook, a clone with v1.0' '
	git init -q --bare server.git &&
	(cd server.git && cairn hooks install >../out) &&
	test_grep "pre-receive: installed" out &&
	test -x server.git/hooks/pre-receive &&
	test_create_project work &&
	test_migration work 20260101000000_users &&
	test_migration work 20260102000000_orders &&
	test_commit work release &&
	git -C work tag v1.0 &&
	git -C work remote add origin "file://$TRASH_DIRECTORY/server.git" &&
	push origin main v1.0 &&
	test_grep "remote: cairn: checking refs/heads/main (new)" push.out &&
	git -C server.git rev-parse --verify -q refs/tags/v1.0
'

test_expect_success 'accepted: a new migration above the released ones' '
	test_migration work 20260103000000_items && test_commit work items &&
	push origin main &&
	test_grep "remote: cairn:   base: [0-9a-f]* (the old tip of refs/heads/main)" push.out &&
	test "$(git -C server.git rev-parse main)" = "$(git -C work rev-parse main)"
'

test_expect_success 'refused: an edit of a released migration, rule named to the pusher' '
	echo "ALTER TABLE t ADD y int;" >>work/$M/20260101000000_users/up.sql &&
	test_commit work "sneaky edit" &&
	test_must_fail push origin main &&
	test_grep "remote: $M/20260101000000_users: error: released-edited: migration .20260101000000_users. was released in refs/tags/v1.0" push.out &&
	test_grep "remote: cairn: push refused" push.out &&
	test_grep "pre-receive hook declined" push.out &&
	test "$(git -C server.git rev-parse main)" != "$(git -C work rev-parse main)"
'

test_expect_success 'refused: a force-push that drops a released migration' '
	git -C work reset -q --hard origin/main &&
	git -C work rm -q -r $M/20260102000000_orders &&
	git -C work commit -q --amend -m "items, and orders gone" &&
	test_must_fail push -f origin main &&
	test_grep "remote: $M/20260102000000_orders: error: released-deleted:" push.out
'

test_expect_success 'accepted: a force-push that rewrites history but keeps every migration' '
	git -C work reset -q --hard origin/main &&
	git -C work commit -q --amend -m "items, reworded" &&
	push -f origin main &&
	test "$(git -C server.git rev-parse main)" = "$(git -C work rev-parse main)"
'

test_expect_success 'refused: an out-of-order migration; accepted with a later version' '
	test_migration work 20251201000000_old && test_commit work old &&
	test_must_fail push origin main &&
	test_grep "remote: $M/20251201000000_old: error: out-of-order:" push.out &&
	git -C work mv $M/20251201000000_old $M/20260104000000_old &&
	git -C work commit -q --amend -m "old, renumbered" &&
	push origin main
'

test_expect_success 'refused: two branches that added the same version, merged without conflict' '
	git -C work checkout -q -b left && test_migration work 20260110000000_left && test_commit work left &&
	git -C work checkout -q -b right main && test_migration work 20260110000000_right && test_commit work right &&
	git -C work checkout -q main &&
	git -C work merge -q --no-ff -m "merge left" left &&
	git -C work merge -q --no-ff -m "merge right" right &&
	test_must_fail push origin main &&
	test_grep "remote: $M/20260110000000_right: error: duplicate-version: version 20260110000000 is used by both 20260110000000_left and 20260110000000_right" push.out
'

test_expect_success 'refused: the same merge pushed one branch at a time' '
	git -C work reset -q --hard HEAD~1 &&
	push origin main &&
	git -C work merge -q --no-ff -m "merge right" right &&
	test_must_fail push origin main &&
	test_grep "remote: $M/20260110000000_right: error: version-collision: .*20260110000000_left" push.out &&
	git -C work reset -q --hard origin/main
'

test_expect_success 'static rules hold on the new tip too' '
	test_migration work 20260111000000_empty "-- nothing" && test_commit work empty &&
	test_must_fail push origin main &&
	test_grep "remote: $M/20260111000000_empty/up.sql: error: empty-up" push.out &&
	git -C work reset -q --hard origin/main
'

test_expect_success 'accepted: any push to a branch that is not a release ref' '
	git -C work checkout -q -b topic &&
	echo "-- edited on a topic branch" >>work/$M/20260101000000_users/up.sql &&
	test_commit work topic &&
	push origin topic &&
	test_grep ! "released-edited" push.out &&
	git -C work checkout -q main
'

test_expect_success 'a new release tag is checked as a ref creation' '
	git -C work tag v1.1 main &&
	push origin v1.1 &&
	test_grep "remote: cairn: checking refs/tags/v1.1 (new)" push.out &&
	git -C work tag v-bad topic &&
	test_must_fail push origin v-bad &&
	test_grep "remote: $M/20260101000000_users: error: released-edited" push.out
'

test_expect_success 'annotated release tags are checked through to their commit' '
	git -C work tag -a -m "release 1.2" v1.2 main &&
	push origin v1.2 &&
	test_grep "remote: cairn: checking refs/tags/v1.2 (new)" push.out &&
	test_grep "remote: cairn: refs/tags/v1.2: [0-9]* migrations checked" push.out &&
	git -C work tag -a -m "bad" v-bad-annotated topic &&
	test_must_fail push origin v-bad-annotated &&
	test_grep "remote: $M/20260101000000_users: error: released-edited" push.out
'

test_expect_success 'deleting a release tag whose migrations main still holds is accepted' '
	push origin :refs/tags/v1.1 &&
	test_must_fail git -C server.git rev-parse --verify -q refs/tags/v1.1
'

test_expect_success 'a push cannot unprotect the branch it updates' '
	sed -i "/^release_refs:$/,/^$/d" work/cairn.yaml &&
	printf "release_refs: [refs/tags/nothing]\n" >>work/cairn.yaml &&
	echo "-- edit" >>work/$M/20260102000000_orders/up.sql &&
	test_commit work unprotect &&
	test_must_fail push origin main &&
	test_grep "released-edited" push.out &&
	git -C work reset -q --hard origin/main
'

test_expect_success 'several refs in one push: each is checked, one refusal refuses the push' '
	test_migration work 20260120000000_ok && test_commit work ok &&
	git -C work tag v2.0 &&
	git -C work checkout -q -b rel-bad topic && git -C work tag v2.0-bad && git -C work checkout -q main &&
	test_must_fail push origin main v2.0 v2.0-bad &&
	test_grep "checking refs/heads/main" push.out &&
	test_grep "checking refs/tags/v2.0 " push.out &&
	test_grep "refs/tags/v2.0-bad: 1 error" push.out &&
	push origin main v2.0
'

test_expect_success 'deleting the only release of a migration is refused' '
	(cd work && git checkout -q -b hotfix v1.0) &&
	test_migration work 20260301000000_hotfix && test_commit work hotfix &&
	git -C work tag v1.0.1 &&
	push origin v1.0.1 &&
	test_must_fail push origin :refs/tags/v1.0.1 &&
	test_grep "remote: refs/tags/v1.0.1: error: release-ref-deleted: deleting release ref refs/tags/v1.0.1 would lose the only release of 1 migration (.20260301000000_hotfix.)" push.out &&
	git -C work checkout -q main
'

test_expect_success '--ref-update checks one update outside a hook, with JSON' '
	old=$(git -C work rev-parse v1.0) && new=$(git -C work rev-parse topic) &&
	(cd server.git && test_must_fail cairn check --ref-update $old $new refs/heads/main --format json >../out.json) &&
	python3 -c "
import json
d=json.load(open(\"out.json\"))
u=d[\"updates\"][0]
assert u[\"ref\"]==\"refs/heads/main\" and u[\"base\"][\"commit\"]==\"$old\", u
assert any(f[\"rule\"]==\"released-edited\" for f in u[\"findings\"]), u
assert d[\"errors\"]>=1
" &&
	(cd server.git && cairn check --ref-update $old $new refs/heads/topic 2>../err) &&
	test_grep "refs/heads/topic is not a release ref: nothing to check" err
'

test_expect_success 'a malformed pre-receive line is an environment error, not a pass' '
	(cd server.git && echo "garbage" | test_expect_code 6 cairn check --pre-receive 2>../err) &&
	test_grep "expected .OLD NEW REF." err
'

test_expect_success 'a project in a subdirectory: git config cairn.prefix on the server' '
	git init -q --bare mono.git &&
	(cd mono.git && cairn hooks install --pre-receive >/dev/null && git config cairn.prefix db) &&
	git init -q -b main mono && mkdir mono/db && (cd mono/db && cairn init >/dev/null) &&
	test_migration mono/db 20260101000000_a && test_commit mono a &&
	git -C mono remote add origin "file://$TRASH_DIRECTORY/mono.git" &&
	(cd mono && git push -q origin main 2>../push.out) &&
	echo "-- edit" >>mono/db/$M/20260101000000_a/up.sql && test_commit mono edit &&
	(cd mono && test_must_fail git push origin main >../push.out 2>&1) &&
	test_grep "remote: $M/20260101000000_a: error: released-edited" push.out
'

test_done
