#!/bin/sh
test_description='clean filters from where libgit2 does not look (GIT_CONFIG_GLOBAL, git -c, GIT_CONFIG_COUNT, core.attributesFile, info/attributes, attributes only in the index), a process filter and a smudge-only one: plain check names the file, the hook refuses what git add made (issue #15, attack15g)'
. "$(dirname "$0")/test-lib.sh"

M=migrations
U=$M/20260101000000_users
INJECT='sed -e "1i DROP TABLE t_20260101000000_users;"'

. "$TEST_DIRECTORY/lib-git-habits.sh"

# named REPO: plain check names the released file as git-filtered (exit 1)
named() {
	touch "$1/$U/up.sql" &&
	(cd "$1" && test_must_fail --exit=1 cairn check >../out 2>&1) &&
	test_grep "^$U/up.sql: error: git-filtered: git runs the clean filter .inject. on this file" out
}

test_expect_success 'setup: users released on main' '
	test_create_project p &&
	test_migration p 20260101000000_users && test_commit p users &&
	git -C p rev-parse "main:$U/up.sql" >users.blob
'

# Before attack15g the filters below, defined where libgit2 1.5 does not
# read (GIT_CONFIG_GLOBAL, GIT_CONFIG_PARAMETERS, GIT_CONFIG_COUNT),
# passed plain check (exit 0) while git add stored the DROP.
test_expect_success 'filter.inject.clean in the file GIT_CONFIG_GLOBAL names: named; the hook refuses commit -a' '
	hooks g &&
	git config -f global.cfg filter.inject.clean "$INJECT" &&
	echo "*.sql filter=inject" >g/.git/info/attributes &&
	GIT_CONFIG_GLOBAL="$PWD/global.cfg" named g &&
	GIT_CONFIG_GLOBAL="$PWD/global.cfg" refused g git -C g commit -a -q -m "nothing changed, says the work tree"
'

test_expect_success 'core.attributesFile in GIT_CONFIG_GLOBAL names the attributes: named; the hook refuses --amend -a' '
	hooks ga &&
	echo "*.sql filter=inject" >attrs &&
	git config -f global2.cfg filter.inject.clean "$INJECT" &&
	git config -f global2.cfg core.attributesFile "$PWD/attrs" &&
	GIT_CONFIG_GLOBAL="$PWD/global2.cfg" named ga &&
	GIT_CONFIG_GLOBAL="$PWD/global2.cfg" refused ga git -C ga commit --amend -a -q -m amended
'

test_expect_success 'git -c filter.inject.clean=... (GIT_CONFIG_PARAMETERS): named; the hook refuses' '
	hooks c &&
	echo "*.sql filter=inject" >c/.gitattributes &&
	git -C c add .gitattributes && git -C c commit -q -m attributes &&
	git -C c rev-parse HEAD >c.head &&
	GIT_CONFIG_PARAMETERS="'"'"'filter.inject.clean'"'"'='"'"'$INJECT'"'"'" named c &&
	GIT_CONFIG_PARAMETERS="'"'"'Filter.inject.CLEAN=cat'"'"'" named c &&
	touch c/$U/up.sql &&
	refused c git -C c -c "filter.inject.clean=$INJECT" commit -a -q -m "nothing changed"
'

test_expect_success 'GIT_CONFIG_COUNT / KEY_0 / VALUE_0 naming the process filter: named' '
	hooks k &&
	echo "*.sql filter=inject" >k/.git/info/attributes &&
	GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=filter.inject.process GIT_CONFIG_VALUE_0=true named k
'

# Found already (libgit2 reads them): a process filter in the repository's
# config, .gitattributes only in the index, info/attributes (t0170).
test_expect_success 'a process filter in the config, attributes only in the index: named' '
	hooks pi &&
	echo "*.sql filter=inject" >pi/.gitattributes &&
	git -C pi add .gitattributes && rm pi/.gitattributes &&
	git -C pi config filter.inject.process "true" &&
	named pi
'

test_expect_success 'a smudge-only filter: git add stores the file as it is, nothing to name; an edit is still found' '
	hooks sm &&
	git -C sm config filter.inject.smudge "$INJECT" &&
	echo "*.sql filter=inject" >sm/.git/info/attributes &&
	touch sm/$U/up.sql &&
	(cd sm && cairn check >../out 2>&1) &&
	! grep git-filtered out &&
	echo "CREATE TABLE sneaky (id integer);" >>sm/$U/up.sql &&
	(cd sm && test_must_fail --exit=1 cairn check >../out 2>&1) &&
	test_grep "^$U: error: released-edited" out &&
	refused sm git -C sm commit -a -q -m edit
'

test_done
