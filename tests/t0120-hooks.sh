#!/bin/sh
test_description='cairn hooks install: pre-commit and pre-receive hooks, hooksPath, never clobbering'
. "$(dirname "$0")/test-lib.sh"

M=migrations

test_expect_success 'setup: a project with a released migration' '
	test_create_project p &&
	test_migration p 20260101000000_users && test_commit p users
'

test_expect_success 'install writes an executable pre-commit hook that names itself' '
	(cd p && cairn hooks install >../out) &&
	test_grep "hooks/pre-commit: installed" out &&
	test -x p/.git/hooks/pre-commit &&
	test_grep "^# cairn-hook: pre-commit" p/.git/hooks/pre-commit &&
	test_grep "check --staged" p/.git/hooks/pre-commit
'

test_expect_success 'the installed hook is the shipped script, with this cairn filled in' '
	sed -e "s|^cairn=\"\${CAIRN:-.*}\"|cairn=\"\${CAIRN:-cairn}\"|" p/.git/hooks/pre-commit >got &&
	test_cmp "$SRC_DIR/hooks/pre-commit" got &&
	test_grep "CAIRN:-$SRC_DIR/bin/cairn" p/.git/hooks/pre-commit
'

test_expect_success 'and the same for git merge (pre-merge-commit)' '
	test -x p/.git/hooks/pre-merge-commit &&
	sed -e "s|^cairn=\"\${CAIRN:-.*}\"|cairn=\"\${CAIRN:-cairn}\"|" p/.git/hooks/pre-merge-commit >got &&
	test_cmp "$SRC_DIR/hooks/pre-merge-commit" got
'

test_expect_success 'installing again is harmless' '
	(cd p && cairn hooks install >../out) &&
	test_grep "pre-commit: up to date" out &&
	test_grep "pre-merge-commit: up to date" out
'

test_expect_success 'git commit is refused by the hook, naming the rule' '
	echo "-- edit" >>p/$M/20260101000000_users/up.sql &&
	git -C p add -A &&
	test_must_fail git -C p commit -q -m edit 2>err &&
	test_grep "$M/20260101000000_users: error: released-edited" err &&
	test "$(git -C p rev-list --count HEAD)" = 1
'

test_expect_success 'passing neighbour: a good commit goes through the hook' '
	git -C p checkout -q -f HEAD -- . &&
	test_migration p 20260102000000_orders &&
	git -C p add -A && git -C p commit -q -m orders 2>err &&
	test "$(git -C p rev-list --count HEAD)" = 2
'

test_expect_success 'git merge of two branches adding the same version is refused by the hook' '
	git -C p checkout -q -b one && test_migration p 20260110000000_one &&
	git -C p add -A && git -C p commit -q -m one &&
	git -C p checkout -q -b two main && test_migration p 20260110000000_two &&
	git -C p add -A && git -C p commit -q -m two &&
	git -C p checkout -q main && git -C p merge -q --no-ff -m "merge one" one &&
	test_must_fail git -C p merge --no-ff -m "merge two" two >out 2>err &&
	test_grep "20260110000000_two: error: version-collision" err &&
	test "$(git -C p log -1 --format=%s)" = "merge one" &&
	git -C p merge --abort
'

test_expect_success 'a hook cairn did not write is never replaced without --force' '
	printf "#!/bin/sh\necho mine\n" >p/.git/hooks/pre-commit &&
	(cd p && test_must_fail --exit=1 cairn hooks install 2>../err) &&
	test_grep "not replacing .*pre-commit.: cairn did not write it; add .cairn check --staged. to it yourself, or use --force" err &&
	test_grep "echo mine" p/.git/hooks/pre-commit &&
	(cd p && cairn hooks install --force >../out) &&
	test_grep "cairn-backup" out &&
	test_grep "echo mine" p/.git/hooks/pre-commit.cairn-backup &&
	test_grep "cairn-hook" p/.git/hooks/pre-commit
'

test_expect_success 'core.hooksPath is honoured, relative to the work tree' '
	git -C p config core.hooksPath .githooks &&
	(cd p/$M && cairn hooks install >../../out) &&
	test -x p/.githooks/pre-commit &&
	echo "-- edit" >>p/$M/20260101000000_users/up.sql && git -C p add -A &&
	test_must_fail git -C p commit -q -m edit 2>err &&
	test_grep "released-edited" err &&
	git -C p checkout -q -f HEAD -- .
'

test_expect_success 'uninstall removes only hooks cairn wrote' '
	(cd p && cairn hooks uninstall >../out) &&
	test_grep "removed" out && test ! -e p/.githooks/pre-commit &&
	test ! -e p/.githooks/pre-merge-commit &&
	git -C p config --unset core.hooksPath &&
	printf "#!/bin/sh\n" >p/.git/hooks/pre-commit &&
	(cd p && test_must_fail cairn hooks uninstall 2>../err) &&
	test_grep "not removing" err && test -e p/.git/hooks/pre-commit
'

test_expect_success 'a project in a subdirectory: the hook runs cairn there' '
	git init -q mono && mkdir mono/db && (cd mono/db && cairn init >/dev/null) &&
	test_migration mono/db 20260101000000_a && test_commit mono a &&
	(cd mono/db && cairn hooks install >/dev/null) &&
	test_grep "-C .db. check --staged" mono/.git/hooks/pre-commit &&
	echo "-- x" >>mono/db/$M/20260101000000_a/up.sql && git -C mono add -A &&
	test_must_fail git -C mono commit -q -m x 2>err &&
	test_grep "released-edited" err
'

test_expect_success 'pre-receive in a bare repository; pre-commit is refused there' '
	git init -q --bare srv.git &&
	(cd srv.git && cairn hooks install >../out) &&
	test -x srv.git/hooks/pre-receive &&
	sed -e "s|^cairn=\"\${CAIRN:-.*}\"|cairn=\"\${CAIRN:-cairn}\"|" srv.git/hooks/pre-receive >got &&
	test_cmp "$SRC_DIR/hooks/pre-receive" got &&
	(cd srv.git && test_expect_code 2 cairn hooks install --pre-commit 2>../err) &&
	test_grep "install --pre-receive here" err
'

test_expect_success 'the very first commit of a repository passes the hook' '
	git init -q first && (cd first && cairn init >/dev/null && cairn hooks install >/dev/null) &&
	test_migration first 20260101000000_a &&
	git -C first add -A && git -C first commit -q -m first 2>err &&
	test "$(git -C first rev-list --count HEAD)" = 1
'

test_expect_success 'no project: install says how to make one' '
	git init -q bare-dir &&
	(cd bare-dir && test_expect_code 6 cairn hooks install 2>../err) &&
	test_grep "run .cairn init. first" err
'

test_expect_success 'usage errors' '
	test_expect_code 2 cairn hooks 2>err && test_grep "install or uninstall" err &&
	test_expect_code 2 cairn hooks frob 2>err && test_grep "unknown action .frob." err
'

test_expect_success '.pre-commit-hooks.yaml declares the hook for the pre-commit framework' '
	f="$SRC_DIR/.pre-commit-hooks.yaml" &&
	test_grep "^- id: cairn-check" "$f" &&
	test_grep "entry: cairn check --staged" "$f" &&
	test_grep "pass_filenames: false" "$f" &&
	test_grep "language: system" "$f"
'

test_done
