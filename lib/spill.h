/* A private, unnamed temporary file (issue #15, trust15e): a verified
 * bundle member that must be read twice (a transaction: false script, whose
 * statements commit as they run, so its hash must be checked before the
 * first one) is written here while it is hashed, then read back. Nobody
 * else holds the file (O_TMPFILE, or mkstemp and unlink at once; mode
 * 0600, owned by this process's user), so what is read back is what was
 * hashed. */
#ifndef CAIRN_SPILL_H
#define CAIRN_SPILL_H

#include <stddef.h>

/* The directory: $TMPDIR when it is set and absolute, else /tmp. It must
 * be owned by this user or root, and writable by others only when sticky;
 * a file system another process serves (FUSE, NFS, CIFS) is refused, since
 * it could hand back other bytes than were written. An fd open for reading
 * and writing, or -1 with the error set. */
int spill_open(void);
/* The checks spill_open makes of its directory, for another's temporary
 * files (SQLite's, drivers/sqlite-vfs.c): dir owned by us or root,
 * writable by others only when sticky, on a local file system, and not a
 * symbolic link owned by another user. 0, or -1 with the error set. */
int tmpdir_check(const char *dir);
/* Appends len bytes: 0, or -1 with the error set (a full disk named). */
int spill_write(int fd, const void *data, size_t len);
/* Reads the file from its start, calling sink for each chunk of at most
 * 1 MiB: 0, sink's non-zero, or -1 with the error set. */
int spill_feed(int fd, int (*sink)(void *sink_ctx, const void *data, size_t len), void *sink_ctx);

#endif
