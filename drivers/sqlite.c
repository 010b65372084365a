/* The SQLite driver (DSN "sqlite:PATH").
 *
 * Durability: the driver keeps the database's journal mode (a user's file is
 * never switched to WAL behind their back; a runner holding the lock keeps
 * its rollback journal between transactions, see journal_persist) and sets
 * synchronous=FULL, so a committed migration survives a crash or a power
 * cut in either mode.
 *
 * The run lock is an flock() on the database file, taken on a descriptor of
 * its own: it dies with the process (a SIGKILLed runner leaves no stale lock)
 * and is independent of SQLite's own fcntl() byte-range locks, so it never
 * blocks the migrations' statements. That descriptor stays open until the
 * connection is closed: closing any descriptor of a file drops the process's
 * fcntl() locks on it, SQLite's included. Each migration then runs under
 * BEGIN IMMEDIATE, which also keeps out writers that are not cairn. */
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../lib/buf.h"
#include "../lib/error.h"
#include "../lib/util.h"
#include "driver.h"

struct db {
	sqlite3 *h;           /* NULL: read-only open of a file that does not exist */
	char *path;
	unsigned flags;
	int lock_fd;
	unsigned long long deadline_ns; /* statement timeout, 0 = none */
	sqlite3_stmt *put, *put_new, *put_state, *append; /* cached bookkeeping writes */
	int layout_known, positional;   /* the bookkeeping tables' columns are ours, in order */
	int persist;                    /* journal switched DELETE -> PERSIST while locked */
	struct bk_row *pre_rows;        /* read by the early open (DRIVER_OPEN_PREFETCH) */
	size_t pre_n;
	long long pre_stamp[3];         /* rows_stamp() when they were read */
	int have_pre;
};

static void journal_restore(struct db *db);
static void prefetch_rows(struct db *db);

static int sqlite_accepts(const char *dsn)
{
	return starts_with(dsn, "sqlite:");
}

static const char *sqlite_display_name(struct db *db)
{
	return db->path;
}

static unsigned long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000000ull + (unsigned long long)ts.tv_nsec;
}

static const char *code_name(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_ERROR: return "SQLITE_ERROR";
	case SQLITE_PERM: return "SQLITE_PERM";
	case SQLITE_ABORT: return "SQLITE_ABORT";
	case SQLITE_BUSY: return "SQLITE_BUSY";
	case SQLITE_LOCKED: return "SQLITE_LOCKED";
	case SQLITE_NOMEM: return "SQLITE_NOMEM";
	case SQLITE_READONLY: return "SQLITE_READONLY";
	case SQLITE_INTERRUPT: return "SQLITE_INTERRUPT";
	case SQLITE_IOERR: return "SQLITE_IOERR";
	case SQLITE_CORRUPT: return "SQLITE_CORRUPT";
	case SQLITE_FULL: return "SQLITE_FULL";
	case SQLITE_CANTOPEN: return "SQLITE_CANTOPEN";
	case SQLITE_SCHEMA: return "SQLITE_SCHEMA";
	case SQLITE_TOOBIG: return "SQLITE_TOOBIG";
	case SQLITE_CONSTRAINT: return "SQLITE_CONSTRAINT";
	case SQLITE_MISMATCH: return "SQLITE_MISMATCH";
	case SQLITE_MISUSE: return "SQLITE_MISUSE";
	case SQLITE_RANGE: return "SQLITE_RANGE";
	case SQLITE_NOTADB: return "SQLITE_NOTADB";
	default: return "SQLITE";
	}
}

/* base: offset of the statement in the caller's script. */
static void fill_error(struct db *db, struct driver_error *err, long base, int rc)
{
	int off;

	memset(err, 0, sizeof(*err));
	snprintf(err->code, sizeof(err->code), "%s", code_name(sqlite3_extended_errcode(db->h)));
	snprintf(err->message, sizeof(err->message), "%s", sqlite3_errmsg(db->h));
	off = sqlite3_error_offset(db->h);
	err->offset = off >= 0 ? base + off : base;
	if ((rc & 0xff) == SQLITE_INTERRUPT && db->deadline_ns)
		snprintf(err->message, sizeof(err->message),
			 "statement timeout: interrupted after the migration's timeout");
}

