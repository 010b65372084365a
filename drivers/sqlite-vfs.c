/* The SQLite driver's VFS: "unix" with one sync fewer per transaction.
 *
 * SQLite's unix VFS opens a rollback journal with O_CREAT for every write
 * transaction and, on the journal's first sync, fsyncs the directory that
 * holds it, so that a hot journal is found again after a power cut. While
 * a runner holds the run lock the journal is kept between transactions
 * (PERSIST, sqlite.c's journal_persist), so after the first transaction
 * that directory sync makes durable a name that is durable already: one of
 * the five syncs of every commit (docs/benchmarks.md, branch fleet21d).
 *
 * This VFS passes everything through to "unix" and changes one thing: it
 * opens a main journal without SQLITE_OPEN_CREATE (so "unix" neither
 * creates it, nor chowns it, nor syncs its directory) only when this
 * process has already synced the directory while that same file (the same
 * inode, which a descriptor held on it keeps from being reused) was there
 * under that name. A journal opened with O_CREAT is remembered only after
 * its first sync succeeded, which is when "unix" syncs its directory. A
 * journal deleted, replaced or renamed by anyone is a new file: its
 * directory is synced again. The database file, WAL files and every other
 * file are untouched.
 *
 * And one more (attack15i): a temporary file (no name) goes to the
 * directory sqlite_tmpdir_pin checked, or nowhere; see tmp_open. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../lib/error.h"
#include "../lib/spill.h"
#include "sqlite-private.h"

/* A journal whose directory this process synced while it was there. */
struct synced {
	char *path;
	int fd; /* keeps the inode from being reused while remembered */
	dev_t dev;
	ino_t ino;
};

#define SYNCED_MAX 16

static struct synced synced[SYNCED_MAX];
static pthread_mutex_t synced_lock = PTHREAD_MUTEX_INITIALIZER;
static sqlite3_vfs vfs, *base;

/* A journal opened with SQLITE_OPEN_CREATE, until its first sync. */
struct jfile {
	sqlite3_file file;
	sqlite3_file *real; /* "unix"'s, just after this struct */
	char *path;         /* while the directory sync is pending; else NULL */
	char *tmpname;      /* a temporary file's name buffer (tmp_open), for "unix"'s zPath */
};

/* The directory sqlite_tmpdir_pin checked (its real path), or NULL. */
static char *tmp_dir;

static void synced_drop(size_t i)
{
	free(synced[i].path);
	if (synced[i].fd >= 0)
		close(synced[i].fd);
	memset(&synced[i], 0, sizeof(synced[i]));
	synced[i].fd = -1;
}

static size_t synced_find(const char *path)
{
	size_t i;

	for (i = 0; i < SYNCED_MAX; i++)
		if (synced[i].path && !strcmp(synced[i].path, path))
			return i;
	return SYNCED_MAX;
}

/* Whether path names the very file remembered for it; forgets it when it
 * names another one (or none). */
static int synced_still(const char *path)
{
	struct stat st;
	size_t i;
	int same = 0;

	pthread_mutex_lock(&synced_lock);
	i = synced_find(path);
	if (i < SYNCED_MAX) {
		same = lstat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_dev == synced[i].dev &&
		       st.st_ino == synced[i].ino;
		if (!same)
			synced_drop(i);
	}
	pthread_mutex_unlock(&synced_lock);
	return same;
}

/* After the journal's first sync: "unix" has synced its directory. The
 * descriptor is opened after the file is: no program that respects
 * SQLite's locks replaces a journal while its writer holds RESERVED. When
 * the table is full the journal is simply not remembered. */
static void synced_add(const char *path)
{
	struct stat st;
	size_t i, free_slot = SYNCED_MAX;
	int fd;

	pthread_mutex_lock(&synced_lock);
	i = synced_find(path);
	if (i < SYNCED_MAX)
		synced_drop(i);
	for (i = 0; i < SYNCED_MAX && free_slot == SYNCED_MAX; i++)
		if (!synced[i].path)
			free_slot = i;
	fd = free_slot < SYNCED_MAX ? open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW) : -1;
	if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    (synced[free_slot].path = strdup(path))) {
		synced[free_slot].fd = fd;
		synced[free_slot].dev = st.st_dev;
		synced[free_slot].ino = st.st_ino;
	} else if (fd >= 0) {
		close(fd);
	}
	pthread_mutex_unlock(&synced_lock);
}

static void synced_forget(const char *path)
{
	size_t i;

	pthread_mutex_lock(&synced_lock);
	i = synced_find(path);
	if (i < SYNCED_MAX)
		synced_drop(i);
	pthread_mutex_unlock(&synced_lock);
}

