/* What the PostgreSQL driver's files share (postgres.c, pg-dsn.c,
 * pg-exec.c, pg-books.c): the connection and the helpers they call across
 * files. Only these files and the loader include libpq-fe.h (pq-load.h). */
#ifndef CAIRN_PG_PRIVATE_H
#define CAIRN_PG_PRIVATE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "../lib/buf.h"
#include "driver.h"
#include "pq-load.h"

#define PG_DEFAULT_SCHEMA "cairn"

struct db {
	PGconn *conn;
	PGconn *lock_conn;     /* the session holding the run lock: conn itself (issue #16) */
	PGcancel *cancel;      /* for conn, made before the lock is taken (signal-safe use) */
	volatile sig_atomic_t cancelled; /* SIGINT/SIGTERM (pg_cancel): stop waiting for the lock */
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
	/* the version (an SQL literal) of the row pg_bk_put last wrote as
	 * in_progress, until another row is written: a transaction: false
	 * migration's progress row, which pg-guard.c fingerprints apart */
	char *progress_lit;
};

/* pg-dsn.c */
int pg_is_uri(const char *dsn);
int pg_strip_uri(const char *dsn, struct buf *out, char **schema);
int pg_is_blank(char c);
int pg_strip_keywords(const char *dsn, struct buf *out, char **schema);
int pg_accepts(const char *dsn);
int pg_schema_name_ok(const char *s);
int pg_env_guard(const char *conninfo, int *pin_options);

/* postgres.c */
void pg_copy_field(char *dst, size_t size, const char *src);
void pg_set_conn_error(struct db *db, PGconn *c, const char *what);
void pg_fill_error(struct driver_error *e, const PGresult *r);
void pg_error_format(const struct driver_error *e, char *buf, size_t len);
void pg_set_sql_error(struct driver_error *e);
void pg_error_clear(struct driver_error *e);
int pg_simple_exec(struct db *db, PGconn *c, const char *sql, const char *what);
int pg_flush(struct db *db);
int pg_lock_check(struct db *db);

/* pg-exec.c */
int pg_exec(struct db *db, const char *sql, size_t len, struct driver_exec *x);
/* The statements of sp (a split of sql) run in the caller's transaction,
 * a statement of transaction control refused before it is sent (streamed
 * scripts: pg-stream.c). x->statements and x->changes add up; x->err's
 * offsets are sql's. */
struct sqlsplit;
int pg_exec_split_in_tx(struct db *db, const char *sql, size_t len, const struct sqlsplit *sp,
			struct driver_exec *x);
/* The statements of sp (a split of sql) run one by one outside a
 * transaction (DRIVER_EXEC_SPLIT: on_statement first, with its index in the
 * whole script), the script's own transactions allowed; ac carries what
 * the parts of a streamed script share. at_end: sql is the script's last
 * part, and a transaction it left open is rolled back and fails it. */
struct pg_autocommit {
	unsigned long index; /* statements of the script before sql's */
	long lines;          /* lines of the script before sql's first */
	int begun_line;      /* the line of the transaction the script opened, 0: none */
};
int pg_exec_autocommit(struct db *db, const char *sql, size_t len, const struct sqlsplit *sp,
		       struct driver_exec *x, struct pg_autocommit *ac, int at_end);
int pg_exec_stream(struct db *db,
		   int (*feed)(void *feed_ctx,
			       int (*sink)(void *sink_ctx, const void *data, size_t len),
			       void *sink_ctx),
		   void *feed_ctx, struct driver_exec *x);
int pg_query_truth(struct db *db, const char *sql, size_t len, int *truth,
		   struct driver_error *err);

/* pg-tx.c: the transaction as a script left it. Fed every result after the
 * prefix (ok: the statement succeeded; tag: its command tag; index: its
 * statement in the script). */
struct pg_txwatch {
	int seen;              /* a statement of transaction control ran */
	int committed;         /* one of them committed (COMMIT, END, PREPARE TRANSACTION) */
	int ended;             /* one of them ended the transaction (those, or ROLLBACK) */
	int ok_after, err_after; /* statements after the last one succeeded, failed */
	size_t index;          /* the first that ended it, else the first */
	char tag[32];
};
void pg_txwatch_result(struct pg_txwatch *w, int ok, const char *tag, size_t index);
/* After a statement (at byte offset in its script) run in the caller's
 * transaction: 0 when that transaction is as the caller left it; else 1,
 * with err saying which statement ended or steered it and whether work was
 * committed (tx_ended, tx_committed), and the session rolled back to no
 * transaction. */
int pg_txwatch_end(struct db *db, struct pg_txwatch *w, long offset, struct driver_error *err);

/* pg-books.c */
/* A query that returns rows: *out, or -1 with the error set (what failed
 * and the server's message). */
int pg_query_tuples(struct db *db, const char *sql, PGresult **out, const char *what);
int pg_bk_exists(struct db *db, int *exists);
int pg_bk_ensure(struct db *db);
int pg_bk_read(struct db *db, struct bk_row **out, size_t *n);
int pg_bk_put(struct db *db, const struct bk_row *row);
int pg_audit_append(struct db *db, const struct audit_row *row);
int pg_audit_read(struct db *db, int last_only, struct audit_row **out, size_t *n);
int pg_query_rows(struct db *db, const char *sql, struct driver_rows *out);

/* pg-guard.c: cairn's books as a script found them (issue #15) */
struct pg_guard {
	PGresult *before; /* NULL: no books yet, nothing to guard */
	int content;      /* outside a transaction: the statistics (reset at each
			   * commit) not compared, the rows' fingerprint is */
};
int pg_guard_take(struct db *db, struct pg_guard *g, int content);
int pg_guard_check(struct db *db, struct pg_guard *g, long offset, int committed,
		   struct driver_error *err);
void pg_guard_release(struct pg_guard *g);

/* pg-probe.c: preflight's questions (driver.h) */
int pg_query_text(struct db *db, const char *sql, char **out);
int pg_books_writable(struct db *db, char **why);
int pg_blockers(struct db *db, const char *const *tables, size_t ntables, char **out);
int pg_drop_invalid_index(struct db *db, const char *name, const char **what);
int pg_role_facts(struct db *db, char **out);

/* pg-backup.c: the backup before a destructive migration (driver.h) */
int pg_dump_tables(struct db *db, const char *const *tables, size_t n, const char *path);
/* Such a dump brought back inside the caller's transaction (pg_restore,
 * $CAIRN_PG_RESTORE naming the binary, writes its script; it runs on this
 * connection): the driver's restore_in_tx. */
int pg_restore_tables_in_tx(struct db *db, const char *path);

#endif