static int simple(struct db *db, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(db->h, sql, NULL, NULL, &msg) != SQLITE_OK) {
		cairn_error_set("%s: %s: %s", db->path, sql, msg ? msg : sqlite3_errmsg(db->h));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

static int progress_cb(void *ctx)
{
	struct db *db = ctx;

	return db->deadline_ns && now_ns() > db->deadline_ns;
}

/* Whether a rollback journal could make its first reader roll back: SQLite
 * ignores one that is empty or whose header is zeroed, which is what a
 * runner killed between migrations leaves in PERSIST mode (sqlite_lock). */
static int journal_may_be_hot(const char *journal)
{
	unsigned char head[8];
	ssize_t n;
	int fd = open(journal, O_RDONLY | O_CLOEXEC), hot = 1;

	if (fd < 0)
		return 1;
	n = read(fd, head, sizeof(head));
	if (n == 0)
		hot = 0;
	else if (n == (ssize_t)sizeof(head))
		hot = memcmp(head, "\0\0\0\0\0\0\0\0", sizeof(head)) != 0;
	close(fd);
	return hot;
}

/* Opening an existing file only reads it (its schema, as open does below).
 * Not so for a file that is not there (open creates it) or one with a
 * journal or WAL file beside it (the first reader rolls back a hot journal
 * or recovers the WAL): those wait for a verified bundle. */
static int sqlite_open_early(const char *dsn)
{
	const char *path = dsn + strlen("sqlite:");
	char side[4096];
	struct stat st;

	if (!sqlite3_threadsafe() || stat(path, &st) != 0 || !S_ISREG(st.st_mode) || !st.st_size)
		return 0;
	if ((size_t)snprintf(side, sizeof(side), "%s-journal", path) >= sizeof(side) ||
	    (lstat(side, &st) == 0 && journal_may_be_hot(side)))
		return 0;
	snprintf(side, sizeof(side), "%s-wal", path);
	return lstat(side, &st) != 0;
}

/* SQLite counts every allocation it makes under a global mutex for
 * sqlite3_status(), which nothing here reads: 3 % of an apply's CPU. The
 * setting must come before SQLite's first use; open() is that first use,
 * and it runs on one thread at a time (the early open is joined before
 * anything else touches SQLite). */
static void sqlite_configure(void)
{
	static int done;

	if (!done) {
		done = 1;
		sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
	}
}

static int sqlite_open(struct db **out, const char *dsn, unsigned flags)
{
	struct db *db = xcalloc(1, sizeof(*db));
	const char *path = dsn + strlen("sqlite:");
	int oflags, rc;

	sqlite_configure();
	*out = NULL;
	db->lock_fd = -1;
	db->flags = flags;
	if (!*path) {
		cairn_error_set("sqlite: DSN names no file: use sqlite:PATH");
		free(db);
		return -1;
	}
	db->path = xstrdup(path);
	if (flags & DRIVER_OPEN_READONLY) {
		struct stat st;

		if (stat(path, &st) != 0 && errno == ENOENT) {
			*out = db; /* a database that does not exist yet: empty */
			return 0;
		}
		oflags = SQLITE_OPEN_READONLY;
	} else {
		oflags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
	}
	rc = sqlite3_open_v2(path, &db->h, oflags | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		cairn_error_set("cannot open database '%s': %s", path,
				db->h ? sqlite3_errmsg(db->h) : sqlite3_errstr(rc));
		goto fail;
	}
	sqlite3_extended_result_codes(db->h, 1);
	sqlite3_progress_handler(db->h, 10000, progress_cb, db);
	sqlite3_busy_timeout(db->h, 5000);
	/* Reading the schema here turns "not a database" into an open error,
	 * and makes it part of open(), which may run while the bundle is
	 * verified (sqlite_open_early): with thousands of tables, parsing the
	 * schema costs as much as verifying the bundle. */
	if (simple(db, (flags & DRIVER_OPEN_READONLY)
			       ? "SELECT 1 FROM sqlite_schema LIMIT 0"
			       : "PRAGMA synchronous=FULL; SELECT 1 FROM sqlite_schema LIMIT 0"))
		goto fail;
	if (flags & DRIVER_OPEN_PREFETCH)
		prefetch_rows(db);
	*out = db;
	return 0;
fail:
	sqlite3_close(db->h);
	free(db->path);
	free(db);
	return -1;
}

static void sqlite_close(struct db *db)
{
	if (!db)
		return;
	bk_rows_free(db->pre_rows, db->pre_n);
	sqlite3_finalize(db->put);
	sqlite3_finalize(db->put_new);
	sqlite3_finalize(db->put_state);
	sqlite3_finalize(db->append);
	if (db->h && !sqlite3_get_autocommit(db->h))
		sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
	journal_restore(db);
	sqlite3_close(db->h);
	if (db->lock_fd >= 0)
		close(db->lock_fd); /* after sqlite3_close: see the top of the file */
	free(db->path);
	free(db);
}

/* While it holds the run lock, a runner keeps a rollback journal between its
 * transactions (PERSIST: the commit zeroes the journal's header) instead of
 * creating and deleting it for every migration (DELETE, SQLite's default):
 * no fewer fsyncs and the same crash safety, without two directory changes
 * a commit, which made one transaction per migration 10 to 15 % slower on
 * ext4 (docs/benchmarks.md). Only a file in DELETE mode is switched, and
 * only on this connection: a WAL file, or one another program set to
 * TRUNCATE or PERSIST, is left as it is. Unlocking switches back, which
 * deletes the journal, so a finished run leaves no file beside the
 * database; a killed one leaves a journal with a zeroed header, which
 * SQLite ignores and the next run's unlock removes. */
/* A pragma's one-row answer, stepped to that row; NULL when there is none.
 * The caller finalizes it. */
static sqlite3_stmt *pragma_row(struct db *db, const char *pragma)
{
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(db->h, pragma, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		return st;
	sqlite3_finalize(st);
	return NULL;
}

/* Whether the journal mode pragma (a query or a change) answers `want`:
 * SQLite answers a change it does not make with the mode it keeps. */
static int journal_mode_is(struct db *db, const char *pragma, const char *want)
{
	sqlite3_stmt *st = pragma_row(db, pragma);
	const char *mode = st ? (const char *)sqlite3_column_text(st, 0) : NULL;
	int yes = mode && !strcmp(mode, want);

	sqlite3_finalize(st);
	return yes;
}

/* A speed-up only: if SQLite will not switch, the run goes on in DELETE. */
static void journal_persist(struct db *db)
{
	if (db->persist || !db->h || !sqlite3_get_autocommit(db->h) ||
	    !journal_mode_is(db, "PRAGMA journal_mode", "delete") ||
	    !journal_mode_is(db, "PRAGMA journal_mode=PERSIST", "persist"))
		return;
	db->persist = 1;
	sqlite3_exec(db->h, "PRAGMA journal_size_limit=16777216", NULL, NULL, NULL);
}

/* Never an error: a journal left behind (another program was writing when
 * we switched back) has a zeroed header, which SQLite ignores. */
static void journal_restore(struct db *db)
{
	if (!db->persist || !db->h || !sqlite3_get_autocommit(db->h))
		return;
	db->persist = 0;
	sqlite3_exec(db->h, "PRAGMA journal_mode=DELETE", NULL, NULL, NULL);
}

/* The pid holding an flock on the file, from /proc/locks; 0 when unknown. */
static long lock_holder(int fd)
{
	struct stat st;
	char line[256];
	long pid = 0;
	FILE *f;

	if (fstat(fd, &st) != 0 || !(f = fopen("/proc/locks", "r")))
		return 0;
	while (fgets(line, sizeof(line), f)) {
		long p;
		unsigned maj, min;
		unsigned long long ino;
		char kind[16];

		if (sscanf(line, "%*[^:]: %15s %*s %*s %ld %x:%x:%llu", kind, &p, &maj, &min, &ino) == 5 &&
		    !strcmp(kind, "FLOCK") && ino == (unsigned long long)st.st_ino && p != getpid()) {
			pid = p;
			break;
		}
	}
	fclose(f);
	return pid;
}

static int sqlite_lock(struct db *db, unsigned long long timeout_ms)
{
	unsigned long long start = now_ns();
	long pid;

	if (db->lock_fd < 0) {
		db->lock_fd = open(db->path, O_RDONLY | O_CLOEXEC);
		if (db->lock_fd < 0) {
			cairn_error_set("cannot lock '%s': %s", db->path, strerror(errno));
			return -1;
		}
	}
	for (;;) {
		struct timespec ts = { 0, 20 * 1000000L };

		if (flock(db->lock_fd, LOCK_EX | LOCK_NB) == 0)
			break;
		if (errno != EWOULDBLOCK && errno != EINTR) {
			cairn_error_set("cannot lock '%s': %s", db->path, strerror(errno));
			return -1;
		}
		if (now_ns() - start >= timeout_ms * 1000000ull) {
			pid = lock_holder(db->lock_fd);
			if (pid)
				cairn_error_set("another runner (pid %ld) holds the lock on '%s'", pid,
						db->path);
			else
				cairn_error_set("another runner holds the lock on '%s'", db->path);
			return DRIVER_BUSY;
		}
		nanosleep(&ts, NULL);
	}
	journal_persist(db);
	/* Writers that are not cairn wait as long as we were willing to. */
	sqlite3_busy_timeout(db->h, timeout_ms > 5000 ? (int)(timeout_ms > 600000 ? 600000 : timeout_ms)
						       : 5000);
	return 0;
}

static int sqlite_unlock(struct db *db)
{
	journal_restore(db);
	if (db->lock_fd >= 0 && flock(db->lock_fd, LOCK_UN) != 0) {
		cairn_error_set("cannot unlock '%s': %s", db->path, strerror(errno));
		return -1;
	}
	return 0;
}

static int sqlite_begin(struct db *db)
{
	return simple(db, "BEGIN IMMEDIATE");
}

static int sqlite_commit(struct db *db)
{
	int rc = simple(db, "COMMIT");

	db->deadline_ns = 0;
	return rc;
}

static int sqlite_rollback(struct db *db)
{
	db->deadline_ns = 0;
	if (sqlite3_get_autocommit(db->h))
		return 0; /* SQLite already rolled back (some errors do) */
	return simple(db, "ROLLBACK");
}

static int sqlite_set_timeouts(struct db *db, unsigned long long statement_ms,
			       unsigned long long lock_ms)
{
	db->deadline_ns = statement_ms ? now_ns() + statement_ms * 1000000ull : 0;
	if (lock_ms)
		sqlite3_busy_timeout(db->h, lock_ms > 600000 ? 600000 : (int)lock_ms);
	return 0;
}

/* The first byte at or after p that is neither white space nor inside a
 * comment: where the next statement starts, for error positions. */
static const char *skip_blank(const char *p, const char *end)
{
	while (p < end) {
		if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == '\f' || *p == '\v') {
			p++;
		} else if (*p == '-' && p + 1 < end && p[1] == '-') {
			while (p < end && *p != '\n')
				p++;
		} else if (*p == '/' && p + 1 < end && p[1] == '*') {
			p += 2;
			while (p + 1 < end && !(*p == '*' && p[1] == '/'))
				p++;
			p = p + 2 <= end ? p + 2 : end;
		} else {
			break;
		}
	}
	return p;
}

/* Steps through every statement of sql. rows_cb, when set, sees the first
 * row of each statement that returns columns (query_truth). */
static int run_script(struct db *db, const char *sql, size_t len, struct driver_exec *x,
		      int (*rows_cb)(void *, sqlite3_stmt *), void *rows_ctx,
		      struct driver_error *err)
{
	const char *p = sql, *end = sql + len, *tail;
	sqlite3_int64 before = sqlite3_total_changes64(db->h);
	unsigned long index = 0;
	int rc;

	while ((p = skip_blank(p, end)) < end) {
		sqlite3_stmt *st = NULL;
		int first = 1;

		if (x && (x->flags & DRIVER_EXEC_SPLIT) && x->on_statement &&
		    x->on_statement(x->ctx, index, (size_t)(p - sql)))
			return -1;
		rc = sqlite3_prepare_v2(db->h, p, (int)(end - p), &st, &tail);
		if (rc != SQLITE_OK) {
			fill_error(db, err, (long)(p - sql), rc);
			cairn_error_set("%s", err->message);
			return -1;
		}
		if (!st) { /* whitespace or comments only */
			p = tail;
			continue;
		}
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			if (first && rows_cb)
				rows_cb(rows_ctx, st);
			first = 0;
		}
		if (rc == SQLITE_DONE && first && rows_cb && sqlite3_column_count(st) > 0)
			rows_cb(rows_ctx, NULL); /* a query with no row */
		if (rc != SQLITE_DONE) {
			/* The error offset of a runtime error is relative to this statement. */
			fill_error(db, err, (long)(p - sql), rc);
			sqlite3_finalize(st);
			cairn_error_set("%s", err->message);
			return -1;
		}
		sqlite3_finalize(st);
		index++;
		if (x)
			x->statements = index;
		p = tail;
	}
	if (x)
		x->changes = (unsigned long long)(sqlite3_total_changes64(db->h) - before);
	return 0;
}

