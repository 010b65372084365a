#!/bin/sh
test_description='cairn import then cairn-apply adopt, end to end on SQLite, for Flyway, golang-migrate, goose, pop, diesel and Prisma: the tool.s history table as the tool creates it, adopted, the rest applied'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"
. "$TEST_DIRECTORY/lib-import.sh"
. "$TEST_DIRECTORY/lib-adopt.sh"

# Three changes every tool gets, in its own layout; the tool "applied" the
# first two (their SQL run by hand, its history rows written as it writes
# them), cairn applies the third.
UP1="CREATE TABLE users (id integer PRIMARY KEY, email text NOT NULL);"
DOWN1="DROP TABLE users;"
UP2="CREATE TABLE orders (id integer PRIMARY KEY, user_id integer);"
DOWN2="DROP TABLE orders;"
UP3="CREATE INDEX orders_user ON orders (user_id);"
DOWN3="DROP INDEX orders_user;"
# goose's StatementBegin/End body: a trigger, whose BEGIN ... END holds ;
FN_UP="CREATE TRIGGER users_email_lower AFTER INSERT ON users BEGIN UPDATE users SET email = lower(NEW.email) WHERE id = NEW.id; END;"
FN_DOWN="DROP TRIGGER users_email_lower;"
# pop: change 2 for postgres too, which must not be what SQLite gets
POP_DIALECT=sqlite3 POP_OTHER=postgres
POP_OTHER2="CREATE TABLE orders (id serial PRIMARY KEY, user_id integer REFERENCES users (id));"
# how the commands trust the bundle: --key, or a config (the extension test)
ACCESS=$KEY

# The history tables below are written from each tool's own source, read
# (never copied) for column names, types, NOT NULL and keys (issue #19):
#   Flyway        flyway/flyway flyway-core/src/main/resources/org/flywaydb/
#                 core/internal/database/{sqlite,postgresql}/createMetaDataTable.sql
#   golang-migrate golang-migrate/migrate database/sqlite3/sqlite3.go; its
#                 postgres driver's ensureVersionTable as that driver's tests
#                 and forks quote it (database/postgres not opened here)
#   goose         pressly/goose internal/dialect/dialectquery/{sqlite3,postgres}.go
#                 (the serial/tstamp form; goose 3.2x on PostgreSQL writes an
#                 identity id and tstamp NOT NULL: same columns cairn reads)
#   pop/soda      ory/x popx/migrator.go (createTransactionalMigrationTable:
#                 version VARCHAR(48), version_self), which 20-digit versions
#                 need; gobuffalo/pop schema_migrations.go (version of size 14,
#                 primary key) is t0880's
#   diesel        diesel-rs/diesel diesel/src/migration/setup_migration_table.sql
#   Prisma        prisma/prisma-engines schema-engine/connectors/
#                 sql-schema-connector/src/flavour/{sqlite,postgres}.rs
#                 (create_migrations_table)
# dbmate's and sqitch's tables are made by the real tools (t0880, t0885).

# by_hand DB HISTORY_DDL [SQL]: the tool's history table, empty, and every
# original applied by hand (SQL, default the three ups): the schema the
# tool gives with all of them.
by_hand() {
	sqlite3 "$1" "$2" &&
	sqlite3 "$1" "${3:-$UP1 $UP2 $UP3}"
}

