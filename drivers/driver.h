/* The database driver interface: what the apply engine (apply/) needs from a
 * database, as a table of function pointers registered by name (libarchive's
 * format readers). The engine includes this header and never sqlite3.h or
 * libpq-fe.h; each driver (drivers/sqlite.c, drivers/postgres.c) fills one
 * struct driver and lists it in drivers/driver.c.
 *
 * Conventions, for every function below:
 * - return 0 on success, -1 on failure with the error slot set once
 *   (cairn_error_set) to a one-line message that names the database by its
 *   display name (never a password), DRIVER_BUSY where stated;
 * - a function that runs caller SQL also fills a struct driver_error, so the
 *   engine can show the engine's code and map the position into the file;
 * - nothing prints, nothing exits;
 * - strings handed back in rows are malloc'ed and owned by the caller
 *   (free with bk_rows_free / audit_rows_free); a row's may share one
 *   allocation (bk_row.strings, audit_row.strings).
 *
 * Transactions: the engine calls begin/commit/rollback around each migration
 * and its bookkeeping writes (bk_put, audit_append inside the same
 * transaction). Bookkeeping functions called outside a transaction run in
 * autocommit. The lock (lock/unlock) is separate from transactions: it is
 * held for a whole run, dies with the process or session, and never blocks a
 * migration's own statements (PostgreSQL: a session advisory lock on its own
 * connection; SQLite: an flock on the database file). */
#ifndef CAIRN_DRIVER_H
#define CAIRN_DRIVER_H

#include <stddef.h>
#include <stdint.h>

#define DRIVER_BUSY (-2) /* lock(): not obtained within the timeout */
#define DRIVER_BAD_DSN (-3) /* open(): the DSN itself is wrong (an unknown option): a usage error */

/* Open flags. */
#define DRIVER_OPEN_READONLY 0x1 /* plan, status, history: create nothing, write nothing;
				  * a database that does not exist yet reads as empty */
#define DRIVER_OPEN_EXISTING 0x4 /* status, history, rollback, repair: a database that
				  * does not exist is an error (only apply creates one) */
#define DRIVER_OPEN_PREFETCH 0x2 /* an open on the early-open thread (open_early): also
				  * read the bookkeeping rows now; bk_read hands them over
				  * if nothing was committed since (a driver may ignore it) */
#define DRIVER_OPEN_BRIEF 0x8    /* with DRIVER_OPEN_PREFETCH: read the rows compact
				  * (struct bk_brief) for bk_brief_read, not whole for
				  * bk_read: what apply's guard and plan need (rss14o) */

/* exec() flags. */
#define DRIVER_EXEC_SPLIT 0x1 /* run statement by statement in autocommit (transaction:
			       * false): the driver splits the script itself, with its
			       * engine's quoting rules, and calls on_statement first */

struct driver_error {
	char code[32];      /* SQLSTATE ("42P07") or the engine's code name ("SQLITE_ERROR") */
	char message[512];  /* the engine's primary message */
	char detail[512];   /* "" when none */
	char hint[256];     /* "" when none */
	long offset;        /* byte offset in the SQL passed to exec/query of the failing
			     * statement's error (or its start); -1 when unknown */
	/* The script ended or steered the transaction the caller opened
	 * (COMMIT, ROLLBACK, BEGIN, SAVEPOINT... of its own), or left one open
	 * in autocommit (DRIVER_EXEC_SPLIT): offset is that statement's. The
	 * caller's transaction is gone (the driver has rolled back what was
	 * left of it). tx_committed: work of the script (or of the caller's
	 * transaction) may have been committed by it. */
	int tx_ended, tx_committed;
	/* The statement gave up waiting for a lock (PostgreSQL: SQLSTATE
	 * 55P03, lock_timeout): nothing is wrong with it, another session held
	 * what it needed; the engine may retry the transaction (issue #22). */
	int lock_timeout;
	/* exec_stream only: the 1-based line of offset, counted by the driver
	 * as the script went by (the engine no longer has its text); 0 when
	 * not counted. */
	long line;
};

