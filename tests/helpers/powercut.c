/* A power cut or a kill, simulated (LD_PRELOAD) for the tests of runs
 * stopped at a chosen moment (t0352, t1066): for a cut, what reaches the
 * disk is what was synced, and nothing else.
 *
 *   POWERCUT_DB=/abs/path/db   the files watched: every path starting so
 *                              (the database, its journal), and the
 *                              directory holding them
 *   POWERCUT_AT=N              the power goes at the Nth fsync/fdatasync of
 *                              a watched file or of that directory (0: never);
 *                              with POWERCUT_ON, at the Nth call it names
 *   POWERCUT_ON=CALL[:NAME]    the calls counted instead: fsync, fdatasync,
 *                              sync (either), write (write, pwrite), rename,
 *                              unlink, of any file; with :NAME only those on
 *                              a path (the fd's, as opened) containing NAME,
 *                              with :NAME$ only those ending in NAME
 *   POWERCUT_HOW=kill          at that call, SIGKILL (the kernel keeps every
 *                              write made) instead of a power cut (cut: the
 *                              default, which needs POWERCUT_DB)
 *   POWERCUT_TRACE=FILE        each call POWERCUT_ON counts, appended as
 *                              "N CALL PATH" (N: what POWERCUT_AT would name)
 *   POWERCUT_COUNT=FILE        at exit: "SYNCS DIRSYNCS" counted (and, with
 *                              POWERCUT_ON, the calls it counted third)
 *   POWERCUT_NEW=PATH          a watched file there already whose name is not
 *                              durable (its creator never synced the directory)
 *
 * The chosen call is stopped before it runs: a rename killed at never
 * happened. A child process (exec) loads this library again and counts
 * its own calls from 1.
 *
 * Model: a watched file's content is durable as of its last sync; a file's
 * creation or removal is durable once its directory has been synced after
 * it (POSIX; ext4 may do more, never less). A file that existed when first
 * seen is taken as durable. At the cut, the file being synced gets every
 * other write since its last sync (a torn sync: the disk wrote some of its
 * pages), the others none; files whose creation is not durable vanish,
 * files whose removal is not durable come back. Then the process ends with
 * _exit(99), as if the machine stopped.
 *
 * Limits: one name's history is one file (a name removed and created again
 * before a directory sync is not modelled); write, pwrite, pwrite64 and
 * ftruncate are the writes seen (SQLite's in rollback-journal mode). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#define MAXF 64
#define MAXFD 4096
#define DIRFD_MARK (MAXF + 1)

struct op {
	int trunc;
	off_t off;
	size_t len;
	char *data;
};

struct tf {
	char *path;
	int durable_exists, exists;
	char *img; /* durable content */
	size_t imglen;
	struct op *ops; /* since the last sync */
	size_t nops;
};

static struct tf files[MAXF];
static size_t nfiles;
static unsigned char fdmap[MAXFD]; /* fd -> index + 1, DIRFD_MARK: the directory */
static char watch[4096], dir[4096];
static long cut_at, syncs, dirsyncs;
static int ready;

/* POWERCUT_ON: the calls counted (ON_NONE: the watched files' syncs) */
enum { ON_NONE, ON_FSYNC, ON_FDATASYNC, ON_SYNC, ON_WRITE, ON_RENAME, ON_UNLINK };
static int on_kind, how_kill, trace_fd = -1;
static char on_name[4096];
static long on_calls;
static char *fdpath[MAXFD]; /* every fd's path as opened, for :NAME */

static int (*r_open)(const char *, int, ...);
static int (*r_openat)(int, const char *, int, ...);
static ssize_t (*r_write)(int, const void *, size_t);
static ssize_t (*r_pwrite)(int, const void *, size_t, off_t);
static int (*r_ftruncate)(int, off_t);
static int (*r_fsync)(int);
static int (*r_fdatasync)(int);
static int (*r_unlink)(const char *);
static int (*r_rename)(const char *, const char *);
static int (*r_renameat)(int, const char *, int, const char *);
static int (*r_close)(int);

