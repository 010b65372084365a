/* One check per kind of statement (lint-int.h). Every message names the
 * lock the statement takes, what that lock blocks, and the safe rewrite.
 * ALTER TABLE's subcommands are in rules-alter.c. */
#include <string.h>

#include "lint-int.h"
#include "rules-int.h"

/* ---- what the statements share ---- */

int lint_outside_tx(const struct lint_state *s)
{
	return !s->in->in_transaction && !s->tx_depth;
}

const char *lint_name_of(const PgQuery__Node *n)
{
	return n && n->node_case == PG_QUERY__NODE__NODE_STRING && n->string ? n->string->sval : "";
}

/* The type's own name: "int4" for pg_catalog.int4, "serial" for serial. */
static const char *type_name(const PgQuery__TypeName *t)
{
	return t && t->n_names ? lint_name_of(t->names[t->n_names - 1]) : "";
}

/* A column's type, wherever a column is defined. */
void lint_column_type(struct lint_state *s, const PgQuery__ColumnDef *c)
{
	const char *t = type_name(c->type_name);
	int loc = c->type_name && c->type_name->location >= 0 ? c->type_name->location : c->location;

	if (!strcmp(t, "bpchar"))
		lint_report(s, LR_CHAR_TYPE, loc,
			    "column %s is char(n), which pads values with blanks and compares them oddly; use text (or varchar) with a CHECK on the length",
			    c->colname);
	else if (!strcmp(t, "int4") || !strcmp(t, "serial") || !strcmp(t, "serial4"))
		lint_report(s, LR_INT_KEY, loc,
			    "column %s is a 32-bit integer, which runs out at 2,147,483,647, and changing it later rewrites the table under an ACCESS EXCLUSIVE lock; use bigint",
			    c->colname);
	else if (!strcmp(t, "int2") || !strcmp(t, "smallserial") || !strcmp(t, "serial2"))
		lint_report(s, LR_SMALLINT, loc,
			    "column %s is a 16-bit integer, which runs out at 32,767, and changing it later rewrites the table under an ACCESS EXCLUSIVE lock; use bigint",
			    c->colname);
	else if (!strcmp(t, "varchar") && c->type_name->n_typmods)
		lint_report(s, LR_VARCHAR_LENGTH, loc,
			    "column %s is varchar(n): raising the limit later takes an ACCESS EXCLUSIVE lock; use text with a CHECK (length(...) <= n) constraint, which can be replaced NOT VALID",
			    c->colname);
	else if (!strcmp(t, "timestamp"))
		lint_report(s, LR_TIMESTAMP_NO_TZ, loc,
			    "column %s is timestamp without time zone, which drops the UTC offset of what is stored; use timestamptz",
			    c->colname);
	if (!strcmp(t, "serial") || !strcmp(t, "serial4") || !strcmp(t, "serial8") ||
	    !strcmp(t, "bigserial") || !strcmp(t, "smallserial") || !strcmp(t, "serial2"))
		lint_report(s, LR_SERIAL, loc,
			    "column %s is %s, whose sequence has its own owner and grants; use bigint GENERATED ALWAYS AS IDENTITY",
			    c->colname, t);
}

/* The first statement that takes a strong lock on a table that exists:
 * without lock_timeout it queues behind any long transaction, and every
 * query on the table queues behind it. Said once per script. */
void lint_strong_lock(struct lint_state *s, const char *lock)
{
	if (!(s->timeout_told & 1) && !s->lock_timeout && !s->in->has_lock_timeout) {
		s->timeout_told |= 1;
		if (!strcmp(lock, "SHARE UPDATE EXCLUSIVE"))
			lint_report(s, LR_LOCK_TIMEOUT, -1,
				    "this statement waits for the %s lock with no lock_timeout set: reads and writes go on, but it queues behind any VACUUM, index build or DDL on the table, and the DDL after it queues behind it; set lock_timeout: in migration.yaml (or SET lock_timeout = '2s'; first) and retry on timeout",
				    lock);
		else
			lint_report(s, LR_LOCK_TIMEOUT, -1,
				    "this statement waits for the %s lock with no lock_timeout set: while it waits for the lock, every query on the table waits behind it; set lock_timeout: in migration.yaml (or SET lock_timeout = '2s'; first) and retry on timeout",
				    lock);
	}
	if (!(s->timeout_told & 2) && !s->statement_timeout && !s->in->has_statement_timeout) {
		s->timeout_told |= 2;
		lint_report(s, LR_STATEMENT_TIMEOUT, -1,
			    "this statement holds the %s lock for as long as it runs, with no statement_timeout set; set timeout: in migration.yaml (or SET statement_timeout first)",
			    lock);
	}
}

