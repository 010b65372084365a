#!/bin/sh
test_description='the examples run, so they never rot'
. "$(dirname "$0")/test-lib.sh"

test_expect_success 'examples/demo.sh runs end to end' '
	sh "$SRC_DIR/examples/demo.sh" "$TRASH_DIRECTORY/demo" >out 2>&1 &&
	test_grep "5 migrations checked, 0 warnings (work tree)" out &&
	test_grep "^20261115090000  index_orders_by_customer" out &&
	test -d demo/shop/.git &&
	git -C demo/shop tag >tags && test_grep "^v1.0$" tags
'

test_expect_success 'the example project checks clean from its commit' '
	(cd demo/shop && cairn check --ref HEAD && cairn check --ref v1.0)
'

test_done
