#!/bin/sh
test_description='make install honours PREFIX and DESTDIR, and the installed cairn finds its templates'
. "$(dirname "$0")/test-lib.sh"

# Build a private copy, so this test never rebuilds the binaries under test
# with other flags.
test_expect_success 'make install into a staging directory' '
	mkdir src &&
	(cd "$SRC_DIR" && git ls-files -co --exclude-standard | grep -v "^tests/trash\." |
	 tar -cf - -T -) | tar -xf - -C src &&
	make -s -C src -j2 install PREFIX=/usr DESTDIR="$TRASH_DIRECTORY/stage" >out 2>&1 &&
	test -x stage/usr/bin/cairn &&
	test -x stage/usr/bin/cairn-apply &&
	test -f stage/usr/share/man/man1/cairn.1 &&
	test -f stage/usr/share/man/man1/cairn-apply.1 &&
	test -f stage/usr/share/cairn/templates/up.sql &&
	test -f stage/usr/share/cairn/templates/postgres/up.sql
'

test_expect_success 'the installed cairn uses the installed templates' '
	unset CAIRN_TEMPLATE_DIR &&
	echo "-- installed template marker" >>stage/usr/share/cairn/templates/sqlite/up.sql &&
	git init -q p && (cd p && "$TRASH_DIRECTORY/stage/usr/bin/cairn" init --driver sqlite >/dev/null &&
	"$TRASH_DIRECTORY/stage/usr/bin/cairn" new first >../out) &&
	test_grep "installed template marker" "p/$(cat out)/up.sql"
'

test_expect_success 'nothing is installed outside DESTDIR' '
	{
		test ! -e /usr/share/cairn/templates/sqlite/up.sql ||
		test_grep ! "installed template marker" /usr/share/cairn/templates/sqlite/up.sql
	}
'

test_done
