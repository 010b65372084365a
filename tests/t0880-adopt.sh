#!/bin/sh
test_description='cairn-apply adopt on SQLite: the real dbmate, and Flyway, golang-migrate, goose, pop, diesel, Prisma tables as they document them'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"
. "$TEST_DIRECTORY/lib-import.sh"

# no_cairn DB: adopt left no table of cairn's behind.
no_cairn() {
	test "$(q "$1" "SELECT count(*) FROM sqlite_master WHERE name LIKE 'cairn%'")" = 0
}

# ---- dbmate, the real tool -------------------------------------------------

test_expect_success 'setup: a dbmate project, the real dbmate leaves the database at its second migration' '
	import_project p &&
	mkdir -p p/db/migrations mid &&
	printf -- "-- migrate:up\nCREATE TABLE users (id integer PRIMARY KEY, email text NOT NULL);\n\n-- migrate:down\nDROP TABLE users;\n" >p/db/migrations/20240101120000_create_users.sql &&
	printf -- "-- migrate:up transaction:false\nCREATE UNIQUE INDEX users_email ON users (email);\n\n-- migrate:down transaction:false\nDROP INDEX users_email;\n" >p/db/migrations/20240102120000_users_email_index.sql &&
	printf -- "-- migrate:up\nCREATE TABLE orders (id integer PRIMARY KEY, user_id integer);\n\n-- migrate:down\nDROP TABLE orders;\n" >p/db/migrations/20240103120000_orders.sql &&
	printf -- "-- migrate:up\nALTER TABLE orders ADD COLUMN total integer;\n\n-- migrate:down\nALTER TABLE orders DROP COLUMN total;\n" >p/db/migrations/20240104120000_orders_total.sql &&
	cp -r p/db/migrations orig &&
	cp orig/20240101120000_create_users.sql orig/20240102120000_users_email_index.sql mid/ &&
	DATABASE_URL="sqlite:$TRASH_DIRECTORY/prod.db" dbmate --no-dump-schema --migrations-dir mid up >dbmate.out 2>&1 &&
	test "$(q prod.db "SELECT group_concat(version, \" \") FROM (SELECT version FROM schema_migrations ORDER BY version)")" = "20240101120000 20240102120000" &&
	(cd p && cairn import --from dbmate >../import.out 2>&1) &&
	apply_build p "$TRASH_DIRECTORY/dbmate.tar.gz" &&
	q prod.db "SELECT * FROM schema_migrations ORDER BY version" >sm.before &&
	schema prod.db >schema.before
'

test_expect_success 'adopt --dry-run shows the plan and writes nothing' '
	cairn-apply adopt --from dbmate --db sqlite:prod.db dbmate.tar.gz $KEY --dry-run >out 2>err &&
	test_grep "^  adopt  20240101120000_create_users  <- schema_migrations version=20240101120000$" out &&
	test_grep "^  adopt  20240102120000_users_email_index  <- schema_migrations version=20240102120000$" out &&
	test_grep "^2 would be adopted as applied (their SQL not run), 2 left to apply$" out &&
	no_cairn prod.db
'

test_expect_success 'adopt records what dbmate applied, runs no SQL and leaves its table alone' '
	cairn-apply adopt --from dbmate --db sqlite:prod.db dbmate.tar.gz $KEY --env prod >out 2>err &&
	test_grep "^2 adopted as applied (their SQL not run), 2 left to apply$" out &&
	test "$(books prod.db)" = "20240101120000:applied 20240102120000:applied" &&
	test "$(q prod.db "SELECT transactional FROM cairn_migrations WHERE version = '"'"'20240102120000'"'"'")" = 0 &&
	test "$(q prod.db "SELECT count(*) FROM cairn_migrations WHERE down_sql LIKE '"'"'%DROP TABLE users%'"'"'")" = 1 &&
	test "$(q prod.db "SELECT group_concat(action || \" \" || version, \",\") FROM (SELECT * FROM cairn_audit ORDER BY seq)")" = "identity ,adopt 20240101120000,adopt 20240102120000" &&
	q prod.db "SELECT detail FROM cairn_audit WHERE action = '"'"'adopt'"'"' ORDER BY seq" >detail &&
	test_grep "^adopted from dbmate: schema_migrations version=20240101120000; its SQL was not run by cairn facts{" detail &&
	q prod.db "SELECT * FROM schema_migrations ORDER BY version" >sm.after &&
	test_cmp sm.before sm.after &&
	schema prod.db >schema.after &&
	test_cmp schema.before schema.after &&
	cairn-apply history --db sqlite:prod.db --verify >hist 2>&1
'

test_expect_success 'plan then shows only what is pending; apply, roll back all, apply again' '
	cairn-apply plan dbmate.tar.gz --env prod --db sqlite:prod.db $KEY >plan &&
	test_grep "^2 to apply, 2 skipped$" plan &&
	test_grep "skip   20240101120000_create_users: already applied" plan &&
	cairn-apply apply dbmate.tar.gz --env prod --db sqlite:prod.db $KEY >out 2>&1 &&
	test "$(books prod.db)" = "20240101120000:applied 20240102120000:applied 20240103120000:applied 20240104120000:applied" &&
	cairn-apply rollback --db sqlite:prod.db --last 4 >out 2>&1 &&
	test "$(q prod.db "SELECT count(*) FROM sqlite_master WHERE name IN ('"'"'users'"'"', '"'"'orders'"'"')")" = 0 &&
	cairn-apply apply dbmate.tar.gz --env prod --db sqlite:prod.db $KEY >out 2>&1 &&
	cairn-apply history --db sqlite:prod.db --verify >hist 2>&1
'

test_expect_success 'the schema is what the real dbmate gives with every migration' '
	DATABASE_URL="sqlite:$TRASH_DIRECTORY/dbmate-all.db" dbmate --no-dump-schema --migrations-dir orig up >dbmate.out 2>&1 &&
	schema dbmate-all.db | grep -v "schema_migrations" >expect &&
	schema prod.db | grep -v "schema_migrations" >actual &&
	test_cmp expect actual
