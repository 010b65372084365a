#!/bin/sh
test_description='help, version, usage errors, and the man pages agree with the code'
. "$(dirname "$0")/test-lib.sh"

test_expect_success 'cairn --version names the linked libraries' '
	cairn --version >out &&
	test_grep "^cairn 0\." out &&
	test_grep "libgit2 [0-9]" out &&
	test_grep "libarchive [0-9]" out &&
	test_grep "zlib [0-9]" out &&
	test_grep ! "isa-l" out &&
	test_grep "OpenSSL [0-9]" out &&
	test_grep "libyaml [0-9]" out
'

test_expect_success 'cairn-apply --version names its libraries, and no libgit2' '
	cairn-apply --version >out &&
	test_grep "^cairn-apply 0\." out &&
	test_grep "libarchive [0-9]" out &&
	test_grep "zlib [0-9]" out &&
	test_grep ! "isa-l" out &&
	test_grep "SQLite [0-9]" out &&
	test_grep "libpq [0-9]" out &&
	test_grep ! "libgit2" out
'

# The applier links libarchive.a when the system has one (Debian's
# libarchive-dev does; the Makefile, APPLY_ARCHIVE): then none of the
# libraries of the filters and formats it does not use is loaded (not
# libstdc++ either, but UBSan loads that one).
test_expect_success 'cairn-apply links neither libgit2 nor libpq (loaded at first use) nor ISA-L; both link libarchive' '
	ldd "$SRC_DIR/bin/cairn-apply" >libs &&
	test_grep ! libgit2 libs &&
	test_grep ! libpq libs &&
	test_grep ! libisal libs &&
	if test -f "$(pkg-config --variable=libdir libarchive)/libarchive.a"
	then
		test_grep ! libarchive libs &&
		nm "$SRC_DIR/bin/cairn-apply" >syms &&
		test_grep " T archive_read_new$" syms &&
		test_grep ! -e libxml2 -e libicu -e liblzma -e libzstd -e libbz2 -e libnettle libs
	else
		test_grep libarchive libs
	fi &&
	ldd "$SRC_DIR/bin/cairn" >libs &&
	test_grep libarchive libs &&
	test_grep ! libisal libs &&
	test_grep libgit2 libs
'

for prog in cairn cairn-apply; do
	test_expect_success "$prog --help lists every command of its man page, and no other" '
		sed -n "/^\.SH SYNOPSIS/,/^\.SH/p" "$SRC_DIR/docs/$prog.1" | sed -e "s/\\\\-/-/g" |
			awk -v p=$prog "\$1 == p && \$2 ~ /^[a-z]/ && \$2 != \"help\" { print \$2 }" | sort -u >man-verbs &&
		test_line_count -ge 4 man-verbs &&
		$prog --help | sed -n "/^Commands:/,/^\$/p" | awk "NF > 1 { print \$1 }" | sort -u >help-verbs &&
		test_cmp man-verbs help-verbs
	'
done

test_expect_success 'cairn with no command is a usage error' '
	test_expect_code 2 cairn 2>err &&
	test_grep "usage: cairn" err
'

test_expect_success 'an unknown command suggests the closest' '
	test_expect_code 2 cairn chekc 2>err &&
	test_grep "did you mean .check." err
'

test_expect_success 'an unknown option is a usage error naming the command' '
	test_expect_code 2 cairn check --frobnicate 2>err &&
	test_grep "cairn check: unknown option .--frobnicate." err &&
	test_grep "usage: cairn check" err
'

# Every command answers --help and help CMD the same way, and its synopsis
# appears in the man page's SYNOPSIS.
for prog in cairn cairn-apply; do
	test_expect_success "$prog: --help, help CMD and the man page agree" '
		man="$SRC_DIR/docs/$prog.1" &&
		sed -n "/^\.SH SYNOPSIS/,/^\.SH/p" "$man" | sed -e "s/\\\\-/-/g" >synopsis &&
		$prog --help >help &&
		sed -n "/^Commands:/,/^$/p" help | awk "NF && \$1 != \"Commands:\" { print \$1 }" >cmds &&
		test_line_count -ge 5 cmds &&
		while read c; do
			$prog $c --help >h1 &&
			$prog help $c >h2 &&
			test_cmp h1 h2 &&
			sed -n "s/^usage: //p; s/^       \($prog .*\)/\1/p" h1 >usage &&
			test -s usage &&
			while read line; do
				grep -F -x -e "$line" synopsis >/dev/null || {
					echo "not in the SYNOPSIS of $man: $line"; return 1; }
			done <usage || return 1
		done <cmds
	'
done

test_expect_success 'the exit codes in the header and both man pages agree' '
	sed -n "s/^[	 ]*X([A-Z_]*, \([0-9]*\), \"\(.*\)\").*/\1 \2/p" \
		"$SRC_DIR/lib/exitcodes.h" >codes.h &&
	test_line_count -ge 5 codes.h &&
	for man in cairn.1 cairn-apply.1; do
		sed -n "/^\.SH EXIT STATUS/,/^\.SH/p" "$SRC_DIR/docs/$man" |
		sed -e "s/\\\\-/-/g" |
		awk "/^\.B [0-9]/ { code = \$2; next } code != \"\" { print code, \$0; code = \"\" }" >codes.man &&
		test_cmp codes.h codes.man || return 1
	done
'

test_done