static int sqlite_exec(struct db *db, const char *sql, size_t len, struct driver_exec *x)
{
	x->changes = 0;
	x->statements = 0;
	memset(&x->err, 0, sizeof(x->err));
	x->err.offset = -1;
	if (len > 0x7fffffff) {
		cairn_error_set("script too big for SQLite (%zu bytes)", len);
		return -1;
	}
	return run_script(db, sql, len, x, NULL, NULL, &x->err);
}

static int value_truth(sqlite3_stmt *st)
{
	const char *s;

	if (!st || sqlite3_column_count(st) < 1)
		return 0;
	switch (sqlite3_column_type(st, 0)) {
	case SQLITE_INTEGER:
		return sqlite3_column_int64(st, 0) != 0;
	case SQLITE_FLOAT:
		return sqlite3_column_double(st, 0) != 0.0;
	case SQLITE_TEXT:
		s = (const char *)sqlite3_column_text(st, 0);
		return s && *s && strcmp(s, "0") && strcasecmp(s, "false") && strcasecmp(s, "f") &&
		       strcasecmp(s, "no");
	case SQLITE_BLOB:
		return sqlite3_column_bytes(st, 0) > 0;
	default:
		return 0;
	}
}

struct truth_ctx {
	int truth, seen;
};

static int truth_cb(void *ctx, sqlite3_stmt *st)
{
	struct truth_ctx *t = ctx;

	t->truth = value_truth(st); /* the last query of the script decides */
	t->seen = 1;
	return 0;
}