'

test_expect_success 'dbmate as projects write it: a transaction:false file that wraps itself in BEGIN/COMMIT and a comment-only placeholder; refused without --strip-transaction-wrappers, then imported, adopted at the middle, applied, rolled back, applied again' '
	import_project d2 &&
	mkdir -p d2/db/migrations d2mid &&
	printf -- "-- migrate:up\nCREATE TABLE accounts (id integer PRIMARY KEY, name text);\n\n-- migrate:down\nDROP TABLE accounts;\n" >d2/db/migrations/20240201120000_accounts.sql &&
	printf -- "-- migrate:up\n-- kept so that the version numbers stay as released\n\n-- migrate:down\n" >d2/db/migrations/20240202120000_placeholder.sql &&
	printf -- "-- migrate:up transaction:false\nBEGIN;\nCREATE TABLE ledger (id integer PRIMARY KEY, account_id integer, amount integer);\nINSERT INTO ledger (account_id, amount) SELECT id, 0 FROM accounts;\nCOMMIT;\n\n-- migrate:down transaction:false\nBEGIN;\nDROP TABLE ledger;\nCOMMIT;\n" >d2/db/migrations/20240203120000_ledger.sql &&
	printf -- "-- migrate:up\nCREATE INDEX ledger_account ON ledger (account_id);\n\n-- migrate:down\nDROP INDEX ledger_account;\n" >d2/db/migrations/20240204120000_ledger_index.sql &&
	cp -r d2/db/migrations d2orig &&
	cp d2orig/20240201120000_accounts.sql d2orig/20240202120000_placeholder.sql d2orig/20240203120000_ledger.sql d2mid/ &&
	DATABASE_URL="sqlite:$TRASH_DIRECTORY/d2.db" dbmate --no-dump-schema --migrations-dir d2mid up >dbmate.out 2>&1 &&
	test "$(q d2.db "SELECT count(*) FROM schema_migrations")" = 3 &&
	q d2.db "SELECT * FROM schema_migrations ORDER BY version" >d2.sm.before &&
	(cd d2 && test_must_fail cairn import --from dbmate >../d2.import.out 2>&1) &&
	test_grep "20240203120000_ledger.sql.*BEGIN" d2.import.out &&
	test_grep "strip-transaction-wrappers" d2.import.out &&
	test -z "$(ls d2/migrations 2>/dev/null)" &&
	(cd d2 && cairn import --from dbmate --strip-transaction-wrappers >../d2.import.out 2>&1) &&
	! grep -i "^BEGIN\|^COMMIT" d2/migrations/20240203120000_ledger/up.sql &&
	test_grep "20240203120000_ledger.sql: mapped: every script wrapped itself in BEGIN ... COMMIT" d2.import.out &&
	test_grep ! "transaction: false" d2/migrations/20240203120000_ledger/migration.yaml &&
	apply_build d2 "$TRASH_DIRECTORY/d2.tar.gz" &&
	cairn-apply adopt --from dbmate --db sqlite:d2.db d2.tar.gz $KEY --env prod >out 2>err &&
	test_grep "^3 adopted as applied (their SQL not run), 1 left to apply$" out &&
	cairn-apply apply d2.tar.gz --env prod --db sqlite:d2.db $KEY >out 2>&1 &&
	test "$(books d2.db)" = "20240201120000:applied 20240202120000:applied 20240203120000:applied 20240204120000:applied" &&
	test "$(q d2.db "SELECT transactional FROM cairn_migrations WHERE version = '"'"'20240203120000'"'"'")" = 1 &&
	cairn-apply rollback --db sqlite:d2.db --last 4 >out 2>&1 &&
	test "$(q d2.db "SELECT count(*) FROM sqlite_master WHERE name IN ('"'"'accounts'"'"', '"'"'ledger'"'"', '"'"'ledger_account'"'"')")" = 0 &&
	cairn-apply apply d2.tar.gz --env prod --db sqlite:d2.db $KEY >out 2>&1 &&
	cairn-apply history --db sqlite:d2.db --verify >hist 2>&1 &&
	q d2.db "SELECT * FROM schema_migrations ORDER BY version" >d2.sm.after &&
	test_cmp d2.sm.before d2.sm.after &&
	DATABASE_URL="sqlite:$TRASH_DIRECTORY/d2-all.db" dbmate --no-dump-schema --migrations-dir d2orig up >dbmate.out 2>&1 &&
	schema d2-all.db | grep -v "schema_migrations" >expect &&
	schema d2.db | grep -v "schema_migrations" >actual &&
	test_cmp expect actual
'

test_expect_success 'dbmate: transaction:false with only its up wrapped in BEGIN/COMMIT stays non-transactional, and the import says its statements then commit one by one' '
	import_project d3 &&
	mkdir -p d3/db/migrations &&
	printf -- "-- migrate:up transaction:false\nBEGIN;\nCREATE TABLE t1 (id integer);\nCOMMIT;\n\n-- migrate:down transaction:false\nDROP TABLE t1;\n" >d3/db/migrations/20240301120000_t1.sql &&
	(cd d3 && cairn import --from dbmate --strip-transaction-wrappers >../d3.import.out 2>&1) &&
	test_grep "up.sql: its own BEGIN and COMMIT removed (--strip-transaction-wrappers), and the migration stays non-transactional as the tool marked it: its statements commit one by one" d3.import.out &&
	test_grep ! "cairn runs it in a transaction" d3.import.out &&
	test_grep "^transaction: false" d3/migrations/20240301120000_t1/migration.yaml
'

test_expect_success 'refused: cairn already keeps the books' '
	test_must_fail --exit=5 cairn-apply adopt --from dbmate --db sqlite:prod.db dbmate.tar.gz $KEY >out 2>err &&
	test_grep "the database already records migrations (20240101120000 is applied): adopt only takes over a database cairn has not managed" err
'

