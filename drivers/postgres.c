/* The PostgreSQL driver (issue #6), over libpq, which it loads the first
 * time a PostgreSQL database is opened (pq-load.h): the only files that
 * include libpq-fe.h are this one and the loader. Every libpq call goes
 * through the loader's table: pq.exec() is PQexec().
 *
 * - DSN: postgres://..., postgresql://... or a keyword string, handed to
 *   libpq as is (so PG* environment variables, PGPASSFILE and service files
 *   work), minus one option of ours, cairn_schema, which names the
 *   bookkeeping schema (default "cairn", or $CAIRN_PG_SCHEMA).
 * - One runner: a session-level advisory lock taken with
 *   pg_try_advisory_lock on a connection of its own that never holds a
 *   transaction or a snapshot open, so CREATE INDEX CONCURRENTLY in a
 *   migration never waits for it (Flyway's deadlock), and the lock dies with
 *   the session.
 * - Round trips: BEGIN and SET LOCAL are sent with the migration's first
 *   statements, and the bookkeeping writes made inside a transaction with
 *   its COMMIT, so a migration costs two round trips, as few as psql needs.
 * - Scripts are sent whole (simple query protocol) inside a transaction;
 *   statement by statement outside one (transaction: false), split by
 *   pgsplit. Error positions (characters) become byte offsets in the script.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../lib/buf.h"
#include "../lib/error.h"
#include "driver.h"
#include "pgsplit.h"
#include "pq-load.h"

#define PG_DEFAULT_SCHEMA "cairn"

struct db {
	PGconn *conn;
	PGconn *lock_conn;
	char *conninfo;        /* the DSN without cairn_schema: may hold a password */
	char *display;
	char *schema;
	char *t_mig, *t_audit; /* quoted, schema-qualified table names */
	int readonly;
	int in_tx;             /* between begin and commit/rollback */
	int tx_sent;           /* BEGIN has reached the server */
	int session_timeouts;  /* a SET outside a transaction is in force */
	struct buf pending;    /* BEGIN, SET LOCAL: sent before the next statement */
	struct buf queued;     /* bookkeeping writes: sent with COMMIT */
	int64_t lock_key;
	int locked;
	int bk_seen;           /* the bookkeeping tables were found or created */
};

/* ---- DSN handling ---------------------------------------------------- */

static int is_uri(const char *dsn)
{
	return !strncmp(dsn, "postgres://", 11) || !strncmp(dsn, "postgresql://", 13);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
		return (c | 0x20) - 'a' + 10;
	return -1;
}

static void pct_decode(struct buf *out, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (s[i] == '%' && i + 2 < n &&
		    hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
			buf_putc(out, (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2])));
			i += 2;
		} else {
			buf_putc(out, s[i]);
		}
	}
}

/* Removes "cairn_schema=V" from a URI's query string; *schema gets V. */
static int strip_uri(const char *dsn, struct buf *out, char **schema)
{
	const char *q = strchr(dsn, '?');
	const char *p;
	int first = 1;

	if (!q) {
		buf_puts(out, dsn);
		return 0;
	}
	buf_put(out, dsn, (size_t)(q - dsn));
	p = q + 1;
	while (*p) {
		const char *amp = strchr(p, '&');
		size_t n = amp ? (size_t)(amp - p) : strlen(p);

		if (n > 13 && !strncmp(p, "cairn_schema=", 13)) {
			struct buf v = BUF_INIT;

			pct_decode(&v, p + 13, n - 13);
			free(*schema);
			*schema = buf_detach(&v, NULL);
			if (!*schema)
				*schema = xstrdup("");
		} else if (n) {
			buf_putc(out, first ? '?' : '&');
			buf_put(out, p, n);
			first = 0;
		}
		p += n;
		if (*p == '&')
			p++;
	}
	return 0;
}

static int is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* Removes "cairn_schema = V" from a libpq keyword string (libpq's own
 * quoting rules: 'single quotes', backslash escapes). */
static int strip_keywords(const char *dsn, struct buf *out, char **schema)
{
	const char *p = dsn;

	while (*p) {
		const char *start = p, *key, *val_end;
		size_t keylen;
		struct buf v = BUF_INIT;

		while (is_blank(*p))
			p++;
		if (!*p)
			break;
		start = p;
		key = p;
		while (*p && *p != '=' && !is_blank(*p))
			p++;
		keylen = (size_t)(p - key);
		while (is_blank(*p))
			p++;
		if (*p != '=' || keylen == 0) {
			cairn_error_set("malformed PostgreSQL connection string: expected "
					"keyword=value");
			return -1;
		}
		p++;
		while (is_blank(*p))
			p++;
		if (*p == '\'') {
			p++;
			while (*p && *p != '\'') {
				if (*p == '\\' && p[1])
					p++;
				buf_putc(&v, *p++);
			}
			if (*p != '\'') {
				buf_release(&v);
				cairn_error_set("malformed PostgreSQL connection string: "
						"unterminated quoted value");
				return -1;
			}
			p++;
		} else {
			while (*p && !is_blank(*p)) {
				if (*p == '\\' && p[1])
					p++;
				buf_putc(&v, *p++);
			}
		}
		val_end = p;
		if (keylen == 12 && !strncmp(key, "cairn_schema", 12)) {
			free(*schema);
			*schema = buf_detach(&v, NULL);
			if (!*schema)
				*schema = xstrdup("");
		} else {
			if (out->len)
				buf_putc(out, ' ');
			buf_put(out, start, (size_t)(val_end - start));
		}
		buf_release(&v);
	}
	return 0;
}

