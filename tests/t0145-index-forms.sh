#!/bin/sh
test_description='cairn reads every form of git index file as git does: v2, v3, v4, split, sparse, conflicts'
. "$(dirname "$0")/test-lib.sh"

DUMP="$SRC_DIR/build/tests/index-dump"

# same REPO [INDEX]: cairn's reading of the index equals git ls-files -s
same() {
	(cd "$1" && "$DUMP" ${2:+"$2"} >../cairn.out) &&
	if test -n "$2"; then
		(cd "$1" && GIT_INDEX_FILE="$2" git ls-files -s >../git.out)
	else
		git -C "$1" ls-files -s >git.out
	fi &&
	test_cmp git.out cairn.out &&
	test -s git.out
}

test_expect_success 'setup: a repository with nested files' '
	test -x "$DUMP" &&
	git init -q r &&
	for d in a a/b c migrations/1_x migrations/2_y "sp ace"; do
		mkdir -p "r/$d" && echo "$d" >"r/$d/f" && echo "$d" >"r/$d/g.sql" || return 1
	done &&
	echo top >r/a-b && echo top >r/a.c &&
	test_commit r one
'

test_expect_success 'version 2' '
	git -C r update-index --index-version 2 && same r
'

test_expect_success 'version 3 (an intent-to-add entry has extended flags)' '
	echo new >r/c/new && git -C r add -N c/new &&
	git -C r update-index --index-version 3 && same r &&
	git -C r rm -q --cached c/new && rm r/c/new
'

test_expect_success 'version 4 (prefix-compressed paths)' '
	git -C r update-index --index-version 4 && same r &&
	git -C r update-index --index-version 2
'

test_expect_success 'a split index: entries added, replaced and deleted after the split' '
	git -C r update-index --split-index &&
	ls r/.git/sharedindex.* >/dev/null && same r &&
	echo more >>r/a/f && git -C r add a/f &&
	git -C r rm -q --cached "sp ace/f" &&
	echo z >r/zz && echo y >r/a/b/h && git -C r add zz a/b/h &&
	same r &&
	echo again >>r/migrations/1_x/f && git -C r add migrations/1_x/f && same r
'

test_expect_success 'a split index in version 4' '
	git -C r update-index --index-version 4 && same r &&
	echo v4 >>r/c/f && git -C r add c/f && same r &&
	git -C r update-index --index-version 2 && git -C r update-index --no-split-index && same r
'

test_expect_success 'a temporary split index elsewhere (GIT_INDEX_FILE), its shared index in the repository' '
	git -C r update-index --split-index &&
	cp r/.git/index alt && same r "$TRASH_DIRECTORY/alt" &&
	git -C r update-index --no-split-index
'

test_expect_success 'a merge conflict: stages 1, 2 and 3' '
	git -C r add -A && git -C r commit -q -m two &&
	git -C r checkout -q -b side HEAD~1 && echo side >r/a/f && git -C r commit -q -a -m side &&
	test_must_fail git -C r merge -q main >/dev/null 2>&1 &&
	git -C r ls-files -s | grep " [123]	a/f$" >st && test_line_count = 3 st &&
	same r &&
	git -C r merge --abort && git -C r checkout -q main
'

test_expect_success 'a sparse index: directories outside the cone expanded from their trees' '
	git -C r sparse-checkout init --cone --sparse-index &&
	git -C r sparse-checkout set c &&
	git -C r ls-files --sparse >sp && test_grep "^a/$" sp && test_grep "^migrations/$" sp &&
	same r &&
	git -C r sparse-checkout disable
'

test_expect_success 'a damaged index is refused, never half read' '
	cp r/.git/index bad && printf "\001" | dd of=bad bs=1 seek=8 conv=notrunc 2>/dev/null &&
	(cd r && test_must_fail "$DUMP" ../bad 2>../err) &&
	test_grep "cannot read the git index" err &&
	head -c 100 r/.git/index >short &&
	(cd r && test_must_fail "$DUMP" ../short 2>../err) &&
	test_grep "cannot read the git index" err
'

test_done
