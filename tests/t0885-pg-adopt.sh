#!/bin/sh
test_description='cairn-apply adopt on PostgreSQL: the real sqitch and dbmate, Flyway and golang-migrate tables as documented'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"
. "$TEST_DIRECTORY/lib-pg.sh"

pg_start

SQITCH_FULLNAME="Ann Example"
SQITCH_EMAIL="ann@example.com"
export SQITCH_FULLNAME SQITCH_EMAIL

# books DB: cairn's rows, "version:state" in version order.
books() {
	pg_sql -d "$1" -c "select string_agg(version || ':' || state, ' ' order by version) from cairn.cairn_migrations"
}

# no_cairn DB: adopt left no schema of cairn's behind.
no_cairn() {
	test "$(pg_sql -d "$1" -c "select count(*) from pg_namespace where nspname = 'cairn'")" = 0
}

# app_schema DB: the application's schema (public), for comparing (pg_dump's
# \restrict keys differ from one run to the next).
app_schema() {
	"$PG_BINDIR/pg_dump" -s -n public --no-owner "$1" |
	grep -Ev '^(--|$|\\(un)?restrict )' | grep -v "schema_migrations"
}

# write FILE: stdin becomes the whole file (sqitch's templates would wrap it
# in BEGIN/COMMIT, which cairn import strips only when asked, and then the
# script is no longer the one sqitch hashed).
write() {
	cat >"$1"
}

# The real sqitch (Debian's sqitch with libdbd-pg-perl; make deps installs
# both; never skipped under CI=true).
if (command -v sqitch >/dev/null 2>&1 && perl -MDBD::Pg -e 1 2>/dev/null) || test "$CI" = true; then

test_expect_success 'setup: a sqitch project; the real sqitch deploys two of its three changes' '
	pg_project p &&
	mkdir p/db && (
		cd p/db &&
		sqitch init shop --engine pg >/dev/null &&
		sqitch add users -n "Add users" >/dev/null &&
		echo "CREATE TABLE users (id integer PRIMARY KEY, email text NOT NULL);" | write deploy/users.sql &&
		echo "DROP TABLE users;" | write revert/users.sql &&
		echo "SELECT id FROM users WHERE false;" | write verify/users.sql &&
		sqitch add orders --requires users -n "Add orders" >/dev/null &&
		echo "CREATE TABLE orders (id integer PRIMARY KEY, user_id integer REFERENCES users(id));" | write deploy/orders.sql &&
		echo "DROP TABLE orders;" | write revert/orders.sql &&
		echo "SELECT id FROM orders WHERE false;" | write verify/orders.sql &&
		sqitch add order_index --requires orders -n "Index orders" >/dev/null &&
		echo "CREATE INDEX orders_user ON orders (user_id);" | write deploy/order_index.sql &&
		echo "DROP INDEX orders_user;" | write revert/order_index.sql &&
		echo "SELECT 1;" | write verify/order_index.sql
	) &&
	pg_fresh_db app &&
	(cd p/db && sqitch --quiet deploy --client "$PSQL" --to orders db:pg:app) &&
	test "$(pg_sql -d app -c "select string_agg(change, '"'"' '"'"' order by committed_at) from sqitch.changes")" = "users orders" &&
	(cd p && cairn import --from sqitch db >../import.out 2>&1) &&
	apply_build p "$TRASH_DIRECTORY/sqitch.tar.gz" &&
	pg_sql -d app -c "select change_id, change, script_hash from sqitch.changes order by 1" >changes.before
'

test_expect_success 'sqitch: --dry-run writes nothing' '
	cairn-apply adopt --from sqitch --db "host=$PGHOST dbname=app" sqitch.tar.gz $KEY --dry-run >out 2>err &&
	test_grep "^  adopt  0001_users  <- sqitch.changes change_id=[0-9a-f]* change=users script_hash=$(sha1sum p/db/deploy/users.sql | cut -d" " -f1)$" out &&
	test_grep "^2 would be adopted as applied (their SQL not run), 1 left to apply$" out &&
	no_cairn app
'