test_expect_success 'refused: a version the bundle does not have; nothing written' '
	DATABASE_URL="sqlite:$TRASH_DIRECTORY/other.db" dbmate --no-dump-schema --migrations-dir mid up >/dev/null 2>&1 &&
	q other.db "INSERT INTO schema_migrations (version) VALUES ('"'"'20231231000000'"'"')" &&
	test_must_fail --exit=5 cairn-apply adopt --from dbmate --db sqlite:other.db dbmate.tar.gz $KEY >out 2>err &&
	test_grep "DIFF   schema_migrations version=20231231000000: dbmate applied version 20231231000000, which the bundle does not have" out &&
	test_grep "differs from bundle .* in 1 place; nothing was adopted" err &&
	no_cairn other.db
'

test_expect_success 'refused: no such tool, no such table' '
	test_must_fail --exit=2 cairn-apply adopt --from liquibase --db sqlite:other.db dbmate.tar.gz $KEY 2>err &&
	test_grep "unknown tool .liquibase." err &&
	test_must_fail --exit=5 cairn-apply adopt --from goose --db sqlite:other.db dbmate.tar.gz $KEY 2>err &&
	test_grep "no goose history on .*: table goose_db_version not found" err &&
	no_cairn other.db
'

# ---- --registry: the tool's table renamed as the tool allows ----------------

test_expect_success '--registry: the real dbmate with --migrations-table, adopted from that table' '
	DATABASE_URL="sqlite:$TRASH_DIRECTORY/renamed.db" dbmate --no-dump-schema --migrations-table app_versions --migrations-dir mid up >dbmate.out 2>&1 &&
	test "$(q renamed.db "SELECT count(*) FROM app_versions")" = 2 &&
	test_must_fail --exit=5 cairn-apply adopt --from dbmate --db sqlite:renamed.db dbmate.tar.gz $KEY >out 2>err &&
	test_grep "no dbmate history on .*: table schema_migrations not found" err &&
	cairn-apply adopt --from dbmate --registry app_versions --db sqlite:renamed.db dbmate.tar.gz $KEY --env prod >out 2>err &&
	test_grep "^adopt: dbmate.s app_versions on " out &&
	test_grep "^2 adopted as applied (their SQL not run), 2 left to apply$" out &&
	test "$(books renamed.db)" = "20240101120000:applied 20240102120000:applied" &&
	q renamed.db "SELECT detail FROM cairn_audit WHERE action = '"'"'adopt'"'"' ORDER BY seq" >detail &&
	test_grep "^adopted from dbmate: app_versions version=20240101120000; " detail
'

test_expect_success '--registry: a name that is not there is an error naming it; one built to inject SQL is only a name' '
	DATABASE_URL="sqlite:$TRASH_DIRECTORY/mid2.db" dbmate --no-dump-schema --migrations-dir mid up >/dev/null 2>&1 &&
	test_must_fail --exit=5 cairn-apply adopt --from dbmate --registry nosuch_versions --db sqlite:mid2.db dbmate.tar.gz $KEY >out 2>err &&
	test_grep "no dbmate history on .*: table nosuch_versions not found (the name --registry gave)" err &&
	test_grep ! "nothing to adopt" err &&
	no_cairn mid2.db &&
	evil="schema_migrations\"; DROP TABLE users; --" &&
	test_must_fail --exit=5 cairn-apply adopt --from dbmate --registry "$evil" --db sqlite:mid2.db dbmate.tar.gz $KEY >out 2>err &&
	test_grep "table schema_migrations\"; DROP TABLE users; -- not found" err &&
	evil2="x'"'"' OR 1=1 --" &&
	test_must_fail --exit=5 cairn-apply adopt --from dbmate --registry "$evil2" --db sqlite:mid2.db dbmate.tar.gz $KEY >out 2>err &&
	test_grep "not found (the name --registry gave)" err &&
	test "$(q mid2.db "SELECT count(*) FROM sqlite_master WHERE name = '"'"'users'"'"'")" = 1 &&
	no_cairn mid2.db &&
	q mid2.db "CREATE TABLE \"odd\"\"name'"'"'; --\" AS SELECT version FROM schema_migrations" &&
	cairn-apply adopt --from dbmate --registry "odd\"name'"'"'; --" --db sqlite:mid2.db dbmate.tar.gz $KEY --dry-run >out 2>err &&
	test_grep "^2 would be adopted as applied" out &&
	test_grep "<- odd\"name'"'"'; -- version=20240101120000$" out
'

test_expect_success '--registry: refused for diesel and prisma, whose tables have fixed names (exit 2)' '
	test_must_fail --exit=2 cairn-apply adopt --from diesel --registry x --db sqlite:mid2.db dbmate.tar.gz $KEY >out 2>err &&
	test_grep "diesel.s table __diesel_schema_migrations has a fixed name: --registry does not apply to it" err &&
	test_must_fail --exit=2 cairn-apply adopt --from prisma --registry x --db sqlite:mid2.db dbmate.tar.gz $KEY >out 2>err &&
	test_grep "prisma.s table _prisma_migrations has a fixed name" err &&
	test_must_fail --exit=2 cairn-apply adopt --from goose --registry "" --db sqlite:mid2.db dbmate.tar.gz $KEY >out 2>err &&
	test_grep "names no table" err &&
	no_cairn mid2.db
'

# ---- Flyway: its table as it creates it, its checksums ---------------------

