#!/bin/sh
test_description='libpq is loaded at first use: SQLite runs never need it, PostgreSQL without it is exit 6'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"

# CAIRN_LIBPQ names the library the PostgreSQL driver dlopens; a path that
# does not exist stands for a host with no libpq installed at all.
NOPQ=/nonexistent/libpq.so.5

test_expect_success 'setup: a project with two migrations' '
	apply_project p &&
	apply_table p 0001_users &&
	apply_table p 0002_orders &&
	apply_build p "$TRASH_DIRECTORY/b.tar.gz"
'

test_expect_success 'cairn-apply is not linked with libpq' '
	ldd "$SRC_DIR/bin/cairn-apply" >libs &&
	test_grep libsqlite3 libs &&
	test_grep ! libpq libs
'

test_expect_success 'every SQLite verb works with no libpq to load' '
	CAIRN_LIBPQ=$NOPQ cairn-apply verify b.tar.gz $KEY >out &&
	CAIRN_LIBPQ=$NOPQ cairn-apply plan b.tar.gz --env dev --db sqlite:db $KEY >out &&
	test_grep "0001_users" out &&
	CAIRN_LIBPQ=$NOPQ cairn-apply apply b.tar.gz --env dev --db sqlite:db $KEY >out &&
	test_grep "^applied 2 migrations; db is at version 0002" out &&
	CAIRN_LIBPQ=$NOPQ cairn-apply status b.tar.gz --db sqlite:db $KEY >out &&
	CAIRN_LIBPQ=$NOPQ cairn-apply history --db sqlite:db --verify >out &&
	CAIRN_LIBPQ=$NOPQ cairn-apply rollback --db sqlite:db --last 1 >out &&
	CAIRN_LIBPQ=$NOPQ cairn-apply apply b.tar.gz --env dev --db sqlite:db $KEY >out &&
	q db "SELECT version, state FROM cairn_migrations ORDER BY version" >rows &&
	printf "0001|applied\n0002|applied\n" >expect &&
	test_cmp expect rows
'

test_expect_success 'a SQLite run never maps libpq; a PostgreSQL DSN does (the check can fail)' '
	LD_DEBUG=files cairn-apply status --db sqlite:db 2>debug >out &&
	test_grep "file=libsqlite3" debug &&
	test_grep ! "libpq" debug &&
	test_expect_code 6 env LD_DEBUG=files PGCONNECT_TIMEOUT=2 \
		cairn-apply status --db "host=$TRASH_DIRECTORY/no-socket dbname=x" 2>debug >out &&
	test_grep "file=libpq.so.5 .*dynamically loaded" debug
'

test_expect_success 'libpg_query is loaded at first use too: not linked, not mapped when no script is read' '
	test_grep ! libpg_query libs &&
	LD_DEBUG=files cairn-apply apply b.tar.gz --env dev --db sqlite:lq.db $KEY 2>debug >out &&
	test_grep "^applied 2 migrations; lq.db is at version 0002" out &&
	test_grep "file=libpg_query.* dynamically loaded" debug &&
	LD_DEBUG=files cairn-apply apply b.tar.gz --env dev --db sqlite:lq.db $KEY 2>debug >out &&
	test_grep "nothing to apply" out &&
	test_grep "file=libsqlite3" debug &&
	test_grep ! "libpg_query" debug &&
	LD_DEBUG=files cairn-apply status b.tar.gz --db sqlite:lq.db $KEY 2>debug >out &&
	LD_DEBUG=files cairn-apply history --db sqlite:lq.db --verify 2>>debug >out &&
	LD_DEBUG=files cairn-apply verify b.tar.gz $KEY 2>>debug >out &&
	test_grep ! "libpg_query" debug &&
	test "$(q lq.db "SELECT count(*) FROM cairn_migrations WHERE state = '"'"'applied'"'"'")" = 2 &&
	ldd "$SRC_DIR/bin/cairn" >cairn-libs &&
	test_grep libpg_query cairn-libs
'

test_expect_success 'a PostgreSQL DSN without libpq: exit 6, the library, the reason, the way out' '
	for dsn in "postgres://u@localhost/x" "postgresql://localhost/x" "host=localhost dbname=x"; do
		test_expect_code 6 env CAIRN_LIBPQ=$NOPQ cairn-apply status --db "$dsn" >out 2>err &&
		test_grep "^cairn-apply: cannot load libpq .$NOPQ. (named by CAIRN_LIBPQ) for PostgreSQL" err &&
		test_grep "$NOPQ: cannot open shared object file: No such file or directory" err &&
		test_grep "install libpq5 (apt-get install libpq5)$" err &&
		test_line_count = 1 err || return 1
	done &&
	test_expect_code 6 env CAIRN_LIBPQ=$NOPQ \
		cairn-apply apply b.tar.gz --env dev --db "host=localhost dbname=x" $KEY >out 2>err &&
	test_grep "cannot load libpq" err &&
	test_expect_code 6 env CAIRN_LIBPQ=$NOPQ \
		cairn-apply status --db "host=localhost dbname=x" --format json >json 2>err &&
	test_grep "cannot load libpq" json
'

test_expect_success 'a library without libpq functions names the missing one' '
	lib=$(awk "/libsqlite3/ { print \$3 }" libs) &&
	test -f "$lib" &&
	test_expect_code 6 env CAIRN_LIBPQ="$lib" cairn-apply status --db "host=localhost dbname=x" 2>err &&
	test_grep "cannot use libpq .$lib. (named by CAIRN_LIBPQ): it has no function PQ[a-zA-Z]* (.*undefined symbol: PQ[a-zA-Z]*); install libpq5" err
'

test_expect_success 'a password in the DSN is not shown when libpq is missing' '
	test_expect_code 6 env CAIRN_LIBPQ=$NOPQ \
		cairn-apply status --db "postgres://u:s3cret@localhost/x" >out 2>err &&
	! grep s3cret out err
'

test_expect_success '--version names libpq when it loads, and says why when it does not' '
	cairn-apply --version >out &&
	test_grep ", libpq [0-9][0-9]*\.[0-9][0-9]*$" out &&
	CAIRN_LIBPQ=$NOPQ cairn-apply --version >out &&
	test_grep "SQLite [0-9]" out &&
	test_grep ", libpq not loaded: cannot load libpq .$NOPQ." out
'

test_done