test_expect_success 'sqitch: adopted by position, name and script hash; sqitch.changes untouched' '
	cairn-apply adopt --from sqitch --db "host=$PGHOST dbname=app" sqitch.tar.gz $KEY --env prod >out 2>err &&
	test "$(books app)" = "0001:applied 0002:applied" &&
	test "$(pg_sql -d app -c "select string_agg(action || '"'"' '"'"' || version, '"'"','"'"' order by seq) from cairn.cairn_audit")" = "identity ,adopt 0001,adopt 0002" &&
	pg_sql -d app -c "select detail from cairn.cairn_audit where version = '"'"'0002'"'"'" >detail &&
	test_grep "^adopted from sqitch: sqitch.changes change_id=[0-9a-f]* change=orders script_hash=" detail &&
	pg_sql -d app -c "select change_id, change, script_hash from sqitch.changes order by 1" >changes.after &&
	test_cmp changes.before changes.after &&
	cairn-apply history --db "host=$PGHOST dbname=app" --verify >hist 2>&1
'

test_expect_success 'sqitch: plan shows the one pending; apply, roll back all, apply again' '
	cairn-apply plan sqitch.tar.gz --env prod --db "host=$PGHOST dbname=app" $KEY >plan &&
	test_grep "^1 to apply, 2 skipped$" plan &&
	cairn-apply apply sqitch.tar.gz --env prod --db "host=$PGHOST dbname=app" $KEY >out 2>&1 &&
	test "$(books app)" = "0001:applied 0002:applied 0003:applied" &&
	cairn-apply rollback --db "host=$PGHOST dbname=app" --last 3 >out 2>&1 &&
	test "$(pg_sql -d app -c "select count(*) from pg_tables where schemaname = '"'"'public'"'"'")" = 0 &&
	cairn-apply apply sqitch.tar.gz --env prod --db "host=$PGHOST dbname=app" $KEY >out 2>&1 &&
	test "$(books app)" = "0001:applied 0002:applied 0003:applied"
'

test_expect_success 'sqitch: the schema is what the real sqitch gives with every change' '
	pg_fresh_db bysqitch &&
	(cd p/db && sqitch --quiet deploy --client "$PSQL" db:pg:bysqitch) &&
	app_schema bysqitch >expect &&
	app_schema app >actual &&
	test_cmp expect actual &&
	test_grep "CREATE INDEX orders_user" actual
'

test_expect_success 'sqitch --registry ops_reg on PostgreSQL: adopt --registry ops_reg reads that schema' '
	pg_fresh_db sqreg &&
	(cd p/db && sqitch --quiet deploy --client "$PSQL" --registry ops_reg --to orders db:pg:sqreg) &&
	test "$(pg_sql -d sqreg -c "select count(*) from ops_reg.changes")" = 2 &&
	test "$(pg_sql -d sqreg -c "select count(*) from pg_namespace where nspname = '"'"'sqitch'"'"'")" = 0 &&
	test_must_fail --exit=5 cairn-apply adopt --from sqitch --db "host=$PGHOST dbname=sqreg" sqitch.tar.gz $KEY --dry-run >out 2>err &&
	test_grep "table sqitch.changes not found" err &&
	cairn-apply adopt --from sqitch --registry ops_reg --db "host=$PGHOST dbname=sqreg" sqitch.tar.gz $KEY >out 2>err &&
	test_grep "^  adopt  0001_users  <- ops_reg.changes change_id=" out &&
	test "$(books sqreg)" = "0001:applied 0002:applied"
'

test_expect_success 'sqitch: a deploy script changed after sqitch ran it is refused' '
	pg_fresh_db edited &&
	(cd p/db && sqitch --quiet deploy --client "$PSQL" --to users db:pg:edited) &&
	pg_sql -d edited -c "update sqitch.changes set script_hash = repeat('"'"'0'"'"', 40)" &&
	test_must_fail --exit=5 cairn-apply adopt --from sqitch --db "host=$PGHOST dbname=edited" sqitch.tar.gz $KEY >out 2>err &&
	test_grep "DIFF   sqitch.changes change_id=.* change=users script_hash=0000000000000000000000000000000000000000: version 0001: the checksum differs: sqitch.s table has 0000000000000000000000000000000000000000, the bundle.s migrations/0001_users/up.sql gives [0-9a-f]\{40\}; " out &&
	no_cairn edited
