#!/bin/sh
test_description='cairn sign adds build signatures; cairn inspect shows a bundle and the validity of its statements'
. "$(dirname "$0")/test-lib.sh"

FIX="$TEST_DIRECTORY/fixtures"

test_expect_success 'setup: an unsigned bundle and two keys' '
	. "$FIX/project.sh" && fixture_project p &&
	(cd p && cairn build -o ../b.tar.gz 2>/dev/null) &&
	cairn keygen --no-passphrase ci >ci.id 2>/dev/null &&
	CAIRN_KEY_PASSPHRASE=pw cairn keygen release >release.id 2>/dev/null &&
	cairn inspect b.tar.gz | sed -n "s/^id *//p" >id.before &&
	test -s id.before
'

test_expect_success 'inspect shows an unsigned bundle as such, and verify --key refuses it' '
	cairn inspect b.tar.gz >out &&
	test_grep "^  none: unsigned (sign it with .cairn sign BUNDLE --key KEY.)" out &&
	test_must_fail --exit=3 cairn verify b.tar.gz --key ci.pub 2>err &&
	test_grep "no build signature" err
'

test_expect_success 'sign adds a signature; the bundle id does not change' '
	cairn sign b.tar.gz --key ci.key >out 2>err &&
	test_grep "^b.tar.gz$" out &&
	test_grep "cairn: signed $(cat id.before) with key $(cat ci.id) (ci)" err &&
	cairn inspect b.tar.gz | sed -n "s/^id *//p" >id.after &&
	test_cmp id.before id.after &&
	cairn verify b.tar.gz --key ci.pub
'

test_expect_success 'a second key, with a signer name and -o; both signatures count' '
	CAIRN_KEY_PASSPHRASE=pw cairn sign b.tar.gz --key release.key --signer "Release Manager" -o two.tar.gz 2>/dev/null &&
	cairn verify two.tar.gz --key release.pub >out &&
	test_grep "build by $(cat release.id) (Release Manager): valid, trusted" out &&
	test_grep "build by $(cat ci.id) (ci): valid, key not trusted" out &&
	cairn verify two.tar.gz --key ci.pub &&
	tar tzf two.tar.gz | grep -c "signatures/" >n && test "$(cat n)" = 4
'

test_expect_success 'inspect: id, source, migrations in apply order, signatures' '
	cairn inspect two.tar.gz --key ci.pub >out &&
	test_grep "^bundle     fix-20260102000000$" out &&
	test_grep "^id         $(cat id.before)$" out &&
	test_grep "^source     https://git.example.com/acme/fix.git$" out &&
	test_grep "^commit     $(git -C p rev-parse HEAD)$" out &&
	test_grep "^built      2026-01-02T03:04:05Z by cairn 0" out &&
	grep "^  2026" out | cut -d" " -f3 >order &&
	printf "%s\n" 20260101000000_create_accounts 20260101000100_seed_countries \
		20260102000000_index_accounts_email >expect &&
	test_cmp expect order &&
	test_grep "20260102000000_index_accounts_email  \[no transaction\]  \[only staging,prod\]" out &&
	test_grep "^  build    $(cat ci.id)  ci  2026-01-02T03:04:05Z  valid, trusted$" out &&
	test_grep "^  build    $(cat release.id)  Release Manager  2026-01-02T03:04:05Z  valid, key not trusted$" out
'

test_expect_success 'inspect --format json' '
	cairn inspect two.tar.gz --format json --key release.pub >out.json &&
	python3 - <<-EOF
	import json
	d = json.load(open("out.json"))
	assert d["id"] == open("id.before").read().strip()
	assert d["source"]["repository"] == "https://git.example.com/acme/fix.git"
	assert [m["name"] for m in d["migrations"]][0] == "20260101000000_create_accounts"
	m = d["migrations"][2]
	assert m["transaction"] is False and m["environments"] == ["staging", "prod"]
	assert m["timeout_ms"] == 300000, m
	assert d["migrations"][1]["requires"] == ["20260101000000_create_accounts"]
	files = {f["name"]: f for f in d["migrations"][1]["files"]}
	assert files["data/countries.csv"]["size"] == 40, files
	st = {s["key"]: s for s in d["statements"]}
	assert st[open("release.id").read().strip()]["trusted"] is True
	assert st[open("ci.id").read().strip()]["trusted"] is False
	assert all(s["valid"] for s in d["statements"])
	EOF
'

test_expect_success 'inspect marks a tampered statement NOT VALID (statements are not in SHA256SUMS)' '
	cairn inspect "$FIX/hostile/changed-statement.tar.gz" >out &&
	test_grep "build    0c4ec30c252bc140  mallory  .*NOT VALID: bad signature" out
'

test_expect_success 'inspect and sign refuse a bundle whose files do not match (exit 3)' '
	test_must_fail --exit=3 cairn inspect "$FIX/hostile/changed-sql.tar.gz" 2>err &&
	test_grep "cairn: cannot inspect .*changed-sql.tar.gz.: member .migrations/20260101000000_create_accounts/up.sql.: sha256 does not match" err &&
	cp "$FIX/hostile/changed-data.tar.gz" bad.tar.gz && cp bad.tar.gz bad.orig &&
	test_must_fail --exit=3 cairn sign bad.tar.gz --key ci.key 2>err &&
	test_grep "cairn: cannot sign .bad.tar.gz.: member .*countries.csv.: sha256 does not match" err &&
	cmp bad.tar.gz bad.orig
'

test_expect_success 'sign: usage errors and a missing bundle' '
	test_must_fail --exit=2 cairn sign b.tar.gz 2>err &&
	test_grep "missing --key KEY" err &&
	test_must_fail --exit=2 cairn sign --key ci.key 2>err &&
	test_grep "missing BUNDLE" err &&
	test_must_fail --exit=6 cairn sign nosuch.tar.gz --key ci.key 2>err &&
	test_grep "cannot read .nosuch.tar.gz." err &&
	test_must_fail --exit=2 cairn inspect b.tar.gz --format xml 2>err &&
	test_grep "format must be text or json" err
'

test_done
