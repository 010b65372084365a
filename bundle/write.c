#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "../lib/error.h"
#include "../lib/tar.h"
#include "../lib/tmpfile.h"
#include "write.h"

#define OUT_SIZE (64 * 1024)

/* What bundles were written with before (libarchive 3.6's gzip filter
 * with timestamp off): a 10-byte gzip header with no flags, no time, no
 * extra flags and OS 3 (Unix), raw deflate at zlib's default level with a
 * 32 KiB window, memLevel 8 and the default strategy, fed without flushes
 * (so how the input is cut does not change the output), then CRC-32 and
 * the length mod 2^32. */
static const unsigned char gzip_header[10] = { 0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3 };
static const unsigned char zeros[TAR_END_BYTES];

struct bwriter {
	int fd;
	char *path, *tmp, *top;
	long long mtime;
	z_stream z;
	int z_live, committed;
	unsigned long crc;
	unsigned long long total;  /* tar bytes so far */
	char *member;              /* the member being written, for messages */
	unsigned long long left;   /* bytes it still needs */
	struct buf hdr;
	unsigned char out[OUT_SIZE];
};

static int write_all(struct bwriter *w, const unsigned char *p, size_t len)
{
	while (len) {
		ssize_t n = write(w->fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			cairn_error_set("cannot write '%s': %s", w->tmp, strerror(n < 0 ? errno : EIO));
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Runs deflate over what is in z.next_in (all of it, or to the end with
 * Z_FINISH), writing each full output buffer. */
static int drive(struct bwriter *w, int flush)
{
	for (;;) {
		int zr;

		if (!w->z.avail_out) {
			if (write_all(w, w->out, OUT_SIZE) < 0)
				return -1;
			w->z.next_out = w->out;
			w->z.avail_out = OUT_SIZE;
		}
		if (flush == Z_NO_FLUSH && !w->z.avail_in)
			return 0;
		zr = deflate(&w->z, flush);
		if (zr == Z_STREAM_END)
			return 0;
		if (zr != Z_OK && zr != Z_BUF_ERROR) {
			cairn_error_set("cannot write '%s': deflate failed (%d)", w->path, zr);
			return -1;
		}
	}
}

/* Tar bytes into the gzip stream. */
static int tar_put(struct bwriter *w, const void *data, size_t len)
{
	while (len) {
		uInt n = len > (1U << 30) ? 1U << 30 : (uInt)len;

		w->crc = crc32(w->crc, data, n);
		w->total += n;
		w->z.next_in = (Bytef *)(uintptr_t)data;
		w->z.avail_in = n;
		if (drive(w, Z_NO_FLUSH) < 0)
			return -1;
		data = (const char *)data + n;
		len -= n;
	}
	return 0;
}

int bwriter_open(struct bwriter **out, const char *path, const char *top, long long mtime)
{
	struct bwriter *w = xcalloc(1, sizeof(*w));

	*out = NULL;
	w->fd = -1;
	w->path = xstrdup(path);
	w->tmp = tmpfile_name(path);
	tmpfile_hold(w->tmp);
	w->top = xstrdup(top);
	w->mtime = mtime;
	w->crc = crc32(0, NULL, 0);
	w->fd = open(w->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
	if (w->fd < 0) {
		cairn_error_set("cannot write '%s': %s", w->tmp, strerror(errno));
		bwriter_free(w);
		return -1;
	}
	if (deflateInit2(&w->z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -MAX_WBITS, 8,
			 Z_DEFAULT_STRATEGY) != Z_OK) {
		cairn_error_set("cannot write '%s': cannot set up zlib's deflate", path);
		bwriter_free(w);
		return -1;
	}
	w->z_live = 1;
	memcpy(w->out, gzip_header, sizeof(gzip_header));
	w->z.next_out = w->out + sizeof(gzip_header);
	w->z.avail_out = OUT_SIZE - sizeof(gzip_header);
	*out = w;
	return 0;
}

static int member_short(struct bwriter *w)
{
	cairn_error_set("cannot write '%s': member '%s': %llu bytes short of its size", w->path,
			w->member, w->left);
	return -1;
}

int bwriter_begin(struct bwriter *w, const char *name, unsigned long long size)
{
	char *full;
	int rc;

	if (w->left)
		return member_short(w);
	free(w->member);
	w->member = xstrdup(name);
	full = xstrcat3(w->top, "/", name);
	buf_reset(&w->hdr);
	rc = tar_format_file(&w->hdr, full, size, w->mtime);
	free(full);
	if (rc < 0) {
		cairn_error_set("cannot write '%s': %s", w->path, cairn_error_last());
		return -1;
	}
	if (tar_put(w, w->hdr.ptr, w->hdr.len) < 0)
		return -1;
	w->left = size;
	return 0;
}

int bwriter_write(struct bwriter *w, const void *data, size_t len)
{
	if (len > w->left) {
		cairn_error_set("cannot write '%s': member '%s': more data than its size",
				w->path, w->member ? w->member : "");
		return -1;
	}
	if (tar_put(w, data, len) < 0)
		return -1;
	w->left -= len;
	if (!w->left && len) {
		/* the data ends: zeros to the next 512-byte record */
		size_t off = (size_t)(w->total % TAR_BLOCK);

		if (off && tar_put(w, zeros, TAR_BLOCK - off) < 0)
			return -1;
	}
	return 0;
}

int bwriter_add(struct bwriter *w, const char *name, const void *data, size_t len)
{
	if (bwriter_begin(w, name, len) < 0)
		return -1;
	return bwriter_write(w, data, len);
}

int bwriter_commit(struct bwriter *w)
{
	unsigned char trailer[8];
	int i;

	if (w->left)
		return member_short(w);
	if (tar_put(w, zeros, TAR_END_BYTES) < 0 || drive(w, Z_FINISH) < 0)
		return -1;
	for (i = 0; i < 4; i++) {
		trailer[i] = (unsigned char)(w->crc >> (8 * i));
		trailer[4 + i] = (unsigned char)(w->total >> (8 * i));
	}
	if (write_all(w, w->out, OUT_SIZE - w->z.avail_out) < 0 ||
	    write_all(w, trailer, sizeof(trailer)) < 0)
		return -1;
	if (close(w->fd) < 0) {
		w->fd = -1;
		cairn_error_set("cannot write '%s': %s", w->tmp, strerror(errno));
		return -1;
	}
	w->fd = -1;
	if (rename(w->tmp, w->path) < 0) {
		cairn_error_set("cannot write '%s': %s", w->path, strerror(errno));
		return -1;
	}
	w->committed = 1;
	return 0;
}

void bwriter_free(struct bwriter *w)
{
	if (!w)
		return;
	if (w->z_live)
		deflateEnd(&w->z);
	if (w->fd >= 0)
		close(w->fd);
	if (!w->committed && w->tmp)
		unlink(w->tmp);
	tmpfile_drop(w->tmp);
	buf_release(&w->hdr);
	free(w->member);
	free(w->path);
	free(w->tmp);
	free(w->top);
	free(w);
}
