#!/bin/sh
test_description='the books have integrity: every fact the engine acts on is covered by the audit chain and checked first (issue #15)'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"

unset CAIRN_ENV CAIRN_DB CAIRN_APPLY_CONFIG

applied() {
	q "$1" "SELECT count(*) FROM cairn_migrations WHERE state = 'applied'"
}

has_table() {
	test "$(q "$1" "SELECT count(*) FROM sqlite_master WHERE name = '$2'")" = 1
}

test_expect_success 'setup: three migrations applied' '
	apply_project p &&
	apply_table p 0001_a &&
	apply_table p 0002_b &&
	apply_mig p 0003_c "CREATE TABLE t_0003_c (id integer); INSERT INTO t_0003_c VALUES (1);" "DROP TABLE t_0003_c;" &&
	apply_build p "$TRASH_DIRECTORY/b.tar.gz" &&
	cairn-apply apply b.tar.gz --env dev --db sqlite:base.db $KEY >out &&
	test_grep "applied 3 migrations" out &&
	q base.db "SELECT detail FROM cairn_audit WHERE action = '"'"'apply'"'"' AND version = '"'"'0003'"'"'" >d &&
	test_grep "facts{state=applied;checksum=sha256:[0-9a-f]*;down=sha256:[0-9a-f]*;bundle=sha256:[0-9a-f]*;env=dev;name=0003_c;kind=schema;irreversible=0;transactional=1}$" d
'

test_expect_success 'a row set to rolled_back by hand: apply stops (exit 5) instead of running it again' '
	cp base.db s.db &&
	q s.db "UPDATE cairn_migrations SET state = '"'"'rolled_back'"'"' WHERE version = '"'"'0003'"'"'" &&
	test_expect_code 5 cairn-apply apply b.tar.gz --env dev --db sqlite:s.db $KEY >out 2>err &&
	test_grep "the books were changed outside cairn-apply: migration 0003: state is .rolled_back., the audit chain recorded .applied." err &&
	test "$(q s.db "SELECT count(*) FROM t_0003_c")" = 1 &&
	test "$(q s.db "SELECT count(*) FROM cairn_audit")" = "$(q base.db "SELECT count(*) FROM cairn_audit")"
'

test_expect_success 'a replaced down script is not run by rollback (exit 5), the table it would drop stays' '
	cp base.db d.db &&
	q d.db "UPDATE cairn_migrations SET down_sql = '"'"'DROP TABLE t_0001_a;'"'"' WHERE version = '"'"'0003'"'"'" &&
	test_expect_code 5 cairn-apply rollback --db sqlite:d.db --last 1 2>err &&
	test_grep "migration 0003: down is .sha256:[0-9a-f]*., the audit chain recorded .sha256:[0-9a-f]*." err &&
	has_table d.db t_0001_a &&
	has_table d.db t_0003_c &&
	test "$(applied d.db)" = 3
'

test_expect_success 'checksum, environment and bundle edits are found before acting' '
	for edit in "checksum = '"'"'sha256:00'"'"'" "environment = '"'"'prod'"'"'" "bundle_id = '"'"'sha256:ff'"'"'"; do
		cp base.db e.db &&
		q e.db "UPDATE cairn_migrations SET $edit WHERE version = '"'"'0002'"'"'" &&
		test_expect_code 5 cairn-apply apply b.tar.gz --env dev --db sqlite:e.db $KEY 2>err &&
		test_grep "migration 0002: .* is .*, the audit chain recorded" err &&
		test_expect_code 5 cairn-apply rollback --db sqlite:e.db --last 1 2>err &&
		test_grep "migration 0002: " err &&
		test "$(applied e.db)" = 3 || return 1
	done
'

test_expect_success 'repair refuses an edited row too' '
	cp base.db r.db &&
	q r.db "UPDATE cairn_migrations SET state = '"'"'failed'"'"' WHERE version = '"'"'0003'"'"'" &&
	test_expect_code 5 cairn-apply repair --db sqlite:r.db 0003 --mark-rolled-back 2>err &&
	test_grep "migration 0003: state is .failed., the audit chain recorded .applied." err &&
	test "$(q r.db "SELECT state FROM cairn_migrations WHERE version = '"'"'0003'"'"'")" = failed
'

test_expect_success 'an edited audit row stops apply (exit 5), naming the row' '
	cp base.db a.db &&
	q a.db "UPDATE cairn_audit SET detail = '"'"'nothing to see'"'"' WHERE seq = 2" &&
	test_expect_code 5 cairn-apply apply b.tar.gz --env dev --db sqlite:a.db $KEY 2>err &&
	test_grep "the books were changed outside cairn-apply: row 2: its contents do not match its hash" err
'

