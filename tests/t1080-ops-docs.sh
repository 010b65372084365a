#!/bin/sh
test_description='docs/troubleshooting.md and docs/compatibility.md agree with the source: every exit code, every message quoted, the bundle format'
. "$(dirname "$0")/test-lib.sh"

DOC="$SRC_DIR/docs/troubleshooting.md"

test_expect_success 'every exit code of lib/exitcodes.h has a section' '
	sed -n "s/^	X([A-Z]*, \([0-9]*\), .*/\1/p" "$SRC_DIR/lib/exitcodes.h" >codes &&
	test_line_count -ge 8 codes &&
	while read code; do
		grep -q "^## Exit $code\$" "$DOC" || { echo "no section for exit $code"; return 1; }
	done <codes &&
	sed -n "s/^## Exit \([0-9]*\)$/\1/p" "$DOC" >sections &&
	test_cmp codes sections
'

test_expect_success 'every message quoted in a table is one the source prints' '
	sed -n "s/^| \`\([^\`]*\)\`.*/\1/p" "$DOC" >messages &&
	test_line_count -ge 25 messages &&
	(cd "$SRC_DIR" && find apply cmd drivers lib ops policy receipt verify fleet -name "*.c") >sources &&
	while read m; do
		# a message quoted as "A then B" is two fragments
		for part in "${m%% then *}" "${m##* then }"; do
			part=${part#FAILED NAME} &&
			test -z "$part" ||
			(cd "$SRC_DIR" && xargs grep -F -l -e "$part" <"$TRASH_DIRECTORY/sources" >/dev/null) ||
			{ echo "not in the source: $part"; return 1; }
		done
	done <messages
'

test_expect_success 'compatibility.md names the bundle format the reader reads' '
	format=$(sed -n "s/^#define MANIFEST_FORMAT \"\(.*\)\"$/\1/p" "$SRC_DIR/verify/manifest.h") &&
	format2=$(sed -n "s/^#define MANIFEST_FORMAT_CALLBACKS \"\(.*\)\"$/\1/p" "$SRC_DIR/verify/manifest.h") &&
	format3=$(sed -n "s/^#define MANIFEST_FORMAT_CB_WAIVERS \"\(.*\)\"$/\1/p" "$SRC_DIR/verify/manifest.h") &&
	test -n "$format" && test -n "$format2" && test -n "$format3" &&
	test_grep "format: $format" "$SRC_DIR/docs/compatibility.md" &&
	test_grep "format: $format2" "$SRC_DIR/docs/compatibility.md" &&
	test_grep "format: $format3" "$SRC_DIR/docs/compatibility.md" &&
	test_grep "this cairn reads $format, $format2 and $format3; a newer cairn made this" "$SRC_DIR/docs/compatibility.md"
'

test_done
