#!/bin/sh
test_description='a SQLite restore killed outright (SIGKILL) before a chosen write, sync or unlink: the database is untouched (restore runs again) or restored with its restore row, the chain intact; a second restore says it was done already'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"

cp="--checkpoint cp.log --checkpoint-key host.key"
# tests/helpers/powercut.c, preloaded: kills the restore before a chosen
# call (a sanitized cairn-apply must let it come before its runtime)
CUT="$SRC_DIR/build/tests/powercut.so"
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
export ASAN_OPTIONS

test_expect_success 'setup: data, a migration that drops a column (its backup taken), a later row' '
	apply_project p &&
	apply_mig p 0001_users "CREATE TABLE users (id integer primary key, name text, note text);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)
INSERT INTO users SELECT i, hex(randomblob(20)), hex(randomblob(20)) FROM n;" \
		"DROP TABLE users;" &&
	apply_build p "$TRASH_DIRECTORY/v1.tar.gz" &&
	apply_mig p 0002_drop_note "ALTER TABLE users DROP COLUMN note;" \
		"ALTER TABLE users ADD COLUMN note text;" &&
	apply_build p "$TRASH_DIRECTORY/v2.tar.gz" &&
	cairn keygen --no-passphrase host >/dev/null 2>&1 &&
	cairn-apply apply v1.tar.gz --env dev --db sqlite:db $KEY $cp >out 2>&1 &&
	q db "SELECT * FROM users ORDER BY id" >data.before &&
	cairn-apply apply v2.tar.gz --env dev --db sqlite:db $KEY $cp >out 2>&1 &&
	ls db.0002.*.backup >backups && test_line_count = 1 backups &&
	cp db applied.db && cp cp.log applied.cp &&
	sha256sum <applied.db >sum.applied
'

# untouched: the database is the applied one, byte for byte, and its
# checkpoint still verifies
untouched() {
	sha256sum <db >sum && test_cmp sum.applied sum &&
	q db "PRAGMA table_info(users)" >cols && test_grep ! "|note|" cols &&
	cairn-apply history --db sqlite:db --verify --checkpoint cp.log >verify.out &&
	test_grep "audit chain intact" verify.out
}

# restored: the backup's tables and data, the migration pending again,
# the last audit row the restore naming the backup, the chain intact;
# sqlite_master as the backup's
restored() {
	test "$(q db "PRAGMA integrity_check")" = ok &&
	q db "PRAGMA table_info(users)" >cols && test_grep "|note|" cols &&
	q db "SELECT * FROM users ORDER BY id" >data && test_cmp data.before data &&
	q db "SELECT version, state FROM cairn_migrations" >rows &&
	echo "0001|applied" >want && test_cmp want rows &&
	q db "SELECT action, substr(detail, 1, 9) FROM cairn_audit ORDER BY seq DESC LIMIT 1" >last &&
	echo "restore|restored=" >want && test_cmp want last &&
	q db "SELECT type, name, sql FROM sqlite_master ORDER BY name" >schema &&
	q "$(cat backups)" "SELECT type, name, sql FROM sqlite_master ORDER BY name" >want &&
	test_cmp want schema &&
	cairn-apply history --db sqlite:db --verify >verify.out &&
	test_grep "audit chain intact" verify.out
}

# again: the database put back as applied, the checkpoint too
again() {
	cp applied.db db && cp applied.cp cp.log && rm -f db-journal
}

# killed BACKUP ON N [FLAGS]: a restore killed (SIGKILL, by
# tests/helpers/powercut.c) before the Nth call ON ("write", "sync",
# "unlink": of any file; see the helper) runs; exit 137. Then the database
# is opened once (a hot journal left by the step rolled back, as any next
# open of SQLite's would), so its bytes are what a reader sees.
killed() {
	test_expect_code 137 env POWERCUT_ON=$2 POWERCUT_AT=$3 POWERCUT_HOW=kill LD_PRELOAD="$CUT" \
		cairn-apply restore --db sqlite:db $4 "$1" >out 2>err &&
	q db "SELECT count(*) FROM cairn_migrations" >/dev/null
}

