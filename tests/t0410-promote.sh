#!/bin/sh
test_description='cairn promote and cairn override: signed statements inside the bundle'
. "$(dirname "$0")/test-lib.sh"

unset CAIRN_ENV CAIRN_DB CAIRN_LOCK_TIMEOUT

test_expect_success 'setup: a project, keys, a signed bundle' '
	test_create_project p &&
	test_migration p 20260101000000_users &&
	test_commit p base &&
	for k in ci alice dba; do
		cairn keygen --no-passphrase $k >/dev/null 2>&1 || return 1
	done &&
	(cd p && cairn build --sign ../ci.key -o ../b.tar.gz >/dev/null 2>&1) &&
	cairn inspect b.tar.gz --format json >j &&
	id=$(python3 -c "import json; print(json.load(open(\"j\"))[\"id\"])") &&
	echo "$id" >id && test -n "$id"
'

test_expect_success 'promote adds approvals/ENV-KEYID.yaml and .sig inside the tarball' '
	alice=$(openssl pkey -pubin -in alice.pub -outform DER | tail -c 32 | sha256sum | cut -c1-16) &&
	cairn promote b.tar.gz --to staging --key alice.key --comment "QA passed" --ticket CHG-42 >out 2>err &&
	test_grep "^b.tar.gz$" out &&
	test_grep "cairn: approved $(cat id) for .staging. by key $alice (alice): approvals/staging-$alice.yaml" err &&
	tar tzf b.tar.gz >members &&
	test_grep "/approvals/staging-$alice.yaml$" members &&
	test_grep "/approvals/staging-$alice.sig$" members &&
	tar xzf b.tar.gz --wildcards --strip-components=1 "*/approvals/*" &&
	test_grep "^type: approval$" approvals/staging-$alice.yaml &&
	test_grep "^bundle: \"$(cat id)\"$" approvals/staging-$alice.yaml &&
	test_grep "^environment: staging$" approvals/staging-$alice.yaml &&
	test_grep "^comment: \"QA passed\"$" approvals/staging-$alice.yaml &&
	test_grep "^ticket: CHG-42$" approvals/staging-$alice.yaml
'

test_expect_success 'the approval checks with openssl alone' '
	base64 -d approvals/staging-*.sig >sig.bin &&
	openssl pkeyutl -verify -rawin -pubin -inkey alice.pub -in approvals/staging-*.yaml -sigfile sig.bin >v &&
	test_grep "Signature Verified Successfully" v &&
	test_must_fail --exit=1 openssl pkeyutl -verify -rawin -pubin -inkey ci.pub \
		-in approvals/staging-*.yaml -sigfile sig.bin >v 2>&1 &&
	test_grep "Signature Verification Failure" v &&
	test_grep ! "Signature Verified Successfully" v
'

test_expect_success 'the bundle id does not change, and inspect shows the approval' '
	cairn inspect b.tar.gz --format json >j &&
	python3 -c "
