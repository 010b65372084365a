/* What lint.c (the parse, positions, waivers) and rules.c (one check per
 * kind of statement) share; private to lint/. */
#ifndef CAIRN_LINT_INT_H
#define CAIRN_LINT_INT_H

#include <pg_query.h>
#include <pg_query/pg_query.pb-c.h>

#include "lint.h"

/* A "-- cairn:allow RULE reason" comment before a statement. */
struct lint_waiver {
	int rule;   /* -1: a rule cairn does not know */
	int line;
	int used;
	char name[64];
	size_t reason_off, reason_len; /* the text after the rule id, in the script */
};

struct lint_state {
	const struct lint_input *in;
	struct lint_result *out;
	const char *text;             /* NUL-terminated copy of the script */
	size_t len;
	size_t stmt_start;            /* first token of the current statement */
	size_t pos_off, pos_bol;      /* the last position asked for: offsets come */
	int pos_line;                 /* mostly in order, so lines are counted once */
	int stmt_line, stmt_end_line;
	char **created;               /* tables created earlier in this script */
	size_t ncreated, created_alloc;
	char **not_valid;             /* constraints added NOT VALID, in this transaction */
	size_t nnot_valid, not_valid_alloc;
	/* CHECK (col IS NOT NULL) NOT VALID added in this script ("name
	 * table.col"), and the table.col of those validated since: SET NOT
	 * NULL on one skips its scan (12+) */
	char **nn_checks, **nn_proved;
	size_t nnn_checks, nn_checks_alloc, nnn_proved, nn_proved_alloc;
	int tx_depth;                 /* BEGIN without COMMIT yet, in the script */
	size_t begin_off;             /* the outermost open BEGIN */
	int begin_line, begin_end_line;
	int lock_timeout, statement_timeout; /* SET earlier in the script */
	int timeout_told;
	PgQuery__ScanResult *tokens;  /* the script's tokens, for the names as written */
	size_t next_token;
	int sqlite;                   /* lint_sqlite's: waivers of PostgreSQL rules are
					 not its own (a generic up.sql is linted twice) */
	struct lint_waiver *waivers;  /* the current statement's */
	size_t nwaivers, waivers_alloc;
};

/* A finding of rule at byte offset loc (-1: the statement's first token). */
void lint_report(struct lint_state *s, int rule, int loc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* The level a rule has here (the config, or its default). */
enum lint_level lint_level_of(const struct lint_state *s, int rule);
/* Was the table created earlier in this script (so it is new and empty)? */
int lint_is_new_table(const struct lint_state *s, const PgQuery__RangeVar *rv);
void lint_add_created(struct lint_state *s, const PgQuery__RangeVar *rv);
/* A name in a list of names the state keeps (created, not_valid). */
int lint_names_has(char *const *names, size_t n, const char *name);

/* The frame around one statement: text[loc, end) holds it with the
 * comments before it; begin reads its position and its waivers, end
 * reports the waivers it left unused. */
void lint_stmt_begin(struct lint_state *s, size_t loc, size_t end);
void lint_stmt_end(struct lint_state *s);

/* Checks one statement (rules.c). */
void lint_rules_stmt(struct lint_state *s, const PgQuery__Node *stmt);
/* The phase rule on one statement (rules-phase.c); after lint_rules_stmt,
 * which records the tables the script creates. */
void lint_phase_stmt(struct lint_state *s, const PgQuery__Node *n);
/* After the last statement: what the script as a whole left undone. */
void lint_rules_end(struct lint_state *s);

/* sqlite-subset.c: check --staged's warm path. The catalog of db's main
 * schema (each object's type, name, table, SQL, whether a table holds
 * rows, read from img, db serialized in size bytes), appended to out;
 * -1 (error set) when SQLite fails. */
struct sqlite3;
int sq_catalog_write(struct sqlite3 *db, const unsigned char *img, size_t size,
		     struct buf *out);
/* Creates in db (empty) the objects of the catalog cat[0..catlen) that
 * scripts[0..slen) can reach. 1 when done; 0 when only the whole
 * database gives the same findings (db untouched); -1 (error set) on a
 * damaged catalog or SQL SQLite refuses (db then unusable). */
int sq_subset_build(struct sqlite3 *db, const char *cat, size_t catlen, const char *scripts,
		    size_t slen);

/* sqlite-strict.c: is main's table name STRICT? 0 as well when it is not
 * there; created: name was made by the statement just run. *tables keeps
 * where each table's schema entry was seen (made on first use). */
struct sq_tables;
int sq_table_strict(struct sqlite3 *db, struct sq_tables **tables, const char *name,
		    int created);
void sq_tables_free(struct sq_tables *tables);
/* Is STRICT among the table options of sql, a CREATE TABLE SQLite took? */
int sq_create_is_strict(const char *sql);

#endif