static int looks_like_keywords(const char *dsn)
{
	const char *eq = strchr(dsn, '=');
	const char *p;

	if (!eq || eq == dsn)
		return 0;
	for (p = dsn; p < eq; p++)
		if (!(is_blank(*p) || (*p >= 'a' && *p <= 'z') || *p == '_'))
			return 0;
	return 1;
}

static int pg_accepts(const char *dsn)
{
	return dsn && (is_uri(dsn) || looks_like_keywords(dsn));
}

static int schema_name_ok(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > 63)
		return 0;
	if (!((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
		return 0;
	for (i = 1; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return 0;
	return 1;
}

/* ---- errors ---------------------------------------------------------- */

static void copy_field(char *dst, size_t size, const char *src)
{
	size_t n;

	if (!src)
		src = "";
	n = strlen(src);
	if (n >= size)
		n = size - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
	/* one line: a multi-line detail becomes "a; b" */
	for (char *p = dst; *p; p++)
		if (*p == '\n')
			*p = ';';
}

/* libpq's messages end with a newline and may span lines. */
static void set_conn_error(struct db *db, PGconn *c, const char *what)
{
	char msg[CAIRN_ERRMSG_MAX];
	const char *m = c ? pq.errorMessage(c) : "out of memory";
	size_t n = 0, n2;

	for (; *m && n + 2 < sizeof(msg); m++) {
		if (*m == '\n') {
			if (m[1])
				msg[n++] = ';', msg[n++] = ' ';
		} else {
			msg[n++] = *m;
		}
	}
	msg[n] = '\0';
	n2 = strlen(what);
	cairn_error_set("%s%s '%s': %s", what, n2 > 3 && !strcmp(what + n2 - 3, " to") ? "" : " on",
			db->display ? db->display : "PostgreSQL", n ? msg : "unknown error");
}

static void fill_error(struct driver_error *e, const PGresult *r)
{
	const char *ctx = pq.resultErrorField(r, PG_DIAG_CONTEXT);
	const char *detail = pq.resultErrorField(r, PG_DIAG_MESSAGE_DETAIL);
	char buf[sizeof(e->detail)];

	copy_field(e->code, sizeof(e->code), pq.resultErrorField(r, PG_DIAG_SQLSTATE));
	copy_field(e->message, sizeof(e->message), pq.resultErrorField(r, PG_DIAG_MESSAGE_PRIMARY));
	if (!e->message[0])
		copy_field(e->message, sizeof(e->message), pq.resultErrorMessage(r));
	copy_field(e->hint, sizeof(e->hint), pq.resultErrorField(r, PG_DIAG_MESSAGE_HINT));
	/* the context says where inside a function body or a COPY (which line
	 * of the data file) the error happened */
	if (ctx && detail)
		snprintf(buf, sizeof(buf), "%s; context: %s", detail, ctx);
	else if (ctx)
		snprintf(buf, sizeof(buf), "context: %s", ctx);
	else
		snprintf(buf, sizeof(buf), "%s", detail ? detail : "");
	copy_field(e->detail, sizeof(e->detail), buf);
}

/* driver_error_format's layout, kept here so this file links on its own
 * (the test helper drives it without the registry). */
static void pg_error_format(const struct driver_error *e, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s%s%s", e->code, e->code[0] ? ": " : "",
			 e->message[0] ? e->message : "unknown error");

	if (n < 0 || (size_t)n >= len)
		return;
	if (e->detail[0] || e->hint[0])
		snprintf(buf + n, len - (size_t)n, " (%s%s%s)", e->detail,
			 e->detail[0] && e->hint[0] ? "; hint: " : (e->hint[0] ? "hint: " : ""),
			 e->hint);
}

static void set_sql_error(struct driver_error *e)
{
	char msg[CAIRN_ERRMSG_MAX];

	pg_error_format(e, msg, sizeof(msg));
	cairn_error_set("%s", msg);
}

static void error_clear(struct driver_error *e)
{
	memset(e, 0, sizeof(*e));
	e->offset = -1;
}

/* ---- connections ----------------------------------------------------- */

static void quiet_notices(void *arg, const char *message)
{
	(void)arg;
	(void)message; /* libraries never print; notices are not errors */
}

static PGconn *connect_db(struct db *db)
{
	const char *kw[] = { "fallback_application_name", "dbname", "client_encoding", NULL };
	const char *val[] = { "cairn-apply", db->conninfo, "UTF8", NULL };
	PGconn *c = pq.connectdbParams(kw, val, 1);

	if (c)
		pq.setNoticeProcessor(c, quiet_notices, NULL);
	return c;
}

static void make_display(struct db *db, PGconn *c)
{
	const char *host = c ? pq.host(c) : NULL;
	const char *user = c ? pq.user(c) : NULL;
	const char *port = c ? pq.port(c) : NULL;
	const char *name = c ? pq.db(c) : NULL;

	free(db->display);
	db->display = xasprintf("postgres %s@%s:%s/%s", user && *user ? user : "?",
				host && *host ? host : "localhost", port && *port ? port : "5432",
				name && *name ? name : "?");
}

static int simple_exec(struct db *db, PGconn *c, const char *sql, const char *what)
{
	PGresult *r = pq.exec(c, sql);
	int ok = r && (pq.resultStatus(r) == PGRES_COMMAND_OK ||
		       pq.resultStatus(r) == PGRES_TUPLES_OK ||
		       pq.resultStatus(r) == PGRES_EMPTY_QUERY);

	if (!ok) {
		if (r && pq.resultStatus(r) == PGRES_FATAL_ERROR) {
			struct driver_error e;

			error_clear(&e);
			fill_error(&e, r);
			char msg[CAIRN_ERRMSG_MAX];

			pg_error_format(&e, msg, sizeof(msg));
			cairn_error_set("%s on '%s' failed: %s", what, db->display, msg);
		} else {
			set_conn_error(db, c, what);
		}
	}
	pq.clear(r);
	return ok ? 0 : -1;
}

static uint64_t fnv1a(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

static int pg_open(struct db **out, const char *dsn, unsigned flags)
{
	struct db *db;
	struct buf ci = BUF_INIT;
	char *schema = NULL, *q;
	int rc;

	*out = NULL;
	if (pq_load() < 0)
		return -1;
	db = xcalloc(1, sizeof(*db));
	rc = is_uri(dsn) ? strip_uri(dsn, &ci, &schema) : strip_keywords(dsn, &ci, &schema);
	if (rc < 0)
		goto fail;
	db->conninfo = buf_detach(&ci, NULL);
	if (!db->conninfo)
		db->conninfo = xstrdup("");
	if (!schema && getenv("CAIRN_PG_SCHEMA") && *getenv("CAIRN_PG_SCHEMA"))
		schema = xstrdup(getenv("CAIRN_PG_SCHEMA"));
	db->schema = schema ? schema : xstrdup(PG_DEFAULT_SCHEMA);
	schema = NULL;
	if (!schema_name_ok(db->schema)) {
		cairn_error_set("invalid bookkeeping schema name '%.64s': use lower-case letters, "
				"digits and _, at most 63 characters",
				db->schema);
		goto fail;
	}
	/* the name is plain (checked above), yet quote it as libpq would */
	db->t_mig = xasprintf("\"%s\".cairn_migrations", db->schema);
	db->t_audit = xasprintf("\"%s\".cairn_audit", db->schema);
	q = xasprintf("cairn:%s", db->schema);
	db->lock_key = (int64_t)fnv1a(q);
	free(q);
	db->readonly = !!(flags & DRIVER_OPEN_READONLY);

	db->conn = connect_db(db);
	make_display(db, db->conn);
	if (!db->conn || pq.status(db->conn) != CONNECTION_OK) {
		set_conn_error(db, db->conn, "cannot connect to");
		goto fail;
	}
	if (db->readonly &&
	    simple_exec(db, db->conn, "SET default_transaction_read_only = on", "setting read-only") < 0)
		goto fail;
	*out = db;
	return 0;
fail:
	buf_release(&ci);
	free(schema);
	if (db->conn)
		pq.finish(db->conn);
	db->conn = NULL;
	free(db->conninfo);
	free(db->display);
	free(db->schema);
	free(db->t_mig);
	free(db->t_audit);
	free(db);
	return -1;
}

static void pg_close(struct db *db)
{
	if (!db)
		return;
	if (db->conn && db->tx_sent)
		pq.clear(pq.exec(db->conn, "ROLLBACK"));
	if (db->conn)
		pq.finish(db->conn);
	if (db->lock_conn)
		pq.finish(db->lock_conn); /* ends the session: the lock goes with it */
	if (db->conninfo) {
		/* it may hold a password */
		memset(db->conninfo, 0, strlen(db->conninfo));
		free(db->conninfo);
	}
	free(db->display);
	free(db->schema);
	free(db->t_mig);
	free(db->t_audit);
	buf_release(&db->pending);
	buf_release(&db->queued);
	free(db);
}

/* Loads libpq just for this: --version is not on a hot path. */
static void pg_library_version(char *buf, size_t size)
{
	int v;

	if (pq_load() < 0) {
		snprintf(buf, size, "libpq not loaded: %s", cairn_error_last());
		return;
	}
	v = pq.libVersion();
	snprintf(buf, size, "libpq %d.%d", v / 10000, v % 10000);
}

static const char *pg_display_name(struct db *db)
{
	return db->display;
}

/* ---- the lock -------------------------------------------------------- */

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static unsigned long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000ULL + (unsigned long long)ts.tv_nsec / 1000000ULL;
}

static int try_lock(struct db *db, int *got)
{
	char sql[128];
	PGresult *r;

	snprintf(sql, sizeof(sql), "SELECT pg_try_advisory_lock(%lld)", (long long)db->lock_key);
	r = pq.exec(db->lock_conn, sql);
	if (!r || pq.resultStatus(r) != PGRES_TUPLES_OK || pq.ntuples(r) != 1) {
		pq.clear(r);
		set_conn_error(db, db->lock_conn, "cannot take the advisory lock");
		return -1;
	}
	*got = pq.getvalue(r, 0, 0)[0] == 't';
	pq.clear(r);
	return 0;
}

/* "pid 123, cairn-apply, user bob from local, since 2026-..." or "". */
static void lock_holder(struct db *db, char *out, size_t size)
{
	char sql[1024];
	uint64_t k = (uint64_t)db->lock_key;
	PGresult *r;

	out[0] = '\0';
	snprintf(sql, sizeof(sql),
		 "SELECT a.pid, coalesce(nullif(a.application_name, ''), '?'), "
		 "coalesce(a.usename::text, '?'), coalesce(host(a.client_addr), 'local socket'), "
		 "coalesce(to_char(a.backend_start AT TIME ZONE 'UTC', "
		 "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '?') "
		 "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
		 "WHERE l.locktype = 'advisory' AND l.granted AND l.classid = %u AND l.objid = %u "
		 "AND l.objsubid = 1 AND l.database = "
		 "(SELECT oid FROM pg_database WHERE datname = current_database())",
		 (unsigned)(k >> 32), (unsigned)(k & 0xffffffffu));
	r = pq.exec(db->lock_conn, sql);
	if (r && pq.resultStatus(r) == PGRES_TUPLES_OK && pq.ntuples(r) >= 1)
		snprintf(out, size, " (held by %s, pid %s, user %s from %s, connected since %s)",
			 pq.getvalue(r, 0, 1), pq.getvalue(r, 0, 0), pq.getvalue(r, 0, 2),
			 pq.getvalue(r, 0, 3), pq.getvalue(r, 0, 4));
	pq.clear(r);
}

static int pg_lock(struct db *db, unsigned long long timeout_ms)
{
	unsigned long long deadline = now_ms() + timeout_ms;
	unsigned wait = 20;
	int got = 0;

	if (db->locked)
		return 0;
	if (!db->lock_conn) {
		db->lock_conn = connect_db(db);
		if (!db->lock_conn || pq.status(db->lock_conn) != CONNECTION_OK) {
			set_conn_error(db, db->lock_conn, "cannot open the lock connection to");
			pq.finish(db->lock_conn);
			db->lock_conn = NULL;
			return -1;
		}
		/* this session only holds the lock: it must outlive idle timeouts
		 * (PostgreSQL 14+; older servers do not know the setting) */
		pq.clear(pq.exec(db->lock_conn, "SET idle_session_timeout = 0"));
	}
	for (;;) {
		if (try_lock(db, &got) < 0)
			return -1;
		if (got)
			break;
		if (now_ms() >= deadline) {
			char holder[512];

			lock_holder(db, holder, sizeof(holder));
			cairn_error_set("another runner holds the lock on '%s' (schema %s)%s; not "
					"obtained within %llu ms",
					db->display, db->schema, holder, timeout_ms);
			return DRIVER_BUSY;
		}
		{
			unsigned long long left = deadline - now_ms();

			sleep_ms((unsigned)(left < wait ? left : wait));
		}
		if (wait < 250)
			wait *= 2;
	}
	db->locked = 1;
	return 0;
}

static int pg_unlock(struct db *db)
{
	char sql[128];
	int rc = 0;

	if (!db->locked)
		return 0;
	snprintf(sql, sizeof(sql), "SELECT pg_advisory_unlock(%lld)", (long long)db->lock_key);
	rc = simple_exec(db, db->lock_conn, sql, "releasing the advisory lock");
	db->locked = 0;
	pq.finish(db->lock_conn);
	db->lock_conn = NULL;
	return rc;
}

/* ---- transactions ---------------------------------------------------- */

/* Sends what was deferred (BEGIN, SET LOCAL, bookkeeping writes). */
static int flush(struct db *db)
{
	struct buf all = BUF_INIT;
	int rc;

	if (!db->pending.len && !db->queued.len)
		return 0;
	buf_put(&all, db->pending.ptr, db->pending.len);
	buf_put(&all, db->queued.ptr, db->queued.len);
	buf_reset(&db->pending);
	buf_reset(&db->queued);
	rc = simple_exec(db, db->conn, all.ptr, "bookkeeping");
	buf_release(&all);
	if (db->in_tx)
		db->tx_sent = 1;
	return rc;
}

/* The lock dies with its session: if an administrator ended that session
 * or the network dropped it, the run no longer holds the lock and must
 * stop. PQconsumeInput reads what the server sent without waiting, so the
 * check costs no round trip. */
static int lock_check(struct db *db)
{
	if (!db->locked)
		return 0;
	if (!pq.consumeInput(db->lock_conn) || pq.status(db->lock_conn) != CONNECTION_OK) {
		cairn_error_set("lost the run lock on '%s' (schema %s): its session ended; "
				"stopping before the next step",
				db->display, db->schema);
		return -1;
	}
	return 0;
}

static int pg_begin(struct db *db)
{
	if (lock_check(db) < 0)
		return -1;
	if (db->in_tx) {
		cairn_error_set("a transaction is already open on '%s'", db->display);
		return -1;
	}
	db->in_tx = 1;
	db->tx_sent = 0;
	buf_reset(&db->pending);
	buf_reset(&db->queued);
	buf_puts(&db->pending, "BEGIN;");
	return 0;
}

static int pg_commit(struct db *db)
{
	struct buf all = BUF_INIT;
	PGresult *r, *last = NULL;
	int failed = 0, committed = 0;
	struct driver_error e;

	if (!db->in_tx) {
		cairn_error_set("no transaction to commit on '%s'", db->display);
		return -1;
	}
	error_clear(&e);
	buf_put(&all, db->pending.ptr, db->pending.len);
	buf_put(&all, db->queued.ptr, db->queued.len);
	buf_puts(&all, "COMMIT");
	buf_reset(&db->pending);
	buf_reset(&db->queued);
	if (!pq.sendQuery(db->conn, all.ptr)) {
		buf_release(&all);
		set_conn_error(db, db->conn, "cannot commit");
		db->in_tx = db->tx_sent = 0;
		return -1;
	}
	buf_release(&all);
	while ((r = pq.getResult(db->conn))) {
		if (pq.resultStatus(r) == PGRES_FATAL_ERROR && !failed) {
			failed = 1;
			fill_error(&e, r);
		}
		pq.clear(last);
		last = r;
	}
	/* COMMIT of an aborted transaction answers "ROLLBACK", not an error */
	if (!failed && last && pq.resultStatus(last) == PGRES_COMMAND_OK &&
	    !strcmp(pq.cmdStatus(last), "COMMIT"))
		committed = 1;
	pq.clear(last);
	if (failed || !committed) {
		char msg[CAIRN_ERRMSG_MAX];

		/* leave no aborted transaction behind */
		if (pq.transactionStatus(db->conn) != PQTRANS_IDLE)
			pq.clear(pq.exec(db->conn, "ROLLBACK"));
		db->in_tx = db->tx_sent = 0;
		if (failed) {
			pg_error_format(&e, msg, sizeof(msg));
			cairn_error_set("commit on '%s' failed, rolled back: %s", db->display, msg);
		} else if (pq.status(db->conn) != CONNECTION_OK) {
			set_conn_error(db, db->conn, "commit failed, connection lost");
		} else {
			cairn_error_set("commit on '%s' failed: the transaction had aborted and was "
					"rolled back",
					db->display);
		}
		return -1;
	}
	db->in_tx = db->tx_sent = 0;
	return 0;
}

static int pg_rollback(struct db *db)
{
	int rc = 0;

	if (!db->in_tx)
		return 0;
	buf_reset(&db->pending);
	buf_reset(&db->queued);
	if (db->tx_sent || pq.transactionStatus(db->conn) != PQTRANS_IDLE)
		rc = simple_exec(db, db->conn, "ROLLBACK", "rollback");
	db->in_tx = db->tx_sent = 0;
	return rc;
}

static int pg_set_timeouts(struct db *db, unsigned long long statement_ms,
			   unsigned long long lock_ms)
{
	char st[32], lk[32];

	snprintf(st, sizeof(st), statement_ms ? "%llu" : "DEFAULT", statement_ms);
	snprintf(lk, sizeof(lk), lock_ms ? "%llu" : "DEFAULT", lock_ms);
	if (db->in_tx) {
		if (!statement_ms && !lock_ms && !db->session_timeouts)
			return 0;
		buf_printf(&db->pending, "SET LOCAL statement_timeout = %s;SET LOCAL lock_timeout = %s;",
			   st, lk);
		return 0;
	} else {
		char sql[160];

		if (!statement_ms && !lock_ms && !db->session_timeouts)
			return 0;
		snprintf(sql, sizeof(sql), "SET statement_timeout = %s; SET lock_timeout = %s", st, lk);
		if (simple_exec(db, db->conn, sql, "setting timeouts") < 0)
			return -1;
		db->session_timeouts = statement_ms || lock_ms;
		return 0;
	}
}

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

			while (j < len && is_blank(s[j]))
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
	fill_error(e, r);
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
			set_sql_error(&x->err);
			goto out;
		}
	} else {
		buf_put(&q, sql + st->offset, st->len);
	}
	buf_reset(&db->pending);
	if (db->in_tx)
		db->tx_sent = 1;
	if (!pq.sendQuery(db->conn, q.ptr)) {
		set_conn_error(db, db->conn, "cannot send a statement");
		copy_field(x->err.message, sizeof(x->err.message), cairn_error_last());
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
					copy_field(x->err.message, sizeof(x->err.message),
						   cairn_error_last());
					x->err.offset = (long)st->offset;
				}
			} else if (pq.putCopyEnd(db->conn, NULL) != 1) {
				set_conn_error(db, db->conn, "cannot end the data load");
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
		set_sql_error(&x->err);
		goto out;
	}
	if (pq.status(db->conn) != CONNECTION_OK) {
		set_conn_error(db, db->conn, "connection lost");
		copy_field(x->err.message, sizeof(x->err.message), cairn_error_last());
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

static int pg_exec(struct db *db, const char *sql, size_t len, struct driver_exec *x)
{
	struct pgsplit sp = PGSPLIT_INIT;
	struct buf q = BUF_INIT;
	size_t i, prefix, nresults = 0, prefix_results = 0;
	int has_copy = 0, got_error = 0, rc = -1;
	PGresult *res;

	error_clear(&x->err);
	x->changes = 0;
	x->statements = 0;
	if (pgsplit(&sp, sql, len) < 0) {
		copy_field(x->err.message, sizeof(x->err.message), cairn_error_last());
		goto out;
	}
	for (i = 0; i < sp.n; i++) {
		size_t a, b;

		if (copy_data_literal(sql + sp.stmts[i].offset, sp.stmts[i].len, &a, &b))
			has_copy = 1;
	}
	if ((x->flags & DRIVER_EXEC_SPLIT) || has_copy) {
		for (i = 0; i < sp.n; i++) {
			if ((x->flags & DRIVER_EXEC_SPLIT) && lock_check(db) < 0) {
				copy_field(x->err.message, sizeof(x->err.message), cairn_error_last());
				goto out;
			}
			if ((x->flags & DRIVER_EXEC_SPLIT) && x->on_statement &&
			    x->on_statement(x->ctx, (unsigned long)i, sp.stmts[i].offset) != 0)
				goto out;
			if (db->queued.len && flush(db) < 0)
				goto out;
			if (run_statement(db, sql, len, &sp.stmts[i], x) < 0)
				goto out;
		}
		rc = 0;
		goto out;
	}

	/* the whole script at once, after what was deferred */
	if (db->queued.len && flush(db) < 0)
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
		set_conn_error(db, db->conn, "cannot send the script");
		copy_field(x->err.message, sizeof(x->err.message), cairn_error_last());
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
		nresults++;
		pq.clear(res);
	}
	if (got_error) {
		set_sql_error(&x->err);
		goto out;
	}
	if (pq.status(db->conn) != CONNECTION_OK) {
		set_conn_error(db, db->conn, "connection lost");
		copy_field(x->err.message, sizeof(x->err.message), cairn_error_last());
		goto out;
	}
	rc = 0;
out:
	buf_release(&q);
	pgsplit_release(&sp);
	return rc;
}

