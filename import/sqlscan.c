/* The importer's questions about SQL, answered by the project's SQL
 * analysis (project/sqlcheck.c: PostgreSQL's own parser through
 * libpg_query, and a lexer for SQLite and what the parser refuses), so a
 * script is read the same way by cairn import and by cairn check. */
#include <stdio.h>
#include <string.h>

#include "../project/sqlcheck.h"
#include "import-int.h"

enum sql_dialect import_file_dialect(const char *name)
{
	return strstr(name, ".sqlite.") ? SQL_SQLITE : SQL_POSTGRES;
}

static int is_begin(const char *what)
{
	return !strcmp(what, "BEGIN") || !strcmp(what, "START TRANSACTION");
}

static int is_commit(const char *what)
{
	return !strcmp(what, "COMMIT") || !strcmp(what, "END");
}

int sql_wrapped(const char *s, size_t len, enum sql_dialect d, size_t *begin_start,
		size_t *begin_end, size_t *commit_start, size_t *commit_end)
{
	struct sql_items items = SQL_ITEMS_INIT;
	const struct sql_item *first = NULL, *last = NULL;
	size_t i, ntx = 0;
	int wrapped;

	sqlcheck_scan(&items, s, len, d);
	for (i = 0; i < items.n; i++) {
		if (items.items[i].kind != SQL_TX_CONTROL)
			continue;
		if (!ntx++)
			first = &items.items[i];
		last = &items.items[i];
	}
	/* exactly two: BEGIN as the first statement, COMMIT as the last */
	wrapped = ntx == 2 && items.nstmts >= 2 && first->stmt == 0 && is_begin(first->what) &&
		  last->stmt == items.nstmts - 1 && is_commit(last->what);
	if (wrapped) {
		*begin_start = first->start;
		*begin_end = first->end;
		*commit_start = last->start;
		*commit_end = last->end;
	}
	sql_items_release(&items);
	return wrapped;
}

int sql_notx_statement(const char *s, size_t len, enum sql_dialect d, char what[40])
{
	struct sql_items items = SQL_ITEMS_INIT;
	size_t i;
	int found = 0;

	sqlcheck_scan(&items, s, len, d);
	for (i = 0; i < items.n && !found; i++)
		if (items.items[i].kind == SQL_NO_TX) {
			if ((size_t)snprintf(what, 40, "%s", items.items[i].what) >= 40)
				what[39] = '\0'; /* both are 40 bytes: never cut */
			found = 1;
		}
	sql_items_release(&items);
	return found;
}

int sql_only_comments(const char *s, size_t len)
{
	return sql_skip_blank(s, len, 0, 1) >= len;
}