/* The journal's methods: "unix"'s, and its first sync remembered. */
#define REAL(f) (((struct jfile *)(f))->real)

static int j_close(sqlite3_file *f)
{
	struct jfile *j = (struct jfile *)f;
	int rc = j->real->pMethods->xClose(j->real);

	free(j->path);
	j->path = NULL;
	free(j->tmpname);
	j->tmpname = NULL;
	return rc;
}

static int j_read(sqlite3_file *f, void *p, int n, sqlite3_int64 off)
{
	return REAL(f)->pMethods->xRead(REAL(f), p, n, off);
}

static int j_write(sqlite3_file *f, const void *p, int n, sqlite3_int64 off)
{
	return REAL(f)->pMethods->xWrite(REAL(f), p, n, off);
}

static int j_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	return REAL(f)->pMethods->xTruncate(REAL(f), size);
}

static int j_sync(sqlite3_file *f, int flags)
{
	struct jfile *j = (struct jfile *)f;
	int rc = j->real->pMethods->xSync(j->real, flags);

	if (rc == SQLITE_OK && j->path) {
		synced_add(j->path);
		free(j->path);
		j->path = NULL;
	}
	return rc;
}

static int j_size(sqlite3_file *f, sqlite3_int64 *size)
{
	return REAL(f)->pMethods->xFileSize(REAL(f), size);
}

static int j_lock(sqlite3_file *f, int lock)
{
	return REAL(f)->pMethods->xLock(REAL(f), lock);
}

static int j_unlock(sqlite3_file *f, int lock)
{
	return REAL(f)->pMethods->xUnlock(REAL(f), lock);
}

static int j_reserved(sqlite3_file *f, int *out)
{
	return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}

static int j_fcntl(sqlite3_file *f, int op, void *arg)
{
	return REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}

static int j_sector(sqlite3_file *f)
{
	return REAL(f)->pMethods->xSectorSize(REAL(f));
}

static int j_devchar(sqlite3_file *f)
{
	return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}

/* Journals are never shared-memory or mapped files: version 1 methods. */
static const sqlite3_io_methods jmethods = {
	1, j_close, j_read, j_write, j_truncate, j_sync, j_size, j_lock, j_unlock, j_reserved,
	j_fcntl, j_sector, j_devchar, NULL, NULL, NULL, NULL, NULL, NULL,
};

/* A temporary file (SQLite passes no name) in the pinned directory, and
 * nowhere else: "unix" would fall back from sqlite3_temp_directory to
 * $SQLITE_TMPDIR, $TMPDIR, /var/tmp, /usr/tmp, /tmp and "." as soon as it
 * stopped being a writable directory (unixTempFileDir), none of them
 * checked, and would follow the path to whatever now stands there. So the
 * directory is checked again (tmpdir_check) for each file, and the name
 * is made here (128 random bits) and opened by "unix" as it opens its own
 * temporary files (the same flags: O_EXCL|O_NOFOLLOW, mode 0600, unlinked
 * at once). A directory gone, replaced or opened to others since it was
 * pinned fails the open (SQLITE_CANTOPEN: the statement fails, its
 * transaction rolls back). */
