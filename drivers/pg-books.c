/* The PostgreSQL driver's bookkeeping (postgres.c): the schema's
 * cairn_migrations and cairn_audit tables, read and written. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../lib/buf.h"
#include "../lib/error.h"
#include "driver.h"
#include "pg-private.h"
#include "pq-load.h"

/* ---- bookkeeping ----------------------------------------------------- */

int pg_query_tuples(struct db *db, const char *sql, PGresult **out, const char *what)
{
	PGresult *r;

	*out = NULL;
	if (db->in_tx && pg_flush(db) < 0)
		return -1;
	r = pq.exec(db->conn, sql);
	if (!r || pq.resultStatus(r) != PGRES_TUPLES_OK) {
		if (r && pq.resultStatus(r) == PGRES_FATAL_ERROR) {
			struct driver_error e;
			char msg[CAIRN_ERRMSG_MAX];

			pg_error_clear(&e);
			pg_fill_error(&e, r);
			pg_error_format(&e, msg, sizeof(msg));
			cairn_error_set("%s on '%s' failed: %s", what, db->display, msg);
		} else {
			pg_set_conn_error(db, db->conn, what);
		}
		pq.clear(r);
		return -1;
	}
	if (db->in_tx)
		db->tx_sent = 1;
	*out = r;
	return 0;
}

int pg_bk_exists(struct db *db, int *exists)
{
	PGresult *r;
	/* every function and operator cairn calls names pg_catalog: a
	 * search_path set on the role or database ("evil, pg_catalog") must
	 * not swap one of them for a look-alike */
	char *sql = xasprintf("SELECT pg_catalog.to_regclass('%s') IS NOT NULL AND "
			      "pg_catalog.to_regclass('%s') IS NOT NULL",
			      db->t_mig, db->t_audit);
	int rc = pg_query_tuples(db, sql, &r, "reading the bookkeeping tables");

	free(sql);
	if (rc < 0)
		return -1;
	*exists = pq.getvalue(r, 0, 0)[0] == 't';
	db->bk_seen = *exists;
	pq.clear(r);
	return 0;
}

/* Reading from a database without the tables yet reads nothing (a new
 * database); once seen, they are not looked for again. Runs sql (freed
 * here) when they exist: 1 and its rows in *r, 0 when they do not (nothing
 * read), -1 with the error set. */
static int bk_select(struct db *db, char *sql, PGresult **r, const char *what)
{
	int exists = 1, rc = -1;

	if (db->bk_seen || pg_bk_exists(db, &exists) == 0)
		rc = exists ? (pg_query_tuples(db, sql, r, what) < 0 ? -1 : 1) : 0;
	free(sql);
	return rc;
}

