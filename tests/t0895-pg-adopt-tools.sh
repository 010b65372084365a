#!/bin/sh
test_description='cairn import then cairn-apply adopt, end to end on PostgreSQL, for Flyway, golang-migrate, goose, pop, diesel and Prisma: the tool.s history table as the tool creates it on PostgreSQL, adopted, the rest applied'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"
. "$TEST_DIRECTORY/lib-import.sh"
. "$TEST_DIRECTORY/lib-adopt.sh"
. "$TEST_DIRECTORY/lib-pg.sh"

pg_start

UP1="CREATE TABLE users (id serial PRIMARY KEY, email text NOT NULL);"
DOWN1="DROP TABLE users;"
UP2="CREATE TABLE orders (id serial PRIMARY KEY, user_id integer REFERENCES users (id));"
DOWN2="DROP TABLE orders;"
UP3="CREATE INDEX orders_user ON orders (user_id);"
DOWN3="DROP INDEX orders_user;"
# goose's StatementBegin/End body: a PL/pgSQL function, whose $$ body holds ;
FN_UP='CREATE FUNCTION order_count(uid integer) RETURNS bigint LANGUAGE plpgsql AS $$ BEGIN RETURN (SELECT count(*) FROM orders WHERE user_id = uid); END; $$;'
FN_DOWN="DROP FUNCTION order_count(integer);"
# pop: change 2 for sqlite3 too, which must not be what PostgreSQL gets
POP_DIALECT=postgres POP_OTHER=sqlite3
POP_OTHER2="CREATE TABLE orders (id integer PRIMARY KEY, user_id integer);"
# ory popx's schema_migration (ory/x popx/migrator.go,
# createTransactionalMigrationTable): the table of pop/soda projects with
# 20-digit versions; pop's own (gobuffalo/pop schema_migrations.go) holds 14.
POPX_DDL="CREATE TABLE schema_migration (version VARCHAR (48) NOT NULL, version_self INT NOT NULL DEFAULT 0); CREATE UNIQUE INDEX schema_migration_version_idx ON schema_migration (version); CREATE INDEX schema_migration_version_self_idx ON schema_migration (version_self);"

pg_project() {
	import_project "$1" &&
	sed -i -e 's/^drivers: .*/drivers: [postgres]/' "$1/cairn.yaml"
}

pg_books() {
	pg_sql -d "$1" -c "select string_agg(version || ':' || state, ' ' order by version) from cairn.cairn_migrations"
}

# app_schema DB: the public schema, history table included (pg_dump's
# \restrict keys differ from one run to the next).
app_schema() {
	"$PG_BINDIR/pg_dump" -s -n public --no-owner "$1" | grep -Ev '^(--|$|\\(un)?restrict )'
}

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

# by_hand DB HISTORY_DDL [SQL]: the history table, empty, and every
# original applied by hand (SQL, default the three ups): the schema the
# tool gives with all of them.
by_hand() {
	pg_fresh_db "$1" && pg_sql -d "$1" -c "$2" -c "${3:-$UP1 $UP2 $UP3}"
}

# pg_take_over P TOOL DB TABLE ADOPTED ALL [IMPORT_ARGS]: as t0890's
# take_over, on PostgreSQL; DB.full is the by-hand database.
pg_take_over() {
	nadopt=$(echo "$5" | wc -w) && nall=$(echo "$6" | wc -w) &&
	(cd "$1" && cairn import --from "$2" $7 >../"$1".import.out 2>&1) &&
	apply_build "$1" "$TRASH_DIRECTORY/$1.tar.gz" &&
	pg_sql -d "$3" -c "select * from $4 order by 1" >"$1".hist.before &&
	app_schema "$3" >"$1".schema.before &&
	cairn-apply adopt --from "$2" --db "host=$PGHOST dbname=$3" "$1.tar.gz" $KEY --env dev >"$1".adopt.out 2>&1 &&
	test "$(pg_books "$3")" = "$5" &&
	test "$(pg_sql -d "$3" -c "select count(*) from cairn.cairn_audit where action = 'adopt' and detail like 'adopted from $2: $4 %'")" = "$nadopt" &&
	pg_sql -d "$3" -c "select * from $4 order by 1" >"$1".hist.after &&
	test_cmp "$1".hist.before "$1".hist.after &&
	app_schema "$3" >"$1".schema.after &&
	test_cmp "$1".schema.before "$1".schema.after &&
	cairn-apply plan "$1.tar.gz" --env dev --db "host=$PGHOST dbname=$3" $KEY >"$1".plan &&
	test_grep "^$((nall - nadopt)) to apply, $nadopt skipped$" "$1".plan &&
	cairn-apply apply "$1.tar.gz" --env dev --db "host=$PGHOST dbname=$3" $KEY >"$1".apply.out 2>&1 &&
	test "$(pg_books "$3")" = "$6" &&
	pg_sql -d "$3" -c "select * from $4 order by 1" >"$1".hist.after &&
	test_cmp "$1".hist.before "$1".hist.after &&
	app_schema "$3" >actual &&
	app_schema "$3"full >expect &&
	test_cmp expect actual &&
	cairn-apply history --db "host=$PGHOST dbname=$3" --verify >"$1".hist 2>&1
}

