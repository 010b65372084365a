#!/bin/sh
test_description='postgres: {privileged_role:} defaults to refuse where the policy asks more than a build (approvals, receipts, after, a run signing a receipt), and rollback, repair, baseline and restore check the role as apply does (issue #15, attack15h)'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"
. "$TEST_DIRECTORY/lib-pg.sh"

pg_start
unset CAIRN_ENV CAIRN_DB CAIRN_APPLY_CONFIG CAIRN_CHECKPOINT CAIRN_CHECKPOINT_KEY
CAIRN_PG_DUMP="$PG_BINDIR/pg_dump"
export CAIRN_PG_DUMP
PATH="$PG_BINDIR:$PATH"
SU="postgresql:///su?host=$PGHOST"

# state DB: cairn's books and the tables of database DB, as the catalog has them
state() {
	pg_sql -d "$1" -c "select count(*) from pg_namespace where nspname = 'cairn'" &&
	if test "$(pg_sql -d "$1" -c "select to_regclass('cairn.cairn_migrations') is not null")" = t; then
		pg_sql -d "$1" -c "select version || '|' || state from cairn.cairn_migrations order by version" &&
		pg_sql -d "$1" -c "select count(*) || '|' || max(hash) from cairn.cairn_audit"
	fi &&
	pg_sql -d "$1" -c "select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = 'public' and c.relkind = 'r' order by 1" &&
	pg_sql -d "$1" -c "select string_agg(attname, ',' order by attnum) from pg_attribute where attrelid = to_regclass('public.users') and attnum > 0 and not attisdropped"
}

# prod_config FILE DSN [LINE]: environment prod on DSN, one approval by
# alice, admins admin, LINE added under prod
prod_config() {
	cat >"$1" <<-EOF
	defaults:
	  builders: [ci.pub]
	environments:
	  prod:
	    database: { dsn: "$2" }
	    approvals: 1
	    approvers: [alice.pub]
	    admins: [admin.pub]
	    backup: { dir: saved }
	    $3
	EOF
}

test_expect_success 'setup: two bundles approved for prod, the second dropping a column' '
	apply_project p &&
	sed -i -e "s/^drivers: .*/drivers: [postgres]/" \
		-e "s/^lint: {\(.*\)}$/lint: {\1, contract-only: off}/" p/cairn.yaml &&
	apply_mig p 0001_users "CREATE TABLE users (id int primary key, name text, note text);" \
		"DROP TABLE users;" &&
	apply_build p "$TRASH_DIRECTORY/v1.tar.gz" &&
	apply_mig p 0002_drop_note "ALTER TABLE users DROP COLUMN note;" \
		"ALTER TABLE users ADD COLUMN note text;" &&
	apply_build p "$TRASH_DIRECTORY/v2.tar.gz" &&
	for k in alice admin host; do
		cairn keygen --no-passphrase $k >/dev/null 2>&1 || return 1
	done &&
	cp v1.tar.gz p1.tar.gz && cp v2.tar.gz p2.tar.gz &&
	cairn promote p1.tar.gz --to prod --key alice.key >/dev/null 2>&1 &&
	cairn promote p2.tar.gz --to prod --key alice.key >/dev/null 2>&1
'

# Before attack15h each of these applied with a warning (exit 0).
test_expect_success 'a prod-like environment (approvals: 1), privileged_role unset: the superuser is refused (exit 3), nothing written' '
	pg_fresh_db su &&
	prod_config su.yaml "$SU" &&
	state su >before &&
	test_expect_code 3 cairn-apply apply p1.tar.gz --env prod --config su.yaml >out 2>err &&
	test_grep "refusing to apply on .*: role cairn is a superuser, so its migrations can hide writes to cairn.s books .*privileged_role: warn} for environment .prod. (privileged_role: refuse, the default where approvals are required)" err &&
	test_grep "the database is unchanged" err &&
	state su >after &&
	test_cmp before after &&
	echo 0 >want && head -n 1 after >got && test_cmp want got
'

test_expect_success 'the same environment with an explicit privileged_role: warn: the superuser applies, with a warning' '
	prod_config warn.yaml "$SU" "postgres: { privileged_role: warn }" &&
	cairn-apply apply p1.tar.gz --env prod --config warn.yaml >out 2>err &&
	test_grep "applied 1 migration" out &&
	test_grep "^cairn-apply: warning: role cairn is a superuser" err &&
	pg_sql -d su -c "select version || state from cairn.cairn_migrations" >got &&
	echo 0001applied >want && test_cmp want got
'

test_expect_success 'a plain role owning its database (pg_plain_db) applies there, no warning' '
	pg_plain_db prod &&
	prod_config plain.yaml "postgresql://prod@/prod?host=$PGHOST" &&
	cairn-apply apply p1.tar.gz --env prod --config plain.yaml >out 2>err &&
	test_grep "applied 1 migration" out &&
	! grep warning err &&
	pg_sql -d prod -c "select tableowner from pg_tables where tablename = '"'"'users'"'"'" >got &&
	echo prod >want && test_cmp want got
'

