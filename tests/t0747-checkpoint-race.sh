#!/bin/sh
test_description='the books are compared with the checkpoint under the run lock: a cut made while a run waits for the lock is found (issue #15)'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"

unset CAIRN_ENV CAIRN_DB CAIRN_APPLY_CONFIG CAIRN_CHECKPOINT CAIRN_CHECKPOINT_KEY

# 0 once process $1 has a read-only descriptor on file $2 open: the
# SQLite driver's lock descriptor, opened when the run asks for the lock
# (SQLite opens the database read-write).
has_lock_fd() {
	for fd in /proc/$1/fd/*; do
		test "$(readlink "$fd" 2>/dev/null)" = "$2" || continue
		flags=$(sed -n "s/^flags:[	 ]*//p" "/proc/$1/fdinfo/${fd##*/}" 2>/dev/null)
		test -n "$flags" && test $((0$flags & 3)) -eq 0 && return 0
	done
	return 1
}

test_expect_success 'setup: two migrations applied, a checkpoint of the books' '
	cairn keygen --no-passphrase host >/dev/null 2>&1 &&
	apply_project p &&
	apply_table p 0001_a &&
	apply_table p 0002_b &&
	apply_build p "$TRASH_DIRECTORY/v2.tar.gz" &&
	cairn-apply apply v2.tar.gz --env dev --db sqlite:r.db $KEY --checkpoint cp.log \
		--checkpoint-key host.key >out 2>err &&
	test_line_count = 1 cp.log
'

test_expect_success 'newest rows cut while a run waits for the lock: the run refuses (exit 5) and runs nothing' '
	db="$TRASH_DIRECTORY/r.db" &&
	rm -f go &&
	# another runner holds the lock (an flock on the file, as the driver takes it)
	{ flock "$db" sh -c "while test ! -f go; do sleep 0.05; done" & } &&
	holder=$! &&
	i=0 && while flock -n "$db" true; do i=$((i + 1)); test $i -lt 200 || break; sleep 0.05; done &&
	! flock -n "$db" true &&
	{ cairn-apply apply v2.tar.gz --env dev --db sqlite:r.db $KEY --checkpoint cp.log \
		--checkpoint-key host.key --lock-timeout 60s >out 2>err & } &&
	runner=$! &&
	i=0 && until has_lock_fd $runner "$db"; do i=$((i + 1)); test $i -lt 1200 || break; sleep 0.05; done &&
	has_lock_fd $runner "$db" &&
	# the run now waits for the lock; the attacker cuts migration 0002 from
	# both tables, leaving a chain that holds together on its own
	cut=$(q r.db "SELECT seq FROM cairn_audit WHERE to_version = '"'"'0002'"'"' ORDER BY seq LIMIT 1") &&
	q r.db "DELETE FROM cairn_audit WHERE seq >= $cut; DELETE FROM cairn_migrations WHERE version = '"'"'0002'"'"'" &&
	cairn-apply history --db sqlite:r.db --verify >hist &&
	test_grep "audit chain intact" hist &&
	n=$(q r.db "SELECT count(*) FROM cairn_audit") &&
	>go &&
	wait $holder &&
	test_expect_code 5 wait $runner &&
	test_grep "checkpoint mismatch: the audit chain has $n rows, but the checkpoint of 20.* records [0-9]*: its newest rows were deleted" err &&
	# nothing ran: 0002 was not applied again, no audit row was added,
	# and no checkpoint of the cut chain was signed
	test "$(q r.db "SELECT count(*) FROM cairn_audit")" = "$n" &&
	test -z "$(q r.db "SELECT version FROM cairn_migrations WHERE version = '"'"'0002'"'"'")" &&
	test "$(q r.db "SELECT count(*) FROM sqlite_master WHERE name = '"'"'t_0002_b'"'"'")" = 1 &&
	test_line_count = 1 cp.log
'

test_expect_success 'a row'"'"'s facts edited while a run waits for the lock, after the early open read the books: the run refuses (exit 5), nothing runs again (perf14i)' '
	apply_project p2 &&
	apply_table p2 0001_a &&
	apply_table p2 0002_b &&
	apply_build p2 "$TRASH_DIRECTORY/w2.tar.gz" &&
	cairn-apply apply w2.tar.gz --env dev --db sqlite:w.db $KEY >out &&
	db="$TRASH_DIRECTORY/w.db" &&
	n=$(q w.db "SELECT count(*) FROM cairn_audit") &&
	rm -f go &&
	{ flock "$db" sh -c "while test ! -f go; do sleep 0.05; done" & } &&
	holder=$! &&
	i=0 && while flock -n "$db" true; do i=$((i + 1)); test $i -lt 200 || break; sleep 0.05; done &&
	! flock -n "$db" true &&
	{ cairn-apply apply w2.tar.gz --env dev --db sqlite:w.db $KEY --lock-timeout 60s >out 2>err & } &&
	runner=$! &&
	i=0 && until has_lock_fd $runner "$db"; do i=$((i + 1)); test $i -lt 1200 || break; sleep 0.05; done &&
	has_lock_fd $runner "$db" &&
	# the early open read the books and the chain was whole; now 0002 reads
	# as rolled back, its table dropped: a stale verdict would apply it again
	q w.db "UPDATE cairn_migrations SET state = '"'"'rolled_back'"'"' WHERE version = '"'"'0002'"'"'; DROP TABLE t_0002_b" &&
	>go &&
	wait $holder &&
	test_expect_code 5 wait $runner &&
	test_grep "the books were changed outside cairn-apply: migration 0002: state is .rolled_back., the audit chain recorded .applied." err &&
	test "$(q w.db "SELECT count(*) FROM cairn_audit")" = "$n" &&
	test "$(q w.db "SELECT state FROM cairn_migrations WHERE version = '"'"'0002'"'"'")" = rolled_back &&
	test "$(q w.db "SELECT count(*) FROM sqlite_master WHERE name = '"'"'t_0002_b'"'"'")" = 0
'

test_done
