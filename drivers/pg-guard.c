/* The PostgreSQL driver's guard on cairn's books while a migration runs
 * (issue #15): a snapshot of what the catalog and the transaction's own
 * statistics say about cairn_migrations and cairn_audit, taken before a
 * script and compared after it (after each statement outside a
 * transaction). Inside the migration's transaction any row the script
 * inserted, updated or deleted in the books shows in
 * pg_stat_xact_user_tables (cairn's own writes for this migration come
 * after the check); DDL shows in pg_trigger (added, enabled, disabled),
 * pg_constraint (on the books or referencing them), pg_index, pg_rewrite,
 * pg_policy, pg_attrdef, pg_description, pg_seclabel and the table's
 * pg_class row (relfilenode, owner, ACL, row security, attributes); a temp
 * object named like the books in pg_temp shows in pg_class; the session's
 * session_replication_role and track_counts, which would let writes slip
 * by triggers and statistics, are compared too. The rows are also
 * fingerprinted (guard_fingerprint): outside a transaction the statistics
 * reset at each commit, and inside one a superuser may turn them off. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/buf.h"
#include "../lib/error.h"
#include "pg-private.h"

/* One column per fact, in the order a refusal names them: the first that
 * differs is the one the message gives. */
#define GUARD_COLS 20
#define COL_COUNTS_END 4 /* columns 1..3: the transaction's row counts */
#define COL_CONTENT 19

static const char *const col_what[GUARD_COLS] = {
	"", "inserted rows into", "updated rows of", "deleted rows of",
	"put a trigger on", "added, dropped or validated a constraint on or referencing",
	"created or dropped an index on", "put a rule on",
	"put a row security policy on", "dropped, replaced or rewrote",
	"altered the columns of", "created a temporary table or view shadowing",
	"changed the owner of", "granted or revoked privileges on",
	"turned row level security on or off for", "changed a column default of",
	"enabled or disabled a trigger of", "put a comment or security label on",
	"set session_replication_role or track_counts, which hide writes to",
	"changed the rows of",
};

/* Outside a transaction the statistics reset at each commit, so the rows
 * themselves are fingerprinted, cheaply: the count and the sum and sum of
 * squares of the rows' xmin. Every insert or update writes a row version
 * whose xmin is the writing transaction's id, newer than any the books
 * hold; deletes remove old ones. With the count unchanged, n new ids
 * (each larger than any removed) cannot sum to the n removed; the sum of
 * squares must match as well once the 32-bit id has wrapped. No row is
 * read into text, sorted or hashed (the md5 of every row before
 * pgguard15b). */
static char *guard_fingerprint(const char *table)
{
	return xasprintf("(SELECT pg_catalog.count(*)::text || ':' || COALESCE(pg_catalog.sum(v.x), 0)::text "
			 "|| ':' || COALESCE(pg_catalog.sum(v.x * v.x), 0)::text FROM (SELECT "
			 "b.xmin::text::numeric x FROM %s b) v)", table);
}

/* The same for cairn_migrations while a transaction: false migration
 * runs (attack15h): its progress row (version, a literal), which cairn
 * rewrites before each statement, is left out of the xmin sums and
 * compared by its content instead, every column but statement. cairn's
 * own progress write then changes nothing the guard compares, so the
 * snapshot after one statement is the one before the next: one guard
 * query per statement, not two. A script's change to that row's
 * statement alone goes unseen; cairn writes it again before the next
 * statement and at the end (docs/design.md, "What this does not stop
 * yet"). */
