#!/bin/sh
test_description='docs/bundle-verification.md: tar, sha256sum and openssl alone check a bundle'
. "$(dirname "$0")/test-lib.sh"

FIX="$TEST_DIRECTORY/fixtures"

test_expect_success 'setup: the commands of docs/bundle-verification.md, exactly' '
	sed -n "/^\`\`\`sh$/,/^\`\`\`$/p" "$SRC_DIR/docs/bundle-verification.md" | sed "1d;\$d" >check.sh &&
	test_line_count -ge 15 check.sh &&
	test_grep "sha256sum --strict --quiet -c SHA256SUMS" check.sh &&
	test_grep "openssl pkeyutl -verify -rawin -pubin" check.sh
'

test_expect_success 'they accept the golden bundle' '
	BUNDLE="$FIX/golden.tar.gz" PUB="$FIX/keys/test.pub" sh check.sh >out 2>err &&
	test_grep "Signature Verified Successfully" out &&
	id=$(cairn inspect "$FIX/golden.tar.gz" | sed -n "s/^id *//p") &&
	test_grep "^verified: $id, built by key 0c4ec30c252bc140$" out
'

test_expect_success 'they accept a fresh build signed by a fresh key' '
	cairn keygen --no-passphrase ci >/dev/null &&
	. "$FIX/project.sh" && fixture_project p &&
	(cd p && cairn build --sign ../ci.key -o ../b.tar.gz 2>/dev/null) &&
	BUNDLE="$PWD/b.tar.gz" PUB="$PWD/ci.pub" sh check.sh >out 2>err &&
	test_grep "^verified: sha256:" out
'

# Each hostile fixture that tar can unpack is refused by the commands too.
for bad in changed-sql changed-data manifest-edited added-member removed-member \
	changed-statement changed-sig unsigned; do
	test_expect_success "they refuse $bad" '
		test_must_fail env BUNDLE="$FIX/hostile/$bad.tar.gz" PUB="$FIX/keys/test.pub" sh check.sh >out 2>err &&
		test_grep ! "^verified:" out
	'
done

test_expect_success 'they refuse a bundle signed by another key' '
	test_must_fail env BUNDLE="$FIX/other-signed.tar.gz" PUB="$FIX/keys/test.pub" sh check.sh >out 2>err &&
	test_grep ! "^verified:" out
'

test_done