static void init_on(void)
{
	static const char *const kinds[] = { "", "fsync", "fdatasync", "sync", "write",
					     "rename", "unlink" };
	const char *on = getenv("POWERCUT_ON"), *how = getenv("POWERCUT_HOW");
	const char *trace = getenv("POWERCUT_TRACE"), *colon;
	size_t i, len;

	how_kill = how && !strcmp(how, "kill");
	if (!on || !*on)
		return;
	colon = strchr(on, ':');
	len = colon ? (size_t)(colon - on) : strlen(on);
	for (i = 1; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strlen(kinds[i]) == len && !strncmp(on, kinds[i], len))
			on_kind = (int)i;
	if (!on_kind || (colon && strlen(colon + 1) >= sizeof(on_name)))
		abort(); /* a test's typo must not pass as "never" */
	if (colon)
		memcpy(on_name, colon + 1, strlen(colon + 1) + 1);
	if (trace && *trace)
		trace_fd = r_open(trace, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
}

static void init(void)
{
	const char *w = getenv("POWERCUT_DB"), *at = getenv("POWERCUT_AT");
	char *slash;

	if (ready)
		return;
	ready = 1;
	r_open = dlsym(RTLD_NEXT, "open");
	r_openat = dlsym(RTLD_NEXT, "openat");
	r_write = dlsym(RTLD_NEXT, "write");
	r_pwrite = dlsym(RTLD_NEXT, "pwrite64");
	r_ftruncate = dlsym(RTLD_NEXT, "ftruncate64");
	r_fsync = dlsym(RTLD_NEXT, "fsync");
	r_fdatasync = dlsym(RTLD_NEXT, "fdatasync");
	r_unlink = dlsym(RTLD_NEXT, "unlink");
	r_rename = dlsym(RTLD_NEXT, "rename");
	r_renameat = dlsym(RTLD_NEXT, "renameat");
	r_close = dlsym(RTLD_NEXT, "close");
	init_on();
	cut_at = at ? atol(at) : 0;
	if (!w || *w != '/' || strlen(w) >= sizeof(watch))
		return;
	memcpy(watch, w, strlen(w) + 1);
	memcpy(dir, w, strlen(w) + 1);
	slash = strrchr(dir, '/');
	slash[slash == dir] = '\0';
}

/* Everything resolved at load, before main and so before any thread of
 * the program: a lazy init() alone raced, a second thread finding ready
 * set while the first was still resolving the pointers called a NULL
 * r_open (t1067 test 3 once, under ASan: SEGV at pc 0 in cairn-apply's
 * early-open thread, exit 134 instead of the kill's 137). init() stays
 * for a call made before this constructor has run. */
__attribute__((constructor)) static void init_at_load(void)
{
	init();
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		abort();
	return p;
}

static struct tf *file_of(const char *path, int create)
{
	struct tf *f;
	struct stat st;
	size_t i;
	int fd;

	for (i = 0; i < nfiles; i++)
		if (!strcmp(files[i].path, path))
			return &files[i];
	if (nfiles == MAXF)
		abort();
	f = &files[nfiles++];
	memset(f, 0, sizeof(*f));
	f->path = strdup(path);
	if (stat(path, &st) == 0) {
		const char *fresh = getenv("POWERCUT_NEW");

		/* POWERCUT_NEW: left by a process that never synced its directory */
		f->durable_exists = !fresh || strcmp(fresh, path);
		f->exists = 1;
		f->img = xmalloc((size_t)st.st_size);
		fd = r_open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || pread(fd, f->img, (size_t)st.st_size, 0) != st.st_size)
			abort();
		r_close(fd);
		f->imglen = (size_t)st.st_size;
	} else {
		f->exists = create;
	}
	return f;
}

static void track(int fd, const char *path, int flags)
{
	if (fd < 0 || fd >= MAXFD || !*watch || !path)
		return;
	fdmap[fd] = 0;
	if (!strcmp(path, dir))
		fdmap[fd] = DIRFD_MARK;
	else if (!strncmp(path, watch, strlen(watch)))
		fdmap[fd] = (unsigned char)(file_of(path, 0) - files + 1);
	if (fdmap[fd] && fdmap[fd] != DIRFD_MARK && (flags & O_CREAT))
		files[fdmap[fd] - 1].exists = 1;
}

/* before the open: a new file's first sight must not read it as durable */
static void pre_open(const char *path, int flags)
{
	if (*watch && path && !strncmp(path, watch, strlen(watch)))
		file_of(path, 0);
	(void)flags;
}