test_expect_success 'setup: a Flyway project at version 2' '
	import_project f &&
	mkdir -p f/db/flyway &&
	printf "flyway.locations=filesystem:db/flyway\n" >f/flyway.conf &&
	printf "CREATE TABLE users (id integer PRIMARY KEY, email text NOT NULL);\r\n-- a comment\r\n" >f/db/flyway/V1__Create_users.sql &&
	echo "CREATE TABLE orders (id integer PRIMARY KEY, user_id integer);" >f/db/flyway/V2__Add_orders.sql &&
	echo "CREATE INDEX orders_user ON orders (user_id);" >f/db/flyway/V3__Orders_index.sql &&
	(cd f && cairn import --from flyway >../import.out 2>&1) &&
	apply_build f "$TRASH_DIRECTORY/flyway.tar.gz" &&
	sqlite3 fly.db "CREATE TABLE flyway_schema_history (installed_rank INT NOT NULL PRIMARY KEY, version VARCHAR(50), description VARCHAR(200) NOT NULL, type VARCHAR(20) NOT NULL, script VARCHAR(1000) NOT NULL, checksum INT, installed_by VARCHAR(100) NOT NULL, installed_on TEXT NOT NULL DEFAULT (strftime('"'"'%Y-%m-%d %H:%M:%f'"'"','"'"'now'"'"')), execution_time INT NOT NULL, success BOOLEAN NOT NULL)" &&
	sqlite3 fly.db "INSERT INTO flyway_schema_history VALUES (1, NULL, '"'"'<< Flyway Schema Creation >>'"'"', '"'"'SCHEMA'"'"', '"'"'\"main\"'"'"', NULL, '"'"'ops'"'"', '"'"'2024-01-01'"'"', 0, 1)" &&
	sqlite3 fly.db "INSERT INTO flyway_schema_history VALUES (2, '"'"'1'"'"', '"'"'Create users'"'"', '"'"'SQL'"'"', '"'"'V1__Create_users.sql'"'"', $(flyway_crc f/db/flyway/V1__Create_users.sql), '"'"'ops'"'"', '"'"'2024-01-01'"'"', 5, 1)" &&
	sqlite3 fly.db "INSERT INTO flyway_schema_history VALUES (3, '"'"'2'"'"', '"'"'Add orders'"'"', '"'"'SQL'"'"', '"'"'V2__Add_orders.sql'"'"', $(flyway_crc f/db/flyway/V2__Add_orders.sql), '"'"'ops'"'"', '"'"'2024-01-01'"'"', 5, 1)" &&
	sed -n "1p" f/db/flyway/V1__Create_users.sql | sqlite3 fly.db &&
	sqlite3 fly.db <f/db/flyway/V2__Add_orders.sql &&
	cp fly.db fly-bad.db && cp fly.db fly-failed.db
'

test_expect_success 'Flyway: adopted when the CRC32 of each script matches' '
	cairn-apply adopt --from flyway --db sqlite:fly.db flyway.tar.gz $KEY >out 2>err &&
	test_grep "^  adopt  1_create_users  <- flyway_schema_history installed_rank=2 version=1 script=V1__Create_users.sql checksum=$(flyway_crc f/db/flyway/V1__Create_users.sql)$" out &&
	test "$(books fly.db)" = "1:applied 2:applied" &&
	cairn-apply apply flyway.tar.gz --env dev --db sqlite:fly.db $KEY >out 2>&1 &&
	test "$(books fly.db)" = "1:applied 2:applied 3:applied" &&
	test "$(q fly.db "SELECT count(*) FROM flyway_schema_history")" = 3
'

test_expect_success 'Flyway: a baseline row takes every version at or below it' '
	sqlite3 fly-base.db "CREATE TABLE flyway_schema_history (installed_rank INT NOT NULL PRIMARY KEY, version VARCHAR(50), description VARCHAR(200) NOT NULL, type VARCHAR(20) NOT NULL, script VARCHAR(1000) NOT NULL, checksum INT, installed_by VARCHAR(100) NOT NULL, installed_on TEXT NOT NULL, execution_time INT NOT NULL, success BOOLEAN NOT NULL)" &&
	sqlite3 fly-base.db "INSERT INTO flyway_schema_history VALUES (1, '"'"'1'"'"', '"'"'<< Flyway Baseline >>'"'"', '"'"'BASELINE'"'"', '"'"'<< Flyway Baseline >>'"'"', NULL, '"'"'ops'"'"', '"'"'2024-01-01'"'"', 0, 1)" &&
	sqlite3 fly-base.db "INSERT INTO flyway_schema_history VALUES (2, '"'"'2'"'"', '"'"'Add orders'"'"', '"'"'SQL'"'"', '"'"'V2__Add_orders.sql'"'"', $(flyway_crc f/db/flyway/V2__Add_orders.sql), '"'"'ops'"'"', '"'"'2024-01-01'"'"', 5, 1)" &&
	cairn-apply adopt --from flyway --db sqlite:fly-base.db flyway.tar.gz $KEY >out 2>err &&
	test_grep "^  adopt  1_create_users  <- flyway_schema_history installed_rank=1 type=BASELINE version=1 (at or below the baseline version 1)$" out &&
	test "$(books fly-base.db)" = "1:applied 2:applied"
'

test_expect_success 'Flyway: refused on a checksum that differs and on a failed row' '
	q fly-bad.db "UPDATE flyway_schema_history SET checksum = 12345 WHERE installed_rank = 3" &&
	test_must_fail --exit=5 cairn-apply adopt --from flyway --db sqlite:fly-bad.db flyway.tar.gz $KEY >out 2>err &&
	test_grep "DIFF   flyway_schema_history installed_rank=3 .*checksum=12345: version 2: the checksum differs: flyway.s table has 12345, the bundle.s migrations/2_add_orders/up.sql gives $(flyway_crc f/db/flyway/V2__Add_orders.sql); the script flyway applied is not the bundle.s: build the bundle from the file flyway ran (cairn import records its checksum), or, if the database really holds what the bundle.s script makes, bring flyway.s table in line first (.flyway repair. rewrites its checksums)$" out &&
	no_cairn fly-bad.db &&
	q fly-failed.db "UPDATE flyway_schema_history SET success = 0 WHERE installed_rank = 3" &&
	test_must_fail --exit=5 cairn-apply adopt --from flyway --db sqlite:fly-failed.db flyway.tar.gz $KEY >out 2>err &&
	test_grep "DIFF   flyway_schema_history installed_rank=3: V2__Add_orders.sql failed (success = false)" out &&
	no_cairn fly-failed.db
'