# take_over P TOOL DB TABLE ADOPTED ALL [IMPORT_ARGS]: cairn import in P
# (the tool's files there), build, adopt TOOL's history on DB: the books
# hold ADOPTED, TABLE and the schema are untouched; then apply the rest
# (ALL), and the schema is the one applying the originals by hand gives.
# The plan shows ALL less ADOPTED to apply; $ACCESS trusts the bundle.
take_over() {
	nadopt=$(echo "$5" | wc -w) && nall=$(echo "$6" | wc -w) &&
	(cd "$1" && cairn import --from "$2" $7 >../"$1".import.out 2>&1) &&
	apply_build "$1" "$TRASH_DIRECTORY/$1.tar.gz" &&
	q "$3" "SELECT * FROM $4" >"$1".hist.before &&
	schema "$3" >"$1".schema.before &&
	cairn-apply adopt --from "$2" --db "sqlite:$3" "$1.tar.gz" $ACCESS --env dev >"$1".adopt.out 2>&1 &&
	test "$(books "$3")" = "$5" &&
	test "$(q "$3" "SELECT count(*) FROM cairn_audit WHERE action = 'adopt' AND detail LIKE 'adopted from $2: $4 %'")" = "$nadopt" &&
	q "$3" "SELECT * FROM $4" >"$1".hist.after &&
	test_cmp "$1".hist.before "$1".hist.after &&
	schema "$3" >"$1".schema.after &&
	test_cmp "$1".schema.before "$1".schema.after &&
	cairn-apply plan "$1.tar.gz" --env dev --db "sqlite:$3" $ACCESS >"$1".plan &&
	test_grep "^$((nall - nadopt)) to apply, $nadopt skipped$" "$1".plan &&
	cairn-apply apply "$1.tar.gz" --env dev --db "sqlite:$3" $ACCESS >"$1".apply.out 2>&1 &&
	test "$(books "$3")" = "$6" &&
	q "$3" "SELECT * FROM $4" >"$1".hist.after &&
	test_cmp "$1".hist.before "$1".hist.after &&
	schema "$3" >actual &&
	schema "$1".full.db >expect &&
	test_cmp expect actual &&
	cairn-apply history --db "sqlite:$3" --verify >"$1".hist 2>&1
}

# reapply P DB [N]: roll back the last N migrations (default 1) and apply
# them again; the schema is the by-hand one again. RB_ACCESS: what the
# rollback needs besides (a database first used under a config is written
# only under one: --config FILE --env ENV).
reapply() {
	cairn-apply rollback --db "sqlite:$2" --last "${3:-1}" $RB_ACCESS >"$1".rb.out 2>&1 &&
	test "$(q "$2" "SELECT count(*) FROM sqlite_master WHERE name = 'orders_user'")" = 0 &&
	cairn-apply apply "$1.tar.gz" --env dev --db "sqlite:$2" $ACCESS >"$1".apply.out 2>&1 &&
	test "$(q "$2" "SELECT count(*) FROM sqlite_master WHERE name = 'orders_user'")" = 1 &&
	schema "$2" >actual && schema "$1".full.db >expect && test_cmp expect actual
}

# ory popx's schema_migration (popx/migrator.go, createTransactionalMigrationTable
# in ory/x): the table pop/soda projects with 20-digit versions keep; pop's own
# (gobuffalo/pop schema_migrations.go: version string of size 14) holds 14.
POPX_DDL="CREATE TABLE schema_migration (version VARCHAR (48) NOT NULL, version_self INT NOT NULL DEFAULT 0); CREATE UNIQUE INDEX schema_migration_version_idx ON schema_migration (version); CREATE INDEX schema_migration_version_self_idx ON schema_migration (version_self);"

# Flyway's table on SQLite, as its SQLite createMetaDataTable.sql makes it.
FLYWAY_DDL="CREATE TABLE flyway_schema_history (installed_rank INT NOT NULL PRIMARY KEY, version VARCHAR(50), description VARCHAR(200) NOT NULL, type VARCHAR(20) NOT NULL, script VARCHAR(1000) NOT NULL, checksum INT, installed_by VARCHAR(100) NOT NULL, installed_on TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f','now')), execution_time INT NOT NULL, success BOOLEAN NOT NULL); CREATE INDEX flyway_schema_history_s_idx ON flyway_schema_history (success);"

# fw_row DB RANK VERSION FILE: a successful SQL row as Flyway writes it, its
# checksum the CRC32 of the original file.
fw_row() {
	sqlite3 "$1" "INSERT INTO flyway_schema_history (installed_rank, version, description, type, script, checksum, installed_by, execution_time, success) VALUES ($2, '$3', 'x', 'SQL', '$4', $(flyway_crc "fw/sql/$4"), 'ops', 1, 1)"
}