static int tmp_open(struct jfile *j, int flags, int *oflags)
{
	unsigned char raw[16];
	char hex[2 * sizeof(raw) + 1];
	size_t i, len;
	int rc;

	if (tmpdir_check(tmp_dir) < 0 || access(tmp_dir, W_OK | X_OK) ||
	    getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
		return SQLITE_CANTOPEN;
	for (i = 0; i < sizeof(raw); i++)
		snprintf(hex + 2 * i, 3, "%02x", raw[i]);
	/* zeros before and after, as SQLite's own names have (sqlite3_uri_*) */
	len = strlen(tmp_dir) + sizeof("/etilqs_") - 1 + strlen(hex);
	j->tmpname = calloc(1, len + 8);
	if (!j->tmpname)
		return SQLITE_NOMEM;
	if (snprintf(j->tmpname + 4, len + 1, "%s/etilqs_%s", tmp_dir, hex) != (int)len) {
		free(j->tmpname);
		j->tmpname = NULL;
		return SQLITE_CANTOPEN;
	}
	rc = base->xOpen(base, j->tmpname + 4, j->real, flags, oflags);
	if (rc != SQLITE_OK) {
		free(j->tmpname);
		j->tmpname = NULL;
		return rc;
	}
	j->file.pMethods = &jmethods;
	return SQLITE_OK;
}

static int v_open(sqlite3_vfs *v, const char *name, sqlite3_file *f, int flags, int *oflags)
{
	struct jfile *j = (struct jfile *)f;
	int rc;

	if (!name && tmp_dir && (flags & SQLITE_OPEN_DELETEONCLOSE)) {
		memset(j, 0, sizeof(*j));
		j->real = (sqlite3_file *)(j + 1);
		return tmp_open(j, flags, oflags);
	}
	if (!name || (flags & SQLITE_OPEN_MAIN_JOURNAL) != SQLITE_OPEN_MAIN_JOURNAL ||
	    !(flags & SQLITE_OPEN_CREATE))
		return base->xOpen(base, name, f, flags, oflags);
	memset(j, 0, sizeof(*j));
	j->real = (sqlite3_file *)(j + 1);
	/* the same file, its name durable: open it as it is */
	rc = SQLITE_CANTOPEN;
	if (synced_still(name)) {
		rc = base->xOpen(base, name, j->real, flags & ~SQLITE_OPEN_CREATE, oflags);
		if (rc == SQLITE_OK && oflags && (*oflags & SQLITE_OPEN_READONLY)) {
			j->real->pMethods->xClose(j->real);
			rc = SQLITE_CANTOPEN;
		}
		if (rc != SQLITE_OK)
			synced_forget(name);
	}
	if (rc != SQLITE_OK) {
		rc = base->xOpen(base, name, j->real, flags, oflags);
		if (rc == SQLITE_OK && !(j->path = strdup(name))) {
			j->real->pMethods->xClose(j->real);
			rc = SQLITE_NOMEM;
		}
	}
	if (rc != SQLITE_OK)
		return rc;
	j->file.pMethods = &jmethods;
	return SQLITE_OK;
}

static int v_delete(sqlite3_vfs *v, const char *name, int dirsync)
{
	synced_forget(name);
	return base->xDelete(base, name, dirsync);
}

static int v_access(sqlite3_vfs *v, const char *name, int flags, int *out)
{
	return base->xAccess(base, name, flags, out);
}

static int v_fullpath(sqlite3_vfs *v, const char *name, int n, char *out)
{
	return base->xFullPathname(base, name, n, out);
}

static void *v_dlopen(sqlite3_vfs *v, const char *name)
{
	return base->xDlOpen(base, name);
}

static void v_dlerror(sqlite3_vfs *v, int n, char *msg)
{
	base->xDlError(base, n, msg);
}

static void (*v_dlsym(sqlite3_vfs *v, void *h, const char *sym))(void)
{
	return base->xDlSym(base, h, sym);
}

static void v_dlclose(sqlite3_vfs *v, void *h)
{
	base->xDlClose(base, h);
}

static int v_random(sqlite3_vfs *v, int n, char *out)
{
	return base->xRandomness(base, n, out);
}

static int v_sleep(sqlite3_vfs *v, int us)
{
	return base->xSleep(base, us);
}

static int v_time(sqlite3_vfs *v, double *out)
{
	return base->xCurrentTime(base, out);
}

static int v_lasterror(sqlite3_vfs *v, int n, char *msg)
{
	return base->xGetLastError ? base->xGetLastError(base, n, msg) : 0;
}

static int v_time64(sqlite3_vfs *v, sqlite3_int64 *out)
{
	return base->xCurrentTimeInt64(base, out);
}

static int v_setcall(sqlite3_vfs *v, const char *name, sqlite3_syscall_ptr p)
{
	return base->xSetSystemCall(base, name, p);
}

static sqlite3_syscall_ptr v_getcall(sqlite3_vfs *v, const char *name)
{
	return base->xGetSystemCall(base, name);
}

static const char *v_nextcall(sqlite3_vfs *v, const char *name)
{
	return base->xNextSystemCall(base, name);
}

static pthread_once_t once = PTHREAD_ONCE_INIT;

static void vfs_register(void)
{
	size_t i;

	base = sqlite3_vfs_find("unix");
	if (!base || base->iVersion < 3)
		return;
	for (i = 0; i < SYNCED_MAX; i++)
		synced[i].fd = -1;
	vfs = *base;
	vfs.szOsFile = (int)sizeof(struct jfile) + base->szOsFile;
	vfs.pNext = NULL;
	vfs.zName = SQLITE_VFS_NAME;
	vfs.pAppData = NULL;
	vfs.xOpen = v_open;
	vfs.xDelete = v_delete;
	vfs.xAccess = v_access;
	vfs.xFullPathname = v_fullpath;
	vfs.xDlOpen = v_dlopen;
	vfs.xDlError = v_dlerror;
	vfs.xDlSym = v_dlsym;
	vfs.xDlClose = v_dlclose;
	vfs.xRandomness = v_random;
	vfs.xSleep = v_sleep;
	vfs.xCurrentTime = v_time;
	vfs.xGetLastError = v_lasterror;
	vfs.xCurrentTimeInt64 = v_time64;
	vfs.xSetSystemCall = v_setcall;
	vfs.xGetSystemCall = v_getcall;
	vfs.xNextSystemCall = v_nextcall;
	if (sqlite3_vfs_register(&vfs, 0) != SQLITE_OK)
		base = NULL;
}

const char *sqlite_vfs_name(void)
{
	pthread_once(&once, vfs_register);
	return base ? SQLITE_VFS_NAME : NULL;
}

/* Every directory above real (a resolved path): whoever may write one
 * can rename what it holds away and put a directory of theirs in its
 * place, which the pinned path then names. Each must be ours or root's,
 * and sticky where others may write it (so that only the owner of an
 * entry can rename it), as tmpdir_check asks of the directory itself. */
static int parents_check(const char *real)
{
	struct stat st;
	char *dir = xstrdup(real), *slash;
	const char *why = NULL;
	unsigned long uid = 0;

	while (!why && (slash = strrchr(dir, '/'))) {
		slash[slash == dir] = '\0'; /* "/a/b" -> "/a" -> "/" */
		if (lstat(dir, &st) || !S_ISDIR(st.st_mode))
			why = "cannot be read";
		else if (st.st_uid != geteuid() && st.st_uid != 0) {
			why = "is owned by another user";
			uid = (unsigned long)st.st_uid;
		} else if ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX))
			why = "is writable by others and not sticky";
		else if (!strcmp(dir, "/"))
			break;
	}
	if (why && uid)
		cairn_error_set("cannot use '%s' for a temporary file: '%s' above it %s (uid %lu), "
				"who can put another directory in its place", real, dir, why, uid);
	else if (why)
		cairn_error_set("cannot use '%s' for a temporary file: '%s' above it %s, so others "
				"can put another directory in its place", real, dir, why);
	free(dir);
	return why ? -1 : 0;
}

