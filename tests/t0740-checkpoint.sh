#!/bin/sh
test_description='a signed checkpoint of the audit chain head, kept outside the database, finds cut, rewritten and dropped books (issue #15)'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"

unset CAIRN_ENV CAIRN_DB CAIRN_APPLY_CONFIG CAIRN_CHECKPOINT CAIRN_CHECKPOINT_KEY

RECHAIN="$TEST_DIRECTORY/helpers/audit-rechain.py"

test_expect_success 'setup: two bundles, a host key, two runs with checkpoints' '
	cairn keygen --no-passphrase host >/dev/null 2>&1 &&
	apply_project p &&
	apply_table p 0001_a &&
	apply_table p 0002_b &&
	apply_build p "$TRASH_DIRECTORY/v2.tar.gz" &&
	apply_table p 0003_c &&
	apply_build p "$TRASH_DIRECTORY/v3.tar.gz" &&
	cairn-apply apply v2.tar.gz --env dev --db sqlite:base.db $KEY --checkpoint cp.log \
		--checkpoint-key host.key >out 2>err &&
	test_grep "checkpoint of base.db (.* audit rows\?) added to .cp.log." err &&
	cairn-apply apply v3.tar.gz --env dev --db sqlite:base.db $KEY --checkpoint cp.log \
		--checkpoint-key host.key >out 2>err &&
	test_line_count = 2 cp.log &&
	test "$(stat -c %a cp.log)" = 600 &&
	n=$(q base.db "SELECT count(*) FROM cairn_audit") &&
	test_grep "^cairn-checkpoint/1	time=20[0-9T:-]*Z	db=base.db	env=dev	project=p	length=$n	head=$(q base.db "SELECT hash FROM cairn_audit ORDER BY seq DESC LIMIT 1")	key=[0-9a-f]\{16\}	pub=[A-Za-z0-9+/=]*	sig=[A-Za-z0-9+/=]*$" cp.log
'

test_expect_success 'untouched books match the checkpoint' '
	cairn-apply history --db sqlite:base.db --verify --checkpoint cp.log >out &&
	test_grep "audit chain intact" out &&
	test_grep "checkpoint of 20.* matches: [0-9]* audit rows ending in" out
'

# Each attack works on base.db itself (the checkpoint names the database),
# restored from good.db afterwards.
test_expect_success 'keep a copy of the good books' '
	cp base.db good.db
'

test_expect_success 'the newest audit row deleted with its bookkeeping row: the chain alone passes, the checkpoint does not' '
	q base.db "DELETE FROM cairn_migrations WHERE version = '"'"'0003'"'"'; DELETE FROM cairn_audit WHERE seq = (SELECT max(seq) FROM cairn_audit)" &&
	cairn-apply history --db sqlite:base.db --verify >out &&
	test_grep "audit chain intact" out &&
	test_expect_code 1 cairn-apply history --db sqlite:base.db --verify --checkpoint cp.log 2>err &&
	test_grep "checkpoint mismatch: the audit chain has [0-9]* rows, but the checkpoint of 20.* records [0-9]*: its newest rows were deleted" err &&
	cp good.db base.db
'

test_expect_success 'an edit hidden by a recomputed chain: found by the checkpoint' '
	python3 "$RECHAIN" base.db \
		"UPDATE cairn_audit SET actor = '"'"'someone@else'"'"' WHERE seq = 1" &&
	cairn-apply history --db sqlite:base.db --verify >out &&
	test_grep "audit chain intact" out &&
	test_expect_code 1 cairn-apply history --db sqlite:base.db --verify --checkpoint cp.log 2>err &&
	test_grep "checkpoint mismatch: audit row [0-9]* hashes to [0-9a-f]*..., but the checkpoint of 20.* recorded [0-9a-f]*...: the chain was rewritten" err &&
	cp good.db base.db
'

test_expect_success 'both tables dropped: found by the checkpoint' '
	q base.db "DROP TABLE cairn_audit; DROP TABLE cairn_migrations" &&
	cairn-apply history --db sqlite:base.db --verify >out &&
	test_expect_code 1 cairn-apply history --db sqlite:base.db --verify --checkpoint cp.log 2>err &&
	test_grep "checkpoint mismatch: the audit chain is empty (the tables were dropped or emptied)" err &&
	cp good.db base.db
'

test_expect_success 'an altered checkpoint line, or one by another key, is refused' '
	sed "\$s/length=\([0-9]*\)/length=1/" cp.log >bad.log &&
	test_expect_code 1 cairn-apply history --db sqlite:base.db --verify --checkpoint bad.log 2>err &&
	test_grep "signature by [0-9a-f]* does not verify: the line was altered" err &&
	test_expect_code 1 cairn-apply history --db sqlite:base.db --verify --checkpoint cp.log \
		--checkpoint-id 0123456789abcdef 2>err &&
	test_grep "is signed by key [0-9a-f]*, not by 0123456789abcdef" err &&
	cairn-apply history --db sqlite:base.db --verify --checkpoint cp.log >out
'

test_expect_success 'a checkpoint needs a key; an unusable one stops apply before it runs' '
	test_expect_code 2 cairn-apply apply v3.tar.gz --env dev --db sqlite:n.db $KEY --checkpoint n.log 2>err &&
	test_grep "checkpoint needs a key" err &&
	test ! -f n.db &&
	chmod 644 host.key &&
	test_expect_code 6 cairn-apply apply v3.tar.gz --env dev --db sqlite:n.db $KEY --checkpoint n.log \
		--checkpoint-key host.key 2>err &&
	chmod 600 host.key &&
	test ! -f n.db &&
	CAIRN_CHECKPOINT=n.log CAIRN_CHECKPOINT_KEY=host.key cairn-apply apply v3.tar.gz --env dev \
		--db sqlite:n.db $KEY >out 2>err &&
	test_line_count = 1 n.log
'

test_expect_success 'the applier config names where checkpoints go, per environment' '
	cat >cairn-apply.yaml <<-EOF &&
	defaults:
	  builders: [ci.pub]
	  checkpoint: { file: cps.log, key: host.key }
	environments:
	  dev:
	    database: { dsn: "sqlite:cfg.db" }
	EOF
	cairn-apply apply v3.tar.gz --env dev >out 2>err &&
	test_grep "checkpoint of cfg.db (4 audit rows) added to .*cps.log." err &&
	test_line_count = 1 cps.log &&
	cairn-apply history --env dev --verify --checkpoint cps.log >out &&
	printf "environments:\n  dev:\n    database: { dsn: \"sqlite:x.db\" }\n    checkpoint: { key: host.key }\n" >bad.yaml &&
	test_expect_code 6 cairn-apply config --env dev --config bad.yaml 2>err &&
	test_grep "checkpoint needs .file." err &&
	rm cairn-apply.yaml
'

test_done
