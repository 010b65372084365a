/* PostgreSQL scripts split by PostgreSQL's parser (sqlsplit.h). */
#include "sqlsplit.h"

#include <ctype.h>
#include <pg_query.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "util.h"

static int is_blank(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* Past blanks and comments (-- to the line's end, nested block comments)
 * from i: the parser's statement location is just after the previous ';'. */
static size_t skip_blank(const char *s, size_t len, size_t i)
{
	while (i < len) {
		if (is_blank((unsigned char)s[i])) {
			i++;
		} else if (s[i] == '-' && i + 1 < len && s[i + 1] == '-') {
			while (i < len && s[i] != '\n')
				i++;
		} else if (s[i] == '/' && i + 1 < len && s[i + 1] == '*') {
			int depth = 0;

			while (i < len) {
				if (s[i] == '/' && i + 1 < len && s[i + 1] == '*') {
					depth++;
					i += 2;
				} else if (s[i] == '*' && i + 1 < len && s[i + 1] == '/') {
					i += 2;
					if (--depth == 0)
						break;
				} else {
					i++;
				}
			}
		} else {
			break;
		}
	}
	return i;
}

static void emit(struct sqlsplit *out, const char *sql, size_t start, size_t end,
		 size_t *line_pos, int *line, int trim)
{
	struct sqlsplit_stmt *st;

	while (trim && end > start && is_blank((unsigned char)sql[end - 1]))
		end--;
	if (end <= start)
		return;
	while (*line_pos < start) {
		if (sql[*line_pos] == '\n')
			(*line)++;
		(*line_pos)++;
	}
	ALLOC_GROW(out->stmts, out->n + 1, out->alloc);
	st = &out->stmts[out->n++];
	st->offset = start;
	st->len = end - start;
	st->line = *line;
}

/* The parser's split of text (NUL-terminated, len bytes) appended to out;
 * -1 with *err_pos (1-based characters, 0 when unknown) when it refuses. */
static int parser_split(struct sqlsplit *out, const char *text, size_t len, int *err_pos)
{
	PgQuerySplitResult r = pg_query_split_with_parser(text);
	size_t line_pos = 0;
	int i, line = 1, rc = 0;

	if (r.error) {
		*err_pos = r.error->cursorpos;
		if (snprintf(out->why, sizeof(out->why), "%s",
			     r.error->message ? r.error->message : "") >= (int)sizeof(out->why))
			memcpy(out->why + sizeof(out->why) - 4, "...", 4); /* cut short, said so */
		rc = -1;
		goto out;
	}
	for (i = 0; i < r.n_stmts; i++) {
		size_t loc = r.stmts[i]->stmt_location > 0 ? (size_t)r.stmts[i]->stmt_location : 0;
		size_t slen = r.stmts[i]->stmt_len > 0 ? (size_t)r.stmts[i]->stmt_len : 0;

		if (loc > len)
			continue;
		if (!slen || slen > len - loc)
			slen = len - loc;
		emit(out, text, skip_blank(text, loc + slen, loc), loc + slen, &line_pos, &line, 1);
	}
out:
	pg_query_free_split_result(r);
	return rc;
}

/* 1 when the last statement of text[0..end) is COPY ... FROM STDIN: the
 * parser then stopped at its rows, written inline as psql dumps do. */
static int after_copy_stdin(const char *text, size_t end, int *line_out)
{
	struct sqlsplit pre = SQLSPLIT_INIT;
	char *head = xstrndup(text, end), *one = NULL;
	int err = 0, yes = 0;

	if (parser_split(&pre, head, end, &err) == 0 && pre.n > 0) {
		const struct sqlsplit_stmt *st = &pre.stmts[pre.n - 1];
		PgQueryParseResult r;

		one = xstrndup(head + st->offset, st->len);
		r = pg_query_parse(one);
		yes = !r.error && r.parse_tree && strstr(r.parse_tree, "{\"CopyStmt\":") &&
		      strstr(r.parse_tree, "\"is_from\":true") && !strstr(r.parse_tree, "\"filename\":");
		pg_query_free_parse_result(r);
		*line_out = st->line;
	}
	sqlsplit_release(&pre);
	free(one);
	free(head);
	return yes;
}

/* The parser refused text at character err_pos: refuse what is not SQL,
 * else the whole script is one statement for the server to judge. */
static int refused(struct sqlsplit *out, const char *text, size_t len, int err_pos)
{
	size_t off = len, start, lpos = 0;
	int line = 1;

	if (err_pos > 0 && sqlsplit_position_offset(text, len, 0, len, err_pos, &off) == 0 &&
	    off < len) {
		size_t bol = off, end = off;

		while (bol > 0 && (text[bol - 1] == ' ' || text[bol - 1] == '\t'))
			bol--;
		if (text[off] == '\\' && (bol == 0 || text[bol - 1] == '\n')) {
			while (end < len && text[end] != '\n' && !is_blank((unsigned char)text[end]))
				end++;
			cairn_error_set("line %d: '%.*s' is a psql meta-command, not SQL: cairn sends "
					"each statement to the server, without psql; write it in SQL "
					"(\\i: make it a migration of its own; \\set: a literal)",
					line_of_offset(text, len, off), (int)(end - off > 40 ? 40 : end - off),
					text + off);
			return -1;
		}
		if (after_copy_stdin(text, off, &line)) {
			cairn_error_set("line %d: COPY ... FROM STDIN with its rows inline is psql's "
					"format, not SQL: put the rows in the migration's data/ "
					"directory and load them with COPY ... FROM 'data/FILE'",
					line);
			return -1;
		}
	}
	/* blanks only are skipped: a comment left open is the server's to
	 * report, and "at end of input" is after the script's last newline */
	for (start = 0; start < len && is_blank((unsigned char)text[start]); start++)
		;
	line = 1;
	emit(out, text, start, len, &lpos, &line, 0);
	out->whole = 1;
	out->err_offset = off < len ? off : len;
	return 0;
}

int sqlsplit_pg(struct sqlsplit *out, const char *sql, size_t len)
{
	const char *nul = memchr(sql, '\0', len);
	char *text;
	int err_pos = 0, rc;

	if (nul) {
		cairn_error_set("line %d: NUL byte in the script",
				line_of_offset(sql, len, (size_t)(nul - sql)));
		return -1;
	}
	text = xstrndup(sql, len);
	rc = parser_split(out, text, len, &err_pos);
	if (rc < 0)
		rc = refused(out, text, len, err_pos);
	free(text);
	return rc;
}

void sqlsplit_release(struct sqlsplit *s)
{
	if (!s)
		return;
	free(s->stmts);
	s->stmts = NULL;
	s->n = s->alloc = 0;
	s->whole = 0;
	s->err_offset = 0;
	s->why[0] = '\0';
}

static int utf8_lead(unsigned char c)
{
	return (c & 0xC0) != 0x80;
}

int sqlsplit_position_offset(const char *sql, size_t len, size_t base, size_t sent_len,
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

int sqlsplit_locate(const char *sql, size_t len, size_t base, size_t sent_len, long position,
		    int *line_out, int *col_out)
{
	size_t i, target = 0;
	int line = 1, col = 1;

	if (sqlsplit_position_offset(sql, len, base, sent_len, position, &target) < 0)
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

size_t sql_skip_quoted(const char *s, size_t len, size_t i, char close)
{
	for (i++; i < len; i++) {
		if (s[i] == close) {
			if (close != ']' && i + 1 < len && s[i + 1] == close) {
				i++; /* '' inside '...' */
				continue;
			}
			return i + 1;
		}
	}
	return len;
}

size_t sql_skip_blank(const char *s, size_t len, size_t i, int nest)
{
	while (i < len) {
		if (isspace((unsigned char)s[i])) {
			i++;
		} else if (s[i] == '-' && i + 1 < len && s[i + 1] == '-') {
			while (i < len && s[i] != '\n')
				i++;
		} else if (s[i] == '/' && i + 1 < len && s[i + 1] == '*') {
			int depth = 1;

			i += 2;
			while (i < len && depth) {
				if (s[i] == '*' && i + 1 < len && s[i + 1] == '/')
					depth--, i += 2;
				else if (nest && s[i] == '/' && i + 1 < len && s[i + 1] == '*')
					depth++, i += 2;
				else
					i++;
			}
		} else {
			break;
		}
	}
	return i;
}
