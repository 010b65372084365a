#!/bin/sh
test_description='cairn-apply restore: the pre-migration backup on SQLite brought back, only when the books record its bytes'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"

test_expect_success 'setup: data, then a migration that drops a column, applied with its backup' '
	apply_project p &&
	apply_mig p 0001_users "CREATE TABLE users (id integer primary key, name text, note text);
INSERT INTO users VALUES (1, '"'"'ann'"'"', '"'"'a'"'"'), (2, '"'"'bob'"'"', '"'"'b'"'"');" \
		"DROP TABLE users;" &&
	apply_build p "$TRASH_DIRECTORY/v1.tar.gz" &&
	apply_mig p 0002_drop_note "ALTER TABLE users DROP COLUMN note;" \
		"ALTER TABLE users ADD COLUMN note text;" &&
	apply_build p "$TRASH_DIRECTORY/v2.tar.gz" &&
	cairn-apply apply v1.tar.gz --env dev --db sqlite:db $KEY >out &&
	q db "SELECT * FROM users ORDER BY id" >data.before &&
	q db "PRAGMA table_info(users)" >cols.before &&
	cairn-apply apply v2.tar.gz --env dev --db sqlite:db $KEY >out &&
	ls db.0002.*.backup >backups && test_line_count = 1 backups &&
	q db "PRAGMA table_info(users)" >cols && test_grep ! "|note|" cols &&
	q db "UPDATE users SET name = '"'"'ann2'"'"' WHERE id = 1" &&
	q db "SELECT count(*) FROM cairn_audit" >audit.rows
'

test_expect_success 'a file no audit row names is refused; the database is unchanged' '
	cp "$(cat backups)" stray.backup &&
	sha256sum db >sum.before &&
	test_expect_code 3 cairn-apply restore --db sqlite:db stray.backup >out 2>err &&
	test_grep "no audit row records .stray.backup. as a backup cairn took" err &&
	test_grep "the database is unchanged" err &&
	sha256sum db >sum && test_cmp sum.before sum
'

test_expect_success 'a backup whose bytes changed since is refused, naming both sums' '
	backup=$(cat backups) &&
	cp "$backup" saved.backup &&
	sqlite3 "$backup" "UPDATE users SET name = '"'"'mallory'"'"' WHERE id = 2" &&
	test_expect_code 3 cairn-apply restore --db sqlite:db "$backup" >out 2>err &&
	test_grep "is not the backup cairn took: its sha256 is [0-9a-f]*, but audit row [0-9]* (backup before 0002, .*) recorded [0-9a-f]*; nothing was restored" err &&
	sha256sum db >sum && test_cmp sum.before sum &&
	q db "SELECT name FROM users WHERE id = 2" >n && echo bob >want && test_cmp want n &&
	cp saved.backup "$backup"
'

test_expect_success 'another runner holding the lock: exit 4, nothing restored' '
	lock_hold db 30 &&
	test_expect_code 4 cairn-apply restore --db sqlite:db --lock-timeout 0 "$(cat backups)" >out 2>err &&
	lock_release &&
	sha256sum db >sum && test_cmp sum.before sum
'

test_expect_success 'the recorded backup: the column and its data come back, the books with them' '
	backup=$(cat backups) &&
	cairn-apply restore --db sqlite:db "$backup" >out &&
	test_grep "^restored db from .$backup. (the backup taken before 0002); it is at version 0001; [0-9]* audit rows from after the backup went with it" out &&
	q db "PRAGMA table_info(users)" >cols && test_cmp cols.before cols &&
	q db "SELECT * FROM users ORDER BY id" >data && test_cmp data.before data &&
	q db "SELECT version, state FROM cairn_migrations ORDER BY version" >rows &&
	echo "0001|applied" >want && test_cmp want rows &&
	q db "SELECT action, version FROM cairn_audit ORDER BY seq DESC LIMIT 1" >last &&
	echo "restore|0002" >want && test_cmp want last &&
	q db "SELECT detail FROM cairn_audit WHERE action = '"'"'restore'"'"'" >detail &&
	test_grep "^restored=$backup; sha256=$(sha256sum "$backup" | cut -d" " -f1); the backup taken before 0002" detail &&
	cairn-apply history --db sqlite:db --verify >out &&
	cairn-apply status v2.tar.gz --db sqlite:db $KEY >out &&
	test_grep "^1 applied, 1 pending" out
'

test_expect_success 'and the migration applies again, with a new backup' '
	cairn-apply apply v2.tar.gz --env dev --db sqlite:db $KEY >out &&
	test_grep "^backup before 0002_drop_note: backup=" out &&
	q db "PRAGMA table_info(users)" >cols && test_grep ! "|note|" cols &&
	cairn-apply history --db sqlite:db --verify >out
