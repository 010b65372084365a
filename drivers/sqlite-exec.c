/* The SQLite driver's scripts (sqlite.c): run statement by statement
 * under the statement timeout, errors placed in the script. */
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../lib/buf.h"
#include "../lib/error.h"
#include "../lib/util.h"
#include "driver.h"
#include "sqlite-private.h"

/* The first byte at or after p that is neither white space nor inside a
 * comment: where the next statement starts, for error positions. */
static const char *skip_blank(const char *p, const char *end)
{
	while (p < end) {
		if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == '\f' || *p == '\v') {
			p++;
		} else if (*p == '-' && p + 1 < end && p[1] == '-') {
			while (p < end && *p != '\n')
				p++;
		} else if (*p == '/' && p + 1 < end && p[1] == '*') {
			p += 2;
			while (p + 1 < end && !(*p == '*' && p[1] == '/'))
				p++;
			p = p + 2 <= end ? p + 2 : end;
		} else {
			break;
		}
	}
	return p;
}

/* A statement that ended the caller's transaction (its own COMMIT, END or
 * ROLLBACK): the script stops there; what ran before it is committed or
 * rolled back, as that statement said. */
static void tx_ended(struct driver_error *err, sqlite3_stmt *st, long offset)
{
	const char *q = sqlite3_sql(st);
	char word[16];
	size_t n = 0;

	while (q && *q && (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r'))
		q++;
	while (q && n + 1 < sizeof(word) && ((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z')))
		word[n++] = (char)(*q++ & ~0x20);
	word[n] = '\0';
	err->tx_ended = 1;
	err->tx_committed = strcmp(word, "ROLLBACK") != 0;
	err->offset = offset;
	snprintf(err->message, sizeof(err->message),
		 "%s ended the transaction cairn runs the migration in: %s", *word ? word : "a statement",
		 err->tx_committed ? "what ran before it was committed outside cairn's bookkeeping"
				   : "what ran before it was rolled back");
	cairn_error_set("%s", err->message);
}

/* The engine's callback writes the books (the statement reached): the
 * script's guard is lifted around it. Nothing of the script is compiled
 * meanwhile: its next statement is prepared after the callback returns. */
static int on_statement(struct db *db, struct driver_exec *x, unsigned long index, size_t offset)
{
	struct sqlite_guard *g = db->guard;
	int rc;

	db->guard = NULL;
	rc = x->on_statement(x->ctx, index, offset);
	db->guard = g;
	return rc;
}

/* Steps through every statement of sql. rows_cb, when set, sees the first
 * row of each statement that returns columns (query_truth). more: a part of
 * a streamed script that goes on after it (a transaction the script opened
 * may end in a later part). */
static int run_script(struct db *db, const char *sql, size_t len, struct driver_exec *x,
		      int (*rows_cb)(void *, sqlite3_stmt *), void *rows_ctx,
		      struct driver_error *err, int more)
{
	const char *p = sql, *end = sql + len, *tail;
	sqlite3_int64 before = sqlite3_total_changes64(db->h);
	unsigned long index = x ? x->statements : 0; /* a streamed script goes on */
	/* in the caller's transaction; never under DRIVER_EXEC_SPLIT, where
	 * an open one is the script's own (a streamed part's BEGIN) */
	int rc, in_tx = !(x && (x->flags & DRIVER_EXEC_SPLIT)) && !sqlite3_get_autocommit(db->h);

	while ((p = skip_blank(p, end)) < end) {
		sqlite3_stmt *st = NULL;
		int first = 1;

		if (x && (x->flags & DRIVER_EXEC_SPLIT) && x->on_statement &&
		    on_statement(db, x, index, (size_t)(p - sql)))
			return -1;
		rc = sqlite3_prepare_v2(db->h, p, (int)(end - p), &st, &tail);
		if (rc != SQLITE_OK) {
			sqlite_fill_error(db, err, (long)(p - sql), rc);
			cairn_error_set("%s", err->message);
			return -1;
		}
		if (!st) { /* whitespace or comments only */
			p = tail;
			continue;
		}
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			if (first && rows_cb)
				rows_cb(rows_ctx, st);
			first = 0;
		}
		if (rc == SQLITE_DONE && first && rows_cb && sqlite3_column_count(st) > 0)
			rows_cb(rows_ctx, NULL); /* a query with no row */
		if (rc != SQLITE_DONE) {
			/* The error offset of a runtime error is relative to this statement. */
			sqlite_fill_error(db, err, (long)(p - sql), rc);
			sqlite3_finalize(st);
			cairn_error_set("%s", err->message);
			return -1;
		}
		if (in_tx && sqlite3_get_autocommit(db->h)) {
			tx_ended(err, st, (long)(p - sql));
			sqlite3_finalize(st);
			return -1;
		}
		sqlite3_finalize(st);
		index++;
		if (x)
			x->statements = index;
		p = tail;
	}
	if (x)
		x->changes += (unsigned long long)(sqlite3_total_changes64(db->h) - before);
	if (!in_tx && !more && !sqlite3_get_autocommit(db->h)) {
		/* autocommit (transaction: false) and the script's own BEGIN
		 * was never committed: nothing of it may stay half-open */
		sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
		snprintf(err->message, sizeof(err->message),
			 "the script left a transaction open (BEGIN without COMMIT); it was rolled back");
		err->tx_ended = 1;
		cairn_error_set("%s", err->message);
		return -1;
	}
	return 0;
}

/* cairn's books in the main database: no script writes them, alters or
 * drops them, or puts a trigger on them (one that would rewrite the audit
 * rows the engine appends); the engine writes them itself, outside a
 * script (trust15e). */
static int is_books(const char *table)
{
	return table && (!strcmp(table, "cairn_migrations") || !strcmp(table, "cairn_audit") ||
			 !strcmp(table, "cairn_bundle_files"));
}

static int deny(struct sqlite_guard *g, int why)
{
	g->denied = why;
	return SQLITE_DENY;
}

/* Installed once for the connection's life (sqlite_guard_install); it
 * refuses only while a script's guard is set (db->guard). SQLite asks it
 * when it compiles a statement, never when it steps one, so what matters
 * is the state at compile time: a script's statements are compiled (and,
 * after a schema change, compiled again) only while its guard is set, and
 * the engine's own statements, kept prepared, are stepped only while none
 * is (on_statement lifts it). */
static int authorize(void *ctx, int action, const char *a, const char *b, const char *dbname,
		     const char *trigger)
{
	struct sqlite_guard *g = ((struct db *)ctx)->guard;
	int main_db = !dbname || !strcmp(dbname, "main");

	if (!g)
		return SQLITE_OK;
	switch (action) {
	case SQLITE_TRANSACTION:
		return g->no_tx ? deny(g, 1) : SQLITE_OK;
	case SQLITE_INSERT:
	case SQLITE_UPDATE:
	case SQLITE_DELETE:
	case SQLITE_DROP_TABLE:
		return main_db && is_books(a) ? deny(g, 2) : SQLITE_OK;
	case SQLITE_CREATE_TEMP_TRIGGER:
		/* b: the table; dbname is "temp" even when the table is main's
		 * books, and the engine's own writes of them would fire it */
		return is_books(b) ? deny(g, 2) : SQLITE_OK;
	case SQLITE_CREATE_TEMP_TABLE:
	case SQLITE_CREATE_TEMP_VIEW:
		/* a temp table of that name shadows the books: the engine's
		 * unqualified writes would land in it and vanish at close */
		return is_books(a) ? deny(g, 2) : SQLITE_OK;
	case SQLITE_ALTER_TABLE: /* a: the database, b: the table */
		return (!a || !strcmp(a, "main")) && is_books(b) ? deny(g, 2) : SQLITE_OK;
	case SQLITE_CREATE_TRIGGER:
	case SQLITE_CREATE_INDEX:
	case SQLITE_DROP_INDEX:
	case SQLITE_DROP_TRIGGER: /* b: the table */
		return main_db && is_books(b) ? deny(g, 2) : SQLITE_OK;
	case SQLITE_PRAGMA: /* the schema table made writable: the books' own
			     * definitions could be rewritten under them */
		return a && !strcasecmp(a, "writable_schema") && b ? deny(g, 2) : SQLITE_OK;
	default:
		return SQLITE_OK;
	}
}

int sqlite_guard_install(struct db *db)
{
	db->guard = NULL;
	if (sqlite3_set_authorizer(db->h, authorize, db) != SQLITE_OK) {
		cairn_error_set("cannot set the books' guard on '%s': %s", db->path,
				sqlite3_errmsg(db->h));
		return -1;
	}
	return 0;
}

/* Switching the state, not the authorizer: sqlite3_set_authorizer expires
 * every prepared statement of the connection, so the engine's kept writes
 * of the books were compiled again after every script, DDL or not. */
void sqlite_guard_script(struct db *db, struct sqlite_guard *g)
{
	if (g)
		g->denied = 0;
	db->guard = g;
}

void sqlite_denied_message(struct driver_error *e, const struct sqlite_guard *g)
{
	if (!g->denied || strcmp(e->message, "not authorized"))
		return;
	snprintf(e->message, sizeof(e->message), "%s",
		 g->denied == 1 ? "a streamed script may not end or start a transaction "
				  "(refused before it ran)"
				: "a script may not write, alter, drop or put a trigger on cairn's "
				  "books (cairn_migrations, cairn_audit, cairn_bundle_files) nor "
				  "make the schema writable (refused before it ran)");
	cairn_error_set("%s", e->message);
}

int sqlite_exec(struct db *db, const char *sql, size_t len, struct driver_exec *x)
{
	struct sqlite_guard g = { 0, 0 };
	int rc;

	x->changes = 0;
	x->statements = 0;
	memset(&x->err, 0, sizeof(x->err));
	x->err.offset = -1;
	if (len > 0x7fffffff) {
		cairn_error_set("script too big for SQLite (%zu bytes)", len);
		return -1;
	}
	sqlite_guard_script(db, &g);
	rc = run_script(db, sql, len, x, NULL, NULL, &x->err, 0);
	sqlite_guard_script(db, NULL);
	if (rc)
		sqlite_denied_message(&x->err, &g);
	return rc;
}

int sqlite_exec_part(struct db *db, const char *sql, size_t len, struct driver_exec *x,
		     int more)
{
	return run_script(db, sql, len, x, NULL, NULL, &x->err, more);
}

static int value_truth(sqlite3_stmt *st)
{
	const char *s;

	if (!st || sqlite3_column_count(st) < 1)
		return 0;
	switch (sqlite3_column_type(st, 0)) {
	case SQLITE_INTEGER:
		return sqlite3_column_int64(st, 0) != 0;
	case SQLITE_FLOAT:
		return sqlite3_column_double(st, 0) != 0.0;
	case SQLITE_TEXT:
		s = (const char *)sqlite3_column_text(st, 0);
		return s && *s && strcmp(s, "0") && strcasecmp(s, "false") && strcasecmp(s, "f") &&
		       strcasecmp(s, "no");
	case SQLITE_BLOB:
		return sqlite3_column_bytes(st, 0) > 0;
	default:
		return 0;
	}
}

struct truth_ctx {
	int truth, seen;
};

static int truth_cb(void *ctx, sqlite3_stmt *st)
{
	struct truth_ctx *t = ctx;

	t->truth = value_truth(st); /* the last query of the script decides */
	t->seen = 1;
	return 0;
}

int sqlite_query_truth(struct db *db, const char *sql, size_t len, int *truth,
		       struct driver_error *err)
{
	struct truth_ctx t = { 0, 0 };
	int rc;

	memset(err, 0, sizeof(*err));
	err->offset = -1;
	*truth = 0;
	/* verify.sql only reads: query_only refuses any write, so a verify
	 * script cannot change what it is checking */
	if (sqlite_simple(db, "PRAGMA query_only = 1"))
		return -1;
	rc = run_script(db, sql, len, NULL, truth_cb, &t, err, 0);
	if (sqlite_simple(db, "PRAGMA query_only = 0"))
		rc = -1;
	if (rc)
		return -1;
	*truth = t.seen && t.truth;
	return 0;
}

int sqlite_query_rows(struct db *db, const char *sql, struct driver_rows *out)
{
	sqlite3_stmt *st = NULL;
	size_t arows = 0, c;
	int rc;

	memset(out, 0, sizeof(*out));
	if (sqlite3_prepare_v2(db->h, sql, -1, &st, NULL) != SQLITE_OK || !st) {
		cairn_error_set("cannot read '%s': %s", db->path, sqlite3_errmsg(db->h));
		sqlite3_finalize(st);
		return -1;
	}
	out->ncols = (size_t)sqlite3_column_count(st);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		ALLOC_GROW(out->cells, (out->nrows + 1) * out->ncols + 1, arows);
		for (c = 0; c < out->ncols; c++) {
			const unsigned char *v = sqlite3_column_text(st, (int)c);

			out->cells[out->nrows * out->ncols + c] = v ? xstrdup((const char *)v) : NULL;
		}
		out->nrows++;
	}
	if (rc != SQLITE_DONE) {
		cairn_error_set("cannot read '%s': %s", db->path, sqlite3_errmsg(db->h));
		sqlite3_finalize(st);
		driver_rows_release(out);
		return -1;
	}
	sqlite3_finalize(st);
	return 0;
}
