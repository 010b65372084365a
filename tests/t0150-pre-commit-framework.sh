#!/bin/sh
test_description='the shipped .pre-commit-hooks.yaml, run by the real pre-commit framework, refuses what the cairn hook refuses'
. "$(dirname "$0")/test-lib.sh"

M=migrations
U=$M/20260101000000_users

if ! command -v pre-commit >/dev/null 2>&1; then
	if test "${CI:-}" = true; then
		say "not ok - pre-commit (the framework) is not installed (CI=true: never skipped; 'make deps')"
		test_failure=1
		test_done
	fi
	say "# SKIP $TEST_NAME: no pre-commit framework (run 'make deps')"
	test_done
fi
# the framework's clones and environments stay in the trash directory;
# no network: the hook repository is a local path, language: system
export PRE_COMMIT_HOME="$TRASH_DIRECTORY/pre-commit-home"

test_expect_success 'setup: a hook repository holding the shipped .pre-commit-hooks.yaml' '
	git init -q hooks &&
	cp "$SRC_DIR/.pre-commit-hooks.yaml" hooks/ &&
	test_commit hooks manifest &&
	pre-commit validate-manifest hooks/.pre-commit-hooks.yaml
'

test_expect_success 'setup: a project using it through a local repo entry' '
	test_create_project p &&
	test_migration p 20260101000000_users &&
	printf "repos:\n- repo: %s\n  rev: %s\n  hooks:\n  - id: cairn-check\n" \
		"$TRASH_DIRECTORY/hooks" "$(git -C hooks rev-parse HEAD)" >p/.pre-commit-config.yaml &&
	(cd p && pre-commit validate-config .pre-commit-config.yaml) &&
	test_commit p users &&
	(cd p && pre-commit install >../out) &&
	test_grep "pre-commit installed" out &&
	test_grep ! "cairn-hook" p/.git/hooks/pre-commit
'

# refused CMD...: the framework ran cairn, which refused; nothing committed
refused() {
	before=$(git -C p rev-parse HEAD) &&
	test_must_fail "$@" >out 2>&1 &&
	test_grep "hook id: cairn-check" out &&
	test_grep "$U: error: released-edited" out &&
	test "$(git -C p rev-parse HEAD)" = "$before" &&
	test "$(git -C p log -1 --format=%s)" = users
}

test_expect_success 'git add + git commit of an edited released migration: refused' '
	echo "-- edit" >>p/$U/up.sql && git -C p add -A &&
	refused git -C p commit -q -m edit &&
	git -C p reset -q --hard HEAD
'

test_expect_success 'git commit -a: refused as well' '
	echo "-- edit" >>p/$U/up.sql &&
	refused git -C p commit -q -a -m edit &&
	git -C p reset -q --hard HEAD
'

test_expect_success 'git commit FILE: refused as well' '
	echo "-- edit" >>p/$U/up.sql &&
	refused git -C p commit -q -m edit $U/up.sql &&
	git -C p reset -q --hard HEAD
'

test_expect_success 'passing neighbour: a new migration goes through the framework' '
	test_migration p 20260102000000_orders &&
	git -C p add -A && git -C p commit -q -m orders >out 2>&1 &&
	test_grep "cairn check.*Passed" out &&
	test "$(git -C p log -1 --format=%s)" = orders
'

test_expect_success 'and a commit touching no migration skips the hook' '
	echo "# notes" >p/README && git -C p add README &&
	git -C p commit -q -m readme >out 2>&1 &&
	test_grep "cairn check.*Skipped" out
'

test_done