test_expect_success 'receipts_from or an after environment make refuse the default too' '
	pg_fresh_db su2 &&
	pg_plain_db staging &&
	cat >rf.yaml <<-EOF &&
	defaults:
	  builders: [ci.pub]
	environments:
	  staging:
	    database: { dsn: "postgresql://staging@/staging?host=$PGHOST" }
	    approvers: [alice.pub]
	  rf:
	    database: { dsn: "postgresql:///su2?host=$PGHOST" }
	    receipts_from: [host.pub]
	  af:
	    database: { dsn: "postgresql:///su2?host=$PGHOST" }
	    after: staging
	EOF
	cp v1.tar.gz s1.tar.gz &&
	cairn promote s1.tar.gz --to staging --key alice.key >/dev/null 2>&1 &&
	cairn-apply apply s1.tar.gz --env staging --config rf.yaml --receipt-key host.key >out 2>err &&
	test_grep "applied 1 migration" out &&
	state su2 >before &&
	test_expect_code 3 cairn-apply apply s1.tar.gz --env rf --config rf.yaml >out 2>err &&
	test_grep "refusing to apply on .*superuser.*(privileged_role: refuse, the default where receipts are required)" err &&
	state su2 >after && test_cmp before after &&
	test_expect_code 3 cairn-apply apply s1.tar.gz --env af --config rf.yaml >out 2>err &&
	test_grep "refusing to apply on .*superuser.*(privileged_role: refuse, the default where an .after. environment is required)" err &&
	state su2 >after && test_cmp before after
'

test_expect_success 'a build-only environment signing a receipt: refused by default, allowed by an explicit warn' '
	pg_fresh_db su3 &&
	cat >rk.yaml <<-EOF &&
	environments:
	  dev:
	    database: { dsn: "postgresql:///su3?host=$PGHOST" }
	    builders: [ci.pub]
	EOF
	cp v1.tar.gz r1.tar.gz &&
	state su3 >before &&
	test_expect_code 3 cairn-apply apply r1.tar.gz --env dev --config rk.yaml --receipt-key host.key >out 2>err &&
	test_grep "refusing to apply on .*superuser.*(privileged_role: refuse, the default for a run that signs a receipt)" err &&
	state su3 >after && test_cmp before after &&
	echo "    postgres: { privileged_role: warn }" >>rk.yaml &&
	cairn-apply apply r1.tar.gz --env dev --config rk.yaml --receipt-key host.key >out 2>err &&
	test_grep "applied 1 migration" out &&
	test_grep "warning: role cairn is a superuser" err
'

test_expect_success 'setup: prod database bk applied by its plain role, a backup before 0002' '
	pg_plain_db bk &&
	prod_config bk-plain.yaml "postgresql://bk@/bk?host=$PGHOST" &&
	prod_config bk-su.yaml "postgresql:///bk?host=$PGHOST" &&
	cairn-apply apply p2.tar.gz --env prod --config bk-plain.yaml >out 2>err &&
	test_grep "applied 2 migrations" out &&
	ls saved/*.pgdump >dumps && test_line_count = 1 dumps &&
	cp p2.tar.gz r2.tar.gz &&
	cairn override r2.tar.gz --env prod --key admin.key --allow repair --comment "fix" >/dev/null 2>&1
'

# Before attack15h each of these wrote the database as the superuser (exit 0).
for case in \
	"rollback|roll back|rollback --last 1 --bundle p2.tar.gz" \
	"repair|repair|repair --bundle r2.tar.gz 0002 --mark-rolled-back" \
	"restore|restore|restore DUMP"
do
	name=${case%%|*} rest=${case#*|} verb=${rest%%|*} args=${rest#*|}
	test_expect_success "$name as the superuser on prod: refused by default (exit 3), the database unchanged" '
		state bk >before &&
		args=$(echo "$args" | sed -e "s|DUMP|$(cat dumps)|") &&
		test_expect_code 3 cairn-apply $args --env prod --config bk-su.yaml >out 2>err &&
		test_grep "refusing to $verb on .*: role cairn is a superuser.*(privileged_role: refuse, the default where approvals are required)" err &&
		test_grep "nothing was done: the database is unchanged" err &&
		state bk >after &&
		test_cmp before after &&
		grep "^0002|applied$" after
	'
done

test_expect_success 'baseline as the superuser on a new prod database: refused (exit 3), no books made' '
	pg_fresh_db bl &&
	prod_config bl.yaml "postgresql:///bl?host=$PGHOST" &&
	test_expect_code 3 cairn-apply baseline --version 0001 --env prod --config bl.yaml >out 2>err &&
	test_grep "refusing to baseline on .*: role cairn is a superuser" err &&
	state bl >after &&
	echo 0 >want && head -n 1 after >got && test_cmp want got
'

test_expect_success 'the plain role rolls back and restores as before' '
	cairn-apply rollback --last 1 --bundle p2.tar.gz --env prod --config bk-plain.yaml >out 2>err &&
	test_grep "rolled back 1 migration" out &&
	! grep warning err &&
	pg_sql -d bk -c "select version || '"'"'|'"'"'|| state from cairn.cairn_migrations order by version" >got &&
	printf "0001|applied\n0002|rolled_back\n" >want && test_cmp want got
'

test_done
