#!/bin/sh
test_description='one commit, cloned four ways and built by another user, umask, zone, locale, directory and SOURCE_DATE_EPOCH: one set of bytes'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/fixtures/project.sh"

FIX="$TEST_DIRECTORY/fixtures"

# There is no network: the https clone goes through url.*.insteadOf (the
# clone records the https URL as its origin, as a real one would), the ssh
# clone through a fake ssh that runs git's command here.
test_expect_success 'setup: the fixture project, a fake ssh' '
	fixture_project origin &&
	cat >fake-ssh <<-\EOF &&
	#!/bin/sh
	# fake-ssh [-o OPT]... [-p PORT] HOST COMMAND: run COMMAND here
	while test $# -gt 2; do shift; done
	exec sh -c "$2"
	EOF
	chmod +x fake-ssh
'

test_expect_success 'clones by path, file://, https and ssh, each with its own origin URL' '
	git clone -q origin by-path &&
	git clone -q "file://$TRASH_DIRECTORY/origin" by-file &&
	git -c url."file://$TRASH_DIRECTORY/origin".insteadOf=https://builder:s3cret@git.example.com/acme/fix.git \
		clone -q https://builder:s3cret@git.example.com/acme/fix.git by-https &&
	GIT_SSH_COMMAND="$TRASH_DIRECTORY/fake-ssh" git clone -q "ssh://git@git.example.com$TRASH_DIRECTORY/origin" by-ssh &&
	test "$(git -C by-path config remote.origin.url)" = "$TRASH_DIRECTORY/origin" &&
	test "$(git -C by-file config remote.origin.url)" = "file://$TRASH_DIRECTORY/origin" &&
	test "$(git -C by-https config remote.origin.url)" = https://builder:s3cret@git.example.com/acme/fix.git &&
	test "$(git -C by-ssh config remote.origin.url)" = "ssh://git@git.example.com$TRASH_DIRECTORY/origin" &&
	for c in by-path by-file by-https by-ssh; do
		test "$(git -C $c rev-parse HEAD)" = "$(git -C origin rev-parse HEAD)" || return 1
	done
'

test_expect_success 'built in each clone, with the builder environment varied each time: identical bytes' '
	(cd by-path && umask 022 && TZ=UTC LC_ALL=C SOURCE_DATE_EPOCH=0 \
		cairn build -o "$TRASH_DIRECTORY/path.tar.gz" 2>/dev/null) &&
	(cd by-file/migrations && umask 077 && TZ=Asia/Tokyo LC_ALL=C.UTF-8 SOURCE_DATE_EPOCH=2000000000 \
		cairn build -o ../../file.tar.gz 2>/dev/null) &&
	(cd by-https && umask 027 && TZ=America/St_Johns LANG=C.UTF-8 LC_ALL= SOURCE_DATE_EPOCH=1 \
		cairn build -o "$TRASH_DIRECTORY/https.tar.gz" 2>/dev/null) &&
	(cd / && umask 002 && TZ=Pacific/Chatham cairn -C "$TRASH_DIRECTORY/by-ssh" build \
		-o "$TRASH_DIRECTORY/ssh.tar.gz" 2>/dev/null) &&
	cmp path.tar.gz file.tar.gz &&
	cmp path.tar.gz https.tar.gz &&
	cmp path.tar.gz ssh.tar.gz
'

test_expect_success 'and they are the golden bundle, unsigned: the bytes are the commit and cairn' '
	mkdir g && tar xzf "$FIX/golden.tar.gz" -C g &&
	mkdir u && tar xzf path.tar.gz -C u &&
	cmp g/fix-20260102000000/manifest.yaml u/fix-20260102000000/manifest.yaml &&
	test_grep "^  repository: \"https://git.example.com/acme/fix.git\"$" u/fix-20260102000000/manifest.yaml &&
	test_grep "^  ref: \"\"$" u/fix-20260102000000/manifest.yaml &&
	test_grep ! s3cret u/fix-20260102000000/manifest.yaml &&
	test_grep ! "$TRASH_DIRECTORY" u/fix-20260102000000/manifest.yaml
'

test_expect_success 'another user, with its own clone and home, builds the same bytes' '
	if test "$(id -u)" -ne 0; then
		say "# not root: the other-user build is left out" && return 0
	fi &&
	other=nobody && id $other >/dev/null &&
	mkdir -m 0777 elsewhere && mkdir -m 0777 elsewhere/home &&
	printf "[safe]\n\tdirectory = *\n[user]\n\tname = Someone Else\n\temail = else@example.net\n" \
		>elsewhere/home/.gitconfig && chmod 0644 elsewhere/home/.gitconfig &&
	chmod -R a+rX origin &&
	setpriv --reuid=$other --regid=nogroup --clear-groups env HOME="$TRASH_DIRECTORY/elsewhere/home" \
		sh -c "umask 077 && cd \"$TRASH_DIRECTORY/elsewhere\" && git clone -q \"file://$TRASH_DIRECTORY/origin\" clone &&
		       cd clone && TZ=Australia/Eucla cairn build -o ../other.tar.gz 2>../err" &&
	test "$(stat -c %U elsewhere/other.tar.gz)" = $other &&
	cmp path.tar.gz elsewhere/other.tar.gz
'

test_expect_success 'a clone whose checked-out branch differs (a detached CI checkout, another branch name): same bytes' '
	git clone -q origin detached && git -C detached checkout -q --detach &&
	(cd detached && cairn build -o ../detached.tar.gz 2>/dev/null) &&
	git clone -q origin renamed && git -C renamed branch -q -m trunk &&
	(cd renamed && cairn build --ref trunk -o ../renamed.tar.gz 2>/dev/null) &&
	cmp path.tar.gz detached.tar.gz && cmp path.tar.gz renamed.tar.gz
'

test_expect_success 'a shallow clone is refused: its history is cut' '
	git clone -q --depth 1 "file://$TRASH_DIRECTORY/origin" shallow &&
	(cd shallow && test_must_fail --exit=6 cairn build -o ../shallow.tar.gz 2>../err) &&
	test_grep "cannot build in a shallow clone" err && test ! -e shallow.tar.gz
'

test_done