# fly_row DB RANK VERSION SCRIPT: a successful SQL row as Flyway writes it.
fly_row() {
	sqlite3 "$1" "INSERT INTO flyway_schema_history VALUES ($2, '$3', 'x', 'SQL', '$4', $(flyway_crc "dv/db/flyway/$4"), 'ops', '2024-01-01', 1, 1)"
}

test_expect_success 'Flyway dotted versions: imported in Flyway order (1.10 after 1.9), adopted by the version the name keeps' '
	import_project dv &&
	mkdir -p dv/db/flyway &&
	printf "flyway.locations=filesystem:db/flyway\n" >dv/flyway.conf &&
	echo "CREATE TABLE a (id integer);" >dv/db/flyway/V1__a.sql &&
	echo "CREATE TABLE b (id integer);" >dv/db/flyway/V1.1__b.sql &&
	echo "CREATE TABLE c (id integer);" >dv/db/flyway/V1.2.3__c.sql &&
	echo "CREATE TABLE d (id integer);" >dv/db/flyway/V1.9__d.sql &&
	echo "CREATE TABLE e (id integer);" >dv/db/flyway/V1_10__e.sql &&
	echo "CREATE TABLE f (id integer);" >dv/db/flyway/V002__f.sql &&
	(cd dv && cairn import --from flyway >../out 2>&1) &&
	test_grep "^db/flyway/V1_10__e.sql: mapped: version 1_10: 11000, in Flyway.s order (the name keeps v1-10)$" out &&
	test "$(ls dv/migrations | tr "\n" " ")" = "10000_v1_a 10100_v1-1_b 10203_v1-2-3_c 10900_v1-9_d 11000_v1-10_e 20000_v002_f " &&
	apply_build dv "$TRASH_DIRECTORY/dv.tar.gz" &&
	sqlite3 dv.db "CREATE TABLE flyway_schema_history (installed_rank INT NOT NULL PRIMARY KEY, version VARCHAR(50), description VARCHAR(200) NOT NULL, type VARCHAR(20) NOT NULL, script VARCHAR(1000) NOT NULL, checksum INT, installed_by VARCHAR(100) NOT NULL, installed_on TEXT NOT NULL, execution_time INT NOT NULL, success BOOLEAN NOT NULL)" &&
	fly_row dv.db 1 1 V1__a.sql && fly_row dv.db 2 1.1 V1.1__b.sql &&
	fly_row dv.db 3 1.2.3 V1.2.3__c.sql && fly_row dv.db 4 1.9 V1.9__d.sql &&
	cat dv/db/flyway/V1__a.sql dv/db/flyway/V1.1__b.sql dv/db/flyway/V1.2.3__c.sql dv/db/flyway/V1.9__d.sql | sqlite3 dv.db &&
	cairn-apply adopt --from flyway --db sqlite:dv.db dv.tar.gz $KEY >out 2>err &&
	test_grep "^  adopt  10203_v1-2-3_c  <- flyway_schema_history installed_rank=3 version=1.2.3 " out &&
	test "$(books dv.db)" = "10000:applied 10100:applied 10203:applied 10900:applied" &&
	cairn-apply apply dv.tar.gz --env dev --db sqlite:dv.db $KEY >out 2>&1 &&
	test "$(q dv.db "SELECT group_concat(version, \" \") FROM (SELECT version FROM cairn_audit WHERE action = '"'"'apply'"'"' ORDER BY seq)")" = "11000 20000"
'

test_expect_success 'Flyway dotted versions: a baseline at 1.5 takes 1, 1.1 and 1.2.3 in Flyway.s order' '
	sqlite3 dv3.db "CREATE TABLE flyway_schema_history (installed_rank INT NOT NULL PRIMARY KEY, version VARCHAR(50), description VARCHAR(200) NOT NULL, type VARCHAR(20) NOT NULL, script VARCHAR(1000) NOT NULL, checksum INT, installed_by VARCHAR(100) NOT NULL, installed_on TEXT NOT NULL, execution_time INT NOT NULL, success BOOLEAN NOT NULL)" &&
	sqlite3 dv3.db "INSERT INTO flyway_schema_history VALUES (1, '"'"'1.5'"'"', '"'"'b'"'"', '"'"'BASELINE'"'"', '"'"'<< Flyway Baseline >>'"'"', NULL, '"'"'ops'"'"', '"'"'2024-01-01'"'"', 0, 1)" &&
	cairn-apply adopt --from flyway --db sqlite:dv3.db dv.tar.gz $KEY >out 2>err &&
	test "$(books dv3.db)" = "10000:applied 10100:applied 10203:applied"
'

test_expect_success 'Flyway dotted versions: a version applied that the bundle lacks is refused' '
	sqlite3 dv2.db "CREATE TABLE flyway_schema_history (installed_rank INT NOT NULL PRIMARY KEY, version VARCHAR(50), description VARCHAR(200) NOT NULL, type VARCHAR(20) NOT NULL, script VARCHAR(1000) NOT NULL, checksum INT, installed_by VARCHAR(100) NOT NULL, installed_on TEXT NOT NULL, execution_time INT NOT NULL, success BOOLEAN NOT NULL)" &&
	fly_row dv2.db 1 1 V1__a.sql && fly_row dv2.db 2 1.2 V1.1__b.sql &&
	test_must_fail --exit=5 cairn-apply adopt --from flyway --db sqlite:dv2.db dv.tar.gz $KEY >out 2>err &&
	test_grep "DIFF   flyway_schema_history installed_rank=2 version=1.2 .*: flyway applied version 1.2, which the bundle does not have" out &&
	no_cairn dv2.db
'

# ---- scripts cairn import rewrote: the tool's checksum of the original ----

# fly_table DB: flyway_schema_history as Flyway creates it on SQLite.
fly_table() {
	sqlite3 "$1" "CREATE TABLE flyway_schema_history (installed_rank INT NOT NULL PRIMARY KEY, version VARCHAR(50), description VARCHAR(200) NOT NULL, type VARCHAR(20) NOT NULL, script VARCHAR(1000) NOT NULL, checksum INT, installed_by VARCHAR(100) NOT NULL, installed_on TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f','now')), execution_time INT NOT NULL, success BOOLEAN NOT NULL)"
}