static char *guard_fingerprint_progress(const char *table, const char *version)
{
	return xasprintf("(SELECT pg_catalog.count(*)::text || ':' || COALESCE(pg_catalog.sum(v.x), 0)::text "
			 "|| ':' || COALESCE(pg_catalog.sum(v.x * v.x), 0)::text || ':' || "
			 "COALESCE((SELECT pg_catalog.md5((pg_catalog.to_jsonb(p) OPERATOR(pg_catalog.-) "
			 "'statement'::text)::text) FROM %s p WHERE p.version OPERATOR(pg_catalog.=) %s), '') "
			 "FROM (SELECT b.xmin::text::numeric x FROM %s b WHERE b.version "
			 "OPERATOR(pg_catalog.<>) %s) v)", table, version, table, version);
}

/* The fingerprint is taken in a transaction too (pgguard15b): the
 * statistics miss what a superuser's script wrote under SET LOCAL
 * track_counts = off and then RESET; the rows' xmin does not. */
static char *guard_sql(struct db *db)
{
	char *nsp = xasprintf("(SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = '%s')",
			      db->schema);
	char *fm = db->progress_lit ? guard_fingerprint_progress(db->t_mig, db->progress_lit)
				    : guard_fingerprint(db->t_mig);
	char *fa = guard_fingerprint(db->t_audit);
	char *cnt = xasprintf("CASE n.t WHEN 'cairn_migrations' THEN %s ELSE %s END", fm, fa);
	char *sql = xasprintf(
		"SELECT n.t, COALESCE(s.n_tup_ins, 0), COALESCE(s.n_tup_upd, 0), "
		"COALESCE(s.n_tup_del, 0), "
		"(SELECT pg_catalog.count(*) FROM pg_catalog.pg_trigger g WHERE g.tgrelid = c.oid "
		"AND NOT g.tgisinternal), "
		"(SELECT pg_catalog.string_agg(k.oid::text || k.contype::text || k.convalidated::text, ',' "
		"ORDER BY k.oid) FROM pg_catalog.pg_constraint k WHERE k.conrelid = c.oid "
		"OR k.confrelid = c.oid), "
		"(SELECT pg_catalog.count(*) FROM pg_catalog.pg_index i WHERE i.indrelid = c.oid), "
		"(SELECT pg_catalog.count(*) FROM pg_catalog.pg_rewrite r WHERE r.ev_class = c.oid), "
		"(SELECT pg_catalog.count(*) FROM pg_catalog.pg_policy p WHERE p.polrelid = c.oid), "
		"COALESCE(c.oid::text || '/' || c.relfilenode::text || '/' || c.relkind::text, "
		"'missing'), "
		"(SELECT pg_catalog.string_agg(a.attname || ':' || a.atttypid::text || "
		"a.attnotnull::text || a.attisdropped::text, ',' ORDER BY a.attnum) "
		"FROM pg_catalog.pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0), "
		"(SELECT pg_catalog.count(*) FROM pg_catalog.pg_class tc "
		"WHERE tc.relnamespace = pg_catalog.pg_my_temp_schema() AND tc.relname = n.t), "
		"c.relowner::text, COALESCE(c.relacl::text, ''), "
		"c.relrowsecurity::text || c.relforcerowsecurity::text, "
		"(SELECT pg_catalog.string_agg(d.adnum::text || '=' || d.adbin::text, ',' "
		"ORDER BY d.adnum) FROM pg_catalog.pg_attrdef d WHERE d.adrelid = c.oid), "
		"(SELECT pg_catalog.string_agg(g.oid::text || '=' || g.tgenabled::text, ',' "
		"ORDER BY g.oid) FROM pg_catalog.pg_trigger g WHERE g.tgrelid = c.oid), "
		"COALESCE((SELECT pg_catalog.string_agg(e.objsubid::text || '=' || e.description, ',' "
		"ORDER BY e.objsubid) FROM pg_catalog.pg_description e WHERE e.objoid = c.oid "
		"AND e.classoid = 'pg_catalog.pg_class'::pg_catalog.regclass), '') || '/' || "
		"COALESCE((SELECT pg_catalog.string_agg(l.provider || '=' || l.label, ',' "
		"ORDER BY l.provider, l.objsubid) FROM pg_catalog.pg_seclabel l WHERE l.objoid = c.oid "
		"AND l.classoid = 'pg_catalog.pg_class'::pg_catalog.regclass), ''), "
		"pg_catalog.current_setting('session_replication_role') || '/' || "
		"pg_catalog.current_setting('track_counts'), "
		"%s "
		"FROM (VALUES ('cairn_migrations'), ('cairn_audit')) n(t) "
		"LEFT JOIN pg_catalog.pg_class c ON c.relname = n.t AND c.relnamespace = %s "
		"LEFT JOIN pg_catalog.pg_stat_xact_user_tables s ON s.relid = c.oid ORDER BY n.t",
		cnt, nsp);

	free(cnt);
	free(fm);
	free(fa);
	free(nsp);
	return sql;
}