static int pg_query_truth(struct db *db, const char *sql, size_t len, int *truth,
			  struct driver_error *err)
{
	struct buf q = BUF_INIT;
	PGresult *res, *last = NULL;
	size_t prefix;
	int rc = -1, got_error = 0;

	error_clear(err);
	*truth = 0;
	if (memchr(sql, '\0', len)) {
		snprintf(err->message, sizeof(err->message), "NUL byte in the query");
		set_sql_error(err);
		return -1;
	}
	if (db->queued.len && flush(db) < 0)
		return -1;
	prefix = db->pending.len;
	buf_put(&q, db->pending.ptr, db->pending.len);
	buf_put(&q, sql, len);
	buf_reset(&db->pending);
	if (db->in_tx)
		db->tx_sent = 1;
	if (!pq.sendQuery(db->conn, q.ptr)) {
		set_conn_error(db, db->conn, "cannot send the query");
		goto out;
	}
	while ((res = pq.getResult(db->conn))) {
		ExecStatusType s = pq.resultStatus(res);

		if (s == PGRES_FATAL_ERROR && !got_error) {
			got_error = 1;
			capture(db, res, err, sql, len, 0, len, prefix, 0);
		}
		if (s == PGRES_TUPLES_OK) {
			pq.clear(last);
			last = res;
		} else {
			pq.clear(res);
		}
	}
	if (got_error) {
		set_sql_error(err);
		goto out;
	}
	if (last && pq.ntuples(last) > 0 && pq.nfields(last) > 0 && !pq.getisnull(last, 0, 0)) {
		const char *v = pq.getvalue(last, 0, 0);

		*truth = !(!strcmp(v, "f") || !strcmp(v, "false") || !strcmp(v, "0") || !*v);
	}
	rc = 0;
out:
	pq.clear(last);
	buf_release(&q);
	return rc;
}

