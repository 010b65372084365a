#!/bin/sh
test_description='attacks on what cairn prints and leaves behind (issue #15): terminal escapes, temp files, secrets, passphrases'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"
. "$TEST_DIRECTORY/lib-attack.sh"

unset CAIRN_ENV CAIRN_DB CAIRN_APPLY_CONFIG

test_expect_success 'setup: a signed bundle of two migrations' '
	apply_project p &&
	apply_table p 0001_a &&
	apply_table p 0002_b &&
	apply_build p "$TRASH_DIRECTORY/b.tar.gz"
'

test_expect_success 'inspect escapes control characters from an unsigned manifest' '
	bundle_rewrite b.tar.gz esc.tar.gz "m[\"manifest.yaml\"] = m[\"manifest.yaml\"].replace(b\"description: \\\"\\\"\", b\"description: \\\"\\\\e]0;pwned\\\\a\\\\e[2J\\\\nforged line\\\\u009b31m\\\"\", 1)" &&
	grep -q "pwned" "$(tar xzf esc.tar.gz -O --wildcards "*/manifest.yaml" >man && echo man)" &&
	cairn inspect esc.tar.gz >out &&
	test_grep "\\\\x1b\\]0;pwned\\\\x07\\\\x1b\\[2J\\\\x0aforged line\\\\xc2\\\\x9b31m" out &&
	! grep -q "$(printf "\\033")" out &&
	! grep -q "^forged line" out &&
	cairn inspect --format json esc.tar.gz >json &&
	! grep -q "$(printf "\\033")" json
'

test_expect_success 'a wrong receipt-key passphrase stops apply before the database changes' '
	CAIRN_KEY_PASSPHRASE=right cairn keygen rk >/dev/null 2>&1 &&
	CAIRN_KEY_PASSPHRASE=wrong test_expect_code 6 cairn-apply apply b.tar.gz --env dev \
		--db sqlite:rk.db $KEY --receipt-key rk.key 2>err &&
	test_grep "cannot use --receipt-key: .rk.key. is not a PEM private key (or the passphrase is wrong)" err &&
	test_grep "nothing was applied: the database is unchanged" err &&
	test ! -f rk.db &&
	CAIRN_KEY_PASSPHRASE=right cairn-apply apply b.tar.gz --env dev --db sqlite:rk.db $KEY \
		--receipt-key rk.key >out 2>err &&
	test "$(q rk.db "SELECT count(*) FROM cairn_migrations WHERE state = '"'"'applied'"'"'")" = 2 &&
	test_grep "receipt for .dev. added" err
'

test_expect_success 'a sign stopped by SIGTERM removes its temporary file' '
	apply_project big &&
	apply_table big 0001_a &&
	mkdir -p big/migrations/0001_a/data &&
	head -c 40000000 /dev/urandom >big/migrations/0001_a/data/blob.bin &&
	apply_build big "$TRASH_DIRECTORY/big.tar.gz" &&
	cairn keygen --no-passphrase k2 >/dev/null 2>&1 &&
	{ cairn sign big.tar.gz --key k2.key >/dev/null 2>&1 & pid=$!; } &&
	n=0 &&
	while ! ls big.tar.gz.tmp* >/dev/null 2>&1 && test $n -lt 500; do
		sleep 0.01; n=$((n + 1))
	done &&
	ls big.tar.gz.tmp$pid &&
	kill -TERM $pid &&
	{ wait $pid; echo $? >rc; } &&
	test "$(cat rc)" = 143 &&
	! ls big.tar.gz.tmp* 2>/dev/null &&
	cairn verify big.tar.gz --key ci.pub >/dev/null
'

test_expect_success 'a temporary file left by a killed (SIGKILL) promote is removed by the next run' '
	dead=$(sh -c "echo \$\$") &&
	echo partial >b.tar.gz.tmp$dead &&
	live=$$ &&
	echo busy >b.tar.gz.tmp$live &&
	cairn keygen --no-passphrase alice >/dev/null 2>&1 &&
	cairn promote b.tar.gz --to dev --key alice.key >/dev/null 2>&1 &&
	test ! -f b.tar.gz.tmp$dead &&
	test -f b.tar.gz.tmp$live &&
	rm b.tar.gz.tmp$live &&
	cairn inspect b.tar.gz >out &&
	test_grep "approval .*for dev" out
'

test_expect_success 'a manifest with a YAML tag (!!binary) is refused, as cairn-bundle(5) says' '
	bundle_rewrite b.tar.gz bin0.tar.gz "m[\"manifest.yaml\"] = m[\"manifest.yaml\"].replace(b\"description: \\\"\\\"\", b\"description: !!binary aGVsbG8=\", 1)" &&
	bundle_resign bin0.tar.gz bin.tar.gz ci &&
	tar xzf bin.tar.gz -O --wildcards "*/manifest.yaml" | grep -q "!!binary" &&
	test_expect_code 3 cairn inspect bin.tar.gz 2>err &&
	test_grep "YAML tags are not allowed (.!!binary.)" err &&
	test_expect_code 3 cairn-apply verify bin.tar.gz $KEY 2>err &&
	test_grep "YAML tags are not allowed (.!!binary.)" err
'