test_expect_success 'a script import rewrote (its BEGIN/COMMIT stripped) is adopted by the checksum of the original, recorded in migration.yaml' '
	import_project w &&
	mkdir -p w/sql &&
	printf "BEGIN;\nCREATE TABLE w1 (id integer);\nCOMMIT;\n" >w/sql/V1__wrapped.sql &&
	echo "CREATE TABLE w2 (id integer);" >w/sql/V2__plain.sql &&
	crc1=$(flyway_crc w/sql/V1__wrapped.sql) &&
	(cd w && cairn import --from flyway sql --strip-transaction-wrappers >../import.out 2>&1) &&
	! grep -q BEGIN w/migrations/1_wrapped/up.sql &&
	test_grep "^imported:$" w/migrations/1_wrapped/migration.yaml &&
	test_grep "^  from: flyway$" w/migrations/1_wrapped/migration.yaml &&
	test_grep "^  file: V1__wrapped.sql$" w/migrations/1_wrapped/migration.yaml &&
	test_grep "^  checksum: .\{0,1\}$crc1.\{0,1\}$" w/migrations/1_wrapped/migration.yaml &&
	test_grep "^  up_sha256: $(sha256sum w/migrations/1_wrapped/up.sql | cut -d" " -f1)$" w/migrations/1_wrapped/migration.yaml &&
	test "$(flyway_crc w/migrations/1_wrapped/up.sql)" != "$crc1" &&
	(cd w && cairn check >../check.out 2>&1) &&
	apply_build w "$TRASH_DIRECTORY/w.tar.gz" &&
	fly_table w.db &&
	sqlite3 w.db "INSERT INTO flyway_schema_history (installed_rank, version, description, type, script, checksum, installed_by, execution_time, success) VALUES (1, '"'"'1'"'"', '"'"'wrapped'"'"', '"'"'SQL'"'"', '"'"'V1__wrapped.sql'"'"', $crc1, '"'"'ops'"'"', 3, 1)" &&
	sqlite3 w.db <w/sql/V1__wrapped.sql &&
	cp w.db w-edited.db &&
	q w.db "SELECT * FROM flyway_schema_history" >fh.before &&
	cairn-apply adopt --from flyway --db sqlite:w.db w.tar.gz $KEY --env dev >out 2>err &&
	test "$(books w.db)" = "1:applied" &&
	q w.db "SELECT * FROM flyway_schema_history" >fh.after &&
	test_cmp fh.before fh.after &&
	cairn-apply apply w.tar.gz --env dev --db sqlite:w.db $KEY >out 2>&1 &&
	test "$(books w.db)" = "1:applied 2:applied" &&
	test "$(q w.db "SELECT count(*) FROM sqlite_master WHERE name IN ('"'"'w1'"'"', '"'"'w2'"'"')")" = 2
'

test_expect_success 'the recorded checksum no longer counts once up.sql is edited after the import' '
	crc1=$(flyway_crc w/sql/V1__wrapped.sql) &&
	echo "CREATE TABLE w1 (id integer, x text);" >w/migrations/1_wrapped/up.sql &&
	apply_build w "$TRASH_DIRECTORY/w2.tar.gz" &&
	test_must_fail --exit=5 cairn-apply adopt --from flyway --db sqlite:w-edited.db w2.tar.gz $KEY --env dev >out 2>err &&
	test_grep "DIFF   flyway_schema_history installed_rank=1 version=1 script=V1__wrapped.sql checksum=$crc1: version 1: the checksum differs: flyway.s table has $crc1, the bundle.s migrations/1_wrapped/up.sql gives $(flyway_crc w/migrations/1_wrapped/up.sql) (its up script changed after cairn import (not the up_sha256 that migration.yaml.s imported: records)); the script flyway applied" out &&
	no_cairn w-edited.db
'

test_expect_success 'cairn check knows imported: and refuses a key it does not hold' '
	cp w/migrations/2_plain/migration.yaml saved.yaml &&
	printf "irreversible: true\nimported:\n  from: flyway\n  chcksum: \"1\"\n" >w/migrations/2_plain/migration.yaml &&
	(cd w && test_must_fail cairn check >../check.out 2>&1) &&
	test_grep "migration.yaml:[0-9]*: error: unknown-key: unknown key .imported: chcksum." check.out &&
	printf "irreversible: true\nimported: flyway\n" >w/migrations/2_plain/migration.yaml &&
	(cd w && test_must_fail cairn check >../check.out 2>&1) &&
	test_grep "migration.yaml:[0-9]*: error: .*imported" check.out &&
	cp saved.yaml w/migrations/2_plain/migration.yaml &&
	(cd w && cairn check >../check.out 2>&1)
'

# ---- the identity: adopt without --env acts as the recorded environment ----

test_expect_success 'adopt without --env writes the database.s recorded environment, and --env of another is refused' '
	apply_project id &&
	apply_table id 0001_a && apply_table id 0002_b && apply_table id 0003_c &&
	apply_build id "$TRASH_DIRECTORY/id.tar.gz" &&
	cairn-apply apply id.tar.gz --env prod --db sqlite:id.db $KEY >out 2>&1 &&
	cairn-apply rollback --db sqlite:id.db --last 3 >out 2>&1 &&
	sqlite3 id.db "CREATE TABLE goose_db_version (id INTEGER PRIMARY KEY AUTOINCREMENT, version_id INTEGER NOT NULL, is_applied INTEGER NOT NULL, tstamp TIMESTAMP DEFAULT (datetime('"'"'now'"'"'))); INSERT INTO goose_db_version (version_id, is_applied) VALUES (0, 1), (1, 1); CREATE TABLE t_0001_a (id integer primary key, v text);" &&
	test_must_fail --exit=3 cairn-apply adopt --from goose --db sqlite:id.db id.tar.gz $KEY --env staging >out 2>err &&
	test_grep "belongs to environment .prod." err &&
	cairn-apply adopt --from goose --db sqlite:id.db id.tar.gz $KEY >out 2>err &&
	test "$(q id.db "SELECT environment FROM cairn_migrations WHERE version = '"'"'0001'"'"'")" = prod &&
	test "$(q id.db "SELECT state FROM cairn_migrations WHERE version = '"'"'0001'"'"'")" = applied &&
	cairn-apply history --db sqlite:id.db --verify >hist 2>&1 &&
	cairn-apply plan id.tar.gz --env prod --db sqlite:id.db $KEY >plan &&
	test_grep "^2 to apply, 1 skipped$" plan