/* ---- bookkeeping ----------------------------------------------------- */

static int query(struct db *db, const char *sql, PGresult **out, const char *what)
{
	PGresult *r;

	*out = NULL;
	if (db->in_tx && flush(db) < 0)
		return -1;
	r = pq.exec(db->conn, sql);
	if (!r || pq.resultStatus(r) != PGRES_TUPLES_OK) {
		if (r && pq.resultStatus(r) == PGRES_FATAL_ERROR) {
			struct driver_error e;
			char msg[CAIRN_ERRMSG_MAX];

			error_clear(&e);
			fill_error(&e, r);
			pg_error_format(&e, msg, sizeof(msg));
			cairn_error_set("%s on '%s' failed: %s", what, db->display, msg);
		} else {
			set_conn_error(db, db->conn, what);
		}
		pq.clear(r);
		return -1;
	}
	if (db->in_tx)
		db->tx_sent = 1;
	*out = r;
	return 0;
}

static int pg_bk_exists(struct db *db, int *exists)
{
	PGresult *r;
	char *sql = xasprintf("SELECT to_regclass('%s') IS NOT NULL AND to_regclass('%s') IS NOT NULL",
			      db->t_mig, db->t_audit);
	int rc = query(db, sql, &r, "reading the bookkeeping tables");

	free(sql);
	if (rc < 0)
		return -1;
	*exists = pq.getvalue(r, 0, 0)[0] == 't';
	db->bk_seen = *exists;
	pq.clear(r);
	return 0;
}

