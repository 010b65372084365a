#!/bin/sh
test_description='statements age and keys rotate: strip, revoked keys, future dates, max_approval_age (issue #15)'
. "$(dirname "$0")/test-lib.sh"

unset CAIRN_ENV CAIRN_DB CAIRN_LOCK_TIMEOUT CAIRN_APPLY_CONFIG

kid() {
	openssl pkey -pubin -in "$1" -outform DER | tail -c 32 | sha256sum | cut -c1-16
}

test_expect_success 'setup: keys and a bundle signed by the old CI key' '
	mkdir -p keys &&
	for k in ci ci2 alice bob dba; do
		cairn keygen --no-passphrase keys/$k >/dev/null 2>&1 || return 1
	done &&
	test_create_project shop &&
	test_migration shop 20260101000000_users &&
	test_commit shop v1 &&
	(cd shop && cairn build --sign ../keys/ci.key -o ../b.tar.gz >/dev/null 2>&1) &&
	cairn inspect b.tar.gz | sed -n "s/^id *//p" >id.before
'

test_expect_success 'strip removes the statements a key signed; the bundle id stays' '
	cp b.tar.gz s.tar.gz &&
	cairn sign s.tar.gz --key keys/ci2.key >/dev/null 2>&1 &&
	cairn promote s.tar.gz --to dev --key keys/ci.key >/dev/null 2>&1 &&
	test "$(tar tzf s.tar.gz | grep -c "$(kid keys/ci.pub)")" = 4 &&
	cairn strip s.tar.gz --key-id "$(kid keys/ci.pub)" >out 2>err &&
	test_grep "^s.tar.gz$" out &&
	test_grep "removed 2 statements by key $(kid keys/ci.pub)" err &&
	test "$(tar tzf s.tar.gz | grep -c "$(kid keys/ci.pub)")" = 0 &&
	test "$(tar tzf s.tar.gz | grep -c "$(kid keys/ci2.pub)")" = 2 &&
	cairn inspect s.tar.gz | sed -n "s/^id *//p" >id.after &&
	test_cmp id.before id.after &&
	cairn verify s.tar.gz --key keys/ci2.pub >/dev/null &&
	test_expect_code 3 cairn verify s.tar.gz --key keys/ci.pub 2>err &&
	test_expect_code 1 cairn strip s.tar.gz --key-id "$(kid keys/ci.pub)" 2>err &&
	test_grep "holds no statement by key" err &&
	test_expect_code 2 cairn strip s.tar.gz --key-id nothex 2>err &&
	test_grep "is not a key id" err &&
	cairn strip b.tar.gz --key-id "$(kid keys/ci.pub)" -o none.tar.gz >/dev/null 2>&1 &&
	cairn inspect none.tar.gz >out &&
	test_grep "none: unsigned" out
'

test_done