'

# ---- sqitch on SQLite, the real tool: its registry is a file of its own ----

if command -v sqitch >/dev/null 2>&1 || test "$CI" = true; then

test_expect_success 'setup: a sqitch project on SQLite; the real sqitch deploys two of three changes (registry sqitch.db beside the database)' '
	import_project sq &&
	mkdir sq/db && (cd sq/db &&
	sqitch init shop --engine sqlite >/dev/null &&
	sqitch add users -n "Add users" >/dev/null &&
	sqitch_put deploy/users.sql "CREATE TABLE users (id integer PRIMARY KEY, email text NOT NULL);" &&
	sqitch_put revert/users.sql "DROP TABLE users;" &&
	sqitch add orders --requires users -n "Add orders" >/dev/null &&
	sqitch_put deploy/orders.sql "CREATE TABLE orders (id integer PRIMARY KEY, user_id integer);" &&
	sqitch_put revert/orders.sql "DROP TABLE orders;" &&
	sqitch add order_index --requires orders -n "Index orders" >/dev/null &&
	sqitch_put deploy/order_index.sql "CREATE INDEX orders_user ON orders (user_id);" &&
	sqitch_put revert/order_index.sql "DROP INDEX orders_user;") &&
	mkdir sqdb sqall &&
	(cd sq/db && sqitch deploy --to orders "db:sqlite:$TRASH_DIRECTORY/sqdb/prod.db" >../../sqitch.out 2>&1 &&
	 sqitch deploy "db:sqlite:$TRASH_DIRECTORY/sqall/prod.db" >>../../sqitch.out 2>&1) &&
	test -f sqdb/sqitch.db &&
	test "$(q sqdb/sqitch.db "SELECT group_concat(change, \" \") FROM (SELECT change FROM changes ORDER BY committed_at)")" = "users orders" &&
	test_grep "^BEGIN;" sq/db/deploy/users.sql &&
	(cd sq && cairn import --from sqitch db --strip-transaction-wrappers >../import.out 2>&1) &&
	test_grep "^  from: sqitch$" sq/migrations/0001_users/migration.yaml &&
	apply_build sq "$TRASH_DIRECTORY/sq.tar.gz" &&
	sha256sum sqdb/sqitch.db >registry.before &&
	schema sqdb/prod.db >sq-schema.before
'

test_expect_success 'sqitch on SQLite: adopted from its registry by position, name and the script hash of the original files' '
	cairn-apply adopt --from sqitch --db sqlite:sqdb/prod.db sq.tar.gz $KEY --env dev >out 2>err &&
	test_grep "^  adopt  0001_users  <- sqitch.changes change_id=.* change=users script_hash=$(sha1sum sq/db/deploy/users.sql | cut -d" " -f1)$" out &&
	test_grep "^2 adopted as applied (their SQL not run), 1 left to apply$" out &&
	test "$(books sqdb/prod.db)" = "0001:applied 0002:applied" &&
	sha256sum sqdb/sqitch.db >registry.after &&
	test_cmp registry.before registry.after &&
	schema sqdb/prod.db >sq-schema.after &&
	test_cmp sq-schema.before sq-schema.after &&
	test "$(q sqdb/prod.db "PRAGMA database_list" | wc -l)" = 1
'

test_expect_success 'sqitch on SQLite: apply the rest, roll back all, apply again; the schema is what sqitch gives with every change' '
	cairn-apply apply sq.tar.gz --env dev --db sqlite:sqdb/prod.db $KEY >out 2>&1 &&
	test "$(books sqdb/prod.db)" = "0001:applied 0002:applied 0003:applied" &&
	cairn-apply rollback --db sqlite:sqdb/prod.db --last 3 >out 2>&1 &&
	cairn-apply apply sq.tar.gz --env dev --db sqlite:sqdb/prod.db $KEY >out 2>&1 &&
	schema sqdb/prod.db >actual &&
	schema sqall/prod.db >expect &&
	test_cmp expect actual &&
	cairn-apply history --db sqlite:sqdb/prod.db --verify >hist 2>&1
'

test_expect_success 'sqitch on SQLite: no registry beside the database, or another one named with --registry' '
	cp sqall/prod.db lone.db &&
	test_must_fail --exit=5 cairn-apply adopt --from sqitch --db sqlite:lone.db sq.tar.gz $KEY 2>err &&
	test_grep "no sqitch history for .lone.db.: its registry sqitch.db is not there" err &&
	! test -e sqitch.db &&
	no_cairn lone.db &&
	mkdir reg && cp sqall/prod.db reg/app.db && cp sqall/sqitch.db reg/registry.db &&
	cairn-apply adopt --from sqitch --db sqlite:reg/app.db --registry registry.db sq.tar.gz $KEY --dry-run >out 2>err &&
	test_grep "^3 would be adopted as applied" out
'

fi

# ---- the others: their tables as the tools document them -------------------

# tool_project DIR: three migrations in cairn's layout, as cairn import
# writes them (the importers are tested in t08[0-7]0); versions 1..3 with
# the given width.
tool_project() {
	apply_project "$1" &&
	apply_table "$1" "${2}1_a" &&
	apply_table "$1" "${2}2_b" &&
	apply_table "$1" "${2}3_c" &&
	apply_build "$1" "$TRASH_DIRECTORY/$1.tar.gz"
}

