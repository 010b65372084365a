#!/bin/sh
test_description='release_refs given only as patterns (refs/heads/release/*, refs/tags/v*) in clones that cannot have them: single-branch, --no-tags, shallow, by path and by file:// URL (issue #15, attack15g)'
. "$(dirname "$0")/test-lib.sh"

M=migrations
U=$M/20260101000000_users

# patterns PROJECT [PATTERN...]: release_refs set to the patterns given
patterns() {
	dir=$1 && shift &&
	sed -i -e '/^release_refs:/,/^$/d' "$dir/cairn.yaml" &&
	{ echo "release_refs:" && for p in "$@"; do echo "  - $p"; done && echo; } >>"$dir/cairn.yaml"
}

next_line() {
	sed -n "s/^cairn: next: //p" "$1"
}

test_expect_success 'setup: users released on release/1 and as v1.0, a branch edit that edits it' '
	test_create_project p &&
	patterns p "refs/heads/release/*" "refs/tags/v*" &&
	test_migration p 20260101000000_users && test_commit p users &&
	git -C p branch release/1 &&
	git -C p tag v1.0 &&
	git -C p checkout -q -b edit &&
	echo "CREATE TABLE sneaky (id integer);" >>p/$U/up.sql && test_commit p "sneaky edit" &&
	git -C p checkout -q main
'

# Before attack15g: "no release ref exists yet", check and build exit 0,
# the edited released migration shipped.
for how in path url; do
	test_expect_success "a single-branch clone of the edit, no tags (by $how): check, --staged, --ref and build refuse" '
		rm -rf c &&
		if test $how = url; then src="file://$PWD/p"; else src=p; fi &&
		git clone -q --single-branch --branch edit --no-tags "$src" c &&
		(cd c && test_must_fail --exit=6 cairn check >../out 2>../err) &&
		test_grep "cannot check against the history: no release ref matches .refs/heads/release/\*. here, and this clone.s remote settings do not fetch what it names" err &&
		(cd c && test_must_fail --exit=6 cairn check --staged >../out 2>&1) &&
		(cd c && test_must_fail --exit=6 cairn check --ref HEAD >../out 2>&1) &&
		(cd c && test_must_fail --exit=6 cairn build -o ../c.tar.gz >../out 2>&1) &&
		test ! -e c.tar.gz
	'
done

test_expect_success 'the next: line works when pasted: the edit is then found (released-edited, exit 1)' '
	(cd c && test_must_fail --exit=6 cairn check >../out 2>../err) &&
	next_line err >cmd &&
	test_grep "^git config --add remote.origin.fetch .+refs/heads/release/\*:refs/remotes/origin/release/\*. && git fetch --tags origin$" cmd &&
	(cd c && eval "$(cat ../cmd)") >/dev/null 2>&1 &&
	(cd c && test_must_fail --exit=1 cairn check >../out 2>../err) &&
	test_grep "^$U: error: released-edited: migration .20260101000000_users. was released in refs/\(tags/v1.0\|remotes/origin/release/1\)" out
'

test_expect_success 'a full clone without tags, release_refs only refs/tags/v*: refused; pasted, v1.0 is found' '
	rm -rf t &&
	git clone -q --no-tags "file://$PWD/p" t &&
	git -C t checkout -q edit &&
	patterns t "refs/tags/v*" &&
	(cd t && test_must_fail --exit=6 cairn check >../out 2>../err) &&
	test_grep "no release ref matches .refs/tags/v\*. here" err &&
	next_line err >cmd &&
	(cd t && eval "$(cat ../cmd)") >/dev/null 2>&1 &&
	(cd t && test_must_fail --exit=1 cairn check >../out 2>../err) &&
	test_grep "^$U: error: released-edited: migration .20260101000000_users. was released in refs/tags/v1.0" out
'

# Passed already: a remote-tracking branch matches a branch pattern
# (redteam16's pattern_index), and a shallow clone is refused.
test_expect_success 'a full clone, no tags: refs/remotes/origin/release/1 counts as release/1 (exit 1)' '
	rm -rf f &&
	git clone -q --no-tags p f &&
	git -C f checkout -q --detach origin/edit &&
	(cd f && test_must_fail --exit=1 cairn check >../out 2>../err) &&
	test_grep "^$U: error: released-edited: migration .20260101000000_users. was released in refs/remotes/origin/release/1" out
'

test_expect_success 'a --depth 1 clone of the edit (file://): refused as shallow' '
	rm -rf s &&
	git clone -q --depth 1 --branch edit "file://$PWD/p" s &&
	(cd s && test_must_fail --exit=6 cairn check >../out 2>../err) &&
	test_grep "shallow clone" err
'

# Not refused: a clone that fetches every branch and tag of a server that
# has released nothing, a project with no remote; and a single-branch clone
# of such a server once the next: line has been pasted.
test_expect_success 'nothing released anywhere: a full clone, a project without a remote, and a single-branch clone once fixed all pass' '
	test_create_project n &&
	patterns n "refs/heads/release/*" "refs/tags/v*" &&
	test_migration n 20260101000000_users && test_commit n users &&
	(cd n && cairn check >../out 2>../err) &&
	test_grep "no release ref exists yet" err &&
	rm -rf nf && git clone -q "file://$PWD/n" nf &&
	(cd nf && cairn check >../out 2>../err) &&
	test_grep "no release ref exists yet" err &&
	rm -rf ns && git clone -q --single-branch --no-tags n ns &&
	(cd ns && test_must_fail --exit=6 cairn check >../out 2>../err) &&
	next_line err >cmd &&
	(cd ns && eval "$(cat ../cmd)") >/dev/null 2>&1 &&
	(cd ns && test_must_fail --exit=6 cairn check >../out 2>../err) &&
	next_line err >cmd &&
	(cd ns && eval "$(cat ../cmd)") >/dev/null 2>&1 &&
	(cd ns && cairn check >../out 2>../err) &&
	test_grep "no release ref exists yet" err
'

test_done
