#!/bin/sh
test_description='a checkpoint after every run that changes the books (rollback, repair, baseline), and inside receipts (issue #15)'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"

unset CAIRN_ENV CAIRN_DB CAIRN_APPLY_CONFIG CAIRN_CHECKPOINT CAIRN_CHECKPOINT_KEY

test_expect_success 'setup: a bundle of two migrations, a host key' '
	cairn keygen --no-passphrase host >/dev/null 2>&1 &&
	apply_project p &&
	apply_table p 0001_a &&
	apply_table p 0002_b &&
	apply_build p "$TRASH_DIRECTORY/v2.tar.gz" &&
	cairn-apply apply v2.tar.gz --env dev --db sqlite:r.db $KEY --checkpoint cp.log \
		--checkpoint-key host.key >out 2>err &&
	test_line_count = 1 cp.log
'

test_expect_success 'rollback appends a checkpoint of the chain it leaves' '
	cairn-apply rollback --db sqlite:r.db --last 1 --checkpoint cp.log \
		--checkpoint-key host.key >out 2>err &&
	test_grep "rolled back 1 migration" out &&
	test_grep "checkpoint of r.db (.* audit rows) added to .cp.log." err &&
	test_line_count = 2 cp.log &&
	n=$(q r.db "SELECT count(*) FROM cairn_audit") &&
	tail -n 1 cp.log >last &&
	test_grep "	length=$n	head=$(q r.db "SELECT hash FROM cairn_audit ORDER BY seq DESC LIMIT 1")	" last &&
	cairn-apply history --db sqlite:r.db --verify --checkpoint cp.log >out &&
	test_grep "checkpoint of .* matches: $n audit rows" out &&
	cp r.db good.db
'

test_expect_success 'the rollback undone in the books by hand: the chain alone passes, the rollback checkpoint does not' '
	# the attacker puts row 0002 back as the apply left it and cuts the
	# rollback audit row: the books claim a table the schema no longer has
	anchor=$(q r.db "SELECT hash FROM cairn_audit WHERE action = '"'"'apply'"'"' AND to_version = '"'"'0002'"'"'") &&
	q r.db "UPDATE cairn_migrations SET state = '"'"'applied'"'"', audit_hash = '"'"'$anchor'"'"' WHERE version = '"'"'0002'"'"'; DELETE FROM cairn_audit WHERE seq = (SELECT max(seq) FROM cairn_audit)" &&
	test "$(q r.db "SELECT state FROM cairn_migrations WHERE version = '"'"'0002'"'"'")" = applied &&
	test -z "$(q r.db "SELECT name FROM sqlite_master WHERE name = '"'"'t_0002_b'"'"'")" &&
	cairn-apply history --db sqlite:r.db --verify >out &&
	test_grep "audit chain intact" out &&
	head -n 1 cp.log >apply-only.log &&
	cairn-apply history --db sqlite:r.db --verify --checkpoint apply-only.log >out &&
	test_expect_code 1 cairn-apply history --db sqlite:r.db --verify --checkpoint cp.log 2>err &&
	test_grep "checkpoint mismatch: the audit chain has [0-9]* rows, but the checkpoint of 20.* records [0-9]*: its newest rows were deleted" err &&
	cp good.db r.db
'

test_expect_success 'baseline appends a checkpoint; CAIRN_CHECKPOINT and CAIRN_CHECKPOINT_KEY count' '
	CAIRN_CHECKPOINT=b.log CAIRN_CHECKPOINT_KEY=host.key \
		cairn-apply baseline --db sqlite:b.db --version 0005 --env dev >out 2>err &&
	test_line_count = 1 b.log &&
	test_grep "	env=dev	project=	length=$(q b.db "SELECT count(*) FROM cairn_audit")	" b.log &&
	cairn-apply history --db sqlite:b.db --verify --checkpoint b.log >out
'

test_expect_success 'a repair that changes the books leaves a checkpoint' '
	apply_mig p 0003_bad "CREATE TABLE t_c (id int); INSERT INTO nowhere VALUES (1);" "DROP TABLE t_c;" "transaction: false" &&
	apply_build p "$TRASH_DIRECTORY/v3.tar.gz" &&
	test_expect_code 5 cairn-apply apply v3.tar.gz --env dev --db sqlite:f.db $KEY \
		--checkpoint f.log --checkpoint-key host.key >out 2>err &&
	test_line_count = 1 f.log &&
	test "$(q f.db "SELECT state FROM cairn_migrations WHERE version = '"'"'0003'"'"'")" = failed &&
	cairn-apply repair --db sqlite:f.db 0003 --mark-rolled-back --checkpoint f.log \
		--checkpoint-key host.key >out 2>err &&
	test_line_count = 2 f.log &&
	test "$(q f.db "SELECT state FROM cairn_migrations WHERE version = '"'"'0003'"'"'")" = rolled_back &&
	cairn-apply history --db sqlite:f.db --verify --checkpoint f.log >out &&
	q f.db "DELETE FROM cairn_audit WHERE seq = (SELECT max(seq) FROM cairn_audit)" &&
	test_expect_code 1 cairn-apply history --db sqlite:f.db --verify --checkpoint f.log 2>err &&
	test_grep "its newest rows were deleted" err
'

