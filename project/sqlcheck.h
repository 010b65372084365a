/* What a migration's SQL does to the transaction cairn runs it in. One pass
 * over a script finds the statements that end or steer that transaction
 * (BEGIN, COMMIT, ROLLBACK, SAVEPOINT...), the ones an engine refuses to run
 * inside one (CREATE INDEX CONCURRENTLY, VACUUM...) and the ones it ignores
 * there (SQLite's PRAGMA foreign_keys). PostgreSQL scripts go through
 * PostgreSQL's own parser (libpg_query); SQLite scripts, and PostgreSQL
 * scripts the parser refuses, through a small lexer that knows comments,
 * quotes and trigger bodies. Pure: no findings, no printing; the checker
 * (check.c) and the linter of issue #18 turn the items into messages. */
#ifndef CAIRN_SQLCHECK_H
#define CAIRN_SQLCHECK_H

#include <stddef.h>

#include "../lib/sqlsplit.h" /* sql_skip_blank */

enum sql_dialect { SQL_POSTGRES, SQL_SQLITE };

enum sql_item_kind {
	SQL_TX_CONTROL,    /* ends or steers the transaction: BEGIN, COMMIT, SAVEPOINT... */
	SQL_NO_TX,         /* cannot run inside a transaction block */
	SQL_NO_TX_BEFORE12, /* PostgreSQL: ALTER TYPE ... ADD VALUE (refused before 12) */
	SQL_IGNORED_IN_TX, /* SQLite: PRAGMA foreign_keys does nothing inside a transaction */
};

struct sql_item {
	enum sql_item_kind kind;
	int line;          /* 1-based line where the statement starts */
	char what[40];     /* the statement, named: "COMMIT", "CREATE INDEX CONCURRENTLY" */
	/* the statement's bytes: from its first token to past its ';' (or the
	 * script's end), and its index among the script's statements (for the
	 * importer, which cuts a BEGIN ... COMMIT wrapper out) */
	size_t start, end;
	size_t stmt;
};

struct sql_items {
	struct sql_item *items;
	size_t n, alloc;
	size_t nstmts;              /* statements read, with or without an item */
	size_t cur_start, cur_end;  /* the statement being classified */
};

#define SQL_ITEMS_INIT { NULL, 0, 0, 0, 0, 0 }

/* Adds to out what the script holds of the kinds above, in order. The
 * script need not be NUL-terminated. Never fails: a script neither the
 * parser nor the lexer understands gives fewer items. */
void sqlcheck_scan(struct sql_items *out, const char *sql, size_t len, enum sql_dialect d);

void sql_items_release(struct sql_items *items);

#endif