'

else
	say "# skipped: the real sqitch with DBD::Pg is not installed (make deps)"
fi

# The real dbmate against PostgreSQL (npm's dbmate).
if command -v dbmate >/dev/null 2>&1 || test "$CI" = true; then

test_expect_success 'dbmate on PostgreSQL: the real dbmate at version 1 of 2, adopted, then applied' '
	pg_project d &&
	mkdir -p d/db/migrations mid &&
	printf -- "-- migrate:up\nCREATE TABLE accounts (id serial PRIMARY KEY);\n\n-- migrate:down\nDROP TABLE accounts;\n" >d/db/migrations/20240101000000_accounts.sql &&
	printf -- "-- migrate:up transaction:false\nCREATE INDEX CONCURRENTLY accounts_id ON accounts (id);\n\n-- migrate:down\nDROP INDEX accounts_id;\n" >d/db/migrations/20240102000000_accounts_index.sql &&
	cp d/db/migrations/20240101000000_accounts.sql mid/ &&
	pg_fresh_db dm &&
	DATABASE_URL="postgres://$PGUSER@/dm?socket=$PGHOST&sslmode=disable" dbmate --no-dump-schema --migrations-dir mid up >dbmate.out 2>&1 &&
	(cd d && cairn import --from dbmate >../import.out 2>&1) &&
	apply_build d "$TRASH_DIRECTORY/dbmate.tar.gz" &&
	cairn-apply adopt --from dbmate --db "host=$PGHOST dbname=dm" dbmate.tar.gz $KEY >out 2>err &&
	test_grep "^1 adopted as applied (their SQL not run), 1 left to apply$" out &&
	test "$(books dm)" = "20240101000000:applied" &&
	cairn-apply apply dbmate.tar.gz --env dev --db "host=$PGHOST dbname=dm" $KEY >out 2>&1 &&
	test "$(books dm)" = "20240101000000:applied 20240102000000:applied" &&
	test "$(pg_sql -d dm -c "select string_agg(version, '"'"' '"'"' order by version) from schema_migrations")" = 20240101000000
'


test_expect_success 'dbmate on PostgreSQL: --migrations-table ops.versions, adopted with --registry ops.versions' '
	pg_fresh_db dr &&
	DATABASE_URL="postgres://$PGUSER@/dr?socket=$PGHOST&sslmode=disable" dbmate --no-dump-schema --migrations-table ops.versions --migrations-dir mid up >dbmate.out 2>&1 &&
	test "$(pg_sql -d dr -c "select string_agg(version, '"'"' '"'"') from ops.versions")" = 20240101000000 &&
	test_must_fail --exit=5 cairn-apply adopt --from dbmate --db "host=$PGHOST dbname=dr" dbmate.tar.gz $KEY >out 2>err &&
	test_grep "table schema_migrations not found" err &&
	test_must_fail --exit=5 cairn-apply adopt --from dbmate --registry versions --db "host=$PGHOST dbname=dr" dbmate.tar.gz $KEY >out 2>err &&
	test_grep "table versions not found (the name --registry gave)" err &&
	no_cairn dr &&
	cairn-apply adopt --from dbmate --registry ops.versions --db "host=$PGHOST dbname=dr" dbmate.tar.gz $KEY >out 2>err &&
	test_grep "^adopt: dbmate.s ops.versions on " out &&
	test "$(books dr)" = "20240101000000:applied" &&
	test "$(pg_sql -d dr -c "select count(*) from cairn.cairn_audit where action = '"'"'adopt'"'"' and detail like '"'"'adopted from dbmate: ops.versions version=20240101000000;%'"'"'")" = 1
'
else
	say "# skipped: the real dbmate is not installed (npm install -g dbmate)"
fi