test_expect_success 'a checkpoint key is unlocked before rollback touches anything' '
	chmod 644 host.key &&
	q r.db "SELECT count(*) FROM cairn_audit" >before &&
	test_expect_code 6 cairn-apply rollback --db sqlite:r.db --last 1 --checkpoint cp.log \
		--checkpoint-key host.key 2>err &&
	chmod 600 host.key &&
	test_grep "cannot use the checkpoint key" err &&
	q r.db "SELECT count(*) FROM cairn_audit" >after &&
	test_cmp before after &&
	test -n "$(q r.db "SELECT name FROM sqlite_master WHERE name = '"'"'t_0001_a'"'"'")"
'

test_expect_success 'a down script swapped and its facts rechained: rollback with the checkpoint file refuses before running it (exit 5)' '
	cp good.db r.db &&
	cairn-apply apply v2.tar.gz --env dev --db sqlite:r.db $KEY --checkpoint cp.log \
		--checkpoint-key host.key >out 2>err &&
	cp r.db good2.db &&
	evil="DROP TABLE t_0001_a;" &&
	sha=$(printf "%s" "$evil" | sha256sum | cut -d" " -f1) &&
	python3 "$TEST_DIRECTORY/helpers/audit-rechain.py" r.db \
		"UPDATE cairn_migrations SET down_sql = '"'"'$evil'"'"' WHERE version = '"'"'0002'"'"'" \
		"UPDATE cairn_audit SET detail = replace(detail, substr(detail, instr(detail, '"'"'down=sha256:'"'"'), 76), '"'"'down=sha256:$sha'"'"') WHERE seq = (SELECT max(seq) FROM cairn_audit WHERE version = '"'"'0002'"'"')" &&
	cairn-apply history --db sqlite:r.db --verify >out &&
	test_grep "audit chain intact" out &&
	test_expect_code 5 cairn-apply rollback --db sqlite:r.db --last 1 --checkpoint cp.log \
		--checkpoint-key host.key >out 2>err &&
	test_grep "checkpoint mismatch: audit row [0-9]* hashes to .*: the chain was rewritten" err &&
	test_grep "the database is unchanged (nothing was done)" err &&
	test -n "$(q r.db "SELECT name FROM sqlite_master WHERE name = '"'"'t_0001_a'"'"'")" &&
	test -n "$(q r.db "SELECT name FROM sqlite_master WHERE name = '"'"'t_0002_b'"'"'")" &&
	test "$(q r.db "SELECT state FROM cairn_migrations WHERE version = '"'"'0002'"'"'")" = applied &&
	cp r.db evil.db &&
	cairn-apply rollback --db sqlite:evil.db --last 1 >out 2>err &&
	test -z "$(q evil.db "SELECT name FROM sqlite_master WHERE name = '"'"'t_0001_a'"'"'")"
'

test_expect_success 'both tables dropped: apply with the checkpoint file refuses to start the books again (exit 5)' '
	cp good2.db r.db &&
	q r.db "DROP TABLE cairn_audit; DROP TABLE cairn_migrations" &&
	test_expect_code 5 cairn-apply apply v2.tar.gz --env dev --db sqlite:r.db $KEY --checkpoint cp.log \
		--checkpoint-key host.key >out 2>err &&
	test_grep "checkpoint mismatch: the audit chain is empty" err &&
	test -z "$(q r.db "SELECT name FROM sqlite_master WHERE name IN ('"'"'cairn_audit'"'"', '"'"'cairn_migrations'"'"')")" &&
	cp good2.db r.db
'

test_expect_success 'the receipt carries the checkpoint: history --verify --checkpoint BUNDLE checks it' '
	cp v2.tar.gz rc.tar.gz &&
	cairn-apply apply rc.tar.gz --env staging --db sqlite:s.db $KEY --receipt-key host.key >out 2>err &&
	tar xzf rc.tar.gz --wildcards "*/approvals/staging-receipt-*.yaml" -O >receipt.yaml &&
	n=$(q s.db "SELECT count(*) FROM cairn_audit") &&
	test_grep "^checkpoint: \"cairn-checkpoint/1\\\\ttime=.*\\\\tdb=s.db\\\\tenv=staging\\\\tproject=p\\\\tlength=$n\\\\thead=$(q s.db "SELECT hash FROM cairn_audit ORDER BY seq DESC LIMIT 1")\\\\t" receipt.yaml &&
	cairn inspect rc.tar.gz >out &&
	test_grep "receipt" out &&
	cairn-apply history --db sqlite:s.db --verify --checkpoint rc.tar.gz >out &&
	test_grep "checkpoint of .* matches: $n audit rows" out &&
	cp s.db s-good.db &&
	q s.db "DELETE FROM cairn_migrations WHERE version = '"'"'0002'"'"'; DELETE FROM cairn_audit WHERE seq = (SELECT max(seq) FROM cairn_audit)" &&
	cairn-apply history --db sqlite:s.db --verify >out &&
	test_expect_code 1 cairn-apply history --db sqlite:s.db --verify --checkpoint rc.tar.gz 2>err &&
	test_grep "checkpoint mismatch: .*its newest rows were deleted" err &&
	test_grep "receipt approvals/staging-receipt-" err &&
	test_expect_code 1 cairn-apply history --db sqlite:r.db --verify --checkpoint rc.tar.gz 2>err &&
	test_grep "holds no receipt with a checkpoint of r.db" err
'

test_done
