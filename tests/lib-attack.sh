# Helpers for the attack tests (t07xx, issue #15): bundles rewritten the way
# an attacker with the bundle file in hand would. Source after test-lib.sh.

# bundle_rewrite IN OUT PYTHON: PYTHON edits m, a dict of member name (below
# the top directory) to bytes; SHA256SUMS is written again to match, as a
# forger would (tests/helpers/bundle-rewrite.py).
bundle_rewrite() {
	python3 "$TEST_DIRECTORY/helpers/bundle-rewrite.py" "$1" "$2" --code "$3"
}
