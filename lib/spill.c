#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "error.h"
#include "spill.h"

#define SPILL_CHUNK (1u << 20)

/* statfs f_type of file systems whose bytes another process serves */
#define FS_FUSE 0x65735546L
#define FS_NFS 0x6969L
#define FS_CIFS 0xff534d42L
#define FS_SMB2 0xfe534d42L

static const char *spill_dir(void)
{
	const char *d = getenv("TMPDIR");

	return d && d[0] == '/' ? d : "/tmp";
}

/* Whether the directory (open as dfd) may hold the spill: owned by us or
 * root, writable by others only when sticky, on a local file system. */
static int dir_ok(int dfd, const char *dir)
{
	struct stat st;
	struct statfs fs;

	if (fstat(dfd, &st) || fstatfs(dfd, &fs)) {
		cairn_error_set("cannot use '%s' for a temporary file: %s", dir, strerror(errno));
		return -1;
	}
	if (st.st_uid != geteuid() && st.st_uid != 0) {
		cairn_error_set("cannot use '%s' for a temporary file: owned by another user "
				"(uid %lu)", dir, (unsigned long)st.st_uid);
		return -1;
	}
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX)) {
		cairn_error_set("cannot use '%s' for a temporary file: writable by others and "
				"not sticky", dir);
		return -1;
	}
	if ((long)fs.f_type == FS_FUSE || (long)fs.f_type == FS_NFS ||
	    (unsigned long)fs.f_type == (unsigned long)FS_CIFS ||
	    (unsigned long)fs.f_type == (unsigned long)FS_SMB2) {
		cairn_error_set("cannot use '%s' for a temporary file: another process serves "
				"its file system (FUSE, NFS or SMB), and could hand back other bytes",
				dir);
		return -1;
	}
	return 0;
}

int tmpdir_check(const char *dir)
{
	struct stat ln;
	int dfd, rc;

	/* a link planted by another user could be pointed elsewhere later */
	if (lstat(dir, &ln) == 0 && S_ISLNK(ln.st_mode) && ln.st_uid != geteuid() &&
	    ln.st_uid != 0) {
		cairn_error_set("cannot use '%s' for a temporary file: a symbolic link owned by "
				"another user (uid %lu)", dir, (unsigned long)ln.st_uid);
		return -1;
	}
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		cairn_error_set("cannot use '%s' for a temporary file: %s", dir, strerror(errno));
		return -1;
	}
	rc = dir_ok(dfd, dir);
	close(dfd);
	return rc;
}

/* No O_TMPFILE (an older kernel, a file system without it): a named file
 * unlinked at once. */
static int named_tmp(const char *dir)
{
	char path[PATH_MAX];
	int n = snprintf(path, sizeof(path), "%s/cairn-spill-XXXXXX", dir), fd;

	if (n < 0 || (size_t)n >= sizeof(path)) {
		cairn_error_set("cannot use '%s' for a temporary file: path too long", dir);
		return -1;
	}
	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (unlink(path)) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

int spill_open(void)
{
	const char *dir = spill_dir();
	struct stat st;
	int dfd, fd = -1;

	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		cairn_error_set("cannot use '%s' for a temporary file: %s", dir, strerror(errno));
		return -1;
	}
	if (dir_ok(dfd, dir))
		goto out;
	fd = openat(dfd, ".", O_TMPFILE | O_RDWR | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL))
		fd = named_tmp(dir);
	if (fd < 0) {
		cairn_error_set("cannot create a temporary file in '%s': %s", dir, strerror(errno));
		goto out;
	}
	/* ours alone: a regular file, no name, our user, nobody else's mode */
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_nlink != 0 ||
	    st.st_uid != geteuid() || (st.st_mode & 077)) {
		cairn_error_set("cannot create a private temporary file in '%s'", dir);
		close(fd);
		fd = -1;
	}
out:
	close(dfd);
	return fd;
}

int spill_write(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			cairn_error_set("cannot write a temporary file in '%s': %s", spill_dir(),
					n < 0 ? strerror(errno) : "nothing written");
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int spill_feed(int fd, int (*sink)(void *sink_ctx, const void *data, size_t len), void *sink_ctx)
{
	char *chunk = malloc(SPILL_CHUNK);
	int rc = -1;

	if (!chunk) {
		cairn_error_set("out of memory");
		return -1;
	}
	if (lseek(fd, 0, SEEK_SET) != 0) {
		cairn_error_set("cannot read a temporary file back: %s", strerror(errno));
		goto out;
	}
	for (;;) {
		ssize_t n = read(fd, chunk, SPILL_CHUNK);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			cairn_error_set("cannot read a temporary file back: %s", strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		if ((rc = sink(sink_ctx, chunk, (size_t)n)) != 0)
			goto out;
		rc = -1;
	}
	rc = 0;
out:
	free(chunk);
	return rc;
}
