#!/bin/sh
test_description='a backup before a destructive migration on PostgreSQL: pg_dump of the touched tables, in the audit row, restored'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"
. "$TEST_DIRECTORY/lib-pg.sh"

pg_start
DB="postgresql:///app?host=$PGHOST"
# pg_dump and pg_restore of the server's own version
CAIRN_PG_DUMP="$PG_BINDIR/pg_dump"
export CAIRN_PG_DUMP
PATH="$PG_BINDIR:$PATH"

audit_detail() {
	pg_sql -d app -c "select detail from cairn.cairn_audit where action = '$1' and version = '$2'"
}

test_expect_success 'setup: data, then a bundle that drops a column' '
	pg_fresh_db app &&
	apply_project p &&
	# a project that has not adopted expand/contract phases (issue #22):
	# its DROP COLUMN runs as an ordinary migration, which is what needs
	# the backup
	sed -i -e "s/^drivers: .*/drivers: [postgres]/" \
		-e "s/^lint: {\(.*\)}$/lint: {\1, contract-only: off}/" p/cairn.yaml &&
	grep -q "contract-only: off" p/cairn.yaml &&
	apply_mig p 0001_users "CREATE TABLE users (id int primary key, name text, note text);
CREATE TABLE other (id int);
INSERT INTO users VALUES (1, '"'"'ann'"'"', '"'"'a'"'"'), (2, '"'"'bob'"'"', '"'"'b'"'"');" \
		"DROP TABLE users; DROP TABLE other;" &&
	apply_build p "$TRASH_DIRECTORY/v1.tar.gz" &&
	apply_mig p 0002_drop_note "ALTER TABLE users DROP COLUMN note;" \
		"ALTER TABLE users ADD COLUMN note text;" &&
	apply_build p "$TRASH_DIRECTORY/v2.tar.gz" &&
	cat >cairn-apply.yaml <<-EOF &&
	environments:
	  dev:
	    database: { dsn: "$DB" }
	    builders: [ci.pub]
	    backup: { dir: saved }
	EOF
	cairn-apply apply v1.tar.gz --env dev >out &&
	test_grep ! "^backup" out &&
	test ! -d saved &&
	pg_sql -d app -c "select * from users order by id" >data.before
'

test_expect_success 'DROP COLUMN: pg_dump of the touched table first, its sha256 in the audit row' '
	cairn-apply apply v2.tar.gz --env dev >out &&
	test_grep "^backup before 0002_drop_note: backup=saved/app.0002.[0-9TZ]*.pgdump; sha256=[0-9a-f]*; bytes=[0-9]*; tables=\"users\"; created=(none); destructive: line 1: DROP COLUMN" out &&
	ls saved >files && test_line_count = 1 files &&
	dump=saved/$(cat files) &&
	sum=$(sha256sum "$dump" | cut -d" " -f1) &&
	audit_detail backup 0002 >detail &&
	test_grep "^backup=$dump; sha256=$sum; bytes=$(wc -c <"$dump"); tables=\"users\"; " detail &&
	pg_restore --list "$dump" >toc &&
	test_grep "TABLE public users" toc &&
	test_grep "TABLE DATA public users" toc &&
	test_grep ! "TABLE public other" toc &&
	pg_sql -d app -c "select count(*) from information_schema.columns where table_name = '"'"'users'"'"' and column_name = '"'"'note'"'"'" >n &&
	echo 0 >want && test_cmp want n
'

test_expect_success 'the restore command in the audit row brings the column and its data back' '
	cmd=$(audit_detail backup 0002 | sed -e "s/.*; restore: //" -e "s/; .*//") &&
	test -n "$cmd" &&
	eval "$cmd" &&
	pg_sql -d app -c "select * from users order by id" >data &&
	test_cmp data.before data
'

