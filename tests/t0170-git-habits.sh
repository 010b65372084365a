#!/bin/sh
test_description='the build side attacked with real git habits: CI clones, shallow clones, moved tags, replace refs, grafts, links and submodules, case and Unicode renames, line endings, conflicted merges'
. "$(dirname "$0")/test-lib.sh"

M=migrations
U=$M/20260101000000_users
O=$M/20260102000000_orders

. "$TEST_DIRECTORY/lib-git-habits.sh"

# next_line FILE: the command a "cairn: next: CMD" line of FILE names
next_line() {
	sed -n "s/^cairn: next: //p" "$1"
}

test_expect_success 'setup: users released as v1.0, orders released on main, a branch that edits users' '
	test_create_project p &&
	test_migration p 20260101000000_users && test_commit p users &&
	git -C p tag v1.0 &&
	test_migration p 20260102000000_orders && test_commit p orders &&
	git -C p rev-parse "main:$U/up.sql" >users.blob &&
	git -C p checkout -q -b edit &&
	echo "CREATE TABLE sneaky_u (id integer);" >>p/$U/up.sql && test_commit p "sneaky edit" &&
	echo "CREATE TABLE sneaky_o (id integer);" >>p/$O/up.sql && test_commit p "and orders" &&
	git -C p checkout -q -b good main &&
	test_migration p 20260103000000_items && test_commit p items &&
	git -C p checkout -q main
'

# A CI job clones in full and checks out the pushed commit detached: no
# local main, only refs/remotes/origin/main (and no tags when the job
# does not fetch them). Before: "no release ref exists yet", exit 0.
test_expect_success 'a CI clone (detached, no local main, no tags): check and build refuse the edit' '
	git clone -q --no-local p ci &&
	git -C ci checkout -q --detach origin/edit && git -C ci branch -q -D main &&
	git -C ci tag -d v1.0 >/dev/null &&
	test_must_fail git -C ci rev-parse --verify -q refs/heads/main &&
	(cd ci && test_must_fail --exit=1 cairn check >../out 2>../err) &&
	test_grep "^$O: error: released-edited: migration .20260102000000_orders. was released in refs/remotes/origin/main" out &&
	test_grep "^$U: error: released-edited:" out &&
	test_grep "cairn: base: [0-9a-f]* (merge base of HEAD and refs/remotes/origin/main)" err &&
	(cd ci && test_must_fail --exit=1 cairn check --ref HEAD >../out 2>&1) &&
	test_grep "^$O: error: released-edited:" out &&
	(cd ci && test_must_fail --exit=1 cairn build -o ../ci.tar.gz 2>../err) &&
	test_grep "^$O: error: released-edited:" err && test ! -e ci.tar.gz
'

test_expect_success 'the restore lines it prints work when pasted: committed, check and build pass' '
	sed -n "s/.*restore it with .\(git checkout [0-9a-f]* -- [^ ]*\). and put.*/\1/p" out >restore &&
	test_line_count = 2 restore &&
	(cd ci && while read -r cmd; do eval "$cmd" || exit 1; done <../restore) &&
	git -C ci commit -q -m "put the released migrations back" &&
	(cd ci && cairn check >../out 2>&1 && cairn build -o ../ci.tar.gz 2>>../out) &&
	test_grep "2 migrations checked, 0 warnings (work tree)" out &&
	tar -xzf ci.tar.gz -O --wildcards "*/$U/up.sql" >shipped &&
	git -C ci cat-file blob "$(cat users.blob)" >real && test_cmp real shipped
'

test_expect_success 'passing neighbour: the CI clone of a good branch checks and builds' '
	git -C ci checkout -q -f --detach origin/good &&
	(cd ci && cairn check >../out 2>&1 && cairn build -o ../good.tar.gz 2>>../out) &&
	test_grep "merge base of HEAD and refs/remotes/origin/main" out &&
	tar -tzf good.tar.gz >list && test_grep "20260103000000_items/up.sql" list
'

test_expect_success 'the default branch may be master on the remote too' '
	git clone -q --no-local p mp &&
	sed -e "/^release_refs:/,/^\$/d" mp/cairn.yaml >cfg && mv cfg mp/cairn.yaml &&
	test_grep ! release_refs mp/cairn.yaml && test_commit mp "the default release refs" &&
	git -C mp checkout -q -b medit &&
	echo "CREATE TABLE sneaky_o (id integer);" >>mp/$O/up.sql && test_commit mp "edit orders" &&
	git init -q --bare m.git && git -C m.git symbolic-ref HEAD refs/heads/master &&
	git -C mp push -q "$TRASH_DIRECTORY/m.git" main:master medit:edit &&
	git clone -q --no-local m.git mci &&
	git -C mci checkout -q --detach origin/edit && git -C mci branch -q -D master &&
	(cd mci && test_must_fail --exit=1 cairn check --ref HEAD >../out 2>&1) &&
	test_grep "^$O: error: released-edited: .* released in refs/remotes/origin/master" out