/* Reading from a database without the tables yet reads nothing (a new
 * database); once seen, they are not looked for again. */
static int bk_missing(struct db *db, int *missing)
{
	int exists = 1;

	*missing = 0;
	if (db->bk_seen)
		return 0;
	if (pg_bk_exists(db, &exists) < 0)
		return -1;
	*missing = !exists;
	return 0;
}

static int pg_bk_ensure(struct db *db)
{
	int exists = 0, rc;
	PGresult *r;
	char *sql;

	if (db->readonly) {
		cairn_error_set("'%s' is open read-only: cannot create the bookkeeping tables",
				db->display);
		return -1;
	}
	if (pg_bk_exists(db, &exists) < 0)
		return -1;
	if (exists)
		return 0;
	/* CREATE SCHEMA IF NOT EXISTS still needs CREATE on the database: ask
	 * only when the schema is missing, so a DBA may create it beforehand */
	sql = xasprintf("SELECT 1 FROM pg_namespace WHERE nspname = '%s'", db->schema);
	rc = query(db, sql, &r, "looking for the bookkeeping schema");
	free(sql);
	if (rc < 0)
		return -1;
	exists = pq.ntuples(r) > 0;
	pq.clear(r);
	sql = xasprintf(
		"%s%s\"%s\";"
		"CREATE TABLE IF NOT EXISTS %s ("
		" version text PRIMARY KEY,"
		" name text NOT NULL,"
		" checksum text NOT NULL,"
		" state text NOT NULL CHECK (state IN ('pending', 'in_progress', 'applied', 'failed', "
		"'rolled_back')),"
		" bundle_id text NOT NULL DEFAULT '',"
		" environment text NOT NULL DEFAULT '',"
		" applied_at text NOT NULL DEFAULT '',"
		" applied_by text NOT NULL DEFAULT '',"
		" duration_ms bigint NOT NULL DEFAULT 0,"
		" down_sql text,"
		" irreversible boolean NOT NULL DEFAULT false,"
		" transactional boolean NOT NULL DEFAULT true,"
		" kind text NOT NULL DEFAULT 'schema',"
		" batches bigint NOT NULL DEFAULT 0,"
		" rows_changed bigint NOT NULL DEFAULT 0,"
		" statement bigint NOT NULL DEFAULT -1,"
		" error text,"
		" audit_hash text NOT NULL DEFAULT '');"
		"CREATE TABLE IF NOT EXISTS %s ("
		" seq bigint PRIMARY KEY,"
		" at text NOT NULL,"
		" actor text NOT NULL,"
		" action text NOT NULL,"
		" version text NOT NULL DEFAULT '',"
		" from_version text NOT NULL DEFAULT '',"
		" to_version text NOT NULL DEFAULT '',"
		" bundle_id text NOT NULL DEFAULT '',"
		" environment text NOT NULL DEFAULT '',"
		" detail text NOT NULL DEFAULT '',"
		" prev_hash text NOT NULL,"
		" hash text NOT NULL)",
		exists ? "" : "CREATE SCHEMA IF NOT EXISTS ", exists ? "SELECT 1 -- " : "", db->schema,
		db->t_mig, db->t_audit);
	if (db->in_tx && flush(db) < 0) {
		free(sql);
		return -1;
	}
	rc = simple_exec(db, db->conn, sql, "creating the bookkeeping tables");
	free(sql);
	if (rc == 0)
		db->bk_seen = 1;
	return rc;
}

