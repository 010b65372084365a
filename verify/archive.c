#include <archive.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "../lib/error.h"
#include "../lib/sha256.h"
#include "../lib/thread.h"
#include "tar-check.h"
#include "archive.h"

#define IN_SIZE (64 * 1024)
#define OUT_SIZE (64 * 1024)

struct breader {
	int fd;
	char *path;
	struct archive *a; /* libarchive's gzip filter, giving the tar stream */
	long long file_size;
	size_t first;      /* the file's first bytes, read to check the header,
			    * not yet handed to libarchive */
	unsigned long crc; /* CRC-32 and length of the tar stream so far: our */
	unsigned long long total; /* check of the gzip trailer (libarchive's
				   * filter does not check it) */
	unsigned long long zero_run; /* zero bytes at the end of it */
	int z_end;         /* the gzip stream ended, its CRC-32 and length checked */
	int trailing;      /* and bytes follow it in the file */
	char zerr[128];    /* or why the gzip stream cannot go on; reported when
			    * the bytes it lacks are asked for */
	unsigned char *in, *out;
	size_t pos, lim;   /* inflated bytes not taken yet: out[pos, lim) */
	char *top;
	char prev[BUNDLE_MAX_NAME + 1]; /* the previous member's name, for the
					 * order check ("" before the first) */
	char name[BUNDLE_MAX_NAME + 1];
	unsigned long long size, done;
	int in_member;     /* the current member's data or padding is unread */
	int at_end;        /* the end of the archive was read and checked */
	char *err;         /* the first error: the reader stops there */
	struct file_hash *fh; /* breader_hash_file's, until breader_file_sha256 */
};

/* The whole file's sha256, made on a thread of its own beside the reading
 * (breader_hash_file), from the same open file, read on the side. */
struct file_hash {
	pthread_t thread;
	int fd;
	const char *path;
	atomic_int stop;      /* the reader is freed: no one wants the answer */
	int rc;
	char hex[65];
	char err[CAIRN_ERRMSG_MAX];
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

/* libarchive's read callback: the file, in IN_SIZE chunks, starting with
 * the bytes breader_open read already. */
static la_ssize_t feed(struct archive *a, void *ctx, const void **buf)
{
	struct breader *r = ctx;
	ssize_t n;

	(void)a;
	*buf = r->in;
	if (r->first) {
		n = (ssize_t)r->first;
		r->first = 0;
	} else {
		n = read_in(r, r->in, IN_SIZE);
	}
	return n;
}

/* The file's bytes, as they are now, read with pread (the reader's offset
 * is not moved) into hex; stops early, -1, when stop turns true. */
static int file_sha256_pread(int fd, const char *path, atomic_int *stop, char hex[65])
{
	struct sha256_ctx c;
	unsigned char chunk[IN_SIZE]; /* no malloc: the heap's lock is the other threads' */
	long long off = 0;
	int rc = -1;

	if (sha256_init(&c) < 0)
		return -1;
	for (;;) {
		ssize_t n;

		if (stop && atomic_load(stop)) {
			cairn_error_set("cannot read '%s': stopped", path);
			break;
		}
		n = pread(fd, chunk, IN_SIZE, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			cairn_error_set("cannot read '%s': %s", path, strerror(errno));
			break;
		}
		if (!n) {
			rc = sha256_final_hex(&c, hex);
			break;
		}
		sha256_update(&c, chunk, (size_t)n);
		off += n;
	}
	if (rc < 0)
		sha256_release(&c);
	return rc;
}

static void *file_hash_run(void *arg)
{
	struct file_hash *fh = arg;

	fh->rc = file_sha256_pread(fh->fd, fh->path, &fh->stop, fh->hex);
	if (fh->rc < 0)
		snprintf(fh->err, sizeof(fh->err), "%s", cairn_error_last());
	return NULL;
}

/* The hash was the main thread's serial work after the head's checks (an
 * unchanged file's question, issue #14): 1.3 MB at 5,000 migrations, read
 * again and hashed while the other CPU idled. Now it is made beside the
 * inflating of the head. It is the same hash of the same open file as
 * before (the bytes as they are when read on the side, as the pread after
 * the head read them): what the caller does with it is unchanged. No
 * thread: breader_file_sha256 hashes the file itself, as before. */
void breader_hash_file(struct breader *r)
{
	struct file_hash *fh;

	if (r->fh)
		return;
	fh = xcalloc(1, sizeof(*fh));
	fh->fd = r->fd;
	fh->path = r->path;
	atomic_init(&fh->stop, 0);
	if (thread_start_apart(&fh->thread, file_hash_run, fh)) {
		free(fh);
		return;
	}
	r->fh = fh;
}

/* The answer of breader_hash_file's thread, once it ended; NULL when there
 * is no thread. */
static struct file_hash *file_hash_join(struct breader *r)
{
	struct file_hash *fh = r->fh;

