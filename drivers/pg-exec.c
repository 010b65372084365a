/* The PostgreSQL driver's scripts (postgres.c): split by PostgreSQL's own
 * parser (lib/sqlsplit.h) and sent statement by statement, in a
 * transaction or not, the session's transaction state read after each, so
 * that a statement that ended or steered cairn's transaction is the last
 * that runs (issue #16); COPY from the bundle's data members; errors placed
 * in the script. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../lib/buf.h"
#include "../lib/error.h"
#include "driver.h"
#include "pg-private.h"
#include "../lib/sqlsplit.h"
#include "pq-load.h"

/* ---- running scripts ------------------------------------------------- */

static int word_at(const char *s, size_t len, size_t i, const char *w)
{
	size_t n = strlen(w), k;

	if (i + n > len)
		return 0;
	for (k = 0; k < n; k++)
		if ((s[i + k] | 0x20) != w[k])
			return 0;
	if (i + n < len && ((s[i + n] | 0x20) >= 'a' && (s[i + n] | 0x20) <= 'z'))
		return 0;
	if (i > 0 && ((s[i - 1] | 0x20) >= 'a' && (s[i - 1] | 0x20) <= 'z'))
		return 0;
	return 1;
}

/* COPY ... FROM 'data/NAME' ...: the literal's span in the statement. */
static int copy_data_literal(const char *s, size_t len, size_t *lit_start, size_t *lit_end)
{
	size_t i;

	if (!word_at(s, len, 0, "copy"))
		return 0;
	for (i = 4; i < len; i++) {
		if (s[i] == '\'' || s[i] == '"') {
			char q = s[i];

			for (i++; i < len && s[i] != q; i++)
				;
			continue;
		}
		if (word_at(s, len, i, "from")) {
			size_t j = i + 4;

			while (j < len && pg_is_blank(s[j]))
				j++;
			if (j < len && s[j] == '\'' && j + 6 < len && !strncmp(s + j + 1, "data/", 5)) {
				size_t k = j + 1;

				while (k < len && s[k] != '\'')
					k++;
				if (k >= len)
					return 0;
				*lit_start = j;
				*lit_end = k + 1;
				return 1;
			}
			return 0;
		}
	}
	return 0;
}

struct copy_sink {
	PGconn *conn;
	int failed;
};

static int copy_sink_put(void *ctx, const void *data, size_t len)
{
	struct copy_sink *cs = ctx;

	while (len > 0) {
		int n = len > (1 << 30) ? (1 << 30) : (int)len;

		if (pq.putCopyData(cs->conn, data, n) != 1) {
			cs->failed = 1;
			cairn_error_set("sending data to the server failed: %s",
					pq.errorMessage(cs->conn));
			return -1;
		}
		data = (const char *)data + n;
		len -= (size_t)n;
	}
	return 0;
}

static void add_changes(struct driver_exec *x, const PGresult *r)
{
	const char *st = pq.cmdStatus((PGresult *)r);

	if (!strncmp(st, "INSERT", 6) || !strncmp(st, "UPDATE", 6) || !strncmp(st, "DELETE", 6) ||
	    !strncmp(st, "MERGE", 5) || !strncmp(st, "COPY", 4))
		x->changes += strtoull(pq.cmdTuples((PGresult *)r), NULL, 10);
}

/* The error of result r, for a statement sent as sent (sent_len bytes) that
 * holds the script's bytes from base on after prefix_len bytes of our own;
 * the offset falls back to stmt_start. */
static void capture(const PGresult *r, struct driver_error *e, const char *script,
		    size_t script_len, size_t base, size_t sent_len, size_t prefix_len,
		    size_t stmt_start)
{
	const char *pos = pq.resultErrorField(r, PG_DIAG_STATEMENT_POSITION);
	size_t off;

	pg_fill_error(e, r);
	e->offset = (long)stmt_start;
	if (pos) {
		long p = strtol(pos, NULL, 10) - (long)prefix_len;

		if (p >= 1 && sqlsplit_position_offset(script, script_len, base, sent_len, p, &off) == 0)
			e->offset = (long)off;
	}
}

/* What a unit of the script (one statement, or statements that cannot
 * change the transaction's state: pg_exec) left behind. */
struct stmt_run {
	struct pg_txwatch *w; /* fed each result's command tag */
	size_t index;         /* the unit's first statement in the script */
	size_t count;         /* its statements */
	PGresult **last;      /* NULL, or where the last rows returned are kept (verify) */
	int failed;           /* the server refused one */
};

