#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "tar.h"

/* ustar field offsets and sizes (POSIX pax, "ustar Interchange Format") */
#define F_NAME 0
#define F_MODE 100
#define F_UID 108
#define F_GID 116
#define F_SIZE 124
#define F_MTIME 136
#define F_CHKSUM 148
#define F_TYPE 156
#define F_LINKNAME 157
#define F_MAGIC 257
#define F_VERSION 263
#define F_DEVMAJOR 329
#define F_DEVMINOR 337
#define F_PREFIX 345
#define NAME_LEN 100
#define PREFIX_LEN 155

/* The writer: libarchive 3.6.2's pax_restricted output, field for field.
 * What it does, in its terms: numbers are zero-padded octal in the field
 * less its terminator, the terminators being " \0" for mode, uid, gid and
 * the device numbers and " " for size and mtime; a main header may spill a
 * number over its terminator and then into base-256 ("non-strict"), an 'x'
 * header may not; the checksum is six octal digits, NUL, space. */

static void put_octal(unsigned char *p, int digits, unsigned long long v)
{
	while (digits-- > 0) {
		p[digits] = (unsigned char)('0' + (v & 7));
		v >>= 3;
	}
}

/* Base-256 over len bytes, two's complement, marker bit set. */
static void put_base256(unsigned char *p, int len, long long v)
{
	unsigned long long u = (unsigned long long)v;
	int i;

	for (i = len - 1; i >= 0; i--) {
		if (i >= len - 8) {
			p[i] = (unsigned char)(u & 0xff);
			u >>= 8;
		} else {
			p[i] = v < 0 ? 0xff : 0; /* sign extension */
		}
	}
	p[0] |= 0x80;
}

/* A number in a field of `digits` octal digits that may grow to `max`
 * bytes (over the terminator) and then turn base-256: libarchive's
 * non-strict format_number. */
static void put_number(unsigned char *p, int digits, int max, long long v)
{
	if (v >= 0) {
		int n;

		for (n = digits; n <= max; n++)
			if (n >= 21 || (unsigned long long)v < (1ULL << (3 * n))) {
				put_octal(p, n, (unsigned long long)v);
				return;
			}
	}
	put_base256(p, max, v);
}

static void ustar_template(unsigned char h[TAR_BLOCK])
{
	static const char num6[8] = { '0', '0', '0', '0', '0', '0', ' ', '\0' };

	memset(h, 0, TAR_BLOCK);
	memcpy(h + F_MODE, num6, 8);
	memcpy(h + F_UID, num6, 8);
	memcpy(h + F_GID, num6, 8);
	memset(h + F_SIZE, '0', 11);
	h[F_SIZE + 11] = ' ';
	memset(h + F_MTIME, '0', 11);
	h[F_MTIME + 11] = ' ';
	memset(h + F_CHKSUM, ' ', 8);
	memcpy(h + F_MAGIC, "ustar\0" "00", 8);
	memcpy(h + F_DEVMAJOR, num6, 8);
	memcpy(h + F_DEVMINOR, num6, 8);
}

/* The ustar name fields: the whole name when it fits in 100 bytes, else a
 * prefix (at most 155 bytes, not empty) and a name split at the first '/'
 * that leaves at most 100 bytes after it. -1 when no such split exists. */
static int put_name(unsigned char h[TAR_BLOCK], const char *name, size_t len)
{
	const char *cut;

	if (len <= NAME_LEN) {
		memcpy(h + F_NAME, name, len);
		return 0;
	}
	cut = memchr(name + len - NAME_LEN - 1, '/', NAME_LEN + 1);
	if (cut == name)
		cut = memchr(cut + 1, '/', len - 1);
	if (!cut || cut + 1 == name + len || cut - name > PREFIX_LEN)
		return -1;
	memcpy(h + F_PREFIX, name, (size_t)(cut - name));
	memcpy(h + F_NAME, cut + 1, len - (size_t)(cut - name) - 1);
	return 0;
}

static void put_checksum(unsigned char h[TAR_BLOCK])
{
	unsigned int sum = 0;
	int i;

	for (i = 0; i < TAR_BLOCK; i++)
		sum += h[i];
	put_octal(h + F_CHKSUM, 6, sum);
	h[F_CHKSUM + 6] = '\0';
}

