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
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../lib/buf.h"
#include "../lib/error.h"
#include "../lib/pool.h"
#include "../lib/sha256.h"
#include "../lib/util.h"
#include "driver.h"
#include "sqlite-private.h"

static void journal_restore(struct db *db);

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

static int sqlite_same_file(struct db *db, const char *when);

int sqlite_was_replaced(struct db *db)
{
	return db->h && sqlite3_extended_errcode(db->h) == SQLITE_READONLY_DBMOVED &&
	       sqlite_same_file(db, "while the run held its lock") < 0;
}

/* base: offset of the statement in the caller's script. A write refused
 * because the file was renamed over mid-script says so, as the check
 * before COMMIT would have: SQLite's "readonly database" would send the
 * operator after permissions. */
void sqlite_fill_error(struct db *db, struct driver_error *err, long base, int rc)
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
	else if (sqlite_was_replaced(db))
		snprintf(err->message, sizeof(err->message), "%s", cairn_error_last());
}

int sqlite_simple(struct db *db, const char *sql)
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

	if (strchr(path, '?'))
		return 0; /* options: the ordinary open checks them */
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

/* sqlite:PATH[?NAME=VALUE&...]: the options SQLite users know, by the names
 * SQLite gives them; anything else is refused (a misspelt option must not
 * become part of a file name, as "fk.db?_fk=1" did). */
struct sqlite_opts {
	int foreign_keys; /* -1: leave SQLite's default (off) */
	long long busy_ms; /* -1: 5 s */
};

static int parse_dsn(const char *dsn, char **path, struct sqlite_opts *o)
{
	static const char *const known[] = { "foreign_keys", "busy_timeout", NULL };
	/* what other tools call them (go-sqlite3, sqlx...) */
	static const char *const alias[][2] = {
		{ "_fk", "foreign_keys" }, { "_foreign_keys", "foreign_keys" }, { "fk", "foreign_keys" },
		{ "_busy_timeout", "busy_timeout" }, { "_timeout", "busy_timeout" },
		{ "timeout", "busy_timeout" },
	};
	const char *p = dsn + strlen("sqlite:"), *q = strchr(p, '?');

	o->foreign_keys = -1;
	o->busy_ms = -1;
	*path = q ? xstrndup(p, (size_t)(q - p)) : xstrdup(p);
	while (q && *q) {
		const char *name = q + 1, *eq, *end = strchr(name, '&');
		char *k, *v;
		int bad = 0;

		if (!end)
			end = name + strlen(name);
		eq = memchr(name, '=', (size_t)(end - name));
		k = xstrndup(name, (size_t)((eq ? eq : end) - name));
		v = eq ? xstrndup(eq + 1, (size_t)(end - eq - 1)) : xstrdup("");
		if (!strcmp(k, "foreign_keys")) {
			if (!strcmp(v, "on") || !strcmp(v, "1") || !strcmp(v, "true") || !strcmp(v, "yes"))
				o->foreign_keys = 1;
			else if (!strcmp(v, "off") || !strcmp(v, "0") || !strcmp(v, "false") || !strcmp(v, "no"))
				o->foreign_keys = 0;
			else
				bad = 1, cairn_error_set("sqlite: foreign_keys must be on or off, not '%s'", v);
		} else if (!strcmp(k, "busy_timeout")) {
			unsigned long long ms;

			if (*v && strspn(v, "0123456789") == strlen(v))
				o->busy_ms = strtoll(v, NULL, 10);
			else if (parse_duration_ms(v, &ms) == 0)
				o->busy_ms = (long long)ms;
			else
				bad = 1, cairn_error_set("sqlite: busy_timeout must be milliseconds or a "
							 "duration such as 5s, not '%s'", v);
		} else {
			const char *hint = did_you_mean(k, known);
			size_t i;

			for (i = 0; !hint && i < sizeof(alias) / sizeof(alias[0]); i++)
				if (!strcmp(k, alias[i][0]))
					hint = alias[i][1];
			bad = 1;
			cairn_error_set("unknown SQLite option '%s' in '%s'%s%s%s", k, dsn,
					hint ? "; did you mean '" : " (known: foreign_keys, busy_timeout)",
					hint ? hint : "", hint ? "'?" : "");
		}
		free(k);
		free(v);
		if (bad) {
			free(*path);
			*path = NULL;
			return DRIVER_BAD_DSN;
		}
		q = *end ? end : NULL;
	}
	return 0;
}

