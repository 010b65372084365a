#!/bin/sh
test_description='history rules on migrations/callbacks/ (ops20d): a callback the base released must not change (check, check --staged, the pre-commit hook on git commit -a and --amend, build); one added or deleted is reported'
. "$(dirname "$0")/test-lib.sh"

C=migrations/callbacks

test_expect_success 'setup: a released migration and callback on main, hooks installed' '
	test_create_project p &&
	git -C p config user.email t@example.com && git -C p config user.name t &&
	test_migration p 20260101000000_users &&
	mkdir -p p/$C &&
	echo "INSERT INTO t_20260101000000_users VALUES (1);" >p/$C/before_each.sql &&
	test_commit p released &&
	git -C p branch -M main &&
	(cd p && cairn hooks install >../out) &&
	test_grep "pre-commit: installed" out &&
	(cd p && cairn check >../out 2>&1)
'

test_expect_success 'an edited released callback is an error of cairn check, with the way out' '
	echo "INSERT INTO t_20260101000000_users VALUES (2);" >p/$C/before_each.sql &&
	(cd p && test_must_fail cairn check >../out 2>&1) &&
	test_grep "^$C/before_each.sql: error: released-edited: callback .before_each.sql. was released (the base, commit [0-9a-f]*, holds another text) and must not change.*git checkout [0-9a-f]* -- $C/before_each.sql" out
'

test_expect_success 'git commit -a is refused by the pre-commit hook; nothing is committed' '
	test_must_fail git -C p commit -q -a -m edit 2>err &&
	test_grep "$C/before_each.sql: error: released-edited" err &&
	test "$(git -C p rev-list --count HEAD)" = 1 &&
	git -C p show HEAD:$C/before_each.sql >text &&
	echo "INSERT INTO t_20260101000000_users VALUES (1);" >want && test_cmp want text
'

test_expect_success 'git commit --amend of the release commit with the edit is refused too' '
	git -C p add -A &&
	test_must_fail git -C p commit -q --amend -m amended 2>err &&
	test_grep "$C/before_each.sql: error: released-edited" err &&
	test "$(git -C p log -1 --format=%s)" = released
'

test_expect_success 'cairn build of a branch commit that edits it is refused' '
	git -C p checkout -q -b edit &&
	git -C p -c core.hooksPath=/dev/null commit -q -a -m "edit, hook bypassed" &&
	(cd p && test_must_fail cairn build -o ../b.tar.gz >../out 2>&1) &&
	test_grep "$C/before_each.sql: error: released-edited" out &&
	test ! -e b.tar.gz &&
	git -C p checkout -q main &&
	git -C p branch -q -D edit
'

test_expect_success 'an added callback and a deleted one are reported (warnings), and commit' '
	git -C p checkout -q -f main -- . &&
	echo "SELECT 1;" >p/$C/after_migrate.sql &&
	git -C p rm -q $C/before_each.sql &&
	git -C p add -A &&
	(cd p && cairn check --staged >../out 2>&1) &&
	test_grep "^$C/after_migrate.sql: warning: callback-added: callback .after_migrate.sql. is new since the base" out &&
	test_grep "^$C/before_each.sql: warning: callback-deleted: callback .before_each.sql. of the base (commit [0-9a-f]*) is deleted" out &&
	git -C p commit -q -m "callbacks changed" &&
	test "$(git -C p rev-list --count HEAD)" = 2
'

test_expect_success 'on the next commit the kept callback passes without a finding of its own' '
	echo "SELECT 2;" >p/$C/on_error.sql &&
	test_commit p on_error &&
	(cd p && cairn check --staged >../out 2>&1) &&
	test_grep ! "after_migrate" out &&
	test_grep ! "error" out
'

test_expect_success 'a warning found only in HEAD is not called a refusal of cairn build' '
	git -C p checkout -q -b warn &&
	echo "SELECT 3;" >p/$C/after_each.sql &&
	test_commit p after_each &&
	rm p/$C/after_each.sql &&
	(cd p && cairn check >../out 2>&1) &&
	test_grep "^$C/after_each.sql: warning: callback-added: .* (in HEAD)$" out &&
	test_grep ! "would refuse" out &&
	git -C p checkout -q -f main &&
	git -C p branch -q -D warn
'

# A release tag off the base's line (a release cut from a branch, or a
# maintenance line) carried a callback: it was released there, so the
# checked text must be that one (ops20e), as a migration such a ref
# holds must be identical.
test_expect_success 'a callback a release tag off the base carried: the same text passes, an edit is released-edited, git commit -a refused' '
	git -C p checkout -q -b rel main &&
	echo "SELECT 10;" >p/$C/before_migrate.sql &&
	git -C p add -A && git -C p commit -q -m "rel: before_migrate" &&
	git -C p tag v1.0 &&
	git -C p checkout -q -b feat main &&
	git -C p checkout v1.0 -- $C/before_migrate.sql &&
	(cd p && cairn check --staged >../out 2>&1) &&
	test_grep ! "released-edited" out &&
	git -C p commit -q -m "before_migrate as v1.0 released it" &&
	echo "SELECT 11;" >p/$C/before_migrate.sql &&
	test_must_fail git -C p commit -q -a -m edit 2>err &&
	test_grep "$C/before_migrate.sql: error: released-edited: callback .before_migrate.sql. was released in refs/tags/v1.0 (commit [0-9a-f]*) with another text and must not change.*git checkout [0-9a-f]* -- $C/before_migrate.sql" err &&
	git -C p show HEAD:$C/before_migrate.sql >text &&
	echo "SELECT 10;" >want && test_cmp want text &&
	(cd p && test_must_fail cairn check >../out 2>&1) &&
	test_grep "released-edited: callback .before_migrate.sql. was released in refs/tags/v1.0" out
'

test_expect_success 'the commit that brings another text than a release tag off the line is refused; later ones, the base holding it, pass' '
	git -C p checkout -q -f feat &&
	git -C p checkout -q -b later main &&
	echo "SELECT 12;" >p/$C/before_migrate.sql &&
	git -C p add -A && git -C p -c core.hooksPath=/dev/null commit -q -m "other text" &&
	git -C p checkout -q main && git -C p merge -q --ff-only later &&
	(cd p && test_must_fail cairn check >../out 2>&1) &&
	test_grep "released-edited: callback .before_migrate.sql. was released in refs/tags/v1.0" out &&
	echo "SELECT 3;" >p/$C/after_each.sql &&
	git -C p add -A && git -C p commit -q -m "after_each" &&
	(cd p && cairn check >../out 2>&1) &&
	test_grep ! "released-edited" out
'

test_done