/* A name that fits ustar, made from one that does not, keeping as much of
 * its directories and file name as fit, with `insert` (if any) as a
 * directory just above the file name: libarchive's build_ustar_entry_name,
 * which names both the truncated main header and the 'x' header
 * ("dir/PaxHeader/file"). Its limits in 3.6.2 are one byte short of
 * ustar's (98 for the name field's part, 154 for the prefix; later
 * releases changed them): they are what bundles were written with, so
 * they stay. dest holds at least TAR_USTAR_NAME_MAX + 1. */
static void ustar_fit_name(char *dest, const char *src, size_t len, const char *insert)
{
	size_t room = NAME_LEN - 2, ins = insert ? strlen(insert) + 2 : 0, file, end = len, pre, mid, n;
	int slash = 0;

	if (len < NAME_LEN && !insert) {
		memcpy(dest, src, len);
		dest[len] = '\0';
		return;
	}
	/* trailing '/' and '/.' go, and one '/' comes back at the end */
	for (;;) {
		if (end > 0 && src[end - 1] == '/') {
			end--;
			slash = 1;
		} else if (end > 1 && src[end - 1] == '.' && src[end - 2] == '/') {
			end -= 2;
			slash = 1;
		} else {
			break;
		}
	}
	if (slash)
		room--;
	/* the file name: after the last '/', cut to what fits */
	file = end ? end - 1 : 0;
	while (file > 0 && src[file] != '/')
		file--;
	if (src[file] == '/' && file + 1 < end)
		file++;
	room -= ins;
	if (end > file + room)
		end = file + room;
	room -= end - file;
	/* the directories: a prefix of at most 155 bytes ending at a '/', then
	 * as many more as fit in the name field beside the file name */
	pre = file < PREFIX_LEN - 1 ? file : PREFIX_LEN - 1;
	while (pre > 0 && src[pre] != '/')
		pre--;
	if (pre < file && src[pre] == '/')
		pre++;
	mid = pre + room < file ? pre + room : file;
	while (mid > pre && src[mid] != '/')
		mid--;
	if (mid < file && src[mid] == '/')
		mid++;
	n = mid;
	memcpy(dest, src, n);
	if (insert) {
		memcpy(dest + n, insert, ins - 2);
		n += ins - 2;
		dest[n++] = '/';
	}
	memcpy(dest + n, src + file, end - file);
	n += end - file;
	if (slash)
		dest[n++] = '/';
	dest[n] = '\0';
}

/* libarchive's build_pax_attribute_name for a non-empty name. */
static void pax_header_name(char *dest, const char *src)
{
	size_t len = strlen(src);

	for (;;) {
		if (len && src[len - 1] == '/')
			len--;
		else if (len > 1 && src[len - 1] == '.' && src[len - 2] == '/')
			len--;
		else
			break;
	}
	if (!len)
		snprintf(dest, TAR_USTAR_NAME_MAX + 1, "/PaxHeader/rootdir");
	else if (len == 1 && src[0] == '.')
		snprintf(dest, TAR_USTAR_NAME_MAX + 1, "PaxHeader/currentdir");
	else
		ustar_fit_name(dest, src, len, "PaxHeader");
}

/* One pax record, "LEN KEY=VALUE\n", LEN counting its own digits. */
static int pax_record(struct buf *pax, const char *key, const char *value)
{
	size_t len = strlen(key) + strlen(value) + 3, digits = 0, ten = 1, i;

	for (i = len; i; i /= 10) {
		digits++;
		ten *= 10;
	}
	if (len + digits >= ten)
		digits++;
	return buf_printf(pax, "%zu %s=%s\n", len + digits, key, value);
}