test_expect_success 'a dump that fails stops the run before the migration' '
	apply_mig p 0003_drop_name "ALTER TABLE users DROP COLUMN name;" \
		"ALTER TABLE users ADD COLUMN name text;" &&
	apply_build p "$TRASH_DIRECTORY/v3.tar.gz" &&
	test_expect_code 1 env CAIRN_PG_DUMP=false cairn-apply apply v3.tar.gz --env dev >out 2>err &&
	test_grep "before migration 0003_drop_name: false of .* failed (exit status 1); nothing of it ran" err &&
	pg_sql -d app -c "select count(*) from information_schema.columns where table_name = '"'"'users'"'"' and column_name = '"'"'name'"'"'" >n &&
	echo 1 >want && test_cmp want n &&
	pg_sql -d app -c "select count(*) from cairn.cairn_migrations where version = '"'"'0003'"'"'" >n &&
	echo 0 >want && test_cmp want n
'

test_expect_success 'backup: {command:}: the environment'"'"'s command runs instead of pg_dump, with the run'"'"'s facts; its output is recorded' '
	cat >cairn-apply.yaml <<-EOF &&
	environments:
	  dev:
	    database: { dsn: "$DB" }
	    builders: [ci.pub]
	    backup: { command: "env | grep ^CAIRN_ | sort >cmd.env; echo pitr-2026-12-04" }
	EOF
	cairn-apply apply v3.tar.gz --env dev >out &&
	test_grep "^backup before 0003_drop_name: backup=command; exit=0; output=pitr-2026-12-04; tables=\"users\"; destructive: line 1: DROP COLUMN" out &&
	test_grep "^CAIRN_VERSION=0003$" cmd.env &&
	test_grep "^CAIRN_TABLES=\"users\"$" cmd.env &&
	test_grep "^CAIRN_ENV=dev$" cmd.env &&
	test_grep "^CAIRN_DATABASE=postgres .*app" cmd.env &&
	audit_detail backup 0003 >detail &&
	test_grep "^backup=command; exit=0; output=pitr-2026-12-04; tables=\"users\"; " detail &&
	ls saved >files && test_line_count = 1 files &&
	pg_sql -d app -c "select count(*) from information_schema.columns where table_name = '"'"'users'"'"' and column_name = '"'"'name'"'"'" >n &&
	echo 0 >want && test_cmp want n &&
	cairn-apply history --env dev --verify >out
'

test_expect_success 'plan says the backup a destructive step gets: pg_dump to the dir, or the command' '
	apply_mig p 0004_drop_other "DROP TABLE other;" "CREATE TABLE other (id int);" &&
	apply_build p "$TRASH_DIRECTORY/v4.tar.gz" &&
	cairn-apply plan v4.tar.gz --env dev >out &&
	test_grep "^      backup first: the environment.s command: env | grep ^CAIRN_ | sort >cmd.env; echo pitr-2026-12-04 (destructive: line 1: DROP TABLE)$" out &&
	sed -i "s/backup: { command: .*/backup: { dir: saved }/" cairn-apply.yaml &&
	cairn-apply plan v4.tar.gz --env dev >out &&
	test_grep "^      backup first: pg_dump of the tables it touches to .*saved (destructive: line 1: DROP TABLE)$" out &&
	pg_sql -d app -c "select count(*) from cairn.cairn_migrations where version = '"'"'0004'"'"'" >n &&
	echo 0 >want && test_cmp want n
'

restore_config() {
	cat >cairn-apply.yaml <<-EOF
	environments:
	  dev:
	    database: { dsn: "postgresql:///rst?host=$PGHOST" }
	    builders: [ci.pub]
	    backup: { dir: rsaved }
	EOF
}

columns() {
	pg_sql -d rst -c "select table_name, column_name, data_type, ordinal_position from information_schema.columns where table_schema = 'public' order by 1, 4"
}

test_expect_success 'cairn-apply restore: the dropped column and its data come back, the migration is marked rolled back' '
	pg_fresh_db rst &&
	restore_config &&
	cairn-apply apply v1.tar.gz --env dev >out &&
	columns >cols.before &&
	pg_sql -d rst -c "select * from users order by id" >rows.before &&
	cairn-apply apply v2.tar.gz --env dev >out &&
	dump=rsaved/$(ls rsaved) &&
	columns >cols.dropped && ! cmp -s cols.before cols.dropped &&
	test_grep "^users|note|text|3$" cols.before &&
	cairn-apply restore --env dev "$dump" >out &&
	test_grep "^restored the tables \"users\" of .* from .$dump. (the backup taken before 0002); removed what it created: nothing; 0002 is marked rolled back; it is at version 0001$" out &&
	columns >cols.after && test_cmp cols.before cols.after &&
	pg_sql -d rst -c "select * from users order by id" >rows.after && test_cmp rows.before rows.after &&
	pg_sql -d rst -c "select version, state from cairn.cairn_migrations order by version" >books &&
	printf "0001|applied\n0002|rolled_back\n" >want && test_cmp want books &&
	pg_sql -d rst -c "select action, version from cairn.cairn_audit order by seq desc limit 1" >last &&
	echo "restore|0002" >want && test_cmp want last &&
	cairn-apply history --env dev --verify >out