'

# every_form_refused DIR WHY NEXT: check, check --staged, check --ref and
# build each exit 6 in DIR, saying WHY and "cairn: next: NEXT" (patterns)
# on stderr, left in err; build writes no bundle.
every_form_refused() {
	for form in "check" "check --staged" "check --ref HEAD" "build -o ../formed.tar.gz"
	do
		(cd "$1" && test_must_fail --exit=6 cairn $form >../out 2>../err) &&
		test_grep "$2" err && test_grep "^cairn: next: $3\$" err || return 1
	done &&
	test ! -e formed.tar.gz
}

# A shallow CI clone lacks the release refs and the merge base. Before:
# check, --staged and --ref passed (exit 0); build alone refused.
test_expect_success 'a shallow clone: every check form and build refuse, naming the fetch' '
	git clone -q --depth 1 --branch edit "file://$TRASH_DIRECTORY/p" shallow &&
	test -f shallow/.git/shallow &&
	every_form_refused shallow "cannot [a-z ]* in a shallow clone: the history rules" \
		"git fetch --unshallow --tags origin .+refs/heads/\*:refs/remotes/origin/\*."
'

test_expect_success 'the fetch it names, pasted, makes the clone whole: the edit is found' '
	cmd=$(next_line err) &&
	(cd shallow && eval "$cmd" 2>/dev/null) &&
	test ! -f shallow/.git/shallow &&
	(cd shallow && test_must_fail --exit=1 cairn check >../out 2>&1) &&
	test_grep "^$U: error: released-edited: .* released in refs/tags/v1.0" out &&
	test_grep "^$O: error: released-edited: .* released in refs/remotes/origin/main" out
'

# Before: "no release ref exists yet; every migration counts as new",
# check and build exit 0.
test_expect_success 'a full clone of the edit branch alone, no tags: check and build refuse, naming the fetch' '
	git clone -q --no-local --single-branch --branch edit --no-tags p single &&
	test_must_fail git -C single rev-parse -q --verify origin/main &&
	every_form_refused single "cannot check against the history: this clone has no release ref (.refs/heads/main. is neither a branch here nor a remote-tracking one" \
		"git fetch --tags origin .+refs/heads/\*:refs/remotes/origin/\*." &&
	cmd=$(next_line err) && (cd single && eval "$cmd" 2>/dev/null) &&
	(cd single && test_must_fail --exit=1 cairn check >../out 2>&1) &&
	test_grep "^$O: error: released-edited: .* released in refs/remotes/origin/main" out
'

test_expect_success 'passing neighbour: a repository with no remote and no release yet checks as before' '
	git init -q -b trunk fresh && (cd fresh && cairn init >/dev/null) &&
	test_migration fresh 20260101000000_a && test_commit fresh a &&
	(cd fresh && cairn check >../out 2>&1) &&
	test_grep "no base: no release ref exists yet" out
'

test_expect_success 'passing neighbour: a shallow clone of a project with release_refs: [] checks' '
	git clone -q --no-local p nohist &&
	sed -e "/^release_refs:/,/^\$/d" nohist/cairn.yaml >cfg && echo "release_refs: []" >>cfg &&
	mv cfg nohist/cairn.yaml && test_commit nohist "no history rules" &&
	git clone -q --depth 1 "file://$TRASH_DIRECTORY/nohist" nohist-shallow &&
	(cd nohist-shallow && cairn check >../out 2>&1) &&
	test_grep "2 migrations checked" out
'

test_expect_success 'a release tag moved (lightweight, then annotated) onto the edit: refused by pre-receive' '
	git init -q --bare server.git &&
	(cd server.git && cairn hooks install >/dev/null) &&
	git -C p push -q "$TRASH_DIRECTORY/server.git" main v1.0 2>/dev/null &&
	git -C p tag -f v1.0 edit >/dev/null &&
	test_must_fail git -C p push -f "$TRASH_DIRECTORY/server.git" v1.0 >out 2>&1 &&
	test_grep "remote: $U: error: released-edited" out &&
	git -C p tag -f -a -m "v1.0 again" v1.0 edit >/dev/null &&
	test_must_fail git -C p push -f "$TRASH_DIRECTORY/server.git" v1.0 >out 2>&1 &&
	test_grep "remote: $U: error: released-edited" out &&
	test "$(git -C server.git rev-parse "v1.0:$U/up.sql")" = "$(cat users.blob)" &&
	git -C p tag -f v1.0 main~1 >/dev/null