test_expect_success 'an audit hash edited in one digit, in capitals or one digit longer is not its row (exit 5)' '
	last=$(q base.db "SELECT max(seq) FROM cairn_audit") &&
	for edit in "substr(hash, 1, 63) || (CASE substr(hash, 64) WHEN '"'"'0'"'"' THEN '"'"'1'"'"' ELSE '"'"'0'"'"' END)" \
		"upper(hash)" "hash || '"'"'0'"'"'"; do
		for seq in 2 $last; do
			cp base.db h.db &&
			q h.db "UPDATE cairn_audit SET hash = $edit WHERE seq = $seq" &&
			test_expect_code 5 cairn-apply apply b.tar.gz --env dev --db sqlite:h.db $KEY 2>err &&
			test_grep "the books were changed outside cairn-apply: row $seq: its contents do not match its hash" err &&
			test_expect_code 1 cairn-apply history --db sqlite:h.db --verify >out 2>&1 &&
			test_grep "row $seq: its contents do not match its hash" out || return 1
		done
	done
'

test_expect_success 'a bookkeeping row anchored to a hash edited in one digit or in capitals: its anchor is missing (exit 5), first row and last' '
	for edit in "substr(audit_hash, 1, 63) || (CASE substr(audit_hash, 64) WHEN '"'"'0'"'"' THEN '"'"'1'"'"' ELSE '"'"'0'"'"' END)" \
		"upper(audit_hash)"; do
		for v in 0001 0003; do
			cp base.db k.db &&
			q k.db "UPDATE cairn_migrations SET audit_hash = $edit WHERE version = '"'"'$v'"'"'" &&
			test_expect_code 5 cairn-apply apply b.tar.gz --env dev --db sqlite:k.db $KEY 2>err &&
			test_grep "the books were changed outside cairn-apply: migration $v: the audit row that recorded its last change (.*) is missing" err &&
			test "$(applied k.db)" = 3 || return 1
		done
	done
'

test_expect_success 'two rows anchored to one audit row: both are checked against it' '
	cp base.db two.db &&
	h=$(q two.db "SELECT audit_hash FROM cairn_migrations WHERE version = '"'"'0003'"'"'") &&
	q two.db "UPDATE cairn_migrations SET audit_hash = '"'"'$h'"'"' WHERE version = '"'"'0002'"'"'" &&
	test_expect_code 5 cairn-apply apply b.tar.gz --env dev --db sqlite:two.db $KEY 2>err &&
	test_grep "migration 0002: .* is .*, the audit chain recorded" err
'

test_expect_success 'values rows share, edited at the first and the last row: each row read as it is (perf14h)' '
	cp base.db sh.db &&
	q sh.db "UPDATE cairn_migrations SET environment = '"'"'prod'"'"', applied_by = '"'"'x@y'"'"' WHERE version IN ('"'"'0001'"'"', '"'"'0002'"'"')" &&
	q sh.db "UPDATE cairn_migrations SET bundle_id = '"'"'sha256:ff'"'"', kind = '"'"'batch'"'"' WHERE version = '"'"'0003'"'"'" &&
	test_expect_code 5 cairn-apply apply b.tar.gz --env dev --db sqlite:sh.db $KEY 2>err &&
	test_grep "migration 0001: env is .prod., the audit chain recorded .dev." err &&
	test_expect_code 1 cairn-apply history --db sqlite:sh.db --verify >out 2>&1 &&
	test_grep "migration 0001: env is .prod., the audit chain recorded .dev." out &&
	test_grep "migration 0002: env is .prod., the audit chain recorded .dev." out &&
	test_grep "migration 0003: bundle is .sha256:ff., the audit chain recorded .sha256:[0-9a-f]*.; kind is .batch., the audit chain recorded .schema." out &&
	! grep "migration 0003: env" out &&
	test "$(q sh.db "SELECT group_concat(environment || '"'"'/'"'"' || applied_by || '"'"'/'"'"' || kind, '"'"' '"'"') FROM cairn_migrations")" = "prod/x@y/schema prod/x@y/schema dev/$(q base.db "SELECT applied_by FROM cairn_migrations WHERE version = '"'"'0003'"'"'")/batch" &&
	test "$(applied sh.db)" = 3
'