'

test_expect_success 'cairn-apply status and apply see 0002 pending again; apply drops the column again' '
	cairn-apply apply v2.tar.gz --env dev >out &&
	pg_sql -d rst -c "select count(*) from information_schema.columns where table_name = '"'"'users'"'"' and column_name = '"'"'note'"'"'" >n &&
	echo 0 >want && test_cmp want n
'

test_expect_success 'a backup whose migration is no longer the newest applied is refused (exit 3), nothing restored' '
	ls rsaved | sort | tail -n 1 >newest &&
	dump=rsaved/$(cat newest) &&
	cairn-apply apply v3.tar.gz --env dev >out &&
	columns >cols.before &&
	test_expect_code 3 cairn-apply restore --env dev "$dump" >out 2>err &&
	test_grep "only while 0002 is the newest applied migration (the newest is 0003)" err &&
	columns >cols.after && test_cmp cols.before cols.after
'

test_expect_success 'a backup file changed since is refused (exit 3)' '
	dump=rsaved/$(ls rsaved | sort | tail -n 1) &&
	echo x >>"$dump" &&
	test_expect_code 3 cairn-apply restore --env dev "$dump" >out 2>err &&
	test_grep "is not the backup cairn took" err
'

catalog() {
	pg_sql -d mk -c "select c.relkind, c.relname from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace where n.nspname = 'public' order by 2" &&
	pg_sql -d mk -c "select typname from pg_catalog.pg_type t join pg_catalog.pg_namespace n on n.oid = t.typnamespace where n.nspname = 'public' and t.typtype = 'e' order by 1" &&
	pg_sql -d mk -c "select proname from pg_catalog.pg_proc p join pg_catalog.pg_namespace n on n.oid = p.pronamespace where n.nspname = 'public' order by 1" &&
	pg_sql -d mk -c "select table_name, column_name, ordinal_position from information_schema.columns where table_schema = 'public' order by 1, 3"
}

test_expect_success 'restore removes what the migration created (table, index, view, sequence, type, function) in its transaction, and brings the column back' '
	pg_fresh_db mk &&
	cat >mk.yaml <<-EOF &&
	environments:
	  dev:
	    database: { dsn: "postgresql:///mk?host=$PGHOST" }
	    builders: [ci.pub]
	    backup: { dir: mksaved }
	EOF
	apply_project q &&
	sed -i -e "s/^drivers: .*/drivers: [postgres]/" \
		-e "s/^lint: {\(.*\)}$/lint: {\1, contract-only: off}/" q/cairn.yaml &&
	apply_mig q 0001_users "CREATE TABLE users (id int primary key, name text, note text);
INSERT INTO users VALUES (1, '"'"'ann'"'"', '"'"'a'"'"'), (2, '"'"'bob'"'"', '"'"'b'"'"');" "DROP TABLE users;" &&
	apply_mig q 0002_reshape "ALTER TABLE users DROP COLUMN note;