test_expect_success 'Flyway: a ${schema} placeholder stops the import until written in; 1.2.10 after 1.2.9 (a comment-only no-op); V1 wrapped in BEGIN/COMMIT, adopted by the original.s checksum; undo scripts roll back' '
	import_project fw &&
	adopt_layout flyway fw &&
	(cd fw && test_must_fail --exit=1 cairn import --from flyway sql --strip-transaction-wrappers >../fw.ph.out 2>&1) &&
	test_grep "^sql/V2__user_emails.sql: error: uses a Flyway placeholder" fw.ph.out &&
	test -z "$(ls fw/migrations)" &&
	sed -i "s/\${schema}/main/g" fw/sql/V2__user_emails.sql &&
	by_hand fw.full.db "$FLYWAY_DDL" "$UP1 $UP2 $(cat fw/sql/V2__user_emails.sql) $UP3" &&
	sqlite3 fw.db "$FLYWAY_DDL" &&
	fw_row fw.db 1 1 V1__users.sql && fw_row fw.db 2 1.2.9 V1.2.9__skipped.sql &&
	fw_row fw.db 3 1.2.10 V1.2.10__orders.sql &&
	sqlite3 fw.db "$UP1 $UP2" &&
	take_over fw flyway fw.db flyway_schema_history "10000:applied 10209:applied 10210:applied" "10000:applied 10209:applied 10210:applied 20000:applied 30000:applied" "sql --strip-transaction-wrappers" &&
	test_grep "^sql/V1.2.10__orders.sql: mapped: version 1.2.10: 10210, in Flyway.s order" fw.import.out &&
	test_grep "^noop: true" fw/migrations/10209_v1-2-9_skipped/migration.yaml &&
	test "$(q fw.db "SELECT count(*) FROM sqlite_master WHERE name = '"'"'user_emails'"'"'")" = 1 &&
	reapply fw fw.db 2
'

test_expect_success 'golang-migrate: 2 wraps itself in BEGIN/COMMIT (refused, then stripped); its one row (version 2, not dirty) adopts 1 and 2' '
	import_project gm &&
	adopt_layout golang-migrate gm &&
	(cd gm && test_must_fail --exit=1 cairn import --from golang-migrate db >../gm.wrap.out 2>&1) &&
	test_grep "^db/000002_m2.up.sql: error: up.sql of 000002_m2 wraps itself in BEGIN ... COMMIT" gm.wrap.out &&
	GM_DDL="CREATE TABLE IF NOT EXISTS schema_migrations (version uint64, dirty bool); CREATE UNIQUE INDEX IF NOT EXISTS version_unique ON schema_migrations (version);" &&
	by_hand gm.full.db "$GM_DDL" &&
	sqlite3 gm.db "$GM_DDL INSERT INTO schema_migrations (version, dirty) VALUES (2, false); $UP1 $UP2" &&
	take_over gm golang-migrate gm.db schema_migrations "000001:applied 000002:applied" "000001:applied 000002:applied 000003:applied" "db --strip-transaction-wrappers" &&
	test_grep ! "BEGIN\|COMMIT" gm/migrations/000002_m2/up.sql &&
	reapply gm gm.db 2
'

