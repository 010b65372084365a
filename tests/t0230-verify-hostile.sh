#!/bin/sh
test_description='verify: hostile bundles are refused (exit 3) naming the member and the rule, by cairn and cairn-apply alike'
. "$(dirname "$0")/test-lib.sh"

FIX="$TEST_DIRECTORY/fixtures"
GOLDEN="$FIX/golden.tar.gz"
PUB="$FIX/keys/test.pub"

test_expect_success 'the golden bundle verifies, with both programs' '
	cairn verify "$GOLDEN" --key "$PUB" >out &&
	test_grep "golden.tar.gz: ok: sha256:[0-9a-f]*, 3 migrations, 12 files" out &&
	test_grep "signatures/0c4ec30c252bc140.yaml: build by 0c4ec30c252bc140 (test): valid, trusted" out &&
	cairn-apply verify "$GOLDEN" --key "$PUB" >out2 &&
	test_cmp out out2
'

# Every committed hostile fixture, with the refusal EXPECT lists.
while IFS="	" read -r name why; do
	case "$name" in "#"*|"") continue ;; esac
	test_expect_success "hostile: $name" '
		f="$FIX/hostile/$name.tar.gz" &&
		test_must_fail --exit=3 cairn verify "$f" --key "$PUB" 2>err &&
		grep -E -e "^cairn: cannot verify .*$name.tar.gz.: " err >/dev/null &&
		grep -E -e "$why" err >/dev/null &&
		test_line_count = 1 err &&
		test_must_fail --exit=3 cairn-apply verify "$f" --key "$PUB" 2>err2 &&
		sed -e "s/^cairn-apply: /cairn: /" err2 >err2.cmp &&
		test_cmp err err2.cmp
	' || { cat err 2>/dev/null; }
done <"$FIX/hostile/EXPECT"

test_expect_success 'a signature by an unknown key is refused, naming the key and the trusted ones' '
	test_must_fail --exit=3 cairn-apply verify "$FIX/other-signed.tar.gz" --key "$PUB" 2>err &&
	test_grep "cairn-apply: cannot verify .*other-signed.tar.gz.: build signature by unknown key a98772190d6c7b00 (trusted: 0c4ec30c252bc140)" err &&
	cairn-apply verify "$FIX/other-signed.tar.gz" --key "$PUB" --key "$FIX/keys/other.pub" >out &&
	test_grep "ok: sha256:" out
'