int pg_bk_ensure(struct db *db)
{
	int exists = 0, rc;
	PGresult *r;
	char *sql;

	if (db->readonly) {
		cairn_error_set("'%s' is open read-only: cannot create the bookkeeping tables",
				db->display);
		return -1;
	}
	if (pg_bk_exists(db, &exists) < 0)
		return -1;
	if (exists)
		return 0;
	/* CREATE SCHEMA IF NOT EXISTS still needs CREATE on the database: ask
	 * only when the schema is missing, so a DBA may create it beforehand */
	sql = xasprintf("SELECT pg_catalog.has_schema_privilege(oid, 'USAGE'), "
			"pg_catalog.has_schema_privilege(oid, 'CREATE'), current_user FROM "
			"pg_catalog.pg_namespace WHERE nspname OPERATOR(pg_catalog.=) '%s'",
			db->schema);
	rc = pg_query_tuples(db, sql, &r, "looking for the bookkeeping schema");
	free(sql);
	if (rc < 0)
		return -1;
	exists = pq.ntuples(r) > 0;
	if (exists && (pq.getvalue(r, 0, 0)[0] != 't' || pq.getvalue(r, 0, 1)[0] != 't')) {
		const char *priv = pq.getvalue(r, 0, 0)[0] != 't' ? "USAGE, CREATE" : "CREATE";

		cairn_error_set("cannot create cairn's tables in schema '%s': role %s lacks %s on it; "
				"run GRANT %s ON SCHEMA %s TO %s, or name another schema (cairn_schema=)",
				db->schema, pq.getvalue(r, 0, 2), priv, priv, db->schema,
				pq.getvalue(r, 0, 2));
		pq.clear(r);
		return -1;
	}
	pq.clear(r);
	/* a schema that exists (a DBA's, or public) only gets the tables */
	sql = xasprintf(
		"%s%s%s%s"
		"CREATE TABLE IF NOT EXISTS %s ("
		" version text PRIMARY KEY,"
		" name text NOT NULL,"
		" checksum text NOT NULL,"
		" state text NOT NULL CHECK (state IN ('pending', 'in_progress', 'applied', 'failed', "
		"'rolled_back')),"
		" bundle_id text NOT NULL DEFAULT '',"
		" environment text NOT NULL DEFAULT '',"
		" applied_at text NOT NULL DEFAULT '',"
		" applied_by text NOT NULL DEFAULT '',"
		" duration_ms bigint NOT NULL DEFAULT 0,"
		" down_sql text,"
		" irreversible boolean NOT NULL DEFAULT false,"
		" transactional boolean NOT NULL DEFAULT true,"
		" kind text NOT NULL DEFAULT 'schema',"
		" batches bigint NOT NULL DEFAULT 0,"
		" rows_changed bigint NOT NULL DEFAULT 0,"
		" statement bigint NOT NULL DEFAULT -1,"
		" error text,"
		" audit_hash text NOT NULL DEFAULT '');"
		"CREATE TABLE IF NOT EXISTS %s ("
		" seq bigint PRIMARY KEY,"
		" at text NOT NULL,"
		" actor text NOT NULL,"
		" action text NOT NULL,"
		" version text NOT NULL DEFAULT '',"
		" from_version text NOT NULL DEFAULT '',"
		" to_version text NOT NULL DEFAULT '',"
		" bundle_id text NOT NULL DEFAULT '',"
		" environment text NOT NULL DEFAULT '',"
		" detail text NOT NULL DEFAULT '',"
		" prev_hash text NOT NULL,"
		" hash text NOT NULL)",
		exists ? "" : "CREATE SCHEMA IF NOT EXISTS \"", exists ? "" : db->schema,
		exists ? "" : "\";", "", db->t_mig, db->t_audit);
	if (db->in_tx && pg_flush(db) < 0) {
		free(sql);
		return -1;
	}
	rc = pg_simple_exec(db, db->conn, sql, "creating the bookkeeping tables");
	free(sql);
	if (rc == 0)
		db->bk_seen = 1;
	return rc;
}

static char *dup_or(PGresult *r, int row, int col, const char *dflt)
{
	if (pq.getisnull(r, row, col))
		return dflt ? xstrdup(dflt) : NULL;
	return xstrdup(pq.getvalue(r, row, col));
}

static long long ll(PGresult *r, int row, int col)
{
	return pq.getisnull(r, row, col) ? 0 : strtoll(pq.getvalue(r, row, col), NULL, 10);
}

int pg_bk_read(struct db *db, struct bk_row **out, size_t *n)
{
	PGresult *r;
	char *sql = xasprintf("SELECT version, name, checksum, state, bundle_id, environment, "
			      "applied_at, applied_by, duration_ms, down_sql, irreversible, "
			      "transactional, kind, batches, rows_changed, statement, error, "
			      "audit_hash FROM %s",
			      db->t_mig);
	int rc;
	struct bk_row *rows;
	int i, nt;

	*out = NULL;
	*n = 0;
	if ((rc = bk_select(db, sql, &r, "reading the bookkeeping")) <= 0)
		return rc;
	nt = pq.ntuples(r);
	rows = xcalloc(nt ? (size_t)nt : 1, sizeof(*rows));
	for (i = 0; i < nt; i++) {
		struct bk_row *b = &rows[i];

		b->version = dup_or(r, i, 0, "");
		b->name = dup_or(r, i, 1, "");
		b->checksum = dup_or(r, i, 2, "");
		b->state = dup_or(r, i, 3, "");
		b->bundle_id = dup_or(r, i, 4, "");
		b->environment = dup_or(r, i, 5, "");
		b->applied_at = dup_or(r, i, 6, "");
		b->applied_by = dup_or(r, i, 7, "");
		b->duration_ms = ll(r, i, 8);
		b->down_sql = dup_or(r, i, 9, NULL);
		b->irreversible = pq.getvalue(r, i, 10)[0] == 't';
		b->transactional = pq.getvalue(r, i, 11)[0] == 't';
		b->kind = dup_or(r, i, 12, "schema");
		b->batches = ll(r, i, 13);
		b->rows_changed = ll(r, i, 14);
		b->statement = pq.getisnull(r, i, 15) ? -1 : ll(r, i, 15);
		b->error = dup_or(r, i, 16, NULL);
		b->audit_hash = dup_or(r, i, 17, "");
	}
	pq.clear(r);
	bk_rows_sort(rows, (size_t)nt);
	*out = rows;
	*n = (size_t)nt;
	return 0;
}