/* A COPY_IN result: the data member streamed, or (COPY FROM STDIN with no
 * data file) the load ended with an error. */
static void copy_in(struct db *db, const char *name, struct driver_exec *x, size_t offset,
		    struct stmt_run *sr)
{
	struct copy_sink cs = { db->conn, 0 };
	char why[CAIRN_ERRMSG_MAX];

	if (!name) {
		pq.putCopyEnd(db->conn, "COPY FROM STDIN needs FROM 'data/FILE' in a migration");
		return;
	}
	if (x->stream_data(x->data_ctx, name, copy_sink_put, &cs) == 0) {
		if (pq.putCopyEnd(db->conn, NULL) != 1)
			pg_set_conn_error(db, db->conn, "cannot end the data load");
		return;
	}
	snprintf(why, sizeof(why), "cairn: %s", cairn_error_last());
	pq.putCopyEnd(db->conn, why);
	if (!sr->failed) {
		sr->failed = 1;
		pg_copy_field(x->err.message, sizeof(x->err.message), cairn_error_last());
		x->err.offset = (long)offset;
	}
}

/* Statements first[0 .. sr->count) of the script (sp->whole: the whole
 * script), sent in one message after what was deferred (BEGIN, SET LOCAL):
 * the script's bytes from the first one's start to the last one's end. */
static int run_statement(struct db *db, const char *sql, size_t len,
			 const struct sqlsplit_stmt *first, struct driver_exec *x, struct stmt_run *sr)
{
	struct buf q = BUF_INIT;
	const struct sqlsplit_stmt *end = &first[sr->count - 1];
	struct sqlsplit_stmt unit = { first->offset, end->offset + end->len - first->offset,
				      first->line };
	const struct sqlsplit_stmt *st = &unit;
	size_t ls = 0, le = 0, prefix = db->pending.len, ours = 0, k, at = 0;
	int is_copy = sr->count == 1 && copy_data_literal(sql + st->offset, st->len, &ls, &le);
	char *name = NULL;
	PGresult *res;
	int rc = -1;

	for (k = 0; k < prefix; k++) /* results of our own statements come first */
		ours += db->pending.ptr[k] == ';';

	buf_put(&q, db->pending.ptr, db->pending.len);
	if (is_copy) {
		buf_put(&q, sql + st->offset, ls);
		buf_puts(&q, "STDIN");
		buf_put(&q, sql + st->offset + le, st->len - le);
		name = xstrndup(sql + st->offset + ls + 1, le - ls - 2);
		if (!x->stream_data) {
			snprintf(x->err.message, sizeof(x->err.message),
				 "cannot load '%s': data loads need the bundle", name);
			x->err.offset = (long)st->offset;
			pg_set_sql_error(&x->err);
			goto out;
		}
	} else {
		buf_put(&q, sql + st->offset, st->len);
	}
	buf_reset(&db->pending);
	if (db->in_tx)
		db->tx_sent = 1;
	if (!pq.sendQuery(db->conn, q.ptr)) {
		pg_set_conn_error(db, db->conn, "cannot send a statement");
		pg_copy_field(x->err.message, sizeof(x->err.message), cairn_error_last());
		x->err.offset = (long)st->offset;
		goto out;
	}
	while ((res = pq.getResult(db->conn))) {
		ExecStatusType s = pq.resultStatus(res);
		int ok = s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK;

		if (s == PGRES_COPY_IN) {
			pq.clear(res);
			copy_in(db, name, x, st->offset, sr);
			continue;
		}
		if (s == PGRES_FATAL_ERROR && !sr->failed) {
			sr->failed = 1;
			capture(res, &x->err, sql, len, st->offset, is_copy ? ls : st->len, prefix,
				first[at].offset);
			if (ours)
				x->err.offset = -1; /* ours failed: BEGIN, SET LOCAL */
		} else if (ok && !ours) {
			x->statements++;
			add_changes(x, res);
		}
		if (!ours) {
			pg_txwatch_result(sr->w, ok, pq.cmdStatus(res), sr->index + at);
			if (at + 1 < sr->count)
				at++;
		} else {
			ours--;
		}
		if (s == PGRES_TUPLES_OK && sr->last) {
			pq.clear(*sr->last);
			*sr->last = res;
		} else {
			pq.clear(res);
		}
	}
	if (sr->failed) {
		pg_set_sql_error(&x->err);
		goto out;
	}
	if (pq.status(db->conn) != CONNECTION_OK) {
		pg_set_conn_error(db, db->conn, "connection lost");
		pg_copy_field(x->err.message, sizeof(x->err.message), cairn_error_last());
		x->err.offset = (long)st->offset;
		goto out;
	}
	rc = 0;
out:
	free(name);
	buf_release(&q);
	return rc;
}