/* SQLite's temporary files (a sort that spills, VACUUM's copy, a temp
 * table past the cache, a statement journal) go to the first of
 * $SQLITE_TMPDIR, $TMPDIR, /var/tmp, /usr/tmp, /tmp and "." that is a
 * directory this process may write (unixTempFileDir). They are made with
 * O_EXCL and O_NOFOLLOW, mode 0600, and unlinked at once, but whoever
 * serves or owns that directory still decides what is read back: a FUSE
 * file system of another user hands back other rows to a migration's
 * INSERT ... SELECT ... ORDER BY, and a link planted in a shared
 * directory can be pointed there between two temporary files. A writing
 * run checks SQLite's choice as cairn's own spill is checked
 * (tmpdir_check) and pins it (sqlite3_temp_directory, its real path), so
 * that no later change of a link or a variable moves it (attack15h). Since
 * attack15i the directories above it are checked too (parents_check), and
 * this VFS opens every temporary file there itself (tmp_open): SQLite
 * falls back from sqlite3_temp_directory when it is no longer a writable
 * directory. */
int sqlite_tmpdir_pin(void)
{
	static int pinned;
	const char *cand[] = { getenv("SQLITE_TMPDIR"), getenv("TMPDIR"), "/var/tmp",
			       "/usr/tmp", "/tmp", "." };
	const char *names[] = { "SQLITE_TMPDIR", "TMPDIR", NULL, NULL, NULL, NULL };
	struct stat st;
	char *real = NULL;
	size_t i;

	if (pinned || sqlite3_temp_directory)
		return 0;
	for (i = 0; i < sizeof(cand) / sizeof(cand[0]); i++) {
		if (!cand[i] || stat(cand[i], &st) || !S_ISDIR(st.st_mode) ||
		    access(cand[i], W_OK | X_OK))
			continue;
		if (tmpdir_check(cand[i]) == 0 && !(real = realpath(cand[i], NULL)))
			cairn_error_set("cannot use '%s' for a temporary file: %s", cand[i],
					strerror(errno));
		if (!real || parents_check(real) < 0) {
			char *why = xstrdup(cairn_error_last());

			cairn_error_set("%s%s%s%s: SQLite's temporary files (sorts, VACUUM, temp "
					"tables) would go there; point %s at a directory of yours",
					why, names[i] ? " (from $" : "", names[i] ? names[i] : "",
					names[i] ? ")" : "", names[i] ? names[i] : "SQLITE_TMPDIR");
			free(why);
			free(real);
			return -1;
		}
		sqlite3_temp_directory = sqlite3_mprintf("%s", real);
		tmp_dir = real;
		if (!sqlite3_temp_directory) {
			cairn_error_set("out of memory");
			return -1;
		}
		break;
	}
	pinned = 1;
	return 0;
}
