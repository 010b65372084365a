/* Our own check of a bundle's tar stream, beside libarchive (which
 * inflates it): one 512-byte header or one pax extended header, parsed
 * strictly for verify/archive.c. libarchive's tar reader is laxer on each
 * point these check (design.md, "libarchive and our own checks"). Pure
 * functions: no I/O, no allocation but the pax path. */
#ifndef CAIRN_TAR_CHECK_H
#define CAIRN_TAR_CHECK_H

#include <stddef.h>

#define TAR_BLOCK 512
/* prefix (155) + '/' + name (100) */
#define TAR_USTAR_NAME_MAX 256
/* The most a pax extended header may hold: a bundle's is a path (at most
 * BUNDLE_MAX_NAME bytes) and perhaps a size and an mtime. */
#define TAR_PAX_MAX (64 * 1024)

struct tar_header {
	unsigned char type;                /* the typeflag byte */
	char name[TAR_USTAR_NAME_MAX + 1]; /* prefix '/' name, or name alone */
	int has_linkname;                  /* the linkname field is not empty */
	const unsigned char *size_field;   /* 12 bytes, for tar_number */
};

/* One header block: 1 parsed, 0 an all-zero block, -1 a damaged header
 * (its checksum), -2 a sound header that is not POSIX ustar (GNU tar's own
 * format, v7); *why says which. Checksums summed over signed and unsigned
 * bytes are both accepted, as tar does. */
int tar_header_parse(const unsigned char h[TAR_BLOCK], struct tar_header *out, const char **why);
/* A numeric field: octal digits after optional spaces, ended by spaces or
 * NULs (or filling the field), or base-256 (first byte 0x80). 0, or -1 when
 * it is anything else, negative or over 2^63 - 1. */
int tar_number(const unsigned char *field, size_t len, unsigned long long *out);

struct tar_pax {
	char *path;                 /* "path", or NULL */
	unsigned long long size;    /* "size", when has_size */
	int has_size;
	int linkpath;               /* a "linkpath" record */
	int sparse;                 /* a "GNU.sparse.*" record */
};

/* The records "LEN KEY=VALUE\n" of a pax extended header, exactly filling
 * len bytes; keys other than the four above are ignored (mtime, atime,
 * uid, hdrcharset...). 0, or -1 with *why. Release with tar_pax_release. */
int tar_pax_parse(const char *data, size_t len, struct tar_pax *out, const char **why);
void tar_pax_release(struct tar_pax *p);

#endif
