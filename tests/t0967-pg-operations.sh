#!/bin/sh
test_description='declarative column changes on PostgreSQL (issue #22): operation: in migration.yaml expands at build time into the safe sequence; old and new releases see the same data while both run; the contract steps wait for the contract statement; each phase rolls back'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"
. "$TEST_DIRECTORY/lib-pg.sh"

pg_start_app
# prod asks for approvals: its role is a plain one (pg_plain_db),
# privileged_role: refuse being its default (attack15h)
DB="postgresql://app@/app?host=$PGHOST"
Q="'"

# sql QUERY: one query on the app database, rows as a|b lines
sql() {
	pg_sql -d app -c "$1"
}

# op NAME YAML: a migration whose SQL cairn build generates
op() {
	mkdir -p "p/migrations/$1" &&
	printf '%s\n' "$2" >"p/migrations/$1/migration.yaml"
}

# in_q COMMAND...: runs it in q/, where no cairn-apply.yaml names an environment
in_q() {
	(cd q && "$@")
}

# columns TABLE: its columns and types, in order
columns() {
	sql "select column_name || ' ' || data_type || ' ' || is_nullable from information_schema.columns where table_name = '$1' order by ordinal_position"
}

RENAME='rename_column: {table: users, column: name, to: full_name, type: text}'
RETYPE='change_type: {table: orders, column: price, to: price_cents, type: bigint, from_type: integer, using: "price * 100", down_using: "price_cents / 100"}'

test_expect_success 'setup: a release with the expand steps and their backfills, then the contract steps' '
	pg_plain_db app &&
	phase_setup "$DB" &&
	pg_project p &&
	apply_mig p 0001_t "CREATE TABLE users (id bigint PRIMARY KEY, name text);
CREATE TABLE orders (id bigint PRIMARY KEY, user_id bigint, price integer, code text);
INSERT INTO users SELECT i, '"'"'user '"'"' || i FROM generate_series(1, 5) i;
INSERT INTO orders SELECT i, i, i * 3, '"'"'c'"'"' || i FROM generate_series(1, 5) i;" "DROP TABLE orders; DROP TABLE users;" &&
	op 0002_full_name "operation:
  $RENAME" &&
	op 0003_price_cents "operation:
  $RETYPE" &&
	op 0004_fill_full_name "kind: batch
batch: {size: 2}
operation:
  $RENAME" &&
	op 0005_fill_price_cents "kind: batch
operation:
  $RETYPE" &&
	op 0006_drop_name "phase: contract
destructive: true
operation:
  $RENAME" &&
	op 0007_drop_price "phase: contract
destructive: true
operation:
  $RETYPE" &&
	op 0008_full_name_not_null "phase: contract
operation:
  set_not_null: {table: users, column: full_name}" &&
	op 0009_price_positive "phase: contract
operation:
  add_check: {table: orders, name: orders_price_cents_positive, check: price_cents >= 0}" &&
	op 0010_orders_user "phase: contract
operation:
  add_foreign_key: {table: orders, columns: [user_id], references: {table: users, columns: [id]}, on_delete: cascade}" &&
	op 0011_orders_code "phase: contract
operation:
  add_unique: {table: orders, columns: [code]}" &&
	test_commit p one &&
	(cd p && cairn check >../check.out 2>&1) &&
	test_grep "11 migrations checked, 0 warnings" check.out &&
	(cd p && cairn build --sign ../keys/ci.key -o ../b.tar.gz >/dev/null 2>&1) &&
	cairn promote b.tar.gz --to prod --key keys/alice.key >/dev/null 2>&1
'

test_expect_success 'the generated SQL is in the signed bundle, and plan shows it' '
	cairn inspect b.tar.gz >out &&
	test_grep "0002_full_name" out &&
	test_grep "files: down.postgres.sql migration.yaml up.postgres.sql" out &&
	cairn verify b.tar.gz --key keys/ci.pub >/dev/null &&
	cairn-apply plan b.tar.gz --env prod >plan 2>&1 &&
	test_grep "ALTER TABLE \"users\" ADD COLUMN \"full_name\" text;" plan &&
	test_grep "CREATE TRIGGER \"cairn_sync_users_name_full_name\" BEFORE INSERT OR UPDATE ON \"users\"" plan &&
	test_grep "UPDATE \"orders\" SET \"price_cents\" = (price \* 100)" plan &&
	test_grep "wait   0006_drop_name: phase: contract" plan
