#!/bin/sh
test_description='cairn build: from the object database, checked, laid out as cairn-bundle(5) says'
. "$(dirname "$0")/test-lib.sh"

test_expect_success 'setup: keys and a project with a tag, a remote with credentials, and data' '
	cairn keygen --no-passphrase ci >/dev/null &&
	test_create_project p &&
	git -C p remote add origin https://builder:hunter2@git.example.com/acme/p.git &&
	test_migration p 20260101000000_users &&
	test_migration p 20260102000000_orders &&
	printf "requires: [20260101000000_users]\ndescription: \"Orders: \\\"quoted\\\", with a colon\"\n" \
		>p/migrations/20260102000000_orders/migration.yaml &&
	mkdir p/migrations/20260102000000_orders/data &&
	printf "a,b\n1,2\n" >p/migrations/20260102000000_orders/data/seed.csv &&
	test_commit p one &&
	git -C p tag v1.0
'

test_expect_success 'build writes NAME-VERSION.tar.gz and prints its path' '
	(cd p && cairn build --sign ../ci.key >../out 2>../err) &&
	name=$(sed -n "s/^name: //p" p/cairn.yaml) &&
	test "$(cat out)" = "$name-20260102000000.tar.gz" &&
	test -f "p/$(cat out)" &&
	test_grep "2 migrations, 6 files, bundle id sha256:[0-9a-f]\{64\}, signed by $(cairn keygen --help >/dev/null; openssl pkey -pubin -in ci.pub -outform DER | tail -c 32 | sha256sum | cut -c1-16)" err &&
	mv "p/$(cat out)" b.tar.gz
'

test_expect_success 'build -o a device, a FIFO or a link writes through it and never replaces it' '
	if test "$(id -u)" = 0
	then
		# a node like /dev/null, made here: renaming over /dev/null itself
		# would break the machine
		mknod null c 1 3 &&
		(cd p && cairn build --sign ../ci.key -o ../null 2>../err) &&
		test -c null &&
		test_grep "bundle id sha256:" err
	fi &&
	mkfifo fifo &&
	{ cat fifo >from-fifo & } &&
	(cd p && cairn build --sign ../ci.key -o ../fifo 2>/dev/null) &&
	wait &&
	test -p fifo &&
	cmp from-fifo b.tar.gz &&
	: >target && ln -s target link &&
	(cd p && cairn build --sign ../ci.key -o ../link 2>/dev/null) &&
	test -L link &&
	cmp target b.tar.gz &&
	! ls "${TMPDIR:-/tmp}" | grep "^cairn-bundle\.tmp"
'

test_expect_success 'members: sorted in the canonical order, regular files, uid/gid 0, mode 0644, no user names' '
	tar tzf b.tar.gz | sed "s,^[^/]*/,," >members &&
	cat >expect <<-EOF &&
	manifest.yaml
	SHA256SUMS
	signatures/$(openssl pkey -pubin -in ci.pub -outform DER | tail -c 32 | sha256sum | cut -c1-16).sig
	signatures/$(openssl pkey -pubin -in ci.pub -outform DER | tail -c 32 | sha256sum | cut -c1-16).yaml
	migrations/20260101000000_users/down.sql
	migrations/20260101000000_users/up.sql
	migrations/20260102000000_orders/data/seed.csv
	migrations/20260102000000_orders/down.sql
	migrations/20260102000000_orders/migration.yaml
	migrations/20260102000000_orders/up.sql
	EOF
	test_cmp expect members &&
	tar tzvf b.tar.gz --numeric-owner >long &&
	test_line_count = 10 long &&
	test "$(awk "{print \$1, \$2}" long | sort -u)" = "-rw-r--r-- 0/0" &&
	tar tzvf b.tar.gz >names &&
	test "$(awk "{print \$2}" names | sort -u)" = "0/0"
'

test_expect_success 'every mtime is the commit time, and the gzip header has no time and no name' '
	ct=$(git -C p log -1 --format=%ct) &&
	python3 -c "
