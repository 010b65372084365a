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

# by_hand DB HISTORY_DDL: the tool's history table, empty, and every
# original applied by hand: the schema the tool gives with all three.
by_hand() {
	sqlite3 "$1" "$2" &&
	sqlite3 "$1" "$UP1 $UP2 $UP3"
}

# take_over P TOOL DB TABLE ADOPTED ALL [IMPORT_ARGS]: cairn import in P
# (the tool's files there), build, adopt TOOL's history on DB: the books
# hold ADOPTED, TABLE and the schema are untouched; then apply the rest
# (ALL), and the schema is the one applying the originals by hand gives.
take_over() {
	(cd "$1" && cairn import --from "$2" $7 >../"$1".import.out 2>&1) &&
	apply_build "$1" "$TRASH_DIRECTORY/$1.tar.gz" &&
	q "$3" "SELECT * FROM $4" >"$1".hist.before &&
	schema "$3" >"$1".schema.before &&
	cairn-apply adopt --from "$2" --db "sqlite:$3" "$1.tar.gz" $KEY --env dev >"$1".adopt.out 2>&1 &&
	test "$(books "$3")" = "$5" &&
	test "$(q "$3" "SELECT count(*) FROM cairn_audit WHERE action = 'adopt' AND detail LIKE 'adopted from $2: $4 %'")" = "$(echo "$5" | wc -w)" &&
	q "$3" "SELECT * FROM $4" >"$1".hist.after &&
	test_cmp "$1".hist.before "$1".hist.after &&
	schema "$3" >"$1".schema.after &&
	test_cmp "$1".schema.before "$1".schema.after &&
	cairn-apply plan "$1.tar.gz" --env dev --db "sqlite:$3" $KEY >"$1".plan &&
	test_grep "^1 to apply, 2 skipped$" "$1".plan &&
	cairn-apply apply "$1.tar.gz" --env dev --db "sqlite:$3" $KEY >"$1".apply.out 2>&1 &&
	test "$(books "$3")" = "$6" &&
	q "$3" "SELECT * FROM $4" >"$1".hist.after &&
	test_cmp "$1".hist.before "$1".hist.after &&
	schema "$3" >actual &&
	schema "$1".full.db >expect &&
	test_cmp expect actual &&
	cairn-apply history --db "sqlite:$3" --verify >"$1".hist 2>&1
}

# reapply P DB: roll back the last migration and apply it again.
reapply() {
	cairn-apply rollback --db "sqlite:$2" --last 1 >"$1".rb.out 2>&1 &&
	test "$(q "$2" "SELECT count(*) FROM sqlite_master WHERE name = 'orders_user'")" = 0 &&
	cairn-apply apply "$1.tar.gz" --env dev --db "sqlite:$2" $KEY >"$1".apply.out 2>&1 &&
	test "$(q "$2" "SELECT count(*) FROM sqlite_master WHERE name = 'orders_user'")" = 1
}

# Flyway's table on SQLite, as its SQLite createMetaDataTable.sql makes it.
FLYWAY_DDL="CREATE TABLE flyway_schema_history (installed_rank INT NOT NULL PRIMARY KEY, version VARCHAR(50), description VARCHAR(200) NOT NULL, type VARCHAR(20) NOT NULL, script VARCHAR(1000) NOT NULL, checksum INT, installed_by VARCHAR(100) NOT NULL, installed_on TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f','now')), execution_time INT NOT NULL, success BOOLEAN NOT NULL); CREATE INDEX flyway_schema_history_s_idx ON flyway_schema_history (success);"

test_expect_success 'Flyway: V1 wraps itself in BEGIN/COMMIT (stripped by the import), adopted by the checksum of the original; its undo scripts roll back' '
	import_project fw &&
	adopt_layout flyway fw &&
	by_hand fw.full.db "$FLYWAY_DDL" &&
	sqlite3 fw.db "$FLYWAY_DDL" &&
	sqlite3 fw.db "INSERT INTO flyway_schema_history (installed_rank, version, description, type, script, checksum, installed_by, execution_time, success) VALUES (1, '"'"'1'"'"', '"'"'users'"'"', '"'"'SQL'"'"', '"'"'V1__users.sql'"'"', $(flyway_crc fw/sql/V1__users.sql), '"'"'ops'"'"', 4, 1), (2, '"'"'2'"'"', '"'"'orders'"'"', '"'"'SQL'"'"', '"'"'V2__orders.sql'"'"', $(flyway_crc fw/sql/V2__orders.sql), '"'"'ops'"'"', 3, 1)" &&
	sqlite3 fw.db "$UP1 $UP2" &&
	take_over fw flyway fw.db flyway_schema_history "1:applied 2:applied" "1:applied 2:applied 3:applied" "sql --strip-transaction-wrappers" &&
	reapply fw fw.db
'

test_expect_success 'golang-migrate: its one row (version 2, not dirty) adopts 1 and 2' '
	import_project gm &&
	adopt_layout golang-migrate gm &&
	GM_DDL="CREATE TABLE IF NOT EXISTS schema_migrations (version uint64, dirty bool); CREATE UNIQUE INDEX IF NOT EXISTS version_unique ON schema_migrations (version);" &&
	by_hand gm.full.db "$GM_DDL" &&
	sqlite3 gm.db "$GM_DDL INSERT INTO schema_migrations (version, dirty) VALUES (2, false); $UP1 $UP2" &&
	take_over gm golang-migrate gm.db schema_migrations "000001:applied 000002:applied" "000001:applied 000002:applied 000003:applied" db &&
	reapply gm gm.db
'

test_expect_success 'goose: its log (version 0 first, then one row per up) adopts 1 and 2' '
	import_project gs &&
	adopt_layout goose gs &&
	GS_DDL="CREATE TABLE goose_db_version (id INTEGER PRIMARY KEY AUTOINCREMENT, version_id INTEGER NOT NULL, is_applied INTEGER NOT NULL, tstamp TIMESTAMP DEFAULT (datetime('"'"'now'"'"')));" &&
	by_hand gs.full.db "$GS_DDL" &&
	sqlite3 gs.db "$GS_DDL INSERT INTO goose_db_version (version_id, is_applied) VALUES (0, 1), (1, 1), (2, 1); $UP1 $UP2" &&
	take_over gs goose gs.db goose_db_version "00001:applied 00002:applied" "00001:applied 00002:applied 00003:applied" db &&
	reapply gs gs.db
'

test_expect_success 'pop: schema_migration, a row per version' '
	import_project pp &&
	adopt_layout pop pp &&
	PP_DDL="CREATE TABLE schema_migration (version TEXT NOT NULL); CREATE UNIQUE INDEX schema_migration_version_idx ON schema_migration (version);" &&
	by_hand pp.full.db "$PP_DDL" &&
	sqlite3 pp.db "$PP_DDL INSERT INTO schema_migration VALUES ('"'"'20240101000001'"'"'), ('"'"'20240101000002'"'"'); $UP1 $UP2" &&
	take_over pp pop pp.db schema_migration "20240101000001:applied 20240101000002:applied" "20240101000001:applied 20240101000002:applied 20240101000003:applied" &&
	reapply pp pp.db
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

test_done