static void apply_op(struct tf *f, const struct op *o)
{
	if (o->trunc) {
		if ((size_t)o->off > f->imglen) {
			f->img = realloc(f->img, (size_t)o->off);
			memset(f->img + f->imglen, 0, (size_t)o->off - f->imglen);
		}
		f->imglen = (size_t)o->off;
		return;
	}
	if ((size_t)o->off + o->len > f->imglen) {
		f->img = realloc(f->img, (size_t)o->off + o->len);
		if (!f->img)
			abort();
		memset(f->img + f->imglen, 0, (size_t)o->off + o->len - f->imglen);
		f->imglen = (size_t)o->off + o->len;
	}
	memcpy(f->img + o->off, o->data, o->len);
}

static void record(int fd, int trunc, off_t off, const void *data, size_t len)
{
	struct tf *f;
	struct op *o;

	if (fd < 0 || fd >= MAXFD || !fdmap[fd] || fdmap[fd] == DIRFD_MARK)
		return;
	f = &files[fdmap[fd] - 1];
	f->ops = realloc(f->ops, (f->nops + 1) * sizeof(*f->ops));
	o = &f->ops[f->nops++];
	o->trunc = trunc;
	o->off = off;
	o->len = len;
	o->data = xmalloc(len);
	memcpy(o->data, data, len);
}

static void settle(struct tf *f, int torn)
{
	size_t i, w = 0;

	for (i = 0; i < f->nops; i++) {
		if (!torn || f->ops[i].trunc || w++ % 2 == 0)
			apply_op(f, &f->ops[i]);
		free(f->ops[i].data);
	}
	f->nops = 0;
}