test_expect_success 'golang-migrate: every version up to the one it records; dirty is refused' '
	tool_project gm 00000 &&
	sqlite3 gm.db "CREATE TABLE schema_migrations (version uint64, dirty bool); CREATE UNIQUE INDEX version_unique ON schema_migrations (version); INSERT INTO schema_migrations VALUES (2, 0); CREATE TABLE t_000001_a (id integer primary key, v text); CREATE TABLE t_000002_b (id integer primary key, v text);" &&
	cp gm.db gm-dirty.db &&
	cairn-apply adopt --from golang-migrate --db sqlite:gm.db gm.tar.gz $KEY >out 2>err &&
	test_grep "^  adopt  000001_a  <- schema_migrations version=2 dirty=false (below version 2)$" out &&
	test "$(books gm.db)" = "000001:applied 000002:applied" &&
	q gm-dirty.db "UPDATE schema_migrations SET dirty = 1" &&
	test_must_fail --exit=5 cairn-apply adopt --from golang-migrate --db sqlite:gm-dirty.db gm.tar.gz $KEY >out 2>err &&
	test_grep "DIFF   schema_migrations version=2 dirty=true: golang-migrate stopped in the middle of 2" out &&
	no_cairn gm-dirty.db
'

test_expect_success 'goose: the last row of each version decides' '
	tool_project gs 0000 &&
	sqlite3 gs.db "CREATE TABLE goose_db_version (id INTEGER PRIMARY KEY AUTOINCREMENT, version_id INTEGER NOT NULL, is_applied INTEGER NOT NULL, tstamp TIMESTAMP DEFAULT (datetime('"'"'now'"'"'))); INSERT INTO goose_db_version (version_id, is_applied) VALUES (0, 1), (1, 1), (2, 1), (3, 1), (3, 0); CREATE TABLE t_00001_a (id integer primary key, v text); CREATE TABLE t_00002_b (id integer primary key, v text);" &&
	cairn-apply adopt --from goose --db sqlite:gs.db gs.tar.gz $KEY >out 2>err &&
	test "$(books gs.db)" = "00001:applied 00002:applied" &&
	test_grep "^1 left to apply$\|, 1 left to apply$" out
'

# pop's table as gobuffalo/pop schema_migrations.go makes it (version, a
# string of size 14, the primary key, and a unique index); diesel's as
# diesel-rs/diesel diesel/src/migration/setup_migration_table.sql.
test_expect_success 'pop and diesel: a row per version' '
	tool_project pp 2024010100000 &&
	sqlite3 pp.db "CREATE TABLE schema_migration (version TEXT NOT NULL, PRIMARY KEY (version)); CREATE UNIQUE INDEX schema_migration_version_idx ON schema_migration (version); INSERT INTO schema_migration VALUES ('"'"'20240101000001'"'"');" &&
	cairn-apply adopt --from pop --db sqlite:pp.db pp.tar.gz $KEY >out 2>err &&
	test "$(books pp.db)" = "20240101000001:applied" &&
	tool_project ds 2024010100000 &&
	sqlite3 ds.db "CREATE TABLE __diesel_schema_migrations (version VARCHAR(50) PRIMARY KEY NOT NULL, run_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP); INSERT INTO __diesel_schema_migrations (version) VALUES ('"'"'20240101000001'"'"'), ('"'"'20240101000003'"'"');" &&
	cairn-apply adopt --from diesel --db sqlite:ds.db ds.tar.gz $KEY >out 2>err &&
	test "$(books ds.db)" = "20240101000001:applied 20240101000003:applied" &&
	cairn-apply plan ds.tar.gz --env dev --db sqlite:ds.db $KEY >plan &&
	test_grep "^1 to apply, 2 skipped$" plan
'

test_expect_success 'Prisma: its SHA-256 checked; a rolled-back row skipped, an unfinished one refused' '
	tool_project pr 2024010100000 &&
	sqlite3 pr.db "CREATE TABLE _prisma_migrations (id TEXT PRIMARY KEY NOT NULL, checksum TEXT NOT NULL, finished_at DATETIME, migration_name TEXT NOT NULL, logs TEXT, rolled_back_at DATETIME, started_at DATETIME NOT NULL DEFAULT current_timestamp, applied_steps_count INTEGER UNSIGNED NOT NULL DEFAULT 0)" &&
	s1=$(sha256sum pr/migrations/20240101000001_a/up.sql | cut -d" " -f1) &&
	s2=$(sha256sum pr/migrations/20240101000002_b/up.sql | cut -d" " -f1) &&
	sqlite3 pr.db "INSERT INTO _prisma_migrations (id, checksum, finished_at, migration_name, started_at, applied_steps_count) VALUES ('"'"'a1'"'"', '"'"'$s1'"'"', '"'"'2024-01-01 00:00:01'"'"', '"'"'20240101000001_a'"'"', '"'"'2024-01-01 00:00:00'"'"', 1)" &&
	sqlite3 pr.db "INSERT INTO _prisma_migrations (id, checksum, finished_at, migration_name, rolled_back_at, started_at) VALUES ('"'"'b0'"'"', '"'"'$s2'"'"', NULL, '"'"'20240101000002_b'"'"', '"'"'2024-01-02 00:00:05'"'"', '"'"'2024-01-02 00:00:00'"'"')" &&
	cp pr.db pr-failed.db &&
	cairn-apply adopt --from prisma --db sqlite:pr.db pr.tar.gz $KEY >out 2>err &&
	test "$(books pr.db)" = "20240101000001:applied" &&
	sqlite3 pr-failed.db "INSERT INTO _prisma_migrations (id, checksum, migration_name, started_at) VALUES ('"'"'b1'"'"', '"'"'$s2'"'"', '"'"'20240101000002_b'"'"', '"'"'2024-01-03 00:00:00'"'"')" &&
	test_must_fail --exit=5 cairn-apply adopt --from prisma --db sqlite:pr-failed.db pr.tar.gz $KEY >out 2>err &&
	test_grep "DIFF   _prisma_migrations id=b1: 20240101000002_b failed or did not finish" out &&
	no_cairn pr-failed.db
'

test_done