static void not_rerunnable(struct lint_state *s, const char *what, const char *fix)
{
	if (lint_outside_tx(s))
		lint_report(s, LR_NOT_RERUNNABLE, -1,
			    "%s without %s in a migration that runs outside a transaction: if a later statement fails, a second run fails here; write %s",
			    what, fix, fix);
}

static void table_schema(struct lint_state *s, const PgQuery__RangeVar *rv)
{
	if (rv && (!rv->schemaname || !*rv->schemaname))
		lint_report(s, LR_TABLE_SCHEMA, rv->location,
			    "table %s is named without its schema, so search_path decides which table it is; write the schema (public.%s)",
			    rv->relname, rv->relname);
}

/* ---- one function per statement ---- */

static void create_table(struct lint_state *s, const PgQuery__CreateStmt *c)
{
	size_t i;

	table_schema(s, c->relation);
	if (!c->if_not_exists)
		not_rerunnable(s, "CREATE TABLE", "IF NOT EXISTS");
	for (i = 0; i < c->n_table_elts; i++) {
		const PgQuery__Node *e = c->table_elts[i];

		if (e->node_case == PG_QUERY__NODE__NODE_COLUMN_DEF)
			lint_column_type(s, e->column_def);
	}
	lint_add_created(s, c->relation);
}

static void create_index(struct lint_state *s, const PgQuery__IndexStmt *x)
{
	const char *rel = x->relation ? x->relation->relname : "";

	if (x->concurrent) {
		if (!lint_outside_tx(s))
			lint_report(s, LR_CONCURRENT_IN_TRANSACTION, -1,
				    "CREATE INDEX CONCURRENTLY cannot run inside a transaction block, and this migration runs in one; set transaction: false in migration.yaml, best in a migration of its own");
		if (!x->if_not_exists && x->idxname && *x->idxname)
			not_rerunnable(s, "CREATE INDEX CONCURRENTLY", "IF NOT EXISTS");
		return;
	}
	if (!x->if_not_exists)
		not_rerunnable(s, "CREATE INDEX", "IF NOT EXISTS");
	if (lint_is_new_table(s, x->relation))
		return;
	lint_report(s, LR_INDEX_NOT_CONCURRENT, -1,
		    "CREATE INDEX on %s takes a SHARE lock, which blocks INSERT, UPDATE and DELETE on %s until the whole index is built; use CREATE INDEX CONCURRENTLY in a migration with transaction: false",
		    rel, rel);
	lint_strong_lock(s, "SHARE");
}

static void drop(struct lint_state *s, const PgQuery__DropStmt *d)
{
	if (d->remove_type == PG_QUERY__OBJECT_TYPE__OBJECT_TABLE) {
		lint_report(s, LR_DROP_TABLE, -1,
			    "DROP TABLE takes an ACCESS EXCLUSIVE lock and destroys the table's data; clients of the running release that still use it fail: stop using it in a release first (expand/contract), then drop it");
		lint_strong_lock(s, "ACCESS EXCLUSIVE");
	} else if (d->remove_type == PG_QUERY__OBJECT_TYPE__OBJECT_INDEX) {
		if (d->concurrent && !lint_outside_tx(s))
			lint_report(s, LR_CONCURRENT_IN_TRANSACTION, -1,
				    "DROP INDEX CONCURRENTLY cannot run inside a transaction block, and this migration runs in one; set transaction: false in migration.yaml");
		if (!d->concurrent) {
			lint_report(s, LR_DROP_INDEX_NOT_CONCURRENT, -1,
				    "DROP INDEX takes an ACCESS EXCLUSIVE lock on the index's table, which blocks reads and writes until it is done; use DROP INDEX CONCURRENTLY in a migration with transaction: false");
			lint_strong_lock(s, "ACCESS EXCLUSIVE");
		}
	}
	if (!d->missing_ok)
		not_rerunnable(s, "DROP", "IF EXISTS");
}