'

test_expect_success 'backup: {command:}: the environment'"'"'s command instead of the copy, its facts in its environment, its output in the row' '
	mkdir c && cp ci.pub c/ &&
	(cd c &&
	 apply_config "backup: { command: \"env | grep ^CAIRN_ | sort >cmd.env; echo snap-42; echo more\" }" &&
	 cairn-apply apply ../v1.tar.gz --env dev >out &&
	 test ! -f cmd.env &&
	 cairn-apply apply ../v2.tar.gz --env dev >out &&
	 test_grep "^backup before 0002_drop_note: backup=command; exit=0; output=snap-42; tables=\"users\"; destructive: line 1: DROP COLUMN" out &&
	 ls >files && test_grep ! "\.backup$" files &&
	 id=$(q db "SELECT bundle_id FROM cairn_migrations WHERE version = '"'"'0002'"'"'") &&
	 test_grep "^CAIRN_BUNDLE_ID=$id$" cmd.env &&
	 test_grep "^CAIRN_ENV=dev$" cmd.env &&
	 test_grep "^CAIRN_VERSION=0002$" cmd.env &&
	 test_grep "^CAIRN_MIGRATION=0002_drop_note$" cmd.env &&
	 test_grep "^CAIRN_TABLES=\"users\"$" cmd.env &&
	 test_grep "^CAIRN_DATABASE=db$" cmd.env &&
	 q db "SELECT detail FROM cairn_audit WHERE action = '"'"'backup'"'"' AND version = '"'"'0002'"'"'" >detail &&
	 test_grep "^backup=command; exit=0; output=snap-42; tables=\"users\"; " detail &&
	 q db "PRAGMA table_info(users)" >cols && test_grep ! "|note|" cols &&
	 cairn-apply history --db sqlite:db --verify >out)
'

test_expect_success 'a failing backup command stops the run before the migration, with its status and output' '
	mkdir d && cp ci.pub d/ &&
	(cd d &&
	 apply_config "backup: { command: \"echo no space left on snapshots; exit 3\" }" &&
	 cairn-apply apply ../v1.tar.gz --env dev >out &&
	 test_expect_code 1 cairn-apply apply ../v2.tar.gz --env dev >out 2>err &&
	 test_grep "before migration 0002_drop_note: the backup command exited 3: no space left on snapshots; nothing of it ran" err &&
	 q db "PRAGMA table_info(users)" >cols && test_grep "|note|" cols &&
	 q db "SELECT version, state FROM cairn_migrations ORDER BY version" >rows &&
	 echo "0001|applied" >want && test_cmp want rows &&
	 q db "SELECT count(*) FROM cairn_audit WHERE action = '"'"'backup'"'"'" >n &&
	 echo 0 >want && test_cmp want n &&
	 apply_config "backup: { command: \"sleep 10\", timeout: 1s }" &&
	 test_expect_code 1 cairn-apply apply ../v2.tar.gz --env dev >out 2>err &&
	 test_grep "the backup command did not finish within 1000 ms: killed" err &&
	 q db "PRAGMA table_info(users)" >cols && test_grep "|note|" cols)
'