'

test_expect_success 'git replace: main tip replaced by the edit; build ships the real objects, check and the edit branch are judged on them' '
	git clone -q --no-local p rep &&
	git -C rep fetch -q origin edit:edit &&
	git -C rep replace main edit &&
	test "$(git -C rep rev-parse "main:$U/up.sql")" != "$(cat users.blob)" &&
	(cd rep && cairn build -o ../rep.tar.gz 2>/dev/null) &&
	tar -xzf rep.tar.gz -O --wildcards "*/$U/up.sql" >shipped &&
	git -C rep --no-replace-objects cat-file blob "$(cat users.blob)" >real &&
	test_cmp real shipped &&
	(cd rep && test_must_fail --exit=1 cairn check --ref edit >../out 2>&1) &&
	test_grep "^$U: error: released-edited" out
'

test_expect_success 'grafts: the edit grafted as a root commit is still judged against main' '
	git clone -q --no-local p gr && git -C gr fetch -q origin edit:edit &&
	mkdir -p gr/.git/info && git -C gr rev-parse edit >gr/.git/info/grafts &&
	(cd gr && test_must_fail --exit=1 cairn check --ref edit >../out 2>&1) &&
	test_grep "^$U: error: released-edited" out
'

test_expect_success 'migrations/ replaced by a symbolic link to an edited copy: the hook refuses' '
	hooks ln &&
	git -C ln mv $M real && ln -s real ln/$M &&
	echo "CREATE TABLE sneaky_u (id integer);" >>ln/real/20260101000000_users/up.sql &&
	git -C ln add -A &&
	refused ln git -C ln commit -q -m "migrations through a link" &&
	(cd ln && test_must_fail --exit=1 cairn check >../out 2>&1) &&
	test_grep "^$U: error: released-edited" out
'

test_expect_success 'migrations/ replaced by a submodule holding an edited copy: the hook refuses' '
	git init -q sub && cp -R p/$M/. sub/ &&
	echo "CREATE TABLE sneaky_u (id integer);" >>sub/20260101000000_users/up.sql &&
	test_commit sub "the migrations, edited" &&
	hooks sm &&
	git -C sm rm -q -r $M &&
	git -C sm -c protocol.file.allow=always submodule add -q "$TRASH_DIRECTORY/sub" $M &&
	refused sm git -C sm commit -q -m "migrations as a submodule"
'

test_expect_success 'a released migration renamed in case only, or to its NFD spelling: refused' '
	hooks cs &&
	git -C cs mv $U $M/20260101000000_Users &&
	refused cs git -C cs commit -q -m "case" &&
	test_grep "bad-name: .*upper-case" out &&
	git -C cs reset -q --hard &&
	git -C cs mv $U "$M/20260101000000_us$(printf "e\314\201")rs" &&
	refused cs git -C cs commit -q -m "nfd" &&
	test_grep "bad-name:" out
'

test_expect_success 'core.autocrlf=true: a CRLF work tree is no edit, the bundle holds the blob; a real edit is found' '
	git -c core.autocrlf=true clone -q --no-local p crlf &&
	git -C crlf config core.autocrlf true &&
	printf "\r\n" >cr && test_grep "$(cat cr)" crlf/$U/up.sql &&
	(cd crlf && cairn check >../out 2>&1 && cairn build -o ../crlf.tar.gz 2>>../out) &&
	tar -xzf crlf.tar.gz -O --wildcards "*/$U/up.sql" >shipped &&
	git -C crlf cat-file blob "$(cat users.blob)" >real && test_cmp real shipped &&
	printf "CREATE TABLE sneaky_u (id integer);\r\n" >>crlf/$U/up.sql &&
	(cd crlf && test_must_fail --exit=1 cairn check >../out 2>&1) &&
	test_grep "^$U: error: released-edited" out
'