'

test_expect_success 'apply: the expand steps and backfills run, the contract steps wait (exit 7)' '
	test_expect_code 7 cairn-apply apply b.tar.gz --env prod >out 2>err &&
	test_grep "applied 5 migrations; .* is at version 0005; 6 wait for a contract statement" out &&
	sql "select version, state from cairn.cairn_migrations order by 1" >rows &&
	printf "0001|applied\n0002|applied\n0003|applied\n0004|applied\n0005|applied\n" >want &&
	test_cmp want rows &&
	columns users >cols &&
	printf "id bigint NO\nname text YES\nfull_name text YES\n" >want && test_cmp want cols &&
	columns orders >cols &&
	printf "id bigint NO\nuser_id bigint YES\nprice integer YES\ncode text YES\nprice_cents bigint YES\n" >want &&
	test_cmp want cols &&
	# 5 rows in batches of 2 (size: 2), in one for orders (1000 unless said)
	sql "select version, batches, rows_changed from cairn.cairn_migrations where kind = '"$Q"'batch'"$Q"' order by 1" >b &&
	printf "0004|3|5\n0005|1|5\n" >want && test_cmp want b &&
	sql "select count(*) from users where full_name is distinct from name" >n &&
	echo 0 >want && test_cmp want n &&
	sql "select string_agg(price || '"$Q"'='"$Q"' || price_cents, '"$Q"' '"$Q"' order by id) from orders" >v &&
	echo "3=300 6=600 9=900 12=1200 15=1500" >want && test_cmp want v &&
	sql "select tgname from pg_trigger where not tgisinternal order by 1" >trg &&
	printf "cairn_sync_orders_price_price_cents\ncairn_sync_users_name_full_name\n" >want &&
	test_cmp want trg
'

test_expect_success 'the old release writes the old column, the new release reads the new one, and the reverse' '
	sql "insert into users (id, name) values (10, '"$Q"'old app'"$Q"')" &&
	sql "insert into users (id, full_name) values (11, '"$Q"'new app'"$Q"')" &&
	sql "select id, name, full_name from users where id >= 10 order by id" >v &&
	printf "10|old app|old app\n11|new app|new app\n" >want && test_cmp want v &&
	sql "update users set name = '"$Q"'old edit'"$Q"' where id = 11" &&
	sql "update users set full_name = '"$Q"'new edit'"$Q"' where id = 10" &&
	sql "select id, name, full_name from users where id >= 10 order by id" >v &&
	printf "10|new edit|new edit\n11|old edit|old edit\n" >want && test_cmp want v &&
	sql "insert into orders (id, user_id, price, code) values (20, 10, 7, '"$Q"'c20'"$Q"')" &&
	sql "insert into orders (id, user_id, price_cents, code) values (21, 11, 250, '"$Q"'c21'"$Q"')" &&
	sql "update orders set price = 8 where id = 1" &&
	sql "select id, price, price_cents from orders where id in (1, 20, 21) order by id" >v &&
	printf "1|8|800\n20|7|700\n21|2|250\n" >want && test_cmp want v
'

test_expect_success 'after the contract statement: old columns and triggers gone, constraints in place' '
	cairn promote b.tar.gz --to prod --contract --key keys/alice.key >/dev/null 2>&1 &&
	cairn-apply apply b.tar.gz --env prod >out 2>err &&
	test_grep "applied 6 migrations; .* is at version 0011" out &&
	columns users >cols &&
	printf "id bigint NO\nfull_name text NO\n" >want && test_cmp want cols &&
	columns orders >cols &&
	printf "id bigint NO\nuser_id bigint YES\ncode text YES\nprice_cents bigint YES\n" >want &&
	test_cmp want cols &&
	sql "select id, full_name from users where id >= 10 order by id" >v &&
	printf "10|new edit\n11|old edit\n" >want && test_cmp want v &&
	sql "select count(*) from pg_trigger where not tgisinternal" >n &&
	echo 0 >want && test_cmp want n &&
	sql "select count(*) from pg_proc where proname like '"$Q"'cairn_sync_%'"$Q"'" >n &&
	echo 0 >want && test_cmp want n &&
	sql "select conname, contype, convalidated, pg_get_constraintdef(oid) from pg_constraint where conrelid in ('"$Q"'users'"$Q"'::regclass, '"$Q"'orders'"$Q"'::regclass) and contype <> '"$Q"'p'"$Q"' order by 1" >cons &&
	cat >want <<-\EOF &&
	orders_code_key|u|t|UNIQUE (code)
	orders_price_cents_positive|c|t|CHECK ((price_cents >= 0))
	orders_user_id_fkey|f|t|FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE
	EOF
	test_cmp want cons &&
	sql "select indexrelid::regclass, indisunique, indisvalid from pg_index where indrelid = '"$Q"'orders'"$Q"'::regclass and not indisprimary" >idx &&
	echo "orders_code_key|t|t" >want && test_cmp want idx &&
	test_must_fail sql "insert into users (id) values (12)" 2>e &&
	test_grep "null value in column \"full_name\"" e &&
	test_must_fail sql "insert into orders (id, user_id, price_cents, code) values (30, 99, 1, '"$Q"'c30'"$Q"')" 2>e &&
	test_grep "orders_user_id_fkey" e
