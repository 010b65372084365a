#!/bin/sh
test_description='check --staged reads the index git hands the hook: every form of git commit, worktrees, split and sparse indexes, GIT_* by hand'
. "$(dirname "$0")/test-lib.sh"

M=migrations
U=$M/20260101000000_users

# refused REPO CMD...: the commit is refused by cairn's hook, naming the
# rule, and the repository's HEAD and its copy of the released migration
# are what they were.
refused() {
	r=$1 && shift &&
	before=$(git -C "$r" rev-parse HEAD) &&
	blob=$(git -C "$r" rev-parse "HEAD:$U/up.sql") &&
	test_must_fail "$@" 2>err &&
	test_grep "$U: error: released-edited" err &&
	test "$(git -C "$r" rev-parse HEAD)" = "$before" &&
	test "$(git -C "$r" rev-parse "HEAD:$U/up.sql")" = "$blob"
}

# restore REPO: back to HEAD, index and work tree
restore() {
	git -C "$1" reset -q --hard HEAD
}

test_expect_success 'setup: a released migration, hooks installed' '
	test_create_project p &&
	test_migration p 20260101000000_users && test_commit p users &&
	(cd p && cairn hooks install >/dev/null) &&
	test_grep "check --staged" p/.git/hooks/pre-commit
'

test_expect_success 'git add, then git commit: refused (the plain index)' '
	echo "-- edit" >>p/$U/up.sql && git -C p add -A &&
	refused p git -C p commit -q -m edit &&
	restore p
'

test_expect_success 'git commit -a: refused (git hands the hook .git/index.lock)' '
	echo "-- edit" >>p/$U/up.sql &&
	refused p git -C p commit -q -a -m edit &&
	restore p
'

test_expect_success 'git commit FILE: refused (a temporary next-index)' '
	echo "-- edit" >>p/$U/up.sql &&
	refused p git -C p commit -q -m edit $U/up.sql &&
	refused p git -C p commit -q -m edit -- $M &&
	restore p
'

test_expect_success 'git commit -i FILE: refused' '
	echo "-- edit" >>p/$U/up.sql &&
	refused p git -C p commit -q -i -m edit $U/up.sql &&
	restore p
'

test_expect_success 'git commit --amend -a: refused' '
	test_migration p 20260102000000_orders && test_commit p orders &&
	echo "-- edit" >>p/$U/up.sql &&
	refused p git -C p commit -q --amend -a --no-edit &&
	restore p
'

test_expect_success 'git commit -p: refused' '
	echo "-- edit" >>p/$U/up.sql &&
	printf "y\n" | refused p git -C p commit -q -p -m edit &&
	restore p
'

test_expect_success 'from a subdirectory, git commit -a: refused' '
	echo "-- edit" >>p/$U/up.sql &&
	(cd p/$M && refused .. git commit -q -a -m edit) &&
	restore p
'

test_expect_success 'passing neighbour: a new migration goes through in each form' '
	git -C p checkout -q -b work &&
	test_migration p 20260103000000_a && git -C p add $M/20260103000000_a &&
	git -C p commit -q -m a &&
	echo "-- comment" >>p/$M/20260103000000_a/up.sql &&
	git -C p commit -q -a -m a2 &&
	echo "-- more" >>p/$M/20260103000000_a/up.sql &&
	git -C p commit -q -m a3 $M/20260103000000_a/up.sql &&
	test "$(git -C p log -1 --format=%s)" = a3
'

test_expect_success 'and an unstaged edit is not what git commits: commit FILE of another file passes' '
	echo "-- edit" >>p/$U/up.sql &&
	echo "-- more" >>p/$M/20260103000000_a/up.sql &&
	git -C p commit -q -m a4 $M/20260103000000_a/up.sql &&
	test "$(git -C p log -1 --format=%s)" = a4 &&
	test "$(git -C p rev-parse HEAD:$U/up.sql)" = "$(git -C p rev-parse main:$U/up.sql)" &&
	restore p
'