test_expect_success 'apply reads a signed manifest in a form cairn does not write whole again, and refuses the tagged one' '
	bundle_rewrite b.tar.gz hw0.tar.gz "m[\"manifest.yaml\"] = m[\"manifest.yaml\"].replace(b\"description: \\\"\\\"\", b\"description: \x27\x27\", 2)" &&
	bundle_resign hw0.tar.gz hw.tar.gz ci &&
	tar xzf hw.tar.gz -O --wildcards "*/manifest.yaml" >man &&
	test "$(grep -c "description: .." man)" = 2 &&
	cairn-apply apply hw.tar.gz --env dev --db sqlite:hw.db $KEY >out 2>err &&
	test "$(q hw.db "SELECT count(*) FROM cairn_migrations WHERE state = '"'"'applied'"'"'")" = 2 &&
	test "$(q hw.db "SELECT count(*) FROM sqlite_master WHERE type = '"'"'table'"'"' AND name LIKE '"'"'t_%'"'"'")" = 2 &&
	cairn-apply apply hw.tar.gz --env dev --db sqlite:hw.db $KEY >out 2>err &&
	test_grep "nothing to apply" out &&
	test_expect_code 3 cairn-apply apply bin.tar.gz --env dev --db sqlite:bin.db $KEY 2>err &&
	test_grep "YAML tags are not allowed (.!!binary.)" err &&
	test ! -f bin.db
'

test_expect_success 'apply refuses a signed empty manifest as verify does (exit 3, no crash, nothing written)' '
	bundle_rewrite b.tar.gz empty0.tar.gz "m[\"manifest.yaml\"] = b\"\"" &&
	bundle_resign empty0.tar.gz empty.tar.gz ci &&
	test_expect_code 3 cairn-apply verify empty.tar.gz $KEY 2>verr &&
	test_expect_code 3 cairn-apply apply empty.tar.gz --env dev --db sqlite:empty.db $KEY 2>err &&
	reason=$(sed -n "s/^.*: member manifest.yaml//p" verr | head -1) &&
	test -n "$reason" &&
	test_grep "member manifest.yaml$reason" err &&
	test_grep "the database is unchanged" err &&
	test ! -f empty.db
'

test_expect_success 'no failing DSN form gets its password printed, in text, JSON or through dsn_env' '
	cat >cairn-apply.yaml <<-\EOF &&
	environments:
	  prod:
	    database: { dsn_env: PW_DSN }
	    builders: [ci.pub]
	EOF
	for dsn in "postgresql://u:S3CRETPW@[::1/db" "postgresql://u:S3CRETPW@[::1]:x/db" \
		"postgresql://u:S3CRETPW@host:99999/db" "postgresql://u:S3CRETPW@%zz/db" \
		"postgres://u:S3CRETPW@/db?sslmode=bogus" "postgresql://u:S3CRETPW@/db?nosuch=1" \
		"postgresql://u:S3CRETPW@/db?host=/nonexistent" \
		"host=/nonexistent password=S3CRETPW dbname=x" "host=/tmp password=%27S3CRETPW" \
		"password=S3CRETPW nosuch=1" "password=S3CRETPW port=abc host=/tmp" \
		"postgresql://u:S3CRETPW@/db?sslmode=require&host=/nonexistent"
	do
		dsn=$(printf "%s" "$dsn" | sed "s/%27/'"'"'/") &&
		{ cairn-apply status --db "$dsn" >out 2>&1; true; } &&
		{ cairn-apply status --db "$dsn" --format json >>out 2>&1; true; } &&
		{ cairn-apply history --db "$dsn" --verify >>out 2>&1; true; } &&
		{ cairn-apply apply b.tar.gz --env dev --db "$dsn" $KEY --log-format json >>out 2>&1; true; } &&
		{ PW_DSN=$dsn cairn-apply apply b.tar.gz --env prod >>out 2>&1; true; } &&
		{ PW_DSN=$dsn cairn-apply apply b.tar.gz --env prod --log-format json >>out 2>&1; true; } &&
		{ PW_DSN=$dsn cairn-apply plan b.tar.gz --env prod >>out 2>&1; true; } &&
		test -s out &&
		if grep S3CRET out; then echo "leaked by: $dsn"; return 1; fi ||
		return 1
	done &&
	rm cairn-apply.yaml
'

test_expect_success 'a gzip header with a file name (FNAME) or an extra field (FEXTRA) is refused' '
	gzip -dc b.tar.gz >b.tar &&
	gzip -c b.tar >named.tar.gz &&
	test "$(od -An -tx1 -j3 -N1 named.tar.gz | tr -d " ")" = 08 &&
	test_expect_code 3 cairn-apply verify named.tar.gz $KEY 2>err &&
	test_grep "its gzip header carries a file name (FNAME), which a bundle never has" err &&
	python3 -c "import sys; d = open(\"b.tar.gz\", \"rb\").read(); assert d[3] == 0; open(\"extra.tar.gz\", \"wb\").write(d[:3] + bytes([4]) + d[4:10] + bytes([4, 0]) + b\"cx\\0\\0\" + d[10:])" &&
	gzip -t extra.tar.gz &&
	test_expect_code 3 cairn-apply verify extra.tar.gz $KEY 2>err &&
	test_grep "its gzip header carries an extra field (FEXTRA)" err &&
	gzip -n -c b.tar >plain.tar.gz &&
	cairn-apply verify plain.tar.gz $KEY >out
'

test_done
