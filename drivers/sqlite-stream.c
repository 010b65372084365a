/* The SQLite driver's streamed scripts (issue #15): a script fed in chunks
 * (a verified bundle member, hashed as it is read) runs statement by
 * statement over a window that holds only what is not yet run, so a 64 MiB
 * data load costs a window, not its size.
 *
 * A statement runs once a later ';' outside quotes and comments ends it
 * and sqlite3_complete agrees (a CREATE TRIGGER's body holds ';'); what
 * is left when the feed ends runs last. The hash is known only at the end,
 * after statements ran: sound because they run inside the caller's
 * transaction, which the caller rolls back on a mismatch, and because a
 * statement that would end that transaction is refused before it runs
 * (the authorizer denies SQLITE_TRANSACTION).
 *
 * Under DRIVER_EXEC_SPLIT (transaction: false, trust15e) the feed is a
 * private copy whose hash was checked before the first byte came (the
 * engine's spill): statements run in autocommit as the whole-text path runs
 * them, the script's own transactions allowed, and on_statement called
 * before each with its index in the whole script. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/buf.h"
#include "../lib/error.h"
#include "../lib/util.h"
#include "driver.h"
#include "sqlite-private.h"

/* The longest statement the window grows to. */
#define STREAM_STMT_CAP (64u << 20)

enum scan_state { S_SQL, S_QUOTE, S_DQUOTE, S_BTICK, S_BRACKET, S_LINE, S_BLOCK };

struct stream {
	struct db *db;
	struct driver_exec *x;
	struct buf win;        /* the script from byte base on */
	size_t start;          /* first byte not run yet */
	size_t scan;           /* first byte not scanned yet */
	size_t cut;            /* just after the last ';' that ends a statement (0: none) */
	enum scan_state st;
	unsigned long long base; /* offset in the script of win's first byte */
	unsigned long lines;     /* newlines before win's first byte */
	int failed;              /* a statement failed: x->err is set */
};

/* Scans what came since the last call; stops short of a byte whose meaning
 * depends on the next one when that is not here yet. */
static void scan(struct stream *s)
{
	const char *b = s->win.ptr;
	size_t i = s->scan, n = s->win.len;

	for (; i < n; i++) {
		char c = b[i], next = i + 1 < n ? b[i + 1] : '\0';

		switch (s->st) {
		case S_SQL:
			if ((c == '-' || c == '/') && i + 1 == n)
				goto out; /* a comment may start with the next byte */
			if (c == '\'')
				s->st = S_QUOTE;
			else if (c == '"')
				s->st = S_DQUOTE;
			else if (c == '`')
				s->st = S_BTICK;
			else if (c == '[')
				s->st = S_BRACKET;
			else if (c == '-' && next == '-')
				s->st = S_LINE, i++;
			else if (c == '/' && next == '*')
				s->st = S_BLOCK, i++;
			else if (c == ';')
				s->cut = i + 1;
			break;
		case S_QUOTE: /* '' is a quote leaving and one coming back */
			if (c == '\'')
				s->st = S_SQL;
			break;
		case S_DQUOTE:
			if (c == '"')
				s->st = S_SQL;
			break;
		case S_BTICK:
			if (c == '`')
				s->st = S_SQL;
			break;
		case S_BRACKET:
			if (c == ']')
				s->st = S_SQL;
			break;
		case S_LINE:
			if (c == '\n')
				s->st = S_SQL;
			break;
		case S_BLOCK:
			if (c == '*' && i + 1 == n)
				goto out;
			if (c == '*' && next == '/')
				s->st = S_SQL, i++;
			break;
		}
	}
out:
	s->scan = i;
}

static unsigned long count_lines(const char *p, size_t n)
{
	unsigned long k = 0;
	const char *e = p + n;

	while ((p = memchr(p, '\n', (size_t)(e - p))) != NULL) {
		k++;
		p++;
	}
	return k;
}

