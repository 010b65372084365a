#!/bin/sh
test_description='cairn init and cairn new'
. "$(dirname "$0")/test-lib.sh"

test_expect_success 'init writes a commented cairn.yaml and migrations/' '
	git init -q p && (cd p && cairn init >out) &&
	test -f p/cairn.yaml && test -d p/migrations &&
	test_grep "^# " p/cairn.yaml &&
	test_grep "^version_style: timestamp" p/cairn.yaml &&
	test_grep "^drivers: \[sqlite, postgres\]" p/cairn.yaml &&
	test_grep "refs/tags/v\*" p/cairn.yaml &&
	test_grep "^ordering: strict" p/cairn.yaml &&
	test_grep "^name: p$" p/cairn.yaml
'

test_expect_success 'init refuses to overwrite an existing config' '
	cp p/cairn.yaml before &&
	(cd p && test_must_fail --exit=1 cairn init 2>../err) &&
	test_grep "cairn.yaml. already exists" err &&
	test_cmp before p/cairn.yaml
'

test_expect_success 'init DIR with options, and a fresh tree checks clean' '
	cairn init --style sequence --driver postgres --name shop q >out &&
	test_grep "^version_style: sequence" q/cairn.yaml &&
	test_grep "^drivers: \[postgres\]" q/cairn.yaml &&
	test_grep "^name: shop" q/cairn.yaml &&
	(cd q && cairn check)
'

test_expect_success 'init rejects a bad style and an unknown driver' '
	test_expect_code 2 cairn init --style weekly r 2>err &&
	test_grep "timestamp or sequence" err &&
	test_expect_code 2 cairn init --driver mysql r 2>err &&
	test_grep "unknown driver .mysql." err &&
	test ! -e r/cairn.yaml
'

test_expect_success 'new creates VERSION_slug with up, down and migration.yaml' '
	(cd p && cairn new "Create Users table" >../out) &&
	dir=$(cat out) &&
	case "$dir" in migrations/[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]_create_users_table) ;; *) false ;; esac &&
	test -f "p/$dir/up.sql" && test -f "p/$dir/down.sql" &&
	test_grep "^description: \"Create Users table\"" "p/$dir/migration.yaml" &&
	test_grep "Create Users table" "p/$dir/up.sql"
'

test_expect_success 'new uses the driver template and --no-transaction' '
	(cd p && cairn new --driver postgres --no-transaction add_index >../out) &&
	dir=$(cat out) &&
	test_grep "PostgreSQL" "p/$dir/up.sql" &&
	test_grep "^transaction: false" "p/$dir/migration.yaml"
'

test_expect_success 'new --irreversible writes no down.sql' '
	(cd p && cairn new --irreversible drop_legacy >../out) &&
	dir=$(cat out) &&
	test ! -e "p/$dir/down.sql" &&
	test_grep "^irreversible: true" "p/$dir/migration.yaml"
'

test_expect_success 'new works from a subdirectory and prints a usable path' '
	mkdir -p p/sub && (cd p/sub && cairn new from_sub >../../out) &&
	test -d "$(cat out)"
'

test_expect_success 'new never reuses a version, even many in the same second' '
	pids= &&
	for i in 1 2 3 4 5 6 7 8 9 10; do
		{ (cd p && cairn new "parallel $i" >/dev/null) & } &&
		pids="$pids $!" || return 1
	done &&
	for pid in $pids; do
		wait $pid || return 1
	done &&
	ls p/migrations | sed -n "s/_.*//p" | sort >versions &&
	sort -u versions >unique &&
	test_cmp versions unique &&
	test_line_count = 14 versions
'

test_expect_success 'new follows a sequence project' '
	(cd q && cairn new first >../o1 && cairn new second >../o2) &&
	test "$(cat o1)" = migrations/0001_first &&
	test "$(cat o2)" = migrations/0002_second
'

test_expect_success 'new stays above a future-dated version' '
	mkdir -p p/migrations/20991231235959_future &&
	(cd p && cairn new after_future >../out) &&
	test "$(cat out)" = migrations/21000101000000_after_future
'

test_expect_success 'new rejects a name with nothing usable, and a bad driver' '
	(cd p && test_expect_code 2 cairn new "!!!" 2>../err) &&
	test_grep "no letters or digits" err &&
	(cd p && test_expect_code 2 cairn new --driver oracle x 2>../err) &&
	test_grep "unknown driver" err &&
	(cd p && test_expect_code 2 cairn new 2>../err) &&
	test_grep "a NAME is needed" err
'

test_expect_success 'outside a project, commands say how to start one' '
	mkdir empty && (cd empty && test_expect_code 6 cairn check 2>../err) &&
	test_grep "cairn init" err
'

test_done
