/* The linter: dangerous SQL in PostgreSQL migrations, found on
 * PostgreSQL's own parse tree (libpg_query, read through its protobuf
 * form). A library: it never prints and never exits. The caller hands it
 * one script and what cairn knows about it (does it run in a transaction,
 * the server version, the rules' levels, the migration's waivers) and gets
 * back findings with a rule, a level, a line and a column. */
#ifndef CAIRN_LINT_H
#define CAIRN_LINT_H

#include <stddef.h>

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

/* cairn.yaml's lint: levels and postgres: {version:}. */
struct lint_config {
	unsigned char level[LINT_NRULES];
	int pg_version;       /* major version; 0 = not said (the newest rules apply) */
	int sqlite_version;   /* sqlite: {version: "3.31"} as 3031000; 0 = not said */
};

void lint_config_init(struct lint_config *c);
/* Sets rule's level ("error", "warning", "off"); -1 on an unknown rule or
 * level. rule "all" sets every rule. */
int lint_config_set(struct lint_config *c, const char *rule, const char *level);

/* The migration's phase (migration.yaml): NONE for a script linted alone,
 * where the phase rule does not apply. */
enum lint_phase { LINT_PHASE_NONE, LINT_PHASE_EXPAND, LINT_PHASE_CONTRACT };

/* What cairn knows about the script beyond its text. */
struct lint_input {
	const char *sql;      /* need not be NUL-terminated */
	size_t len;
	int in_transaction;   /* cairn runs the script in a transaction */
	int vacuum_told;      /* the caller reports VACUUM in a transaction itself */
	int has_lock_timeout; /* migration.yaml or the project sets lock_timeout */
	int has_statement_timeout;
	enum lint_phase phase;
	const struct lint_config *cfg;
	/* migration.yaml's lint: {allow: [...]} (rule ids); the linter marks
	 * in allow_used those that waived a finding */
	const char *const *allow;
	size_t nallow;
	unsigned char *allow_used;
};

struct lint_finding {
	int rule;             /* enum lint_rule_id */
	enum lint_level level;
	int line, col;        /* 1-based; col in bytes */
	int stmt_line, stmt_end_line; /* the statement the finding is about */
	char *msg;
};

struct lint_result {
	struct lint_finding *items;
	size_t n, alloc;
	size_t errors, warnings;
	size_t statements;
};

#define LINT_RESULT_INIT { NULL, 0, 0, 0, 0, 0 }

/* Lints one PostgreSQL script. Never fails: a script the parser refuses
 * gives a syntax finding. Findings are in source order. */
void lint_pg(struct lint_result *out, const struct lint_input *in);
void lint_result_release(struct lint_result *r);

const char *lint_level_name(enum lint_level l);

/* SQLite scripts are checked by SQLite itself (sqlite.c): each statement is
 * prepared with sqlite3_prepare_v2 on an in-memory database that has
 * replayed the earlier migrations, then run there, so the rules know the
 * tables, their columns and their foreign keys. The database never touches
 * a file (ATTACH is refused, VACUUM is not run) and its work is bounded. */
struct lint_sqlite;

/* An empty database. history_known: the caller replays every earlier
 * migration before it lints one, so an unknown table is an error; else a
 * table the script names but the database lacks is made up as a stub.
 * Returns -1 (error set) if SQLite cannot open one. */
int lint_sqlite_open(struct lint_sqlite **out, int history_known);
void lint_sqlite_free(struct lint_sqlite *db);
/* Runs an earlier migration's script. Where SQLite refuses a statement the
 * history is no longer known: later unknown tables are not reported. */
void lint_sqlite_replay(struct lint_sqlite *db, const char *sql, size_t len);
/* Lints one SQLite script (and runs it, for the next one). db NULL: a
 * fresh database of unknown history. */
void lint_sqlite(struct lint_result *out, struct lint_sqlite *db, const struct lint_input *in);

#endif