/* Runs [start, end) of the window; on failure turns x->err's offset into
 * the script's and counts its line. */
static int run_part(struct stream *s, size_t end, int more)
{
	struct driver_error *e = &s->x->err;
	size_t at;

	if (!sqlite_exec_part(s->db, s->win.ptr + s->start, end - s->start, s->x, more)) {
		s->start = end;
		return 0;
	}
	s->failed = 1;
	at = s->start + (e->offset >= 0 ? (size_t)e->offset : 0);
	if (at > s->win.len)
		at = s->win.len;
	e->line = (long)(s->lines + count_lines(s->win.ptr, at) + 1);
	if (e->offset >= 0)
		e->offset = (long)(s->base + at);
	return -1;
}

/* Drops what ran from the window's front. */
static void compact(struct stream *s)
{
	if (!s->start)
		return;
	s->lines += count_lines(s->win.ptr, s->start);
	s->base += s->start;
	memmove(s->win.ptr, s->win.ptr + s->start, s->win.len - s->start);
	s->win.len -= s->start;
	s->scan -= s->start;
	s->cut = s->cut > s->start ? s->cut - s->start : 0;
	s->start = 0;
}

/* Whether [start, cut) ends with a whole statement (not inside a
 * trigger's body). */
static int complete_to_cut(struct stream *s)
{
	char *b = s->win.ptr;
	char keep = b[s->cut];
	int ok;

	b[s->cut] = '\0'; /* the window keeps a byte past its end (buf) */
	ok = sqlite3_complete(b + s->start);
	b[s->cut] = keep;
	return ok;
}

static int sink(void *ctx, const void *data, size_t len)
{
	struct stream *s = ctx;

	compact(s);
	if (buf_put(&s->win, data, len) < 0)
		return -1;
	scan(s);
	if (s->cut > s->start && complete_to_cut(s) && run_part(s, s->cut, 1))
		return -1;
	if (s->win.len - s->start > STREAM_STMT_CAP) {
		snprintf(s->x->err.message, sizeof(s->x->err.message),
			 "a statement longer than %u MiB: too long to stream",
			 STREAM_STMT_CAP >> 20);
		s->x->err.offset = (long)(s->base + s->start);
		s->x->err.line = (long)(s->lines + count_lines(s->win.ptr, s->start) + 1);
		s->failed = 1;
		return -1;
	}
	return 0;
}

int sqlite_exec_stream(struct db *db,
		       int (*feed)(void *feed_ctx,
				   int (*sink)(void *sink_ctx, const void *data, size_t len),
				   void *sink_ctx),
		       void *feed_ctx, struct driver_exec *x)
{
	struct stream s;
	struct sqlite_guard g = { 0, 0 };
	int rc = -1, split = (x->flags & DRIVER_EXEC_SPLIT) != 0;

	memset(&s, 0, sizeof(s));
	buf_init(&s.win, 0);
	s.db = db;
	s.x = x;
	x->changes = 0;
	x->statements = 0;
	memset(&x->err, 0, sizeof(x->err));
	x->err.offset = -1;
	if (!split != !sqlite3_get_autocommit(db->h)) {
		cairn_error_set(split ? "a streamed script in autocommit runs outside a transaction"
				      : "a streamed script runs only inside a transaction");
		return -1;
	}
	/* in a transaction, nothing may end it: its end is where the hash
	 * is checked */
	g.no_tx = !split;
	sqlite_guard_script(db, &g);
	if (feed(feed_ctx, sink, &s)) {
		if (s.failed)
			cairn_error_set("%s", x->err.message);
		goto out;
	}
	compact(&s);
	if ((s.win.len || split) && run_part(&s, s.win.len, 0))
		goto out;
	rc = 0;
out:
	sqlite_guard_script(db, NULL);
	if (rc && s.failed)
		sqlite_denied_message(&x->err, &g);
	buf_release(&s.win);
	return rc;
}