struct driver_exec {
	/* in */
	unsigned flags;
	/* DRIVER_EXEC_SPLIT only: called before statement index (0-based) that
	 * starts at byte offset; non-zero stops the script (error set by cb). */
	int (*on_statement)(void *ctx, unsigned long index, size_t offset);
	void *ctx;
	/* Data loads (PostgreSQL, issue #6): a statement COPY ... FROM
	 * 'data/NAME' ... in the script is run as COPY ... FROM STDIN, and the
	 * driver calls stream_data(data_ctx, "data/NAME", sink, sink_ctx), which
	 * feeds the migration's file through sink in chunks (bundle_stream) and
	 * returns 0, or non-zero with the error set (the COPY is then aborted).
	 * NULL: such a statement fails with "data loads need the bundle". */
	int (*stream_data)(void *data_ctx, const char *name,
			   int (*sink)(void *sink_ctx, const void *data, size_t len),
			   void *sink_ctx);
	void *data_ctx;
	/* out */
	unsigned long long changes; /* rows changed by the script: the sum over its
				     * INSERT/UPDATE/DELETE statements (a batch stops at 0) */
	unsigned long statements;   /* statements completed */
	struct driver_error err;
};

/* States of a cairn_migrations row (DESIGN.md). */
#define BK_PENDING "pending"
#define BK_IN_PROGRESS "in_progress"
#define BK_APPLIED "applied"
#define BK_FAILED "failed"
#define BK_ROLLED_BACK "rolled_back"

/* One row of cairn_migrations: the bookkeeping of a migration. */
struct bk_row {
	char *version;       /* primary key */
	char *name;          /* directory name */
	char *checksum;      /* "sha256:<hex>" as in the bundle's manifest */
	char *state;         /* BK_* */
	char *bundle_id;     /* bundle that last changed the row */
	char *environment;
	char *applied_at;    /* UTC, "2026-11-22T09:30:00Z" (empty when never applied) */
	char *applied_by;    /* user@host */
	long long duration_ms;
	char *down_sql;      /* the down script for this driver, kept at apply time; NULL when none */
	int irreversible;
	int transactional;   /* 0 for transaction: false */
	char *kind;          /* "schema" or "batch" */
	long long batches;   /* batch progress: batches committed */
	long long rows_changed;
	long long statement; /* non-transactional: index of the statement reached (-1 none) */
	char *error;         /* last failure, NULL when none */
	char *audit_hash;    /* hash of the audit row that last changed this row: anchors the
			      * audit chain's head, so a deleted last audit row is found */
	char *strings;       /* NULL: each string above is its own allocation. Otherwise
			      * they all point into this one (a row bk_read returned),
			      * which bk_row_release frees instead: change such a row's
			      * strings in a shallow copy, never free one on its own */
	int is_new;          /* for bk_put only, a hint: the engine read no row with this
			      * version under the run lock and has written none since, so
			      * a plain INSERT will do (cheaper to prepare and to run than
			      * an insert-or-replace); 0 is always safe */
	int state_only;      /* for bk_put only, a hint: the row exists and only state,
			      * environment, applied_at, applied_by, duration_ms, error
			      * and audit_hash differ from it (a rollback), so an UPDATE
			      * of those will do; a driver may ignore it, 0 is always safe */
};

/* A bookkeeping row compact (rss14o, rss14p): what engine_apply's guard
 * and plan read of a row, and nothing more. At 20,000 migrations the whole
 * rows are ~6.6 MB (152 bytes of struct and ~177 of strings each); these
 * are 120 bytes, the version and the name. Every fact the guard compares
 * (apply/books.c, books_facts) is kept exactly, not hashed: the sha256
 * digests written "sha256:" and 64 lowercase hex digits as their 32
 * bytes (the bundle id's once a run of rows, in bk_briefs.bundles),
 * state, environment and kind (which repeat across rows), and a bundle id
 * written otherwise, as a number into bk_briefs.interned, the flags as
 * bits. A row one of whose facts cannot be kept so (a checksum
 * written otherwise, more than BK_BRIEF_INTERNED distinct texts) is
 * BK_BRIEF_INEXACT: the guard over briefs refuses it and the whole rows
 * decide; bk_briefs_match matches it with nothing. */