static char *dup_or(PGresult *r, int row, int col, const char *dflt)
{
	if (pq.getisnull(r, row, col))
		return dflt ? xstrdup(dflt) : NULL;
	return xstrdup(pq.getvalue(r, row, col));
}

static long long ll(PGresult *r, int row, int col)
{
	return pq.getisnull(r, row, col) ? 0 : strtoll(pq.getvalue(r, row, col), NULL, 10);
}

static int pg_bk_read(struct db *db, struct bk_row **out, size_t *n)
{
	PGresult *r;
	char *sql = xasprintf("SELECT version, name, checksum, state, bundle_id, environment, "
			      "applied_at, applied_by, duration_ms, down_sql, irreversible, "
			      "transactional, kind, batches, rows_changed, statement, error, "
			      "audit_hash FROM %s",
			      db->t_mig);
	int rc;
	struct bk_row *rows;
	int i, nt, missing = 0;

	*out = NULL;
	*n = 0;
	if (bk_missing(db, &missing) < 0 || missing) {
		free(sql);
		return missing ? 0 : -1;
	}
	rc = query(db, sql, &r, "reading the bookkeeping");
	free(sql);
	if (rc < 0)
		return -1;
	nt = pq.ntuples(r);
	rows = xcalloc(nt ? (size_t)nt : 1, sizeof(*rows));
	for (i = 0; i < nt; i++) {
		struct bk_row *b = &rows[i];

		b->version = dup_or(r, i, 0, "");
		b->name = dup_or(r, i, 1, "");
		b->checksum = dup_or(r, i, 2, "");
		b->state = dup_or(r, i, 3, "");
		b->bundle_id = dup_or(r, i, 4, "");
		b->environment = dup_or(r, i, 5, "");
		b->applied_at = dup_or(r, i, 6, "");
		b->applied_by = dup_or(r, i, 7, "");
		b->duration_ms = ll(r, i, 8);
		b->down_sql = dup_or(r, i, 9, NULL);
		b->irreversible = pq.getvalue(r, i, 10)[0] == 't';
		b->transactional = pq.getvalue(r, i, 11)[0] == 't';
		b->kind = dup_or(r, i, 12, "schema");
		b->batches = ll(r, i, 13);
		b->rows_changed = ll(r, i, 14);
		b->statement = pq.getisnull(r, i, 15) ? -1 : ll(r, i, 15);
		b->error = dup_or(r, i, 16, NULL);
		b->audit_hash = dup_or(r, i, 17, "");
	}
	pq.clear(r);
	bk_rows_sort(rows, (size_t)nt);
	*out = rows;
	*n = (size_t)nt;
	return 0;
}

