/* What the SQLite driver's files share (sqlite.c, sqlite-exec.c,
 * sqlite-books.c, sqlite-files.c): the connection and the helpers they
 * call across files. */
#ifndef CAIRN_SQLITE_PRIVATE_H
#define CAIRN_SQLITE_PRIVATE_H

#include <sqlite3.h>
#include <stddef.h>

#include <signal.h>

#include "driver.h"

struct db {
	sqlite3 *h;           /* NULL: read-only open of a file that does not exist */
	char *path;
	unsigned flags;
	int lock_fd;
	volatile sig_atomic_t cancelled; /* SIGINT/SIGTERM (cancel): stop waiting for the lock */
	unsigned long long deadline_ns; /* statement timeout, 0 = none */
	sqlite3_stmt *put, *put_new, *put_state, *append; /* cached bookkeeping writes */
	int layout_known, positional;   /* the bookkeeping tables' columns are ours, in order */
	int persist;                    /* journal switched DELETE -> PERSIST while locked */
	struct bk_row *pre_rows;        /* read by the early open (DRIVER_OPEN_PREFETCH) */
	size_t pre_n;
	struct bk_briefs pre_briefs;    /* or compact (DRIVER_OPEN_BRIEF) */
	long long pre_stamp[3];         /* rows_stamp() when they were read */
	int have_pre;                   /* 1: pre_rows, 2: pre_briefs */
	long long brief_stamp[3];       /* rows_stamp() of the last briefs read */
	int have_brief_stamp;
	struct pool_block *shared;      /* the values read rows share (sqlite-books.c:
					 * shared_value), freed at close */
	struct sqlite_guard *guard;     /* set while a script runs (sqlite_guard_script) */
};

/* sqlite.c */
void sqlite_fill_error(struct db *db, struct driver_error *err, long base, int rc);
int sqlite_simple(struct db *db, const char *sql);
sqlite3_stmt *sqlite_pragma_row(struct db *db, const char *pragma);
/* The last error was SQLite refusing to write a file renamed away
 * (SQLITE_READONLY_DBMOVED) and the path names another file now: 1, with
 * the error set to the replaced-database message; else 0. */
int sqlite_was_replaced(struct db *db);

/* sqlite-vfs.c: "unix" without the directory sync of a journal that is
 * durable already; its name, or NULL (then SQLite's default VFS). */
#define SQLITE_VFS_NAME "cairn-unix"
const char *sqlite_vfs_name(void);
/* SQLite's temporary directory checked (lib/spill.h's tmpdir_check) and
 * pinned for the process, before a writing open: 0, or -1 with the error
 * set naming the directory and the variable that chose it. */
int sqlite_tmpdir_pin(void);

/* sqlite-exec.c */
int sqlite_exec(struct db *db, const char *sql, size_t len, struct driver_exec *x);
/* More of a script whose statements and changes x already counts (x->err's
 * offset relative to sql); more: not its last part. */
int sqlite_exec_part(struct db *db, const char *sql, size_t len, struct driver_exec *x,
		     int more);

/* While a script runs (g non-NULL; NULL: after): nothing of it may write,
 * alter or put a trigger on cairn's books, nor (g->no_tx) start or end a
 * transaction; g->denied says which rule refused (1 the transaction, 2 the
 * books). */
struct sqlite_guard {
	int no_tx, denied;
};
void sqlite_guard_script(struct db *db, struct sqlite_guard *g);
/* The guard's authorizer, set once when the connection opens and switched
 * by db->guard from then on: 0, or -1 with the error set. */
int sqlite_guard_install(struct db *db);
/* x->err's "not authorized" (the guard's refusal) said in full. */
void sqlite_denied_message(struct driver_error *e, const struct sqlite_guard *g);

/* sqlite-stream.c */
int sqlite_exec_stream(struct db *db,
		       int (*feed)(void *feed_ctx,
				   int (*sink)(void *sink_ctx, const void *data, size_t len),
				   void *sink_ctx),
		       void *feed_ctx, struct driver_exec *x);
int sqlite_query_truth(struct db *db, const char *sql, size_t len, int *truth,
		       struct driver_error *err);
int sqlite_query_rows(struct db *db, const char *sql, struct driver_rows *out);

/* sqlite-books.c */
int sqlite_bk_exists(struct db *db, int *exists);
int sqlite_bk_ensure(struct db *db);
void sqlite_prefetch_rows(struct db *db, int brief);
int sqlite_bk_read(struct db *db, struct bk_row **out, size_t *n);
int sqlite_bk_brief_read(struct db *db, struct bk_briefs *out);
int sqlite_bk_same_since_brief(struct db *db);
int sqlite_bk_put(struct db *db, const struct bk_row *r);
int sqlite_audit_append(struct db *db, const struct audit_row *r);
int sqlite_audit_scan(struct db *db, int (*cb)(void *ctx, const struct audit_row *r), void *ctx);
int sqlite_audit_read(struct db *db, int last_only, struct audit_row **out, size_t *n);

/* sqlite-files.c */
int sqlite_bundle_file_known(struct db *db, const char *sha256_hex);
int sqlite_bundle_file_record(struct db *db, const char *sha256_hex, const char *bundle_id,
			      const char *at);

/* sqlite-probe.c: preflight's questions (driver.h) */
int sqlite_query_text(struct db *db, const char *sql, char **out);
int sqlite_books_writable(struct db *db, char **why);
int sqlite_blockers(struct db *db, const char *const *tables, size_t ntables, char **out);
const char *sqlite_file_path(struct db *db);

/* sqlite-backup.c */
int sqlite_backup_to(struct db *db, const char *path);
int sqlite_restore_from(struct db *db, const char *path);

#endif