'

test_expect_success 'the contract steps roll back: the old columns come back filled, the triggers with them' '
	cairn-apply rollback --env prod --bundle b.tar.gz --last 6 >out 2>err &&
	sql "select version from cairn.cairn_migrations where state = '"$Q"'applied'"$Q"' order by 1 desc limit 1" >v &&
	echo 0005 >want && test_cmp want v &&
	columns users >cols &&
	printf "id bigint NO\nfull_name text YES\nname text YES\n" >want && test_cmp want cols &&
	sql "select count(*) from users where name is distinct from full_name" >n &&
	echo 0 >want && test_cmp want n &&
	sql "select price, price_cents from orders where id = 21" >v &&
	echo "2|250" >want && test_cmp want v &&
	sql "select count(*) from pg_constraint where conrelid = '"$Q"'orders'"$Q"'::regclass and contype <> '"$Q"'p'"$Q"'" >n &&
	echo 0 >want && test_cmp want n &&
	sql "insert into users (id, name) values (12, '"$Q"'old again'"$Q"')" &&
	sql "select full_name from users where id = 12" >v &&
	echo "old again" >want && test_cmp want v
'

test_expect_success 'the expand steps roll back: the new columns, triggers and functions are gone' '
	cairn-apply rollback --env prod --bundle b.tar.gz --last 4 >out 2>err &&
	test_grep "rolled back 4 migrations; .* is at version 0001" out &&
	columns users >cols &&
	printf "id bigint NO\nname text YES\n" >want && test_cmp want cols &&
	# the contract step'"'"'s rollback added price again: it comes last now
	columns orders >cols &&
	printf "id bigint NO\nuser_id bigint YES\ncode text YES\nprice integer YES\n" >want &&
	test_cmp want cols &&
	sql "select count(*) from pg_trigger where not tgisinternal" >n &&
	echo 0 >want && test_cmp want n &&
	sql "select count(*) from pg_proc where proname like '"$Q"'cairn_sync_%'"$Q"'" >n &&
	echo 0 >want && test_cmp want n &&
	cairn-apply history --db "$DB" --verify >h &&
	test_grep "audit chain intact" h
'

test_expect_success 'rows that break a new rule: VALIDATE fails, the migration is failed, and after the rows are fixed it runs again' '
	pg_fresh_db app2 &&
	pg_project q &&
	apply_mig q 0001_t "CREATE TABLE items (id bigint PRIMARY KEY, qty integer, sku text);
