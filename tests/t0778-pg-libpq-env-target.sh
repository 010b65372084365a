#!/bin/sh
test_description='PGHOST, PGDATABASE and PGUSER fill what a DSN leaves out (issue #15, attack15h): pointed at another environment'"'"'s database they are refused by its identity (exit 3, nothing written), and every audit row and receipt names the server libpq actually reached'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"
. "$TEST_DIRECTORY/lib-pg.sh"

pg_start
unset CAIRN_ENV CAIRN_DB CAIRN_APPLY_CONFIG CAIRN_CHECKPOINT CAIRN_CHECKPOINT_KEY

# state DB: cairn's books and the tables of database DB, as the catalog has them
state() {
	pg_sql -d "$1" -c "select version || '|' || state || '|' || environment from cairn.cairn_migrations order by version" &&
	pg_sql -d "$1" -c "select count(*) || '|' || max(hash) from cairn.cairn_audit" &&
	pg_sql -d "$1" -c "select tablename from pg_tables where schemaname = 'public' order by 1"
}

test_expect_success 'setup: dev database devdb at v1; prod'"'"'s DSN names no host, user or database' '
	pg_project_ab p &&
	cairn keygen --no-passphrase host >/dev/null 2>&1 &&
	pg_plain_db devdb &&
	pg_plain_db proddb &&
	cat >cairn-apply.yaml <<-EOF &&
	defaults:
	  builders: [ci.pub]
	environments:
	  dev:
	    database: { dsn: "postgresql://devdb@/devdb?host=$PGHOST" }
	  prod:
	    database: { dsn: "postgresql://" }
	EOF
	cairn-apply apply v1.tar.gz --env dev >out 2>err &&
	test_grep "applied 1 migration" out
'

test_expect_success 'PGDATABASE and PGUSER pointing prod'"'"'s DSN at the dev database: refused by its identity (exit 3) naming both, nothing written' '
	state devdb >before &&
	PGDATABASE=devdb PGUSER=devdb test_expect_code 3 cairn-apply apply v2.tar.gz --env prod >out 2>err &&
	test_grep "the database belongs to environment .dev. (project .p.), not .prod." err &&
	state devdb >after &&
	test_cmp before after &&
	! grep "^t_0002_b$" after &&
	PGDATABASE=devdb PGUSER=devdb test_expect_code 3 cairn-apply rollback --last 1 --env prod >out 2>err &&
	test_grep "the database belongs to environment .dev. (project .p.), not .prod." err &&
	state devdb >after &&
	test_cmp before after
'

# Before attack15h the rows said nothing of the server (the receipt named it).
test_expect_success 'the same variables pointing at prod'"'"'s own database: applied; every audit row and the receipt name the server, user and database connected' '
	cp v2.tar.gz r2.tar.gz &&
	PGDATABASE=proddb PGUSER=proddb cairn-apply apply r2.tar.gz --env prod --receipt-key host.key >out 2>err &&
	test_grep "applied 2 migrations" out &&
	where="postgres proddb@$PGHOST:5432/proddb" &&
	pg_sql -d proddb -c "select action || '"'"'|'"'"'|| (position('"'"'connected=$where'"'"' in detail) > 0) from cairn.cairn_audit where action <> '"'"'identity'"'"' order by seq" >got &&
	printf "apply|true\napply|true\n" >want &&
	test_cmp want got &&
	tar xzf r2.tar.gz --wildcards "*/approvals/prod-receipt-*.yaml" -O >receipt.yaml &&
	test_grep "$where" receipt.yaml
'

test_expect_success 'rollback records the server connected too' '
	PGDATABASE=proddb PGUSER=proddb cairn-apply rollback --last 1 --env prod >out 2>err &&
	test_grep "rolled back 1 migration" out &&
	pg_sql -d proddb -c "select position('"'"'connected=postgres proddb@$PGHOST:5432/proddb'"'"' in detail) > 0 from cairn.cairn_audit where action = '"'"'rollback'"'"'" >got &&
	echo t >want && test_cmp want got
'

# connected DB: each audit row of database DB as ACTION|whether its detail
# names the server, user and database connected as role DB
connected() {
	pg_sql -d "$1" -c "select action || '|' || (position('connected=postgres ${2:-$1}@$PGHOST:5432/$1' in detail) > 0) from cairn.cairn_audit order by seq"
}