test_expect_success 'plan shows the hooks and the backup each destructive step gets, and changes nothing' '
	mkdir e && cp ci.pub e/ &&
	(cd e &&
	 apply_config "hooks: { before: \"echo window\", on_error: \"echo page\" }" &&
	 cairn-apply apply ../v1.tar.gz --env dev >out &&
	 sha256sum db >sum.before &&
	 cairn-apply plan ../v2.tar.gz --env dev >out &&
	 test_grep "^hook before: echo window (a failure stops the run before anything is applied)$" out &&
	 test_grep "^hook on_error: echo page$" out &&
	 test_grep ! "^hook after" out &&
	 test_grep "^      backup first: copy of the database beside the file (destructive: line 1: DROP COLUMN)$" out &&
	 cairn-apply plan ../v2.tar.gz --env dev --format json >out.json &&
	 python3 -c "
import json
o = json.load(open(\"out.json\"))
assert o[\"hooks\"] == {\"before\": \"echo window\", \"on_error\": \"echo page\"}, o
steps = {s[\"version\"]: s for s in o[\"steps\"]}
assert \"backup\" not in steps[\"0001\"], steps
assert steps[\"0002\"][\"backup\"].startswith(\"copy of the database beside the file\"), steps
" &&
	 apply_config "backup: { command: \"take-snapshot\" }" &&
	 cairn-apply apply ../v2.tar.gz --env dev --dry-run >out &&
	 test_grep "^      backup first: the environment.s command: take-snapshot (destructive: line 1: DROP COLUMN)$" out &&
	 apply_config "backup: off" &&
	 cairn-apply plan ../v2.tar.gz --env dev >out &&
	 test_grep "^      backup first: none: backup: off (destructive: line 1: DROP COLUMN)$" out &&
	 sha256sum db >sum && test_cmp sum.before sum &&
	 q db "SELECT count(*) FROM cairn_migrations" >n && echo 1 >want && test_cmp want n)
'

test_expect_success 'under an applier'"'"'s config: restore --env ENV, and --db with --env (with a config one must be named, as for baseline)' '
	mkdir f && cp ci.pub f/ &&
	(cd f &&
	 apply_config "" &&
	 cairn-apply apply ../v1.tar.gz --env dev >out &&
	 cairn-apply apply ../v2.tar.gz --env dev >out &&
	 backup=$(ls db.0002.*.backup) &&
	 cp db applied.db &&
	 cairn-apply restore --env dev "$backup" >out &&
	 test_grep "^restored db from .$backup. (the backup taken before 0002); it is at version 0001" out &&
	 q db "PRAGMA table_info(users)" >cols && test_grep "|note|" cols &&
	 cp applied.db db &&
	 test_expect_code 2 cairn-apply restore --db sqlite:db "$backup" 2>err &&
	 test_grep "no environment named: pass --env ENV" err &&
	 cairn-apply restore --db sqlite:db --env dev "$backup" >out &&
	 q db "SELECT version, state FROM cairn_migrations" >rows &&
	 echo "0001|applied" >want && test_cmp want rows &&
	 cairn-apply history --env dev --verify >out)
'

test_expect_success 'the books are compared with the checkpoint first: a chain cut since it is refused (exit 5), nothing restored (issue #15)' '
	mkdir g &&
	(cd g &&
	 cairn keygen --no-passphrase host >/dev/null 2>&1 &&
	 cp="--checkpoint cp.log --checkpoint-key host.key" &&
	 cairn-apply apply ../v1.tar.gz --env dev --db sqlite:db $KEY $cp >out 2>&1 &&
	 cairn-apply apply ../v2.tar.gz --env dev --db sqlite:db $KEY $cp >out 2>&1 &&
	 test_line_count = 2 cp.log &&
	 backup=$(ls db.0002.*.backup) &&
	 cp db applied.db &&
	 # everything after the backup row cut: the chain holds on its own
	 b=$(q db "SELECT seq FROM cairn_audit WHERE action = '"'"'backup'"'"'") &&
	 q db "DELETE FROM cairn_audit WHERE seq > $b; DELETE FROM cairn_migrations WHERE version = '"'"'0002'"'"'" &&
	 cairn-apply history --db sqlite:db --verify >out &&
	 test_grep "audit chain intact" out &&
	 sha256sum db >sum.before &&
	 test_expect_code 5 cairn-apply restore --db sqlite:db $cp "$backup" >out 2>err &&
	 test_grep "checkpoint mismatch: the audit chain has $b rows, but the checkpoint of 20.* records [0-9]*: its newest rows were deleted" err &&
	 test_grep "the database is unchanged" err &&
	 sha256sum db >sum && test_cmp sum.before sum &&
	 test_line_count = 2 cp.log &&
	 CAIRN_CHECKPOINT=cp.log CAIRN_CHECKPOINT_KEY=host.key \
		test_expect_code 5 cairn-apply restore --db sqlite:db "$backup" >out 2>err &&
	 test_grep "checkpoint mismatch" err &&
	 sha256sum db >sum && test_cmp sum.before sum)
'

test_expect_success 'the intact books restore, and a checkpoint of the chain brought back is appended: history and the next apply accept it' '
	(cd g &&
	 cp applied.db db &&
	 backup=$(ls db.0002.*.backup) &&
	 cairn-apply restore --db sqlite:db --checkpoint cp.log --checkpoint-key host.key "$backup" >out 2>err &&
	 test_grep "^restored db from .$backup." out &&
	 test_line_count = 3 cp.log &&
	 n=$(q db "SELECT count(*) FROM cairn_audit") &&
	 cairn-apply history --db sqlite:db --verify --checkpoint cp.log >out &&
	 test_grep "checkpoint of .* matches: $n audit rows" out &&
	 cairn-apply apply ../v2.tar.gz --env dev --db sqlite:db $KEY --checkpoint cp.log \
		--checkpoint-key host.key >out 2>&1 &&
	 q db "SELECT version, state FROM cairn_migrations ORDER BY version" >rows &&
	 printf "0001|applied\n0002|applied\n" >want && test_cmp want rows)
'

test_done
