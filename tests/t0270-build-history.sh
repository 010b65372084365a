#!/bin/sh
test_description='cairn build runs the history rules and records provenance'
. "$(dirname "$0")/test-lib.sh"

test_expect_success 'setup: a released migration on main' '
	test_create_project p &&
	test_migration p 20260101000000_users &&
	test_commit p "users" &&
	git -C p tag v1.0 &&
	(cd p && cairn keygen --no-passphrase ci >/dev/null)
'

test_expect_success 'the manifest records who introduced each migration' '
	test_migration p 20260102000000_orders &&
	GIT_AUTHOR_NAME="Orla Orders" GIT_AUTHOR_EMAIL=orla@example.com \
	GIT_AUTHOR_DATE="2026-03-04T05:06:07Z" test_commit p "orders" &&
	(cd p && cairn build --sign ci.key -o ../b.tar.gz 2>../err) &&
	tar -xOzf b.tar.gz --wildcards "*/manifest.yaml" >manifest &&
	commit=$(git -C p log --format=%H -1 -- migrations/20260102000000_orders) &&
	test_grep "commit: \"\{0,1\}$commit\"\{0,1\}$" manifest &&
	test_grep "Orla Orders <orla@example.com>" manifest &&
	test_grep "2026-03-04T05:06:07Z" manifest &&
	(cd p && cairn inspect ../b.tar.gz --format json >../inspect.json) &&
	test_grep "Orla Orders" inspect.json
'

test_expect_success 'a commit that edits a released migration does not build' '
	echo "ALTER TABLE t ADD COLUMN x int;" >>p/migrations/20260101000000_users/up.sql &&
	test_commit p "edit released" &&
	(cd p && test_must_fail --exit=1 cairn build -o ../bad.tar.gz 2>../err) &&
	test_grep "error: released-edited" err &&
	test_grep "cannot build from commit" err &&
	test ! -e bad.tar.gz
'

test_expect_success 'the commit before the edit still builds' '
	(cd p && cairn build --ref HEAD~1 -o ../ok.tar.gz 2>../err) &&
	test -s ok.tar.gz
'

test_expect_success 'a damaged object is not sealed into a bundle' '
	rm -rf d && test_create_project d &&
	test_migration d 20260101000000_a "CREATE TABLE a (id integer);" &&
	test_commit d a &&
	blob=$(git -C d rev-parse HEAD:migrations/20260101000000_a/up.sql) &&
	obj=d/.git/objects/$(echo $blob | cut -c1-2)/$(echo $blob | cut -c3-) &&
	printf "CREATE TABLE b (id integer);\n" >other.sql &&
	fake=$(git -C d hash-object -w ../other.sql) &&
	chmod u+w "$obj" &&
	cp d/.git/objects/$(echo $fake | cut -c1-2)/$(echo $fake | cut -c3-) "$obj" &&
	(cd d && test_must_fail cairn build -o ../damaged.tar.gz 2>../err) &&
	test ! -e damaged.tar.gz &&
	test_grep "$blob\|hash\|mismatch\|corrupt" err
'

test_done