test_expect_success 'Flyway and golang-migrate on PostgreSQL: a failed row, a dirty one, a missing table' '
	pg_project g &&
	apply_table g 0001_a &&
	apply_table g 0002_b &&
	apply_build g "$TRASH_DIRECTORY/g.tar.gz" &&
	pg_fresh_db fw &&
	pg_sql -d fw -c "CREATE TABLE flyway_schema_history (installed_rank INT NOT NULL PRIMARY KEY, version VARCHAR(50), description VARCHAR(200) NOT NULL, type VARCHAR(20) NOT NULL, script VARCHAR(1000) NOT NULL, checksum INT, installed_by VARCHAR(100) NOT NULL, installed_on TIMESTAMP NOT NULL DEFAULT now(), execution_time INT NOT NULL, success BOOLEAN NOT NULL)" &&
	pg_sql -d fw -c "INSERT INTO flyway_schema_history VALUES (1, '"'"'0001'"'"', '"'"'a'"'"', '"'"'SQL'"'"', '"'"'V0001__a.sql'"'"', NULL, '"'"'ops'"'"', now(), 1, false)" &&
	test_must_fail --exit=5 cairn-apply adopt --from flyway --db "host=$PGHOST dbname=fw" g.tar.gz $KEY >out 2>err &&
	test_grep "DIFF   flyway_schema_history installed_rank=1: V0001__a.sql failed (success = false)" out &&
	no_cairn fw &&
	pg_fresh_db gm &&
	pg_sql -d gm -c "CREATE TABLE schema_migrations (version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL); INSERT INTO schema_migrations VALUES (2, true)" &&
	test_must_fail --exit=5 cairn-apply adopt --from golang-migrate --db "host=$PGHOST dbname=gm" g.tar.gz $KEY >out 2>err &&
	test_grep "DIFF   schema_migrations version=2 dirty=true" out &&
	no_cairn gm &&
	pg_sql -d gm -c "UPDATE schema_migrations SET dirty = false" &&
	cairn-apply adopt --from golang-migrate --db "host=$PGHOST dbname=gm" g.tar.gz $KEY >out 2>err &&
	test "$(books gm)" = "0001:applied 0002:applied" &&
	test_must_fail --exit=5 cairn-apply adopt --from goose --db "host=$PGHOST dbname=fw" g.tar.gz $KEY >out 2>err &&
	test_grep "no goose history on .*: table goose_db_version not found" err &&
	no_cairn fw
'

test_expect_success '--registry on PostgreSQL: SCHEMA.TABLE quoted; names built to inject SQL are only names' '
	pg_fresh_db rg &&
	pg_sql -d rg -c "CREATE TABLE keep (id int); CREATE SCHEMA \"we\"\"ird\"; CREATE TABLE \"we\"\"ird\".\"gm'"'"'\\\\hist\" (version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL); INSERT INTO \"we\"\"ird\".\"gm'"'"'\\\\hist\" VALUES (2, false)" &&
	cairn-apply adopt --from golang-migrate --registry "we\"ird.gm'"'"'\\\\hist" --db "host=$PGHOST dbname=rg" g.tar.gz $KEY --dry-run >out 2>err &&
	test_grep "^2 would be adopted as applied" out &&
	for evil in "keep; DROP TABLE keep" "x\"; DROP TABLE keep; --" "x'"'"'); DROP TABLE keep; --" "x\\\\'"'"'); DROP TABLE keep; --"; do
		test_must_fail --exit=5 cairn-apply adopt --from golang-migrate --registry "$evil" --db "host=$PGHOST dbname=rg" g.tar.gz $KEY >out 2>err &&
		test_grep "not found (the name --registry gave)" err || return 1
	done &&
	test_must_fail --exit=2 cairn-apply adopt --from golang-migrate --registry "a.b.c" --db "host=$PGHOST dbname=rg" g.tar.gz $KEY >out 2>err &&
	test_grep "name a table as TABLE or SCHEMA.TABLE" err &&
	test "$(pg_sql -d rg -c "select to_regclass('"'"'public.keep'"'"') is not null")" = t &&
	no_cairn rg
'

test_done