/* After a statement run in the caller's transaction: 0 while that
 * transaction is open, else 1 with err naming the statement that ended it
 * (first: the first statement of the script) and the session rolled back to
 * no transaction: the statement after it never runs. */
static int tx_moved(struct db *db, struct pg_txwatch *w, const struct sqlsplit_stmt *first,
		    const struct stmt_run *sr, struct driver_error *err)
{
	if (pq.status(db->conn) != CONNECTION_OK ||
	    pq.transactionStatus(db->conn) != PQTRANS_IDLE)
		return 0;
	if (sr->failed) {
		/* a statement that failed and took the transaction with it (a
		 * COMMIT refused at a deferred constraint): its own error */
		err->tx_ended = 1;
		err->tx_committed = 0;
		buf_reset(&db->pending);
		buf_reset(&db->queued);
		db->in_tx = db->tx_sent = 0;
		return 1;
	}
	return pg_txwatch_end(db, w, (long)first[w->index].offset, err);
}

/* After the last statement: a script that steered the transaction (BEGIN,
 * SAVEPOINT, ROLLBACK TO) without ending it fails all the same. */
static int tx_steered(struct db *db, struct pg_txwatch *w, const struct sqlsplit_stmt *first,
		      struct driver_error *err)
{
	if (!w->seen || pq.status(db->conn) != CONNECTION_OK)
		return 0;
	return pg_txwatch_end(db, w, (long)first[w->index].offset, err);
}

/* Outside a transaction, a script may open and end its own: one it left
 * failed is rolled back at once (so that the books can be written), one it
 * left open at its end is rolled back and the script fails. */
static int autocommit_left(struct db *db, int at_end, int begun_line, struct driver_exec *x)
{
	PGTransactionStatusType ts = pq.transactionStatus(db->conn);

	if (ts == PQTRANS_INERROR) {
		pq.clear(pq.exec(db->conn, "ROLLBACK"));
		return 0;
	}
	if (!at_end || ts != PQTRANS_INTRANS)
		return 0;
	pq.clear(pq.exec(db->conn, "ROLLBACK"));
	pg_error_clear(&x->err);
	snprintf(x->err.message, sizeof(x->err.message),
		 "the transaction the script opened at line %d was still open at its end: "
		 "what ran in it was rolled back; end it with COMMIT",
		 begun_line);
	x->err.offset = -1;
	pg_set_sql_error(&x->err);
	return -1;
}

/* 1 when statement st may change the state of the transaction it runs in:
 * transaction control, by its first keyword (the split starts a statement
 * at its first token, and the parser accepted it, so BEGIN there is never
 * BEGIN ATOMIC); PREPARE counts whatever follows it. In a transaction no
 * other statement can end it (a procedure's COMMIT fails there), and an
 * error stops the rest of a message, so statements up to the next one of
 * these can share a message, and the state read after it is the state
 * after each of them. */
static int tx_control(const char *sql, const struct sqlsplit_stmt *st)
{
	static const char *const words[] = {
		"begin", "start", "commit", "end", "rollback", "abort", "savepoint", "release",
		"prepare",
	};
	size_t i;

	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (word_at(sql + st->offset, st->len, 0, words[i]))
			return 1;
	return 0;
}

/* How many statements from i go in one message: in cairn's transaction,
 * up to and including the next transaction control, a data load alone;
 * outside one, each alone (CREATE INDEX CONCURRENTLY cannot run in a
 * message of several, which is an implicit transaction). */
static size_t unit_of(const char *sql, const struct sqlsplit *sp, size_t i, int in_tx)
{
	size_t j, a, b;

	if (!in_tx || sp->whole)
		return 1;
	for (j = i; j < sp->n; j++) {
		const struct sqlsplit_stmt *st = &sp->stmts[j];

		if (copy_data_literal(sql + st->offset, st->len, &a, &b))
			return j == i ? 1 : j - i;
		if (tx_control(sql, st))
			return j - i + 1;
	}
	return j - i;
}

int pg_exec_autocommit(struct db *db, const char *sql, size_t len, const struct sqlsplit *sp,
		       struct driver_exec *x, struct pg_autocommit *ac, int at_end)
{
	struct pg_guard g = { NULL, 1 };
	struct pg_txwatch w;
	size_t i;
	int split = x->flags & DRIVER_EXEC_SPLIT, rc = -1;

