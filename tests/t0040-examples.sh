#!/bin/sh
test_description='the examples run, so they never rot'
. "$(dirname "$0")/test-lib.sh"

test_expect_success 'examples/demo.sh runs end to end' '
	sh "$SRC_DIR/examples/demo.sh" "$TRASH_DIRECTORY/demo" >out 2>&1 &&
	test_grep "5 migrations checked, 0 warnings (work tree)" out &&
	test_grep "^20261115090000  index_orders_by_customer" out &&
	test -d demo/shop/.git &&
	git -C demo/shop tag >tags && test_grep "^v1.0$" tags &&
	test_grep "^preflight: every check passed" out &&
	test_grep "^applied 5 migrations; shop.db is at version 2026" out &&
	test_grep "^cairn_apply_runs_total{env=\"dev\",outcome=\"success\"} 1$" out &&
	test_grep "^cairn_apply_migrations_applied_total{env=\"dev\"} 5$" out &&
	promtool check metrics <demo/shop.prom &&
	test_grep "^audit chain intact: 7 rows, 5 migrations anchored" out
'

test_expect_success 'the demo ends with the example bundle applied to a SQLite file' '
	sqlite3 demo/shop.db "SELECT count(*) FROM cairn_migrations WHERE state = '"'"'applied'"'"'" >n &&
	echo 5 >expect && test_cmp expect n &&
	sqlite3 demo/shop.db "SELECT count(*) FROM products" >n &&
	test "$(cat n)" -ge 1 &&
	cairn-apply apply demo/shop.tar.gz --env dev --db sqlite:demo/shop.db --key demo/ci.pub >out &&
	test_grep "nothing to apply" out
'

test_expect_success 'the example project checks clean from its commit' '
	(cd demo/shop && cairn check --ref HEAD && cairn check --ref v1.0)
'

test_done
