#!/bin/sh
test_description='plain cairn check finds everything cairn build would refuse at HEAD, and says which bases it used and why'
. "$(dirname "$0")/test-lib.sh"

M=migrations
U=$M/20260101000000_users

# agree DIR: runs 'cairn build' and plain 'cairn check' in DIR. Every
# "path rule" pair build refuses with, check reports too, and when build
# refuses, check exits 1.
agree() {
	(cd "$1" && cairn build -o ../b.tgz >/dev/null 2>../build.err; echo $? >../build.rc) &&
	(cd "$1" && cairn check >../check.out 2>../check.err; echo $? >../check.rc) &&
	sed -n "s/^\([^ ]*\): error: \([a-z-]*\): .*/\1 \2/p" build.err | sort -u >build.rules &&
	sed -n "s/^\([^ ]*\): error: \([a-z-]*\): .*/\1 \2/p" check.out | sort -u >check.rules &&
	comm -23 build.rules check.rules >missing &&
	if test -s missing; then echo "check misses what build refuses:"; cat missing; return 1; fi &&
	if test "$(cat build.rc)" != 0; then test "$(cat check.rc)" = 1; fi
}

# a project whose main holds one released migration
released() {
	test_create_project "$1" &&
	test_migration "$1" 20260101000000_users && test_commit "$1" users
}

test_expect_success 'an edit of a released migration committed on main: build and check refuse it' '
	released a &&
	echo "-- edit" >>a/$U/up.sql && test_commit a edit &&
	agree a &&
	test "$(cat build.rc)" = 1 &&
	test_grep "^$U released-edited$" check.rules &&
	test_grep "$U: error: released-edited: .*(in HEAD, which .cairn build. would refuse)" check.out &&
	test_grep "cairn: base: [0-9a-f]\{12\} (merge base of HEAD and refs/heads/main, which is HEAD itself: what the work tree changes since HEAD)" check.err &&
	test_grep "cairn: HEAD as .cairn build. checks it: base: $(git -C a rev-parse --short=12 HEAD~1) (first parent of HEAD, which is already in refs/heads/main)" check.err
'

test_expect_success 'the JSON form names both bases' '
	(cd a && test_must_fail --exit=1 cairn check --format json >../out) &&
	test_grep "\"base\":{\"commit\":\"$(git -C a rev-parse HEAD)\",\"how\":\"merge base of HEAD and refs/heads/main, which is HEAD itself" out &&
	test_grep "\"head_base\":{\"commit\":\"$(git -C a rev-parse HEAD~1)\",\"how\":\"first parent of HEAD, which is already in refs/heads/main\"}" out &&
	test_grep "\"rule\":\"released-edited\"" out
'

test_expect_success 'the same on a detached HEAD (a CI checkout of main)' '
	git -C a checkout -q --detach main &&
	agree a && test "$(cat check.rc)" = 1 &&
	git -C a checkout -q main
'

test_expect_success 'a released migration deleted, or renamed, on main' '
	released d && git -C d rm -q -r $U && test_commit d delete &&
	agree d && test_grep "^$U released-deleted$" check.rules &&
	released r && git -C r mv $U $M/20260101000000_people && test_commit r rename &&
	agree r && test_grep "^$U released-renamed$" check.rules
'

test_expect_success 'a late migration with an older version committed on main: out-of-order' '
	released o && test_migration o 20251231000000_late && test_commit o late &&
	agree o && test_grep "^$M/20251231000000_late out-of-order$" check.rules
'

test_expect_success 'a release branch: released on release/1, edited in a later commit there' '
	released rb &&
	sed -i "s|^  - refs/tags/v\*|  - refs/heads/release/*|" rb/cairn.yaml && test_commit rb cfg &&
	git -C rb checkout -q -b release/1 &&
	test_migration rb 20260102000000_fix && test_commit rb fix &&
	echo "-- edit" >>rb/$M/20260102000000_fix/up.sql && test_commit rb edit &&
	agree rb && test "$(cat build.rc)" = 1 &&
	test_grep "^$M/20260102000000_fix released-edited$" check.rules &&
	test_grep "HEAD as .cairn build. checks it: base: [0-9a-f]* (first parent of HEAD, which is already in refs/heads/release/1)" check.err
'

test_expect_success 'a broken HEAD with the fix still uncommitted: check says HEAD would not build' '
	released f && git -C f checkout -q -b topic &&
	test_migration f 20260102000000_orders && rm f/$M/20260102000000_orders/down.sql &&
	test_commit f orders &&
	test_migration f 20260102000000_orders &&
	agree f && test "$(cat build.rc)" = 1 &&
	test_grep "$M/20260102000000_orders: error: missing-down: .*(in HEAD, which .cairn build. would refuse)" check.out &&
	git -C f add -A && git -C f commit -q -m fix &&
	agree f && test "$(cat build.rc)" = 0 && test "$(cat check.rc)" = 0
'

test_expect_success 'passing neighbours: clean histories build and check alike' '
	released g && test_migration g 20260102000000_orders && test_commit g orders &&
	agree g && test "$(cat build.rc)" = 0 && test "$(cat check.rc)" = 0 &&
	git -C g checkout -q -b topic && test_migration g 20260103000000_more && test_commit g more &&
	agree g && test "$(cat build.rc)" = 0 && test "$(cat check.rc)" = 0 &&
	test_grep "cairn: base: [0-9a-f]* (merge base of HEAD and refs/heads/main)$" check.err &&
	test_grep "HEAD as .cairn build. checks it: base: [0-9a-f]* (merge base of HEAD and refs/heads/main)$" check.err
'

test_expect_success 'a project HEAD does not hold yet: no HEAD pass, the work tree alone' '
	git init -q n && test_migration n 20260101000000_x && echo x >n/README && test_commit n readme &&
	(cd n && cairn init >/dev/null && cairn check >../out 2>../err) &&
	test_grep ! "HEAD as .cairn build. checks it" err &&
	test_grep "1 migration checked" err
'

# git runs no pre-commit hook for these; what is left to catch them
test_expect_success 'cherry-pick, rebase and a fast-forward merge pass no hook: plain check and build catch them' '
	released h && (cd h && cairn hooks install >/dev/null) &&
	git -C h checkout -q -b topic &&
	echo "-- edit" >>h/$U/up.sql && git -C h commit -q --no-verify -a -m "bad edit" &&
	git -C h checkout -q main && echo x >h/README && git -C h add README && git -C h commit -q -m readme &&
	git -C h cherry-pick topic >/dev/null 2>&1 &&
	test "$(git -C h log -1 --format=%s)" = "bad edit" &&
	agree h && test "$(cat check.rc)" = 1 && test_grep "^$U released-edited$" check.rules &&
	git -C h reset -q --hard HEAD~1 &&
	git -C h checkout -q topic && git -C h rebase -q main >/dev/null 2>&1 &&
	test "$(git -C h log -1 --format=%s)" = "bad edit" &&
	agree h && test "$(cat check.rc)" = 1 && test_grep "^$U released-edited$" check.rules &&
	git -C h checkout -q main && git -C h merge -q --ff-only topic &&
	agree h && test "$(cat check.rc)" = 1 && test_grep "^$U released-edited$" check.rules
'

test_expect_success 'check --ref HEAD and build run the same rules (release branch included)' '
	(cd rb && test_must_fail --exit=1 cairn check --ref HEAD >../out 2>../err) &&
	test_grep "20260102000000_fix: error: released-edited" out &&
	test_grep "base: [0-9a-f]* (first parent of HEAD, which is already in refs/heads/release/1)" err
'

test_done