static int sqlite_query_truth(struct db *db, const char *sql, size_t len, int *truth,
			      struct driver_error *err)
{
	struct truth_ctx t = { 0, 0 };

	memset(err, 0, sizeof(*err));
	err->offset = -1;
	*truth = 0;
	if (run_script(db, sql, len, NULL, truth_cb, &t, err))
		return -1;
	*truth = t.seen && t.truth;
	return 0;
}

/* cairn_migrations is WITHOUT ROWID: one b-tree keyed by version instead of
 * a table plus an index, so each migration's commit writes one page fewer. */
static const char bk_schema[] =
	"CREATE TABLE IF NOT EXISTS cairn_migrations (\n"
	"  version TEXT PRIMARY KEY NOT NULL,\n"
	"  name TEXT NOT NULL,\n"
	"  checksum TEXT NOT NULL,\n"
	"  state TEXT NOT NULL CHECK (state IN ('pending','in_progress','applied','failed','rolled_back')),\n"
	"  bundle_id TEXT NOT NULL DEFAULT '',\n"
	"  environment TEXT NOT NULL DEFAULT '',\n"
	"  applied_at TEXT NOT NULL DEFAULT '',\n"
	"  applied_by TEXT NOT NULL DEFAULT '',\n"
	"  duration_ms INTEGER NOT NULL DEFAULT 0,\n"
	"  down_sql TEXT,\n"
	"  irreversible INTEGER NOT NULL DEFAULT 0,\n"
	"  transactional INTEGER NOT NULL DEFAULT 1,\n"
	"  kind TEXT NOT NULL DEFAULT 'schema',\n"
	"  batches INTEGER NOT NULL DEFAULT 0,\n"
	"  rows_changed INTEGER NOT NULL DEFAULT 0,\n"
	"  statement INTEGER NOT NULL DEFAULT -1,\n"
	"  error TEXT,\n"
	"  audit_hash TEXT NOT NULL DEFAULT ''\n"
	") WITHOUT ROWID;\n"
	"CREATE TABLE IF NOT EXISTS cairn_audit (\n"
	"  seq INTEGER PRIMARY KEY NOT NULL,\n"
	"  at TEXT NOT NULL,\n"
	"  actor TEXT NOT NULL,\n"
	"  action TEXT NOT NULL,\n"
	"  version TEXT NOT NULL,\n"
	"  from_version TEXT NOT NULL,\n"
	"  to_version TEXT NOT NULL,\n"
	"  bundle_id TEXT NOT NULL,\n"
	"  environment TEXT NOT NULL,\n"
	"  detail TEXT NOT NULL,\n"
	"  prev_hash TEXT NOT NULL,\n"
	"  hash TEXT NOT NULL\n"
	");\n";

