/* The linter's rules by name: cairn's id, Squawk's name, the default
 * level and what each catches. In lib/ because both programs need the
 * names: cairn's linter (lint/) reports them, and the applier's policy
 * (policy/) names rules whose waivers an environment refuses
 * (lint: {refuse_waived: [...]}), by either name, and must know a typo
 * from a rule. */
#ifndef CAIRN_LIB_LINT_RULES_H
#define CAIRN_LIB_LINT_RULES_H

enum lint_level { LINT_OFF, LINT_WARNING, LINT_ERROR };

/* The rules, in docs/lint.md's order. LINT_NRULES counts them. */
enum lint_rule_id {
	LR_INDEX_NOT_CONCURRENT,
	LR_DROP_INDEX_NOT_CONCURRENT,
	LR_REINDEX_NOT_CONCURRENT,
	LR_DETACH_NOT_CONCURRENT,
	LR_CONSTRAINT_NOT_VALID,
	LR_FOREIGN_KEY,
	LR_VOLATILE_DEFAULT,
	LR_COLUMN_TYPE,
	LR_SET_NOT_NULL,
	LR_REQUIRED_COLUMN,
	LR_PRIMARY_KEY,
	LR_UNIQUE_CONSTRAINT,
	LR_RENAME_COLUMN,
	LR_RENAME_TABLE,
	LR_DROP_COLUMN,
	LR_DROP_TABLE,
	LR_DROP_DATABASE,
	LR_DROP_NOT_NULL,
	LR_TRUNCATE_CASCADE,
	LR_DOMAIN_CONSTRAINT,
	LR_ALTER_DOMAIN_CONSTRAINT,
	LR_ENUM_VALUE_ORDER,
	LR_CHAR_TYPE,
	LR_INT_KEY,
	LR_SMALLINT,
	LR_SERIAL,
	LR_VARCHAR_LENGTH,
	LR_TIMESTAMP_NO_TZ,
	LR_IDENTIFIER_TOO_LONG,
	LR_LOCK_TIMEOUT,
	LR_STATEMENT_TIMEOUT,
	LR_NOT_RERUNNABLE,
	LR_TRANSACTION_NESTING,
	LR_CONCURRENT_IN_TRANSACTION,
	LR_UNCOMMITTED_TRANSACTION,
	LR_TABLE_SCHEMA,
	LR_SYNTAX,
	LR_UNUSED_WAIVER,
	LR_CONTRACT_ONLY,
	/* SQLite (sqlite.c) */
	LR_SQLITE_SYNTAX,
	LR_SQLITE_ALTER,
	LR_SQLITE_ERROR,
	LR_SQLITE_ADD_COLUMN,
	LR_SQLITE_DROP_COLUMN,
	LR_SQLITE_DROP_REFERENCED,
	LR_SQLITE_NOT_IN_TX,
	LR_SQLITE_PRAGMA_IN_TX,
	LR_SQLITE_AFFINITY,
	LR_SQLITE_VERSION,
	LINT_NRULES
};

struct lint_rule {
	const char *id;       /* cairn's rule id */
	const char *squawk;   /* Squawk 2.66's name for the same rule, or NULL */
	enum lint_level level; /* default */
	const char *what;     /* one line: what it catches */
};

extern const struct lint_rule lint_rules[LINT_NRULES];

/* The index of rule id, or -1. */
int lint_rule_find(const char *id);
/* The index of a rule named by its cairn id or its Squawk name, or -1. */
int lint_rule_lookup(const char *name);

#endif
