#!/bin/sh
test_description='declarative column changes (issue #22), without a server: the errors of check and build with file:line and the way out, the generated SQL clean of lint findings, and SET NOT NULL after a validated CHECK'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"

unset CAIRN_ENV CAIRN_DB CAIRN_LOCK_TIMEOUT

# proj DIR DRIVERS: a project with a users table
proj() {
	apply_project "$1" &&
	sed -i -e "s/^drivers: .*/drivers: [$2]/" "$1/cairn.yaml" &&
	apply_mig "$1" 0001_users "CREATE TABLE users (id bigint PRIMARY KEY, name text);" "DROP TABLE users;"
}

# op DIR NAME YAML
op() {
	mkdir -p "$1/migrations/$2" &&
	printf '%s\n' "$3" >"$1/migrations/$2/migration.yaml"
}

test_expect_success 'an operation in a SQLite-only project is an error of check and build, at its line, with the way out' '
	proj s sqlite &&
	op s 0002_rename "description: rename
operation:
  rename_column: {table: users, column: name, to: full_name, type: text}" &&
	test_commit s one &&
	test_expect_code 1 cairn -C s check >out 2>&1 &&
	test_grep "migrations/0002_rename/migration.yaml:3: error: bad-operation: operation: rename_column generates PostgreSQL SQL, and cairn.yaml targets SQLite only (drivers:); write up.sql and down.sql yourself, or say drivers: \[postgres\] in cairn.yaml" out &&
	test_must_fail cairn -C s build -o ../s.tar.gz >out 2>&1 &&
	test_grep "migration.yaml:3: error: bad-operation" out &&
	! test -e s.tar.gz
'

test_expect_success 'unknown keys and operations, missing keys and bad names are errors at their line' '
	proj k postgres &&
	op k 0002_a "operation:
  rename_column: {table: users, colum: name, to: full_name, type: text}" &&
	op k 0003_b "operation:
  rename_colum: {table: users}" &&
	op k 0004_c "phase: contract