/* Looked up in the schema SQLite already holds, not by scanning
 * sqlite_master (5,000 rows in a database with 5,000 tables). A view of
 * that name is an error here, so it does not count. */
static int table_exists(struct db *db, const char *name)
{
	return sqlite3_table_column_metadata(db->h, "main", name, NULL, NULL, NULL, NULL, NULL,
					     NULL) == SQLITE_OK;
}

static int sqlite_bk_exists(struct db *db, int *exists)
{
	*exists = 0;
	if (!db->h)
		return 0;
	*exists = table_exists(db, "cairn_migrations") && table_exists(db, "cairn_audit");
	return 0;
}

static int sqlite_bk_ensure(struct db *db)
{
	int in_tx = !sqlite3_get_autocommit(db->h), rc;

	if (!in_tx && simple(db, "BEGIN IMMEDIATE"))
		return -1;
	rc = simple(db, bk_schema);
	if (!in_tx)
		rc = rc ? (sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL), -1) : simple(db, "COMMIT");
	return rc;
}

static char *col_str(sqlite3_stmt *st, int i)
{
	const unsigned char *s = sqlite3_column_text(st, i);

	return xstrdup(s ? (const char *)s : "");
}

/* Whether rows are already in version order. They come in the order of
 * cairn_migrations' key, the text of version, which is version_cmp's
 * whenever versions have the same number of digits (timestamps, padded
 * sequences). Checking 5,000 rows costs 0.55 M instructions; sorting them
 * when they were in order cost 4.4 M (callgrind). */
static int rows_in_order(const struct bk_row *rows, size_t n)
{
	size_t i;

	for (i = 1; i < n; i++)
		if (version_cmp(rows[i - 1].version, rows[i].version) > 0)
			return 0;
	return 1;
}

/* The text columns first, in row_strings' order: asked for in this order
 * rather than the table's, SQLite spends 1.6 M fewer instructions stepping
 * 5,000 rows (callgrind; the same 18 columns). */
#define BK_TEXT_COLUMNS 12
static const char bk_select[] =
	"SELECT version, name, checksum, state, bundle_id, environment, applied_at, "
	"applied_by, kind, audit_hash, down_sql, error, "
	"duration_ms, irreversible, transactional, batches, rows_changed, statement "
	"FROM cairn_migrations";

/* A row's strings, copied into one allocation (bk_row.strings) instead of
 * twelve. NULL reads as "", except in down_sql and error (the last two),
 * which stay NULL. strlen, not sqlite3_column_bytes: as many bytes as
 * strdup copied, at half the cost of another call into SQLite. */
static void row_strings(sqlite3_stmt *st, struct bk_row *r)
{
	char **const field[BK_TEXT_COLUMNS] = {
		&r->version, &r->name, &r->checksum, &r->state, &r->bundle_id, &r->environment,
		&r->applied_at, &r->applied_by, &r->kind, &r->audit_hash, &r->down_sql, &r->error,
	};
	const char *text[BK_TEXT_COLUMNS];
	size_t len[BK_TEXT_COLUMNS], total = 0;
	char *p;
	int i;

	for (i = 0; i < BK_TEXT_COLUMNS; i++) {
		text[i] = (const char *)sqlite3_column_text(st, i);
		len[i] = text[i] ? strlen(text[i]) : 0;
		total += len[i] + 1;
	}
	p = r->strings = xmalloc(total);
	for (i = 0; i < BK_TEXT_COLUMNS; i++) {
		if (!text[i] && i >= BK_TEXT_COLUMNS - 2)
			continue;
		memcpy(p, text[i] ? text[i] : "", len[i]);
		p[len[i]] = '\0';
		*field[i] = p;
		p += len[i] + 1;
	}
}