#define GUARD_WHAT "checking cairn's books"

/* The results of one message of several statements: the first row set
 * in *out, 0; or -1 with the error set (the first statement that failed;
 * the rest of the message was skipped). */
static int guard_results(struct db *db, PGresult **out)
{
	PGresult *r;
	int failed = 0;

	while ((r = pq.getResult(db->conn))) {
		ExecStatusType st = pq.resultStatus(r);

		if (st == PGRES_TUPLES_OK && !*out && !failed) {
			*out = r;
			continue;
		}
		if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && !failed) {
			struct driver_error e;
			char msg[CAIRN_ERRMSG_MAX];

			failed = 1;
			pg_error_clear(&e);
			pg_fill_error(&e, r);
			pg_error_format(&e, msg, sizeof(msg));
			cairn_error_set("%s on '%s' failed: %s", GUARD_WHAT, db->display, msg);
		}
		pq.clear(r);
	}
	if (!failed && !*out) {
		failed = 1;
		pg_set_conn_error(db, db->conn, GUARD_WHAT);
	}
	if (failed && *out) {
		pq.clear(*out);
		*out = NULL;
	}
	return failed ? -1 : 0;
}

/* The query runs with search_path pinned to pg_catalog (a script's own
 * operators or functions cannot answer it), in a savepoint rolled back
 * afterwards, or a read-only transaction of its own when none is open:
 * one message, one round trip (pgguard15b; two before, the savepoint's
 * end or the COMMIT sent apart), taken after each statement of a
 * transaction: false script. */
static int guard_query(struct db *db, PGresult **out)
{
	char *q = guard_sql(db), *sql;
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
	sql = xasprintf("%s; SET LOCAL search_path = pg_catalog, pg_temp; %s; %s",
			in ? "SAVEPOINT cairn_guard" : "BEGIN READ ONLY", q,
			in ? "ROLLBACK TO SAVEPOINT cairn_guard; RELEASE SAVEPOINT cairn_guard"
			   : "COMMIT");
	free(q);
	if (!pq.sendQuery(db->conn, sql)) {
		pg_set_conn_error(db, db->conn, GUARD_WHAT);
		free(sql);
		return -1;
	}
	free(sql);
	rc = guard_results(db, out);
	if (db->in_tx)
		db->tx_sent = 1;
	/* a failure skipped the rest of the message: end what it began */
	if (rc < 0 && pq.transactionStatus(db->conn) == PQTRANS_INERROR)
		pq.clear(pq.exec(db->conn, in ? "ROLLBACK TO SAVEPOINT cairn_guard; RELEASE "
						"SAVEPOINT cairn_guard"
					      : "ROLLBACK"));
	return rc;
}

int pg_guard_take(struct db *db, struct pg_guard *g, int content)
{
	int rc;

	g->before = NULL;
	g->content = content;
	if (!db->bk_seen)
		return 0;
	rc = guard_query(db, &g->before);
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
	rc = guard_query(db, &now);
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
	/* what the books are now: the next statement's snapshot, unless the
	 * caller writes them (pg_guard_release) */
	pq.clear(g->before);
	g->before = now;
	return 0;
}
