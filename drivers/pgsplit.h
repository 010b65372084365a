/* Splitting a PostgreSQL script into statements, the way psql does, for
 * migrations that run outside a transaction: a multi-statement string sent
 * in one call runs in an implicit transaction, where CREATE INDEX
 * CONCURRENTLY, VACUUM or ALTER TYPE ... ADD VALUE fail.
 *
 * The lexer knows what can hide a ';': '' strings (with '' escapes), E''
 * strings (backslash escapes), "" identifiers, $$ and $tag$ dollar quotes,
 * -- comments, nested block comments, parentheses, and the BEGIN ATOMIC ...
 * END body of a SQL-standard CREATE FUNCTION/PROCEDURE (psql's heuristic).
 * It never needs the server, and works on bytes: UTF-8 passes through. */
#ifndef CAIRN_PGSPLIT_H
#define CAIRN_PGSPLIT_H

#include <stddef.h>

struct pgsplit_stmt {
	size_t offset; /* byte offset in the script of the statement's first token */
	size_t len;    /* bytes up to, not including, the ';' (or the end) */
	int line;      /* 1-based line of offset */
};

struct pgsplit {
	struct pgsplit_stmt *stmts;
	size_t n, alloc;
};

#define PGSPLIT_INIT { NULL, 0, 0 }

/* Splits sql[0..len) into out (appending). Statements holding only
 * comments and blanks are left out. Returns 0, or -1 with the error set to
 * "line N: unterminated ..." when a string, quoted identifier, dollar quote
 * or comment runs to the end of the script; out then holds the statements
 * before it. A NUL byte is refused the same way (libpq cannot send it). */
int pgsplit(struct pgsplit *out, const char *sql, size_t len);
void pgsplit_release(struct pgsplit *s);

/* Maps a server error position (PG_DIAG_STATEMENT_POSITION: 1-based, in
 * characters, not bytes, of the text sent) in the text sent, which is
 * sql[base .. base + sent_len), to a 1-based line and column (characters)
 * in sql. Returns 0, or -1 when the position lies outside the text. */
int pgsplit_locate(const char *sql, size_t len, size_t base, size_t sent_len, long position,
		   int *line_out, int *col_out);
/* The same position as a byte offset into sql (driver_error.offset). */
int pgsplit_position_offset(const char *sql, size_t len, size_t base, size_t sent_len,
			    long position, size_t *off_out);

#endif