#define BK_BRIEF_APPLIED       0x001  /* state */
#define BK_BRIEF_BLOCKING      0x002  /* failed or in_progress */
#define BK_BRIEF_BASELINE      0x004  /* kind */
#define BK_BRIEF_BATCH         0x008
#define BK_BRIEF_CK_ODD        0x010  /* checksum not as above: its bytes are zeros */
#define BK_BRIEF_HASH_ODD      0x020  /* audit_hash no 64 lowercase hex digits: zeros */
#define BK_BRIEF_INEXACT       0x040  /* a fact not kept exactly (above) */
#define BK_BRIEF_DOWN_NONE     0x080  /* no down script (down: zeros) */
#define BK_BRIEF_BUNDLE_TEXT   0x100  /* bundle_id no digest as above ('' included):
				       * interned[bundle_text], bundle 0 */
#define BK_BRIEF_IRREVERSIBLE  0x200
#define BK_BRIEF_TRANSACTIONAL 0x400
#define BK_BRIEF_INTERNED      32     /* distinct state/env/kind texts kept */
struct bk_brief {
	const char *version;          /* into bk_briefs.text; the name follows its NUL */
	unsigned char checksum[32];
	unsigned char audit_hash[32];
	unsigned char down[32];       /* the sha256 of down_sql */
	uint32_t bundle;              /* into bk_briefs.bundles, unless BUNDLE_TEXT */
	unsigned short flags;         /* BK_BRIEF_* */
	unsigned char state, env, kind, bundle_text; /* into bk_briefs.interned */
};

struct bk_briefs {
	struct bk_brief *b;           /* in bk_read's order */
	size_t n, alloc;
	char *text;                   /* version and name of each, NUL-terminated */
	size_t len, cap;
	char *interned[BK_BRIEF_INTERNED];
	unsigned ninterned;
	unsigned char (*bundles)[32]; /* the bundle ids' digests, each once a run of
				       * rows with the same one (rows of one apply) */
	uint32_t nbundles, bundles_alloc;
	char bundle_seen[7 + 64 + 1]; /* bundles[nbundles - 1] as text */
};

/* r's brief appended to bs (its version and name into bs->text). */
void bk_briefs_add(struct bk_briefs *bs, const struct bk_row *r);
/* After the last bk_briefs_add: the versions' pointers set into bs->text. */
void bk_briefs_finish(struct bk_briefs *bs);
void bk_briefs_release(struct bk_briefs *bs); /* accepts NULL */
/* The name of brief b (after its version). */
const char *bk_brief_name(const struct bk_brief *b);
/* 1 when the briefs are those of rows, field for field, in the same order;
 * 0 when they differ, or one is BK_BRIEF_INEXACT. */
int bk_briefs_match(const struct bk_briefs *bs, const struct bk_row *rows, size_t n);

/* One row of cairn_audit: an append-only chain. The engine computes hash
 * (apply/audit.c); drivers store and return the fields verbatim. */
struct audit_row {
	long long seq;       /* 1, 2, ...; assigned by the engine */
	char *at;            /* UTC */
	char *actor;         /* user@host */
	char *action;        /* apply, apply-failed, rollback, baseline, repair, ... */
	char *version;       /* migration concerned ("" for a whole-run event) */
	char *from_version;  /* highest applied version before */
	char *to_version;    /* and after */
	char *bundle_id;     /* "" when none (rollback, repair) */
	char *environment;
	char *detail;        /* free text: checksum, error, approvals used */
	char *prev_hash;     /* hash of row seq-1; 64 zeros for the first */
	char *hash;          /* sha256 over the fields above */
	char *strings;       /* as bk_row.strings: NULL, or the one allocation the
			      * strings above point into (a row audit_read returned) */
};

struct db; /* a driver's connection, opaque to the engine */

/* Rows of a query, as text: cells[row * ncols + col], NULL for SQL NULL. */
struct driver_rows {
	char **cells;
	size_t nrows, ncols;
};

