#!/bin/sh
test_description='the throwaway PostgreSQL server of tests/lib-pg.sh'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-pg.sh"

pg_start

test_expect_success 'psql reaches the server over the Unix socket in the trash directory' '
	pg_sql -c "select current_user, version()" >out &&
	test_grep "^cairn|PostgreSQL " out &&
	pg_sql -c "show unix_socket_directories" >dir &&
	echo "$PGHOST" >want &&
	test_cmp want dir &&
	test -S "$PGHOST/.s.PGSQL.$PGPORT" &&
	case "$PGHOST" in "$TRASH_DIRECTORY"/*|/tmp/cairn-pg.*) ;; *) false ;; esac
'

test_expect_success 'the server listens on no TCP address' '
	pg_sql -c "show listen_addresses" >la &&
	echo >want &&
	test_cmp want la &&
	pid=$(head -n 1 "$PGHOST/data/postmaster.pid") &&
	ss -Hltnp >listeners &&
	test_grep ! "pid=$pid," listeners &&
	! grep -v "127\.0\.0\.1:" listeners | grep postgres
'

test_expect_success 'as root, the server runs as an unprivileged user' '
	pid=$(head -n 1 "$PGHOST/data/postmaster.pid") &&
	uid=$(ps -o uid= -p "$pid" | tr -d " ") &&
	if test "$(id -u)" -eq 0
	then
		test "$uid" -ne 0 &&
		test "$(stat -c %u "$PGHOST/data")" = "$uid"
	else
		test "$uid" = "$(id -u)"
	fi
'

test_expect_success 'durability is off on this throwaway server (fast tests)' '
	pg_sql -c "show fsync" >f &&
	echo off >want &&
	test_cmp want f
'

test_expect_success 'a fresh database can be created and used' '
	pg_fresh_db h1 &&
	pg_sql -d h1 -c "create table t (x int)" -c "insert into t values (42)" &&
	pg_sql -d h1 -c "select x from t" >out &&
	echo 42 >want &&
	test_cmp want out
'

test_expect_success 'the password role is refused without a password' '
	pg_sql -c "create role cairn_pw login password '"'"'s3cret-pw'"'"'" &&
	test_must_fail env PGUSER=cairn_pw "$PSQL" -X -w -c "select 1" 2>err &&
	test_grep "password" err &&
	PGPASSWORD=s3cret-pw "$PSQL" -X -w -At -U cairn_pw -c "select current_user" >out &&
	echo cairn_pw >want &&
	test_cmp want out
'

test_expect_success 'pg_stop stops the server and removes its socket' '
	pid=$(head -n 1 "$PGHOST/data/postmaster.pid") &&
	pg_stop &&
	state=$(ps -o stat= -p "$pid" || :) &&
	case "$state" in ""|Z*) ;; *) echo "postmaster $pid still there: $state"; false ;; esac &&
	! test -S "$PGHOST/.s.PGSQL.$PGPORT" &&
	test_must_fail "$PSQL" -X -c "select 1" 2>err &&
	test_grep "No such file\|could not connect" err
'

test_done
