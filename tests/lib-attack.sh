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