static void cut(int fd)
{
	size_t i;
	int out;

	for (i = 0; i < nfiles; i++) {
		struct tf *f = &files[i];

		settle(f, fd >= 0 && fd < MAXFD && fdmap[fd] == i + 1);
		if (!f->durable_exists) {
			r_unlink(f->path);
			continue;
		}
		out = r_open(f->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (out < 0 || r_write(out, f->img, f->imglen) != (ssize_t)f->imglen)
			abort();
		r_close(out);
	}
	_exit(99);
}

static void synced(int fd)
{
	size_t i;

	if (fd < 0 || fd >= MAXFD || !fdmap[fd])
		return;
	if (++syncs == cut_at && on_kind == ON_NONE)
		cut(fd);
	if (fdmap[fd] == DIRFD_MARK) {
		dirsyncs++;
		for (i = 0; i < nfiles; i++)
			files[i].durable_exists = files[i].exists;
	} else {
		settle(&files[fdmap[fd] - 1], 0);
	}
}

/* POWERCUT_ON's NAME in path: anywhere, or at its end for "NAME$". */
static int name_matches(const char *path)
{
	size_t n = strlen(on_name), p;

	if (!path)
		return 0;
	if (on_name[n - 1] != '$')
		return strstr(path, on_name) != NULL;
	p = strlen(path);
	return p >= n - 1 && !memcmp(path + p - (n - 1), on_name, n - 1);
}

/* A call POWERCUT_ON may name, before it runs: counted, traced, and the
 * Nth stopped (killed, or the power cut). */
static void hit(int kind, const char *path, const char *to, int fd)
{
	char line[8192];
	int n;

	if (on_kind == ON_NONE ||
	    !(kind == on_kind || (on_kind == ON_SYNC && (kind == ON_FSYNC || kind == ON_FDATASYNC))))
		return;
	if (*on_name && !name_matches(path) && !name_matches(to))
		return;
	on_calls++;
	if (trace_fd >= 0) {
		static const char *const names[] = { "", "fsync", "fdatasync", "sync", "write",
						     "rename", "unlink" };

		n = snprintf(line, sizeof(line), "%ld %s %s%s%s\n", on_calls, names[kind],
			     path ? path : "?", to ? " -> " : "", to ? to : "");
		if (n > 0 && (size_t)n < sizeof(line) && r_write(trace_fd, line, (size_t)n) != n)
			abort();
	}
	if (on_calls != cut_at)
		return;
	if (how_kill)
		kill(getpid(), SIGKILL);
	cut(fd);
}

static const char *path_of(int fd)
{
	return fd >= 0 && fd < MAXFD ? fdpath[fd] : NULL;
}

__attribute__((destructor)) static void count(void)
{
	const char *path = getenv("POWERCUT_COUNT");
	FILE *f;

	if (path && (f = fopen(path, "w"))) {
		if (on_kind == ON_NONE)
			fprintf(f, "%ld %ld\n", syncs, dirsyncs);
		else
			fprintf(f, "%ld %ld %ld\n", syncs, dirsyncs, on_calls);
		fclose(f);
	}
}

static int do_open(int at, const char *path, int flags, mode_t mode)
{
	int fd;

	init();
	pre_open(path, flags);
	fd = at == -1 ? r_open(path, flags, mode) : r_openat(at, path, flags, mode);
	if (at == -1 || at == AT_FDCWD || (path && *path == '/'))
		track(fd, path, flags);
	if (fd >= 0 && fd < MAXFD && path) {
		free(fdpath[fd]);
		fdpath[fd] = strdup(path);
	}
	return fd;
}

#define MODE_ARG(flags, mode)                                                                    \
	do {                                                                                     \
		va_list ap;                                                                      \
		va_start(ap, flags);                                                             \
		mode = (flags & (O_CREAT | O_TMPFILE)) ? va_arg(ap, mode_t) : 0;                 \
		va_end(ap);                                                                      \
	} while (0)

int open(const char *path, int flags, ...)
{
	mode_t mode;

	MODE_ARG(flags, mode);
	return do_open(-1, path, flags, mode);
}

int open64(const char *path, int flags, ...)
{
	mode_t mode;

	MODE_ARG(flags, mode);
	return do_open(-1, path, flags, mode);
}

int openat(int at, const char *path, int flags, ...)
{
	mode_t mode;

	MODE_ARG(flags, mode);
	return do_open(at, path, flags, mode);
}

int openat64(int at, const char *path, int flags, ...)
{
	mode_t mode;

	MODE_ARG(flags, mode);
	return do_open(at, path, flags, mode);
}

int close(int fd)
{
	init();
	if (fd >= 0 && fd < MAXFD) {
		fdmap[fd] = 0;
		free(fdpath[fd]);
		fdpath[fd] = NULL;
	}
	return r_close(fd);
}

ssize_t write(int fd, const void *p, size_t n)
{
	off_t off;
	ssize_t w;

	init();
	hit(ON_WRITE, path_of(fd), NULL, fd);
	off = fd >= 0 && fd < MAXFD && fdmap[fd] ? lseek(fd, 0, SEEK_CUR) : 0;
	w = r_write(fd, p, n);
	if (w > 0)
		record(fd, 0, off, p, (size_t)w);
	return w;
}

ssize_t pwrite64(int fd, const void *p, size_t n, off_t off)
{
	ssize_t w;

	init();
	hit(ON_WRITE, path_of(fd), NULL, fd);
	w = r_pwrite(fd, p, n, off);
	if (w > 0)
		record(fd, 0, off, p, (size_t)w);
	return w;
}

ssize_t pwrite(int fd, const void *p, size_t n, off_t off)
{
	return pwrite64(fd, p, n, off);
}

int ftruncate64(int fd, off_t len)
{
	int rc;

	init();
	rc = r_ftruncate(fd, len);
	if (rc == 0)
		record(fd, 1, len, "", 0);
	return rc;
}

int ftruncate(int fd, off_t len)
{
	return ftruncate64(fd, len);
}

int fsync(int fd)
{
	init();
	hit(ON_FSYNC, path_of(fd), NULL, fd);
	synced(fd);
	return r_fsync(fd);
}

int fdatasync(int fd)
{
	init();
	hit(ON_FDATASYNC, path_of(fd), NULL, fd);
	synced(fd);
	return r_fdatasync(fd);
}

int unlink(const char *path)
{
	size_t i;

	init();
	hit(ON_UNLINK, path, NULL, -1);
	for (i = 0; *watch && i < nfiles; i++)
		if (!strcmp(files[i].path, path))
			files[i].exists = 0;
	return r_unlink(path);
}

int rename(const char *from, const char *to)
{
	init();
	hit(ON_RENAME, from, to, -1);
	return r_rename(from, to);
}

int renameat(int fromdir, const char *from, int todir, const char *to)
{
	init();
	hit(ON_RENAME, from, to, -1);
	return r_renameat(fromdir, from, todir, to);
}
