/* The PostgreSQL driver (issue #6), over libpq, which it loads the first
 * time a PostgreSQL database is opened (pq-load.h): the only files that
 * include libpq-fe.h are the driver's (this one, pg-dsn.c, pg-exec.c,
 * pg-books.c) and the loader. Every libpq call goes through the loader's
 * table: pq.exec() is PQexec().
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
 *   its COMMIT, so a migration costs one round trip per statement plus one.
 * - Scripts are sent statement by statement (simple query protocol), in a
 *   transaction or not, split by PostgreSQL's parser (lib/sqlsplit.h), the
 *   transaction state read after each (issue #16). Error positions
 *   (characters) become byte offsets in the script.
 *
 * This file: errors, connections, the lock, transactions and the driver's
 * table; DSNs in pg-dsn.c, scripts in pg-exec.c, the bookkeeping in
 * pg-books.c (their shared state: pg-private.h).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../lib/buf.h"
#include "../lib/error.h"
#include "../lib/trace.h"
#include "driver.h"
#include "pg-private.h"
#include "pg-secret.h"
#include "pq-load.h"

/* ---- errors ---------------------------------------------------------- */

void pg_copy_field(char *dst, size_t size, const char *src)
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
void pg_set_conn_error(struct db *db, PGconn *c, const char *what)
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
	/* libpq quotes a conninfo it cannot parse, password and all */
	pg_secret_scrub(msg, sizeof(msg), db->conninfo);
	n2 = strlen(what);
	cairn_error_set("%s%s '%s': %s", what, n2 > 3 && !strcmp(what + n2 - 3, " to") ? "" : " on",
			db->display ? db->display : "PostgreSQL", *msg ? msg : "unknown error");
}

void pg_fill_error(struct driver_error *e, const PGresult *r)
{
	const char *ctx = pq.resultErrorField(r, PG_DIAG_CONTEXT);
	const char *detail = pq.resultErrorField(r, PG_DIAG_MESSAGE_DETAIL);
	char buf[sizeof(e->detail)];

	pg_copy_field(e->code, sizeof(e->code), pq.resultErrorField(r, PG_DIAG_SQLSTATE));
	e->lock_timeout = !strcmp(e->code, "55P03");
	pg_copy_field(e->message, sizeof(e->message), pq.resultErrorField(r, PG_DIAG_MESSAGE_PRIMARY));
	if (!e->message[0])
		pg_copy_field(e->message, sizeof(e->message), pq.resultErrorMessage(r));
	pg_copy_field(e->hint, sizeof(e->hint), pq.resultErrorField(r, PG_DIAG_MESSAGE_HINT));
	/* the context says where inside a function body or a COPY (which line
	 * of the data file) the error happened */
	if (ctx && detail)
		snprintf(buf, sizeof(buf), "%s; context: %s", detail, ctx);
	else if (ctx)
		snprintf(buf, sizeof(buf), "context: %s", ctx);
	else
		snprintf(buf, sizeof(buf), "%s", detail ? detail : "");
	pg_copy_field(e->detail, sizeof(e->detail), buf);
}

/* driver_error_format's layout, kept here so this file links on its own
 * (the test helper drives it without the registry). */
void pg_error_format(const struct driver_error *e, char *buf, size_t len)
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

void pg_set_sql_error(struct driver_error *e)
{
	char msg[CAIRN_ERRMSG_MAX];

	pg_error_format(e, msg, sizeof(msg));
	cairn_error_set("%s", msg);
}

void pg_error_clear(struct driver_error *e)
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

/* The session's application_name unless the DSN or PGAPPNAME names one:
 * "cairn-apply", or "cairn/<traceparent>" when the run carries a W3C trace
 * context (61 characters: within NAMEDATALEN), so the session shows up
 * in pg_stat_activity and the server's logs under the trace. Keywords
 * before dbname are defaults the DSN overrides; PGOPTIONS is kept out by
 * an explicit options=" " (pg_env_guard), and a writing session asks for a
 * primary (target_session_attrs=read-write) unless the DSN says otherwise,
 * whatever PGTARGETSESSIONATTRS says. */
