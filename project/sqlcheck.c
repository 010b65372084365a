/* Transaction control and statements that cannot run in a transaction, found
 * in a migration's SQL (sqlcheck.h). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if __has_include(<pg_query.h>)
#include <pg_query.h>
#else
#error "cairn needs libpg_query's header pg_query.h: apt-get install libpg-query-dev (or run 'make deps')"
#endif

#include "../lib/error.h"
#include "../lib/sqlsplit.h"
#include "../lib/util.h"
#include "sqlcheck.h"

static void item_add(struct sql_items *out, enum sql_item_kind kind, int line, const char *what)
{
	struct sql_item *it;

	ALLOC_GROW(out->items, out->n + 1, out->alloc);
	it = &out->items[out->n++];
	it->kind = kind;
	it->line = line;
	it->start = out->cur_start;
	it->end = out->cur_end;
	it->stmt = out->nstmts;
	if ((size_t)snprintf(it->what, sizeof(it->what), "%s", what) >= sizeof(it->what))
		it->what[sizeof(it->what) - 1] = '\0'; /* names are short literals */
}

void sql_items_release(struct sql_items *items)
{
	if (!items)
		return;
	free(items->items);
	items->items = NULL;
	items->n = items->alloc = 0;
	items->nstmts = items->cur_start = items->cur_end = 0;
}

/* ---- the lexer: SQLite, and PostgreSQL scripts the parser refuses ---- */

#define LEX_WORDS 6

struct lex_stmt {
	size_t start;
	int nwords;
	char words[LEX_WORDS][24]; /* the first words, upper case */
};

static int word_is(const struct lex_stmt *st, int i, const char *w)
{
	return i < st->nwords && !strcmp(st->words[i], w);
}

/* Classifies one statement by its first words. */
static void lex_classify(struct sql_items *out, const struct lex_stmt *st, int line,
			 enum sql_dialect d)
{
	const char *w0 = st->nwords ? st->words[0] : "";
	int i;

	if (!strcmp(w0, "BEGIN") || !strcmp(w0, "COMMIT") || !strcmp(w0, "END") ||
	    !strcmp(w0, "ABORT") || !strcmp(w0, "SAVEPOINT")) {
		item_add(out, SQL_TX_CONTROL, line, w0);
	} else if (!strcmp(w0, "ROLLBACK")) {
		for (i = 1; i < st->nwords && strcmp(st->words[i], "TO"); i++)
			;
		item_add(out, SQL_TX_CONTROL, line,
			 i < st->nwords ? "ROLLBACK TO SAVEPOINT" : "ROLLBACK");
	} else if (!strcmp(w0, "RELEASE")) {
		item_add(out, SQL_TX_CONTROL, line, "RELEASE SAVEPOINT");
	} else if (!strcmp(w0, "START") && word_is(st, 1, "TRANSACTION")) {
		item_add(out, SQL_TX_CONTROL, line, "START TRANSACTION");
	} else if (!strcmp(w0, "PREPARE") && word_is(st, 1, "TRANSACTION")) {
		item_add(out, SQL_TX_CONTROL, line, "PREPARE TRANSACTION");
	} else if (!strcmp(w0, "VACUUM")) {
		item_add(out, SQL_NO_TX, line, "VACUUM");
	} else if (d == SQL_SQLITE && !strcmp(w0, "PRAGMA") && st->nwords > 1 &&
		   (!strcmp(st->words[1], "FOREIGN_KEYS") ||
		    ends_with(st->words[1], ".FOREIGN_KEYS"))) {
		item_add(out, SQL_IGNORED_IN_TX, line, "PRAGMA foreign_keys");
	} else if (d == SQL_POSTGRES) {
		int conc = 0;

		for (i = 1; i < st->nwords; i++)
			conc |= !strcmp(st->words[i], "CONCURRENTLY");
		if (!strcmp(w0, "CREATE") && conc)
			item_add(out, SQL_NO_TX, line, "CREATE INDEX CONCURRENTLY");
		else if (!strcmp(w0, "DROP") && conc)
			item_add(out, SQL_NO_TX, line, "DROP INDEX CONCURRENTLY");
		else if (!strcmp(w0, "REINDEX") && conc)
			item_add(out, SQL_NO_TX, line, "REINDEX CONCURRENTLY");
		else if ((!strcmp(w0, "CREATE") || !strcmp(w0, "DROP")) &&
			 word_is(st, 1, "DATABASE"))
			item_add(out, SQL_NO_TX, line,
				 w0[0] == 'C' ? "CREATE DATABASE" : "DROP DATABASE");
	}
}

/* $tag$ ... $tag$ starting at s[i], or 0 when s[i] starts no dollar quote. */
static size_t skip_dollar(const char *s, size_t len, size_t i)
{
	size_t j = i + 1, tag;

	while (j < len && (isalnum((unsigned char)s[j]) || s[j] == '_'))
		j++;
	if (j >= len || s[j] != '$' || (j > i + 1 && isdigit((unsigned char)s[i + 1])))
		return 0;
	tag = j + 1 - i;
	for (j++; j + tag <= len; j++)
		if (!memcmp(s + j, s + i, tag))
			return j + tag;
	return len;
}

