/* The linter: dangerous SQL in PostgreSQL migrations, found on
 * PostgreSQL's own parse tree (libpg_query, read through its protobuf
 * form). A library: it never prints and never exits. The caller hands it
 * one script and what cairn knows about it (does it run in a transaction,
 * the server version, the rules' levels, the migration's waivers) and gets
 * back findings with a rule, a level, a line and a column. */
#ifndef CAIRN_LINT_H
#define CAIRN_LINT_H

#include <stddef.h>

#include "../lib/buf.h"
#include "../lib/lint-rules.h"

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
	/* the last nallow_destructive entries of allow are not the
	 * migration's list but what its destructive: true acknowledges */
	size_t nallow_destructive;
};

struct lint_finding {
	int rule;             /* enum lint_rule_id */
	enum lint_level level;
	int line, col;        /* 1-based; col in bytes */
	int stmt_line, stmt_end_line; /* the statement the finding is about */
	char *msg;
};

/* How a finding was waived: a cairn:allow comment, migration.yaml's
 * lint: {allow:}, or its destructive: true. */
enum lint_via { LINT_VIA_COMMENT, LINT_VIA_ALLOW, LINT_VIA_DESTRUCTIVE };

/* A finding a waiver kept quiet: the bundle's manifest records each, so
 * the applier's policy can refuse what a migration waived. */
struct lint_waived {
	int rule;             /* enum lint_rule_id */
	int line;             /* the finding's, 1-based */
	enum lint_via via;
	char *reason;         /* the comment's text after the rule id; NULL if none */
};

struct lint_result {
	struct lint_finding *items;
	size_t n, alloc;
	size_t errors, warnings;
	size_t statements;
	struct lint_waived *waived; /* in source order */
	size_t nwaived, waived_alloc;
};

const char *lint_via_name(enum lint_via v);

#define LINT_RESULT_INIT { NULL, 0, 0, 0, 0, 0, NULL, 0, 0 }

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
/* The replayed database as bytes (sqlite3_serialize, and whether the
 * history broke), appended to out, for check's cache; -1 (error set) when
 * the replay left what the bytes cannot hold: a PRAGMA a script set (the
 * connection's, not the file's), an open transaction, temporary tables. */
int lint_sqlite_save(struct lint_sqlite *db, struct buf *out);
/* Loads what lint_sqlite_save wrote into a database just opened, from
 * data (a lint_sqlite_buffer of len bytes, which it takes, used in place:
 * no copy of a large file); -1 (error set) on bytes that are not such a
 * database, truncated or damaged: the caller then frees db and replays on
 * a fresh one. */
int lint_sqlite_load(struct lint_sqlite *db, void *data, size_t len);
/* check --staged's warm path (lint/sqlite-subset.c): only the objects
 * that the scripts still to run on db (scripts[0..slen), all of them) can
 * reach are created in db, from the end of what lint_sqlite_save wrote: the
 * last lint_sqlite_tail_size() bytes say the catalog's size
 * (lint_sqlite_catalog_size, -1 when they are not such an end); data is
 * the catalog and those bytes (len in all), not taken. 1 when the subset
 * is built, 0 when only the whole database will do (db untouched), -1
 * (error set) on a damaged catalog: the caller frees db. The database's
 * own bytes are not read at all. */
size_t lint_sqlite_tail_size(void);
long long lint_sqlite_catalog_size(const void *tail);
int lint_sqlite_load_subset(struct lint_sqlite *db, const void *data, size_t len,
			    const char *scripts, size_t slen);
/* Memory lint_sqlite_load can take (SQLite's allocator), len bytes and
 * room past them for the database to grow in place (the next script's
 * pages); NULL when out of memory or over what the linter's heap allows. */
void *lint_sqlite_buffer(size_t len);
void lint_sqlite_buffer_free(void *p);
/* SQLite's source id, which a saved database's key names. */
const char *lint_sqlite_id(void);
/* Lints one SQLite script (and runs it, for the next one). db NULL: a
 * fresh database of unknown history. */
void lint_sqlite(struct lint_result *out, struct lint_sqlite *db, const struct lint_input *in);

#endif