operation:
  add_check:
    table: users
    name: Bad-Name
    check: id > 0" &&
	op k 0005_d "operation:
  change_type: {table: users, column: id, to: id2, type: \"bigint; drop table users\", from_type: bigint, using: id, down_using: id2}" &&
	test_commit k one &&
	test_expect_code 1 cairn -C k check >out 2>&1 &&
	test_grep "0002_a/migration.yaml:2: error: unknown-key: unknown key .rename_column: colum. (cairn knows rename_column: {table, column, to, type}" out &&
	test_grep "0002_a/migration.yaml:2: error: bad-operation: .operation: rename_column. needs .column." out &&
	test_grep "0003_b/migration.yaml:2: error: unknown-key: unknown operation .rename_colum.; did you mean .rename_column.?" out &&
	test_grep "0004_c/migration.yaml:5: error: bad-operation: .name. must be a lower-case name" out &&
	test_grep "0005_d/migration.yaml:2: error: bad-operation: .type. must be a column type such as numeric(12,2)" out
'

test_expect_success 'SQL of its own beside an operation, a narrowing operation outside a contract migration, a contract step without its expand step, are errors' '
	proj o "sqlite, postgres" &&
	op o 0002_nn "operation:
  set_not_null: {table: users, column: name}" &&
	printf "ALTER TABLE users ALTER COLUMN name SET NOT NULL;\n" >o/migrations/0002_nn/up.sql &&
	op o 0003_b "kind: batch
phase: contract
operation:
  rename_column: {table: users, column: name, to: full_name, type: text}" &&
	op o 0004_c "phase: contract
destructive: true
operation:
  rename_column: {table: users, column: name, to: full_name, type: text}" &&
	test_commit o one &&
	test_expect_code 1 cairn -C o check >out 2>&1 &&
	test_grep "0004_c/migration.yaml:4: error: bad-operation: operation: rename_column.s contract step has no expand step before it, which adds users.full_name and its trigger" out &&
	test_grep "migrations/0002_nn/up.sql: error: bad-operation: migrations/0002_nn/migration.yaml says operation: set_not_null, whose PostgreSQL SQL cairn build generates; delete up.sql (for SQLite, name it up.sqlite.sql or down.sqlite.sql)" out &&
	test_grep "0002_nn/migration.yaml:2: error: bad-operation: operation: set_not_null narrows what the running release may write, so it is one contract migration: add phase: contract to migration.yaml" out &&
	test_grep "0003_b/migration.yaml:4: error: bad-operation: operation: rename_column: a backfill (kind: batch) is an expand step" out
'

test_expect_success 'the generated SQL has no finding of check or lint; plain SQL doing the same unsafely has them' '
	proj g postgres &&
	for step in "" "kind: batch" "phase: contract
destructive: true"; do
		n=$((${n:-1} + 1)) &&
		op g 000${n}_rename "$step
operation:
  change_type: {table: users, column: id, to: id2, type: numeric, from_type: bigint, using: id::numeric, down_using: id2::bigint}" || return 1
	done &&
	op g 0005_nn "phase: contract
operation:
  set_not_null: {table: users, column: name}" &&
	op g 0006_ck "phase: contract
operation:
  add_check: {table: users, name: users_name_long, check: length(name) > 2}" &&
	op g 0007_fk "phase: contract
operation:
  add_foreign_key: {table: users, columns: [id], references: {table: public.people, columns: [id]}}" &&
	op g 0008_uq "phase: contract
operation:
  add_unique: {table: users, columns: [name]}" &&
	test_commit g one &&
	cairn -C g check >out 2>&1 &&
	test_grep "8 migrations checked, 0 warnings" out &&
	apply_mig g 0009_plain "ALTER TABLE users ALTER COLUMN name SET NOT NULL;
ALTER TABLE users ADD CONSTRAINT users_name_key UNIQUE (name);" "SELECT 1;" "phase: contract" &&
	test_commit g two &&
	cairn -C g check >out 2>&1 &&
	test_grep "0009_plain/up.sql:1: warning: set-not-null" out &&
	test_grep "0009_plain/up.sql:2: warning: unique-constraint" out &&
	(cd g && cairn lint) >lint.out 2>&1 &&
	test_grep "cairn: 9 files linted, 0 errors, 3 warnings" lint.out &&
	test_grep "0009_plain/up.sql:1:1: warning: set-not-null" lint.out &&
	(cd g && cairn lint migrations/0005_nn) >lint.out 2>&1 &&
	test_grep "cairn: 1 file linted, 0 errors, 0 warnings" lint.out
'

test_expect_success 'SET NOT NULL after a CHECK (col IS NOT NULL) validated in the script is not a finding; unvalidated, or on another column, it is' '
	cat >nn.sql <<-\EOF &&
	ALTER TABLE users ADD CONSTRAINT users_name_nn CHECK (name IS NOT NULL) NOT VALID;
	ALTER TABLE users VALIDATE CONSTRAINT users_name_nn;
	ALTER TABLE users ALTER COLUMN name SET NOT NULL;
	EOF
	cairn lint nn.sql >out 2>&1 &&
	test_grep ! "set-not-null" out &&
	sed -e 2d nn.sql >nv.sql &&
	cairn lint nv.sql >out 2>&1 &&
	test_grep "nv.sql:2:1: warning: set-not-null" out &&
	sed -e "s/name IS NOT NULL/id IS NOT NULL/" nn.sql >other.sql &&
	cairn lint other.sql >out 2>&1 &&
	test_grep "other.sql:3:1: warning: set-not-null" out
'

test_expect_success 'build writes the generated scripts as members, the same bytes each time' '
	(cd g && cairn build -o ../g1.tar.gz >/dev/null 2>&1 && cairn build -o ../g2.tar.gz >/dev/null 2>&1) &&
	cmp g1.tar.gz g2.tar.gz &&
	tar xzf g1.tar.gz &&
	ls g-0009/migrations/0005_nn >files &&
	printf "down.postgres.sql\nmigration.yaml\nup.postgres.sql\n" >want && test_cmp want files &&
	cat >want <<-\EOF &&
	-- generated by cairn build from operation: set_not_null in migration.yaml (contract step)
	ALTER TABLE "users" DROP CONSTRAINT IF EXISTS "cairn_nn_users_name";
	ALTER TABLE "users" ADD CONSTRAINT "cairn_nn_users_name" CHECK ("name" IS NOT NULL) NOT VALID;
	ALTER TABLE "users" VALIDATE CONSTRAINT "cairn_nn_users_name";
	ALTER TABLE "users" ALTER COLUMN "name" SET NOT NULL;
	ALTER TABLE "users" DROP CONSTRAINT "cairn_nn_users_name";
	EOF
	test_cmp want g-0009/migrations/0005_nn/up.postgres.sql &&
	(cd g-0009 && sha256sum -c --quiet SHA256SUMS) &&
	grep -A12 "name: \"0005_nn\"" g-0009/manifest.yaml >m &&
	test_grep "no_transaction: \[postgres\]" m &&
	test_grep "lock_timeout_ms: 2000" m
'

test_done
