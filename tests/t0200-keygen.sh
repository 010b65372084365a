#!/bin/sh
test_description='cairn keygen: Ed25519 key pairs, passphrases, modes, key ids'
. "$(dirname "$0")/test-lib.sh"

# key_id_of PUB: what DESIGN.md says a key id is, computed with openssl
key_id_of() {
	openssl pkey -pubin -in "$1" -outform DER | tail -c 32 | sha256sum | cut -c1-16
}

test_expect_success 'keygen --no-passphrase writes a 0600 private key and a public key' '
	cairn keygen --no-passphrase ci >id 2>err &&
	test -f ci.key && test -f ci.pub &&
	test "$(stat -c %a ci.key)" = 600 &&
	grep -q "^-----BEGIN PRIVATE KEY-----" ci.key &&
	grep -q "^-----BEGIN PUBLIC KEY-----" ci.pub &&
	openssl pkey -pubin -in ci.pub -noout -text >text &&
	test_grep "ED25519 Public-Key" text &&
	test_grep "key id $(cat id)" err
'

test_expect_success 'the key id is the first 16 hex digits of sha256 of the raw public key' '
	test "$(cat id)" = "$(key_id_of ci.pub)" &&
	grep -Eq "^[0-9a-f]{16}$" id
'

test_expect_success 'an existing key is never overwritten' '
	cp ci.key before &&
	test_must_fail --exit=6 cairn keygen --no-passphrase ci 2>err &&
	test_grep "cairn: .ci.key. exists: cairn never overwrites a key" err &&
	cmp ci.key before
'

test_expect_success 'a passphrase from CAIRN_KEY_PASSPHRASE encrypts the key' '
	CAIRN_KEY_PASSPHRASE="s3cret phrase" cairn keygen enc >/dev/null &&
	grep -q "^-----BEGIN ENCRYPTED PRIVATE KEY-----" enc.key &&
	test_grep ! "BEGIN PRIVATE KEY" enc.key &&
	openssl pkey -in enc.key -passin pass:"s3cret phrase" -noout &&
	openssl asn1parse -in enc.key >asn1 &&
	test_grep ":scrypt" asn1 && test_grep ":aes-256-cbc" asn1 &&
	test_must_fail openssl pkey -in enc.key -passin pass:wrong -noout 2>/dev/null
'

test_expect_success 'a passphrase from --passphrase-file (its first line)' '
	printf "from a file\n" >pass &&
	cairn keygen --passphrase-file pass fromfile >/dev/null &&
	openssl pkey -in fromfile.key -passin pass:"from a file" -noout
'

test_expect_success 'no passphrase source and no terminal: refused with the ways out' '
	test_must_fail --exit=2 setsid cairn keygen nopass </dev/null 2>err &&
	test_grep "no terminal to ask on: set CAIRN_KEY_PASSPHRASE or pass --passphrase-file FILE" err &&
	test ! -e nopass.key
'

# script(1) gives cairn a terminal; the passphrase is typed there, twice,
# and never echoed.
test_expect_success 'a passphrase typed on the terminal, twice, not echoed' '
	(sleep 1; printf "typed secret\n"; sleep 1; printf "typed secret\n") |
		script -qec "cairn keygen tty" /dev/null >out 2>&1 &&
	test_grep "passphrase for the new key .tty.key.: " out &&
	test_grep "again: " out &&
	test_grep ! "typed secret" out &&
	openssl pkey -in tty.key -passin pass:"typed secret" -noout
'

test_expect_success 'two different passphrases on the terminal: nothing written' '
	(sleep 1; printf "one\n"; sleep 1; printf "two\n") |
		test_must_fail --exit=2 script -qec "cairn keygen tty2" /dev/null >out 2>&1 &&
	test_grep "the passphrases differ; nothing written" out &&
	test ! -e tty2.key && test ! -e tty2.pub
'

test_expect_success 'the passphrase is never a flag value' '
	test_must_fail --exit=2 cairn keygen --password x k 2>err &&
	test_grep "unknown option" err &&
	test_must_fail --exit=2 cairn keygen --no-passphrase --passphrase-file pass k 2>err &&
	test_grep "cannot be used together" err
'

test_expect_success 'an empty passphrase is refused' '
	: >empty &&
	test_must_fail --exit=2 cairn keygen --passphrase-file empty k 2>err &&
	test_grep "empty passphrase" err