INSERT INTO items VALUES (1, 5, '"$Q"'a'"$Q"'), (2, -1, '"$Q"'b'"$Q"'), (3, 2, '"$Q"'b'"$Q"');" "DROP TABLE items;" &&
	mkdir -p q/migrations/0002_qty q/migrations/0003_sku &&
	printf "phase: contract\noperation:\n  add_check: {table: items, name: items_qty, check: qty >= 0}\n" >q/migrations/0002_qty/migration.yaml &&
	printf "phase: contract\noperation:\n  add_unique: {table: items, columns: [sku]}\n" >q/migrations/0003_sku/migration.yaml &&
	test_commit q one &&
	(cd q && cairn build --sign ../keys/ci.key -o ../q.tar.gz >/dev/null 2>&1) &&
	DB2="postgresql:///app2?host=$PGHOST" &&
	test_must_fail in_q cairn-apply apply ../q.tar.gz --env dev --key ../keys/ci.pub --db "$DB2" >out 2>err &&
	test_grep "check constraint \"items_qty\" .* is violated by some row" err &&
	pg_sql -d app2 -c "select version, state from cairn.cairn_migrations order by 1" >rows &&
	printf "0001|applied\n0002|failed\n" >want && test_cmp want rows &&
	pg_sql -d app2 -c "select convalidated from pg_constraint where conname = '"$Q"'items_qty'"$Q"'" >v &&
	echo f >want && test_cmp want v &&
	pg_sql -d app2 -c "update items set qty = 0 where qty < 0" &&
	in_q cairn-apply repair --db "$DB2" 0002 --mark-rolled-back >rep.out 2>&1 &&
	test_must_fail in_q cairn-apply apply ../q.tar.gz --env dev --key ../keys/ci.pub --db "$DB2" >out 2>err &&
	test_grep "could not create unique index \"items_sku_key\"" err &&
	pg_sql -d app2 -c "select indisvalid from pg_index where indexrelid = '"$Q"'items_sku_key'"$Q"'::regclass" >v &&
	echo f >want && test_cmp want v &&
	pg_sql -d app2 -c "update items set sku = '"$Q"'c'"$Q"' where id = 3" &&
	in_q cairn-apply repair --db "$DB2" 0003 --mark-rolled-back >rep.out 2>&1 &&
	in_q cairn-apply apply ../q.tar.gz --env dev --key ../keys/ci.pub --db "$DB2" >out 2>err &&
	pg_sql -d app2 -c "select version, state from cairn.cairn_migrations order by 1" >rows &&
	printf "0001|applied\n0002|applied\n0003|applied\n" >want && test_cmp want rows &&
	pg_sql -d app2 -c "select conname, convalidated from pg_constraint where conrelid = '"$Q"'items'"$Q"'::regclass and contype <> '"$Q"'p'"$Q"' order by 1" >v &&
	printf "items_qty|t\nitems_sku_key|t\n" >want && test_cmp want v &&
	pg_sql -d app2 -c "select count(*) from pg_index where indrelid = '"$Q"'items'"$Q"'::regclass and not indisvalid" >n &&
	echo 0 >want && test_cmp want n
'

test_expect_success 'a table in a schema of its own: the trigger and function live there, and sync both ways' '
	pg_fresh_db app3 &&
	pg_project r &&
	apply_mig r 0001_t "CREATE SCHEMA billing;
CREATE TABLE billing.accounts (id bigint PRIMARY KEY, \"user\" text);
INSERT INTO billing.accounts VALUES (1, '"$Q"'x'"$Q"');" "DROP SCHEMA billing CASCADE;" &&
	mkdir -p r/migrations/0002_owner r/migrations/0003_fill &&
	printf "operation:\n  rename_column: {table: billing.accounts, column: user, to: owner, type: text}\n" >r/migrations/0002_owner/migration.yaml &&
	printf "kind: batch\noperation:\n  rename_column: {table: billing.accounts, column: user, to: owner, type: text}\n" >r/migrations/0003_fill/migration.yaml &&
	test_commit r one &&
	(cd r && cairn build --sign ../keys/ci.key -o ../r.tar.gz >/dev/null 2>&1) &&
	(cd r && cairn-apply apply ../r.tar.gz --env dev --key ../keys/ci.pub --db "postgresql:///app3?host=$PGHOST") >out 2>err &&
	pg_sql -d app3 -c "insert into billing.accounts (id, \"user\") values (2, '"$Q"'old'"$Q"')" &&
	pg_sql -d app3 -c "insert into billing.accounts (id, owner) values (3, '"$Q"'new'"$Q"')" &&
	pg_sql -d app3 -c "select id, \"user\", owner from billing.accounts order by id" >v &&
	printf "1|x|x\n2|old|old\n3|new|new\n" >want && test_cmp want v &&
	pg_sql -d app3 -c "select n.nspname || '"$Q"'.'"$Q"' || p.proname from pg_proc p join pg_namespace n on n.oid = p.pronamespace where p.proname like '"$Q"'cairn_sync%'"$Q"'" >v &&
	echo billing.cairn_sync_accounts_user_owner >want && test_cmp want v
'

test_done