test_expect_success 'a byte changed in any member, at any place: refused, naming that member' '
	python3 - "$GOLDEN" <<-\EOF &&
	import gzip, io, sys, tarfile
	src = tarfile.open(sys.argv[1])
	members = [(m, src.extractfile(m).read()) for m in src.getmembers()]
	with open("flips", "w") as listing:
	    for i, (m, data) in enumerate(members):
	        for at in sorted({0, len(data) // 2, len(data) - 1}):
	            raw = io.BytesIO()
	            with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as t:
	                for j, (m2, d2) in enumerate(members):
	                    if j == i:
	                        d2 = d2[:at] + bytes([d2[at] ^ 0x01]) + d2[at + 1:]
	                    ti = tarfile.TarInfo(m2.name); ti.size = len(d2); ti.mtime = m2.mtime
	                    t.addfile(ti, io.BytesIO(d2))
	            name = "flip-%d-%d.tar.gz" % (i, at)
	            with gzip.GzipFile(filename="", mode="wb", fileobj=open(name, "wb"), mtime=0) as g:
	                g.write(raw.getvalue())
	            listing.write("%s\t%s\n" % (name, m.name.split("/", 1)[1]))
	EOF
	test_line_count -ge 30 flips &&
	while IFS="	" read -r f member; do
		test_must_fail --exit=3 cairn-apply verify "$f" --key "$PUB" 2>err || return 1
		grep -F -e "$member" err >/dev/null || { echo "$f ($member):"; cat err; return 1; }
	done <flips
'

test_expect_success 'truncated anywhere: refused' '
	size=$(stat -c %s "$GOLDEN") &&
	for n in 1 10 100 500 1000 $((size / 2)) $((size - 30)) $((size - 1)); do
		head -c $n "$GOLDEN" >cut.tar.gz &&
		test_must_fail --exit=3 cairn verify cut.tar.gz --key "$PUB" 2>err || return 1
		test_grep "truncated\|damaged\|not a bundle" err || return 1
	done
'

test_expect_success 'a gzip inside the gzip (the golden bundle gzipped again): refused by both, not inflated twice' '
	gzip -n -c "$GOLDEN" >twice.tar.gz &&
	test_must_fail --exit=3 cairn-apply verify twice.tar.gz --key "$PUB" 2>err &&
	test_grep "^cairn-apply: cannot verify .twice.tar.gz.: cannot read the first member: a gzip stream inside the gzip stream, not a tar (truncated or damaged archive)$" err &&
	test_line_count = 1 err &&
	test_must_fail --exit=3 cairn verify twice.tar.gz --key "$PUB" 2>err &&
	test_grep "^cairn: cannot verify .twice.tar.gz.: cannot read the first member: a gzip stream inside the gzip stream" err &&
	rm -f twice.db &&
	test_must_fail --exit=3 cairn-apply apply twice.tar.gz --env dev --db sqlite:twice.db --key "$PUB" 2>err &&
	test_grep "a gzip stream inside the gzip stream" err &&
	! test -e twice.db
'

test_expect_success 'repacked by GNU tar: --format=posix verifies; its default format is refused, saying so' '
	mkdir un &&
	(cd un && tar xzf "$GOLDEN" && tar tzf "$GOLDEN" >../list &&
	 tar --format=posix --no-recursion -czf ../posix.tar.gz -T ../list &&
	 tar --format=gnu --no-recursion -czf ../gnu.tar.gz -T ../list) &&
	cairn-apply verify posix.tar.gz --key "$PUB" >out &&
	test_grep "posix.tar.gz: ok: sha256:" out &&
	test_must_fail --exit=3 cairn-apply verify gnu.tar.gz --key "$PUB" 2>err &&
	test_grep "not a bundle: a GNU tar header, not POSIX ustar" err &&
	test_grep "format=posix" err
'

test_expect_success 'gzip forms libarchive lets through are refused by our own checks (exit 3), a header CRC that matches is not' '
	python3 - "$GOLDEN" <<-\EOF &&
	import gzip, sys, zlib
	g = open(sys.argv[1], "rb").read()
	h = bytearray(g[:10]); h[3] |= 2
	c = zlib.crc32(bytes(h)) & 0xffff
	out = {
	    "fhcrc-good": bytes(h) + bytes([c & 0xff, c >> 8]) + g[10:],
	    "fhcrc-bad": bytes(h) + bytes([(c & 0xff) ^ 1, c >> 8]) + g[10:],
	    "second-member": g + gzip.compress(b"", mtime=0),
	    "trailing-byte": g + b"\0",
	    "gzip-in-gzip": gzip.compress(g, mtime=0),
	    "crc": g[:-8] + bytes([g[-8] ^ 1]) + g[-7:],
	    "length": g[:-4] + bytes([g[-4] ^ 1]) + g[-3:],
	    "method": g[:2] + bytes([7]) + g[3:],
	    "flags": g[:3] + bytes([0x40]) + g[4:],
	}
	for name, data in out.items():
	    open(name + ".tar.gz", "wb").write(data)
	EOF
	cairn-apply verify fhcrc-good.tar.gz --key "$PUB" >out &&
	test_grep "ok: sha256:" out &&
	while read -r f why; do
		test_must_fail --exit=3 cairn-apply verify $f.tar.gz --key "$PUB" 2>err &&
		test_grep "$why" err || return 1
	done <<-\EOF
	fhcrc-bad gzip: header crc mismatch
	second-member bytes after the gzip stream (a bundle is one gzip stream)
	trailing-byte bytes after the gzip stream (a bundle is one gzip stream)
	gzip-in-gzip truncated or damaged archive
	crc gzip: incorrect data check
	length gzip: incorrect length check
	method gzip: unknown compression method
	flags its gzip header carries reserved flags, which a bundle never has
	EOF
'

test_expect_success 'cairn-apply verify needs a key; cairn verify without one checks integrity and says so' '
	test_must_fail --exit=2 cairn-apply verify "$GOLDEN" 2>err &&
	test_grep "pass --key PUB" err &&
	cairn verify "$GOLDEN" >out 2>err &&
	test_grep "valid signature, key not checked" out &&
	test_grep "warning: no --key given: .*intact, but nothing says who built it" err &&
	test_must_fail --exit=3 cairn verify "$FIX/hostile/changed-sql.tar.gz" 2>err &&
	test_grep "up.sql.: sha256 does not match" err
'

test_expect_success 'a missing bundle or key is an environment error (6), not a refusal' '
	test_must_fail --exit=6 cairn-apply verify nosuch.tar.gz --key "$PUB" 2>err &&
	test_grep "cannot read .nosuch.tar.gz." err &&
	test_must_fail --exit=6 cairn-apply verify "$GOLDEN" --key nosuch.pub 2>err &&
	test_grep "cannot use key .nosuch.pub." err
'

test_expect_success 'cairn-apply verify --help and usage' '
	cairn-apply verify --help >out &&
	test_grep "^usage: cairn-apply verify BUNDLE (--env ENV \[--config FILE\] | --key PUB\.\.\.)$" out &&
	test_must_fail --exit=2 cairn-apply verify 2>err &&
	test_grep "missing BUNDLE" err
'

test_done