test_expect_success 'a linked worktree (GIT_DIR is set for its hook): commit -a and add+commit refused' '
	git -C p worktree add -q ../wt -b topic &&
	echo "-- edit" >>wt/$U/up.sql &&
	refused wt git -C wt commit -q -a -m edit &&
	git -C wt add -A && refused wt git -C wt commit -q -m edit &&
	restore wt &&
	test_migration wt 20260104000000_b && git -C wt add -A && git -C wt commit -q -m b &&
	test "$(git -C wt log -1 --format=%s)" = b
'

test_expect_success 'core.hooksPath: commit -a refused through the hook installed there' '
	git -C p config core.hooksPath .githooks &&
	(cd p && cairn hooks install >/dev/null) && test -x p/.githooks/pre-commit &&
	echo "-- edit" >>p/$U/up.sql &&
	refused p git -C p commit -q -a -m edit &&
	restore p && rm -rf p/.githooks && git -C p config --unset core.hooksPath
'

test_expect_success 'a split index: commit -a, commit FILE and add+commit refused' '
	git -C p config core.splitIndex true && git -C p update-index --split-index &&
	ls p/.git/sharedindex.* >/dev/null &&
	echo "-- edit" >>p/$U/up.sql &&
	refused p git -C p commit -q -a -m edit &&
	refused p git -C p commit -q -m edit $U/up.sql &&
	git -C p add -A && refused p git -C p commit -q -m edit &&
	restore p
'

test_expect_success 'a split index with entries added, replaced and deleted since the shared one' '
	test_migration p 20260105000000_c && git -C p add -A &&
	git -C p rm -q --cached $M/20260103000000_a/down.sql &&
	echo "-- x" >>p/$M/20260104000000_none.txt && git -C p add $M/20260104000000_none.txt &&
	(cd p && test_must_fail --exit=1 cairn check --staged >../out 2>&1) &&
	test_grep "20260103000000_a: error: missing-down" out &&
	test_grep "20260104000000_none.txt: warning: stray-file" out &&
	test_grep "in 4 migrations (index)" out &&
	git -C p rm -q --cached $M/20260104000000_none.txt && git -C p add -A &&
	(cd p && cairn check --staged >../out 2>../err) &&
	test_grep "4 migrations checked" err &&
	git -C p commit -q -m c && restore p &&
	git -C p config core.splitIndex false && git -C p update-index --no-split-index
'

test_expect_success 'index version 4 (feature.manyFiles): commit -a refused, good commit passes' '
	git -C p update-index --index-version 4 &&
	echo "-- edit" >>p/$U/up.sql &&
	refused p git -C p commit -q -a -m edit &&
	restore p &&
	git -C p update-index --index-version 4 &&
	test_migration p 20260106000000_d && git -C p add -A && git -C p commit -q -m d &&
	test "$(git -C p log -1 --format=%s)" = d &&
	git -C p update-index --index-version 2
'

test_expect_success 'a sparse checkout with a sparse index: migrations inside the cone' '
	mkdir p/docs && echo doc >p/docs/a.txt && test_commit p docs &&
	git -C p sparse-checkout init --cone --sparse-index &&
	git -C p sparse-checkout set $M &&
	git -C p ls-files --sparse >ls && test_grep "^docs/$" ls &&
	echo "-- edit" >>p/$U/up.sql &&
	refused p git -C p commit -q -a -m edit &&
	restore p
'

test_expect_success 'a sparse index with migrations outside the cone: a commit elsewhere passes, all migrations seen' '
	git -C p sparse-checkout set app &&
	mkdir -p p/app && echo x >p/app/x && test_commit p app &&
	git -C p ls-files --sparse >ls && test_grep "^$M/$" ls && test ! -e p/$U &&
	echo y >>p/app/x && git -C p commit -q -a -m app2 2>err &&
	test "$(git -C p log -1 --format=%s)" = app2 &&
	(cd p && cairn check --staged >../out 2>../err) &&
	test_grep "5 migrations checked" err &&
	git -C p sparse-checkout disable
'

