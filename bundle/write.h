/* Writing a bundle's tarball reproducibly: pax-restricted tar (plain ustar
 * headers unless a name needs more), members in the canonical order the
 * caller gives, every mtime the commit's time, uid/gid 0, no user or group
 * names, mode 0644, and a gzip header with no timestamp and no file name. */
#ifndef CAIRN_BUNDLE_WRITE_H
#define CAIRN_BUNDLE_WRITE_H

#include <stddef.h>

struct bwriter;

/* Writes to a temporary file beside path; bwriter_commit renames it. */
int bwriter_open(struct bwriter **out, const char *path, const char *top, long long mtime);
int bwriter_add(struct bwriter *w, const char *name, const void *data, size_t len);
/* A member written in pieces: exactly size bytes through bwriter_write. */
int bwriter_begin(struct bwriter *w, const char *name, unsigned long long size);
int bwriter_write(struct bwriter *w, const void *data, size_t len);
/* Finishes the archive and moves it into place. */
int bwriter_commit(struct bwriter *w);
/* Frees; removes the temporary file unless committed. Accepts NULL. */
void bwriter_free(struct bwriter *w);

#endif
