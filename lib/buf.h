/* A growable byte buffer with an optional size cap (curl's dynbuf): anything
 * read from a bundle, a YAML file or a blob goes through one, so a hostile
 * input cannot make us allocate without bound. Always NUL-terminated. */
#ifndef CAIRN_BUF_H
#define CAIRN_BUF_H

#include <stddef.h>

struct buf {
	char *ptr;
	size_t len;
	size_t alloc;
	size_t cap; /* 0 = no cap */
};

#define BUF_INIT { NULL, 0, 0, 0 }

void buf_init(struct buf *b, size_t cap);
void buf_release(struct buf *b);       /* frees, back to BUF_INIT (cap kept) */
char *buf_detach(struct buf *b, size_t *len_out);
void buf_reset(struct buf *b);         /* len = 0, memory kept */

/* These return 0, or -1 (error set: "too big") when the cap would be passed. */
/* Room for n more bytes at once, when the size is known up front. */
int buf_reserve(struct buf *b, size_t n);
int buf_put(struct buf *b, const void *data, size_t len);
int buf_puts(struct buf *b, const char *s);
int buf_putc(struct buf *b, char c);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The contents as a C string; "" for a buffer never written. */
const char *buf_cstr(const struct buf *b);

/* Appends s between double quotes, with quote, backslash, newline, CR and
 * tab escaped, and other control characters as JSON writes them (\u00XX)
 * or, yaml, as a YAML double-quoted scalar does (\xXX, DEL as well). */
int buf_put_quoted(struct buf *b, const char *s, int yaml);
/* Appends s as a JSON string literal, quotes included. */
int buf_put_json_string(struct buf *b, const char *s);
/* Appends s as a PostgreSQL E'' string literal (quote and backslash
 * doubled): read the same whatever standard_conforming_strings says. */
int buf_put_sql_literal(struct buf *b, const char *s);

#endif