struct driver {
	const char *name;          /* "sqlite", "postgres": also the variant suffix (up.NAME.sql) */
	int transactional_ddl;     /* DDL rolls back with the transaction */
	/* The client library and its version, for --version ("SQLite 3.40.1").
	 * May load a library the driver loads at first use (libpq). */
	void (*library_version)(char *buf, size_t size);

	/* 1 when dsn is for this driver ("sqlite:", "postgres://", "host=..."):
	 * from the text alone, loading nothing, so a sqlite: run never needs
	 * libpq. */
	int (*accepts)(const char *dsn);
	int (*open)(struct db **out, const char *dsn, unsigned flags);
	/* Optional. 1 when open(dsn, flags) may run on another thread while
	 * the bundle is still being verified: it creates nothing, writes
	 * nothing and shows nothing to anyone else (SQLite: a database file
	 * that already exists). NULL: never; open only after verification. */
	int (*open_early)(const char *dsn);
	void (*close)(struct db *db); /* accepts NULL; rolls back an open transaction */
	/* The database for messages and receipts: never a password. */
	const char *(*display_name)(struct db *db);

	/* One runner at a time. Waits up to timeout_ms (0: try once); returns
	 * DRIVER_BUSY (error set, naming the holder when known) on timeout. */
	int (*lock)(struct db *db, unsigned long long timeout_ms);
	int (*unlock)(struct db *db);
	/* Optional. Asks the statement running now to stop (PostgreSQL:
	 * PQcancel; SQLite: sqlite3_interrupt); it then fails as any failing
	 * statement does and the caller rolls back. Async-signal-safe: the
	 * applier calls it from its SIGINT/SIGTERM handler. */
	void (*cancel)(struct db *db);

	int (*begin)(struct db *db);
	int (*commit)(struct db *db);
	int (*rollback)(struct db *db);
	/* Timeouts for what runs next: inside a transaction they last until its
	 * end (PostgreSQL SET LOCAL). 0 = the driver's default. */
	int (*set_timeouts)(struct db *db, unsigned long long statement_ms,
			    unsigned long long lock_ms);

	/* Runs a script (len bytes, not necessarily NUL-terminated). */
	int (*exec)(struct db *db, const char *sql, size_t len, struct driver_exec *x);
	/* Optional (NULL: the engine reads a script whole and calls exec).
	 * Runs a script it is fed in chunks, statement by statement as each
	 * one is complete, holding a window of it rather than all of it
	 * (issue #15). Inside the caller's transaction: feed(feed_ctx, sink, sink_ctx) calls sink for
	 * every chunk and returns 0 once all of it came and its hash matched
	 * the signed manifest's, non-zero (error set) otherwise; statements
	 * have then run, and the driver returns -1 so the caller rolls back.
	 * A statement that would end that transaction (COMMIT, ROLLBACK...)
	 * is refused before it runs, so nothing is committed before the hash
	 * is checked. With DRIVER_EXEC_SPLIT (trust15e), outside any
	 * transaction: feed is a private copy whose hash the caller checked
	 * before (apply's spill), which the driver may read more than once
	 * (each call starts from the first byte); statements commit one by one
	 * as exec's do, on_statement first, and the script's own transactions
	 * are allowed. Offsets in x->err are the whole script's; x->err.line
	 * is set. */
	int (*exec_stream)(struct db *db,
			   int (*feed)(void *feed_ctx,
				       int (*sink)(void *sink_ctx, const void *data, size_t len),
				       void *sink_ctx),
			   void *feed_ctx, struct driver_exec *x);
	/* Runs a query (verify.sql) and sets *truth from the first column of its
	 * first row: NULL, false, 0, '' and no row at all are false. */
	int (*query_truth)(struct db *db, const char *sql, size_t len, int *truth,
			   struct driver_error *err);

