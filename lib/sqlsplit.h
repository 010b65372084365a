/* A PostgreSQL script split into statements by PostgreSQL's own parser
 * (libpg_query's pg_query_split_with_parser), for the applier, which runs a
 * migration statement by statement and checks the session's transaction
 * state after each (issue #16), and for the checker, so that both split
 * identically (issue #18). It replaces drivers/pgsplit.c, a lexer of our
 * own that guessed at BEGIN ATOMIC bodies.
 *
 * When the parser refuses the script, nothing is guessed: a psql
 * meta-command (\connect, \i, \set...) or a COPY ... FROM STDIN with its
 * rows inline (psql's dump format) is refused with its line, since neither
 * is SQL; anything else (a syntax error, or syntax newer than the parser's
 * PostgreSQL version) becomes one statement holding the whole script
 * (whole = 1), sent in one message: the server parses a message entirely
 * before running any of it, so a syntax error runs nothing and is reported
 * by the server at its own position. libpg_query's scanner split is not
 * used: it drops statements that start with an identifier ("SELEC 1;"),
 * which a runner must never do. */
#ifndef CAIRN_SQLSPLIT_H
#define CAIRN_SQLSPLIT_H

#include <stddef.h>

struct sqlsplit_stmt {
	size_t offset; /* byte offset in the script of the statement's first token */
	size_t len;    /* bytes up to, not including, the ';' (or the end), trailing blanks left out */
	int line;      /* 1-based line of offset */
};

struct sqlsplit {
	struct sqlsplit_stmt *stmts;
	size_t n, alloc;
	int whole;     /* the parser refused the script: one statement, the whole of it */
	/* whole: the byte where the parser stopped (len when it did not
	 * say) and its message ("syntax error at or near ...") */
	size_t err_offset;
	char why[128];
};

#define SQLSPLIT_INIT { NULL, 0, 0, 0, 0, "" }

/* Splits sql[0..len) into out (appending). Statements holding only
 * comments and blanks are left out. Returns 0, or -1 with the error set to
 * "line N: ..." for a NUL byte, a psql meta-command or inline COPY rows. */
int sqlsplit_pg(struct sqlsplit *out, const char *sql, size_t len);
void sqlsplit_release(struct sqlsplit *s);

/* Maps a server error position (PG_DIAG_STATEMENT_POSITION: 1-based, in
 * characters, not bytes, of the text sent) in the text sent, which is
 * sql[base .. base + sent_len), to a 1-based line and column (characters)
 * in sql. Returns 0, or -1 when the position lies outside the text. */
int sqlsplit_locate(const char *sql, size_t len, size_t base, size_t sent_len, long position,
		    int *line_out, int *col_out);
/* The same position as a byte offset into sql (driver_error.offset). */
int sqlsplit_position_offset(const char *sql, size_t len, size_t base, size_t sent_len,
			     long position, size_t *off_out);

/* The offset past white space and comments from i on; nest: block
 * comments nest (PostgreSQL's do, SQLite's do not). */
size_t sql_skip_blank(const char *s, size_t len, size_t i, int nest);
/* The offset past the quoted run that starts at s[i] (a quote character;
 * close: the one that ends it, ']' for '['): a doubled close inside
 * ('', "", ``) is part of the run. len when it never closes. PostgreSQL's
 * dollar quotes are the caller's. */
size_t sql_skip_quoted(const char *s, size_t len, size_t i, char close);

#endif
