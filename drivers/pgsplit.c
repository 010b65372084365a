/* A PostgreSQL statement splitter: the subset of the server's lexer (scan.l)
 * and psql's (psqlscan.l) that decides where a statement ends. */
#include "pgsplit.h"

#include <stdlib.h>
#include <string.h>

#include "../lib/error.h"

/* scan.l: ident_start [A-Za-z\200-\377_], ident_cont adds [0-9\$];
 * a dollar-quote tag is like an identifier without '$'. */
static int ident_start(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' || c >= 0x80;
}

static int tag_cont(unsigned char c)
{
	return ident_start(c) || (c >= '0' && c <= '9');
}

static int ident_cont(unsigned char c)
{
	return tag_cont(c) || c == '$';
}

static int is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

struct lexer {
	const char *s;
	size_t len;
	size_t line_pos; /* lines counted up to here */
	int line;
};

static int line_at(struct lexer *lx, size_t off)
{
	while (lx->line_pos < off) {
		if (lx->s[lx->line_pos] == '\n')
			lx->line++;
		lx->line_pos++;
	}
	return lx->line;
}

static int unterminated(struct lexer *lx, size_t start, const char *what)
{
	cairn_error_set("line %d: unterminated %s", line_at(lx, start), what);
	return -1;
}

/* The length of the dollar-quote delimiter ($$ or $tag$) at s[i], or 0. */
static size_t dollar_delim(const char *s, size_t len, size_t i)
{
	size_t j = i + 1;

	if (j < len && s[j] == '$')
		return 2;
	if (j >= len || !ident_start((unsigned char)s[j]))
		return 0;
	while (j < len && tag_cont((unsigned char)s[j]))
		j++;
	if (j < len && s[j] == '$')
		return j + 1 - i;
	return 0;
}

static int word_is(const char *w, size_t n, const char *kw)
{
	size_t i;

	if (strlen(kw) != n)
		return 0;
	for (i = 0; i < n; i++) {
		char c = w[i];

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c != kw[i])
			return 0;
	}
	return 1;
}

static void emit(struct pgsplit *out, struct lexer *lx, size_t start, size_t end)
{
	struct pgsplit_stmt *st;

	ALLOC_GROW(out->stmts, out->n + 1, out->alloc);
	st = &out->stmts[out->n++];
	st->offset = start;
	st->len = end - start;
	st->line = line_at(lx, start);
}

/* Past a block comment (they nest) starting at tok. */
static int skip_block_comment(struct lexer *lx, size_t tok, size_t *ip)
{
	const char *sql = lx->s;
	size_t len = lx->len, i = *ip;
	int depth = 1;

	i += 2;
	while (depth > 0) {
		if (i + 1 >= len)
			return unterminated(lx, tok, "block comment");
		if (sql[i] == '/' && sql[i + 1] == '*') {
			depth++;
			i += 2;
		} else if (sql[i] == '*' && sql[i + 1] == '/') {
			depth--;
			i += 2;
		} else {
			i++;
		}
	}
	*ip = i;
	return 0;
}

/* Past a string quoted by q ('' or "", the quote doubled inside) starting
 * at tok; esc: an E'' string, where a backslash escapes the next byte. */
static int skip_quoted(struct lexer *lx, size_t tok, size_t *ip, char q, int esc,
		       const char *what)
{
	const char *sql = lx->s;
	size_t len = lx->len, i = *ip;

	i++;
	for (;;) {
		if (i >= len)
			return unterminated(lx, tok, what);
		if (esc && sql[i] == '\\') {
			i += 2;
		} else if (sql[i] == q) {
			if (i + 1 < len && sql[i + 1] == q) {
				i += 2;
			} else {
				i++;
				break;
			}
		} else {
			i++;
		}
	}
	*ip = i;
	return 0;
}

/* Past a '' string starting at tok. */
static int skip_string(struct lexer *lx, size_t tok, size_t *ip)
{
	const char *sql = lx->s;
	/* An E'' string when the word just before is a lone E. */
	int esc = tok >= 1 && (sql[tok - 1] == 'E' || sql[tok - 1] == 'e') &&
		  (tok < 2 || !ident_cont((unsigned char)sql[tok - 2]));

	return skip_quoted(lx, tok, ip, '\'', esc, "quoted string");
}

/* Past a $n parameter or a $tag$...$tag$ string starting at tok. */
static int skip_dollar(struct lexer *lx, size_t tok, size_t *ip)
{
	const char *sql = lx->s;
	size_t len = lx->len, i = *ip;
	size_t d = dollar_delim(sql, len, i);

	if (d == 0) {
		/* $1 parameter, or a stray '$' */
		i++;
		while (i < len && sql[i] >= '0' && sql[i] <= '9')
			i++;
	} else {
		const char *end;

		i += d;
		end = NULL;
		while (i + d <= len) {
			const char *p = memchr(sql + i, '$', len - i);

			if (!p || (size_t)(p - sql) + d > len)
				break;
			if (!memcmp(p, sql + tok, d)) {
				end = p;
				break;
			}
			i = (size_t)(p - sql) + 1;
		}
		if (!end)
			return unterminated(lx, tok, "dollar-quoted string");
		i = (size_t)(end - sql) + d;
	}
	*ip = i;
	return 0;
}