	/* Bookkeeping. *exists = 0 when the tables are not there yet (a new
	 * database: no rows, nothing applied). */
	int (*bk_exists)(struct db *db, int *exists);
	int (*bk_ensure)(struct db *db);   /* creates cairn_migrations and cairn_audit */
	/* 1: a new database's books and identity row may be written by the
	 * run's first transaction (apply/run.c tx_begin), saving a commit. 0
	 * (PostgreSQL): they are created up front, in one transaction of their
	 * own, since creating them needs privileges a DBA may not have granted,
	 * and a refusal inside the first migration's transaction would name
	 * the migration as what failed (exit 1) instead of the role (exit 6). */
	int books_in_first_tx;
	/* All rows, ordered by version. Their strings live until bk_rows_free
	 * and, with SQLite, no longer than the connection: the values rows
	 * share are kept once by it (sqlite-books.c). */
	int (*bk_read)(struct db *db, struct bk_row **out, size_t *n);
	/* Optional (rss14o; NULL: the engine reads whole rows). The rows as
	 * briefs, in bk_read's order (out zeroed first, bk_briefs_finish'ed):
	 * 0; 1 when they cannot be handed so (rows not in version order), the
	 * caller then reads whole rows; -1 with the error set. */
	int (*bk_brief_read)(struct db *db, struct bk_briefs *out);
	/* Optional, with bk_brief_read: 1 when nothing has changed the rows
	 * since the last bk_brief_read read them (SQLite: rows_stamp, taken
	 * with them, as it is now), so rows bk_read read since are the same
	 * rows; 0 when they may differ or it cannot tell. */
	int (*bk_same_since_brief)(struct db *db);
	/* Inserts or replaces the row with row->version (row->is_new: inserts;
	 * row->state_only: may update just those columns). */
	int (*bk_put)(struct db *db, const struct bk_row *row);
	int (*audit_append)(struct db *db, const struct audit_row *row);
	/* All rows by seq when last_only == 0; the last row only (n = 0 or 1)
	 * otherwise. */
	int (*audit_read)(struct db *db, int last_only, struct audit_row **out, size_t *n);
	/* Optional: every audit row in seq order through cb, nothing kept (the
	 * row's strings live until cb returns; cb non-zero stops the scan).
	 * 0, or -1 with the error set; no table, no rows. NULL: the engine
	 * reads the rows whole with audit_read. */
	int (*audit_scan)(struct db *db, int (*cb)(void *ctx, const struct audit_row *r),
			  void *ctx);

	/* Optional (NULL: not kept; issue #14). The bundle files this applier
	 * verified whole and applied here, by the sha256 of the file's bytes,
	 * in a small table of their own (cairn_bundle_files): an apply of a
	 * file recorded there reads no migration member it does not run
	 * (verify/bundle.h, known_file). bundle_file_known: 1 when sha256_hex
	 * is recorded (NULL: when any is), 0 when not or the table is missing,
	 * -1 on error. bundle_file_record: creates the table if needed and
	 * records one (a second record of the same file is no error); the
	 * caller holds the run lock. */
	int (*bundle_file_known)(struct db *db, const char *sha256_hex);
	int (*bundle_file_record)(struct db *db, const char *sha256_hex, const char *bundle_id,
				  const char *at);

