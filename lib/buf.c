#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "error.h"

static char empty_buf[1];

void buf_init(struct buf *b, size_t cap)
{
	b->ptr = NULL;
	b->len = 0;
	b->alloc = 0;
	b->cap = cap;
}

void buf_release(struct buf *b)
{
	if (!b)
		return;
	free(b->ptr);
	b->ptr = NULL;
	b->len = 0;
	b->alloc = 0;
}

char *buf_detach(struct buf *b, size_t *len_out)
{
	char *p = b->ptr ? b->ptr : xstrdup("");

	if (len_out)
		*len_out = b->len;
	b->ptr = NULL;
	b->len = 0;
	b->alloc = 0;
	return p;
}

void buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->ptr)
		b->ptr[0] = '\0';
}

/* Room for extra more bytes and the NUL: doubling (amortised appends), or
 * exactly that much when the caller knows the final size. */
static int buf_room(struct buf *b, size_t extra, int exact)
{
	size_t need;

	if (extra > (size_t)-1 - b->len - 1 ||
	    (b->cap && b->len + extra > b->cap)) {
		cairn_error_set("too big: more than %zu bytes", b->cap);
		return -1;
	}
	need = b->len + extra + 1;
	if (need > b->alloc) {
		size_t n = exact ? need : b->alloc < 64 ? 64 : b->alloc;

		while (n < need)
			n = n > (size_t)-1 / 2 ? need : n * 2;
		b->ptr = xrealloc(b->ptr, n);
		b->alloc = n;
	}
	return 0;
}

static int buf_grow(struct buf *b, size_t extra)
{
	return buf_room(b, extra, 0);
}

int buf_reserve(struct buf *b, size_t n)
{
	return buf_room(b, n, 1);
}

int buf_put(struct buf *b, const void *data, size_t len)
{
	if (buf_grow(b, len) < 0)
		return -1;
	if (len)
		memcpy(b->ptr + b->len, data, len);
	b->len += len;
	b->ptr[b->len] = '\0';
	return 0;
}

int buf_puts(struct buf *b, const char *s)
{
	return buf_put(b, s, strlen(s));
}

int buf_putc(struct buf *b, char c)
{
	return buf_put(b, &c, 1);
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		cairn_error_set("cannot format message");
		return -1;
	}
	if (buf_grow(b, (size_t)n) < 0)
		return -1;
	va_start(ap, fmt);
	(void)vsnprintf(b->ptr + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

int buf_put_quoted(struct buf *b, const char *s, int yaml)
{
	const unsigned char *p = (const unsigned char *)s;

	if (buf_putc(b, '"') < 0)
		return -1;
	for (; *p; p++) {
		int rc;

		switch (*p) {
		case '"': rc = buf_puts(b, "\\\""); break;
		case '\\': rc = buf_puts(b, "\\\\"); break;
		case '\n': rc = buf_puts(b, "\\n"); break;
		case '\r': rc = buf_puts(b, "\\r"); break;
		case '\t': rc = buf_puts(b, "\\t"); break;
		default:
			if (yaml && (*p < 0x20 || *p == 0x7f))
				rc = buf_printf(b, "\\x%02x", *p);
			else if (*p < 0x20)
				rc = buf_printf(b, "\\u%04x", *p);
			else
				rc = buf_putc(b, (char)*p);
		}
		if (rc < 0)
			return -1;
	}
	return buf_putc(b, '"');
}

int buf_put_json_string(struct buf *b, const char *s)
{
	return buf_put_quoted(b, s, 0);
}

const char *buf_cstr(const struct buf *b)
{
	return b->ptr ? b->ptr : empty_buf;
}

int buf_put_sql_literal(struct buf *b, const char *s)
{
	int rc = buf_puts(b, "E'");

	for (; *s && !rc; s++) {
		if (*s == '\'' || *s == '\\')
			rc = buf_putc(b, *s);
		if (!rc)
			rc = buf_putc(b, *s);
	}
	return rc ? rc : buf_putc(b, '\'');
}
