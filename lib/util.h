/* Small helpers shared by both programs: files, text checks, suggestions. */
#ifndef CAIRN_UTIL_H
#define CAIRN_UTIL_H

#include <stddef.h>
#include <sys/types.h>

#include "buf.h"

/* Reads a whole file into out, refusing files over cap bytes (0 = no cap). */
int read_file(const char *path, size_t cap, struct buf *out);
/* Maps in the pages of a large buffer about to be written (one madvise
 * MADV_POPULATE_WRITE instead of a page fault per 4 KiB: each fault is
 * costly in a VM); does nothing for small ones or where unsupported. */
void mem_prefault(void *p, size_t len);
/* xcalloc for a large array every element of which is about to be
 * written: its pages mapped in by mem_prefault, then zeroed (calloc's own
 * zeroing would fault them in one at a time). */
void *xcalloc_prefaulted(size_t n, size_t size);
/* Writes data to path through a temporary file and rename, with mode. A
 * path that exists and is not a regular file (/dev/null, /dev/stdout, a
 * FIFO, a symlink) is written through instead: renaming over it would
 * replace the device or the link with a file (as root, /dev/null itself). */
int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode);
/* 1 when path exists and is not a regular file (lstat: links count). */
int path_is_special(const char *path);
/* Copies the bytes of the file from into path, opened as it is (O_TRUNC). */
int file_copy_into(const char *from, const char *path);
/* Creates path exclusively (O_EXCL): fails when it exists. */
int write_file_new(const char *path, const void *data, size_t len, mode_t mode);
int mkdir_p(const char *path, mode_t mode);
char *path_join(const char *a, const char *b);
int path_exists(const char *path);
int is_dir(const char *path);

/* 0 when data is valid UTF-8; otherwise -1 with *bad the offset of the
 * first bad byte. */
int utf8_check(const char *data, size_t len, size_t *bad);
/* NULL when s holds nothing a terminal would act on; otherwise a malloc'ed
 * copy with every C0 control byte, DEL, C1 control (U+0080..U+009F) and
 * byte that is not UTF-8 written as \xNN: for printing text that came
 * from a bundle. */
char *text_escape_controls(const char *s);
/* 1-based line of byte offset off in data. */
int line_of_offset(const char *data, size_t len, size_t off);

/* The closest of candidates (NULL-terminated) to word, or NULL when none is
 * close enough to be worth suggesting. */
const char *did_you_mean(const char *word, const char *const *candidates);
size_t edit_distance(const char *a, const char *b);

/* Parses "64MiB", "10k", "1048576" into bytes. */
int parse_size(const char *s, unsigned long long *out);
/* Parses "30s", "5m", "1h", "7d", "250ms", "10" (seconds) into milliseconds. */
int parse_duration_ms(const char *s, unsigned long long *out);

/* Orders migration versions: numerically when both are digit strings
 * (leading zeros ignored: "0002" == "2" < "10"), else by bytes. Returns
 * -1, 0 or 1. */
int version_cmp(const char *a, const char *b);

/* s as one shell word: unchanged when it holds only characters no shell
 * treats specially, else in double quotes with $ ` " \ escaped (double, so
 * that a hint may wrap the whole command in single quotes). Caller frees. */
char *shell_quote(const char *s);

/* The name a run's closing message gives the signal that stopped it:
 * "SIGINT", "SIGTERM", "SIGHUP", else "a signal". */
const char *stop_signal_name(int sig);

int starts_with(const char *s, const char *prefix);
int ends_with(const char *s, const char *suffix);

/* FNV-1a of a NUL-terminated string, for in-memory hash tables only
 * (never stored, never a lock key: drivers/postgres.c has its own). */
size_t str_hash(const char *s);

#endif