# nth TRACE REGEX: the number of the first call of TRACE whose path
# matches REGEX (what POWERCUT_AT names)
nth() {
	sed -n "s/^\([0-9]*\) [a-z]* \(.*\)$/\1 \2/p" "$1" | grep -E -m1 "^[0-9]+ .*$2" | cut -d" " -f1
}

test_expect_success 'the calls of a whole restore, traced: the copy, its row, the step, the copy removed' '
	test -f "$CUT" &&
	again && backup=$(cat backups) &&
	for on in write sync unlink
	do
		again &&
		POWERCUT_ON=$on POWERCUT_TRACE="$TRASH_DIRECTORY/trace.$on" \
			LD_PRELOAD="$CUT" cairn-apply restore --db sqlite:db $cp "$backup" >out &&
		restored &&
		again && rm cp.log &&
		POWERCUT_ON=$on POWERCUT_TRACE="$TRASH_DIRECTORY/trace.plain.$on" \
			LD_PRELOAD="$CUT" cairn-apply restore --db sqlite:db "$backup" >out &&
		restored || return 1
	done &&
	test -n "$(nth trace.write "\.tmp[0-9]+-journal$")" &&
	test -n "$(nth trace.write "/db-journal$")" &&
	test -n "$(nth trace.sync "/db$")" &&
	test -n "$(nth trace.unlink "\.backup\.tmp[0-9]+$")" &&
	test -n "$(nth trace.unlink "/db-journal$")" &&
	wc -l trace.write trace.sync trace.unlink >&2
'

# The known points: before the restore row is written into the copy (the
# copy made), before the step (the row committed in the copy), before the
# database's pages are synced in the step (its journal hot), before the
# journal is removed (the step's commit in DELETE mode): untouched.
for point in "write \.tmp[0-9]+-journal$" "write /db-journal$" "sync /db$"
do
	test_expect_success "killed before the first $point: untouched, no copy left by the next run, restore runs again" '
		again &&
		backup=$(cat backups) &&
		set -- $point && n=$(nth trace.$1 "$2") &&
		killed "$backup" $1 $n "$cp" &&
		untouched &&
		cairn-apply restore --db sqlite:db $cp "$backup" >out 2>err &&
		restored &&
		ls >files && test_grep ! "\.tmp[0-9]" files &&
		cairn-apply history --db sqlite:db --verify --checkpoint cp.log >out &&
		test_grep "matches" out
	'
done

test_expect_success "killed before the copy is removed (after the one step): restored with its restore row; a second restore says it was done and removes the copy" '
	again &&
	backup=$(cat backups) &&
	killed "$backup" unlink $(nth trace.unlink "\.backup\.tmp[0-9]+$") &&
	restored &&
	sha256sum <db >sum.killed &&
	test_expect_code 3 cairn-apply restore --db sqlite:db "$backup" >out 2>err &&
	test_grep "was restored already: audit row [0-9]* (20.*) records it" err &&
	test_grep "the database is unchanged" err &&
	sha256sum <db >sum && test_cmp sum.killed sum &&
	ls >files && test_grep ! "\.tmp[0-9]" files
'