# Before attack15i these rows said nothing of the server: a hook's, and a
# repair's without a policy (the identity and migration rows did).
test_expect_success 'a hook row and a repair without a policy record the server connected too' '
	pg_plain_db hk &&
	cat >hk.yaml <<-EOF &&
	environments:
	  dev:
	    database: { dsn: "postgresql://hk@/hk?host=$PGHOST" }
	    builders: [ci.pub]
	    hooks: { after: "true" }
	EOF
	cairn-apply apply v1.tar.gz --env dev --config hk.yaml >out 2>err &&
	connected hk >got &&
	printf "identity|true\napply|true\nhook|true\n" >want &&
	test_cmp want got &&
	apply_mig p 0003_fails "SELECT 1/0;" "SELECT 1;" "transaction: false" &&
	apply_build p "$TRASH_DIRECTORY/v3.tar.gz" &&
	pg_plain_db nopol &&
	mkdir -p nocfg && (
		cd nocfg &&
		test_expect_code 5 cairn-apply apply ../v3.tar.gz --env dev \
			--db "postgresql://nopol@/nopol?host=$PGHOST" --key ../ci.pub >out 2>err &&
		cairn-apply repair --db "postgresql://nopol@/nopol?host=$PGHOST" 0003 \
			--mark-rolled-back >out 2>err &&
		test_grep "repaired 0003: marked rolled back" out
	) &&
	connected nopol >got &&
	grep "^identity|true$" got &&
	grep "^repair|true$" got &&
	! grep "|false$" got
'

test_expect_success 'the on_error hook'"'"'s row of a run refused for its role names the server too' '
	pg_fresh_db rf &&
	cat >rf.yaml <<-EOF &&
	environments:
	  dev:
	    database: { dsn: "postgresql:///rf?host=$PGHOST" }
	    builders: [ci.pub]
	    postgres: { privileged_role: warn }
	EOF
	sed -e "s/warn }/refuse }\n    hooks: { on_error: \"true\" }/" rf.yaml >ref.yaml &&
	cairn-apply apply v1.tar.gz --env dev --config rf.yaml >out 2>err &&
	test_expect_code 3 cairn-apply apply v2.tar.gz --env dev --config ref.yaml >out 2>err &&
	test_grep "refusing to apply on .*superuser" err &&
	connected rf cairn >got &&
	grep "^hook|true$" got &&
	! grep "|false$" got
'

test_expect_success 'adopt: the identity row and the adopted rows record the server connected' '
	pg_fresh_db ad &&
	pg_sql -d ad -c "CREATE TABLE schema_migrations (version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL); INSERT INTO schema_migrations VALUES (1, false)" &&
	cairn-apply adopt --from golang-migrate --env dev --db "host=$PGHOST dbname=ad" v1.tar.gz \
		--key ci.pub >out 2>err &&
	connected ad cairn >got &&
	printf "identity|true\nadopt|true\n" >want &&
	test_cmp want got
'

test_expect_success 'adopt checks the role as apply does: refused (exit 3) where the config says refuse, nothing of cairn made; --dry-run still reads' '
	pg_fresh_db ad2 &&
	pg_sql -d ad2 -c "CREATE TABLE schema_migrations (version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL); INSERT INTO schema_migrations VALUES (1, false)" &&
	cat >adr.yaml <<-EOF &&
	environments:
	  dev:
	    database: { dsn: "postgresql:///ad2?host=$PGHOST" }
	    builders: [ci.pub]
	    postgres: { privileged_role: refuse }
	EOF
	cairn-apply adopt --from golang-migrate --env dev --config adr.yaml v1.tar.gz --dry-run >out 2>err &&
	test_grep "would be adopted" out &&
	test_expect_code 3 cairn-apply adopt --from golang-migrate --env dev --config adr.yaml v1.tar.gz >out 2>err &&
	test_grep "refusing to adopt on .*superuser.*(privileged_role: refuse, adr.yaml:5)" err &&
	test_grep "nothing was done: the database is unchanged" err &&
	test "$(pg_sql -d ad2 -c "select count(*) from pg_namespace where nspname = '"'"'cairn'"'"'")" = 0 &&
	test "$(pg_sql -d ad2 -c "select count(*) from schema_migrations")" = 1
'

test_done
