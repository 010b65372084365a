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
 * before it is sent (pg_exec_split_in_tx).
 *
 * Under DRIVER_EXEC_SPLIT (transaction: false, trust15e) the feed is a
 * private copy whose hash was checked before the first byte came (the
 * engine's spill), and statements commit one by one as the whole-text path
 * runs them (pg_exec_autocommit). The script is fed twice: a first pass
 * only splits it, window by window as the second will, so a script the
 * parser cannot split is refused before any of it runs (the whole-text
 * path sends such a script as one message, which the server parses whole
 * before running any of it); the second runs it. */
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
	int split;               /* DRIVER_EXEC_SPLIT: in autocommit */
	int dry;                 /* split only, run nothing (the first pass) */
	struct pg_autocommit ac; /* split: what the parts share */
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

/* The parser refused what is left at the end: where it stopped, why, and
 * the way out, in x->err (offset: the window's). */
static void cannot_split(struct pgstream *s, const struct sqlsplit *sp)
{
	struct driver_error *e = &s->x->err;
	int n;

	pg_error_clear(e);
	n = snprintf(e->message, sizeof(e->message),
		     "PostgreSQL's parser (libpg_query %s) cannot split the script here%s%s%s: "
		     "a script over 1 MiB runs cut at the statement ends the parser finds, "
		     "so it must split whole; %s. A syntax error, or syntax newer than "
		     "PostgreSQL %s: fix it, or move the statement to a migration of its own "
		     "under 1 MiB (sent whole, the server judges it)",
		     PG_VERSION, sp->why[0] ? " (" : "", sp->why, sp->why[0] ? ")" : "",
		     s->split ? "nothing of it ran" : "what ran is rolled back", PG_MAJORVERSION);
	if (n < 0 || (size_t)n >= sizeof(e->message))
		memcpy(e->message + sizeof(e->message) - 4, "...", 4); /* cut short, said so */
	e->offset = (long)sp->err_offset;
	pg_set_sql_error(e);
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
		/* not sent as one message: the server might run what the parser
		 * cannot split, transaction control included */
		cannot_split(s, &sp);
		goto fail;
	}
	s->ac.lines = s->lines;
	if (!s->dry && (s->split ? pg_exec_autocommit(s->db, s->win.ptr, cut, &sp, s->x, &s->ac,
						      final)
				 : pg_exec_split_in_tx(s->db, s->win.ptr, cut, &sp, s->x)) < 0)
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

/* One pass over the feed: every window split (and run, unless dry), then
 * the rest, whole, once the hash matched. 0, or -1 with the error set. */
static int stream_pass(struct pgstream *s,
		       int (*feed)(void *feed_ctx,
				   int (*sink)(void *sink_ctx, const void *data, size_t len),
				   void *sink_ctx),
		       void *feed_ctx)
{
	struct sqlsplit none = SQLSPLIT_INIT;

	buf_reset(&s->win);
	s->next = PG_STREAM_STEP;
	s->base = 0;
	s->lines = 0;
	memset(&s->ac, 0, sizeof(s->ac));
	if (feed(feed_ctx, sink, s)) {
		if (s->failed)
			cairn_error_set("%s", s->x->err.message);
		return -1;
	}
	if (s->win.len ? run_part(s, s->win.len, 1) < 0
	    /* the last part ended at a window's cut: a transaction the script
	     * left open is looked for all the same */
	    : s->split && !s->dry &&
	      pg_exec_autocommit(s->db, "", 0, &none, s->x, &s->ac, 1) < 0) {
		if (!s->failed)
			part_error(s);
		cairn_error_set("%s", s->x->err.message);
		return -1;
	}
	return 0;
}

int pg_exec_stream(struct db *db,
		   int (*feed)(void *feed_ctx,
			       int (*sink)(void *sink_ctx, const void *data, size_t len),
			       void *sink_ctx),
		   void *feed_ctx, struct driver_exec *x)
{
	struct pgstream s;
	struct pg_guard g = { NULL, 0 };
	int rc = -1;

	memset(&s, 0, sizeof(s));
	buf_init(&s.win, 0);
	s.db = db;
	s.x = x;
	s.split = (x->flags & DRIVER_EXEC_SPLIT) != 0;
	x->changes = 0;
	x->statements = 0;
	pg_error_clear(&x->err);
	if (!s.split == !db->in_tx) {
		cairn_error_set(s.split ? "a streamed script in autocommit runs outside a transaction"
					: "a streamed script runs only inside a transaction");
		goto out;
	}
	/* autocommit: every statement commits, so the whole script must
	 * split before the first runs (the feed is a private copy: the same
	 * bytes come again) */
	s.dry = s.split;
	if (s.dry && stream_pass(&s, feed, feed_ctx))
		goto out;
	s.dry = 0;
	/* in a transaction the books are compared once the whole script ran
	 * (issue #15, drivers/pg-guard.c); in autocommit after each statement */
	if (!s.split && pg_guard_take(db, &g, 0) < 0)
		goto out;
	if (stream_pass(&s, feed, feed_ctx))
		goto out;
	if (!s.split && pg_guard_check(db, &g, -1, 0, &x->err))
		goto out;
	rc = 0;
out:
	pg_guard_release(&g);
	buf_release(&s.win);
	return rc;
}
