#!/bin/sh
test_description='examples/promotion.sh: dev -> staging -> prod with four keys, end to end'
. "$(dirname "$0")/test-lib.sh"

test_expect_success 'examples/promotion.sh runs end to end' '
	sh "$SRC_DIR/examples/promotion.sh" "$TRASH_DIRECTORY/promo" >out 2>&1 &&
	test_grep "== carry one file to the air-gapped prod host" out
'

test_expect_success 'each refusal on the way was exit 3 and named its rule' '
	test $(grep -c "^(refused, exit 3, as it should be)$" out) -eq 3 &&
	test_grep "refusing .shop.tar.gz. for .staging.: approvals: .staging. needs 1 approval" out &&
	test_grep "refusing .shop.tar.gz. for .prod.: approvals: .prod. needs 2 approvals by distinct approvers (keys/alice.pub, keys/bob.pub), the bundle carries 1" out
'

test_expect_success 'dev, staging and prod each hold the four migrations' '
	for db in promo/hosts/dev.db promo/hosts/staging.db promo/prod-host/prod.db; do
		sqlite3 $db "SELECT count(*) FROM cairn_migrations WHERE state = '"'"'applied'"'"'" >n &&
		echo 4 >four && test_cmp four n || return 1
	done
'

test_expect_success 'the prod host got one file, and its audit names the statements used' '
	ls promo/prod-host >files &&
	printf "cairn-apply.yaml\nkeys\nprod.db\nprod.dsn\nshop.tar.gz\n" >expect &&
	test_cmp expect files &&
	sqlite3 promo/prod-host/prod.db "SELECT detail FROM cairn_audit WHERE seq = 1" >detail &&
	test_grep "approval approvals/prod-[0-9a-f]*.yaml (alice" detail &&
	test_grep "approval approvals/prod-[0-9a-f]*.yaml (bob" detail &&
	test_grep "receipt approvals/staging-receipt-[0-9a-f]*.yaml (applier" detail &&
	test_grep "audit chain intact" out
'

test_expect_success 'the bundle carries its statements, each valid' '
	cairn inspect promo/prod-host/shop.tar.gz --format json >j &&
	python3 -c "
import json
d = json.load(open(\"j\"))
kinds = sorted((s[\"type\"], s.get(\"environment\") or \"\") for s in d[\"statements\"])
assert kinds == [(\"approval\", \"prod\"), (\"approval\", \"prod\"), (\"approval\", \"staging\"),
                 (\"build\", \"\"), (\"receipt\", \"dev\"), (\"receipt\", \"staging\")], kinds
assert all(s[\"valid\"] for s in d[\"statements\"])
"
'

test_done
