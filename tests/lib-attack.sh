# Helpers for the attack tests (t07xx, issue #15): bundles rewritten the way
# an attacker with the bundle file in hand would. Source after test-lib.sh.

# bundle_rewrite IN OUT PYTHON: PYTHON edits m, a dict of member name (below
# the top directory) to bytes; SHA256SUMS is written again to match, as a
# forger would (tests/helpers/bundle-rewrite.py).
bundle_rewrite() {
	python3 "$TEST_DIRECTORY/helpers/bundle-rewrite.py" "$1" "$2" --code "$3"
}

# bundle_resign IN OUT KEYBASE: the build signatures of IN replaced by one
# made with KEYBASE.key (openssl, not cairn) over IN's manifest as it
# stands, so that a rewritten manifest arrives signed by a trusted key.
bundle_resign() {
	rm -rf resign.d && mkdir resign.d &&
	tar xzf "$1" -C resign.d --wildcards "*/manifest.yaml" &&
	id=$(sha256sum resign.d/*/manifest.yaml | cut -d" " -f1) &&
	kid=$(openssl pkey -pubin -in "$3.pub" -outform DER | tail -c 32 | sha256sum | cut -c1-16) &&
	pub=$(openssl pkey -pubin -in "$3.pub" -outform DER | tail -c 32 | base64 -w0) &&
	printf "type: build\nbundle: \"sha256:%s\"\nsigner: forger\nkey: \"%s\"\npublic_key: \"%s\"\ntime: \"2026-01-01T00:00:00Z\"\n" \
		"$id" "$kid" "$pub" >resign.d/s.yaml &&
	openssl pkeyutl -sign -inkey "$3.key" -rawin -in resign.d/s.yaml | base64 -w0 >resign.d/s.sig &&
	echo >>resign.d/s.sig &&
	drops=$(tar tzf "$1" | sed -n "s|^[^/]*/\(signatures/.*\)|-\1|p") &&
	python3 "$TEST_DIRECTORY/helpers/bundle-rewrite.py" "$1" "$2" --repack $drops \
		"signatures/$kid.yaml" resign.d/s.yaml "signatures/$kid.sig" resign.d/s.sig
}

# statement_add IN OUT KEYBASE TYPE ENV TIME [LINE]...: IN with a TYPE
# statement (approval, receipt) for ENV dated TIME, each LINE added to it
# ("expires: ...", "database: ..."), signed with KEYBASE.key by openssl:
# what a key holder can sign, whatever date it writes.
statement_add() {
	in=$1 out=$2 kb=$3 type=$4 env=$5 time=$6 &&
	shift 6 &&
	rm -rf stmt.d && mkdir stmt.d &&
	tar xzf "$in" -C stmt.d --wildcards "*/manifest.yaml" &&
	id=$(sha256sum stmt.d/*/manifest.yaml | cut -d" " -f1) &&
	kid=$(openssl pkey -pubin -in "$kb.pub" -outform DER | tail -c 32 | sha256sum | cut -c1-16) &&
	pub=$(openssl pkey -pubin -in "$kb.pub" -outform DER | tail -c 32 | base64 -w0) &&
	printf "type: %s\nbundle: \"sha256:%s\"\nenvironment: %s\nsigner: %s\nkey: \"%s\"\npublic_key: \"%s\"\ntime: \"%s\"\n" \
		"$type" "$id" "$env" "$(basename "$kb")" "$kid" "$pub" "$time" >stmt.d/s.yaml &&
	for line in "$@"; do printf "%s\n" "$line" >>stmt.d/s.yaml || return 1; done &&
	openssl pkeyutl -sign -inkey "$kb.key" -rawin -in stmt.d/s.yaml | base64 -w0 >stmt.d/s.sig &&
	echo >>stmt.d/s.sig &&
	if test "$type" = approval; then base="approvals/$env-$kid"; else base="approvals/$env-$type-$kid"; fi &&
	python3 "$TEST_DIRECTORY/helpers/bundle-rewrite.py" "$in" "$out" --repack \
		"$base.yaml" stmt.d/s.yaml "$base.sig" stmt.d/s.sig
}

# bundle_forge_member IN OUT MEMBER FILE KEYBASE: IN with MEMBER (below the
# top directory, e.g. migrations/0002_x/up.sql) replaced by FILE, and the
# manifest made to match (the file's sha256 and size, its migration's
# checksum), then signed again with KEYBASE.key: what an insider holding
# the CI key can ship without going through 'cairn build' and its checks.
bundle_forge_member() {
	FORGE_MEMBER=$3 FORGE_FILE=$4 bundle_rewrite "$1" forge.tmp.tar.gz '
import hashlib, os, re
name, data = os.environ["FORGE_MEMBER"], open(os.environ["FORGE_FILE"], "rb").read()
mig, base = name.split("/")[1], name.split("/")[2]
m[name] = data
man = m["manifest.yaml"].decode()
head, rest = man.split("    name: \"%s\"\n" % mig, 1)
end = rest.find("\n  - version:")
body, tail = (rest, "") if end < 0 else (rest[:end], rest[end:])
body = re.sub(r"(- name: %s\n        sha256: )[0-9a-f]{64}(\n        size: )\d+" % re.escape(base),
              lambda g: g.group(1) + hashlib.sha256(data).hexdigest() + g.group(2) + str(len(data)), body)
files = re.findall(r"- name: (\S+)\n        sha256: ([0-9a-f]{64})", body)
csum = hashlib.sha256("".join("%s  %s\n" % (h, n) for n, h in files).encode()).hexdigest()
body = re.sub(r"checksum: \"sha256:[0-9a-f]{64}\"", "checksum: \"sha256:%s\"" % csum, body)
m["manifest.yaml"] = (head + "    name: \"%s\"\n" % mig + body + tail).encode()
' && bundle_resign forge.tmp.tar.gz "$2" "$5" && rm -f forge.tmp.tar.gz
}
