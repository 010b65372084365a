#!/bin/sh
test_description='cairn-apply apply: SQL that cannot be used refuses the bundle before anything runs or a file is made'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"

# reseal IN OUT MEMBER: a copy of bundle IN whose MEMBER (a migration file)
# holds a NUL byte, with manifest.yaml and SHA256SUMS made to agree and
# signed again by ci.key: a bundle that verifies, whose SQL is not text.
# 'cairn build' refuses to build one ('cairn check': nul-byte).
reseal() {
	python3 - "$1" "$2" "$3" <<-\EOF &&
	import gzip, hashlib, io, re, sys, tarfile
	src, out, member = sys.argv[1:]
	sha = lambda b: hashlib.sha256(b).hexdigest()
	with tarfile.open(src) as t:
	    top = t.getmembers()[0].name.split("/")[0]
	    files = {m.name.split("/", 1)[1]: t.extractfile(m).read() for m in t.getmembers()}
	files = {n: b for n, b in files.items() if not n.startswith("signatures/")}
	files[member] = files[member].replace(b"\n", b" -- \0\n", 1)
	mig, name = member.split("/")[1], member.split("/")[2]
	man = files["manifest.yaml"].decode()
	head, *blocks = re.split(r"(?m)^(?=  - version: )", man)
	for i, b in enumerate(blocks):
	    if '    name: "%s"\n' % mig not in b:
	        continue
	    b = re.sub(r"(      - name: %s\n        sha256: )[0-9a-f]{64}(\n        size: )[0-9]+" % re.escape(name),
	               lambda m: m.group(1) + sha(files[member]) + m.group(2) + str(len(files[member])), b)
	    lines = sorted("%s  %s\n" % (h, n) for n, h in re.findall(r"      - name: (\S+)\n        sha256: ([0-9a-f]{64})", b))
	    lines.sort(key=lambda l: l[66:].encode())
	    b = re.sub(r'checksum: "sha256:[0-9a-f]{64}"', 'checksum: "sha256:%s"' % sha("".join(lines).encode()), b)
	    blocks[i] = b
	files["manifest.yaml"] = (head + "".join(blocks)).encode()
	files["SHA256SUMS"] = "".join("%s  %s\n" % (sha(b), n) for n, b in sorted(files.items(), key=lambda x: x[0].encode())
	                              if n != "SHA256SUMS").encode()
	order = ["manifest.yaml", "SHA256SUMS"] + sorted((n for n in files if n.startswith("migrations/")), key=str.encode)
	raw = io.BytesIO()
	with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as t:
	    for n in order:
	        ti = tarfile.TarInfo(top + "/" + n); ti.size = len(files[n]); ti.mode = 0o644
	        t.addfile(ti, io.BytesIO(files[n]))
	with gzip.GzipFile(filename="", mode="wb", fileobj=open(out, "wb"), mtime=0) as g:
	    g.write(raw.getvalue())
	EOF
	cairn sign "$2" --key "$TRASH_DIRECTORY/ci.key" >/dev/null 2>&1
}

test_expect_success 'setup: five migrations; bundles with a NUL byte in 0005 up.sql and 0004 down.sql' '
	apply_project p &&
	apply_table p 0001_a &&
	apply_table p 0002_b &&
	apply_build p "$TRASH_DIRECTORY/v2.tar.gz" &&
	apply_table p 0003_c &&
	apply_table p 0004_d &&
	apply_table p 0005_e &&
	apply_build p "$TRASH_DIRECTORY/v5.tar.gz" &&
	reseal v5.tar.gz nul-up5.tar.gz migrations/0005_e/up.sql &&
	reseal v5.tar.gz nul-down4.tar.gz migrations/0004_d/down.sql &&
	cairn-apply verify nul-up5.tar.gz $KEY >out &&
	test_grep ": ok: sha256:" out &&
	cairn-apply verify nul-down4.tar.gz $KEY >out &&
	test_grep ": ok: sha256:" out
'

test_expect_success 'a NUL byte in the last of five pending steps: refused before the first runs' '
	test_expect_code 3 cairn-apply apply nul-up5.tar.gz --env dev --db sqlite:fresh.db $KEY \
		>out 2>err &&
	test_grep "cannot read bundle .nul-up5.tar.gz.: migrations/0005_e/up.sql: contains a NUL byte: not SQL text" err &&
	test_grep "the database is unchanged" err &&
	test_grep ! "^applied" out &&
	! test -e fresh.db
'

test_expect_success 'two applied, three pending, the third bad: neither 0003 nor 0004 runs' '
	cairn-apply apply v2.tar.gz --env dev --db sqlite:db $KEY >out &&
	test_grep "^applied 2 migrations; db is at version 0002" out &&
	cp db before &&
	test_expect_code 3 cairn-apply apply nul-up5.tar.gz --env dev --db sqlite:db $KEY >out 2>err &&
	test_grep "migrations/0005_e/up.sql: contains a NUL byte" err &&
	test_grep ! "^applied" out &&
	cmp before db &&
	test_expect_code 3 cairn-apply apply nul-up5.tar.gz --env dev --db sqlite:db $KEY --atomic 2>err &&
	test_grep "migrations/0005_e/up.sql: contains a NUL byte" err &&
	cmp before db
'

test_expect_success 'a down script is checked too: it is stored for rollback when its step runs' '
	test_expect_code 3 cairn-apply apply nul-down4.tar.gz --env dev --db sqlite:db $KEY \
		--log-format json >out 2>err &&
	test_grep "\"event\":\"error\",\"exit\":3,\"message\":\"cannot read bundle .nul-down4.tar.gz.: migrations/0004_d/down.sql: contains a NUL byte" out &&
	cmp before db
'

test_expect_success 'plan, --dry-run and status read every migration: refused as before' '
	test_expect_code 3 cairn-apply plan nul-up5.tar.gz --env dev --db sqlite:db $KEY 2>err &&
	test_grep "cannot read bundle .nul-up5.tar.gz.: migrations/0005_e/up.sql: contains a NUL byte" err &&
	test_expect_code 3 cairn-apply apply nul-up5.tar.gz --env dev --db sqlite:db $KEY --dry-run 2>err &&
	test_grep "migrations/0005_e/up.sql: contains a NUL byte" err &&
	test_expect_code 3 cairn-apply status nul-up5.tar.gz --db sqlite:db $KEY 2>err &&
	test_grep "migrations/0005_e/up.sql: contains a NUL byte" err &&
	cmp before db
'

test_expect_success 'the bundle is refused whole: even --to stopping before the bad step' '
	test_expect_code 3 cairn-apply apply nul-up5.tar.gz --env dev --db sqlite:db $KEY --to 0004 \
		>out 2>err &&
	test_grep "migrations/0005_e/up.sql: contains a NUL byte" err &&
	cmp before db &&
	cairn-apply apply v5.tar.gz --env dev --db sqlite:db $KEY >out &&
	test_grep "^applied 3 migrations; db is at version 0005" out
'

test_done
