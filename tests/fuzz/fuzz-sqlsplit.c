/* Fuzz target: the PostgreSQL statement split (lib/sqlsplit.c, on
 * PostgreSQL's parser) and the error-position mapping; its corpus is the one
 * of the lexer it replaced (drivers/pgsplit.c), kept as a regression corpus.
 * Checks the split's invariants, not only that it returns: a script the
 * parser refused is one statement;
 * statements are in order, inside the input, never overlap, start on a
 * token (not a blank), carry the right line, and mapping any position in a
 * statement lands on a line within the statement's lines. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/sqlsplit.h"
#include "../../lib/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *sql = (const char *)data;
	struct sqlsplit s = SQLSPLIT_INIT;
	size_t i, prev_end = 0;

	if (sqlsplit_pg(&s, sql, size) == 0 && s.whole && s.n > 1)
		abort();
	for (i = 0; i < s.n; i++) {
		const struct sqlsplit_stmt *st = &s.stmts[i];
		int first, last, line, col;
		long p;

		if (st->offset < prev_end || st->len == 0 || st->offset + st->len > size)
			abort();
		if (strchr(" \t\r\n\f\v", sql[st->offset]))
			abort();
		first = line_of_offset(sql, size, st->offset);
		if (st->line != first)
			abort();
		/* one past the end ("at end of input") may follow a whole
		 * script's final newline */
		last = line_of_offset(sql, size, st->offset + st->len);
		for (p = 1; p <= (long)st->len + 1 && p <= 64; p++) {
			if (sqlsplit_locate(sql, size, st->offset, st->len, p, &line, &col) < 0)
				break;
			if (line < first || line > last || col < 1)
				abort();
		}
		if (sqlsplit_locate(sql, size, st->offset, st->len, 1, &line, &col) != 0 ||
		    line != first)
			abort();
		prev_end = st->offset + st->len;
	}
	sqlsplit_release(&s);
	return 0;
}
