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

test_done