test_expect_success 'goose: StatementBegin/End around a trigger body, NO TRANSACTION; its log (version 0 first, then a row per up) adopts 1 and 2' '
	import_project gs &&
	adopt_layout goose gs &&
	GS_DDL="CREATE TABLE goose_db_version (id INTEGER PRIMARY KEY AUTOINCREMENT, version_id INTEGER NOT NULL, is_applied INTEGER NOT NULL, tstamp TIMESTAMP DEFAULT (datetime('"'"'now'"'"')));" &&
	by_hand gs.full.db "$GS_DDL" "$UP1 $UP2 $FN_UP $UP3" &&
	sqlite3 gs.db "$GS_DDL INSERT INTO goose_db_version (version_id, is_applied) VALUES (0, 1), (1, 1), (2, 1); $UP1 $UP2 $FN_UP" &&
	take_over gs goose gs.db goose_db_version "00001:applied 00002:applied" "00001:applied 00002:applied 00003:applied" db &&
	test "$(q gs.db "SELECT transactional FROM cairn_migrations WHERE version = '"'"'00003'"'"'")" = 0 &&
	reapply gs gs.db 1 &&
	cairn-apply rollback --db sqlite:gs.db --last 2 >gs.rb2.out 2>&1 &&
	test "$(q gs.db "SELECT count(*) FROM sqlite_master WHERE name IN ('"'"'users_email_lower'"'"', '"'"'orders'"'"')")" = 0 &&
	cairn-apply apply gs.tar.gz --env dev --db sqlite:gs.db $ACCESS >gs.apply.out 2>&1 &&
	schema gs.db >actual && schema gs.full.db >expect && test_cmp expect actual &&
	q gs.db "INSERT INTO users (email) VALUES ('"'"'ANN@EXAMPLE.COM'"'"')" &&
	test "$(q gs.db "SELECT email FROM users")" = ann@example.com
'

test_expect_success 'pop (ory popx): 20-digit versions above 2^64, per-dialect files for 2 and the generic fallback for 1 and 3; schema_migration, a row per version' '
	import_project pp &&
	adopt_layout pop pp &&
	by_hand pp.full.db "$POPX_DDL" &&
	sqlite3 pp.db "$POPX_DDL INSERT INTO schema_migration (version) VALUES ('"'"'${POPV}1'"'"'), ('"'"'${POPV}2'"'"'); $UP1 $UP2" &&
	take_over pp pop pp.db schema_migration "${POPV}1:applied ${POPV}2:applied" "${POPV}1:applied ${POPV}2:applied ${POPV}3:applied" &&
	test_grep "^CREATE TABLE orders (id integer PRIMARY KEY" pp/migrations/${POPV}2_m2/up.sqlite.sql &&
	test_grep "serial" pp/migrations/${POPV}2_m2/up.postgres.sql &&
	test ! -e pp/migrations/${POPV}1_m1/up.postgres.sql &&
	reapply pp pp.db 1
'

test_expect_success 'diesel: __diesel_schema_migrations, versions without the dashes of the directory names' '
	import_project ds &&
	adopt_layout diesel ds &&
	DS_DDL="CREATE TABLE IF NOT EXISTS __diesel_schema_migrations (version VARCHAR(50) PRIMARY KEY NOT NULL, run_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP);" &&
	by_hand ds.full.db "$DS_DDL" &&
	sqlite3 ds.db "$DS_DDL INSERT INTO __diesel_schema_migrations (version) VALUES ('"'"'20240101000001'"'"'), ('"'"'20240101000002'"'"'); $UP1 $UP2" &&
	take_over ds diesel ds.db __diesel_schema_migrations "20240101000001:applied 20240101000002:applied" "20240101000001:applied 20240101000002:applied 20240101000003:applied" &&
	reapply ds ds.db
'