/* Appends s as a SQL literal (or NULL). */
static void put_lit(struct db *db, struct buf *b, const char *s, int last)
{
	if (!s) {
		buf_puts(b, "NULL");
	} else {
		char *e = pq.escapeLiteral(db->conn, s, strlen(s));

		if (!e)
			xmalloc((size_t)-1); /* only out of memory or bad encoding */
		buf_puts(b, e);
		pq.freemem(e);
	}
	buf_puts(b, last ? "" : ", ");
}

/* Runs a write now (autocommit), or queues it for the COMMIT. */
static int write_bk(struct db *db, struct buf *sql, const char *what)
{
	int rc = 0;

	if (db->readonly) {
		cairn_error_set("'%s' is open read-only: cannot write the bookkeeping", db->display);
		rc = -1;
	} else if (db->in_tx) {
		buf_put(&db->queued, sql->ptr, sql->len);
		buf_putc(&db->queued, ';');
	} else {
		rc = pg_simple_exec(db, db->conn, sql->ptr, what);
	}
	buf_release(sql);
	return rc;
}

int pg_bk_put(struct db *db, const struct bk_row *row)
{
	struct buf b = BUF_INIT;
	char num[128];

	buf_printf(&b,
		   "INSERT INTO %s (version, name, checksum, state, bundle_id, environment, "
		   "applied_at, applied_by, duration_ms, down_sql, irreversible, transactional, "
		   "kind, batches, rows_changed, statement, error, audit_hash) VALUES (",
		   db->t_mig);
	put_lit(db, &b, row->version, 0);
	put_lit(db, &b, row->name ? row->name : "", 0);
	put_lit(db, &b, row->checksum ? row->checksum : "", 0);
	put_lit(db, &b, row->state ? row->state : BK_PENDING, 0);
	put_lit(db, &b, row->bundle_id ? row->bundle_id : "", 0);
	put_lit(db, &b, row->environment ? row->environment : "", 0);
	put_lit(db, &b, row->applied_at ? row->applied_at : "", 0);
	put_lit(db, &b, row->applied_by ? row->applied_by : "", 0);
	snprintf(num, sizeof(num), "%lld, ", row->duration_ms);
	buf_puts(&b, num);
	put_lit(db, &b, row->down_sql, 0);
	snprintf(num, sizeof(num), "%s, %s, ", row->irreversible ? "true" : "false",
		 row->transactional ? "true" : "false");
	buf_puts(&b, num);
	put_lit(db, &b, row->kind ? row->kind : "schema", 0);
	snprintf(num, sizeof(num), "%lld, %lld, %lld, ", row->batches, row->rows_changed,
		 row->statement);
	buf_puts(&b, num);
	put_lit(db, &b, row->error, 0);
	put_lit(db, &b, row->audit_hash ? row->audit_hash : "", 1);
	buf_puts(&b, ")");
	free(db->progress_lit);
	db->progress_lit = NULL;
	if (row->state && !strcmp(row->state, BK_IN_PROGRESS)) {
		struct buf v = BUF_INIT;

		put_lit(db, &v, row->version, 1);
		db->progress_lit = buf_detach(&v, NULL);
	}
	if (row->is_new) /* a plain insert: no speculative insertion */
		return write_bk(db, &b, "writing the bookkeeping");
	buf_puts(&b, " ON CONFLICT (version) DO UPDATE SET name = EXCLUDED.name, checksum = "
		     "EXCLUDED.checksum, state = EXCLUDED.state, bundle_id = EXCLUDED.bundle_id, "
		     "environment = EXCLUDED.environment, applied_at = EXCLUDED.applied_at, "
		     "applied_by = EXCLUDED.applied_by, duration_ms = EXCLUDED.duration_ms, "
		     "down_sql = EXCLUDED.down_sql, irreversible = EXCLUDED.irreversible, "
		     "transactional = EXCLUDED.transactional, kind = EXCLUDED.kind, batches = "
		     "EXCLUDED.batches, rows_changed = EXCLUDED.rows_changed, statement = "
		     "EXCLUDED.statement, error = EXCLUDED.error, audit_hash = EXCLUDED.audit_hash");
	return write_bk(db, &b, "writing the bookkeeping");
}