/* The rows as they are now, in version order. */
static int read_all_rows(struct db *db, struct bk_row **out, size_t *n)
{
	struct bk_row *rows = NULL;
	size_t nr = 0, alloc = 0;
	sqlite3_stmt *st = NULL;
	int rc;

	*out = NULL;
	*n = 0;
	rc = sqlite3_prepare_v2(db->h, bk_select, -1, &st, NULL);
	while (rc == SQLITE_OK || rc == SQLITE_ROW) {
		if ((rc = sqlite3_step(st)) != SQLITE_ROW)
			break;
		struct bk_row *r;

		ALLOC_GROW(rows, nr + 1, alloc);
		r = &rows[nr++];
		memset(r, 0, sizeof(*r));
		row_strings(st, r);
		r->duration_ms = sqlite3_column_int64(st, 12);
		r->irreversible = sqlite3_column_int(st, 13);
		r->transactional = sqlite3_column_int(st, 14);
		r->batches = sqlite3_column_int64(st, 15);
		r->rows_changed = sqlite3_column_int64(st, 16);
		r->statement = sqlite3_column_int64(st, 17);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		cairn_error_set("cannot read cairn_migrations in '%s': %s", db->path,
				sqlite3_errmsg(db->h));
		bk_rows_free(rows, nr);
		return -1;
	}
	/* sorted here, not by the query: an ORDER BY made SQLite copy every
	 * row, down script and all, through its sorter */
	ALLOC_SHRINK(rows, nr, alloc);
	if (!rows_in_order(rows, nr))
		bk_rows_sort(rows, nr);
	*out = rows;
	*n = nr;
	return 0;
}

/* Where the file stands, as far as the bookkeeping rows go: another
 * connection's commits move PRAGMA data_version (and only those do); this
 * connection's own row writes, committed or not, move its total_changes,
 * and its own DDL (a dropped or recreated table) moves schema_version. */
static int rows_stamp(struct db *db, long long stamp[3])
{
	static const char *const pragmas[2] = { "PRAGMA data_version", "PRAGMA schema_version" };
	size_t i;

	for (i = 0; i < 2; i++) {
		sqlite3_stmt *st = pragma_row(db, pragmas[i]);

		if (!st)
			return -1;
		stamp[i] = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	stamp[2] = sqlite3_total_changes64(db->h);
	return 0;
}

/* On the early-open thread, while the bundle is verified: the bookkeeping
 * rows, read in one read transaction together with the stamp they belong
 * to (reading 5,000 rows, down scripts and all, is ~6 ms that a
 * nothing-pending apply would otherwise spend after verification).
 * sqlite_bk_read takes them only if the stamp has not moved by then, that
 * is if nobody, this connection included, has changed the file in
 * between: the rows are then exactly what it would read. Any failure here
 * only means no prefetch; bk_read reads and reports for itself.
 *
 * The read goes through a page cache of a few pages, and the connection's
 * own size is set back afterwards. Each page of cairn_migrations is read
 * once, in key order, so keeping them (SQLite's default cache is 2 MB)
 * only costs: a new buffer a page, which on this thread's malloc arena
 * grows the heap a page or two at a time, an mprotect and a page fault
 * each. A small cache reuses a few buffers, and frees those the schema
 * read filled for the rows' strings to reuse: at 5,000 rows, 285 mprotect
 * calls instead of 726 and 496 page faults instead of 971 (perf). */
static void prefetch_rows(struct db *db)
{
	sqlite3_stmt *st = pragma_row(db, "PRAGMA cache_size");
	char restore[64];
	int exists = 0, small = 0;

	if (st && (size_t)snprintf(restore, sizeof(restore), "PRAGMA cache_size=%lld",
				   (long long)sqlite3_column_int64(st, 0)) < sizeof(restore))
		small = sqlite3_exec(db->h, "PRAGMA cache_size=16", NULL, NULL, NULL) == SQLITE_OK;
	sqlite3_finalize(st);
	if (sqlite3_exec(db->h, "BEGIN", NULL, NULL, NULL) == SQLITE_OK) {
		if (rows_stamp(db, db->pre_stamp) == 0 && sqlite_bk_exists(db, &exists) == 0 &&
		    exists && read_all_rows(db, &db->pre_rows, &db->pre_n) == 0)
			db->have_pre = 1;
		sqlite3_exec(db->h, "COMMIT", NULL, NULL, NULL);
	}
	if (small)
		sqlite3_exec(db->h, restore, NULL, NULL, NULL);
	cairn_error_clear();
}

static int sqlite_bk_read(struct db *db, struct bk_row **out, size_t *n)
{
	long long now[3];
	int exists;

	*out = NULL;
	*n = 0;
	if (db->have_pre) {
		int fresh = rows_stamp(db, now) == 0 && !memcmp(now, db->pre_stamp, sizeof(now));

		db->have_pre = 0;
		if (fresh) {
			*out = db->pre_rows;
			*n = db->pre_n;
		} else {
			bk_rows_free(db->pre_rows, db->pre_n);
		}
		db->pre_rows = NULL;
		db->pre_n = 0;
		if (fresh)
			return 0;
	}
	if (sqlite_bk_exists(db, &exists))
		return -1;
	if (!exists)
		return 0;
	return read_all_rows(db, out, n);
}

static void bind_str(sqlite3_stmt *st, int i, const char *s)
{
	sqlite3_bind_text(st, i, s ? s : "", -1, SQLITE_STATIC);
}

/* NULL stays NULL (down_sql, error). */
static void bind_opt(sqlite3_stmt *st, int i, const char *s)
{
	if (s)
		sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

static int write_error(struct db *db, const char *table)
{
	cairn_error_set("cannot write %s in '%s': %s", table, db->path, sqlite3_errmsg(db->h));
	return -1;
}

/* The bookkeeping writes are prepared once a connection and kept: SQLite
 * prepares a kept statement again by itself when the schema changed. */
static int prepare_write(struct db *db, sqlite3_stmt **cached, const char *sql,
			 const char *table)
{
	if (!*cached &&
	    sqlite3_prepare_v3(db->h, sql, -1, SQLITE_PREPARE_PERSISTENT, cached, NULL) != SQLITE_OK)
		return write_error(db, table);
	return 0;
}

/* Runs a bound write and readies it for the next one. */
static int run_write(struct db *db, sqlite3_stmt *st, const char *table)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE ? 0 : write_error(db, table);
}

/* Every CREATE TABLE expires the kept bookkeeping writes, so each migration
 * prepares them again, and SQLite's preparing costs most where it looks up
 * column names: 19.5 us for the plain INSERT of 18 named columns, 11.4 us
 * for the same with positional VALUES, 25 us for an insert-or-replace (a
 * prepare loop, SQLite 3.40). So the writes name no columns when the
 * tables' columns are exactly the ones bk_ensure creates, in its order
 * (checked once a connection against the lists below, which the named form
 * is written from), and a row the engine knows is new is a plain INSERT. */
static const char *const mig_columns[] = {
	"version", "name", "checksum", "state", "bundle_id", "environment", "applied_at",
	"applied_by", "duration_ms", "down_sql", "irreversible", "transactional", "kind",
	"batches", "rows_changed", "statement", "error", "audit_hash",
};
static const char *const audit_columns[] = {
	"seq", "at", "actor", "action", "version", "from_version", "to_version", "bundle_id",
	"environment", "detail", "prev_hash", "hash",
};
#define NCOLS(a) (sizeof(a) / sizeof(*(a)))

/* 1 when table has exactly these columns, in this order. */
static int columns_are(struct db *db, const char *table, const char *const *cols, size_t n)
{
	sqlite3_stmt *st;
	size_t i = 0;
	int same = 1;

	if (sqlite3_prepare_v2(db->h, "SELECT name FROM pragma_table_info(?1)", -1, &st, NULL) !=
	    SQLITE_OK)
		return 0;
	sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);

		if (i >= n || !name || strcmp(name, cols[i]))
			same = 0;
		i++;
	}
	sqlite3_finalize(st);
	return same && i == n;
}