int tar_format_file(struct buf *out, const char *path, unsigned long long size, long long mtime)
{
	unsigned char h[TAR_BLOCK], x[TAR_BLOCK];
	char ustar_name[TAR_USTAR_NAME_MAX + 1], xname[TAR_USTAR_NAME_MAX + 1];
	size_t len = strlen(path), i;
	struct buf pax = BUF_INIT;
	const char *name = path;
	int rc = -1;

	if (!len) {
		cairn_error_set("a member without a name");
		return -1;
	}
	for (i = 0; i < len; i++)
		if ((unsigned char)path[i] >= 0x80) {
			cairn_error_set("member '%s': a name that is not ASCII (a bundle's names are "
					"ASCII)", path);
			return -1;
		}
	ustar_template(h);
	if (put_name(h, path, len) < 0) {
		if (pax_record(&pax, "path", path) < 0)
			goto out;
		ustar_fit_name(ustar_name, path, len, NULL);
		name = ustar_name;
		memset(h + F_NAME, 0, NAME_LEN);
		memset(h + F_PREFIX, 0, PREFIX_LEN);
		put_name(h, name, strlen(name));
	}
	/* records in libarchive 3.6.2's order: path, mtime, size. A time
	 * ustar holds but signed 32-bit readers would not goes to the pax
	 * header too, and makes one if nothing else did. */
	if (mtime < 0 || mtime >= 0x7fffffff) {
		char v[24];

		snprintf(v, sizeof(v), "%lld", mtime);
		if (pax_record(&pax, "mtime", v) < 0)
			goto out;
	}
	if (size >= (1ULL << 33)) {
		char v[24];

		snprintf(v, sizeof(v), "%llu", size);
		if (pax_record(&pax, "size", v) < 0)
			goto out;
	}
	put_octal(h + F_MODE, 6, 0644);
	put_number(h + F_SIZE, 11, 12, (long long)(size > INT64_MAX ? INT64_MAX : size));
	put_number(h + F_MTIME, 11, 11, mtime);
	h[F_TYPE] = '0';
	put_checksum(h);
	if (pax.len) {
		ustar_template(x);
		pax_header_name(xname, name);
		if (put_name(x, xname, strlen(xname)) < 0) {
			cairn_error_set("member '%s': no pax header name fits", path);
			goto out;
		}
		put_octal(x + F_MODE, 6, 0644);
		put_octal(x + F_SIZE, 11, pax.len);
		put_octal(x + F_MTIME, 11,
			  (unsigned long long)(mtime < 0 ? 0 : mtime >= 0x7fffffff ? 0x7fffffff : mtime));
		x[F_TYPE] = 'x';
		put_checksum(x);
		if (buf_put(out, x, TAR_BLOCK) < 0 || buf_put(out, pax.ptr, pax.len) < 0)
			goto out;
		memset(x, 0, TAR_BLOCK);
		if (buf_put(out, x, (TAR_BLOCK - pax.len % TAR_BLOCK) % TAR_BLOCK) < 0)
			goto out;
	}
	if (buf_put(out, h, TAR_BLOCK) < 0)
		goto out;
	rc = 0;
out:
	buf_release(&pax);
	return rc;
}

/* The reader. */

int tar_number(const unsigned char *field, size_t len, unsigned long long *out)
{
	unsigned long long v = 0;
	size_t i = 0;

	if (len && field[0] == 0x80) {
		/* base-256, positive: the top 63 bits must fit */
		for (i = 1; i < len; i++) {
			if (v >> 55)
				return -1;
			v = v << 8 | field[i];
		}
		if (v > INT64_MAX)
			return -1;
		*out = v;
		return 0;
	}
	while (i < len && field[i] == ' ')
		i++;
	if (i == len || field[i] < '0' || field[i] > '7')
		return -1;
	for (; i < len && field[i] >= '0' && field[i] <= '7'; i++) {
		if (v >> 60)
			return -1;
		v = v << 3 | (unsigned)(field[i] - '0');
	}
	for (; i < len; i++)
		if (field[i] != ' ' && field[i] != '\0')
			return -1;
	if (v > INT64_MAX)
		return -1;
	*out = v;
	return 0;
}

/* A text field: its bytes up to the first NUL, or all of them. */
static size_t field_len(const unsigned char *f, size_t size)
{
	const unsigned char *nul = memchr(f, 0, size);

	return nul ? (size_t)(nul - f) : size;
}