	memset(&w, 0, sizeof(w));
	for (i = 0; i < sp->n; i++) {
		struct stmt_run sr = { &w, i, 1, NULL, 0 };

		if (split && pg_lock_check(db) < 0) {
			pg_copy_field(x->err.message, sizeof(x->err.message), cairn_error_last());
			goto out;
		}
		/* the engine may record progress here: the snapshot is taken
		 * again after it, unless it wrote only the progress row, which
		 * the snapshot leaves out (pg-guard.c, attack15h) */
		if (split && x->on_statement) {
			if (x->on_statement(x->ctx, ac->index + (unsigned long)i,
					    sp->stmts[i].offset) != 0)
				goto out;
			if (!db->progress_lit)
				pg_guard_release(&g);
		}
		/* cairn's own rows, written before the statement: the books'
		 * snapshot (issue #15) is taken after them */
		if (db->queued.len) {
			pg_guard_release(&g);
			if (pg_flush(db) < 0)
				goto out;
		}
		if (!g.before && pg_guard_take(db, &g, 1) < 0) {
			pg_copy_field(x->err.message, sizeof(x->err.message), cairn_error_last());
			goto out;
		}
		if (!ac->begun_line && pq.transactionStatus(db->conn) == PQTRANS_IDLE)
			ac->begun_line = (int)ac->lines + sp->stmts[i].line;
		if (run_statement(db, sql, len, &sp->stmts[i], x, &sr) < 0) {
			autocommit_left(db, 0, 0, x);
			goto out;
		}
		/* the books after each statement; in a transaction the script
		 * opened, what it did there is rolled back */
		if (pg_guard_check(db, &g, (long)sp->stmts[i].offset,
				   pq.transactionStatus(db->conn) == PQTRANS_IDLE, &x->err)) {
			if (pq.transactionStatus(db->conn) != PQTRANS_IDLE)
				pq.clear(pq.exec(db->conn, "ROLLBACK"));
			goto out;
		}
		if (pq.transactionStatus(db->conn) == PQTRANS_IDLE)
			ac->begun_line = 0;
	}
	ac->index += (unsigned long)sp->n;
	rc = at_end ? autocommit_left(db, 1, ac->begun_line, x) : 0;
out:
	pg_guard_release(&g);
	return rc;
}

int pg_exec(struct db *db, const char *sql, size_t len, struct driver_exec *x)
{
	struct sqlsplit sp = SQLSPLIT_INIT;
	struct pg_autocommit ac = { 0, 0, 0 };
	struct pg_guard g = { NULL, 0 };
	struct pg_txwatch w;
	size_t i, n;
	int rc = -1;

	pg_error_clear(&x->err);
	x->changes = 0;
	x->statements = 0;
	if (sqlsplit_pg(&sp, sql, len) < 0) {
		pg_copy_field(x->err.message, sizeof(x->err.message), cairn_error_last());
		pg_set_sql_error(&x->err);
		goto out;
	}
	if (!db->in_tx) {
		rc = pg_exec_autocommit(db, sql, len, &sp, x, &ac, 1) < 0 ? -1 : 0;
		goto out;
	}
	memset(&w, 0, sizeof(w));
	if (pg_guard_take(db, &g, 0) < 0) {
		pg_copy_field(x->err.message, sizeof(x->err.message), cairn_error_last());
		goto out;
	}
	for (i = 0; i < sp.n; i += n) {
		struct stmt_run sr = { &w, i, 1, NULL, 0 };

		sr.count = n = unit_of(sql, &sp, i, 1);
		if (db->queued.len && pg_flush(db) < 0)
			goto out;
		if (run_statement(db, sql, len, &sp.stmts[i], x, &sr) < 0) {
			tx_moved(db, &w, sp.stmts, &sr, &x->err);
			goto out;
		}
		if (tx_moved(db, &w, sp.stmts, &sr, &x->err))
			goto out;
	}
	if (tx_steered(db, &w, sp.stmts, &x->err))
		goto out;
	/* the books as the script found them (issue #15): refused before COMMIT */
	if (pg_guard_check(db, &g, sp.n ? (long)sp.stmts[sp.n - 1].offset : -1, 0, &x->err))
		goto out;
	rc = 0;
out:
	pg_guard_release(&g);
	sqlsplit_release(&sp);
	return rc;
}