static int positional(struct db *db)
{
	if (!db->layout_known) {
		db->layout_known = 1;
		db->positional =
			columns_are(db, "cairn_migrations", mig_columns, NCOLS(mig_columns)) &&
			columns_are(db, "cairn_audit", audit_columns, NCOLS(audit_columns));
	}
	return db->positional;
}

/* "VERB INTO table [(c1, ...)] VALUES (?1, ...)": cols named unless the
 * table's layout is known to be ours. */
static int prepare_insert(struct db *db, sqlite3_stmt **cached, const char *verb,
			  const char *table, const char *const *cols, size_t n)
{
	struct buf sql = BUF_INIT;
	size_t i;
	int rc;

	if (*cached)
		return 0;
	buf_printf(&sql, "%s INTO %s ", verb, table);
	for (i = 0; !positional(db) && i < n; i++)
		buf_printf(&sql, "%s%s%s", i ? ", " : "(", cols[i], i + 1 < n ? "" : ") ");
	for (i = 0; i < n; i++)
		buf_printf(&sql, "%s?%zu%s", i ? ", " : "VALUES (", i + 1, i + 1 < n ? "" : ")");
	rc = prepare_write(db, cached, sql.ptr, table);
	buf_release(&sql);
	return rc;
}

/* A rollback changes a row's state and when and by whom, nothing else: an
 * UPDATE of those columns costs SQLite 7 % less than writing the whole row
 * again (a rollback of 1,000, callgrind). 1 when it updated the row, 0 when
 * there was none (the caller then writes the whole row), -1 on error. */
static int put_state(struct db *db, const struct bk_row *r)
{
	sqlite3_stmt *st;

	if (prepare_write(db, &db->put_state,
			  "UPDATE cairn_migrations SET state = ?2, environment = ?3, "
			  "applied_at = ?4, applied_by = ?5, duration_ms = ?6, error = ?7, "
			  "audit_hash = ?8 WHERE version = ?1",
			  "cairn_migrations") < 0)
		return -1;
	st = db->put_state;
	bind_str(st, 1, r->version);
	bind_str(st, 2, r->state);
	bind_str(st, 3, r->environment);
	bind_str(st, 4, r->applied_at);
	bind_str(st, 5, r->applied_by);
	sqlite3_bind_int64(st, 6, r->duration_ms);
	bind_opt(st, 7, r->error);
	bind_str(st, 8, r->audit_hash);
	if (run_write(db, st, "cairn_migrations") < 0)
		return -1;
	return sqlite3_changes(db->h) > 0;
}

