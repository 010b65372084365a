#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <libdeflate.h>
#include <zlib.h>

#include "../lib/error.h"
#include "../lib/sha256.h"
#include "../lib/tar.h"
#include "archive.h"

#define IN_SIZE (64 * 1024)
#define OUT_SIZE (64 * 1024)
/* The whole-file path: a gzip file of at most WHOLE_IN_MAX bytes whose
 * trailer promises at most WHOLE_OUT_MAX inflated bytes is inflated at
 * once by libdeflate (see read_whole). */
#define WHOLE_IN_MAX (8 * 1024 * 1024)
#define WHOLE_OUT_MAX (32 * 1024 * 1024)
#define HUGE_PAGE (2 * 1024 * 1024)

struct breader {
	int fd;
	char *path;
	z_stream z;
	int z_live;
	int z_end;         /* the gzip member ended, its CRC-32 and length checked */
	int trailing;      /* and bytes follow it in the file */
	char zerr[128];    /* or why the gzip stream cannot go on; reported when
			    * the bytes it lacks are asked for */
	unsigned char *in, *out;
	size_t pos, lim;   /* inflated bytes not taken yet: out[pos, lim) */
	size_t out_size;   /* out's size: OUT_SIZE, or the whole tar's */
	void *map;         /* the whole-file path's mapping (out is in it) */
	size_t map_len;
	size_t released;   /* out[0, released) is unmapped already */
	char *top;
	char prev[BUNDLE_MAX_NAME + 1]; /* the previous member's name, for the
					 * order check ("" before the first) */
	char name[BUNDLE_MAX_NAME + 1];
	unsigned long long size, done;
	int in_member;     /* the current member's data or padding is unread */
	int at_end;        /* the end of the archive was read and checked */
	char *err;         /* the first error: the reader stops there */
};

/* One pass over a path that is fine, which nearly every one is: each of
 * 10,000 member names is checked three times (tar header, SHA256SUMS, the
 * manifest). */
static int path_plainly_safe(const char *name)
{
	const unsigned char *p = (const unsigned char *)name, *comp = p;

	if (*p == '/')
		return 0;
	for (;; p++) {
		if (*p == '/' || !*p) {
			size_t len = (size_t)(p - comp);

			if (!len || (comp[0] == '.' && (len == 1 || (len == 2 && comp[1] == '.'))))
				return 0;
			if (!*p)
				return 1;
			comp = p + 1;
		} else if (*p < 0x20 || *p == 0x7f || *p == '\\') {
			return 0;
		}
	}
}

const char *member_path_problem(const char *name)
{
	const char *c = name;

	if (path_plainly_safe(name))
		return NULL;
	if (!*name)
		return "an empty name";
	if (*name == '/')
		return "an absolute path";
	for (;;) {
		const char *slash = strchr(c, '/');
		size_t len = slash ? (size_t)(slash - c) : strlen(c);

		if (!len)
			return "an empty component";
		if (len == 1 && c[0] == '.')
			return "a '.' component";
		if (len == 2 && c[0] == '.' && c[1] == '.')
			return "a '..' component";
		if (!slash)
			break;
		c = slash + 1;
	}
	for (c = name; *c; c++) {
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			return "a control character";
		if (*c == '\\')
			return "a backslash";
	}
	return NULL;
}

int member_path_safe(const char *name)
{
	return member_path_problem(name) == NULL;
}

int member_rank(const char *name)
{
	if (!strcmp(name, "manifest.yaml"))
		return RANK_MANIFEST;
	if (!strcmp(name, "SHA256SUMS"))
		return RANK_SUMS;
	if (!strncmp(name, "signatures/", 11) && name[11] && !strchr(name + 11, '/'))
		return RANK_SIGNATURE;
	if (!strncmp(name, "approvals/", 10) && name[10] && !strchr(name + 10, '/'))
		return RANK_APPROVAL;
	if (!strncmp(name, "migrations/", 11) && strchr(name + 11, '/'))
		return RANK_MIGRATION;
	return -1;
}

int member_cmp(const char *a, const char *b)
{
	int ra = member_rank(a), rb = member_rank(b);

	if (ra != rb)
		return ra < rb ? -1 : 1;
	return strcmp(a, b);
}

/* Every error goes through here: the reader keeps it, and later calls
 * give it again instead of reading on from a broken place. */
static int fail(struct breader *r)
{
	if (!r->err)
		r->err = xstrdup(cairn_error_last());
	return -1;
}

