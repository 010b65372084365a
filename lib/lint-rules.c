/* The rule table (lint-rules.h). */
#include <string.h>

#include "lint-rules.h"

/* Keep in the order of enum lint_rule_id and of docs/lint.md. */
const struct lint_rule lint_rules[LINT_NRULES] = {
	{ "index-not-concurrent", "require-concurrent-index-creation", LINT_WARNING,
	  "CREATE INDEX without CONCURRENTLY on an existing table" },
	{ "drop-index-not-concurrent", "require-concurrent-index-deletion", LINT_WARNING,
	  "DROP INDEX without CONCURRENTLY" },
	{ "reindex-not-concurrent", "require-concurrent-reindex", LINT_WARNING,
	  "REINDEX without CONCURRENTLY" },
	{ "detach-not-concurrent", "require-concurrent-partition-detach", LINT_WARNING,
	  "DETACH PARTITION without CONCURRENTLY (PostgreSQL 14+)" },
	{ "constraint-not-valid", "constraint-missing-not-valid", LINT_WARNING,
	  "a CHECK or FOREIGN KEY constraint added to an existing table without NOT VALID" },
	{ "foreign-key", "adding-foreign-key-constraint", LINT_WARNING,
	  "a foreign key added to an existing table and validated at once" },
	{ "volatile-default", "adding-field-with-default", LINT_WARNING,
	  "ADD COLUMN with a volatile default or a stored generated column (any default before 11)" },
	{ "column-type", "changing-column-type", LINT_WARNING,
	  "ALTER COLUMN ... TYPE on an existing table" },
	{ "set-not-null", "adding-not-nullable-field", LINT_WARNING,
	  "ALTER COLUMN ... SET NOT NULL on an existing table" },
	{ "required-column", "adding-required-field", LINT_ERROR,
	  "ADD COLUMN ... NOT NULL without a default on an existing table" },
	{ "primary-key", "adding-serial-primary-key-field", LINT_WARNING,
	  "a primary key added to an existing table without USING INDEX" },
	{ "unique-constraint", "disallowed-unique-constraint", LINT_WARNING,
	  "a UNIQUE constraint added to an existing table without USING INDEX" },
	{ "rename-column", "renaming-column", LINT_WARNING,
	  "RENAME COLUMN: clients that use the old name break" },
	{ "rename-table", "renaming-table", LINT_WARNING,
	  "ALTER TABLE ... RENAME TO: clients that use the old name break" },
	{ "drop-column", "ban-drop-column", LINT_WARNING,
	  "DROP COLUMN: clients that read the column break" },
	{ "drop-table", "ban-drop-table", LINT_WARNING,
	  "DROP TABLE: data and clients that use the table are gone" },
	{ "drop-database", "ban-drop-database", LINT_ERROR,
	  "DROP DATABASE in a migration" },
	{ "drop-not-null", "ban-drop-not-null", LINT_WARNING,
	  "DROP NOT NULL: clients that rely on the column being set break" },
	{ "truncate-cascade", "ban-truncate-cascade", LINT_ERROR,
	  "TRUNCATE ... CASCADE empties every table that references it" },
	{ "domain-constraint", "ban-create-domain-with-constraint", LINT_WARNING,
	  "CREATE DOMAIN with a constraint" },
	{ "alter-domain-constraint", "ban-alter-domain-with-add-constraint", LINT_WARNING,
	  "ALTER DOMAIN ... ADD CONSTRAINT" },
	{ "enum-value-order", "require-enum-value-ordering", LINT_OFF,
	  "ALTER TYPE ... ADD VALUE without BEFORE or AFTER" },
	{ "char-type", "ban-char-field", LINT_WARNING,
	  "a char(n) column (blank-padded)" },
	{ "int-key", "prefer-bigint-over-int", LINT_OFF,
	  "an int (32-bit) column, which can run out" },
	{ "smallint", "prefer-bigint-over-smallint", LINT_OFF,
	  "a smallint (16-bit) column, which can run out" },
	{ "serial", "prefer-identity", LINT_OFF,
	  "a serial column instead of an identity column" },
	{ "varchar-length", "prefer-text-field", LINT_OFF,
	  "varchar(n): raising the limit later takes an ACCESS EXCLUSIVE lock" },
	{ "timestamp-without-tz", "prefer-timestamp-tz", LINT_OFF,
	  "timestamp without time zone" },
	{ "identifier-too-long", "identifier-too-long", LINT_ERROR,
	  "a name over 63 bytes, which PostgreSQL silently truncates" },
	{ "lock-timeout", "require-lock-timeout", LINT_WARNING,
	  "a statement that takes a strong lock with no lock_timeout set" },
	{ "statement-timeout", "require-statement-timeout", LINT_OFF,
	  "a slow statement with no statement_timeout set" },
	{ "not-rerunnable", "prefer-robust-stmts", LINT_OFF,
	  "outside a transaction, a statement that fails when run twice" },
	{ "transaction-nesting", "transaction-nesting", LINT_ERROR,
	  "BEGIN/COMMIT in a migration cairn already runs in a transaction" },
	{ "concurrent-in-transaction", "ban-concurrent-index-creation-in-transaction", LINT_ERROR,
	  "CONCURRENTLY in a migration that runs in a transaction" },
	{ "uncommitted-transaction", "ban-uncommitted-transaction", LINT_ERROR,
	  "BEGIN without COMMIT or ROLLBACK by the end of the script" },
	{ "table-schema", "require-table-schema", LINT_OFF,
	  "a table named without its schema" },
	{ "syntax", NULL, LINT_ERROR,
	  "SQL that PostgreSQL's parser refuses" },
	{ "unused-waiver", "unused-ignore", LINT_WARNING,
	  "a waiver (cairn:allow, lint: {allow:}) that waived nothing" },
	{ "contract-only", NULL, LINT_ERROR,
	  "a backward-incompatible statement in a migration whose phase is expand" },
	{ "sqlite-syntax", NULL, LINT_ERROR,
	  "SQL that SQLite's parser refuses" },
	{ "sqlite-alter", NULL, LINT_ERROR,
	  "an ALTER TABLE form SQLite does not have (ALTER COLUMN, ADD/DROP CONSTRAINT)" },
	{ "sqlite-error", NULL, LINT_ERROR,
	  "a statement SQLite refuses on the schema the earlier migrations built" },
	{ "sqlite-add-column", NULL, LINT_ERROR,
	  "ADD COLUMN that SQLite refuses on a table with rows (NOT NULL without a default, a non-constant default)" },
	{ "sqlite-drop-column", NULL, LINT_ERROR,
	  "DROP COLUMN that SQLite refuses (key, indexed or referenced column)" },
	{ "sqlite-drop-referenced", NULL, LINT_WARNING,
	  "DROP TABLE (a table rebuild) of a table other tables' foreign keys reference, with foreign_keys not off" },
	{ "sqlite-not-in-transaction", NULL, LINT_ERROR,
	  "VACUUM, PRAGMA journal_mode or ATTACH in a migration SQLite runs in a transaction" },
	{ "sqlite-pragma-in-transaction", NULL, LINT_WARNING,
	  "PRAGMA foreign_keys inside a transaction, where it does nothing" },
	{ "sqlite-affinity", NULL, LINT_WARNING,
	  "a column type whose SQLite affinity is not what its name says (STRING is NUMERIC, POINT is INTEGER)" },
	{ "sqlite-version", NULL, LINT_ERROR,
	  "a statement the SQLite version of sqlite: {version:} lacks (DROP COLUMN before 3.35, ...)" },
};

int lint_rule_find(const char *id)
{
	int i;

	for (i = 0; i < LINT_NRULES; i++)
		if (!strcmp(lint_rules[i].id, id))
			return i;
	return -1;
}

int lint_rule_lookup(const char *name)
{
	int i;

	for (i = 0; i < LINT_NRULES; i++)
		if (!strcmp(lint_rules[i].id, name) ||
		    (lint_rules[i].squawk && !strcmp(lint_rules[i].squawk, name)))
			return i;
	return -1;
}