int tar_header_parse(const unsigned char h[TAR_BLOCK], struct tar_header *out, const char **why)
{
	unsigned long long want;
	unsigned int usum = 0;
	size_t nl, pl;
	int i;

	memset(out, 0, sizeof(*out));
	/* a plain loop over the whole block (the compiler vectorizes it), then
	 * the checksum field counted as the eight spaces it held when summed */
	for (i = 0; i < TAR_BLOCK; i++)
		usum += h[i];
	if (!usum)
		return 0;
	for (i = F_CHKSUM; i < F_CHKSUM + 8; i++)
		usum += (unsigned int)' ' - h[i];
	if (tar_number(h + F_CHKSUM, 8, &want) < 0) {
		*why = "tar header checksum is not a number";
		return -1;
	}
	if (want != usum) {
		/* old tars summed signed chars */
		int ssum = 0;

		for (i = 0; i < TAR_BLOCK; i++)
			ssum += i >= F_CHKSUM && i < F_CHKSUM + 8 ? ' ' : (signed char)h[i];
		if (ssum < 0 || want != (unsigned int)ssum) {
			*why = "tar header checksum mismatch";
			return -1;
		}
	}
	if (memcmp(h + F_MAGIC, "ustar\0" "00", 8)) {
		/* a sound header of another format: GNU tar's by default, v7 */
		*why = !memcmp(h + F_MAGIC, "ustar  \0", 8) ? "a GNU tar header, not POSIX ustar"
							     : "not a POSIX ustar header";
		return -2;
	}
	out->type = h[F_TYPE];
	out->has_linkname = h[F_LINKNAME] != 0;
	out->size_field = h + F_SIZE;
	nl = field_len(h + F_NAME, NAME_LEN);
	pl = field_len(h + F_PREFIX, PREFIX_LEN);
	if (pl) {
		memcpy(out->name, h + F_PREFIX, pl);
		out->name[pl++] = '/';
	}
	memcpy(out->name + pl, h + F_NAME, nl);
	out->name[pl + nl] = '\0';
	return 1;
}

void tar_pax_release(struct tar_pax *p)
{
	if (!p)
		return;
	free(p->path);
	memset(p, 0, sizeof(*p));
}

static int pax_decimal(const char *s, size_t len, unsigned long long *out)
{
	unsigned long long v = 0;
	size_t i;

	if (!len || len > 19 || (s[0] == '0' && len > 1))
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v > INT64_MAX)
		return -1;
	*out = v;
	return 0;
}

int tar_pax_parse(const char *data, size_t len, struct tar_pax *out, const char **why)
{
	size_t off = 0;

	memset(out, 0, sizeof(*out));
	while (off < len) {
		const char *rec = data + off, *sp, *eq, *val;
		unsigned long long rlen;
		size_t klen, vlen;

		sp = memchr(rec, ' ', len - off < 20 ? len - off : 20);
		/* at the least "LEN k=\n" */
		if (!sp || pax_decimal(rec, (size_t)(sp - rec), &rlen) < 0 || rlen > len - off ||
		    rlen < (size_t)(sp - rec) + 4 || rec[rlen - 1] != '\n') {
			*why = "malformed pax record";
			goto fail;
		}
		eq = memchr(sp + 1, '=', (size_t)(rec + rlen - 1 - (sp + 1)));
		if (!eq || eq == sp + 1 || memchr(sp + 1, '\0', (size_t)(eq - sp - 1))) {
			*why = "malformed pax record";
			goto fail;
		}
		klen = (size_t)(eq - sp - 1);
		val = eq + 1;
		vlen = (size_t)(rec + rlen - 1 - val);
#define KEY_IS(k) (klen == sizeof(k) - 1 && !memcmp(sp + 1, k, klen))
		if (KEY_IS("path")) {
			if (!vlen || memchr(val, '\0', vlen)) {
				*why = "pax path empty or with a NUL byte";
				goto fail;
			}
			free(out->path);
			out->path = xstrndup(val, vlen);
		} else if (KEY_IS("size")) {
			if (pax_decimal(val, vlen, &out->size) < 0) {
				*why = "pax size is not a decimal number";
				goto fail;
			}
			out->has_size = 1;
		} else if (KEY_IS("linkpath")) {
			out->linkpath = 1;
		} else if (klen >= 11 && !memcmp(sp + 1, "GNU.sparse.", 11)) {
			out->sparse = 1;
		}
#undef KEY_IS
		off += rlen;
	}
	return 0;
fail:
	tar_pax_release(out);
	return -1;
}
