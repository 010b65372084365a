#!/bin/sh
test_description='examples/demo.sh ends with a signed bundle that cairn-apply verifies'
. "$(dirname "$0")/test-lib.sh"

test_expect_success 'the demo builds, inspects and verifies a bundle' '
	sh "$SRC_DIR/examples/demo.sh" "$TRASH_DIRECTORY/demo" >out 2>&1 &&
	test -f demo/shop.tar.gz &&
	test_grep "^bundle     shop-[0-9]\{14\}$" out &&
	test_grep "demo/shop.tar.gz: ok: sha256:[0-9a-f]*, 5 migrations, 17 files$" out &&
	test_grep "build by [0-9a-f]* (ci): valid, trusted$" out
'

test_expect_success 'the demo bundle matches the demo repository, file by file' '
	mkdir x && tar xzf demo/shop.tar.gz -C x && top=$(ls x) &&
	(cd x/$top && sha256sum --quiet -c SHA256SUMS) &&
	for f in $(cd x/$top && find migrations -type f); do
		git -C demo/shop show "HEAD:$f" | cmp - "x/$top/$f" || return 1
	done
'

test_done