test_expect_success 'Prisma: _prisma_migrations with the SHA-256 of each migration.sql; no downs, so nothing to roll back' '
	import_project pr &&
	d=pr/prisma/migrations &&
	adopt_layout prisma pr sqlite &&
	PR_DDL="CREATE TABLE \"_prisma_migrations\" (\"id\" TEXT PRIMARY KEY NOT NULL, \"checksum\" TEXT NOT NULL, \"finished_at\" DATETIME, \"migration_name\" TEXT NOT NULL, \"logs\" TEXT, \"rolled_back_at\" DATETIME, \"started_at\" DATETIME NOT NULL DEFAULT current_timestamp, \"applied_steps_count\" INTEGER UNSIGNED NOT NULL DEFAULT 0);" &&
	by_hand pr.full.db "$PR_DDL" &&
	sqlite3 pr.db "$PR_DDL" &&
	for i in 1 2; do
		s=$(sha256sum $d/2024010100000${i}_m$i/migration.sql | cut -d" " -f1) &&
		sqlite3 pr.db "INSERT INTO _prisma_migrations (id, checksum, finished_at, migration_name, started_at, applied_steps_count) VALUES ('"'"'id$i'"'"', '"'"'$s'"'"', '"'"'2024-01-01 00:00:0$i'"'"', '"'"'2024010100000${i}_m$i'"'"', '"'"'2024-01-01 00:00:0$i'"'"', 1)" || return 1
	done &&
	sqlite3 pr.db "$UP1 $UP2" &&
	take_over pr prisma pr.db _prisma_migrations "20240101000001:applied 20240101000002:applied" "20240101000001:applied 20240101000002:applied 20240101000003:applied"
'

# Last: it trusts the bundle through a config ($ACCESS), not --key.
test_expect_success 'diesel with a SQLite extension: 4 calls BIN2B64, loaded from sqlite: {extensions:} by adopt, apply and plan; 1 and 2 adopted' '
	mkdir -p ext && cc -shared -fPIC -o ext/b64.so "$TEST_DIRECTORY/fixtures/sqlite-b64.c" &&
	cat >ext.yaml <<-\EOF &&
	defaults:
	  builders: [ci.pub]
	environments:
	  dev:
	    sqlite: { extensions: [ext/b64.so] }
	EOF
	import_project dx &&
	adopt_layout diesel dx &&
	m4=dx/migrations/2024-01-01-000004_m4 && mkdir $m4 &&
	echo "ALTER TABLE users ADD COLUMN email_b64 text; UPDATE users SET email_b64 = BIN2B64(email);" >$m4/up.sql &&
	echo "ALTER TABLE users DROP COLUMN email_b64;" >$m4/down.sql &&
	DS_DDL="CREATE TABLE IF NOT EXISTS __diesel_schema_migrations (version VARCHAR(50) PRIMARY KEY NOT NULL, run_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP);" &&
	SEED="INSERT INTO users (email) VALUES ('"'"'ann@example.com'"'"');" &&
	by_hand dx.full.db "$DS_DDL" "$UP1 $SEED $UP2 $UP3" &&
	sqlite3 -cmd ".load $TRASH_DIRECTORY/ext/b64.so" dx.full.db "$(cat $m4/up.sql)" &&
	sqlite3 dx.db "$DS_DDL INSERT INTO __diesel_schema_migrations (version) VALUES ('"'"'20240101000001'"'"'), ('"'"'20240101000002'"'"'); $UP1 $SEED $UP2" &&
	ACCESS="--config $TRASH_DIRECTORY/ext.yaml" &&
	take_over dx diesel dx.db __diesel_schema_migrations "20240101000001:applied 20240101000002:applied" "20240101000001:applied 20240101000002:applied 20240101000003:applied 20240101000004:applied" &&
	test "$(q dx.db "SELECT email_b64 FROM users")" = YW5uQGV4YW1wbGUuY29t &&
	sum=$(sha256sum ext/b64.so | cut -d" " -f1) &&
	test "$(q dx.db "SELECT count(*) FROM cairn_audit WHERE action IN ('"'"'adopt'"'"', '"'"'apply'"'"') AND detail NOT LIKE '"'"'%sqlite_extensions=$TRASH_DIRECTORY/ext/b64.so sha256:$sum%'"'"'")" = 0 &&
	test_must_fail --exit=3 cairn-apply rollback --db sqlite:dx.db --last 1 >rb.out 2>&1 &&
	test_grep "policy=1" rb.out &&
	RB_ACCESS="$ACCESS --env dev" &&
	reapply dx dx.db 2 &&
	test "$(q dx.db "SELECT email_b64 FROM users")" = YW5uQGV4YW1wbGUuY29t &&
	ACCESS=$KEY && RB_ACCESS=
'

test_done