'

test_expect_success 'usage errors' '
	test_must_fail --exit=2 cairn keygen 2>err &&
	test_grep "missing NAME" err &&
	test_must_fail --exit=2 cairn keygen a b 2>err &&
	test_grep "unexpected argument .b." err
'

# A bundle to sign, for the key-loading rules.
test_expect_success 'setup: a project to build' '
	test_create_project p &&
	test_migration p 20260101000000_users &&
	test_commit p one
'

test_expect_success 'signing with a private key readable by others is refused with the chmod to run' '
	cp ci.key loose.key && chmod 644 loose.key &&
	(cd p && test_must_fail --exit=6 cairn build --sign ../loose.key -o ../b.tar.gz 2>../err) &&
	test_grep "refusing private key .../loose.key.: readable by others (mode 0644); run .chmod 600 ../loose.key." err &&
	chmod 640 loose.key &&
	(cd p && test_must_fail --exit=6 cairn build --sign ../loose.key 2>../err) &&
	test_grep "readable by its group (mode 0640)" err &&
	test ! -e b.tar.gz
'

test_expect_success 'an encrypted key signs with the right passphrase, and not with a wrong one' '
	(cd p && CAIRN_KEY_PASSPHRASE="s3cret phrase" cairn build --sign ../enc.key -o ../b.tar.gz 2>../err) &&
	cairn verify b.tar.gz --key enc.pub &&
	(cd p && CAIRN_KEY_PASSPHRASE=wrong test_must_fail --exit=6 cairn build --sign ../enc.key -o ../c.tar.gz 2>../err) &&
	test_grep "cannot decrypt private key .../enc.key.: wrong passphrase" err &&
	test ! -e c.tar.gz
'

test_expect_success '--passphrase-file beats CAIRN_KEY_PASSPHRASE' '
	(cd p && CAIRN_KEY_PASSPHRASE=wrong cairn build --passphrase-file ../pass --sign ../fromfile.key -o ../d.tar.gz 2>../err) &&
	cairn verify d.tar.gz --key fromfile.pub
'

test_expect_success 'the committed encrypted fixture key signs with its passphrase' '
	cp "$TEST_DIRECTORY/fixtures/keys/test-enc.key" fx.key && chmod 600 fx.key &&
	printf "correct horse battery staple\n" >fx.pass &&
	(cd p && cairn build --sign ../fx.key --passphrase-file ../fx.pass -o ../fx.tar.gz 2>/dev/null) &&
	cairn-apply verify fx.tar.gz --key "$TEST_DIRECTORY/fixtures/keys/test-enc.pub" >out &&
	test_grep "build by f1f4414348327ca3 (fx): valid, trusted" out
'

test_expect_success 'a public key reads the same in its canonical form and in any other PEM text' '
	pub="$TEST_DIRECTORY/fixtures/keys/test-enc.pub" &&
	cp "$pub" canon.pub &&
	sed "s/\$/\r/" "$pub" >crlf.pub &&
	{ echo "a comment before the armour"; cat "$pub"; } >lead.pub &&
	head -c -1 "$pub" >nonl.pub &&
	for k in canon crlf lead nonl; do
		cairn-apply verify fx.tar.gz --key $k.pub >out &&
		test_grep "build by f1f4414348327ca3 (fx): valid, trusted" out || return 1
	done &&
	sed "2s/^\(.\{20\}\)./\1A/" "$pub" >other.pub &&
	! cmp -s other.pub canon.pub &&
	test_must_fail cairn-apply verify fx.tar.gz --key other.pub >out 2>err &&
	! test_grep "f1f4414348327ca3 (fx): valid, trusted" out &&
	sed "2s/^MCow/MCoX/" "$pub" >prefix.pub &&
	test_must_fail cairn-apply verify fx.tar.gz --key prefix.pub 2>err &&
	test_grep "prefix.pub" err
'

test_expect_success 'a public key is not a private key, and the reverse' '
	(cd p && test_must_fail cairn build --sign ../ci.pub 2>../err) &&
	test_grep "ci.pub" err &&
	test_must_fail --exit=6 cairn verify b.tar.gz --key ci.key 2>err &&
	test_grep "is not a PEM public key" err
'

test_done
