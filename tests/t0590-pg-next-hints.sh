#!/bin/sh
test_description='next: hints name the database so that pasting them works (SQLite paths, libpq keyword DSNs)'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"
. "$TEST_DIRECTORY/lib-pg.sh"

pg_start

# hint_cmd FILE N: the Nth command quoted '...' in the next: line of FILE.
hint_cmd() {
	sed -n "s/^cairn-apply: next: //p" "$1" | awk -F"'" -v n="$2" "{ print \$(2 * n) }"
}

test_expect_success 'setup: a transaction: false migration that fails on its second statement' '
	apply_half_project p "$TRASH_DIRECTORY/b.tar.gz"
'

test_expect_success 'SQLite: a path with a space and a dollar is quoted in the repair hint, which works pasted' '
	mkdir "my dir" &&
	test_must_fail --exit=5 cairn-apply apply b.tar.gz --env dev --db "sqlite:my dir/\$x.db" $KEY >out 2>err &&
	test_grep "^cairn-apply: next: .*cairn-apply repair --db \"sqlite:my dir/\\\\\$x.db\" 0002 --mark-applied" err &&
	cmd=$(hint_cmd err 1) &&
	eval "$cmd" >out 2>err2 &&
	test_grep "repaired 0002: marked applied" out &&
	test "$(q "my dir/\$x.db" "SELECT state FROM cairn_migrations WHERE version = \"0002\"")" = applied
'

test_expect_success 'PostgreSQL: a libpq keyword DSN is quoted; both pasted commands run (exit 5 and 0, never 2)' '
	pg_fresh_db app &&
	KW="host=$PGHOST dbname=app" &&
	test_must_fail --exit=5 cairn-apply apply b.tar.gz --env dev --db "$KW" $KEY >out 2>err &&
	test_grep "^cairn-apply: next: .*repair --db \"host=$PGHOST dbname=app\" 0002" err &&
	test_must_fail --exit=5 cairn-apply apply b.tar.gz --env dev --db "$KW" $KEY >out 2>err &&
	test_grep "^cairn-apply: next: run .cairn-apply status b.tar.gz --db \"host=$PGHOST dbname=app\" --key " err &&
	status_cmd=$(hint_cmd err 1) &&
	repair_cmd=$(hint_cmd err 2 | sed "s/VERSION/0002/") &&
	test_must_fail --exit=5 eval "$status_cmd" >out &&
	test_grep "^0002  *failed" out &&
	eval "$repair_cmd" >out &&
	test_grep "repaired 0002" out &&
	test "$(pg_sql -d app -c "SELECT state FROM cairn.cairn_migrations WHERE version = '"'"'0002'"'"'")" = applied &&
	test "$(pg_sql -d app -c "SELECT count(*) FROM pg_tables WHERE tablename = '"'"'half'"'"'")" = 1
'

test_expect_success 'drift: the hint is a status command that runs as pasted and names the bundle that applied it' '
	apply_mig p 0001_a "CREATE TABLE t_0001_a (id integer primary key, v text, w text);" "DROP TABLE t_0001_a;" &&
	apply_build p "$TRASH_DIRECTORY/drift.tar.gz" &&
	test_must_fail --exit=5 cairn-apply apply drift.tar.gz --env dev --db "sqlite:my dir/\$x.db" $KEY >out 2>err &&
	test_grep "drift" err &&
	cmd=$(hint_cmd err 1) &&
	test_must_fail --exit=5 eval "$cmd" >out &&
	test_grep "^0001  *drifted" out &&
	test_grep "applied sha256:[0-9a-f]* by bundle sha256:" out
'

test_expect_success 'SQLite drift: the hint names repair --accept-checksum, which works pasted and leaves the schema alone' '
	test_must_fail --exit=5 cairn-apply apply drift.tar.gz --env dev --db "sqlite:my dir/\$x.db" $KEY >out 2>err &&
	test_grep "record its new checksum: .cairn-apply repair drift.tar.gz --db \"sqlite:my dir/\\\\\$x.db\" --key .* VERSION --accept-checksum --reason \"WHY\"." err &&
	cmd=$(hint_cmd err 2 | sed "s/VERSION/0001/") &&
	new=$(sed -n "s/.*drift: 0001_a was applied .*, but the bundle has //p" err) &&
	test -n "$new" &&
	eval "$cmd" >out 2>err2 &&
	test_grep "repaired 0001: drift accepted" out &&
		test "$(q "my dir/\$x.db" "SELECT checksum FROM cairn_migrations WHERE version = \"0001\"")" = "$new" &&
	q "my dir/\$x.db" "SELECT action || \"|\" || detail FROM cairn_audit ORDER BY seq DESC LIMIT 1" >last &&
	test_grep "^repair|accept-checksum: sha256:[0-9a-f]* -> $new from bundle sha256:[0-9a-f]*; why: WHY" last &&
	cairn-apply apply drift.tar.gz --env dev --db "sqlite:my dir/\$x.db" $KEY >out 2>err &&
	test -z "$(q "my dir/\$x.db" "SELECT name FROM pragma_table_info(\"t_0001_a\") WHERE name = \"w\"")" &&
	test_must_fail --exit=1 eval "$cmd" 2>err3 &&
	test_grep "no drift, nothing to accept" err3
'

test_expect_success 'PostgreSQL drift: the same repair, pasted; the books move, the schema does not' '
	pg_fresh_db app &&
	KW="host=$PGHOST dbname=app" &&
	cairn-apply apply b.tar.gz --env dev --db "$KW" $KEY --to 0001 >out 2>err &&
	test_must_fail --exit=5 cairn-apply apply drift.tar.gz --env dev --db "$KW" $KEY --to 0001 >out 2>err &&
	cmd=$(hint_cmd err 2 | sed "s/VERSION/0001/") &&
	new=$(sed -n "s/.*drift: 0001_a was applied .*, but the bundle has //p" err) &&
	test -n "$new" &&
	eval "$cmd" >out &&
	test_grep "repaired 0001: drift accepted" out &&
		test "$(pg_sql -d app -c "SELECT checksum FROM cairn.cairn_migrations WHERE version = '"'"'0001'"'"'")" = "$new" &&
	pg_sql -d app -c "SELECT action FROM cairn.cairn_audit ORDER BY seq" | tr "\n" " " >actions &&
	test "$(cat actions)" = "identity apply repair " &&
	test "$(pg_sql -d app -c "SELECT count(*) FROM information_schema.columns WHERE table_name = '"'"'t_0001_a'"'"' AND column_name = '"'"'w'"'"'")" = 0 &&
	cairn-apply apply drift.tar.gz --env dev --db "$KW" $KEY --to 0001 >out
'

test_done