# pg_reapply P DB [N]: the last N migrations (default 1) rolled back and
# applied again; the schema is the by-hand one again.
pg_reapply() {
	cairn-apply rollback --db "host=$PGHOST dbname=$2" --last "${3:-1}" >"$1".rb.out 2>&1 &&
	test "$(pg_sql -d "$2" -c "select count(*) from pg_indexes where indexname = 'orders_user'")" = 0 &&
	cairn-apply apply "$1.tar.gz" --env dev --db "host=$PGHOST dbname=$2" $KEY >"$1".apply.out 2>&1 &&
	test "$(pg_sql -d "$2" -c "select count(*) from pg_indexes where indexname = 'orders_user'")" = 1 &&
	app_schema "$2" >actual && app_schema "$2"full >expect && test_cmp expect actual
}

# Flyway's PostgreSQL createMetaDataTable.sql.
FLYWAY_DDL='CREATE TABLE "public"."flyway_schema_history" ("installed_rank" INT NOT NULL, "version" VARCHAR(50), "description" VARCHAR(200) NOT NULL, "type" VARCHAR(20) NOT NULL, "script" VARCHAR(1000) NOT NULL, "checksum" INTEGER, "installed_by" VARCHAR(100) NOT NULL, "installed_on" TIMESTAMP NOT NULL DEFAULT now(), "execution_time" INTEGER NOT NULL, "success" BOOLEAN NOT NULL); ALTER TABLE "public"."flyway_schema_history" ADD CONSTRAINT "flyway_schema_history_pk" PRIMARY KEY ("installed_rank"); CREATE INDEX "flyway_schema_history_s_idx" ON "public"."flyway_schema_history" ("success");'

# fw_row RANK VERSION FILE: a successful SQL row of fw's history as Flyway
# writes it, its checksum the CRC32 of the original file.
fw_row() {
	pg_sql -d fw -c "INSERT INTO flyway_schema_history (installed_rank, version, description, type, script, checksum, installed_by, execution_time, success) VALUES ($1, '$2', 'x', 'SQL', '$3', $(flyway_crc "fw/sql/$3"), 'ops', 1, true)"
}

test_expect_success 'Flyway on PostgreSQL: ${schema} written in, 1.2.10 after a no-op 1.2.9, V1 wrapped in BEGIN/COMMIT, adopted by the checksum of the original' '
	pg_project fw &&
	adopt_layout flyway fw &&
	(cd fw && test_must_fail --exit=1 cairn import --from flyway sql --strip-transaction-wrappers >../fw.ph.out 2>&1) &&
	test_grep "^sql/V2__user_emails.sql: error: uses a Flyway placeholder" fw.ph.out &&
	sed -i "s/\${schema}/public/g" fw/sql/V2__user_emails.sql &&
	by_hand fwfull "$FLYWAY_DDL" "$UP1 $UP2 $(cat fw/sql/V2__user_emails.sql) $UP3" &&
	pg_fresh_db fw &&
	pg_sql -d fw -c "$FLYWAY_DDL" -c "$UP1 $UP2" &&
	fw_row 1 1 V1__users.sql && fw_row 2 1.2.9 V1.2.9__skipped.sql && fw_row 3 1.2.10 V1.2.10__orders.sql &&
	pg_take_over fw flyway fw flyway_schema_history "10000:applied 10209:applied 10210:applied" "10000:applied 10209:applied 10210:applied 20000:applied 30000:applied" "sql --strip-transaction-wrappers" &&
	test "$(pg_sql -d fw -c "select count(*) from pg_views where viewname = '"'"'user_emails'"'"'")" = 1 &&
	pg_reapply fw fw 2
'

test_expect_success 'golang-migrate on PostgreSQL: 2 wraps itself in BEGIN/COMMIT (refused, then stripped); version 2, not dirty' '
	pg_project gm &&
	adopt_layout golang-migrate gm &&
	GM_DDL="CREATE TABLE IF NOT EXISTS \"schema_migrations\" (version bigint not null primary key, dirty boolean not null);" &&
	by_hand gmfull "$GM_DDL" &&
	pg_fresh_db gm &&
	pg_sql -d gm -c "$GM_DDL" -c "INSERT INTO schema_migrations (version, dirty) VALUES (2, false)" -c "$UP1 $UP2" &&
	(cd gm && test_must_fail --exit=1 cairn import --from golang-migrate db >../gm.wrap.out 2>&1) &&
	test_grep "^db/000002_m2.up.sql: error: up.sql of 000002_m2 wraps itself in BEGIN ... COMMIT" gm.wrap.out &&
	pg_take_over gm golang-migrate gm schema_migrations "000001:applied 000002:applied" "000001:applied 000002:applied 000003:applied" "db --strip-transaction-wrappers" &&
	pg_reapply gm gm 2
'