CREATE TABLE notes (id serial primary key, user_id int REFERENCES users (id), body text);
CREATE INDEX notes_user ON notes (user_id);
CREATE INDEX users_name ON users (name);
CREATE VIEW user_notes AS SELECT u.name, n.body FROM users u JOIN notes n ON n.user_id = u.id;
CREATE SEQUENCE ticket_seq;
CREATE TYPE mood AS ENUM ('"'"'ok'"'"', '"'"'meh'"'"');
CREATE FUNCTION note_count() RETURNS bigint LANGUAGE sql AS '"'"'SELECT count(*) FROM notes'"'"';
INSERT INTO notes (user_id, body) VALUES (1, '"'"'hi'"'"');" "SELECT 1;" &&
	apply_build q "$TRASH_DIRECTORY/m.tar.gz" &&
	cairn-apply apply m.tar.gz --env dev --config mk.yaml --to 0001 >out &&
	catalog >cat.before &&
	pg_sql -d mk -c "select * from users order by id" >rows.before &&
	cairn-apply apply m.tar.gz --env dev --config mk.yaml >out &&
	test_grep "created=TABLE \"public\".\"notes\", VIEW \"public\".\"user_notes\", SEQUENCE \"public\".\"ticket_seq\", TYPE \"public\".\"mood\", FUNCTION \"public\".\"note_count\"; destructive: line 1: DROP COLUMN" out &&
	catalog >cat.mid && ! cmp -s cat.before cat.mid &&
	test_grep "notes_user" cat.mid && test_grep "users_name" cat.mid &&
	dump=mksaved/$(ls mksaved) &&
	cairn-apply restore --env dev --config mk.yaml "$dump" >out &&
	test_grep "removed what it created: TABLE \"public\".\"notes\", VIEW \"public\".\"user_notes\", SEQUENCE \"public\".\"ticket_seq\", TYPE \"public\".\"mood\", FUNCTION \"public\".\"note_count\"; 0002 is marked rolled back" out &&
	catalog >cat.after &&
	test_cmp cat.before cat.after &&
	pg_sql -d mk -c "select * from users order by id" >rows.after &&
	test_cmp rows.before rows.after &&
	pg_sql -d mk -c "select version, state from cairn.cairn_migrations order by version" >books &&
	printf "0001|applied\n0002|rolled_back\n" >want && test_cmp want books &&
	pg_sql -d mk -c "select detail from cairn.cairn_audit order by seq desc limit 1" >last &&
	test_grep "^restored=$dump; sha256=[0-9a-f]*; tables=\"users\"; removed=TABLE \"public\".\"notes\", VIEW" last &&
	cairn-apply history --env dev --config mk.yaml --verify >out &&
	cairn-apply apply m.tar.gz --env dev --config mk.yaml >out &&
	catalog >cat.again && test_cmp cat.mid cat.again
'

test_expect_success 'a failure inside the restore (a created object another depends on) rolls it all back: nothing dropped, nothing restored' '
	pg_sql -d mk -c "create view keeps_notes as select * from notes" &&
	catalog >cat.before &&
	pg_sql -d mk -c "select version, state from cairn.cairn_migrations order by version" >books.before &&
	dump=mksaved/$(ls mksaved | sort | tail -n 1) &&
	test_expect_code 1 cairn-apply restore --env dev --config mk.yaml "$dump" >out 2>err &&
	test_grep "removing what 0002 created failed: .*depend.*; nothing was restored: the transaction rolled back" err &&
	catalog >cat.after && test_cmp cat.before cat.after &&
	pg_sql -d mk -c "select version, state from cairn.cairn_migrations order by version" >books.after &&
	test_cmp books.before books.after &&
	pg_sql -d mk -c "drop view keeps_notes"
'

test_expect_success 'a migration whose creations restore cannot know (a DO block) is refused, nothing changed' '
	apply_mig q 0003_dyn "ALTER TABLE users ADD COLUMN tmp int;
ALTER TABLE users DROP COLUMN tmp;
DO \$\$ BEGIN EXECUTE '"'"'CREATE TABLE dyn (x int)'"'"'; END \$\$;" "SELECT 1;" &&
	apply_build q "$TRASH_DIRECTORY/m3.tar.gz" &&
	cairn-apply apply m3.tar.gz --env dev --config mk.yaml >out &&
	test_grep "created=unknown: line 3: do_stmt, which restore cannot follow" out &&
	catalog >cat.before &&
	dump=mksaved/$(ls mksaved | sort | tail -n 1) &&
	test_expect_code 3 cairn-apply restore --env dev --config mk.yaml "$dump" >out 2>err &&
	test_grep "cannot say what the migration created (line 3: do_stmt, which restore cannot follow), so restore cannot make the database what it was; nothing was restored" err &&
	catalog >cat.after && test_cmp cat.before cat.after
'

test_done
