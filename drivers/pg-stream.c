/* PostgreSQL's streamed scripts (issue #15): a script fed in chunks (a
 * verified bundle member, hashed as it is read) runs in the caller's
 * transaction window by window, so a 64 MiB data load costs a window, not
 * its size.
 *
 * libpg_query splits only whole texts. A window is cut where its scanner
 * split starts its last statement: what comes before is run, the last
 * statement (perhaps cut short by the window's end) and the rest wait for
 * the next window. The scanner reads left to right, so a statement that
 * ends before the window's last token ends at the same ';' in the whole
 * text; and the part run is split again by the parser (lib/sqlsplit.c), as
 * the whole-text path splits it: a cut the parser refuses (inside a BEGIN
 * ATOMIC body, which the scanner cannot see) is not run but waits for more
 * text. docs/design.md, "A large PostgreSQL script, streamed".
 *
 * The hash is known only at the end, after statements ran: sound because
 * they run inside the caller's transaction, which the caller rolls back on
 * a mismatch, and because a statement of transaction control is refused
 * before it is sent (pg_exec_split_in_tx). */
#include <pg_query.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/buf.h"
#include "../lib/error.h"
#include "../lib/sqlsplit.h"
#include "pg-private.h"

/* New text that waits before a window is split again. */
#define PG_STREAM_STEP (1u << 20)
/* scanner splits tried on a window, each ending before what the last refused */
#define PG_STREAM_TRIES 8

struct pgstream {
	struct db *db;
	struct driver_exec *x;
	struct buf win;          /* the script from byte base on: nothing of it has run */
	size_t next;             /* split again once win holds this much */
	unsigned long long base; /* offset in the script of win's first byte */
	long lines;              /* newlines before win's first byte */
	int failed;              /* x->err is set */
};

static long count_lines(const char *s, size_t n)
{
	long k = 0;
	size_t i;

	for (i = 0; i < n; i++)
		k += s[i] == '\n';
	return k;
}

/* Where the scanner's split of b[0..end) starts its last statement (> 0),
 * else 0; *bad: the byte the scanner refused (an unterminated quote or
 * comment at the window's end), else end. b[end] is put back. */
static size_t scanner_cut(char *b, size_t end, size_t *bad)
{
	char keep = b[end];
	PgQuerySplitResult r;
	size_t cut = 0;

	b[end] = '\0';
	r = pg_query_split_with_scanner(b);
	b[end] = keep;
	*bad = end;
	if (r.error) {
		size_t off;

		if (r.error->cursorpos > 0 &&
		    sqlsplit_position_offset(b, end, 0, end, r.error->cursorpos, &off) == 0)
			*bad = off;
	} else if (r.n_stmts >= 1 && r.stmts[r.n_stmts - 1]->stmt_location > 0) {
		cut = (size_t)r.stmts[r.n_stmts - 1]->stmt_location;
	}
	pg_query_free_split_result(r);
	return cut;
}

/* The window's cut. The window's end is most often inside a quote (a row
 * of an INSERT): the scanner refuses it there, and the split is tried
 * again on the text before the token it refused. */
static size_t window_cut(struct pgstream *s)
{
	size_t end = s->win.len, cut = 0, bad;
	int tries = 0;

	while (!cut && end > 0 && tries++ < PG_STREAM_TRIES) {
		cut = scanner_cut(s->win.ptr, end, &bad);
		if (bad >= end)
			break;
		end = bad;
	}
	return cut;
}

/* x->err of a part that started at the window's first byte, made the
 * whole script's (offset, line); a splitter's "line N: " made the line. */
static void part_error(struct pgstream *s)
{
	struct driver_error *e = &s->x->err;
	char *msg = e->message;

	if (!strncmp(msg, "line ", 5)) {
		char *rest;
		long n = strtol(msg + 5, &rest, 10);

		if (n > 0 && !strncmp(rest, ": ", 2)) {
			e->line = s->lines + n;
			memmove(msg, rest + 2, strlen(rest + 2) + 1);
		}
	}
	if (e->offset >= 0 && (size_t)e->offset <= s->win.len) {
		e->line = s->lines + count_lines(s->win.ptr, (size_t)e->offset) + 1;
		e->offset += (long)s->base;
	} else if (!e->line) {
		e->line = s->lines + 1;
	}
	s->failed = 1;
}

/* Runs win[0..cut): 0 (run, or left waiting when the parser refuses the
 * part and more text may come), -1 (x->err set). */
static int run_part(struct pgstream *s, size_t cut, int final)
{
	struct sqlsplit sp = SQLSPLIT_INIT;
	int rc = -1;

	if (sqlsplit_pg(&sp, s->win.ptr, cut) < 0) {
		pg_error_clear(&s->x->err);
		pg_copy_field(s->x->err.message, sizeof(s->x->err.message), cairn_error_last());
		pg_set_sql_error(&s->x->err);
		goto fail;
	}
	if (sp.whole && !final) {
		s->next = s->win.len * 2; /* wait for the statement to be whole */
		rc = 0;
		goto out;
	}
	if (sp.whole) {
		/* one message the parser refused: the server might run what the
		 * parser cannot split, transaction control included */
		pg_error_clear(&s->x->err);
		snprintf(s->x->err.message, sizeof(s->x->err.message),
			 "PostgreSQL's parser (libpg_query) cannot split this part of a streamed "
			 "script: a streamed script runs only statements the parser splits "
			 "(a syntax error, or syntax newer than the parser's)");
		s->x->err.offset = 0;
		pg_set_sql_error(&s->x->err);
		goto fail;
	}
	if (pg_exec_split_in_tx(s->db, s->win.ptr, cut, &sp, s->x) < 0)
		goto fail;
	s->lines += count_lines(s->win.ptr, cut);
	s->base += cut;
	memmove(s->win.ptr, s->win.ptr + cut, s->win.len - cut);
	s->win.len -= cut;
	s->next = s->win.len + PG_STREAM_STEP;
	rc = 0;
	goto out;
fail:
	part_error(s);
out:
	sqlsplit_release(&sp);
	return rc;
}

static int sink(void *ctx, const void *data, size_t len)
{
	struct pgstream *s = ctx;
	size_t cut;

	if (buf_put(&s->win, data, len) < 0)
		return -1;
	if (s->win.len < s->next)
		return 0;
	cut = window_cut(s);
	if (!cut) {
		/* one statement longer than the window: rescanned as the window
		 * doubles, so it costs its size, not its size squared */
		s->next = s->win.len * 2;
		return 0;
	}
	return run_part(s, cut, 0);
}

int pg_exec_stream(struct db *db,
		   int (*feed)(void *feed_ctx,
			       int (*sink)(void *sink_ctx, const void *data, size_t len),
			       void *sink_ctx),
		   void *feed_ctx, struct driver_exec *x)
{
	struct pgstream s;
	int rc = -1;

	memset(&s, 0, sizeof(s));
	buf_init(&s.win, 0);
	s.db = db;
	s.x = x;
	s.next = PG_STREAM_STEP;
	x->changes = 0;
	x->statements = 0;
	pg_error_clear(&x->err);
	if (!db->in_tx) {
		cairn_error_set("a streamed script runs only inside a transaction");
		goto out;
	}
	if (feed(feed_ctx, sink, &s)) {
		if (s.failed)
			cairn_error_set("%s", x->err.message);
		goto out;
	}
	/* the hash matched: the rest, whole */
	if (s.win.len && run_part(&s, s.win.len, 1) < 0) {
		cairn_error_set("%s", x->err.message);
		goto out;
	}
	rc = 0;
out:
	buf_release(&s.win);
	return rc;
}
