/* The PostgreSQL driver's guard on cairn's books while a migration runs
 * (issue #15): a snapshot of what the catalog and the transaction's own
 * statistics say about cairn_migrations and cairn_audit, taken before a
 * script and compared after it (after each statement outside a
 * transaction). Inside the migration's transaction any row the script
 * inserted, updated or deleted in the books shows in
 * pg_stat_xact_user_tables (cairn's own writes for this migration come
 * after the check); DDL shows in pg_trigger, pg_index, pg_rewrite,
 * pg_policy, the table's relfilenode and attributes; a temp object named
 * like the books in pg_temp shows in pg_class. Outside a transaction the
 * statistics reset at each commit, so the rows' content is compared. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/buf.h"
#include "../lib/error.h"
#include "pg-private.h"

#define GUARD_COLS 12
#define COL_COUNTS_END 4 /* columns 1..3: the transaction's row counts */
#define COL_CONTENT 11

static const char *const col_what[GUARD_COLS] = {
	"", "inserted rows into", "updated rows of", "deleted rows of",
	"put a trigger on", "created or dropped an index on", "put a rule on",
	"put a row security policy on", "dropped, replaced or rewrote",
	"altered the columns of", "created a temporary table or view shadowing",
	"changed the rows of",
};

static char *guard_sql(struct db *db, int content)
{
	char *nsp = xasprintf("(SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = '%s')",
			      db->schema);
	char *cnt = content
		? xasprintf("pg_catalog.md5(COALESCE((SELECT pg_catalog.string_agg(x::text, ',' "
			    "ORDER BY x::text) FROM %s x), '')) || pg_catalog.md5(COALESCE((SELECT "
			    "pg_catalog.string_agg(y::text, ',' ORDER BY y::text) FROM %s y), ''))",
			    db->t_mig, db->t_audit)
		: xstrdup("''");
	char *sql = xasprintf(
		"SELECT n.t, COALESCE(s.n_tup_ins, 0), COALESCE(s.n_tup_upd, 0), "
		"COALESCE(s.n_tup_del, 0), "
		"(SELECT pg_catalog.count(*) FROM pg_catalog.pg_trigger g WHERE g.tgrelid = c.oid "
		"AND NOT g.tgisinternal), "
		"(SELECT pg_catalog.count(*) FROM pg_catalog.pg_index i WHERE i.indrelid = c.oid), "
		"(SELECT pg_catalog.count(*) FROM pg_catalog.pg_rewrite r WHERE r.ev_class = c.oid), "
		"(SELECT pg_catalog.count(*) FROM pg_catalog.pg_policy p WHERE p.polrelid = c.oid), "
		"COALESCE(c.oid::text || '/' || c.relfilenode::text || '/' || c.relkind::text || '/' "
		"|| c.relrowsecurity::text, 'missing'), "
		"(SELECT pg_catalog.string_agg(a.attname || ':' || a.atttypid::text || "
		"a.attnotnull::text || a.attisdropped::text, ',' ORDER BY a.attnum) "
		"FROM pg_catalog.pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0), "
		"(SELECT pg_catalog.count(*) FROM pg_catalog.pg_class tc "
		"WHERE tc.relnamespace = pg_catalog.pg_my_temp_schema() AND tc.relname = n.t), "
		"%s "
		"FROM (VALUES ('cairn_migrations'), ('cairn_audit')) n(t) "
		"LEFT JOIN pg_catalog.pg_class c ON c.relname = n.t AND c.relnamespace = %s "
		"LEFT JOIN pg_catalog.pg_stat_xact_user_tables s ON s.relid = c.oid ORDER BY n.t",
		cnt, nsp);

	free(cnt);
	free(nsp);
	return sql;
}

/* The query runs with search_path pinned to pg_catalog (a script's own
 * operators or functions cannot answer it), in a savepoint rolled back
 * afterwards, or a read-only transaction of its own when none is open. */
static int guard_query(struct db *db, int content, PGresult **out)
{
	char *q = guard_sql(db, content), *sql;
	int in = 0, rc;

	*out = NULL;
	if (db->in_tx && pg_flush(db) < 0) {
		free(q);
		return -1;
	}
	switch (pq.transactionStatus(db->conn)) {
	case PQTRANS_INTRANS:
		in = 1;
		break;
	case PQTRANS_IDLE:
		break;
	default: /* a failed statement: nothing it did stays */
		free(q);
		return 1;
	}
	sql = xasprintf("%s; SET LOCAL search_path = pg_catalog, pg_temp; %s",
			in ? "SAVEPOINT cairn_guard" : "BEGIN READ ONLY", q);
	free(q);
	rc = pg_query_tuples(db, sql, out, "checking cairn's books");
	free(sql);
	if (pg_simple_exec(db, db->conn,
			   in ? "ROLLBACK TO SAVEPOINT cairn_guard; RELEASE SAVEPOINT cairn_guard"
			      : "COMMIT",
			   "checking cairn's books") < 0 && !rc) {
		pq.clear(*out);
		*out = NULL;
		rc = -1;
	}
	return rc;
}

int pg_guard_take(struct db *db, struct pg_guard *g, int content)
{
	int rc;

	g->before = NULL;
	g->content = content;
	if (!db->bk_seen)
		return 0;
	rc = guard_query(db, content, &g->before);
	return rc < 0 ? -1 : 0;
}

void pg_guard_release(struct pg_guard *g)
{
	if (g->before)
		pq.clear(g->before);
	g->before = NULL;
}

/* 0: the books are as they were; 1: err says what the script did to them;
 * -1: the check itself failed (error set). */
int pg_guard_check(struct db *db, struct pg_guard *g, long offset, int committed,
		   struct driver_error *err)
{
	PGresult *now;
	int row, col, rc;

	if (!g->before)
		return 0;
	rc = guard_query(db, g->content, &now);
	if (rc)
		return rc < 0 ? -1 : 0;
	for (row = 0; row < pq.ntuples(g->before); row++)
		for (col = 1; col < GUARD_COLS; col++) {
			if (g->content && col < COL_COUNTS_END)
				continue;
			if (row < pq.ntuples(now) &&
			    !strcmp(pq.getvalue(g->before, row, col), pq.getvalue(now, row, col)))
				continue;
			pg_error_clear(err);
			if (snprintf(err->message, sizeof(err->message),
				     "a script may not write, alter, drop or put a trigger on "
				     "cairn's books: it %s %s.%s (%s)",
				     col_what[col], db->schema, pq.getvalue(g->before, row, 0),
				     committed ? "it had committed before cairn could look: the run "
						 "stops here"
					       : "refused before COMMIT; rolled back with the migration") < 0)
				err->message[0] = '\0';
			err->offset = offset;
			pg_set_sql_error(err);
			cairn_error_set("%s", err->message);
			pq.clear(now);
			return 1;
		}
	pq.clear(now);
	return 0;
}