int pg_audit_append(struct db *db, const struct audit_row *row)
{
	struct buf b = BUF_INIT;

	buf_printf(&b,
		   "INSERT INTO %s (seq, at, actor, action, version, from_version, to_version, "
		   "bundle_id, environment, detail, prev_hash, hash) VALUES (%lld, ",
		   db->t_audit, row->seq);
	put_lit(db, &b, row->at ? row->at : "", 0);
	put_lit(db, &b, row->actor ? row->actor : "", 0);
	put_lit(db, &b, row->action ? row->action : "", 0);
	put_lit(db, &b, row->version ? row->version : "", 0);
	put_lit(db, &b, row->from_version ? row->from_version : "", 0);
	put_lit(db, &b, row->to_version ? row->to_version : "", 0);
	put_lit(db, &b, row->bundle_id ? row->bundle_id : "", 0);
	put_lit(db, &b, row->environment ? row->environment : "", 0);
	put_lit(db, &b, row->detail ? row->detail : "", 0);
	put_lit(db, &b, row->prev_hash ? row->prev_hash : "", 0);
	put_lit(db, &b, row->hash ? row->hash : "", 1);
	buf_puts(&b, ")");
	return write_bk(db, &b, "appending to the audit trail");
}

int pg_audit_read(struct db *db, int last_only, struct audit_row **out, size_t *n)
{
	PGresult *r;
	char *sql = xasprintf("SELECT seq, at, actor, action, version, from_version, to_version, "
			      "bundle_id, environment, detail, prev_hash, hash FROM %s ORDER BY "
			      "seq %s",
			      db->t_audit, last_only ? "DESC LIMIT 1" : "");
	int rc;
	struct audit_row *rows;
	int i, nt;

	*out = NULL;
	*n = 0;
	if ((rc = bk_select(db, sql, &r, "reading the audit trail")) <= 0)
		return rc;
	nt = pq.ntuples(r);
	rows = xcalloc(nt ? (size_t)nt : 1, sizeof(*rows));
	for (i = 0; i < nt; i++) {
		struct audit_row *a = &rows[i];

		a->seq = ll(r, i, 0);
		a->at = dup_or(r, i, 1, "");
		a->actor = dup_or(r, i, 2, "");
		a->action = dup_or(r, i, 3, "");
		a->version = dup_or(r, i, 4, "");
		a->from_version = dup_or(r, i, 5, "");
		a->to_version = dup_or(r, i, 6, "");
		a->bundle_id = dup_or(r, i, 7, "");
		a->environment = dup_or(r, i, 8, "");
		a->detail = dup_or(r, i, 9, "");
		a->prev_hash = dup_or(r, i, 10, "");
		a->hash = dup_or(r, i, 11, "");
	}
	pq.clear(r);
	*out = rows;
	*n = (size_t)nt;
	return 0;
}

int pg_query_rows(struct db *db, const char *sql, struct driver_rows *out)
{
	PGresult *r;
	size_t i, c;

	memset(out, 0, sizeof(*out));
	if (pg_query_tuples(db, sql, &r, "reading") < 0)
		return -1;
	out->nrows = (size_t)pq.ntuples(r);
	out->ncols = (size_t)pq.nfields(r);
	out->cells = xcalloc(out->nrows * out->ncols + 1, sizeof(*out->cells));
	for (i = 0; i < out->nrows; i++)
		for (c = 0; c < out->ncols; c++)
			out->cells[i * out->ncols + c] =
				pq.getisnull(r, (int)i, (int)c)
					? NULL
					: xstrdup(pq.getvalue(r, (int)i, (int)c));
	pq.clear(r);
	return 0;
}
