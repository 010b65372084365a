#!/bin/sh
test_description='a SQLite restore killed outright (SIGKILL) at any moment: the database is untouched (restore runs again) or restored with its restore row, the chain intact; a second restore says it was done already'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"

cp="--checkpoint cp.log --checkpoint-key host.key"

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

for point in copied recorded
do
	test_expect_success "killed at '$point' (before the one step): untouched, no copy left by the next run, restore runs again" '
		again &&
		backup=$(cat backups) &&
		test_expect_code 137 sh -c "CAIRN_TEST_KILL_AT='"$point"' exec cairn-apply restore --db sqlite:db $cp $backup" &&
		untouched &&
		cairn-apply restore --db sqlite:db $cp "$backup" >out 2>err &&
		restored &&
		ls >files && test_grep ! "\.tmp[0-9]" files &&
		cairn-apply history --db sqlite:db --verify --checkpoint cp.log >out &&
		test_grep "matches" out
	'
done

test_expect_success "killed at 'restored' (after the one step): restored with its restore row; a second restore says it was done" '
	again &&
	backup=$(cat backups) &&
	test_expect_code 137 sh -c "CAIRN_TEST_KILL_AT=restored exec cairn-apply restore --db sqlite:db $backup" &&
	restored &&
	sha256sum <db >sum.killed &&
	test_expect_code 3 cairn-apply restore --db sqlite:db "$backup" >out 2>err &&
	test_grep "was restored already: audit row [0-9]* (20.*) records it" err &&
	test_grep "the database is unchanged" err &&
	sha256sum <db >sum && test_cmp sum.killed sum
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

# Kills at random moments (no checkpoint: see docs/design.md's threat
# model for the one window left with one): each round ends untouched or
# restored, never between.
test_expect_success 'SIGKILL at random moments, 12 rounds: untouched or restored, never between; then restore finishes or says it was done' '
	backup=$(cat backups) &&
	rm -f cp.log && cp applied.cp saved.cp &&
	: >outcomes &&
	cp applied.db db &&
	t0=$(date +%s%N) && cairn-apply restore --db sqlite:db "$backup" >out &&
	ms=$(( ($(date +%s%N) - t0) / 1000000 + 1 )) &&
	echo "# a whole restore: $ms ms" >&2 &&
	for i in 1 2 3 4 5 6 7 8 9 10 11 12
	do
		cp applied.db db && rm -f db-journal &&
		d=$(( (ms * ((i * 7) % 12 + 1)) / 12 )) &&
		{ cairn-apply restore --db sqlite:db "$backup" >out 2>err & pid=$!; } &&
		sleep $(( d / 1000 )).$(printf %03d $(( d % 1000 ))) &&
		kill -9 $pid 2>/dev/null; wait $pid; true &&
		q db "SELECT count(*) FROM cairn_migrations" >/dev/null &&
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
		fi || return 1
	done &&
	sort outcomes | uniq -c >&2 &&
	ls >files && test_grep ! "\.tmp[0-9]*-journal" files
'

test_done
