# Helpers for the build-side attack tests (t0170, t0172): a project p whose
# migration $U is released on main, its blob id in users.blob. Source after
# test-lib.sh, with U set.

# unchanged REPO: the released migration's blob on main is what it was
unchanged() {
	test "$(git -C "$1" rev-parse "main:$U/up.sql")" = "$(cat "$TRASH_DIRECTORY/users.blob")"
}

# hooks REPO: a clone of p with cairn's hooks installed
hooks() {
	git clone -q --no-local p "$1" &&
	(cd "$1" && cairn hooks install >/dev/null)
}

# refused REPO CMD...: refused by the hook with released-edited or
# -deleted naming the released migration; HEAD and main unchanged
refused() {
	r=$1 && shift &&
	before=$(git -C "$r" rev-parse HEAD) &&
	test_must_fail "$@" >out 2>&1 &&
	test_grep "^$U: error: released-\(edited\|deleted\|renamed\)" out &&
	test "$(git -C "$r" rev-parse HEAD)" = "$before" &&
	unchanged "$r"
}
