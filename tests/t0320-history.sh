#!/bin/sh
test_description='cairn-apply history: the audit trail and its hash chain, tampered with by the sqlite3 CLI'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"

test_expect_success 'setup: apply, roll back, apply again' '
	apply_project p &&
	apply_table p 0001_a &&
	apply_table p 0002_b &&
	apply_table p 0003_c &&
	apply_build p "$TRASH_DIRECTORY/b.tar.gz" &&
	cairn-apply apply b.tar.gz --env staging --db sqlite:db $KEY >/dev/null &&
	cairn-apply rollback --db sqlite:db --last 1 >/dev/null &&
	cairn-apply apply b.tar.gz --env staging --db sqlite:db $KEY >/dev/null &&
	cp db pristine
'

test_expect_success 'history lists every change, oldest first, and verifies' '
	cairn-apply history --db sqlite:db >out &&
	test_grep "^   2 [0-9T:Z-]* apply          0001             none -> 0001  by [^ ]*  env staging  bundle sha256:" out &&
	test_grep "^   5 [0-9T:Z-]* rollback       0003             0003 -> 0002" out &&
	test_grep "^   6 [0-9T:Z-]* apply          0003             0002 -> 0003" out &&
	cairn-apply history --db sqlite:db --verify >out &&
	test_grep "audit chain intact: 6 rows, 3 migrations anchored" out &&
	cairn-apply history --db sqlite:db --verify --format json >json &&
	test_grep "\"intact\":true,\"problems\":\[\]" json &&
	python3 -c "import json,sys; d = json.load(open(\"json\")); assert len(d[\"rows\"]) == 6; assert d[\"rows\"][1][\"prev_hash\"] == d[\"rows\"][0][\"hash\"]"
'

test_expect_success 'an edited row is found' '
	cp pristine db &&
	sqlite3 db "UPDATE cairn_audit SET actor = '"'"'someone@else'"'"' WHERE seq = 2" &&
	test_expect_code 1 cairn-apply history --db sqlite:db --verify >out 2>err &&
	test_grep "audit chain broken: row 2: its contents do not match its hash: the row was edited" err &&
	test_grep "altered outside cairn-apply" err
'

test_expect_success 'a deleted row in the middle is found' '
	cp pristine db &&
	sqlite3 db "DELETE FROM cairn_audit WHERE seq = 3" &&
	test_expect_code 1 cairn-apply history --db sqlite:db --verify 2>err &&
	test_grep "row 4: expected sequence number 3" err &&
	test_grep "row 4: does not link to the row before it" err
'

test_expect_success 'the newest row deleted is found through the bookkeeping anchor' '
	cp pristine db &&
	sqlite3 db "DELETE FROM cairn_audit WHERE seq = 6" &&
	test_expect_code 1 cairn-apply history --db sqlite:db --verify 2>err &&
	test_grep "migration 0003: the audit row that recorded its last change (.*) is missing" err
'

test_expect_success 'an inserted row, even with a plausible hash, is found' '
	cp pristine db &&
	sqlite3 db "CREATE TABLE x AS SELECT * FROM cairn_audit; DELETE FROM cairn_audit; INSERT INTO cairn_audit SELECT CASE WHEN seq >= 3 THEN seq + 1 ELSE seq END, at, actor, action, version, from_version, to_version, bundle_id, environment, detail, prev_hash, hash FROM x ORDER BY seq DESC; DROP TABLE x;" &&
	sqlite3 db "INSERT INTO cairn_audit SELECT 3, at, actor, '"'"'apply'"'"', '"'"'0009'"'"', from_version, to_version, bundle_id, environment, detail, hash, hash FROM cairn_audit WHERE seq = 2" &&
	test_expect_code 1 cairn-apply history --db sqlite:db --verify 2>err &&
	test_grep "row 3: its contents do not match its hash" err &&
	test_grep "row 4: its contents do not match its hash" err
'

test_expect_success 'a bookkeeping row written outside cairn-apply is found' '
	cp pristine db &&
	sqlite3 db "INSERT INTO cairn_migrations (version, name, checksum, state) VALUES ('"'"'0009'"'"', '"'"'0009_x'"'"', '"'"'sha256:00'"'"', '"'"'applied'"'"')" &&
	test_expect_code 1 cairn-apply history --db sqlite:db --verify 2>err &&
	test_grep "migration 0009: its bookkeeping row names no audit row" err
'

test_expect_success 'history is read-only and works on a database cairn never touched' '
	cp pristine db &&
	cairn-apply history --db sqlite:db >/dev/null &&
	cmp pristine db &&
	sqlite3 other.db "CREATE TABLE t (id integer)" && cp other.db other.before &&
	cairn-apply history --db sqlite:other.db --verify >out &&
	test_grep "no audit rows" out &&
	cmp other.before other.db &&
	cairn-apply history --db sqlite:/nonexistent/dir/x.db >out &&
	test_grep "no audit rows: cairn-apply has not changed" out &&
	cairn-apply history --db sqlite:absent.db --verify >out &&
	test_grep "no audit rows: cairn-apply has not changed" out &&
	test ! -e absent.db
'

test_done