# A kill after the step but before the checkpoint is appended: the
# checkpoint of the restored chain was kept before the step, signed, in
# cp.log.pending (cmd/checkpoint.c); it is what vouches for the chain now.
test_expect_success 'killed after the step, before the checkpoint is appended: history --verify --checkpoint accepts the pending one, the next run appends it' '
	again &&
	backup=$(cat backups) &&
	killed "$backup" "write:cp.log\$" 1 "$cp" &&
	restored &&
	test_cmp applied.cp cp.log &&
	test -s cp.log.pending &&
	cairn-apply history --db sqlite:db --verify --checkpoint cp.log >verify.out &&
	test_grep "audit chain intact" verify.out &&
	test_grep "matches: .* (pending: kept by a restore" verify.out &&
	test_cmp applied.cp cp.log &&
	cp cp.log.pending pending.saved &&
	test_expect_code 3 cairn-apply restore --db sqlite:db $cp "$backup" >out 2>err &&
	test_grep "was restored already" err &&
	test_grep "the checkpoint a restore kept in .cp.log.pending. (3 audit rows) added" err &&
	test ! -e cp.log.pending &&
	tail -n 1 cp.log >last && test_cmp pending.saved last &&
	cairn-apply history --db sqlite:db --verify --checkpoint cp.log >verify.out &&
	test_grep "checkpoint of .* matches" verify.out &&
	test_grep ! "pending" verify.out
'

test_expect_success 'a pending checkpoint altered, or signed by another key, is refused: history says the rows are missing, the next run exits 5' '
	backup=$(cat backups) &&
	cairn keygen --no-passphrase other >/dev/null 2>&1 &&
	again &&
	killed "$backup" "write:other.log\$" 1 "--checkpoint other.log --checkpoint-key other.key" &&
	restored && test -s other.log.pending &&
	sha256sum <db >sum.forged &&
	for forged in altered other
	do
		if test $forged = altered
		then
			sed "s/time=20/time=19/" other.log.pending >cp.log.pending
		else
			cp other.log.pending cp.log.pending
		fi &&
		test_expect_code 1 cairn-apply history --db sqlite:db --verify --checkpoint cp.log >verify.out 2>err &&
		test_grep "pending checkpoint .cp.log.pending.: the checkpoint" err &&
		test_grep "checkpoint mismatch" err &&
		test_expect_code 5 cairn-apply restore --db sqlite:db $cp "$backup" >out 2>err &&
		test_grep "pending checkpoint .cp.log.pending.: .*; not used" err &&
		test_grep "checkpoint" err &&
		test_cmp applied.cp cp.log &&
		sha256sum <db >sum && test_cmp sum.forged sum || return 1
	done &&
	rm -f cp.log.pending other.log.pending
'

test_expect_success 'a restore that finished: a second one is refused the same way, nothing written' '
	again &&
	backup=$(cat backups) &&
	cairn-apply restore --db sqlite:db $cp "$backup" >out &&
	restored &&
	sha256sum <db >sum.done &&
	test_expect_code 3 cairn-apply restore --db sqlite:db $cp "$backup" >out 2>err &&
	test_grep "was restored already" err &&
	sha256sum <db >sum && test_cmp sum.done sum
'

# Kills at calls spread over a whole restore without a checkpoint
# (traced so): each
# round ends untouched or restored, never between; then restore finishes
# or says it was done.
for on in write sync unlink
do
	test_expect_success "SIGKILL before the Nth $on, spread over the restore: untouched or restored, never between" '
		backup=$(cat backups) &&
		rm -f cp.log && cp applied.cp saved.cp &&
		total=$(wc -l <trace.plain.'"$on"') &&
		: >outcomes &&
		for i in 1 2 3 4 5 6 7 8 9 10 11 12
		do
			n=$(( (total * i + 11) / 12 )) &&
			cp applied.db db && rm -f db-journal &&
			killed "$backup" '"$on"' $n &&
			if sha256sum <db | cmp -s - sum.applied
			then
				echo untouched >>outcomes &&
				cp saved.cp cp.log && untouched && rm cp.log &&
				cairn-apply restore --db sqlite:db "$backup" >out 2>err &&
				restored
			else
				echo restored >>outcomes &&
				restored &&
				test_expect_code 3 cairn-apply restore --db sqlite:db "$backup" >out 2>err &&
				test_grep "was restored already" err
			fi || { echo "between, killed before '"$on"' $n of $total"; return 1; }
		done &&
		sort outcomes | uniq -c >&2 &&
		ls >files && test_grep ! "\.tmp[0-9]*-journal" files
	'
done

test_done
