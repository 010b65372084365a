/* The PostgreSQL driver's scripts (postgres.c): sent whole inside a
 * transaction, statement by statement outside one, COPY from the bundle's
 * data members; errors placed in the script. */
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
#include "pgsplit.h"
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
static void capture(struct db *db, const PGresult *r, struct driver_error *e, const char *script,
		    size_t script_len, size_t base, size_t stmt_len, size_t prefix_len,
		    size_t stmt_start)
{
	const char *pos = pq.resultErrorField(r, PG_DIAG_STATEMENT_POSITION);
	size_t off;

	(void)db;
	pg_fill_error(e, r);
	e->offset = (long)stmt_start;
	if (pos) {
		long p = strtol(pos, NULL, 10) - (long)prefix_len;

		if (p >= 1 && pgsplit_position_offset(script, script_len, base, stmt_len, p, &off) == 0)
			e->offset = (long)off;
	}
}

/* One statement of the script, sent on its own (split mode, or a COPY). */
static int run_statement(struct db *db, const char *sql, size_t len, const struct pgsplit_stmt *st,
			 struct driver_exec *x)
{
	struct buf q = BUF_INIT;
	size_t ls = 0, le = 0, prefix = db->pending.len;
	int is_copy = copy_data_literal(sql + st->offset, st->len, &ls, &le);
	char *name = NULL;
	PGresult *r = NULL, *res;
	int rc = -1, got_error = 0;

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

		if (s == PGRES_COPY_IN) {
			struct copy_sink cs = { db->conn, 0 };
			int sr;

			pq.clear(res);
			sr = x->stream_data(x->data_ctx, name, copy_sink_put, &cs);
			if (sr != 0) {
				char why[CAIRN_ERRMSG_MAX];

				snprintf(why, sizeof(why), "cairn: %s", cairn_error_last());
				pq.putCopyEnd(db->conn, why);
				if (!got_error) {
					got_error = 1;
					pg_copy_field(x->err.message, sizeof(x->err.message),
						   cairn_error_last());
					x->err.offset = (long)st->offset;
				}
			} else if (pq.putCopyEnd(db->conn, NULL) != 1) {
				pg_set_conn_error(db, db->conn, "cannot end the data load");
			}
			continue;
		}
		if (s == PGRES_FATAL_ERROR) {
			if (!got_error) {
				got_error = 1;
				capture(db, res, &x->err, sql, len, st->offset, is_copy ? ls : st->len,
					prefix, st->offset);
			}
		} else if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK) {
			add_changes(x, res);
		}
		pq.clear(res);
	}
	if (got_error) {
		pg_set_sql_error(&x->err);
		goto out;
	}
	if (pq.status(db->conn) != CONNECTION_OK) {
		pg_set_conn_error(db, db->conn, "connection lost");
		pg_copy_field(x->err.message, sizeof(x->err.message), cairn_error_last());
		x->err.offset = (long)st->offset;
		goto out;
	}
	x->statements++;
	rc = 0;
out:
	pq.clear(r);
	free(name);
	buf_release(&q);
	return rc;
}

int pg_exec(struct db *db, const char *sql, size_t len, struct driver_exec *x)
{
	struct pgsplit sp = PGSPLIT_INIT;
	struct buf q = BUF_INIT;
	size_t i, prefix, nresults = 0, prefix_results = 0;
	int has_copy = 0, got_error = 0, rc = -1, in_tx = db->in_tx;
	struct pg_txwatch w;
	PGresult *res;

	memset(&w, 0, sizeof(w));
	pg_error_clear(&x->err);
	x->changes = 0;
	x->statements = 0;
	if (pgsplit(&sp, sql, len) < 0) {
		pg_copy_field(x->err.message, sizeof(x->err.message), cairn_error_last());
		goto out;
	}
	for (i = 0; i < sp.n; i++) {
		size_t a, b;

		if (copy_data_literal(sql + sp.stmts[i].offset, sp.stmts[i].len, &a, &b))
			has_copy = 1;
	}
	if ((x->flags & DRIVER_EXEC_SPLIT) || has_copy) {
		for (i = 0; i < sp.n; i++) {
			if ((x->flags & DRIVER_EXEC_SPLIT) && pg_lock_check(db) < 0) {
				pg_copy_field(x->err.message, sizeof(x->err.message), cairn_error_last());
				goto out;
			}
			if ((x->flags & DRIVER_EXEC_SPLIT) && x->on_statement &&
			    x->on_statement(x->ctx, (unsigned long)i, sp.stmts[i].offset) != 0)
				goto out;
			if (db->queued.len && pg_flush(db) < 0)
				goto out;
			if (run_statement(db, sql, len, &sp.stmts[i], x) < 0)
				goto out;
		}
		rc = 0;
		goto out;
	}

	/* the whole script at once, after what was deferred */
	if (db->queued.len && pg_flush(db) < 0)
		goto out;
	prefix = db->pending.len;
	for (i = 0; i < prefix; i++)
		if (db->pending.ptr[i] == ';')
			prefix_results++;
	buf_put(&q, db->pending.ptr, db->pending.len);
	buf_put(&q, sql, len);
	buf_reset(&db->pending);
	if (db->in_tx)
		db->tx_sent = 1;
	if (!pq.sendQuery(db->conn, q.ptr)) {
		pg_set_conn_error(db, db->conn, "cannot send the script");
		pg_copy_field(x->err.message, sizeof(x->err.message), cairn_error_last());
		goto out;
	}
	while ((res = pq.getResult(db->conn))) {
		ExecStatusType s = pq.resultStatus(res);

		if (s == PGRES_FATAL_ERROR && !got_error) {
			size_t k = nresults >= prefix_results ? nresults - prefix_results : 0;
			size_t start = k < sp.n ? sp.stmts[k].offset : 0;

			got_error = 1;
			capture(db, res, &x->err, sql, len, 0, len, prefix, start);
			if (nresults < prefix_results)
				x->err.offset = -1;
		} else if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK) {
			if (nresults >= prefix_results) {
				x->statements++;
				add_changes(x, res);
			}
		} else if (s == PGRES_COPY_IN) {
			/* COPY FROM STDIN without a data file: nothing to send */
			pq.putCopyEnd(db->conn, "COPY FROM STDIN needs FROM 'data/FILE' in a migration");
		}
		if (nresults >= prefix_results)
			pg_txwatch_result(&w, s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK,
					  pq.cmdStatus(res), nresults - prefix_results);
		nresults++;
		pq.clear(res);
	}
	/* a script of a transactional migration that ended or steered the
	 * transaction: that is the failure to report, whatever followed */
	if (in_tx && pq.status(db->conn) == CONNECTION_OK && pg_txwatch_end(db, &w, &sp, &x->err))
		goto out;
	if (got_error) {
		pg_set_sql_error(&x->err);
		goto out;
	}
	if (pq.status(db->conn) != CONNECTION_OK) {
		pg_set_conn_error(db, db->conn, "connection lost");
		pg_copy_field(x->err.message, sizeof(x->err.message), cairn_error_last());
		goto out;
	}
	rc = 0;