	/* Optional (NULL: not possible). Runs one query that only reads and
	 * hands back its rows as text (booleans as the engine writes them:
	 * PostgreSQL "t"/"f", SQLite 0/1): for reading another tool's
	 * bookkeeping, which cairn-apply adopt takes over (issue #19). */
	int (*query_rows)(struct db *db, const char *sql, struct driver_rows *out);
	/* Optional: what preflight asks (issue #20); NULL where the driver has
	 * no answer. None of them changes the database.
	 * query_text: the first column of the first row of a query as a
	 * malloc'ed string (*out NULL: no row, or NULL).
	 * lock_probe: 0 when the run lock (lock()) is free now, 1 when another
	 * runner holds it (*holder: who, malloc'ed), -1 on error. Takes and
	 * drops it at once when it is free.
	 * books_writable: 1 when the bookkeeping tables can be created or
	 * written, 0 when not (*why, malloc'ed), -1 on error.
	 * blockers: sessions that would block a migration's statements now:
	 * open transactions holding locks on the tables named (PostgreSQL:
	 * pg_locks and pg_stat_activity; SQLite: a writer's lock on the file,
	 * tables ignored); *out one line per session, malloc'ed, NULL: none.
	 * file_path: the database file (SQLite), NULL for a server. */
	int (*query_text)(struct db *db, const char *sql, char **out);
	int (*lock_probe)(struct db *db, char **holder);
	int (*books_writable)(struct db *db, char **why);
	int (*blockers)(struct db *db, const char *const *tables, size_t ntables, char **out);
	const char *(*file_path)(struct db *db);
	/* Optional (issue #20): a consistent copy of the whole database to a
	 * new file at path (SQLite's online backup API), fsynced with its
	 * directory before it returns. 0, or -1 with the error set and no file
	 * left at path. NULL: the driver backs up no file (PostgreSQL). */
	int (*backup_to)(struct db *db, const char *path);
	/* Optional (issue #20): the tables named (as to_regclass reads them),
	 * schema and data, dumped to a new file at path by the engine's own
	 * tool (PostgreSQL: pg_dump --format=custom; $CAIRN_PG_DUMP names
	 * it), the password kept off its command line. 0, or -1 with the
	 * error set (its exit status) and no file left at path. */
	int (*dump_tables)(struct db *db, const char *const *tables, size_t n, const char *path);
	/* Optional (issue #20): the whole database replaced by the copy at
	 * path that backup_to made (SQLite's online backup API, from the file
	 * into the open connection, under the run lock). 0, or -1 with the
	 * error set and the database as it was. NULL: none (a driver with
	 * dump_tables restores through restore_in_tx). */
	int (*restore_from)(struct db *db, const char *path);
	/* Optional (ops20d): dump_tables's per-table dump brought back on
	 * this connection, inside the caller's open transaction (PostgreSQL:
	 * pg_restore --clean writes its script to a temporary file, which runs
	 * here, COPY data included), so the caller's own statements and the
	 * books commit or roll back with it. 0, or -1 with the error set (the
	 * caller rolls back). */
	int (*restore_in_tx)(struct db *db, const char *path);
	/* drop_invalid_index: the index name (as written in SQL) dropped with
	 * DROP INDEX CONCURRENTLY only when the catalog says it is not valid
	 * (what a CREATE INDEX CONCURRENTLY that failed leaves); a valid index
	 * of that name is never touched. *what: "dropped", "valid" or "none".
	 * Outside a transaction. 0, or -1 with the error set. NULL: none. */
	int (*drop_invalid_index)(struct db *db, const char *name, const char **what);
	/* role_facts (pgguard15b): what the connected role may do that the
	 * driver's books guard cannot see (a superuser, a role that may turn
	 * triggers off), as one line; *out NULL when nothing. 0, or -1 with
	 * the error set. NULL: none (SQLite: the authorizer sees all). */
	int (*role_facts)(struct db *db, char **out);
};

/* The registry (drivers/driver.c). */
const struct driver *driver_for_dsn(const char *dsn);      /* NULL, error set */
const struct driver *driver_by_name(const char *name);     /* NULL when unknown */
const struct driver *const *driver_list(void);             /* NULL-terminated */
/* SQLite extensions (shared libraries) every later sqlite open loads
 * before anything else runs (issue #19). Each file is opened and hashed
 * here, once, and loaded later through that descriptor (/proc/self/fd/N),
 * so what loads is what was hashed. 0, or -1 with the error set (a file
 * that cannot be read; none is kept then). A load failure fails the open
 * with the path and SQLite's message. */
int driver_sqlite_set_extensions(const char *const *paths, size_t n);
/* The sha256 (hex) of extension i as opened above; NULL past the end. */
const char *driver_sqlite_extension_sha256(size_t i);

void bk_row_release(struct bk_row *r);
void bk_rows_free(struct bk_row *rows, size_t n);
/* Sorts rows by version_cmp (lib/util.h), the one version order: what
 * bk_read returns. */
void bk_rows_sort(struct bk_row *rows, size_t n);
void audit_row_release(struct audit_row *r);
void driver_rows_release(struct driver_rows *r); /* accepts NULL */
void audit_rows_free(struct audit_row *rows, size_t n);
/* "code: message (detail; hint)" into buf of size len. */
void driver_error_format(const struct driver_error *e, char *buf, size_t len);

#endif