/* Appends s as a SQL literal (or NULL). */
static void put_lit(struct db *db, struct buf *b, const char *s, int last)
{
	if (!s) {
		buf_puts(b, "NULL");
	} else {
		char *e = pq.escapeLiteral(db->conn, s, strlen(s));

		if (!e)
			xmalloc((size_t)-1); /* only out of memory or bad encoding */
		buf_puts(b, e);
		pq.freemem(e);
	}
	buf_puts(b, last ? "" : ", ");
}

/* Runs a write now (autocommit), or queues it for the COMMIT. */
static int write_bk(struct db *db, struct buf *sql, const char *what)
{
	int rc = 0;

	if (db->readonly) {
		cairn_error_set("'%s' is open read-only: cannot write the bookkeeping", db->display);
		rc = -1;
	} else if (db->in_tx) {
		buf_put(&db->queued, sql->ptr, sql->len);
		buf_putc(&db->queued, ';');
	} else {
		rc = simple_exec(db, db->conn, sql->ptr, what);
	}
	buf_release(sql);
	return rc;
}

static int pg_bk_put(struct db *db, const struct bk_row *row)
{
	struct buf b = BUF_INIT;
	char num[128];

	buf_printf(&b,
		   "INSERT INTO %s (version, name, checksum, state, bundle_id, environment, "
		   "applied_at, applied_by, duration_ms, down_sql, irreversible, transactional, "
		   "kind, batches, rows_changed, statement, error, audit_hash) VALUES (",
		   db->t_mig);
	put_lit(db, &b, row->version, 0);
	put_lit(db, &b, row->name ? row->name : "", 0);
	put_lit(db, &b, row->checksum ? row->checksum : "", 0);
	put_lit(db, &b, row->state ? row->state : BK_PENDING, 0);
	put_lit(db, &b, row->bundle_id ? row->bundle_id : "", 0);
	put_lit(db, &b, row->environment ? row->environment : "", 0);
	put_lit(db, &b, row->applied_at ? row->applied_at : "", 0);
	put_lit(db, &b, row->applied_by ? row->applied_by : "", 0);
	snprintf(num, sizeof(num), "%lld, ", row->duration_ms);
	buf_puts(&b, num);
	put_lit(db, &b, row->down_sql, 0);
	snprintf(num, sizeof(num), "%s, %s, ", row->irreversible ? "true" : "false",
		 row->transactional ? "true" : "false");
	buf_puts(&b, num);
	put_lit(db, &b, row->kind ? row->kind : "schema", 0);
	snprintf(num, sizeof(num), "%lld, %lld, %lld, ", row->batches, row->rows_changed,
		 row->statement);
	buf_puts(&b, num);
	put_lit(db, &b, row->error, 0);
	put_lit(db, &b, row->audit_hash ? row->audit_hash : "", 1);
	buf_puts(&b, ")");
	if (row->is_new) /* a plain insert: no speculative insertion */
		return write_bk(db, &b, "writing the bookkeeping");
	buf_puts(&b, " ON CONFLICT (version) DO UPDATE SET name = EXCLUDED.name, checksum = "
		     "EXCLUDED.checksum, state = EXCLUDED.state, bundle_id = EXCLUDED.bundle_id, "
		     "environment = EXCLUDED.environment, applied_at = EXCLUDED.applied_at, "
		     "applied_by = EXCLUDED.applied_by, duration_ms = EXCLUDED.duration_ms, "
		     "down_sql = EXCLUDED.down_sql, irreversible = EXCLUDED.irreversible, "
		     "transactional = EXCLUDED.transactional, kind = EXCLUDED.kind, batches = "
		     "EXCLUDED.batches, rows_changed = EXCLUDED.rows_changed, statement = "
		     "EXCLUDED.statement, error = EXCLUDED.error, audit_hash = EXCLUDED.audit_hash");
	return write_bk(db, &b, "writing the bookkeeping");
}