static PGconn *connect_db(struct db *db, int pin_options)
{
	const char *kw[6], *val[6];
	char traced[64];
	const char *tp = trace_parent();
	size_t n = 0;
	PGconn *c;

	kw[n] = "fallback_application_name";
	val[n++] = "cairn-apply";
	if (tp && (size_t)snprintf(traced, sizeof(traced), "cairn/%s", tp) < sizeof(traced))
		val[0] = traced;
	if (pin_options) {
		kw[n] = "options";
		val[n++] = " ";
	}
	if (!db->readonly) {
		kw[n] = "target_session_attrs";
		val[n++] = "read-write";
	}
	kw[n] = "dbname";
	val[n++] = db->conninfo;
	kw[n] = "client_encoding";
	val[n++] = "UTF8";
	kw[n] = NULL;
	val[n] = NULL;
	c = pq.connectdbParams(kw, val, 1);

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

int pg_simple_exec(struct db *db, PGconn *c, const char *sql, const char *what)
{
	PGresult *r = pq.exec(c, sql);
	int ok = r && (pq.resultStatus(r) == PGRES_COMMAND_OK ||
		       pq.resultStatus(r) == PGRES_TUPLES_OK ||
		       pq.resultStatus(r) == PGRES_EMPTY_QUERY);

	if (!ok) {
		if (r && pq.resultStatus(r) == PGRES_FATAL_ERROR) {
			struct driver_error e;

			pg_error_clear(&e);
			pg_fill_error(&e, r);
			char msg[CAIRN_ERRMSG_MAX];

			pg_error_format(&e, msg, sizeof(msg));
			cairn_error_set("%s on '%s' failed: %s", what, db->display, msg);
		} else {
			pg_set_conn_error(db, c, what);
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

/* With the default search_path "$user", public, a role named like the
 * bookkeeping schema (cairn) would put a migration's unqualified tables into
 * that schema once cairn had created it. For such a role "$user" is taken
 * out of the session's search_path; every other entry stays, in order (a
 * search_path that names the schema explicitly is the DBA's choice, and
 * cairn_schema=public shares public on purpose). cairn's own statements
 * always name their schema. */
static int pin_search_path(struct db *db)
{
	char *sql = xasprintf(
		"SELECT pg_catalog.set_config('search_path', coalesce((SELECT "
		"pg_catalog.string_agg(pg_catalog.btrim(x), ', ' ORDER BY n) FROM "
		"pg_catalog.unnest(pg_catalog.string_to_array(pg_catalog.current_setting('search_path'), "
		"',')) WITH ORDINALITY AS t(x, n) WHERE pg_catalog.btrim(x) NOT IN ('\"$user\"', '$user') "
		"OR current_user <> '%s'), ''), false)",
		db->schema);
	int rc = pg_simple_exec(db, db->conn, sql, "pinning search_path");

	free(sql);
	return rc;
}

static int pg_open(struct db **out, const char *dsn, unsigned flags)
{
	struct db *db;
	struct buf ci = BUF_INIT;
	char *schema = NULL, *q;
	int rc, pin_options = 0;

	*out = NULL;
	if (pq_load() < 0)
		return -1;
	db = xcalloc(1, sizeof(*db));
	rc = pg_is_uri(dsn) ? pg_strip_uri(dsn, &ci, &schema) : pg_strip_keywords(dsn, &ci, &schema);
	if (rc < 0)
		goto fail;
	db->conninfo = buf_detach(&ci, NULL);
	if (!db->conninfo)
		db->conninfo = xstrdup("");
	if (!schema && getenv("CAIRN_PG_SCHEMA") && *getenv("CAIRN_PG_SCHEMA"))
		schema = xstrdup(getenv("CAIRN_PG_SCHEMA"));
	db->schema = schema ? schema : xstrdup(PG_DEFAULT_SCHEMA);
	schema = NULL;
	if (!pg_schema_name_ok(db->schema)) {
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
	if (pg_env_guard(db->conninfo, &pin_options) < 0)
		goto fail;
	db->conn = connect_db(db, pin_options);
	make_display(db, db->conn);
	if (!db->conn || pq.status(db->conn) != CONNECTION_OK) {
		pg_set_conn_error(db, db->conn, "cannot connect to");
		goto fail;
	}
	if (db->readonly &&
	    pg_simple_exec(db, db->conn, "SET default_transaction_read_only = on",
			   "setting read-only") < 0)
		goto fail;
	if (!db->readonly && pin_search_path(db) < 0)
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
	if (db->lock_conn && db->lock_conn != db->conn)
		pq.finish(db->lock_conn); /* ends the session: the lock goes with it */
	if (db->cancel)
		pq.freeCancel(db->cancel);
	if (db->conninfo) {
		/* it may hold a password */
		memset(db->conninfo, 0, strlen(db->conninfo));
		free(db->conninfo);
	}
	free(db->display);
	free(db->schema);
	free(db->t_mig);
	free(db->t_audit);
	free(db->progress_lit);
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

	/* pg_catalog named: a role's search_path "evil, pg_catalog" would
	 * otherwise let a look-alike function say yes to every runner */
	snprintf(sql, sizeof(sql), "SELECT pg_catalog.pg_try_advisory_lock(%lld)",
		 (long long)db->lock_key);
	r = pq.exec(db->lock_conn, sql);
	if (!r || pq.resultStatus(r) != PGRES_TUPLES_OK || pq.ntuples(r) != 1) {
		pq.clear(r);
		pg_set_conn_error(db, db->lock_conn, "cannot take the advisory lock");
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
		 "coalesce(a.usename::text, '?'), "
		 "coalesce(pg_catalog.host(a.client_addr), 'local socket'), "
		 "coalesce(pg_catalog.to_char(a.backend_start AT TIME ZONE 'UTC', "
		 "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '?') "
		 "FROM pg_catalog.pg_locks l JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid "
		 "WHERE l.locktype = 'advisory' AND l.granted AND l.classid = %u AND l.objid = %u "
		 "AND l.objsubid = 1 AND l.database = "
		 "(SELECT oid FROM pg_catalog.pg_database WHERE datname = "
		 "pg_catalog.current_database())",
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
		/* The lock is held by the session that runs the migrations, so it
		 * lives exactly as long as that server session: a runner killed
		 * mid-statement keeps it until the server has stopped the
		 * statement (the server checks for a lost client every second,
		 * PostgreSQL 14+), and a second runner never overlaps it. It is
		 * a session lock taken outside any transaction, which holds no
		 * snapshot, so CREATE INDEX CONCURRENTLY never waits for it. */
		db->lock_conn = db->conn;
		pq.clear(pq.exec(db->conn, "SET idle_session_timeout = 0"));
		pq.clear(pq.exec(db->conn, "SET client_connection_check_interval = 1000"));
		if (!db->cancel)
			db->cancel = pq.getCancel(db->conn);
	}
	for (;;) {
		if (try_lock(db, &got) < 0)
			return -1;
		if (got)
			break;
		if (db->cancelled) {
			cairn_error_set("stopped waiting for the lock on '%s' (schema %s): interrupted",
					db->display, db->schema);
			return -1;
		}
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

/* preflight: the run lock free now? Tried once on the session itself and
 * released at once when it was free. */
static int pg_lock_probe(struct db *db, char **holder)
{
	PGconn *saved = db->lock_conn;
	char sql[128], who[512];
	int got = 0, rc = 0;

	*holder = NULL;
	if (db->locked)
		return 0;
	db->lock_conn = db->conn;
	if (try_lock(db, &got) < 0) {
		rc = -1;
	} else if (got) {
		snprintf(sql, sizeof(sql), "SELECT pg_catalog.pg_advisory_unlock(%lld)",
			 (long long)db->lock_key);
		rc = pg_simple_exec(db, db->conn, sql, "releasing the advisory lock");
	} else {
		lock_holder(db, who, sizeof(who));
		*holder = xasprintf("another runner holds the lock on '%s' (schema %s)%s",
				    db->display, db->schema, who);
		rc = 1;
	}
	db->lock_conn = saved;
	return rc;
}

/* From the signal handler: PQcancel is async-signal-safe and asks the
 * server to stop the running statement, which then fails (57014) and the
 * engine rolls back; the lock is released after that, as on any failure. */
static void pg_cancel(struct db *db)
{
	char buf[256];

	if (db)
		db->cancelled = 1; /* pg_lock's wait looks at it */
	if (db && db->cancel)
		pq.cancel(db->cancel, buf, (int)sizeof(buf));
}

static int pg_unlock(struct db *db)
{
	char sql[128];
	int rc = 0;

	if (!db->locked)
		return 0;
	snprintf(sql, sizeof(sql), "SELECT pg_catalog.pg_advisory_unlock(%lld)",
		 (long long)db->lock_key);
	rc = pg_simple_exec(db, db->lock_conn, sql, "releasing the advisory lock");
	db->locked = 0;
	if (db->lock_conn != db->conn)
		pq.finish(db->lock_conn);
	db->lock_conn = NULL;
	return rc;
}

/* ---- transactions ---------------------------------------------------- */

/* Sends what was deferred (BEGIN, SET LOCAL, bookkeeping writes). */
int pg_flush(struct db *db)
{
	struct buf all = BUF_INIT;
	int rc;

	if (!db->pending.len && !db->queued.len)
		return 0;
	buf_put(&all, db->pending.ptr, db->pending.len);
	buf_put(&all, db->queued.ptr, db->queued.len);
	buf_reset(&db->pending);
	buf_reset(&db->queued);
	rc = pg_simple_exec(db, db->conn, all.ptr, "bookkeeping");
	buf_release(&all);
	if (db->in_tx)
		db->tx_sent = 1;
	return rc;
}

/* The lock dies with its session: if an administrator ended that session
 * or the network dropped it, the run no longer holds the lock and must
 * stop. PQconsumeInput reads what the server sent without waiting, so the
 * check costs no round trip. */
int pg_lock_check(struct db *db)
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
	if (pg_lock_check(db) < 0)
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
	pg_error_clear(&e);
	buf_put(&all, db->pending.ptr, db->pending.len);
	buf_put(&all, db->queued.ptr, db->queued.len);
	buf_puts(&all, "COMMIT");
	buf_reset(&db->pending);
	buf_reset(&db->queued);
	if (!pq.sendQuery(db->conn, all.ptr)) {
		buf_release(&all);
		pg_set_conn_error(db, db->conn, "cannot commit");
		db->in_tx = db->tx_sent = 0;
		return -1;
	}
	buf_release(&all);
	while ((r = pq.getResult(db->conn))) {
		if (pq.resultStatus(r) == PGRES_FATAL_ERROR && !failed) {
			failed = 1;
			pg_fill_error(&e, r);
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
			pg_set_conn_error(db, db->conn, "commit failed, connection lost");
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
		rc = pg_simple_exec(db, db->conn, "ROLLBACK", "rollback");
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
		if (pg_simple_exec(db, db->conn, sql, "setting timeouts") < 0)
			return -1;
		db->session_timeouts = statement_ms || lock_ms;
		return 0;
	}
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
	.cancel = pg_cancel,
	.begin = pg_begin,
	.commit = pg_commit,
	.rollback = pg_rollback,
	.set_timeouts = pg_set_timeouts,
	.exec = pg_exec,
	.exec_stream = pg_exec_stream,
	.query_truth = pg_query_truth,
	.bk_exists = pg_bk_exists,
	.bk_ensure = pg_bk_ensure,
	.bk_read = pg_bk_read,
	.bk_put = pg_bk_put,
	.audit_append = pg_audit_append,
	.audit_read = pg_audit_read,
	.query_rows = pg_query_rows,
	.query_text = pg_query_text,
	.lock_probe = pg_lock_probe,
	.books_writable = pg_books_writable,
	.blockers = pg_blockers,
	.dump_tables = pg_dump_tables,
	.restore_in_tx = pg_restore_tables_in_tx,
	.drop_invalid_index = pg_drop_invalid_index,
	.role_facts = pg_role_facts,
};