static void rename(struct lint_state *s, const PgQuery__RenameStmt *r)
{
	if (lint_is_new_table(s, r->relation))
		return;
	if (r->rename_type == PG_QUERY__OBJECT_TYPE__OBJECT_COLUMN) {
		lint_report(s, LR_RENAME_COLUMN, -1,
			    "RENAME COLUMN %s takes an ACCESS EXCLUSIVE lock, and clients of the running release that use the old name break at once; add the new column, write both, move readers, then drop the old one (expand/contract)",
			    r->subname);
		lint_strong_lock(s, "ACCESS EXCLUSIVE");
	} else if (r->rename_type == PG_QUERY__OBJECT_TYPE__OBJECT_TABLE) {
		lint_report(s, LR_RENAME_TABLE, -1,
			    "RENAME TO %s takes an ACCESS EXCLUSIVE lock, and clients of the running release that use the old name break at once; rename in steps (a view under the old name while clients move)",
			    r->newname);
		lint_strong_lock(s, "ACCESS EXCLUSIVE");
	}
}

static void reindex(struct lint_state *s, const PgQuery__ReindexStmt *r)
{
	size_t i;
	int conc = 0;

	for (i = 0; i < r->n_params; i++)
		if (r->params[i]->node_case == PG_QUERY__NODE__NODE_DEF_ELEM &&
		    !strcmp(r->params[i]->def_elem->defname, "concurrently"))
			conc = 1;
	if (conc) {
		if (!lint_outside_tx(s))
			lint_report(s, LR_CONCURRENT_IN_TRANSACTION, -1,
				    "REINDEX CONCURRENTLY cannot run inside a transaction block, and this migration runs in one; set transaction: false in migration.yaml");
		return;
	}
	if (s->in->cfg && s->in->cfg->pg_version && s->in->cfg->pg_version < 12)
		lint_report(s, LR_REINDEX_NOT_CONCURRENT, -1,
			    "REINDEX takes an ACCESS EXCLUSIVE lock on the index (SHARE on the table), blocking writes and the queries that use it; before PostgreSQL 12 there is no REINDEX CONCURRENTLY: build a new index CONCURRENTLY and drop the old one");
	else
		lint_report(s, LR_REINDEX_NOT_CONCURRENT, -1,
			    "REINDEX takes an ACCESS EXCLUSIVE lock on the index (SHARE on the table), blocking writes and the queries that use it; use REINDEX ... CONCURRENTLY in a migration with transaction: false");
	lint_strong_lock(s, "ACCESS EXCLUSIVE");
}

static void transaction(struct lint_state *s, const PgQuery__TransactionStmt *t)
{
	switch (t->kind) {
	case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_BEGIN:
	case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_START:
		if (!lint_outside_tx(s))
			lint_report(s, LR_TRANSACTION_NESTING, -1,
				    "BEGIN inside the transaction cairn runs this migration in: PostgreSQL ignores it with a warning, and the COMMIT that follows ends cairn's transaction early; delete the BEGIN/COMMIT wrapper");
		if (!s->tx_depth++) {
			s->begin_off = s->stmt_start;
			s->begin_line = s->stmt_line;
			s->begin_end_line = s->stmt_end_line;
		}
		break;
	case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_COMMIT:
	case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_ROLLBACK:
		/* in cairn's transaction the BEGIN was ignored: this ends cairn's */
		s->tx_depth = 0;
		if (s->in->in_transaction)
			lint_report(s, LR_TRANSACTION_NESTING, -1,
				    "this ends the transaction cairn runs the migration in, so what follows runs outside it and cairn's bookkeeping no longer matches; delete it, or set transaction: false in migration.yaml");
		break;
	default:
		break;
	}
}

static void set_variable(struct lint_state *s, const PgQuery__VariableSetStmt *v)
{
	if (!v->name)
		return;
	if (!strcmp(v->name, "lock_timeout"))
		s->lock_timeout = 1;
	else if (!strcmp(v->name, "statement_timeout"))
		s->statement_timeout = 1;
}

