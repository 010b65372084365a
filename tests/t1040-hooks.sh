#!/bin/sh
test_description='hooks: {before, after, on_error}: host commands around an apply, with the run in their environment'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"

test_expect_success 'setup: a good bundle and a failing one' '
	apply_project p &&
	apply_table p 0001_users &&
	apply_build p "$TRASH_DIRECTORY/v1.tar.gz" &&
	apply_mig p 0002_bad "INSERT INTO no_such_table VALUES (1);" "SELECT 1;" &&
	apply_build p "$TRASH_DIRECTORY/v2.tar.gz"
'

test_expect_success 'a failing before hook stops the run before anything is applied' '
	apply_config "hooks: { before: \"echo ran >before.out; exit 3\", after: \"touch after.out\" }" &&
	test_expect_code 1 cairn-apply apply v1.tar.gz --env dev >out 2>err &&
	test_grep "the before hook exited 3: nothing was applied; the database is unchanged" err &&
	test -f before.out && test ! -f after.out &&
	q db "SELECT count(*) FROM sqlite_master WHERE name = '"'"'t_0001_users'"'"'" >n &&
	echo 0 >want && test_cmp want n
'

test_expect_success 'before and after see the run: bundle, environment, versions, outcome' '
	apply_config "hooks: { before: \"env | grep ^CAIRN_ | sort >before.env\", after: \"env | grep ^CAIRN_ | sort >after.env\" }" &&
	cairn-apply apply v1.tar.gz --env dev >out &&
	id=$(q db "SELECT bundle_id FROM cairn_migrations WHERE version = '"'"'0001'"'"'") &&
	test_grep "^CAIRN_HOOK=before$" before.env &&
	test_grep "^CAIRN_OUTCOME=pending$" before.env &&
	test_grep "^CAIRN_BUNDLE_ID=$id$" before.env &&
	test_grep "^CAIRN_ENV=dev$" before.env &&
	test_grep "^CAIRN_BUNDLE=v1.tar.gz$" before.env &&
	test_grep "^CAIRN_HOOK=after$" after.env &&
	test_grep "^CAIRN_OUTCOME=success$" after.env &&
	test_grep "^CAIRN_FROM_VERSION=$" after.env &&
	test_grep "^CAIRN_TO_VERSION=0001$" after.env
'

test_expect_success 'on_error runs when a migration fails, with the exit code; the run still exits 1' '
	apply_config "hooks: { on_error: \"env | grep ^CAIRN_ | sort >error.env\", after: \"touch after2.out\" }" &&
	test_expect_code 1 cairn-apply apply v2.tar.gz --env dev >out 2>err &&
	test_grep "^CAIRN_HOOK=on_error$" error.env &&
	test_grep "^CAIRN_OUTCOME=failed$" error.env &&
	test_grep "^CAIRN_ERROR=1$" error.env &&
	test_grep "^CAIRN_FROM_VERSION=0001$" error.env &&
	test ! -f after2.out
'

test_expect_success 'a hook past its timeout is killed, with what it started' '
	apply_config "hooks: { before: \"sleep 30 & echo \$! >child.pid; wait\", timeout: 1s }" &&
	start=$(date +%s) &&
	test_expect_code 1 cairn-apply apply v1.tar.gz --env dev >out 2>err &&
	test $(( $(date +%s) - start )) -lt 10 &&
	test_grep "the before hook did not finish within 1000 ms: killed" err &&
	pid=$(cat child.pid) &&
	# gone, or a zombie waiting for init to reap it
	{ ps -o stat= -p $pid >state || test $? = 1; } &&
	test_grep ! "^[^Z]" state
'

test_expect_success 'a failing after hook is a warning: the migrations stay applied, exit 0' '
	rm -f db &&
	apply_config "hooks: { after: \"exit 4\" }" &&
	cairn-apply apply v1.tar.gz --env dev >out 2>err &&
	test_grep "warning: the after hook exited 4" err &&
	q db "SELECT state FROM cairn_migrations" >rows && echo applied >want && test_cmp want rows
'

test_expect_success 'an unknown hook key is a config error' '
	apply_config "hooks: { bfore: \"true\" }" &&
	test_must_fail cairn-apply apply v1.tar.gz --env dev >out 2>err &&
	test_grep "unknown key .bfore. in hooks; did you mean .before.?" err
'

test_expect_success 'the before hook that ran is in every audit row of the run, and not when none is set' '
	rm -f db &&
	apply_config "hooks: { before: \"true\" }" &&
	cairn-apply apply v1.tar.gz --env dev >out &&
	q db "SELECT count(*) FROM cairn_audit WHERE action = '"'"'apply'"'"'" >n && echo 1 >want && test_cmp want n &&
	q db "SELECT count(*) FROM cairn_audit WHERE detail LIKE '"'"'%before hook: exited 0%'"'"'" >n &&
	q db "SELECT count(*) FROM cairn_audit" >all &&
	test_cmp all n &&
	cairn-apply history --db sqlite:db --verify >out &&
	rm -f db &&
	apply_config "" &&
	cairn-apply apply v1.tar.gz --env dev >out &&
	q db "SELECT count(*) FROM cairn_audit WHERE detail LIKE '"'"'%hook%'"'"'" >n && echo 0 >want && test_cmp want n
'

test_done