int pgsplit(struct pgsplit *out, const char *sql, size_t len)
{
	struct lexer lx = { sql, len, 0, 1 };
	size_t i = 0, start = 0, last_end = 0;
	int in_stmt = 0, paren = 0, begin_depth = 0;
	/* psql's heuristic for BEGIN ATOMIC bodies: the first letters of the
	 * statement's leading CREATE / OR / REPLACE / FUNCTION / PROCEDURE. */
	char idents[4];
	size_t nidents = 0;

	memset(idents, 0, sizeof(idents));
	while (i < len) {
		unsigned char c = (unsigned char)sql[i];
		size_t tok = i;

		if (is_space(c)) {
			i++;
			continue;
		}
		if (c == '\0')
			return unterminated(&lx, i, "statement: NUL byte in the script");
		if (c == '-' && i + 1 < len && sql[i + 1] == '-') {
			while (i < len && sql[i] != '\n')
				i++;
			continue;
		}
		if (c == '/' && i + 1 < len && sql[i + 1] == '*') {
			if (skip_block_comment(&lx, tok, &i) < 0)
				return -1;
			continue;
		}
		if (c == ';' && paren == 0 && begin_depth == 0) {
			if (in_stmt)
				emit(out, &lx, start, last_end);
			in_stmt = 0;
			nidents = 0;
			memset(idents, 0, sizeof(idents));
			i++;
			continue;
		}
		if (!in_stmt) {
			in_stmt = 1;
			start = i;
		}
		if (c == '\'') {
			if (skip_string(&lx, tok, &i) < 0)
				return -1;
		} else if (c == '"') {
			if (skip_quoted(&lx, tok, &i, '"', 0, "quoted identifier") < 0)
				return -1;
		} else if (c == '$') {
			if (skip_dollar(&lx, tok, &i) < 0)
				return -1;
		} else if (ident_start(c)) {
			while (i < len && ident_cont((unsigned char)sql[i]))
				i++;
			if (word_is(sql + tok, i - tok, "create") || word_is(sql + tok, i - tok, "or") ||
			    word_is(sql + tok, i - tok, "replace") ||
			    word_is(sql + tok, i - tok, "function") ||
			    word_is(sql + tok, i - tok, "procedure")) {
				if (nidents < sizeof(idents))
					idents[nidents] = (char)(sql[tok] | 0x20);
			}
			nidents++;
			if (idents[0] == 'c' &&
			    (idents[1] == 'f' || idents[1] == 'p' ||
			     (idents[1] == 'o' && idents[2] == 'r' &&
			      (idents[3] == 'f' || idents[3] == 'p'))) &&
			    paren == 0) {
				if (word_is(sql + tok, i - tok, "begin"))
					begin_depth++;
				else if (word_is(sql + tok, i - tok, "case") && begin_depth >= 1)
					begin_depth++;
				else if (word_is(sql + tok, i - tok, "end") && begin_depth > 0)
					begin_depth--;
			}
		} else if (c >= '0' && c <= '9') {
			while (i < len && ((sql[i] >= '0' && sql[i] <= '9') || sql[i] == '.' || sql[i] == '_'))
				i++;
		} else {
			if (c == '(')
				paren++;
			else if (c == ')' && paren > 0)
				paren--;
			i++;
		}
		last_end = i;
	}
	if (in_stmt)
		emit(out, &lx, start, last_end);
	return 0;
}

void pgsplit_release(struct pgsplit *s)
{
	if (!s)
		return;
	free(s->stmts);
	s->stmts = NULL;
	s->n = s->alloc = 0;
}

static int utf8_lead(unsigned char c)
{
	return (c & 0xC0) != 0x80;
}

int pgsplit_position_offset(const char *sql, size_t len, size_t base, size_t sent_len,
			    long position, size_t *off_out)
{
	size_t i, end;
	long chars = 0;

	if (position < 1 || base > len || sent_len > len - base)
		return -1;
	end = base + sent_len;
	/* the byte where the (position)th character starts; position may be one
	 * past the last character ("syntax error at end of input") */
	for (i = base; i <= end; i++) {
		if (i == end || utf8_lead((unsigned char)sql[i])) {
			if (++chars == position) {
				*off_out = i;
				return 0;
			}
		}
	}
	return -1;
}

int pgsplit_locate(const char *sql, size_t len, size_t base, size_t sent_len, long position,
		   int *line_out, int *col_out)
{
	size_t i, target = 0;
	int line = 1, col = 1;

	if (pgsplit_position_offset(sql, len, base, sent_len, position, &target) < 0)
		return -1;
	for (i = 0; i < target; i++) {
		if (sql[i] == '\n') {
			line++;
			col = 1;
		} else if (utf8_lead((unsigned char)sql[i])) {
			col++;
		}
	}
	if (line_out)
		*line_out = line;
	if (col_out)
		*col_out = col;
	return 0;
}
