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
	q db "SELECT count(*) FROM cairn_audit WHERE detail LIKE '"'"'%hook=before; outcome=exited 0; duration_ms=%; timeout_ms=60000%'"'"'" >n &&
	q db "SELECT count(*) FROM cairn_audit" >all &&
	test_cmp all n &&
	cairn-apply history --db sqlite:db --verify >out &&
	rm -f db &&
	apply_config "" &&
	cairn-apply apply v1.tar.gz --env dev >out &&
	q db "SELECT count(*) FROM cairn_audit WHERE detail LIKE '"'"'%hook%'"'"'" >n && echo 0 >want && test_cmp want n
'

test_expect_success 'the after hook is an audit row of its own, under the chain, after the run' '
	rm -f db &&
	apply_config "hooks: { after: \"exit 4\", timeout: 5s }" &&
	cairn-apply apply v1.tar.gz --env dev >out 2>err &&
	test_grep "warning: the after hook exited 4" err &&
	q db "SELECT action, version, to_version, detail FROM cairn_audit ORDER BY seq" >rows &&
	tail -n 1 rows >last &&
	test_grep "^hook||0001|hook=after; outcome=exited 4; duration_ms=[0-9]*; timeout_ms=5000$" last &&
	sed -n "2p" rows >second && test_grep "^apply|0001|" second &&
	q db "SELECT count(*) FROM cairn_audit" >n && echo 3 >want && test_cmp want n &&
	cairn-apply history --db sqlite:db --verify >out &&
	q db "SELECT state FROM cairn_migrations" >st && echo applied >want && test_cmp want st
'

test_expect_success 'the on_error hook is recorded after the failed run, the failure rows kept before it' '
	apply_config "hooks: { on_error: \"sleep 0.2; exit 0\" }" &&
	test_expect_code 1 cairn-apply apply v2.tar.gz --env dev >out 2>err &&
	q db "SELECT action, detail FROM cairn_audit ORDER BY seq DESC LIMIT 2" >rows &&
	head -n 1 rows >last &&
	test_grep "^hook|hook=on_error; outcome=exited 0; duration_ms=[0-9]*; timeout_ms=60000$" last &&
	ms=$(sed "s/.*duration_ms=\([0-9]*\).*/\1/" last) && test "$ms" -ge 200 &&
	tail -n 1 rows >prev && test_grep "^apply-failed|" prev &&
	cairn-apply history --db sqlite:db --verify >out
'

test_expect_success 'an after hook killed at its timeout is recorded as such' '
	apply_config "hooks: { after: \"sleep 30\", timeout: 1s }" &&
	rm -f db &&
	cairn-apply apply v1.tar.gz --env dev >out 2>err &&
	test_grep "warning: the after hook did not finish within 1000 ms: killed" err &&
	q db "SELECT detail FROM cairn_audit ORDER BY seq DESC LIMIT 1" >last &&
	test_grep "^hook=after; outcome=timed out: killed; duration_ms=[0-9]*; timeout_ms=1000$" last
'

test_expect_success 'a failing before hook writes nothing: no books, no row' '
	rm -f db &&
	apply_config "hooks: { before: \"exit 3\", on_error: \"true\" }" &&
	test_expect_code 1 cairn-apply apply v1.tar.gz --env dev >out 2>err &&
	q db "SELECT count(*) FROM sqlite_master WHERE name = '"'"'cairn_audit'"'"'" >n &&
	echo 0 >want && test_cmp want n
'

test_done