int pg_exec_split_in_tx(struct db *db, const char *sql, size_t len, const struct sqlsplit *sp,
			struct driver_exec *x)
{
	struct pg_txwatch w;
	size_t i, n;

	memset(&w, 0, sizeof(w));
	for (i = 0; i < sp->n; i += n) {
		struct stmt_run sr = { &w, i, 1, NULL, 0 };

		if (tx_control(sql, &sp->stmts[i])) {
			pg_error_clear(&x->err);
			snprintf(x->err.message, sizeof(x->err.message),
				 "a streamed script may not end or start a transaction "
				 "(refused before it ran)");
			x->err.offset = (long)sp->stmts[i].offset;
			pg_set_sql_error(&x->err);
			return -1;
		}
		/* the unit stops short of the transaction control that ends it */
		sr.count = n = unit_of(sql, sp, i, 1);
		if (n > 1 && tx_control(sql, &sp->stmts[i + n - 1]))
			sr.count = --n;
		if (db->queued.len && pg_flush(db) < 0)
			return -1;
		if (run_statement(db, sql, len, &sp->stmts[i], x, &sr) < 0) {
			tx_moved(db, &w, sp->stmts, &sr, &x->err);
			return -1;
		}
		if (tx_moved(db, &w, sp->stmts, &sr, &x->err))
			return -1;
	}
	return 0;
}

/* verify.sql runs read-only: in the migration's transaction, inside a
 * savepoint with transaction_read_only set (rolled back afterwards, which
 * restores the setting and keeps the migration's work); outside one
 * (transaction: false), in a read-only transaction of its own. Statement by
 * statement, as a migration: one that ends or steers the transaction is
 * the last that runs. */
#define VERIFY_IN_TX "SAVEPOINT cairn_verify; SET LOCAL transaction_read_only = on; "
#define VERIFY_IN_TX_END "ROLLBACK TO SAVEPOINT cairn_verify; RELEASE SAVEPOINT cairn_verify; "
#define VERIFY_ALONE "BEGIN READ ONLY; "

static void truth_of(const PGresult *last, int *truth)
{
	if (last && pq.ntuples(last) > 0 && pq.nfields(last) > 0 && !pq.getisnull(last, 0, 0)) {
		const char *v = pq.getvalue(last, 0, 0);

		*truth = !(!strcmp(v, "f") || !strcmp(v, "false") || !strcmp(v, "0") || !*v);
	}
}

int pg_query_truth(struct db *db, const char *sql, size_t len, int *truth,
		   struct driver_error *err)
{
	struct sqlsplit sp = SQLSPLIT_INIT;
	struct driver_exec x;
	struct pg_txwatch w;
	PGresult *last = NULL;
	size_t i;
	int rc = -1, in_tx = db->in_tx;

	memset(&x, 0, sizeof(x));
	pg_error_clear(err);
	*truth = 0;
	if (sqlsplit_pg(&sp, sql, len) < 0) {
		pg_copy_field(err->message, sizeof(err->message), cairn_error_last());
		pg_set_sql_error(err);
		goto out;
	}
	if (!sp.n) {
		rc = 0; /* no statement, no row: false */
		goto out;
	}
	if (db->queued.len && pg_flush(db) < 0)
		goto out;
	buf_puts(&db->pending, in_tx ? VERIFY_IN_TX : VERIFY_ALONE);
	db->in_tx = 1; /* what is watched: the transaction verify runs in */
	memset(&w, 0, sizeof(w));
	for (i = 0; i < sp.n; i++) {
		struct stmt_run sr = { &w, i, 1, &last, 0 };
		int bad;

		bad = run_statement(db, sql, len, &sp.stmts[i], &x, &sr) < 0;
		if (tx_moved(db, &w, sp.stmts, &sr, &x.err)) {
			*err = x.err; /* in_tx now 0: the migration's transaction is gone */
			goto out;
		}
		if (bad) {
			*err = x.err;
			db->in_tx = in_tx;
			if (!in_tx)
				pg_simple_exec(db, db->conn, "ROLLBACK", "rollback");
			goto out;
		}
	}
	if (tx_steered(db, &w, sp.stmts, &x.err)) {
		*err = x.err;
		goto out;
	}
	db->in_tx = in_tx;
	if (in_tx)
		buf_puts(&db->pending, VERIFY_IN_TX_END);
	else if (pg_simple_exec(db, db->conn, "ROLLBACK", "rollback"))
		goto out;
	truth_of(last, truth);
	rc = 0;
out:
	pq.clear(last);
	sqlsplit_release(&sp);
	return rc;
}
