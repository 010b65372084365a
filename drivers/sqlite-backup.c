/* SQLite: the backup taken before a destructive migration (issue #20),
 * through SQLite's online backup API: a consistent copy of every page,
 * whatever journal mode, made on the run's own connection under the run
 * lock, so no cairn writer runs meanwhile. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../lib/error.h"
#include "sqlite-private.h"

static int fsync_path(const char *path, int dir)
{
	int fd = open(path, (dir ? O_RDONLY | O_DIRECTORY : O_RDWR) | O_CLOEXEC), rc;

	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

/* Every page of from's main database into to's, in one step. */
static int copy_pages(sqlite3 *to, sqlite3 *from)
{
	sqlite3_backup *b = sqlite3_backup_init(to, "main", from, "main");
	int step, rc;

	if (!b)
		return sqlite3_errcode(to);
	step = sqlite3_backup_step(b, -1);
	rc = sqlite3_backup_finish(b);
	return rc == SQLITE_OK && step != SQLITE_DONE ? step : rc;
}

int sqlite_backup_to(struct db *db, const char *path)
{
	sqlite3 *to = NULL;
	const char *slash = strrchr(path, '/');
	char *dir = NULL;
	int rc;

	if (!db->h) {
		cairn_error_set("'%s' does not exist yet: nothing to back up", db->path);
		return -1;
	}
	if (access(path, F_OK) == 0) {
		cairn_error_set("backup '%s' exists already", path);
		return -1;
	}
	rc = sqlite3_open_v2(path, &to, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
	if (rc == SQLITE_OK) {
		rc = copy_pages(to, db->h);
	}
	if (rc != SQLITE_OK) {
		cairn_error_set("cannot back up '%s' to '%s': %s", db->path, path,
				to ? sqlite3_errmsg(to) : sqlite3_errstr(rc));
		sqlite3_close(to);
		unlink(path);
		return -1;
	}
	sqlite3_close(to);
	dir = slash ? xstrndup(path, slash == path ? 1 : (size_t)(slash - path)) : xstrdup(".");
	if (fsync_path(path, 0) || fsync_path(dir, 1)) {
		cairn_error_set("cannot fsync the backup '%s': %s", path, strerror(errno));
		free(dir);
		unlink(path);
		return -1;
	}
	free(dir);
	return 0;
}

/* The other way: every page of the copy into the open database, in one
 * step, so SQLite swaps the content whole (a failure leaves the
 * database as it was). The copy is opened read-only. */
int sqlite_restore_from(struct db *db, const char *path)
{
	sqlite3 *from = NULL;
	int rc;

	if (!db->h) {
		cairn_error_set("'%s' does not exist: nothing to restore into", db->path);
		return -1;
	}
	rc = sqlite3_open_v2(path, &from, SQLITE_OPEN_READONLY, NULL);
	if (rc == SQLITE_OK) {
		rc = copy_pages(db->h, from);
	}
	if (rc != SQLITE_OK) {
		/* the step's code: it failed on the database written (a full
		 * disk), whose handle, not the copy's, holds the message */
		cairn_error_set("cannot restore '%s' from '%s': %s",
				db->path, path, sqlite3_errstr(rc));
		sqlite3_close(from);
		return -1;
	}
	sqlite3_close(from);
	return 0;
}