out:
	buf_release(&q);
	pgsplit_release(&sp);
	return rc;
}

/* verify.sql runs read-only: in the migration's transaction, inside a
 * savepoint with transaction_read_only set (rolled back afterwards, which
 * restores the setting and keeps the migration's work); outside one
 * (transaction: false), in a read-only transaction of its own. */
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
	struct buf q = BUF_INIT;
	struct pgsplit sp = PGSPLIT_INIT;
	struct pg_txwatch w;
	PGresult *res, *last = NULL;
	size_t prefix, i, nresults = 0, prefix_results = 0;
	int rc = -1, got_error = 0, in_tx = db->in_tx;

	memset(&w, 0, sizeof(w));
	pg_error_clear(err);
	*truth = 0;
	if (memchr(sql, '\0', len)) {
		snprintf(err->message, sizeof(err->message), "NUL byte in the query");
		pg_set_sql_error(err);
		return -1;
	}
	if (pgsplit(&sp, sql, len) < 0) {
		pg_copy_field(err->message, sizeof(err->message), cairn_error_last());
		return -1;
	}
	if (db->queued.len && pg_flush(db) < 0)
		goto out;
	buf_put(&q, db->pending.ptr, db->pending.len);
	buf_puts(&q, in_tx ? VERIFY_IN_TX : VERIFY_ALONE);
	prefix = q.len;
	for (i = 0; i < prefix; i++)
		if (q.ptr[i] == ';')
			prefix_results++;
	buf_put(&q, sql, len);
	buf_reset(&db->pending);
	db->in_tx = 1; /* what the watch checks: the transaction verify runs in */
	if (in_tx)
		db->tx_sent = 1;
	if (!pq.sendQuery(db->conn, q.ptr)) {
		db->in_tx = in_tx;
		pg_set_conn_error(db, db->conn, "cannot send the query");
		goto out;
	}
	while ((res = pq.getResult(db->conn))) {
		ExecStatusType s = pq.resultStatus(res);
		size_t k = nresults >= prefix_results ? nresults - prefix_results : 0;

		if (s == PGRES_FATAL_ERROR && !got_error) {
			got_error = 1;
			capture(db, res, err, sql, len, 0, len, prefix, k < sp.n ? sp.stmts[k].offset : 0);
		}
		if (nresults >= prefix_results)
			pg_txwatch_result(&w, s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK,
					  pq.cmdStatus(res), k);
		nresults++;
		if (s == PGRES_TUPLES_OK) {
			pq.clear(last);
			last = res;
		} else {
			pq.clear(res);
		}
	}
	if (pq.status(db->conn) == CONNECTION_OK && pg_txwatch_end(db, &w, &sp, err))
		goto out; /* in_tx now 0: the migration's transaction is gone */
	db->in_tx = in_tx;
	if (got_error) {
		pg_set_sql_error(err);
		if (!in_tx)
			pg_simple_exec(db, db->conn, "ROLLBACK", "rollback");
		goto out;
	}
	if (in_tx)
		buf_puts(&db->pending, VERIFY_IN_TX_END);
	else if (pg_simple_exec(db, db->conn, "ROLLBACK", "rollback"))
		goto out;
	truth_of(last, truth);
	rc = 0;
out:
	pq.clear(last);
	buf_release(&q);
	pgsplit_release(&sp);
	return rc;
}
