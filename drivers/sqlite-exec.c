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

/* Steps through every statement of sql. rows_cb, when set, sees the first
 * row of each statement that returns columns (query_truth). */
static int run_script(struct db *db, const char *sql, size_t len, struct driver_exec *x,
		      int (*rows_cb)(void *, sqlite3_stmt *), void *rows_ctx,
		      struct driver_error *err)
{
	const char *p = sql, *end = sql + len, *tail;
	sqlite3_int64 before = sqlite3_total_changes64(db->h);
	unsigned long index = 0;
	int rc;

	while ((p = skip_blank(p, end)) < end) {
		sqlite3_stmt *st = NULL;
		int first = 1;

		if (x && (x->flags & DRIVER_EXEC_SPLIT) && x->on_statement &&
		    x->on_statement(x->ctx, index, (size_t)(p - sql)))
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
		sqlite3_finalize(st);
		index++;
		if (x)
			x->statements = index;
		p = tail;
	}
	if (x)
		x->changes = (unsigned long long)(sqlite3_total_changes64(db->h) - before);
	return 0;
}

int sqlite_exec(struct db *db, const char *sql, size_t len, struct driver_exec *x)
{
	x->changes = 0;
	x->statements = 0;
	memset(&x->err, 0, sizeof(x->err));
	x->err.offset = -1;
	if (len > 0x7fffffff) {
		cairn_error_set("script too big for SQLite (%zu bytes)", len);
		return -1;
	}
	return run_script(db, sql, len, x, NULL, NULL, &x->err);
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

	memset(err, 0, sizeof(*err));
	err->offset = -1;
	*truth = 0;
	if (run_script(db, sql, len, NULL, truth_cb, &t, err))
		return -1;
	*truth = t.seen && t.truth;
	return 0;
}
