#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/error.h"
#include "tar-check.h"

/* ustar field offsets and sizes (POSIX pax, "ustar Interchange Format") */
#define F_NAME 0
#define F_SIZE 124
#define F_CHKSUM 148
#define F_TYPE 156
#define F_LINKNAME 157
#define F_MAGIC 257
#define F_VERSION 263
#define F_PREFIX 345
#define NAME_LEN 100
#define PREFIX_LEN 155

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