import tarfile,sys
t=tarfile.open(\"b.tar.gz\")
assert {m.mtime for m in t.getmembers()} == {$ct}, {m.mtime for m in t.getmembers()}
assert {(m.uname, m.gname) for m in t.getmembers()} == {(\"\", \"\")}
h=open(\"b.tar.gz\",\"rb\").read(10)
assert h[:3] == b\"\\x1f\\x8b\\x08\", h
assert h[3] & 0x08 == 0, \"FNAME set\"
assert h[4:8] == b\"\\0\\0\\0\\0\", \"gzip MTIME set\"
"
'

test_expect_success 'the migrations are byte for byte what was committed' '
	mkdir x && tar xzf b.tar.gz -C x && top=$(ls x) &&
	for f in 20260101000000_users/up.sql 20260102000000_orders/data/seed.csv 20260102000000_orders/migration.yaml; do
		git -C p show HEAD:migrations/$f >want && cmp want x/$top/migrations/$f || return 1
	done
'

test_expect_success 'the manifest names the source, the build and every file' '
	m=x/$(ls x)/manifest.yaml &&
	test_grep "^format: cairn-bundle/1$" $m &&
	test_grep "^  commit: \"\?$(git -C p rev-parse HEAD)\"\?$" $m &&
	test_grep "^  tree: \"\?$(git -C p rev-parse HEAD^{tree})\"\?$" $m &&
	test_grep "^  ref: \"\"$" $m &&
	test_grep "^  repository: \"\"$" $m &&
	test_grep ! hunter2 $m &&
	test_grep "^  time: \"$(git -C p log -1 --date=format-local:%Y-%m-%dT%H:%M:%SZ --format=%cd)\"$" $m &&
	test_grep "^  tool: \"cairn 0\.[0-9.]*\"$" $m &&
	test_grep "^    requires: \[\"20260101000000_users\"\]$" $m &&
	test_grep "description: \"Orders: \\\\\"quoted\\\\\", with a colon\"" $m &&
	test_grep "sha256: $(sha256sum <p/migrations/20260102000000_orders/data/seed.csv | cut -c1-64)" $m
'

test_expect_success 'a migration checksum is sha256sum of its files, in C-locale order' '
	top=x/$(ls x) &&
	sum=$(cd $top/migrations/20260102000000_orders && find . -type f | sed "s,^\./,," | LC_ALL=C sort |
		xargs sha256sum | sha256sum | cut -c1-64) &&
	test_grep "checksum: \"sha256:$sum\"" $top/manifest.yaml
'

test_expect_success 'the bundle id is the sha256 of manifest.yaml, and verify agrees' '
	id=$(sha256sum x/*/manifest.yaml | cut -c1-64) &&
	cairn verify b.tar.gz --key ci.pub >out &&
	test_grep "^b.tar.gz: ok: sha256:$id, 2 migrations, 6 files$" out
'

test_expect_success 'build reads the commit, never the work tree' '
	echo "DROP TABLE everything;" >p/migrations/20260101000000_users/up.sql &&
	test_migration p 20260103000000_uncommitted &&
	(cd p && cairn build -o ../wt.tar.gz 2>../err) &&
	tar xzf wt.tar.gz -O --wildcards "*/migrations/20260101000000_users/up.sql" >up &&
	git -C p show HEAD:migrations/20260101000000_users/up.sql >want &&
	test_cmp want up &&
	test_must_fail tar tzf wt.tar.gz "*uncommitted*" --wildcards 2>/dev/null &&
	test_grep "unsigned (sign it with .cairn sign.)" err &&
	git -C p checkout -q -- . && rm -rf p/migrations/20260103000000_uncommitted
'

test_expect_success '--ref builds an older commit; the name it was given by is not recorded' '
	test_migration p 20260103000000_later && test_commit p two &&
	(cd p && cairn build --ref v1.0 -o ../old.tar.gz 2>/dev/null) &&
	cairn inspect old.tar.gz >out &&
	test_grep ! "refs/" out &&
	test_grep "^commit     $(git -C p rev-parse v1.0)$" out &&
	test_grep ! later out &&
	(cd p && cairn build --ref "$(git rev-parse v1.0)" -o ../detached.tar.gz 2>/dev/null) &&
	cmp old.tar.gz detached.tar.gz &&
	cairn inspect --format json detached.tar.gz >j &&
	python3 -c "import json; d=json.load(open(\"j\")); assert d[\"source\"][\"ref\"] == \"\", d[\"source\"]"
'

test_expect_success 'the repository a bundle names is the one cairn.yaml names, credentials removed' '
	git clone -q p named &&
	echo "repository: https://builder:hunter2@git.example.com/acme/p.git" >>named/cairn.yaml &&
	test_commit named repository &&
	(cd named && cairn build -o ../named.tar.gz 2>/dev/null) &&
	cairn inspect named.tar.gz >out &&
	test_grep "^source     https://git.example.com/acme/p.git$" out &&
	test_grep ! hunter2 out &&
	sed -i "s|^repository: .*|repository: [a, b]|" named/cairn.yaml &&
	(cd named && test_must_fail --exit=1 cairn check >../out) &&
	test_grep "cairn.yaml:[0-9]*: error: .*repository.* a URL" out
'

test_expect_success 'a failing check refuses the build, with every finding' '
	mkdir p/migrations/20260104000000_broken &&
	echo "CREATE TABLE x (id int);" >p/migrations/20260104000000_broken/up.sql &&
	printf "requires: [nowhere]\n" >p/migrations/20260104000000_broken/migration.yaml &&
	test_commit p broken &&
	(cd p && test_must_fail --exit=1 cairn build -o ../broken.tar.gz 2>../err) &&
	test_grep "migrations/20260104000000_broken: error: missing-down" err &&
	test_grep "requires-unknown" err &&
	test_grep "cairn: cannot build from commit [0-9a-f]* (HEAD): [0-9]* errors (run .cairn check --ref HEAD.)" err &&
	test ! -e broken.tar.gz &&
	git -C p reset -q --hard HEAD~1
'

test_expect_success 'a project without a name, or with no migrations, does not build' '
	test_create_project q &&
	touch q/migrations/.gitkeep && test_commit q empty &&
	(cd q && test_must_fail --exit=1 cairn build 2>../err) &&
	test_grep "no migrations in commit [0-9a-f]* (HEAD): nothing to build" err &&
	sed -i "/^name:/d" q/cairn.yaml && test_migration q 20260101000000_a && test_commit q a &&
	(cd q && test_must_fail --exit=1 cairn build 2>../err) &&
	test_grep "cairn.yaml has no .name. (bundles are called NAME-VERSION.tar.gz); add .name: " err
'

test_expect_success 'max_data_size caps data/ files at build time' '
	printf "max_data_size: 4\n" >>p/cairn.yaml && test_commit p cap &&
	(cd p && test_must_fail --exit=1 cairn build -o ../capped.tar.gz 2>../err) &&
	test_grep "seed.csv.* over the limit of 4 .*raise max_data_size in cairn.yaml" err &&
	test ! -e capped.tar.gz &&
	git -C p reset -q --hard HEAD~1
'

test_expect_success 'a project in a subdirectory of its repository records its path' '
	git init -q mono && mkdir mono/db && (cd mono/db && cairn init --name db >/dev/null) &&
	test_migration mono/db 20260101000000_a && echo "readme" >mono/README && test_commit mono one &&
	(cd mono/db && cairn build -o ../../mono.tar.gz 2>/dev/null) &&
	cairn inspect --format json mono.tar.gz >j &&
	python3 -c "import json; d=json.load(open(\"j\")); assert d[\"source\"][\"path\"] == \"db\", d[\"source\"]; assert d[\"bundle\"] == \"db-20260101000000\""
'

test_expect_success 'files cairn ignores (and check warns about) are not shipped' '
	test_migration mono/db 20260301000000_notes &&
	echo "notes" >mono/db/migrations/20260301000000_notes/NOTES && test_commit mono notes &&
	(cd mono/db && cairn build -o ../../notes.tar.gz 2>../../err) &&
	test_grep "NOTES: warning: unknown-file" err &&
	tar tzf notes.tar.gz >list &&
	test_grep "20260301000000_notes/up.sql" list &&
	test_grep ! NOTES list
'

test_expect_success 'build outside a repository, and usage errors' '
	nogit=$(mktemp -d) &&
	(cd "$nogit" && cairn init >/dev/null && test_must_fail --exit=6 cairn build 2>"$TRASH_DIRECTORY/err") &&
	rm -rf "$nogit" &&
	test_grep "not in a git repository" err &&
	(cd p && test_must_fail --exit=2 cairn build extra 2>../err) &&
	test_grep "unexpected argument .extra." err &&
	(cd p && test_must_fail --exit=6 cairn build --ref nosuchref 2>../err) &&
	test_grep "nosuchref" err
'

# The applier signs receipts (receipt/, through EVP_DigestSign; t0410
# checks it holds no other signer), so what must be absent is named: the
# build signer, the key loader, the key generator.
test_expect_success 'cairn-apply links no build signer, no key generator and no libgit2' '
	ldd "$SRC_DIR/bin/cairn-apply" >libs &&
	test_grep "libcrypto" libs &&
	test_grep ! libgit2 libs &&
	nm "$SRC_DIR/bin/cairn-apply" >syms &&
	test_grep " T sig_verify$" syms &&
	test_grep ! -e "seckey_sign" syms &&
	test_grep ! -e "seckey_load" syms &&
	test_grep ! -e "keygen_write" syms &&
	test_grep ! -e "EVP_PKEY_Q_keygen" syms &&
	test_grep ! -e "EVP_PKEY_keygen" syms
'

test_done