test_expect_success 'a conflicted merge whose resolution also edits a released migration: git commit is refused' '
	hooks mg &&
	git -C mg fetch -q origin good:good &&
	git -C mg checkout -q -b topic &&
	test_migration mg 20260103000000_items "CREATE TABLE items (id int);" &&
	test_commit mg "items, our way" &&
	test_must_fail git -C mg merge -q good >/dev/null 2>&1 &&
	git -C mg checkout --ours -- $M/20260103000000_items &&
	echo "CREATE TABLE sneaky_u (id integer);" >>mg/$U/up.sql &&
	git -C mg add -A &&
	refused mg git -C mg commit -q --no-edit &&
	git -C mg rev-parse -q --verify MERGE_HEAD >/dev/null
'

# Before: plain check hashed the work-tree file as it is (libgit2 runs no
# filter driver) and passed (exit 0), while git add stores what the clean
# filter makes of it: here an edit of the released migration.
test_expect_success 'a clean filter that rewrites a released migration on git add: plain check names it, the hook refuses' '
	hooks fl &&
	git -C fl config filter.inject.clean "sed -e \"1i DROP TABLE t_20260101000000_users;\"" &&
	git -C fl config filter.inject.smudge cat &&
	echo "*.sql filter=inject" >fl/.git/info/attributes &&
	touch fl/$U/up.sql &&
	(cd fl && test_must_fail --exit=1 cairn check >../out 2>&1) &&
	test_grep "^$U/up.sql: error: git-filtered: git runs the clean filter .inject. on this file" out &&
	cmd=$(sed -n "s/.*(.\(git add [^ ]* && cairn check --staged\).).*/\1/p" out | sed -n 1p) &&
	test -n "$cmd" &&
	(cd fl && test_must_fail --exit=1 eval "$cmd" >../staged 2>&1) &&
	test_grep "^$U: error: released-edited" staged &&
	refused fl git -C fl commit -q -m "nothing changed, says the work tree"
'

test_expect_success 'passing neighbour: a filter attribute with no command configured changes nothing' '
	echo "*.sql filter=none" >fl/.git/info/attributes &&
	git -C fl reset -q --hard &&
	(cd fl && cairn check >../out 2>&1) && test_grep "2 migrations checked, 0 warnings" out
'

# Before: plain check read the ignored down.sql from the work tree and
# passed (exit 0), where --staged, HEAD and build say missing-down.
test_expect_success 'a down.sql that .gitignore keeps out of every commit: plain check says so' '
	git clone -q --no-local p ig &&
	test_migration ig 20260103000000_items &&
	echo "down.sql" >ig/.gitignore &&
	(cd ig && test_must_fail --exit=1 cairn check >../out 2>&1) &&
	test_grep "^$M/20260103000000_items/down.sql: error: git-ignored: git ignores this file" out &&
	test_grep "^$M/20260103000000_items: error: missing-down" out &&
	git -C ig add -A && (cd ig && test_must_fail --exit=1 cairn check --staged >../staged 2>&1) &&
	test_grep "^$M/20260103000000_items: error: missing-down" staged
'

test_expect_success 'the two commands it names work when pasted; then check passes' '
	cmd=$(sed -n "s/.*git-ignored: .*(.\(git check-ignore -v [^ ]*\). names the rule.*/\1/p" out) &&
	(cd ig && eval "$cmd" >../rule) && test_grep "^.gitignore:1:down.sql" rule &&
	cmd=$(sed -n "s/.*.\(git add -f [^ ]*\). commits it anyway.*/\1/p" out) &&
	(cd ig && eval "$cmd") &&
	git -C ig commit -q -m items &&
	test "$(git -C ig ls-tree --name-only HEAD $M/20260103000000_items/)" != "" &&
	git -C ig cat-file -e HEAD:$M/20260103000000_items/down.sql &&
	(cd ig && cairn check >../out 2>&1) && test_grep "3 migrations checked, 0 warnings" out
'

test_expect_success 'passing neighbour: an ignored editor backup is left out, as git leaves it' '
	echo "*~" >>ig/.gitignore && git -C ig add .gitignore && git -C ig commit -q -m backups &&
	echo "DROP TABLE users;" >ig/$U/up.sql~ &&
	(cd ig && cairn check >../out 2>&1) &&
	test_grep "3 migrations checked, 0 warnings" out && test_grep ! "up.sql~" out
'

test_expect_success 'passing neighbour: an empty commit passes the hook, on main and on a branch' '
	hooks em &&
	git -C em commit -q --allow-empty -m "empty on main" &&
	git -C em checkout -q -b b && git -C em commit -q --allow-empty -m "empty on b" &&
	test "$(git -C em rev-list --count HEAD)" = 4
'

test_done
