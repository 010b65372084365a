/* PostgreSQL: what preflight asks (driver.h, issue #20), answered from the
 * catalog with queries that write nothing: a query's first value, whether
 * the bookkeeping can be written by this role, and the sessions holding
 * locks on the tables a migration touches. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/buf.h"
#include "../lib/error.h"
#include "driver.h"
#include "pg-private.h"
#include "pq-load.h"

int pg_query_text(struct db *db, const char *sql, char **out)
{
	PGresult *r;

	*out = NULL;
	if (pg_query_tuples(db, sql, &r, "a catalog query") < 0)
		return -1;
	if (pq.ntuples(r) >= 1 && !pq.getisnull(r, 0, 0))
		*out = xstrdup(pq.getvalue(r, 0, 0));
	pq.clear(r);
	return 0;
}

/* The books' tables exist: the run inserts and updates rows in both. Not
 * there yet: the run creates the schema (CREATE on the database) or the
 * tables in it (CREATE on the schema). NULL from the query: writable. */
int pg_books_writable(struct db *db, char **why)
{
	struct buf q = BUF_INIT, m = BUF_INIT, a = BUF_INIT, s = BUF_INIT;
	int rc;

	buf_put_sql_literal(&m, db->t_mig);
	buf_put_sql_literal(&a, db->t_audit);
	buf_put_sql_literal(&s, db->schema);
	buf_printf(&q,
		   "SELECT CASE WHEN pg_catalog.to_regclass(%s) IS NOT NULL AND "
		   "pg_catalog.to_regclass(%s) IS NOT NULL THEN "
		   "CASE WHEN pg_catalog.has_table_privilege(%s, 'INSERT') AND "
		   "pg_catalog.has_table_privilege(%s, 'UPDATE') "
		   "AND pg_catalog.has_table_privilege(%s, 'SELECT') AND "
		   "pg_catalog.has_table_privilege(%s, 'INSERT') "
		   "AND pg_catalog.has_table_privilege(%s, 'SELECT') THEN NULL "
		   "ELSE pg_catalog.format('role %%s cannot write the bookkeeping tables %%s and %%s "
		   "(needs SELECT, INSERT, UPDATE on the first, SELECT, INSERT on the second)', "
		   "current_user, %s, %s) END "
		   "WHEN pg_catalog.to_regnamespace(%s) IS NOT NULL THEN "
		   "CASE WHEN pg_catalog.has_schema_privilege(%s, 'CREATE') THEN NULL "
		   "ELSE pg_catalog.format('role %%s has no CREATE on schema %%s, where the "
		   "bookkeeping tables "
		   "are created', current_user, %s) END "
		   "WHEN pg_catalog.has_database_privilege(pg_catalog.current_database(), 'CREATE') "
		   "THEN NULL "
		   "ELSE pg_catalog.format('role %%s cannot create schema %%s for the bookkeeping "
		   "(no CREATE on "
		   "database %%s)', current_user, %s, pg_catalog.current_database()) END",
		   m.ptr, a.ptr, m.ptr, m.ptr, m.ptr, a.ptr, a.ptr, m.ptr, a.ptr, s.ptr, s.ptr,
		   s.ptr, s.ptr);
	rc = pg_query_text(db, q.ptr, why);
	buf_release(&q);
	buf_release(&m);
	buf_release(&a);
	buf_release(&s);
	if (rc < 0)
		return -1;
	return *why == NULL;
}

/* Every session but this one holding a granted lock on one of the tables:
 * an open transaction that has read or written one keeps the migration's
 * ACCESS EXCLUSIVE lock waiting, and everything queued behind it. */
int pg_blockers(struct db *db, const char *const *tables, size_t ntables, char **out)
{
	struct buf q = BUF_INIT;
	size_t i;
	int rc;

	*out = NULL;
	if (!ntables)
		return 0;
	buf_puts(&q,
		 "SELECT pg_catalog.string_agg(DISTINCT pg_catalog.format('pid %s (user %s, "
		 "application %s, %s, "
		 "transaction since %s): %s on %s', a.pid, coalesce(a.usename::text, '?'), "
		 "coalesce(nullif(a.application_name, ''), '?'), coalesce(a.state, '?'), "
		 "coalesce(pg_catalog.to_char(a.xact_start AT TIME ZONE 'UTC', "
		 "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), 'none'), l.mode, l.relation::regclass), E'\\n') "
		 "FROM pg_catalog.pg_locks l JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid "
		 "WHERE l.locktype = 'relation' AND l.granted AND l.pid <> pg_catalog.pg_backend_pid() "
		 "AND l.database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = "
		 "pg_catalog.current_database()) "
		 "AND l.relation IN (SELECT pg_catalog.to_regclass(x) FROM pg_catalog.unnest(ARRAY[");
	for (i = 0; i < ntables; i++) {
		if (i)
			buf_putc(&q, ',');
		buf_put_sql_literal(&q, tables[i]);
	}
	buf_puts(&q, "]::text[]) AS x)");
	rc = pg_query_text(db, q.ptr, out);
	buf_release(&q);
	return rc;
}