static void other(struct lint_state *s, const PgQuery__Node *n)
{
	switch (n->node_case) {
	case PG_QUERY__NODE__NODE_DROPDB_STMT:
		lint_report(s, LR_DROP_DATABASE, -1,
			    "DROP DATABASE %s in a migration destroys a whole database, and cannot run in a transaction; do it by hand, outside the migrations",
			    n->dropdb_stmt->dbname);
		break;
	case PG_QUERY__NODE__NODE_TRUNCATE_STMT:
		if (n->truncate_stmt->behavior == PG_QUERY__DROP_BEHAVIOR__DROP_CASCADE)
			lint_report(s, LR_TRUNCATE_CASCADE, -1,
				    "TRUNCATE ... CASCADE also empties every table with a foreign key to these, and theirs in turn, under ACCESS EXCLUSIVE locks; name each table to truncate and drop CASCADE");
		lint_strong_lock(s, "ACCESS EXCLUSIVE");
		break;
	case PG_QUERY__NODE__NODE_CREATE_DOMAIN_STMT:
		if (n->create_domain_stmt->n_constraints)
			lint_report(s, LR_DOMAIN_CONSTRAINT, -1,
				    "a domain with a constraint: changing the constraint later checks every column of the domain in every table, under their locks, and cannot be done NOT VALID on columns; put a CHECK on the table's columns instead");
		break;
	case PG_QUERY__NODE__NODE_ALTER_DOMAIN_STMT:
		if (n->alter_domain_stmt->subtype && !strcmp(n->alter_domain_stmt->subtype, "C"))
			lint_report(s, LR_ALTER_DOMAIN_CONSTRAINT, -1,
				    "ALTER DOMAIN ... ADD CONSTRAINT scans every column of the domain in every table while holding their locks; use table CHECK constraints added NOT VALID, then VALIDATE");
		break;
	case PG_QUERY__NODE__NODE_ALTER_ENUM_STMT: {
		const PgQuery__AlterEnumStmt *e = n->alter_enum_stmt;

		if (e->new_val && *e->new_val && (!e->old_val || !*e->old_val) &&
		    (!e->new_val_neighbor || !*e->new_val_neighbor))
			lint_report(s, LR_ENUM_VALUE_ORDER, -1,
				    "ADD VALUE '%s' without BEFORE or AFTER puts it last, and enums sort by that order; say where it goes (ADD VALUE '%s' AFTER '...')",
				    e->new_val, e->new_val);
		break;
	}
	case PG_QUERY__NODE__NODE_CREATE_TABLE_AS_STMT:
		if (n->create_table_as_stmt->into)
			lint_add_created(s, n->create_table_as_stmt->into->rel);
		break;
	default:
		break;
	}
}

void lint_rules_stmt(struct lint_state *s, const PgQuery__Node *n)
{
	switch (n->node_case) {
	case PG_QUERY__NODE__NODE_CREATE_STMT:
		create_table(s, n->create_stmt);
		break;
	case PG_QUERY__NODE__NODE_INDEX_STMT:
		create_index(s, n->index_stmt);
		break;
	case PG_QUERY__NODE__NODE_DROP_STMT:
		drop(s, n->drop_stmt);
		break;
	case PG_QUERY__NODE__NODE_RENAME_STMT:
		rename(s, n->rename_stmt);
		break;
	case PG_QUERY__NODE__NODE_REINDEX_STMT:
		reindex(s, n->reindex_stmt);
		break;
	case PG_QUERY__NODE__NODE_ALTER_TABLE_STMT:
		lint_alter_table(s, n->alter_table_stmt);
		break;
	case PG_QUERY__NODE__NODE_TRANSACTION_STMT:
		transaction(s, n->transaction_stmt);
		break;
	case PG_QUERY__NODE__NODE_VARIABLE_SET_STMT:
		set_variable(s, n->variable_set_stmt);
		break;
	default:
		other(s, n);
		break;
	}
}

void lint_rules_end(struct lint_state *s)
{
	if (!s->tx_depth)
		return;
	s->stmt_start = s->begin_off;
	s->stmt_line = s->begin_line;
	s->stmt_end_line = s->begin_end_line;
	s->nwaivers = 0;
	lint_report(s, LR_UNCOMMITTED_TRANSACTION, -1,
		    "BEGIN is never followed by COMMIT or ROLLBACK, so the transaction stays open when the script ends; end it, or drop the BEGIN");
}
