/* SQLite: what preflight asks (driver.h, issue #20), answered without
 * writing: a query's first value, whether the bookkeeping can be written,
 * and whether another connection holds a writer's lock on the file. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../lib/buf.h"
#include "../lib/error.h"
#include "../lib/util.h"
#include "sqlite-private.h"

int sqlite_query_text(struct db *db, const char *sql, char **out)
{
	sqlite3_stmt *st = NULL;
	int rc;

	*out = NULL;
	if (!db->h)
		return 0; /* a file that does not exist yet: no rows */
	if (sqlite3_prepare_v2(db->h, sql, -1, &st, NULL) != SQLITE_OK) {
		cairn_error_set("%s: %s", db->path, sqlite3_errmsg(db->h));
		return -1;
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
		*out = xstrdup((const char *)sqlite3_column_text(st, 0));
	else if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		cairn_error_set("%s: %s", db->path, sqlite3_errmsg(db->h));
		sqlite3_finalize(st);
		return -1;
	}
	sqlite3_finalize(st);
	return 0;
}

/* The directory holding path ("." for a bare name), malloc'ed. */
static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		return xstrdup(".");
	if (slash == path)
		return xstrdup("/");
	return xstrndup(path, (size_t)(slash - path));
}

/* The bookkeeping lives in the file: writing it needs the file writable,
 * and the directory too (the rollback journal beside it, or the file
 * itself when it does not exist yet). */
int sqlite_books_writable(struct db *db, char **why)
{
	char *dir = dir_of(db->path);
	int ok = 1;

	*why = NULL;
	if (access(db->path, F_OK) == 0 && access(db->path, W_OK) != 0) {
		*why = xasprintf("'%s' is not writable: %s", db->path, strerror(errno));
		ok = 0;
	} else if (access(dir, W_OK) != 0) {
		*why = xasprintf("directory '%s' is not writable (the journal is made there): %s",
			       dir, strerror(errno));
		ok = 0;
	}
	free(dir);
	return ok;
}

/* SQLite's file locks are POSIX record locks on fixed bytes (os_unix.c):
 * PENDING at 2^30, RESERVED just after it, SHARED after that. A lock held
 * on RESERVED or PENDING is a connection inside a write transaction, which
 * would keep a migration's BEGIN IMMEDIATE waiting. F_GETLK only asks. */
#define SQLITE_PENDING_BYTE 0x40000000
int sqlite_blockers(struct db *db, const char *const *tables, size_t ntables, char **out)
{
	struct flock fl;
	int fd;

	*out = NULL;
	fd = open(db->path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		fd = open(db->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : (cairn_error_set("cannot open '%s': %s", db->path,
							      strerror(errno)), -1);
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	fl.l_start = SQLITE_PENDING_BYTE;
	fl.l_len = 2; /* PENDING and RESERVED */
	if (fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK)
		*out = xasprintf("pid %ld holds a write transaction open on '%s'", (long)fl.l_pid,
			       db->path);
	close(fd);
	return 0;
}

const char *sqlite_file_path(struct db *db)
{
	return db->path;
}
