#!/bin/sh
test_description='the run'"'"'s PostgreSQL role and the books guard (issue #15, pgguard15b): a superuser, a member of one, a role that may SET session_replication_role, or a session in replica mode can hide writes from the guard; apply warns, or refuses under postgres: {privileged_role: refuse}'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"
. "$TEST_DIRECTORY/lib-pg.sh"

pg_start
unset CAIRN_ENV CAIRN_DB CAIRN_APPLY_CONFIG CAIRN_CHECKPOINT CAIRN_CHECKPOINT_KEY

# books NAME: how many of cairn's tables database NAME has
books() {
	pg_sql -d "$1" -c "select count(*) from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = 'cairn' and c.relkind = 'r'"
}

# role ROLE [GRANTS]: a login role that owns its own database ROLE, then GRANTS
role() {
	pg_plain_db "$1" &&
	if test -n "$2"; then pg_sql -d postgres -c "$2"; fi
}

test_expect_success 'setup: a bundle' '
	pg_project p &&
	apply_table p 0001_a &&
	apply_build p "$TRASH_DIRECTORY/v1.tar.gz"
'

# Before pgguard15b each of these applied without a word.
test_expect_success 'the server'"'"'s superuser (the default): applied, with a warning naming the fact and the way out' '
	pg_fresh_db su &&
	DB="postgresql:///su?host=$PGHOST" && pg_config "" &&
	cairn-apply apply v1.tar.gz --env dev >out 2>err &&
	test_grep "applied 1 migration" out &&
	test_grep "^cairn-apply: warning: role cairn is a superuser: its migrations can hide writes to cairn.s books from the books guard; .*privileged_role: refuse" err
'

test_expect_success 'privileged_role: refuse: the superuser is refused (exit 3), nothing written' '
	pg_fresh_db su2 &&
	DB="postgresql:///su2?host=$PGHOST" &&
	pg_config "postgres: { privileged_role: refuse }" &&
	test_expect_code 3 cairn-apply apply v1.tar.gz --env dev >out 2>err &&
	test_grep "refusing to apply on .*: role cairn is a superuser, so its migrations can hide writes to cairn.s books .*privileged_role: warn} for environment .dev." err &&
	test_grep "the database is unchanged" err &&
	test "$(books su2)" = 0
'

for case in \
	"member|GRANT cairn TO member|role member may SET ROLE to superuser cairn" \
	"srrset|GRANT SET ON PARAMETER session_replication_role TO srrset|role srrset may SET session_replication_role" \
	"replica|ALTER ROLE replica SET session_replication_role = replica|session_replication_role is replica (triggers do not fire)" \
	"bypass|ALTER ROLE bypass BYPASSRLS|role bypass bypasses row level security"
do
	name=${case%%|*} rest=${case#*|} grant=${rest%%|*} what=${rest#*|}
	test_expect_success "privileged_role: refuse: $name is refused, nothing written" '
		role $name "$grant" &&
		DB="postgresql://$name@/$name?host=$PGHOST" &&
		pg_config "postgres: { privileged_role: refuse }" &&
		test_expect_code 3 cairn-apply apply v1.tar.gz --env dev >out 2>err &&
		test_grep "refusing to apply on .*: $what" err &&
		test "$(books $name)" = 0
	'
done

test_expect_success 'privileged_role: refuse: a plain role owning its database applies, no warning' '
	role plain &&
	DB="postgresql://plain@/plain?host=$PGHOST" &&
	pg_config "postgres: { privileged_role: refuse }" &&
	cairn-apply apply v1.tar.gz --env dev >out8 2>err8 &&
	test_grep "applied 1 migration" out8 &&
	! grep warning err8 &&
	test "$(books plain)" = 2
'

test_expect_success 'privileged_role takes refuse or warn only' '
	DB="postgresql:///su?host=$PGHOST" &&
	pg_config "postgres: { privileged_role: maybe }" &&
	test_expect_code 6 cairn-apply apply v1.tar.gz --env dev >out 2>err &&
	test_grep "privileged_role.* must be refuse or warn" err
'

test_done
