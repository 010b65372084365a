#!/bin/sh
test_description='one runner at a time: the lock, its timeout, concurrent appliers'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"

test_expect_success 'setup: 40 migrations' '
	apply_project p &&
	i=1 && while test $i -le 40; do
		apply_table p $(printf "%04d_t%d" $i $i) || return 1
		i=$((i + 1))
	done &&
	apply_build p "$TRASH_DIRECTORY/b.tar.gz" &&
	sqlite3 db "CREATE TABLE app (id integer)"
'

test_expect_success 'a held lock makes apply wait, then exit 4 naming the holder' '
	cp db before &&
	lock_hold db 10 &&
	start=$(date +%s%N) &&
	test_expect_code 4 cairn-apply apply b.tar.gz --env dev --db sqlite:db $KEY --lock-timeout 700ms >out 2>err &&
	end=$(date +%s%N) &&
	lock_release &&
	test $(( (end - start) / 1000000 )) -ge 650 &&
	test_grep "another runner (pid $holder) holds the lock on .db." err &&
	test_grep "the database is unchanged by this run" err &&
	test_grep "raise --lock-timeout" err &&
	cmp before db
'

test_expect_success 'the lock is waited for, then taken' '
	lock_hold db 1 &&
	start=$(date +%s%N) &&
	cairn-apply apply b.tar.gz --env dev --db sqlite:db $KEY --lock-timeout 10s --to 0005 >out &&
	end=$(date +%s%N) &&
	wait $holder &&
	test $(( (end - start) / 1000000 )) -ge 300 &&
	test_grep "applied 5 migrations" out &&
	q db "SELECT count(*) FROM cairn_migrations WHERE state = '"'"'applied'"'"'" >n &&
	echo 5 >expect && test_cmp expect n
'

test_expect_success 'rollback, baseline and repair take the same lock' '
	cp db before &&
	sqlite3 fresh.db "CREATE TABLE app (id integer)" &&
	cp fresh.db fresh.before &&
	lock_hold db 20 &&
	test_expect_code 4 cairn-apply rollback --db sqlite:db --last 1 --lock-timeout 0 2>err &&
	test_grep "another runner (pid $holder) holds the lock on .db." err &&
	test_expect_code 4 cairn-apply repair --db sqlite:db 0001 --mark-applied --lock-timeout 0 2>err &&
	test_grep "another runner (pid $holder) holds the lock on .db." err &&
	cmp before db &&
	lock_release &&
	lock_hold fresh.db 20 &&
	test_expect_code 4 cairn-apply baseline --db sqlite:fresh.db --version 0003 --lock-timeout 0 2>err &&
	test_grep "another runner (pid $holder) holds the lock on .fresh.db." err &&
	cmp fresh.before fresh.db &&
	lock_release &&
	cairn-apply baseline --db sqlite:fresh.db --version 0003 --lock-timeout 0 >out &&
	q fresh.db "SELECT count(*) FROM cairn_audit WHERE action = '"'"'baseline'"'"'" >n &&
	echo 1 >expect && test_cmp expect n
'

test_expect_success 'a killed lock holder leaves no stale lock' '
	lock_hold db 30 &&
	kill -9 $holder &&
	{ wait $holder; test $? -eq 137; } &&
	cairn-apply apply b.tar.gz --env dev --db sqlite:db $KEY --lock-timeout 0 --to 0006 >out &&
	test_grep "applied 1 migration" out
'

test_expect_success 'status, plan and history do not need the lock' '
	lock_hold db 30 &&
	cairn-apply status --db sqlite:db >status &&
	cairn-apply plan b.tar.gz --env dev --db sqlite:db $KEY >plan &&
	cairn-apply history --db sqlite:db --verify >history &&
	lock_release &&
	test_grep "0006" status &&
	test_grep "0007_t7" plan &&
	test_grep "0006" history
'

test_expect_success 'six appliers at once: each migration applied exactly once' '
	for i in 1 2 3 4 5 6; do
		cairn-apply apply b.tar.gz --env dev --db sqlite:db $KEY --lock-timeout 60s >run$i 2>&1 &
	done &&
	wait &&
	cat run* >all &&
	grep -c "^applied [0-9]*_t" all >n && echo 34 >expect && test_cmp expect n &&
	grep -c "nothing to apply" all >n && echo 5 >expect && test_cmp expect n &&
	q db "SELECT count(*) FROM cairn_migrations WHERE state = '"'"'applied'"'"'" >n &&
	echo 40 >expect && test_cmp expect n &&
	q db "SELECT count(*) FROM cairn_audit WHERE action = '"'"'apply'"'"'" >n &&
	echo 40 >expect && test_cmp expect n &&
	cairn-apply history --db sqlite:db --verify
'

test_expect_success 'six appliers on a new file' '
	for i in 1 2 3 4 5 6; do
		cairn-apply apply b.tar.gz --env dev --db sqlite:new.db $KEY --lock-timeout 60s >new$i 2>&1 &
	done &&
	wait &&
	cat new* >all &&
	grep -c "^applied [0-9]*_t" all >n && echo 40 >expect && test_cmp expect n &&
	q new.db "SELECT count(*) FROM cairn_audit WHERE action <> '"'"'identity'"'"'" >n &&
	test_cmp expect n &&
	test "$(q new.db "SELECT count(*) FROM cairn_audit WHERE action = '"'"'identity'"'"'")" = 1
'

test_done