static void lex_scan(struct sql_items *out, const char *s, size_t len, enum sql_dialect d)
{
	struct lex_stmt st;
	size_t i = sql_skip_blank(s, len, 0, d == SQL_POSTGRES);
	int depth = 0, started = 0;

	memset(&st, 0, sizeof(st));
	while (i < len) {
		unsigned char c = (unsigned char)s[i];
		size_t j;

		if (!started) {
			memset(&st, 0, sizeof(st));
			st.start = i;
			started = 1;
			depth = 0;
		}
		if (c == ';' && !depth) {
			out->cur_start = st.start;
			out->cur_end = i + 1;
			lex_classify(out, &st, line_of_offset(s, len, st.start), d);
			out->nstmts++;
			started = 0;
			i = sql_skip_blank(s, len, i + 1, d == SQL_POSTGRES);
			continue;
		}
		if (c == '\'' || c == '"' || (d == SQL_SQLITE && (c == '`' || c == '['))) {
			i = sql_skip_quoted(s, len, i, c == '[' ? ']' : (char)c);
		} else if (c == '$' && d == SQL_POSTGRES && (j = skip_dollar(s, len, i))) {
			i = j;
		} else if ((c == '-' && i + 1 < len && s[i + 1] == '-') ||
			   (c == '/' && i + 1 < len && s[i + 1] == '*')) {
			i = sql_skip_blank(s, len, i, d == SQL_POSTGRES);
		} else if (isalpha(c) || c == '_') {
			char w[24];
			size_t n = 0;

			for (j = i; j < len && (isalnum((unsigned char)s[j]) || s[j] == '_' ||
						s[j] == '.' || s[j] == '$'); j++)
				if (n + 1 < sizeof(w))
					w[n++] = (char)toupper((unsigned char)s[j]);
			w[n] = '\0';
			/* only the first LEX_WORDS are kept, and counted: the
			 * classifier reads words[0..nwords) */
			if (st.nwords < LEX_WORDS)
				memcpy(st.words[st.nwords++], w, n + 1);
			/* trigger bodies (SQLite) and BEGIN ATOMIC (PostgreSQL) hold
			 * ';' up to their END; CASE ... END nests inside them */
			if (!strcmp(st.words[0], "CREATE") && st.nwords > 1) {
				if (!strcmp(w, "BEGIN") || (depth && !strcmp(w, "CASE")))
					depth++;
				else if (depth && !strcmp(w, "END"))
					depth--;
			}
			i = j;
		} else {
			i++;
		}
	}
	if (started && st.nwords) {
		out->cur_start = st.start;
		out->cur_end = len;
		lex_classify(out, &st, line_of_offset(s, len, st.start), d);
		out->nstmts++;
	}
}

/* ---- PostgreSQL: the server's own grammar ---- */

/* The node type of a one-statement parse tree:
 * {"version":N,"stmts":[{"stmt":{"NodeType":{...}}...]}. */
static int pg_node(const char *json, char *node, size_t cap)
{
	const char *p = strstr(json, "\"stmt\":{\""), *e;

	if (!p)
		return -1;
	p += strlen("\"stmt\":{\"");
	e = strchr(p, '"');
	if (!e || (size_t)(e - p) >= cap)
		return -1;
	memcpy(node, p, (size_t)(e - p));
	node[e - p] = '\0';
	return 0;
}

static const char *pg_tx_name(const char *json, const char *first_word)
{
	static const struct { const char *kind, *name; } kinds[] = {
		{ "TRANS_STMT_BEGIN\"", "BEGIN" },
		{ "TRANS_STMT_START\"", "START TRANSACTION" },
		{ "TRANS_STMT_COMMIT\"", "COMMIT" },
		{ "TRANS_STMT_ROLLBACK\"", "ROLLBACK" },
		{ "TRANS_STMT_SAVEPOINT\"", "SAVEPOINT" },
		{ "TRANS_STMT_RELEASE\"", "RELEASE SAVEPOINT" },
		{ "TRANS_STMT_ROLLBACK_TO\"", "ROLLBACK TO SAVEPOINT" },
		{ "TRANS_STMT_PREPARE\"", "PREPARE TRANSACTION" },
		{ "TRANS_STMT_COMMIT_PREPARED\"", "COMMIT PREPARED" },
		{ "TRANS_STMT_ROLLBACK_PREPARED\"", "ROLLBACK PREPARED" },
	};
	int chain = strstr(json, "\"chain\":true") != NULL;
	size_t i;

	if (!strcmp(first_word, "END") || !strcmp(first_word, "ABORT"))
		return first_word[0] == 'E' ? (chain ? "END AND CHAIN" : "END")
					    : (chain ? "ABORT AND CHAIN" : "ABORT");
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strstr(json, kinds[i].kind)) {
			if (chain && !strcmp(kinds[i].name, "COMMIT"))
				return "COMMIT AND CHAIN";
			if (chain && !strcmp(kinds[i].name, "ROLLBACK"))
				return "ROLLBACK AND CHAIN";
			return kinds[i].name;
		}
	return "transaction control";
}