import json, sys
d = json.load(open(\"j\"))
assert d[\"id\"] == sys.argv[1], d[\"id\"]
a = [s for s in d[\"statements\"] if s[\"type\"] == \"approval\"]
assert len(a) == 1 and a[0][\"environment\"] == \"staging\" and a[0][\"valid\"], a
" "$(cat id)" &&
	cairn inspect b.tar.gz >out &&
	test_grep "approval .*alice  for staging" out &&
	cairn verify b.tar.gz --key ci.pub >out &&
	test_grep "approvals/staging-.*.yaml: approval by" out
'

test_expect_success 'approving again with the same key replaces the approval' '
	cairn promote b.tar.gz --to staging --key alice.key --comment "again" 2>/dev/null >/dev/null &&
	tar tzf b.tar.gz | grep -c "approvals/staging-.*yaml$" >n &&
	echo 1 >one && test_cmp one n &&
	tar xzf b.tar.gz -O --wildcards "*/approvals/staging-*.yaml" >a.yaml &&
	test_grep "^comment: again$" a.yaml
'

test_expect_success '--expires: a time, a date or a duration; the past is refused' '
	cairn promote b.tar.gz --to prod --key alice.key --expires 2099-01-01T00:00:00Z -o e1.tar.gz 2>err &&
	test_grep "expires 2099-01-01T00:00:00Z" err &&
	cairn promote b.tar.gz --to prod --key alice.key --expires 2099-01-01 -o e2.tar.gz 2>err &&
	test_grep "expires 2099-01-01T00:00:00Z" err &&
	cairn promote b.tar.gz --to prod --key alice.key --expires 7d -o e3.tar.gz 2>err &&
	test_grep "expires 20[0-9-]*T[0-9:]*Z" err &&
	test_expect_code 2 cairn promote b.tar.gz --to prod --key alice.key --expires 2020-01-01 2>err &&
	test_grep "already past" err &&
	test_expect_code 2 cairn promote b.tar.gz --to prod --key alice.key --expires soon 2>err &&
	test_grep "\-\-expires must be a UTC time" err
'

test_expect_success '-o writes a new file and leaves the bundle alone' '
	cp b.tar.gz before.tar.gz &&
	cairn promote b.tar.gz --to qa --key alice.key -o qa.tar.gz >/dev/null 2>&1 &&
	cmp b.tar.gz before.tar.gz &&
	tar tzf qa.tar.gz | grep "approvals/qa-" >/dev/null
'

test_expect_success 'usage errors: no --to, no --key, a bad environment name' '
	test_expect_code 2 cairn promote b.tar.gz --key alice.key 2>err &&
	test_grep "missing --to ENV" err &&
	test_expect_code 2 cairn promote b.tar.gz --to prod 2>err &&
	test_grep "missing --key KEY" err &&
	test_expect_code 2 cairn promote b.tar.gz --to ../etc --key alice.key 2>err &&
	test_grep "is not an environment name" err &&
	test_expect_code 2 cairn promote --to prod --key alice.key 2>err &&
	test_grep "missing BUNDLE" err
'

test_expect_success 'a damaged bundle is not promoted (exit 3), a missing one exits 6' '
	cp b.tar.gz bad.tar.gz &&
	printf "x" | dd of=bad.tar.gz bs=1 seek=200 conv=notrunc 2>/dev/null &&
	test_expect_code 3 cairn promote bad.tar.gz --to prod --key alice.key 2>err &&
	test_grep "cannot promote .bad.tar.gz." err &&
	test_expect_code 6 cairn promote nowhere.tar.gz --to prod --key alice.key 2>err
'

test_expect_success 'override: approvals/ENV-override-KEYID, with what it allows' '
	cairn override b.tar.gz --env prod --key dba.key --allow no-receipt --allow older-bundle \
		--comment "hotfix, INC-7" >/dev/null 2>err &&
	test_grep "override .* for .prod. by key" err &&
	tar xzf b.tar.gz -O --wildcards "*/approvals/prod-override-*.yaml" >o.yaml &&
	test_grep "^type: override$" o.yaml &&
	test_grep "^allow: \"no-receipt,older-bundle\"$" o.yaml &&
	test_expect_code 2 cairn override b.tar.gz --env prod --key dba.key 2>err &&
	test_grep "missing --allow OP" err &&
	test_expect_code 2 cairn override b.tar.gz --env prod --key dba.key --allow everything 2>err &&
	test_grep "\-\-allow takes older-bundle, no-receipt, repair, force or identity, not .everything." err
'

test_expect_success 'the applier holds no signer but its receipt signer' '
	nm "$SRC_DIR/bin/cairn-apply" >syms &&
	test_grep " T receipt_sign$" syms &&
	test_grep ! "seckey_sign" syms &&
	test_grep ! "bundle_sign" syms &&
	test_grep ! "keygen_write" syms &&
	nm "$SRC_DIR/bin/cairn" >syms &&
	test_grep ! "receipt_sign" syms
'

test_done
