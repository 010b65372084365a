/* A bundle's tarball, read member by member with bsdtar's secure defaults
 * and then some. libarchive's gzip filter inflates it; our own checks
 * beside it (tar-check.c for the headers) hold it to what cairn writes:
 * one gzip stream, its CRC-32 and length checked, nothing after it; POSIX
 * ustar headers with checked checksums, and pax 'x' headers only for a
 * member's path and size; regular files only (no links, devices,
 * directories, sparse files, pax globals, GNU long names); zeros in every
 * padding and after the two zero records that end the archive; names
 * under one top directory with no '..', no '.', no empty component, no
 * absolute path, no control character; members in the canonical order, so
 * a duplicate or a reordered member is caught as it arrives and a single
 * pass can verify the whole bundle. Memory is bounded whatever the headers
 * say: two 64 KiB buffers, libarchive's 64 KiB block and zlib's window,
 * and at most one 64 KiB pax header. */
#ifndef CAIRN_ARCHIVE_H
#define CAIRN_ARCHIVE_H

#include <stddef.h>

#include "../lib/buf.h"

#define BUNDLE_MAX_NAME 1024

/* The canonical order: members sort by rank, then by name (bytes). */
enum member_rank {
	RANK_MANIFEST,    /* manifest.yaml */
	RANK_SUMS,        /* SHA256SUMS */
	RANK_SIGNATURE,   /* signatures/<keyid>.yaml, .sig */
	RANK_APPROVAL,    /* approvals/<env>-<keyid>.yaml, .sig */
	RANK_MIGRATION,   /* migrations/<dir>/... */
};

/* Rank of a name inside the top directory, or -1 when a bundle never holds it. */
int member_rank(const char *name);
/* Compares two names in the canonical order. */
int member_cmp(const char *a, const char *b);
/* 1 when a path (relative, '/'-separated) is safe: no '..', '.', empty
 * component, leading '/', backslash or control character. */
int member_path_safe(const char *name);
/* What makes a path unsafe ("a '..' component"), or NULL. */
const char *member_path_problem(const char *name);

struct bmember {
	const char *name;     /* inside the top directory: "migrations/x/up.sql" */
	unsigned long long size;
	int rank;
};

struct breader;
int breader_open(struct breader **out, const char *path);
/* The next member, checked: 1, or 0 at the end of the archive (its end
 * checked too), or -1 with the error set (naming the member and the rule).
 * After an error every call fails again with the same message. */
int breader_next(struct breader *r, struct bmember *m);
/* The next chunk of the current member's data: 1 (chunk in *data, *len,
 * pointing into the reader's buffer until the next call), 0 at its end, -1
 * on error (a truncated or damaged archive). */
int breader_data(struct breader *r, const void **data, size_t *len);
/* The current member's bytes, whole, into out (capped: the caller has
 * checked m.size), and their sha256 when hex is not NULL. */
int breader_slurp(struct breader *r, struct buf *out, char *hex);
/* Start hashing the whole file, read on the side (pread on the open
 * file), on a thread of its own beside the reading. */
void breader_hash_file(struct breader *r);
/* The file's sha256, read on the side: breader_hash_file's answer (waited
 * for), else made now. */
int breader_file_sha256(struct breader *r, char hex[65]);
/* libarchive's version ("libarchive 3.6.2"), for --version. */
const char *breader_libarchive_version(void);
/* The top directory, "<project>-<version>", once a member was read. */
const char *breader_top(const struct breader *r);
void breader_free(struct breader *r);

#endif
