#!/bin/sh
test_description='PostgreSQL: rollback needs the bundle where the policy asks for it, and books cut while a run waits for the advisory lock are found under it (issue #15)'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"
. "$TEST_DIRECTORY/lib-pg.sh"

pg_start_app
# prod asks for approvals: its role is a plain one (pg_plain_db),
# privileged_role: refuse being its default (attack15h)
DB="postgresql://app@/app?host=$PGHOST"

# the books and the schema as the catalog has them
state() {
	bk "select version || '|' || state || '|' || md5(coalesce(down_sql, '')) from cairn.cairn_migrations order by version" &&
	bk "select count(*) || '|' || max(hash) from cairn.cairn_audit" &&
	bk "select tablename from pg_tables where tablename like 't\_%' order by tablename"
}

# app from the saved copy
restore() {
	pg_sql -d postgres -c "DROP DATABASE app WITH (FORCE)" -c "CREATE DATABASE app TEMPLATE good"
}

# the driver's advisory lock key: fnv1a("cairn:" + the books' schema), as
# drivers/postgres.c computes it
LOCK_KEY=$(python3 -c '
h = 1469598103934665603
for c in b"cairn:cairn":
    h = ((h ^ c) * 1099511628211) % 2**64
print(h - 2**64 if h >= 2**63 else h)')

test_expect_success 'setup: two migrations applied as prod, with a checkpoint; a saved copy; prod asks for approvals' '
	pg_plain_db app &&
	pg_project p &&
	apply_table p 0001_a &&
	apply_table p 0002_b &&
	apply_build p "$TRASH_DIRECTORY/b.tar.gz" &&
	cairn keygen --no-passphrase host >/dev/null 2>&1 &&
	cairn keygen --no-passphrase a1 >/dev/null 2>&1 &&
	cairn-apply apply b.tar.gz --env prod --db "$DB" $KEY --checkpoint cp.log --checkpoint-key host.key >out 2>err &&
	test_grep "applied 2 migrations" out &&
	test_line_count = 1 cp.log &&
	pg_sql -d postgres -c "CREATE DATABASE good TEMPLATE app" &&
	cat >cfg.yaml <<-EOF
	environments:
	  prod:
	    database: { dsn: "$DB" }
	    builders: [ci.pub]
	    approvers: [a1.pub]
	    approvals: 1
	EOF
'

test_expect_success 'a down script swapped and the chain recomputed: rollback under prod'"'"'s policy without --bundle is refused (exit 3), nothing runs' '
	restore &&
	evil="DROP TABLE t_0001_a;" &&
	sha=$(printf "%s" "$evil" | sha256sum | cut -d" " -f1) &&
	bk "update cairn.cairn_migrations set down_sql = '"'"'$evil'"'"' where version = '"'"'0002'"'"'" &&
	bk "update cairn.cairn_audit set detail = regexp_replace(detail, '"'"'down=sha256:[0-9a-f]*'"'"', '"'"'down=sha256:$sha'"'"') where action = '"'"'apply'"'"' and version = '"'"'0002'"'"'" &&
	pg_rechain app &&
	cairn-apply history --db "$DB" --verify >out &&
	test_grep "audit chain intact" out &&
	state >before &&
	test_expect_code 3 cairn-apply rollback --env prod --config cfg.yaml --last 1 >out 2>err &&
	test_grep "cannot roll back .prod. without --bundle: .*(rollback: {require_bundle: true}, the default where approvals are required); nothing was rolled back" err &&
	test_grep "cairn-apply rollback --env prod --last 1 --bundle BUNDLE" err &&
	state >after &&
	test_cmp before after &&
	grep "^t_0001_a$" after &&
	grep "^t_0002_b$" after &&
	test_expect_code 5 cairn-apply rollback --env prod --config cfg.yaml --last 1 --bundle b.tar.gz >out 2>err &&
	test_grep "migration 0002_b: its stored down script has sha256:$sha, but the signed manifest of bundle .* records sha256:[0-9a-f]*: the script was changed after apply; nothing was rolled back" err &&
	state >after &&
	test_cmp before after
'

test_expect_success 'the untouched books: rollback --bundle under prod'"'"'s policy runs the signed down script' '
	restore &&
	cairn-apply rollback --env prod --config cfg.yaml --last 1 --bundle b.tar.gz >out 2>err &&
	test_grep "rolled back 1 migration" out &&
	test "$(bk "select state from cairn.cairn_migrations where version = '"'"'0002'"'"'")" = rolled_back &&
	test -z "$(bk "select tablename from pg_tables where tablename = '"'"'t_0002_b'"'"'")" &&
	test -n "$(bk "select tablename from pg_tables where tablename = '"'"'t_0001_a'"'"'")"
'

test_expect_success 'newest rows cut while a run waits for the advisory lock: the run refuses (exit 5) and changes nothing' '
	restore &&
	# another session holds the engine'"'"'s lock, fed through a fifo
	# (killed after 120 s should the test stop halfway)
	rm -f ctl && mkfifo ctl &&
	{ timeout 120 "$PSQL" -X -q -v ON_ERROR_STOP=1 -At -d app <ctl >holder.out 2>&1 & } &&
	holder=$! &&
	exec 7>ctl &&
	echo "SELECT pg_advisory_lock($LOCK_KEY);" >&7 &&
	i=0 && until test "$(bk "select count(*) from pg_locks where locktype = '"'"'advisory'"'"' and granted and objid = ($LOCK_KEY::bigint & 4294967295)")" = 1; do
		i=$((i + 1)); test $i -lt 400 || break; sleep 0.05; done &&
	test $i -lt 400 &&
	{ cairn-apply apply b.tar.gz --env prod --db "$DB" $KEY --checkpoint cp.log \
		--checkpoint-key host.key --lock-timeout 60s >out 2>err & } &&
	runner=$! &&
	# the run asked for the lock and was told no: it waits
	i=0 && until test "$(bk "select count(*) from pg_stat_activity where query like '"'"'SELECT pg_catalog.pg_try_advisory_lock(%'"'"'")" -ge 1; do
		i=$((i + 1)); test $i -lt 1200 || break; sleep 0.05; done &&
	test $i -lt 1200 &&
	# the attacker cuts migration 0002 from both tables, leaving a chain
	# that holds together on its own
	cut=$(bk "select min(seq) from cairn.cairn_audit where to_version = '"'"'0002'"'"'") &&
	bk "delete from cairn.cairn_audit where seq >= $cut" &&
	bk "delete from cairn.cairn_migrations where version = '"'"'0002'"'"'" &&
	cairn-apply history --db "$DB" --verify >hist &&
	test_grep "audit chain intact" hist &&
	n=$(bk "select count(*) from cairn.cairn_audit") &&
	state >before &&
	echo "SELECT pg_advisory_unlock($LOCK_KEY);" >&7 &&
	exec 7>&- &&
	wait $holder &&
	test_expect_code 5 wait $runner &&
	test_grep "checkpoint mismatch: the audit chain has $n rows, but the checkpoint of 20.* records [0-9]*: its newest rows were deleted" err &&
	# nothing ran: 0002 was not applied again, no audit row was added,
	# the table stands as it was, no checkpoint of the cut chain was signed
	state >after &&
	test_cmp before after &&
	test -z "$(bk "select version from cairn.cairn_migrations where version = '"'"'0002'"'"'")" &&
	test "$(bk "select count(*) from pg_tables where tablename = '"'"'t_0002_b'"'"'")" = 1 &&
	test_line_count = 1 cp.log
'

test_expect_success 'cleanup: the saved copy' '
	pg_sql -d postgres -c "DROP DATABASE good WITH (FORCE)"
'

test_done