static int sqlite_bk_put(struct db *db, const struct bk_row *r)
{
	sqlite3_stmt **cached = r->is_new ? &db->put_new : &db->put;
	sqlite3_stmt *st;
	int rc;

	if (r->state_only && !r->is_new && (rc = put_state(db, r)) != 0)
		return rc < 0 ? -1 : 0;
	if (prepare_insert(db, cached, r->is_new ? "INSERT" : "INSERT OR REPLACE",
			   "cairn_migrations", mig_columns, NCOLS(mig_columns)) < 0)
		return -1;
	st = *cached;
	bind_str(st, 1, r->version);
	bind_str(st, 2, r->name);
	bind_str(st, 3, r->checksum);
	bind_str(st, 4, r->state);
	bind_str(st, 5, r->bundle_id);
	bind_str(st, 6, r->environment);
	bind_str(st, 7, r->applied_at);
	bind_str(st, 8, r->applied_by);
	sqlite3_bind_int64(st, 9, r->duration_ms);
	bind_opt(st, 10, r->down_sql);
	sqlite3_bind_int(st, 11, r->irreversible);
	sqlite3_bind_int(st, 12, r->transactional);
	bind_str(st, 13, r->kind ? r->kind : "schema");
	sqlite3_bind_int64(st, 14, r->batches);
	sqlite3_bind_int64(st, 15, r->rows_changed);
	sqlite3_bind_int64(st, 16, r->statement);
	bind_opt(st, 17, r->error);
	bind_str(st, 18, r->audit_hash);
	return run_write(db, st, "cairn_migrations");
}

static int sqlite_audit_append(struct db *db, const struct audit_row *r)
{
	sqlite3_stmt *st;

	if (prepare_insert(db, &db->append, "INSERT", "cairn_audit", audit_columns,
			   NCOLS(audit_columns)) < 0)
		return -1;
	st = db->append;
	sqlite3_bind_int64(st, 1, r->seq);
	bind_str(st, 2, r->at);
	bind_str(st, 3, r->actor);
	bind_str(st, 4, r->action);
	bind_str(st, 5, r->version);
	bind_str(st, 6, r->from_version);
	bind_str(st, 7, r->to_version);
	bind_str(st, 8, r->bundle_id);
	bind_str(st, 9, r->environment);
	bind_str(st, 10, r->detail);
	bind_str(st, 11, r->prev_hash);
	bind_str(st, 12, r->hash);
	return run_write(db, st, "cairn_audit");
}

static int sqlite_audit_read(struct db *db, int last_only, struct audit_row **out, size_t *n)
{
	struct audit_row *rows = NULL;
	size_t nr = 0, alloc = 0;
	sqlite3_stmt *st = NULL;
	int exists, rc;

	*out = NULL;
	*n = 0;
	if (sqlite_bk_exists(db, &exists))
		return -1;
	if (!exists)
		return 0;
	rc = sqlite3_prepare_v2(db->h,
				last_only ? "SELECT seq, at, actor, action, version, from_version, "
					    "to_version, bundle_id, environment, detail, prev_hash, hash "
					    "FROM cairn_audit ORDER BY seq DESC LIMIT 1"
					  : "SELECT seq, at, actor, action, version, from_version, "
					    "to_version, bundle_id, environment, detail, prev_hash, hash "
					    "FROM cairn_audit ORDER BY seq",
				-1, &st, NULL);
	while (rc == SQLITE_OK || rc == SQLITE_ROW) {
		if ((rc = sqlite3_step(st)) != SQLITE_ROW)
			break;
		struct audit_row *r;

		ALLOC_GROW(rows, nr + 1, alloc);
		r = &rows[nr++];
		r->seq = sqlite3_column_int64(st, 0);
		r->at = col_str(st, 1);
		r->actor = col_str(st, 2);
		r->action = col_str(st, 3);
		r->version = col_str(st, 4);
		r->from_version = col_str(st, 5);
		r->to_version = col_str(st, 6);
		r->bundle_id = col_str(st, 7);
		r->environment = col_str(st, 8);
		r->detail = col_str(st, 9);
		r->prev_hash = col_str(st, 10);
		r->hash = col_str(st, 11);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		cairn_error_set("cannot read cairn_audit in '%s': %s", db->path, sqlite3_errmsg(db->h));
		audit_rows_free(rows, nr);
		return -1;
	}
	*out = rows;
	*n = nr;
	return 0;
}

static void sqlite_library_version(char *buf, size_t size)
{
	snprintf(buf, size, "SQLite %s", sqlite3_libversion());
}

const struct driver driver_sqlite = {
	.name = "sqlite",
	.transactional_ddl = 1,
	.library_version = sqlite_library_version,
	.accepts = sqlite_accepts,
	.open = sqlite_open,
	.open_early = sqlite_open_early,
	.close = sqlite_close,
	.display_name = sqlite_display_name,
	.lock = sqlite_lock,
	.unlock = sqlite_unlock,
	.begin = sqlite_begin,
	.commit = sqlite_commit,
	.rollback = sqlite_rollback,
	.set_timeouts = sqlite_set_timeouts,
	.exec = sqlite_exec,
	.query_truth = sqlite_query_truth,
	.bk_exists = sqlite_bk_exists,
	.bk_ensure = sqlite_bk_ensure,
	.bk_read = sqlite_bk_read,
	.bk_put = sqlite_bk_put,
	.audit_append = sqlite_audit_append,
	.audit_read = sqlite_audit_read,
};