static int failed(const struct breader *r)
{
	if (!r->err)
		return 0;
	cairn_error_set("%s", r->err);
	return 1;
}

/* A stream or format error, named by where the reader stood. */
static int damaged(struct breader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int damaged(struct breader *r, const char *fmt, ...)
{
	char what[256];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (r->in_member)
		cairn_error_set("member '%s': cannot read its data: %s (truncated or damaged archive)",
				r->name, what);
	else if (*r->prev)
		cairn_error_set("cannot read the member after '%s': %s (truncated or damaged archive)",
				r->prev, what);
	else
		cairn_error_set("cannot read the first member: %s (truncated or damaged archive)", what);
	return fail(r);
}

static ssize_t read_in(struct breader *r, unsigned char *p, size_t len)
{
	for (;;) {
		ssize_t n = read(r->fd, p, len);

		if (n >= 0)
			return n;
		if (errno != EINTR) {
			cairn_error_set("cannot read '%s': %s", r->path, strerror(errno));
			return fail(r);
		}
	}
}

/* Reads all of the file into in, which is what libdeflate wants. */
static int read_all(struct breader *r, unsigned char *in, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read_in(r, in + got, len - got);

		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	return 0;
}

/* The whole-file path. zlib's inflate of a 5,000-migration bundle (14 MB
 * of tar, most of it headers and padding) took ~22 ms with its CRC-32, a
 * quarter of a nothing-pending apply; libdeflate inflates and checks the
 * same stream in ~9 ms. It works on whole buffers only, so it is used
 * where the whole tar fits a bounded buffer: a file of at most
 * WHOLE_IN_MAX bytes with the plain 10-byte gzip header cairn writes
 * (no optional fields: zlib checks a header CRC libdeflate would skip)
 * whose trailer gives at most WHOLE_OUT_MAX bytes. The buffer is an
 * anonymous mapping of that size, in huge pages where the kernel gives
 * them (a 14 MB buffer cost ~8 ms of page faults in 4 KiB pages). The
 * trailer's length is only a claim: libdeflate checks it, with the
 * CRC-32, and fails when the stream inflates to anything else. On any
 * failure the file is read again by zlib from the start, so that every
 * damaged or unusual bundle gets the streaming path's messages. 1 when
 * the tar is in out, 0 to stream, -1 when the file cannot be read. */
static int read_whole(struct breader *r, const struct stat *st)
{
	struct libdeflate_decompressor *d = NULL;
	unsigned char *in = NULL;
	size_t len = (size_t)st->st_size, isize, used = 0, made = 0, map_len;
	void *map = MAP_FAILED;
	unsigned char *out;
	enum libdeflate_result res;
	unsigned char head[4], tail[4];

	if (!S_ISREG(st->st_mode) || st->st_size < 18 || st->st_size > WHOLE_IN_MAX)
		return 0;
	/* the header and the trailer's length first: a bundle too big for
	 * this path costs two small reads, not a read of all of it */
	if (pread(r->fd, head, 4, 0) != 4 || pread(r->fd, tail, 4, st->st_size - 4) != 4)
		return 0;
	isize = (size_t)tail[0] | (size_t)tail[1] << 8 | (size_t)tail[2] << 16 | (size_t)tail[3] << 24;
	if (head[0] != 0x1f || head[1] != 0x8b || head[2] != 8 || head[3] != 0 || !isize ||
	    isize > WHOLE_OUT_MAX)
		return 0;
	in = xmalloc(len);
	if (read_all(r, in, len) < 0) {
		if (r->err) {
			free(in);
			return -1;
		}
		goto stream; /* shorter than fstat said: the file changed */
	}
	if (memcmp(in, head, 4) || memcmp(in + len - 4, tail, 4))
		goto stream; /* changed between the reads */
	map_len = isize >= HUGE_PAGE ? (isize + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE + HUGE_PAGE
				     : isize;
	map = mmap(NULL, map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (map == MAP_FAILED)
		goto stream;
	out = map;
	if (isize >= HUGE_PAGE) {
		/* a 2 MiB boundary, so that the kernel can back it with huge pages */
		out = (unsigned char *)(((uintptr_t)map + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1));
		(void)madvise(out, map_len - HUGE_PAGE, MADV_HUGEPAGE);
	}
	d = libdeflate_alloc_decompressor();
	if (!d)
		goto stream;
	res = libdeflate_gzip_decompress_ex(d, in, len, out, isize, &used, &made);
	libdeflate_free_decompressor(d);
	if (res != LIBDEFLATE_SUCCESS || made != isize)
		goto stream;
	free(in);
	r->map = map;
	r->map_len = map_len;
	r->out = out;
	r->out_size = isize;
	r->pos = 0;
	r->lim = isize;
	r->z_end = 1;
	r->trailing = used < len;
	return 1;
stream:
	free(in);
	if (map != MAP_FAILED)
		munmap(map, map_len);
	return lseek(r->fd, 0, SEEK_SET) < 0 ? -1 : 0;
}

int breader_open(struct breader **out, const char *path)
{
	struct breader *r = xcalloc(1, sizeof(*r));
	struct stat st;
	ssize_t n;
	int k;

	*out = NULL;
	r->path = xstrdup(path);
	r->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (r->fd < 0 || fstat(r->fd, &st) < 0 || S_ISDIR(st.st_mode)) {
		cairn_error_set("cannot read '%s': %s", path, strerror(r->fd < 0 ? errno : EISDIR));
		goto bad;
	}
	k = read_whole(r, &st);
	if (k < 0) {
		if (!r->err)
			cairn_error_set("cannot read '%s': %s", path, strerror(errno));
		goto bad;
	}
	if (k > 0) {
		close(r->fd);
		r->fd = -1;
		*out = r;
		return 0;
	}
	r->in = xmalloc(IN_SIZE);
	r->out = xmalloc(OUT_SIZE);
	r->out_size = OUT_SIZE;
	n = read_in(r, r->in, IN_SIZE);
	if (n < 0)
		goto bad;
	if (n < 2 || r->in[0] != 0x1f || r->in[1] != 0x8b) {
		cairn_error_set("not a bundle: not a gzip-compressed tarball");
		goto bad;
	}
	r->z.next_in = r->in;
	r->z.avail_in = (uInt)n;
	/* 16 + MAX_WBITS: a gzip header (any of its optional fields), one
	 * deflate stream, and a trailer whose CRC-32 and length zlib checks */
	if (inflateInit2(&r->z, 16 + MAX_WBITS) != Z_OK) {
		cairn_error_set("cannot read '%s': cannot set up zlib's inflate", path);
		goto bad;
	}
	r->z_live = 1;
	*out = r;
	return 0;
bad:
	breader_free(r);
	return -1;
}

/* Inflates into out[lim..OUT_SIZE), as far as it goes: to a full buffer,
 * the end of the gzip stream, or a problem kept in zerr. -1 only when the
 * file cannot be read. Nothing to do on the whole-file path. */
static int fill(struct breader *r)
{
	if (r->map)
		return 0;
	r->z.next_out = r->out + r->lim;
	r->z.avail_out = (uInt)(OUT_SIZE - r->lim);
	while (r->z.avail_out && !r->z_end && !*r->zerr) {
		int zr;

		if (!r->z.avail_in) {
			ssize_t n = read_in(r, r->in, IN_SIZE);

			if (n < 0)
				return -1;
			if (!n) {
				snprintf(r->zerr, sizeof(r->zerr), "the gzip stream ends early");
				break;
			}
			r->z.next_in = r->in;
			r->z.avail_in = (uInt)n;
		}
		zr = inflate(&r->z, Z_NO_FLUSH);
		if (zr == Z_STREAM_END) {
			unsigned char c;
			ssize_t n = 0;

			r->z_end = 1;
			/* a second gzip member or anything else after the first */
			if (r->z.avail_in || (n = read_in(r, &c, 1)) > 0)
				r->trailing = 1;
			if (n < 0)
				return -1;
		} else if (zr != Z_OK) {
			snprintf(r->zerr, sizeof(r->zerr), "gzip: %s",
				 r->z.msg ? r->z.msg : "cannot inflate");
		}
	}
	r->lim = OUT_SIZE - r->z.avail_out;
	return 0;
}

/* On the whole-file path, gives back the huge pages the reader has gone
 * past, so that the copies the caller keeps (the manifest, SHA256SUMS,
 * the SQL) replace the inflated tar in memory instead of adding to it:
 * peak RSS stays what the streaming path's was. Called at the start of
 * each read, when what the previous one handed out is no longer used. */
static void release_consumed(struct breader *r)
{
	size_t upto;

	if (!r->map || r->out_size < HUGE_PAGE)
		return;
	upto = r->pos / HUGE_PAGE * HUGE_PAGE;
	if (upto > r->released) {
		(void)munmap(r->out + r->released, upto - r->released);
		r->released = upto;
	}
}

/* n (at most 512) contiguous inflated bytes at *p: 1; 0 when the stream
 * ends before (*got: how many it had left); -1 on error. */
static int take(struct breader *r, size_t n, const unsigned char **p, size_t *got)
{
	release_consumed(r);
	while (r->lim - r->pos < n) {
		if (r->map) { /* the whole tar is in out: nothing more comes */
			*got = r->lim - r->pos;
			return 0;
		}
		if (r->pos + n > r->out_size) {
			memmove(r->out, r->out + r->pos, r->lim - r->pos);
			r->lim -= r->pos;
			r->pos = 0;
		}
		if (*r->zerr)
			return damaged(r, "%s", r->zerr);
		if (r->z_end) {
			*got = r->lim - r->pos;
			return 0;
		}
		if (fill(r) < 0)
			return -1;
	}
	*p = r->out + r->pos;
	r->pos += n;
	return 1;
}

static int all_zero(const unsigned char *p, size_t len)
{
	static const unsigned char zeros[TAR_BLOCK];

	for (; len > TAR_BLOCK; p += TAR_BLOCK, len -= TAR_BLOCK)
		if (memcmp(p, zeros, TAR_BLOCK))
			return 0;
	return !memcmp(p, zeros, len);
}

/* len (< 512) bytes of zeros that end a member's last record. */
static int skip_padding(struct breader *r, size_t len)
{
	const unsigned char *p;
	size_t got;
	int k;

	if (!len)
		return 0;
	k = take(r, len, &p, &got);
	if (k <= 0)
		return k < 0 ? -1 : damaged(r, "the archive ends inside a record");
	if (!all_zero(p, len))
		return damaged(r, "bytes other than zeros after its data");
	return 0;
}

/* After the first zero record: the second, then nothing but zeros to the
 * end of the gzip stream (writers pad to their block size), which ends the
 * file. */
static int read_end(struct breader *r)
{
	const unsigned char *h;
	size_t got;
	int k = take(r, TAR_BLOCK, &h, &got);

	if (k < 0)
		return -1;
	if (!k)
		return damaged(r, "the archive ends after one of the two zero records that end it");
	if (!all_zero(h, TAR_BLOCK))
		return damaged(r, "a zero record between members");
	for (;;) {
		if (!all_zero(r->out + r->pos, r->lim - r->pos))
			return damaged(r, "bytes other than zeros after the end of the archive");
		r->pos = r->lim = 0;
		if (*r->zerr)
			return damaged(r, "%s", r->zerr);
		if (r->z_end)
			break;
		if (fill(r) < 0)
			return -1;
	}
	if (r->trailing)
		return damaged(r, "bytes after the gzip stream (a bundle is one gzip stream)");
	r->at_end = 1;
	return 0;
}

/* A pax extended header's records, whole, into *pax. */
static int read_pax(struct breader *r, const struct tar_header *th, struct tar_pax *pax)
{
	struct buf text = BUF_INIT;
	unsigned long long size;
	const char *why;
	int rc = -1;

	if (tar_number(th->size_field, 12, &size) < 0)
		return damaged(r, "a pax header whose size is not a number");
	if (size > TAR_PAX_MAX)
		return damaged(r, "a pax header of %llu bytes, over the cap of %d", size, TAR_PAX_MAX);
	while (text.len < size) {
		const unsigned char *p;
		size_t got, n = size - text.len < TAR_BLOCK ? (size_t)(size - text.len) : TAR_BLOCK;
		int k = take(r, n, &p, &got);

		if (k <= 0) {
			if (!k)
				damaged(r, "the archive ends inside a pax header");
			goto out;
		}
		buf_put(&text, p, n);
	}
	if (skip_padding(r, (TAR_BLOCK - size % TAR_BLOCK) % TAR_BLOCK) < 0)
		goto out;
	if (tar_pax_parse(text.ptr ? text.ptr : "", text.len, pax, &why) < 0) {
		damaged(r, "%s", why);
		goto out;
	}
	rc = 0;
out:
	buf_release(&text);
	return rc;
}

/* The header of the next member, a pax header before it read and applied:
 * 1; 0 at the end of the archive (checked); -1 on error. */
static int next_header(struct breader *r, struct tar_header *th, struct tar_pax *pax)
{
	int have_pax = 0;

	for (;;) {
		const unsigned char *h;
		const char *why;
		size_t got;
		int k = take(r, TAR_BLOCK, &h, &got);

		if (k <= 0) {
			if (k < 0)
				return -1;
			return damaged(r, got ? "the archive ends inside a tar header"
					      : "the archive ends without the two zero records that end it");
		}
		k = tar_header_parse(h, th, &why);
		if (k == -2) {
			/* not damage: a tar of another format (GNU tar's default) */
			if (*r->prev)
				cairn_error_set("member after '%s': %s (a bundle's tar headers are POSIX "
						"ustar and pax: GNU tar writes those with --format=posix)",
						r->prev, why);
			else
				cairn_error_set("not a bundle: %s (a bundle's tar headers are POSIX ustar "
						"and pax: GNU tar writes those with --format=posix)", why);
			return fail(r);
		}
		if (k < 0)
			return damaged(r, "%s", why);
		if (!k) {
			if (have_pax)
				return damaged(r, "a pax header with no member after it");
			if (!r->top) {
				cairn_error_set("not a bundle: the archive is empty");
				return fail(r);
			}
			return read_end(r) < 0 ? -1 : 0;
		}
		if (th->type != 'x')
			return 1;
		if (have_pax)
			return damaged(r, "two pax headers in a row");
		if (read_pax(r, th, pax) < 0)
			return -1;
		have_pax = 1;
	}
}

/* Refuses anything but a plain regular file, naming what it is. */
static int check_type(struct breader *r, const struct tar_header *th, const struct tar_pax *pax,
		      const char *path, const char *shown)
{
	const char *what = NULL;

	switch (th->type) {
	case '0':
	case '\0':
		/* old tars mark a directory so; libarchive read it as one */
		if (path[strlen(path) - 1] == '/')
			what = "directory entry (a bundle holds regular files only)";
		else if (th->has_linkname || pax->linkpath)
			what = "a regular file with a link target (a bundle holds regular files only)";
		else if (pax->sparse)
			what = "not a plain regular file (GNU sparse)";
		break;
	case '1':
		what = "hard link (a bundle holds regular files only)";
		break;
	case '2':
		what = "symbolic link (a bundle holds regular files only)";
		break;
	case '3':
	case '4':
	case '6':
		what = "device or special file (a bundle holds regular files only)";
		break;
	case '5':
		what = "directory entry (a bundle holds regular files only)";
		break;
	case 'S':
		what = "not a plain regular file (GNU sparse)";
		break;
	case 'g':
		what = "a pax global header (a bundle has none)";
		break;
	case 'K':
	case 'L':
		what = "a GNU long-name header (a bundle uses pax headers)";
		break;
	default:
		cairn_error_set("member '%s': not a plain regular file (tar type 0x%02x)", shown,
				th->type);
		return fail(r);
	}
	if (!what)
		return 0;
	cairn_error_set("member '%s': %s", shown, what);
	return fail(r);
}

int breader_next(struct breader *r, struct bmember *m)
{
	struct tar_header th;
	struct tar_pax pax = { NULL, 0, 0, 0, 0 };
	const char *path, *shown, *slash, *rest;
	unsigned long long size;
	int rc = -1, k;

	memset(m, 0, sizeof(*m));
	if (failed(r))
		return -1;
	/* skip what the caller left of the previous member, so its bytes are
	 * still read (and a damaged tail still noticed) */
	if (r->in_member) {
		const void *d;
		size_t len;

		while ((k = breader_data(r, &d, &len)) > 0)
			;
		if (k < 0)
			return -1;
	}
	*r->name = '\0';
	if (r->at_end)
		return 0;
	k = next_header(r, &th, &pax);
	if (k <= 0) {
		rc = k;
		goto out;
	}
	path = pax.path ? pax.path : th.name;
	if (!*path) {
		cairn_error_set("member without a name");
		goto bad;
	}
	if (strlen(path) > BUNDLE_MAX_NAME) {
		cairn_error_set("member '%.60s...': name longer than %d bytes", path, BUNDLE_MAX_NAME);
		goto bad;
	}
	/* messages name a member inside the top directory, as SHA256SUMS does */
	shown = path;
	if (r->top && !strncmp(path, r->top, strlen(r->top)) && path[strlen(r->top)] == '/' &&
	    path[strlen(r->top) + 1])
		shown = path + strlen(r->top) + 1;
	if (check_type(r, &th, &pax, path, shown) < 0)
		goto out;
	if (pax.has_size) {
		size = pax.size;
	} else if (tar_number(th.size_field, 12, &size) < 0) {
		cairn_error_set("member '%s': its size is not a number (damaged archive)", shown);
		goto bad;
	}
	if (*path == '/') {
		cairn_error_set("member '%s': absolute path (a bundle's members are relative)", shown);
		goto bad;
	}
	if (!member_path_safe(path)) {
		cairn_error_set("member '%s': unsafe path: %s", shown, member_path_problem(path));
		goto bad;
	}
	slash = strchr(path, '/');
	if (!slash) {
		cairn_error_set("member '%s': outside the bundle's top directory", path);
		goto bad;
	}
	if (!r->top) {
		r->top = xstrndup(path, (size_t)(slash - path));
	} else if ((size_t)(slash - path) != strlen(r->top) ||
		   strncmp(path, r->top, (size_t)(slash - path))) {
		cairn_error_set("member '%s': outside the top directory '%s/'", path, r->top);
		goto bad;
	}
	rest = slash + 1;
	memcpy(r->name, rest, strlen(rest) + 1);
	m->rank = member_rank(rest);
	if (m->rank < 0) {
		cairn_error_set("member '%s': not part of a bundle (a bundle holds manifest.yaml, "
				"SHA256SUMS, signatures/, approvals/ and migrations/<dir>/)", rest);
		goto bad;
	}
	if (*r->prev) {
		int c = member_cmp(r->prev, rest);

		if (c == 0) {
			cairn_error_set("member '%s': duplicate member name", rest);
			goto bad;
		}
		if (c > 0) {
			cairn_error_set("member '%s': out of order after '%s' (members are sorted: "
					"manifest.yaml, SHA256SUMS, signatures/, approvals/, migrations/)",
					rest, r->prev);
			goto bad;
		}
	}
	memcpy(r->prev, rest, strlen(rest) + 1);
	r->size = size;
	r->done = 0;
	r->in_member = 1;
	m->name = r->name;
	m->size = r->size;
	rc = 1;
	goto out;
bad:
	fail(r);
out:
	tar_pax_release(&pax);
	return rc;
}

int breader_data(struct breader *r, const void **data, size_t *len)
{
	size_t n;

	if (failed(r))
		return -1;
	if (!r->in_member)
		return 0;
	release_consumed(r);
	if (r->done == r->size) {
		if (skip_padding(r, (size_t)((TAR_BLOCK - r->size % TAR_BLOCK) % TAR_BLOCK)) < 0)
			return -1;
		r->in_member = 0;
		return 0;
	}
	if (r->pos == r->lim) {
		r->pos = r->lim = 0;
		if (fill(r) < 0)
			return -1;
		if (r->pos == r->lim) {
			if (*r->zerr)
				return damaged(r, "%s", r->zerr);
			cairn_error_set("member '%s': %llu bytes, its header says %llu (truncated archive)",
					r->name, r->done, r->size);
			return fail(r);
		}
	}
	n = r->lim - r->pos;
	if (n > r->size - r->done)
		n = (size_t)(r->size - r->done);
	*data = r->out + r->pos;
	*len = n;
	r->pos += n;
	r->done += n;
	return 1;
}

int breader_slurp(struct breader *r, struct buf *out, char *hex)
{
	struct sha256_ctx c = { NULL };
	const void *d;
	size_t len;
	int k, rc = -1;

	if (hex && sha256_init(&c) < 0)
		return -1;
	while ((k = breader_data(r, &d, &len)) > 0) {
		if (buf_put(out, d, len) < 0) {
			cairn_error_set("member '%s': over the size cap", r->name);
			goto out;
		}
		if (hex && sha256_update(&c, d, len) < 0)
			goto out;
	}
	if (k < 0)
		goto out;
	if (!out->ptr)
		buf_put(out, "", 0);
	if (hex && sha256_final_hex(&c, hex) < 0)
		goto out;
	rc = 0;
out:
	sha256_release(&c);
	return rc;
}

const char *breader_top(const struct breader *r)
{
	return r->top;
}

void breader_free(struct breader *r)
{
	if (!r)
		return;
	if (r->z_live)
		inflateEnd(&r->z);
	if (r->fd >= 0)
		close(r->fd);
	free(r->in);
	if (r->map) {
		/* not the parts given back: something else may be mapped there now */
		unsigned char *map = r->map, *from = r->out + r->released;

		if (r->out > map)
			munmap(map, (size_t)(r->out - map));
		if (from < map + r->map_len)
			munmap(from, (size_t)(map + r->map_len - from));
	} else {
		free(r->out);
	}
	free(r->path);
	free(r->top);
	free(r->err);
	free(r);
}
