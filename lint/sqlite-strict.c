/* Whether a table of the linter's database is STRICT (lint/sqlite.c),
 * without asking SQLite about every table.
 *
 * pragma_table_list(t) walks every table of the schema whatever t says
 * (and readies each one), so asking it at every CREATE TABLE made the
 * replay of n table-creating migrations quadratic (issue #14's build
 * benchmark). Strictness is what SQLite read in the table's schema entry
 * (sqlite_schema.sql): the word STRICT among the table options after the
 * closing parenthesis of its column list. The entry is found by name
 * through a hint, the rowid where it was last seen: one b-tree lookup,
 * and the row read there is checked to be the table's (type 'table', the
 * same name as SQLite compares names: ASCII case folded), so a stale hint
 * (a table dropped, renamed, rolled back, its rowid reused) only costs
 * the search again. Without a hint, a table just created is among the
 * last rows; else the whole schema is read once. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sqlite3.h>

#include "../lib/error.h"
#include "../lib/sqlsplit.h"
#include "../lib/util.h"
#include "lint-int.h"

struct sq_hint {
	char *name; /* ASCII lower case; NULL: a free slot */
	sqlite3_int64 rowid;
};

struct sq_tables {
	struct sq_hint *slot;
	size_t nslot, n; /* nslot: a power of two, at least twice n */
};

void sq_tables_free(struct sq_tables *t)
{
	size_t i;

	if (!t)
		return;
	for (i = 0; i < t->nslot; i++)
		free(t->slot[i].name);
	free(t->slot);
	free(t);
}

static char ascii_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* The slot of lname: its own, or the free one where it would go. */
static struct sq_hint *hint_slot(struct sq_hint *slot, size_t nslot, const char *lname)
{
	size_t i = str_hash(lname) & (nslot - 1);

	while (slot[i].name && strcmp(slot[i].name, lname))
		i = (i + 1) & (nslot - 1);
	return &slot[i];
}

static void hint_put(struct sq_tables *t, char *lname, sqlite3_int64 rowid)
{
	struct sq_hint *h;

	if (2 * (t->n + 1) > t->nslot) {
		size_t i, nslot = t->nslot ? 2 * t->nslot : 64;
		struct sq_hint *slot = xcalloc(nslot, sizeof(*slot));

		for (i = 0; i < t->nslot; i++)
			if (t->slot[i].name)
				*hint_slot(slot, nslot, t->slot[i].name) = t->slot[i];
		free(t->slot);
		t->slot = slot;
		t->nslot = nslot;
	}
	h = hint_slot(t->slot, t->nslot, lname);
	if (h->name) {
		free(lname);
	} else {
		h->name = lname;
		t->n++;
	}
	h->rowid = rowid;
}

/* Is STRICT among the table options of sql, a table's CREATE text that
 * SQLite accepted? Past the parenthesis that closes the first one opened
 * (quoted names, strings and comments skipped), the options are words
 * and commas: STRICT, WITHOUT ROWID. A virtual table's first parenthesis
 * holds its module's arguments, and nothing follows. */
int sq_create_is_strict(const char *sql)
{
	size_t len = strlen(sql), i = 0;
	int depth = 0;

	while ((i = sql_skip_blank(sql, len, i, 0)) < len) {
		char c = sql[i];

		if (c == '\'' || c == '"' || c == '`' || c == '[') {
			i = sql_skip_quoted(sql, len, i, c == '[' ? ']' : c);
			continue;
		}
		i++;
		if (c == '(')
			depth++;
		else if (c == ')' && --depth == 0)
			break;
	}
	while ((i = sql_skip_blank(sql, len, i, 0)) < len) {
		size_t b = i;

		while (i < len && (sql[i] == '_' || ((sql[i] | 0x20) >= 'a' && (sql[i] | 0x20) <= 'z')))
			i++;
		if (i - b == 6 && !strncasecmp(sql + b, "strict", 6))
			return 1;
		if (i == b)
			i++;
	}
	return 0;
}

/* The first row of sql (?1 = name, ?2 = rowid) if its second column names
 * main's table called name: 1, with strict and rowid set; 0 when not. */
static int lookup(sqlite3 *db, const char *sql, const char *name, sqlite3_int64 rowid,
		  int *strict, sqlite3_int64 *rowid_out)
{
	sqlite3_stmt *st = NULL;
	int found = 0;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		goto out;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, rowid);
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 1) &&
	    !sqlite3_stricmp((const char *)sqlite3_column_text(st, 1), name)) {
		const unsigned char *text = sqlite3_column_text(st, 2);

		*rowid_out = sqlite3_column_int64(st, 0);
		*strict = text && sq_create_is_strict((const char *)text);
		found = 1;
	}
out:
	sqlite3_finalize(st);
	return found;
}

int sq_table_strict(sqlite3 *db, struct sq_tables **tp, const char *name, int created)
{
	static const char *const by_rowid =
		"SELECT rowid, name, sql FROM main.sqlite_schema WHERE rowid = ?2 AND type = 'table'";
	/* a table's entry comes before its UNIQUE and PRIMARY KEY indexes' */
	static const char *const recent =
		"SELECT rowid, name, sql FROM main.sqlite_schema"
		" WHERE rowid > (SELECT max(rowid) FROM main.sqlite_schema) - 64"
		" AND type = 'table' AND name = ?1 COLLATE NOCASE";
	static const char *const whole =
		"SELECT rowid, name, sql FROM main.sqlite_schema"
		" WHERE type = 'table' AND name = ?1 COLLATE NOCASE";
	struct sq_tables *t = *tp ? *tp : (*tp = xcalloc(1, sizeof(**tp)));
	char *lname = xstrdup(name);
	struct sq_hint *h;
	sqlite3_int64 rowid = 0;
	int strict = 0, found;
	size_t i;

	for (i = 0; lname[i]; i++)
		lname[i] = ascii_lower(lname[i]);
	h = t->nslot ? hint_slot(t->slot, t->nslot, lname) : NULL;
	found = h && h->name && lookup(db, by_rowid, name, h->rowid, &strict, &rowid);
	if (!found && created)
		found = lookup(db, recent, name, 0, &strict, &rowid);
	if (!found)
		found = lookup(db, whole, name, 0, &strict, &rowid);
	if (found)
		hint_put(t, lname, rowid);
	else
		free(lname);
	return strict;
}