static void pg_classify(struct sql_items *out, const char *json, const char *stmt, int line)
{
	char node[64], first[16];
	size_t n = 0;

	if (pg_node(json, node, sizeof(node)) < 0)
		return;
	while (n + 1 < sizeof(first) && isalpha((unsigned char)stmt[n])) {
		first[n] = (char)toupper((unsigned char)stmt[n]);
		n++;
	}
	first[n] = '\0';
	if (!strcmp(node, "TransactionStmt"))
		item_add(out, SQL_TX_CONTROL, line, pg_tx_name(json, first));
	else if (!strcmp(node, "IndexStmt") && strstr(json, "\"concurrent\":true"))
		item_add(out, SQL_NO_TX, line, "CREATE INDEX CONCURRENTLY");
	else if (!strcmp(node, "DropStmt") && strstr(json, "\"concurrent\":true"))
		item_add(out, SQL_NO_TX, line, "DROP INDEX CONCURRENTLY");
	else if (!strcmp(node, "ReindexStmt") && strstr(json, "\"defname\":\"concurrently\""))
		item_add(out, SQL_NO_TX, line, "REINDEX CONCURRENTLY");
	else if (!strcmp(node, "ReindexStmt") && strstr(json, "\"kind\":\"REINDEX_OBJECT_DATABASE\""))
		item_add(out, SQL_NO_TX, line, "REINDEX DATABASE");
	else if (!strcmp(node, "ReindexStmt") && strstr(json, "\"kind\":\"REINDEX_OBJECT_SYSTEM\""))
		item_add(out, SQL_NO_TX, line, "REINDEX SYSTEM");
	else if (!strcmp(node, "VacuumStmt") && strstr(json, "\"is_vacuumcmd\":true"))
		item_add(out, SQL_NO_TX, line, "VACUUM");
	else if (!strcmp(node, "CreatedbStmt"))
		item_add(out, SQL_NO_TX, line, "CREATE DATABASE");
	else if (!strcmp(node, "DropdbStmt"))
		item_add(out, SQL_NO_TX, line, "DROP DATABASE");
	else if (!strcmp(node, "AlterSystemStmt"))
		item_add(out, SQL_NO_TX, line, "ALTER SYSTEM");
	else if (!strcmp(node, "CreateTableSpaceStmt"))
		item_add(out, SQL_NO_TX, line, "CREATE TABLESPACE");
	else if (!strcmp(node, "DropTableSpaceStmt"))
		item_add(out, SQL_NO_TX, line, "DROP TABLESPACE");
	else if (!strcmp(node, "AlterEnumStmt") && strstr(json, "\"newVal\":") &&
		 !strstr(json, "\"oldVal\":"))
		item_add(out, SQL_NO_TX_BEFORE12, line, "ALTER TYPE ... ADD VALUE");
}

/* 0, or -1 when the parser refused the script (the lexer then reads it).
 * The statements are the applier's (lib/sqlsplit.h): apply and check split
 * identically (issue #18). */
static int pg_scan(struct sql_items *out, const char *sql, size_t len)
{
	struct sqlsplit sp = SQLSPLIT_INIT;
	char *one = NULL;
	size_t i;
	int rc = -1;

	if (sqlsplit_pg(&sp, sql, len) < 0 || sp.whole)
		goto out;
	one = xmalloc(len + 1);
	for (i = 0; i < sp.n; i++) {
		PgQueryParseResult r;
		size_t end = sp.stmts[i].offset + sp.stmts[i].len, j = end;

		memcpy(one, sql + sp.stmts[i].offset, sp.stmts[i].len);
		one[sp.stmts[i].len] = '\0';
		/* the statement's bytes, with its ';' (import rewrites by them) */
		while (j < len && (sql[j] == ' ' || sql[j] == '\t' || sql[j] == '\n' || sql[j] == '\r'))
			j++;
		out->cur_start = sp.stmts[i].offset;
		out->cur_end = j < len && sql[j] == ';' ? j + 1 : end;
		r = pg_query_parse(one);
		if (!r.error && r.parse_tree)
			pg_classify(out, r.parse_tree, one, sp.stmts[i].line);
		pg_query_free_parse_result(r);
		out->nstmts++;
	}
	rc = 0;
out:
	sqlsplit_release(&sp);
	free(one);
	return rc;
}

void sqlcheck_scan(struct sql_items *out, const char *sql, size_t len, enum sql_dialect d)
{
	if (d == SQL_POSTGRES && pg_scan(out, sql, len) == 0)
		return;
	lex_scan(out, sql, len, d);
}