test_expect_success 'a chain of 152 rows, checked by the guard in batches of 64 on a helper thread: edits at the batches'"'"' edges, a row past a batch'"'"'s text and the last are found (perf14i)' '
	apply_project long &&
	i=1 && while test $i -le 150; do
		apply_table long "$(printf %04d $i)_t" || return 1
		i=$((i + 1))
	done &&
	apply_build long "$TRASH_DIRECTORY/long.tar.gz" &&
	cairn-apply apply long.tar.gz --env dev --db sqlite:long.db $KEY >out &&
	test_grep "applied 150 migrations" out &&
	last=$(q long.db "SELECT max(seq) FROM cairn_audit") &&
	test "$last" -gt 129 &&
	for seq in 1 64 65 128 129 $last; do
		cp long.db l.db &&
		q l.db "UPDATE cairn_audit SET actor = '"'"'x@y'"'"' WHERE seq = $seq" &&
		test_expect_code 5 cairn-apply apply long.tar.gz --env dev --db sqlite:l.db $KEY 2>err &&
		test_grep "the books were changed outside cairn-apply: row $seq: its contents do not match its hash" err || return 1
	done &&
	for v in 0063 0064 0127 0128 0150; do
		cp long.db l.db &&
		q l.db "UPDATE cairn_migrations SET name = '"'"'renamed'"'"' WHERE version = '"'"'$v'"'"'" &&
		test_expect_code 5 cairn-apply apply long.tar.gz --env dev --db sqlite:l.db $KEY 2>err &&
		test_grep "the books were changed outside cairn-apply: migration $v: name is .renamed., the audit chain recorded .${v}_t." err || return 1
	done &&
	# a detail of 100,000 bytes (more than a batch holds) at row 70, and
	# the last row edited: the first is named, the second counted
	cp long.db l.db &&
	q l.db "UPDATE cairn_audit SET detail = detail || printf('"'"'%.100000c'"'"', '"'"'x'"'"') WHERE seq = 70; UPDATE cairn_audit SET actor = '"'"'x@y'"'"' WHERE seq = $last" &&
	test_expect_code 5 cairn-apply apply long.tar.gz --env dev --db sqlite:l.db $KEY 2>err &&
	test_grep "row 70: its contents do not match its hash: the row was edited (and more: run .cairn-apply history --verify.)" err &&
	test "$(q l.db "SELECT count(*) FROM cairn_audit")" = "$last" &&
	test "$(q l.db "SELECT count(*) FROM cairn_migrations WHERE state = '"'"'applied'"'"'")" = 150 &&
	cairn-apply apply long.tar.gz --env dev --db sqlite:long.db $KEY >out &&
	test_grep "nothing to apply" out &&
	test "$(q long.db "SELECT count(*) FROM cairn_audit")" = "$last"
'

test_expect_success 'rows that share a block of strings and a row with a down script of 20 kB (a block of its own): an edited down script is refused wherever the row lies, and rollback runs each row'"'"'s own (rss14l)' '
	apply_project blk &&
	long=$(printf "%20000s" "" | tr " " x) &&
	apply_table blk 0001_a &&
	apply_mig blk 0002_l "CREATE TABLE t_0002_l (id integer);" "DROP TABLE t_0002_l; -- $long" &&
	apply_table blk 0003_c &&
	apply_table blk 0004_d &&
	apply_build blk "$TRASH_DIRECTORY/blk.tar.gz" &&
	cairn-apply apply blk.tar.gz --env dev --db sqlite:blk.db $KEY >out &&
	test_grep "applied 4 migrations" out &&
	test "$(q blk.db "SELECT length(down_sql) > 20000 FROM cairn_migrations WHERE version = '"'"'0002'"'"'")" = 1 &&
	for v in 0001 0002 0003 0004; do
		cp blk.db be.db &&
		q be.db "UPDATE cairn_migrations SET down_sql = replace(down_sql, '"'"'DROP TABLE t_$v'"'"', '"'"'DROP TABLE t_0001_a; DROP TABLE t_$v'"'"') WHERE version = '"'"'$v'"'"'" &&
		test_expect_code 5 cairn-apply apply blk.tar.gz --env dev --db sqlite:be.db $KEY 2>err &&
		test_grep "migration $v: down is .sha256:[0-9a-f]*., the audit chain recorded .sha256:[0-9a-f]*." err &&
		test_expect_code 5 cairn-apply rollback --db sqlite:be.db --last 4 2>err &&
		test_grep "migration $v: down is " err &&
		test "$(q be.db "SELECT count(*) FROM sqlite_master WHERE name LIKE '"'"'t_000%'"'"'")" = 4 &&
		test "$(applied be.db)" = 4 || return 1
	done &&
	cp blk.db br.db &&
	cairn-apply rollback --db sqlite:br.db --last 3 >out &&
	test "$(q br.db "SELECT group_concat(version || '"'"'='"'"'|| state, '"'"' '"'"') FROM (SELECT version, state FROM cairn_migrations ORDER BY version)")" = "0001=applied 0002=rolled_back 0003=rolled_back 0004=rolled_back" &&
	test "$(q br.db "SELECT group_concat(name, '"'"' '"'"') FROM (SELECT name FROM sqlite_master WHERE name LIKE '"'"'t_000%'"'"' ORDER BY name)")" = t_0001_a &&
	cairn-apply history --db sqlite:br.db --verify >out &&
	test_grep "intact" out
'

test_expect_success 'untouched books: apply and rollback still work' '
	cp base.db ok.db &&
	cairn-apply rollback --db sqlite:ok.db --last 1 >out &&
	test "$(applied ok.db)" = 2 &&
	! has_table ok.db t_0003_c &&
	cairn-apply apply b.tar.gz --env dev --db sqlite:ok.db $KEY >out &&
	test_grep "applied 1 migration" out &&
	cairn-apply history --db sqlite:ok.db --verify >out &&
	test_grep "intact" out
'

test_done
