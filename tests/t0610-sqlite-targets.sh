#!/bin/sh
test_description='wrong targets and first use on SQLite: missing files, URI options, several runners on a new file'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"

test_expect_success 'setup: a bundle with a foreign key' '
	apply_project p &&
	apply_mig p 0001_parent "CREATE TABLE parent (id integer primary key);" "DROP TABLE parent;" &&
	apply_mig p 0002_child "CREATE TABLE child (id integer primary key, parent integer REFERENCES parent (id));
INSERT INTO child VALUES (1, 42);" "DROP TABLE child;" &&
	apply_build p "$TRASH_DIRECTORY/b.tar.gz"
'

test_expect_success 'status, history, rollback, repair on a path that does not exist: exit 6, nothing created' '
	for v in "status" "status b.tar.gz $KEY" "history" "rollback --last 1" "repair 0001 --mark-applied"; do
		for path in nothere.db "no/such/dir/x.db"; do
			test_must_fail --exit=6 cairn-apply $v --db "sqlite:$path" >out 2>err &&
			test_grep "cairn-apply: database .$path. does not exist (only .cairn-apply apply. creates it); check the path" err &&
			test ! -e "$path" || return 1
		done
	done &&
	test ! -e no
'

test_expect_success 'an unknown URI option is refused with a did-you-mean, and creates no file' '
	test_must_fail --exit=2 cairn-apply apply b.tar.gz --env dev --db "sqlite:fk.db?_fk=1" $KEY >out 2>err &&
	test_grep "unknown SQLite option ._fk. in .sqlite:fk.db?_fk=1.; did you mean .foreign_keys.?" err &&
	test_must_fail --exit=2 cairn-apply status --db "sqlite:fk.db?foreign_key=on" >out 2>err &&
	test_grep "did you mean .foreign_keys.?" err &&
	test_must_fail --exit=2 cairn-apply status --db "sqlite:fk.db?foreign_keys=maybe" >out 2>err &&
	test_grep "foreign_keys must be on or off" err &&
	! ls fk.db* 2>/dev/null
'

test_expect_success 'without foreign_keys the bad row goes in; with ?foreign_keys=on the migration fails' '
	cairn-apply apply b.tar.gz --env dev --db "sqlite:nofk.db" $KEY >out &&
	test "$(q nofk.db "SELECT count(*) FROM child")" = 1 &&
	test_must_fail --exit=1 cairn-apply apply b.tar.gz --env dev --db "sqlite:fk.db?foreign_keys=on&busy_timeout=2000" $KEY >out 2>err &&
	test_grep "FOREIGN KEY constraint failed" err &&
	test -f fk.db && ! test -e "fk.db?foreign_keys=on&busy_timeout=2000" &&
	test "$(q fk.db "SELECT group_concat(version || \"=\" || state) FROM cairn_migrations")" = "0001=applied" &&
	test -z "$(q fk.db "SELECT name FROM sqlite_master WHERE name = \"child\"")"
'

test_expect_success 'foreign_keys per environment: sqlite: {foreign_keys: on} in the config' '
	cat >cfk.yaml <<-EOF &&
	environments:
	  strict:
	    database: { dsn: "sqlite:cfk.db" }
	    builders: [ci.pub]
	    sqlite: { foreign_keys: on }
	  loose:
	    database: { dsn: "sqlite:lfk.db" }
	    builders: [ci.pub]
	EOF
	test_must_fail --exit=1 cairn-apply apply b.tar.gz --env strict --config cfk.yaml >out 2>err &&
	test_grep "FOREIGN KEY constraint failed" err &&
	test -z "$(q cfk.db "SELECT name FROM sqlite_master WHERE name = \"child\"")" &&
	cairn-apply apply b.tar.gz --env loose --config cfk.yaml >out 2>err &&
	test "$(q lfk.db "SELECT count(*) FROM child")" = 1 &&
	sed -i "s/foreign_keys: on/foreign_keys: maybe/" cfk.yaml &&
	test_must_fail --exit=6 cairn-apply apply b.tar.gz --env strict --config cfk.yaml >out 2>err &&
	test_grep "foreign_keys. must be on or off" err
'

test_expect_success 'ten runners on a new file, five times: one applies, the others find nothing to do' '
	for round in 1 2 3 4 5; do
		rm -f new.db* &&
		for r in 0 1 2 3 4 5 6 7 8 9; do
			{ cairn-apply apply b.tar.gz --env dev --db sqlite:new.db $KEY >out.$r 2>err.$r; echo $? >rc.$r; } &
		done &&
		wait &&
		cat rc.* | sort | uniq -c >rcs &&
		echo "     10 0" >want && test_cmp want rcs &&
		cat out.* | grep -c "^applied 0002_child" >n && echo 1 >want && test_cmp want n &&
		cat out.* | grep -c "^nothing to apply" >n && echo 9 >want && test_cmp want n &&
		! grep -l "fix the migration" err.* &&
		test "$(q new.db "SELECT count(*) FROM cairn_audit WHERE action = \"apply\"")" = 2 || return 1
	done
'

test_expect_success 'several runners on an application database without cairn'\''s tables' '
	sqlite3 app.db "CREATE TABLE users (id integer primary key);" &&
	for r in 0 1 2 3 4 5 6 7; do
		{ cairn-apply apply b.tar.gz --env dev --db sqlite:app.db $KEY >out.$r 2>err.$r; echo $? >rc.$r; } &
	done &&
	wait &&
	cat rc.0 rc.1 rc.2 rc.3 rc.4 rc.5 rc.6 rc.7 | sort -u >rcs &&
	echo 0 >want && test_cmp want rcs &&
	test "$(q app.db "SELECT count(*) FROM cairn_audit WHERE action = \"apply\"")" = 2
'

test_done