/* The environment's sqlite: {extensions:} (issue #19), set by the applier
 * before any open. Each file is opened once, here, hashed from that
 * descriptor, and loaded later through /proc/self/fd/N: the bytes hashed
 * (the audit row's sha256) are the bytes loaded, and a file put at the
 * path in between (a rename over it) is not what loads. */
struct sqlite_ext {
	char *path;
	int fd;
	char sha256[SHA256_HEX_LEN + 1];
};
static struct sqlite_ext *exts;
static size_t ext_n;

static void exts_clear(void)
{
	while (ext_n) {
		ext_n--;
		free(exts[ext_n].path);
		if (exts[ext_n].fd >= 0)
			close(exts[ext_n].fd);
	}
	free(exts);
	exts = NULL;
}

static int ext_open(struct sqlite_ext *x, const char *path)
{
	char proc[64];
	unsigned long long size;
	struct stat st;

	x->path = xstrdup(path);
	x->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (x->fd < 0 || fstat(x->fd, &st) != 0) {
		cairn_error_set("cannot read '%s': %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		cairn_error_set("'%s' is not a file", path);
		return -1;
	}
	if (sha256_fd(x->fd, path, x->sha256, &size) < 0)
		return -1;
	if (snprintf(proc, sizeof(proc), "/proc/self/fd/%d", x->fd) >= (int)sizeof(proc) ||
	    access(proc, R_OK) != 0) {
		cairn_error_set("cannot load '%s' through its descriptor: /proc is not mounted",
				path);
		return -1;
	}
	return 0;
}

int driver_sqlite_set_extensions(const char *const *paths, size_t n)
{
	size_t i;

	exts_clear();
	exts = n ? xcalloc(n, sizeof(*exts)) : NULL;
	for (i = 0; i < n; i++) {
		exts[i].fd = -1;
		ext_n = i + 1;
		if (ext_open(&exts[i], paths[i]) < 0) {
			exts_clear();
			return -1;
		}
	}
	return 0;
}

const char *driver_sqlite_extension_sha256(size_t i)
{
	return i < ext_n ? exts[i].sha256 : NULL;
}

/* The entry point SQLite guesses from a file's name when the library has
 * no sqlite3_extension_init ("lib/libfoo-1.so" -> "sqlite3_foo_init"):
 * loaded as /proc/self/fd/N it would guess from "N", so it is worked out
 * here from the real name, as SQLite's sqlite3LoadExtension does. */
static char *entry_point(const char *path)
{
	const char *base = strrchr(path, '/');
	struct buf b = BUF_INIT;

	base = base ? base + 1 : path;
	if (!strncasecmp(base, "lib", 3))
		base += 3;
	buf_puts(&b, "sqlite3_");
	for (; *base && *base != '.'; base++)
		if ((*base >= 'a' && *base <= 'z') || (*base >= 'A' && *base <= 'Z'))
			buf_putc(&b, (char)(*base | 0x20));
	buf_puts(&b, "_init");
	return buf_detach(&b, NULL);
}

static int load_one(struct db *db, const struct sqlite_ext *x)
{
	char proc[64], *msg = NULL, *entry = NULL;
	int rc = 0;

	if (snprintf(proc, sizeof(proc), "/proc/self/fd/%d", x->fd) >= (int)sizeof(proc)) {
		cairn_error_set("cannot load SQLite extension '%s': descriptor path too long",
				x->path);
		return -1;
	}
	if (sqlite3_load_extension(db->h, proc, NULL, &msg) != SQLITE_OK) {
		sqlite3_free(msg);
		msg = NULL;
		entry = entry_point(x->path);
		if (sqlite3_load_extension(db->h, proc, entry, &msg) != SQLITE_OK) {
			cairn_error_set("cannot load SQLite extension '%s': %s", x->path,
					msg ? msg : sqlite3_errmsg(db->h));
			rc = -1;
		}
	}
	sqlite3_free(msg);
	free(entry);
	return rc;
}

/* Loads the extensions with the C API switched on only around the loads:
 * SQL (a migration) can never call load_extension() itself, since the SQL
 * function stays off throughout and the C API is off again afterwards. */
static int load_extensions(struct db *db)
{
	size_t i;
	int rc = 0;

	if (!ext_n)
		return 0;
	if (sqlite3_db_config(db->h, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 1, NULL) != SQLITE_OK) {
		cairn_error_set("cannot enable loading SQLite extensions: %s", sqlite3_errmsg(db->h));
		return -1;
	}
	for (i = 0; i < ext_n && !rc; i++)
		rc = load_one(db, &exts[i]);
	if (sqlite3_db_config(db->h, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, NULL) != SQLITE_OK &&
	    !rc) {
		cairn_error_set("cannot disable loading SQLite extensions: %s", sqlite3_errmsg(db->h));
		rc = -1;
	}
	return rc;
}

/* A journal beside the database that is not a plain file, or not owned by
 * the database's owner: SQLite would roll a hot journal's pages into the
 * database at the first open, so a journal planted by whoever can write
 * the directory writes the database (a link SQLite refuses anyway, with a
 * vaguer message). */
static int journal_suspect(const char *path)
{
	char j[4096];
	struct stat d, st;

	if ((size_t)snprintf(j, sizeof(j), "%s-journal", path) >= sizeof(j) || lstat(j, &st) != 0)
		return 0;
	if (!S_ISREG(st.st_mode)) {
		cairn_error_set("'%s' is not a plain file (%s): SQLite would use it as the "
				"database's rollback journal; remove it once you know how it got there",
				j, S_ISLNK(st.st_mode) ? "a symbolic link" : "not a regular file");
		return -1;
	}
	if (stat(path, &d) == 0 && d.st_uid != st.st_uid) {
		cairn_error_set("'%s' belongs to uid %lu, the database to uid %lu: SQLite would roll "
				"that journal into the database; remove it once you know how it got there",
				j, (unsigned long)st.st_uid, (unsigned long)d.st_uid);
		return -1;
	}
	return 0;
}

static int sqlite_open(struct db **out, const char *dsn, unsigned flags)
{
	struct db *db = xcalloc(1, sizeof(*db));
	struct sqlite_opts opt;
	struct stat st;
	char *path = NULL;
	int oflags, rc;

	sqlite_configure();
	*out = NULL;
	db->lock_fd = -1;
	db->flags = flags;
	if ((rc = parse_dsn(dsn, &path, &opt)) != 0) {
		free(db);
		return rc;
	}
	if (!*path) {
		cairn_error_set("sqlite: DSN names no file: use sqlite:PATH");
		free(path);
		free(db);
		return DRIVER_BAD_DSN;
	}
	db->path = path;
	if ((flags & (DRIVER_OPEN_READONLY | DRIVER_OPEN_EXISTING)) && stat(path, &st) != 0 &&
	    errno == ENOENT) {
		if (flags & DRIVER_OPEN_EXISTING) {
			cairn_error_set("database '%s' does not exist (only 'cairn-apply apply' creates "
					"it); check the path", path);
			free(db->path);
			free(db);
			return -1;
		}
		*out = db; /* plan: a database that does not exist yet reads as empty */
		return 0;
	}
	if (flags & DRIVER_OPEN_READONLY)
		oflags = SQLITE_OPEN_READONLY;
	else if (flags & DRIVER_OPEN_EXISTING)
		oflags = SQLITE_OPEN_READWRITE;
	else
		oflags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
	/* A run writes the file the DSN names, never the one a symbolic link
	 * put in its place points to (another database of the fleet, a file
	 * of whoever can write the directory): the identity check would not
	 * tell two databases of the same environment apart. */
	if (!(flags & DRIVER_OPEN_READONLY))
		oflags |= SQLITE_OPEN_NOFOLLOW;
	if (!(flags & DRIVER_OPEN_READONLY) && lstat(path, &st) == 0 && S_ISLNK(st.st_mode)) {
		cairn_error_set("database '%s' is a symbolic link: cairn-apply writes only the "
				"file the DSN names; name the database file itself ('realpath %s' "
				"shows where the link points)",
				path, path);
		goto fail;
	}
	if (!(flags & DRIVER_OPEN_READONLY) && (journal_suspect(path) < 0 || sqlite_tmpdir_pin() < 0))
		goto fail;
	rc = sqlite3_open_v2(path, &db->h, oflags | SQLITE_OPEN_NOMUTEX, sqlite_vfs_name());
	if (rc != SQLITE_OK) {
		cairn_error_set("cannot open database '%s': %s", path,
				db->h ? sqlite3_errmsg(db->h) : sqlite3_errstr(rc));
		goto fail;
	}
	sqlite3_extended_result_codes(db->h, 1);
	sqlite3_progress_handler(db->h, 10000, progress_cb, db);
	sqlite3_busy_timeout(db->h, opt.busy_ms >= 0 ? (int)opt.busy_ms : 5000);
	if (sqlite_guard_install(db) < 0 || load_extensions(db) < 0)
		goto fail;
	if (opt.foreign_keys >= 0 &&
	    sqlite_simple(db, opt.foreign_keys ? "PRAGMA foreign_keys = ON" : "PRAGMA foreign_keys = OFF"))
		goto fail;
	/* Reading the schema here turns "not a database" into an open error,
	 * and makes it part of open(), which may run while the bundle is
	 * verified (sqlite_open_early): with thousands of tables, parsing the
	 * schema costs as much as verifying the bundle. */
	if (sqlite_simple(db, (flags & DRIVER_OPEN_READONLY)
			       ? "SELECT 1 FROM sqlite_schema LIMIT 0"
			       : "PRAGMA synchronous=FULL; SELECT 1 FROM sqlite_schema LIMIT 0"))
		goto fail;
	if (flags & DRIVER_OPEN_PREFETCH)
		sqlite_prefetch_rows(db, flags & DRIVER_OPEN_BRIEF);
	*out = db;
	return 0;
fail:
	sqlite3_close(db->h);
	free(db->path);
	free(db);
	return -1;
}

/* From the signal handler: sqlite3_interrupt only sets a flag the running
 * statement checks. */
static void sqlite_cancel(struct db *db)
{
	if (db)
		db->cancelled = 1; /* the lock wait below looks at it */
	if (db && db->h)
		sqlite3_interrupt(db->h);
}

static void sqlite_close(struct db *db)
{
	if (!db)
		return;
	bk_rows_free(db->pre_rows, db->pre_n);
	bk_briefs_release(&db->pre_briefs);
	pool_free(&db->shared);
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
sqlite3_stmt *sqlite_pragma_row(struct db *db, const char *pragma)
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
	sqlite3_stmt *st = sqlite_pragma_row(db, pragma);
	const char *mode = st ? (const char *)sqlite3_column_text(st, 0) : NULL;
	int yes = mode && !strcmp(mode, want);

	sqlite3_finalize(st);
	return yes;
}

/* While locked, the database file grows SQLITE_CHUNK bytes at a time
 * (SQLITE_FCNTL_CHUNK_SIZE: SQLite writes a byte into each new block, so the
 * blocks exist before any commit writes them). A migration that adds a
 * table adds a page at the file's end: without chunks every commit changed
 * the file's size, so the database's fdatasync wrote the inode too, one
 * synchronous write more in each commit's four syncs (branch fleet21f:
 * 50 of 580 block requests a target of 50 migrations). Same syncs, same
 * order; the file is up to a chunk longer than its pages, which SQLite
 * reads by the page count in its header. */
#define SQLITE_CHUNK (64 * 1024)

static void chunk_size(struct db *db, int bytes)
{
	sqlite3_file_control(db->h, "main", SQLITE_FCNTL_CHUNK_SIZE, &bytes);
}

/* A speed-up only: if SQLite will not switch, the run goes on in DELETE. */
static void journal_persist(struct db *db)
{
	if (db->h && !(db->flags & DRIVER_OPEN_READONLY))
		chunk_size(db, SQLITE_CHUNK);
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
	if (db->h)
		chunk_size(db, 0);
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

/* The file SQLite has open (HAS_MOVED: the inode it opened is still the
 * one the path names), the file the run lock is on, and the file the path
 * names now must be one and the same. A database renamed over, or a link
 * put in its place, between the open and the lock would have the run lock
 * one file and write another; during the run, write an inode no name
 * reaches any more while the books of the file in its place say nothing. */
static int sqlite_same_file(struct db *db, const char *when)
{
	struct stat a, b;
	int moved = 0;

	if (db->lock_fd < 0 || !db->h)
		return 0;
	if (fstat(db->lock_fd, &a) == 0 && lstat(db->path, &b) == 0 && S_ISREG(b.st_mode) &&
	    a.st_dev == b.st_dev && a.st_ino == b.st_ino &&
	    sqlite3_file_control(db->h, "main", SQLITE_FCNTL_HAS_MOVED, &moved) == SQLITE_OK &&
	    !moved)
		return 0;
	cairn_error_set("database '%s' was replaced %s (another file renamed over it, or a link "
			"put in its place): nothing more is written to it; find out which file is "
			"the database before running again",
			db->path, when);
	return -1;
}

static int sqlite_lock(struct db *db, unsigned long long timeout_ms)
{
	unsigned long long start = now_ns();
	long pid;

	if (db->lock_fd < 0) {
		db->lock_fd = open(db->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (db->lock_fd < 0) {
			cairn_error_set("cannot lock '%s': %s", db->path, strerror(errno));
			return -1;
		}
	}
	for (;;) {
		struct timespec ts = { 0, 20 * 1000000L };

		if (flock(db->lock_fd, LOCK_EX | LOCK_NB) == 0)
			break;
		if (db->cancelled) {
			cairn_error_set("stopped waiting for the lock on '%s': interrupted", db->path);
			return -1;
		}
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
	if (sqlite_same_file(db, "between its open and the run lock") < 0) {
		flock(db->lock_fd, LOCK_UN);
		return -1;
	}
	journal_persist(db);
	/* Writers that are not cairn wait as long as we were willing to. */
	sqlite3_busy_timeout(db->h, timeout_ms > 5000 ? (int)(timeout_ms > 600000 ? 600000 : timeout_ms)
						       : 5000);
	return 0;
}

/* preflight: the run lock free now? Taken and dropped on a descriptor of
 * its own, so a connection that holds it (apply --preflight does not yet)
 * is not fooled by its own lock. */
static int sqlite_lock_probe(struct db *db, char **holder)
{
	int fd = open(db->path, O_RDONLY | O_CLOEXEC), held = 0;
	long pid;

	*holder = NULL;
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		cairn_error_set("cannot open '%s': %s", db->path, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
		flock(fd, LOCK_UN);
	} else if (errno == EWOULDBLOCK) {
		pid = lock_holder(fd);
		*holder = pid ? xasprintf("another runner (pid %ld) holds the lock on '%s'", pid,
					  db->path)
			      : xasprintf("another runner holds the lock on '%s'", db->path);
		held = 1;
	} else {
		cairn_error_set("cannot lock '%s': %s", db->path, strerror(errno));
		held = -1;
	}
	close(fd);
	return held;
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
	if (sqlite_same_file(db, "while the run held its lock") < 0)
		return -1;
	return sqlite_simple(db, "BEGIN IMMEDIATE");
}

/* Checked again before COMMIT: a file swapped during the migration makes
 * it roll back rather than commit to the inode no name reaches. */
static int sqlite_commit(struct db *db)
{
	int rc = sqlite_same_file(db, "while the run held its lock") < 0 ? -1
									  : sqlite_simple(db, "COMMIT");

	db->deadline_ns = 0;
	return rc;
}

static int sqlite_rollback(struct db *db)
{
	db->deadline_ns = 0;
	if (sqlite3_get_autocommit(db->h))
		return 0; /* SQLite already rolled back (some errors do) */
	return sqlite_simple(db, "ROLLBACK");
}

static int sqlite_set_timeouts(struct db *db, unsigned long long statement_ms,
			       unsigned long long lock_ms)
{
	db->deadline_ns = statement_ms ? now_ns() + statement_ms * 1000000ull : 0;
	if (lock_ms)
		sqlite3_busy_timeout(db->h, lock_ms > 600000 ? 600000 : (int)lock_ms);
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
	.exec_stream = sqlite_exec_stream,
	.query_truth = sqlite_query_truth,
	.cancel = sqlite_cancel,
	.bk_exists = sqlite_bk_exists,
	.bk_ensure = sqlite_bk_ensure,
	.books_in_first_tx = 1,
	.bk_read = sqlite_bk_read,
	.bk_brief_read = sqlite_bk_brief_read,
	.bk_same_since_brief = sqlite_bk_same_since_brief,
	.bk_put = sqlite_bk_put,
	.audit_append = sqlite_audit_append,
	.query_text = sqlite_query_text,
	.lock_probe = sqlite_lock_probe,
	.books_writable = sqlite_books_writable,
	.blockers = sqlite_blockers,
	.file_path = sqlite_file_path,
	.backup_to = sqlite_backup_to,
	.restore_from = sqlite_restore_from,
	.audit_read = sqlite_audit_read,
	.audit_scan = sqlite_audit_scan,
	.bundle_file_known = sqlite_bundle_file_known,
	.bundle_file_record = sqlite_bundle_file_record,
	.query_rows = sqlite_query_rows,
};