/* What a CREATE INDEX CONCURRENTLY that failed left (issue #22): the index
 * named name dropped only when pg_index says it is not valid; a valid one
 * (an operator's own index of that name) stays. The name as the catalog
 * spells it, so the DROP names exactly the index checked. */
int pg_drop_invalid_index(struct db *db, const char *name, const char **what)
{
	struct buf q = BUF_INIT;
	char *state = NULL;
	int rc;

	*what = "none";
	buf_puts(&q, "SELECT CASE WHEN i.indisvalid THEN 'valid' ELSE i.indexrelid::regclass::text "
		     "END FROM pg_catalog.pg_index i WHERE i.indexrelid = pg_catalog.to_regclass(");
	buf_put_sql_literal(&q, name);
	buf_puts(&q, ")");
	rc = pg_query_text(db, q.ptr, &state);
	buf_release(&q);
	if (rc < 0 || !state)
		return rc;
	if (!strcmp(state, "valid")) {
		*what = "valid";
		free(state);
		return 0;
	}
	buf_printf(&q, "DROP INDEX CONCURRENTLY IF EXISTS %s", state);
	rc = pg_simple_exec(db, db->conn, q.ptr, "dropping the invalid index");
	buf_release(&q);
	free(state);
	if (!rc)
		*what = "dropped";
	return rc ? -1 : 0;
}

/* What the run's role may do that the books guard (pg-guard.c) cannot see
 * (pgguard15b): a superuser, or a member of one (SET ROLE), writes the
 * catalogs, turns track_counts off and sets session_replication_role to
 * replica, so writes slip past statistics and triggers; a role granted
 * SET on session_replication_role (PostgreSQL 15) does the last; a role
 * that bypasses row security reads past an operator's policies; a
 * session already in replica mode (ALTER ROLE ... SET) skips triggers.
 * *out: the facts, comma-separated, or NULL when there are none. */
int pg_role_facts(struct db *db, char **out)
{
	char *ver = NULL, *sql;
	int rc, v15;

	*out = NULL;
	if (pg_query_text(db, "SELECT current_setting('server_version_num')", &ver) < 0)
		return -1;
	v15 = ver && atoi(ver) >= 150000;
	free(ver);
	sql = xasprintf(
		"SELECT NULLIF(concat_ws(', ', "
		"CASE WHEN r.rolsuper THEN 'role ' || quote_ident(r.rolname) || ' is a superuser' END, "
		"(SELECT 'role ' || quote_ident(r.rolname) || ' may SET ROLE to superuser ' || "
		"string_agg(quote_ident(s.rolname), ', ' ORDER BY s.rolname) FROM pg_catalog.pg_roles s "
		"WHERE s.rolsuper AND NOT r.rolsuper AND s.oid <> r.oid "
		"AND pg_catalog.pg_has_role(r.oid, s.oid, 'MEMBER') HAVING count(*) > 0), "
		"CASE WHEN r.rolbypassrls AND NOT r.rolsuper THEN 'role ' || quote_ident(r.rolname) || "
		"' bypasses row level security' END, "
		"%s"
		"CASE WHEN current_setting('session_replication_role') <> 'origin' THEN "
		"'session_replication_role is ' || current_setting('session_replication_role') || "
		"' (triggers do not fire)' END), '') "
		"FROM pg_catalog.pg_roles r WHERE r.rolname = current_user",
		v15 ? "CASE WHEN NOT r.rolsuper AND pg_catalog.has_parameter_privilege("
		      "'session_replication_role', 'SET') THEN 'role ' || quote_ident(r.rolname) || "
		      "' may SET session_replication_role' END, "
		    : "");
	rc = pg_query_text(db, sql, out);
	free(sql);
	return rc;
}