	if (fh) {
		pthread_join(fh->thread, NULL);
		r->fh = NULL;
	}
	return fh;
}

int breader_file_sha256(struct breader *r, char hex[65])
{
	struct file_hash *fh = file_hash_join(r);
	int rc;

	if (!fh)
		return file_sha256_pread(r->fd, r->path, NULL, hex);
	rc = fh->rc;
	if (rc < 0)
		cairn_error_set("%s", fh->err);
	else
		memcpy(hex, fh->hex, sizeof(fh->hex));
	free(fh);
	return rc;
}

/* The gzip header, which libarchive's filter parses but checks less than
 * zlib did: it skips a header CRC unchecked, and takes a header whose
 * method or flags it does not know for the end of the stream. So the
 * messages zlib gave are given here (kept in zerr, reported as the first
 * member's damage). The optional fields a bundle never has are refused
 * outright: -1, with the message set. What is left is at most 12 bytes,
 * FTEXT and FHCRC being the only flags allowed. */
static int gzip_header_check(struct breader *r, const unsigned char *p, size_t n)
{
	const size_t len = 10;

	/* FEXTRA, FNAME, FCOMMENT and the reserved bits carry bytes no hash
	 * covers: cairn writes none of them, and cairn-bundle(5) refuses them
	 * (a header CRC, FHCRC, only checks the header, and is allowed) */
	if (n >= 4 && (p[3] & 0xfc)) {
		cairn_error_set("not a bundle: its gzip header carries %s, which a bundle never has "
				"(recompress it without, or rebuild it with cairn)",
				p[3] & 0x08 ? "a file name (FNAME)" : p[3] & 0x04
				? "an extra field (FEXTRA)" : p[3] & 0x10 ? "a comment (FCOMMENT)"
				: "reserved flags");
		return -1;
	}
	if (n < 10)
		goto short_;
	if (p[2] != 8) {
		snprintf(r->zerr, sizeof(r->zerr), "gzip: unknown compression method");
		return 0;
	}
	if (p[3] & 2) { /* FHCRC: the low 16 bits of the header's CRC-32 */
		if (n < len + 2)
			goto short_;
		if ((crc32(0, p, (uInt)len) & 0xffff) != (unsigned long)(p[len] | p[len + 1] << 8))
			snprintf(r->zerr, sizeof(r->zerr), "gzip: header crc mismatch");
	}
	return 0;
short_:
	snprintf(r->zerr, sizeof(r->zerr), "the gzip stream ends early");
	return 0;
}

/* What the open found wrong with the gzip stream, kept in zerr as fill()
 * keeps what reading finds, so it is reported as the first member's damage
 * with the words it had when the filter was named rather than bid for:
 * bidding inflates the start of the stream at the open, where a short
 * file fails ("truncated gzip input", or no message when only the trailer
 * is cut); and it bids again on what it inflated, so a gzip inside the
 * gzip would be inflated too (archive_filter_count: gzip over "none",
 * libarchive's reader of our bytes, is 2). why: libarchive's message. */
static void open_problem(struct breader *r, const char *why)
{
	if (*r->zerr)
		return;
	if (archive_filter_count(r->a) > 2)
		snprintf(r->zerr, sizeof(r->zerr), "a gzip stream inside the gzip stream, not a tar");
	else if (!why || strstr(why, "truncated"))
		snprintf(r->zerr, sizeof(r->zerr), "the gzip stream ends early");
	else
		snprintf(r->zerr, sizeof(r->zerr), "gzip: %s", why);
}

int breader_open(struct breader **out, const char *path)
{
	struct breader *r = xcalloc(1, sizeof(*r));
	struct stat st;
	ssize_t n;

	*out = NULL;
	r->path = xstrdup(path);
	r->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (r->fd < 0 || fstat(r->fd, &st) < 0 || S_ISDIR(st.st_mode)) {
		cairn_error_set("cannot read '%s': %s", path, strerror(r->fd < 0 ? errno : EISDIR));
		goto bad;
	}
	r->file_size = (long long)st.st_size;
	r->in = xmalloc(IN_SIZE);
	r->out = xmalloc(OUT_SIZE);
	n = read_in(r, r->in, IN_SIZE);
	if (n < 0)
		goto bad;
	if (n < 2 || r->in[0] != 0x1f || r->in[1] != 0x8b) {
		cairn_error_set("not a bundle: not a gzip-compressed tarball");
		goto bad;
	}
	if (gzip_header_check(r, r->in, (size_t)n) < 0)
		goto bad;
	r->first = (size_t)n;
	r->crc = crc32(0, NULL, 0);
	/* libarchive's gzip filter and its "raw" format: the tar stream
	 * itself, for the checks below. Registered, not named: naming them
	 * (archive_read_append_filter, archive_read_set_format) goes through
	 * tables of every filter and format, which a static link would then
	 * pull in with their libraries (the Makefile links the applier with
	 * libarchive.a). Registered, the filter is found by bidding, which
	 * inflates the stream's start at the open: see open_problem. */
	r->a = archive_read_new();
	if (!r->a || archive_read_support_filter_gzip(r->a) != ARCHIVE_OK ||
	    archive_read_support_format_raw(r->a) != ARCHIVE_OK) {
		cairn_error_set("cannot read '%s': cannot set up libarchive's gzip reader: %s",
				path, r->a ? archive_error_string(r->a) : "out of memory");
		goto bad;
	}
	if (archive_read_open(r->a, r, NULL, feed, NULL) != ARCHIVE_OK) {
		if (r->err)
			goto bad; /* feed could not read the file */
		open_problem(r, archive_error_string(r->a));
	} else if (!*r->zerr && archive_filter_count(r->a) != 2) {
		open_problem(r, NULL);
	}
	if (!*r->zerr) {
		struct archive_entry *e;

		if (archive_read_next_header(r->a, &e) != ARCHIVE_OK) {
			cairn_error_set("cannot read '%s': %s", path, archive_error_string(r->a));
			goto bad;
		}
	}
	*out = r;
	return 0;
bad:
	breader_free(r);
	return -1;
}

/* crc32() of len zero bytes. */
static unsigned long crc_of_zeros(unsigned long long len)
{
	static const unsigned char zeros[4096];
	unsigned long c = crc32(0, NULL, 0);

	for (; len; len -= len < sizeof(zeros) ? len : sizeof(zeros))
		c = crc32(c, zeros, (uInt)(len < sizeof(zeros) ? len : sizeof(zeros)));
	return c;
}

static unsigned long le32(const unsigned char *p)
{
	return (unsigned long)p[0] | (unsigned long)p[1] << 8 | (unsigned long)p[2] << 16 |
	       (unsigned long)p[3] << 24;
}

/* The gzip stream ended: what libarchive's filter does not check, checked
 * as zlib did. Its CRC-32 and length against the trailer (libarchive
 * reads the 8 bytes and checks neither), and no byte after it in the file
 * (libarchive ignores bytes that do not start another gzip member, and
 * inflates those that do, as one stream). The filter has consumed the
 * file up to the end of the last member it read; when that member is not
 * the first, its trailer matches nothing but its own bytes: one made of
 * zeros only (the only kind the tar checks let through) is caught here.
 * -1 only when the file cannot be read. */
static int gzip_end(struct breader *r)
{
	long long end = archive_filter_bytes(r->a, -1);
	unsigned char t[8];
	unsigned long crc, isize;

	r->z_end = 1;
	if (end < 18 || pread(r->fd, t, sizeof(t), end - 8) != (ssize_t)sizeof(t)) {
		snprintf(r->zerr, sizeof(r->zerr), "the gzip stream ends early");
		return 0;
	}
	crc = le32(t);
	isize = le32(t + 4);
	if (crc != r->crc || isize != (r->total & 0xffffffffUL)) {
		if (isize <= r->zero_run && crc == crc_of_zeros(isize))
			r->trailing = 1;
		else if (crc != r->crc)
			snprintf(r->zerr, sizeof(r->zerr), "gzip: incorrect data check");
		else
			snprintf(r->zerr, sizeof(r->zerr), "gzip: incorrect length check");
		return 0;
	}
	if (end < r->file_size)
		r->trailing = 1;
	return 0;
}

/* Tar bytes out of the filter: into the CRC-32, the length and the count
 * of zeros they end with. */
static void account(struct breader *r, const unsigned char *p, size_t n)
{
	size_t i = n;

	r->crc = crc32(r->crc, p, (uInt)n);
	r->total += n;
	while (i && !p[i - 1])
		i--;
	r->zero_run = i ? n - i : r->zero_run + n;
}

/* libarchive's gzip filter into out[lim..OUT_SIZE), as far as it goes: to a
 * full buffer, the end of the gzip stream, or a problem kept in zerr. -1
 * only when the file cannot be read. A damaged block costs the filter's
 * whole output block (64 KiB), so the member named may stand up to that
 * far before the damage. */
static int fill(struct breader *r)
{
	while (r->lim < OUT_SIZE && !r->z_end && !*r->zerr) {
		la_ssize_t n = archive_read_data(r->a, r->out + r->lim, OUT_SIZE - r->lim);
		const char *why;

		if (n > 0) {
			account(r, r->out + r->lim, (size_t)n);
			r->lim += (size_t)n;
		} else if (!n) {
			return gzip_end(r);
		} else if (r->err) {
			return -1; /* feed could not read the file */
		} else {
			/* the filter's "truncated gzip input", or no message when
			 * the trailer is cut */
			why = archive_error_string(r->a);
			if (!why || strstr(why, "truncated"))
				snprintf(r->zerr, sizeof(r->zerr), "the gzip stream ends early");
			else
				snprintf(r->zerr, sizeof(r->zerr), "gzip: %s", why);
		}
	}
	return 0;
}

/* n (at most 512) contiguous inflated bytes at *p: 1; 0 when the stream
 * ends before (*got: how many it had left); -1 on error. */
static int take(struct breader *r, size_t n, const unsigned char **p, size_t *got)
{
	while (r->lim - r->pos < n) {
		if (r->pos + n > OUT_SIZE) {
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

const char *breader_libarchive_version(void)
{
	return archive_version_string();
}

const char *breader_top(const struct breader *r)
{
	return r->top;
}

void breader_free(struct breader *r)
{
	if (!r)
		return;
	if (r->a)
		archive_read_free(r->a);
	if (r->fh) {
		/* before the file is closed */
		atomic_store(&r->fh->stop, 1);
		free(file_hash_join(r));
	}
	if (r->fd >= 0)
		close(r->fd);
	free(r->in);
	free(r->out);
	free(r->path);
	free(r->top);
	free(r->err);
	free(r);
}