static int pg_audit_append(struct db *db, const struct audit_row *row)
{
	struct buf b = BUF_INIT;

	buf_printf(&b,
		   "INSERT INTO %s (seq, at, actor, action, version, from_version, to_version, "
		   "bundle_id, environment, detail, prev_hash, hash) VALUES (%lld, ",
		   db->t_audit, row->seq);
	put_lit(db, &b, row->at ? row->at : "", 0);
	put_lit(db, &b, row->actor ? row->actor : "", 0);
	put_lit(db, &b, row->action ? row->action : "", 0);
	put_lit(db, &b, row->version ? row->version : "", 0);
	put_lit(db, &b, row->from_version ? row->from_version : "", 0);
	put_lit(db, &b, row->to_version ? row->to_version : "", 0);
	put_lit(db, &b, row->bundle_id ? row->bundle_id : "", 0);
	put_lit(db, &b, row->environment ? row->environment : "", 0);
	put_lit(db, &b, row->detail ? row->detail : "", 0);
	put_lit(db, &b, row->prev_hash ? row->prev_hash : "", 0);
	put_lit(db, &b, row->hash ? row->hash : "", 1);
	buf_puts(&b, ")");
	return write_bk(db, &b, "appending to the audit trail");
}

static int pg_audit_read(struct db *db, int last_only, struct audit_row **out, size_t *n)
{
	PGresult *r;
	char *sql = xasprintf("SELECT seq, at, actor, action, version, from_version, to_version, "
			      "bundle_id, environment, detail, prev_hash, hash FROM %s ORDER BY "
			      "seq %s",
			      db->t_audit, last_only ? "DESC LIMIT 1" : "");
	int rc;
	struct audit_row *rows;
	int i, nt, missing = 0;

	*out = NULL;
	*n = 0;
	if (bk_missing(db, &missing) < 0 || missing) {
		free(sql);
		return missing ? 0 : -1;
	}
	rc = query(db, sql, &r, "reading the audit trail");
	free(sql);
	if (rc < 0)
		return -1;
	nt = pq.ntuples(r);
	rows = xcalloc(nt ? (size_t)nt : 1, sizeof(*rows));
	for (i = 0; i < nt; i++) {
		struct audit_row *a = &rows[i];

		a->seq = ll(r, i, 0);
		a->at = dup_or(r, i, 1, "");
		a->actor = dup_or(r, i, 2, "");
		a->action = dup_or(r, i, 3, "");
		a->version = dup_or(r, i, 4, "");
		a->from_version = dup_or(r, i, 5, "");
		a->to_version = dup_or(r, i, 6, "");
		a->bundle_id = dup_or(r, i, 7, "");
		a->environment = dup_or(r, i, 8, "");
		a->detail = dup_or(r, i, 9, "");
		a->prev_hash = dup_or(r, i, 10, "");
		a->hash = dup_or(r, i, 11, "");
	}
	pq.clear(r);
	*out = rows;
	*n = (size_t)nt;
	return 0;
}

const struct driver driver_postgres = {
	.name = "postgres",
	.transactional_ddl = 1,
	.library_version = pg_library_version,
	.accepts = pg_accepts,
	.open = pg_open,
	.close = pg_close,
	.display_name = pg_display_name,
	.lock = pg_lock,
	.unlock = pg_unlock,
	.begin = pg_begin,
	.commit = pg_commit,
	.rollback = pg_rollback,
	.set_timeouts = pg_set_timeouts,
	.exec = pg_exec,
	.query_truth = pg_query_truth,
	.bk_exists = pg_bk_exists,
	.bk_ensure = pg_bk_ensure,
	.bk_read = pg_bk_read,
	.bk_put = pg_bk_put,
	.audit_append = pg_audit_append,
	.audit_read = pg_audit_read,
};