test_expect_success 'goose on PostgreSQL: a PL/pgSQL function between StatementBegin/End, NO TRANSACTION; its log, version 0 first' '
	pg_project gs &&
	adopt_layout goose gs &&
	GS_DDL="CREATE TABLE goose_db_version (id serial NOT NULL, version_id bigint NOT NULL, is_applied boolean NOT NULL, tstamp timestamp NULL default now(), PRIMARY KEY(id));" &&
	by_hand gsfull "$GS_DDL" "$UP1 $UP2 $FN_UP $UP3" &&
	pg_fresh_db gs &&
	pg_sql -d gs -c "$GS_DDL" -c "INSERT INTO goose_db_version (version_id, is_applied) VALUES (0, true), (1, true), (2, true)" -c "$UP1 $UP2 $FN_UP" &&
	pg_take_over gs goose gs goose_db_version "00001:applied 00002:applied" "00001:applied 00002:applied 00003:applied" db &&
	test "$(pg_sql -d gs -c "select transactional from cairn.cairn_migrations where version = '"'"'00003'"'"'")" = f &&
	pg_reapply gs gs 1 &&
	cairn-apply rollback --db "host=$PGHOST dbname=gs" --last 2 >gs.rb2.out 2>&1 &&
	test "$(pg_sql -d gs -c "select count(*) from pg_proc where proname = '"'"'order_count'"'"'")" = 0 &&
	cairn-apply apply gs.tar.gz --env dev --db "host=$PGHOST dbname=gs" $KEY >gs.apply.out 2>&1 &&
	app_schema gs >actual && app_schema gsfull >expect && test_cmp expect actual &&
	pg_sql -d gs -c "INSERT INTO users (email) VALUES ('"'"'ann@example.com'"'"'); INSERT INTO orders (user_id) SELECT id FROM users" &&
	test "$(pg_sql -d gs -c "select order_count(id) from users")" = 1
'

test_expect_success 'pop (ory popx) on PostgreSQL: 20-digit versions above 2^64, per-dialect files for 2, the generic fallback for 1 and 3' '
	pg_project pp &&
	adopt_layout pop pp &&
	by_hand ppfull "$POPX_DDL" &&
	pg_fresh_db pp &&
	pg_sql -d pp -c "$POPX_DDL" -c "INSERT INTO schema_migration (version) VALUES ('"'"'${POPV}1'"'"'), ('"'"'${POPV}2'"'"')" -c "$UP1 $UP2" &&
	pg_take_over pp pop pp schema_migration "${POPV}1:applied ${POPV}2:applied" "${POPV}1:applied ${POPV}2:applied ${POPV}3:applied" &&
	test_grep "REFERENCES" pp/migrations/${POPV}2_m2/up.postgres.sql &&
	pg_reapply pp pp 1
'

test_expect_success 'diesel on PostgreSQL: __diesel_schema_migrations' '
	pg_project ds &&
	adopt_layout diesel ds &&
	DS_DDL="CREATE TABLE IF NOT EXISTS __diesel_schema_migrations (version VARCHAR(50) PRIMARY KEY NOT NULL, run_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP);" &&
	by_hand dsfull "$DS_DDL" &&
	pg_fresh_db ds &&
	pg_sql -d ds -c "$DS_DDL" -c "INSERT INTO __diesel_schema_migrations (version) VALUES ('"'"'20240101000001'"'"'), ('"'"'20240101000002'"'"')" -c "$UP1 $UP2" &&
	pg_take_over ds diesel ds __diesel_schema_migrations "20240101000001:applied 20240101000002:applied" "20240101000001:applied 20240101000002:applied 20240101000003:applied" &&
	pg_reapply ds ds
'

test_expect_success 'Prisma on PostgreSQL: _prisma_migrations with the SHA-256 of each migration.sql' '
	pg_project pr &&
	d=pr/prisma/migrations &&
	adopt_layout prisma pr postgresql &&
	PR_DDL="CREATE TABLE \"_prisma_migrations\" (\"id\" VARCHAR(36) PRIMARY KEY NOT NULL, \"checksum\" VARCHAR(64) NOT NULL, \"finished_at\" TIMESTAMPTZ, \"migration_name\" VARCHAR(255) NOT NULL, \"logs\" TEXT, \"rolled_back_at\" TIMESTAMPTZ, \"started_at\" TIMESTAMPTZ NOT NULL DEFAULT now(), \"applied_steps_count\" INTEGER NOT NULL DEFAULT 0);" &&
	by_hand prfull "$PR_DDL" &&
	pg_fresh_db pr &&
	pg_sql -d pr -c "$PR_DDL" -c "$UP1 $UP2" &&
	for i in 1 2; do
		s=$(sha256sum $d/2024010100000${i}_m$i/migration.sql | cut -d" " -f1) &&
		pg_sql -d pr -c "INSERT INTO _prisma_migrations (id, checksum, finished_at, migration_name, started_at, applied_steps_count) VALUES ('"'"'id$i'"'"', '"'"'$s'"'"', now(), '"'"'2024010100000${i}_m$i'"'"', now(), 1)" || return 1
	done &&
	pg_take_over pr prisma pr _prisma_migrations "20240101000001:applied 20240101000002:applied" "20240101000001:applied 20240101000002:applied 20240101000003:applied"
'

test_done