test_expect_success 'plain check and list in a sparse checkout: what is not checked out is not deleted' '
	git -C p sparse-checkout init --cone --no-sparse-index &&
	git -C p sparse-checkout set app && test ! -e p/$U &&
	git -C p ls-files -t >ls && test_grep "^S $U/up.sql" ls &&
	(cd p && cairn check >../out 2>../err) &&
	test_grep "5 migrations checked, 1 warning (work tree)" err &&
	(cd p && cairn list >../out) && test_line_count = 5 out &&
	git -C p sparse-checkout init --cone --sparse-index &&
	git -C p ls-files --sparse >ls && test_grep "^$M/$" ls &&
	(cd p && cairn check >../out 2>../err) &&
	test_grep "5 migrations checked, 1 warning (work tree)" err &&
	git -C p sparse-checkout disable
'

test_expect_success 'by hand: GIT_INDEX_FILE relative (to the top, as git reads it) or absolute' '
	cp p/.git/index alt-index &&
	echo "-- edit" >>p/$U/up.sql &&
	GIT_INDEX_FILE="$PWD/alt-index" git -C p add $U/up.sql &&
	(cd p && cairn check --staged >../out 2>&1) &&
	(cd p && test_must_fail --exit=1 env GIT_INDEX_FILE="$TRASH_DIRECTORY/alt-index" cairn check --staged >../err 2>&1) &&
	test_grep "released-edited" err &&
	cp alt-index p/.git/alt-index &&
	(cd p/$M && test_must_fail --exit=1 env GIT_INDEX_FILE=.git/alt-index cairn check --staged >../../err 2>&1) &&
	test_grep "released-edited" err &&
	(cd p && test_must_fail --exit=1 env GIT_INDEX_FILE=.git/alt-index cairn check --staged >../err 2>&1) &&
	test_grep "released-edited" err &&
	restore p && rm p/.git/alt-index
'

test_expect_success 'by hand: GIT_DIR and GIT_WORK_TREE name a repository kept apart from its files' '
	git init -q --bare store.git && mkdir tree &&
	(cd tree && cairn init >/dev/null) && test_migration tree 20260101000000_users &&
	GIT_DIR=store.git GIT_WORK_TREE=tree git add -A &&
	GIT_DIR=store.git GIT_WORK_TREE=tree git commit -q -m one &&
	GIT_DIR=store.git GIT_WORK_TREE=tree git branch -M main &&
	echo "-- edit" >>tree/$U/up.sql &&
	GIT_DIR=store.git GIT_WORK_TREE=tree git add -A &&
	(cd tree && test_must_fail --exit=6 env GIT_CEILING_DIRECTORIES="$TRASH_DIRECTORY" cairn check --staged 2>../err) &&
	test_grep "is not in a git repository" err &&
	(cd tree && test_must_fail --exit=1 env GIT_DIR=../store.git GIT_WORK_TREE=. cairn check --staged >../err 2>&1) &&
	test_grep "$U: error: released-edited" err &&
	test_must_fail --exit=1 env GIT_DIR="$PWD/store.git" GIT_WORK_TREE="$PWD/tree" cairn -C tree check --staged >err 2>&1 &&
	test_grep "released-edited" err &&
	(cd tree && test_must_fail --exit=6 env GIT_DIR=../store.git cairn check --staged 2>../err) &&
	test_grep "in a bare repository" err
'

test_expect_success 'by hand: GIT_COMMON_DIR that matches is used, one that does not is refused' '
	(cd wt && test_must_fail --exit=6 env GIT_COMMON_DIR=../store.git cairn check --staged 2>../err) &&
	test_grep "GIT_COMMON_DIR .* is not the common directory" err &&
	(cd p && GIT_COMMON_DIR=.git cairn check --staged 2>../err) &&
	test_grep "migrations checked" err
'

test_expect_success 'by hand: a GIT_DIR that is no repository is an error, never the wrong repository' '
	(cd p && test_must_fail --exit=6 env GIT_DIR=/nonexistent cairn check --staged 2>../err) &&
	test_grep "GIT_DIR ./nonexistent. is not a git repository" err
'

test_done
