/* What a PostgreSQL script needs from the role that runs it, from
 * libpg_query's protobuf tree (the linter's way of reading SQL, lint/lint.c):
 * a need is a test on typed fields, never a substring of the text. */
#include <pg_query.h>
#include <pg_query/pg_query.pb-c.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/buf.h"
#include "../lib/error.h"
#include "sqlneeds.h"

struct scan {
	struct sql_needs *out;
	const char *script;
	int line;
	const char *what;
};

static void add(struct scan *s, enum sql_need_kind kind, const char *schema, const char *name,
		int creates)
{
	struct sql_need *n;

	ALLOC_GROW(s->out->items, s->out->n + 1, s->out->alloc);
	n = &s->out->items[s->out->n++];
	memset(n, 0, sizeof(*n));
	n->kind = kind;
	n->schema = schema && *schema ? xstrdup(schema) : NULL;
	n->name = name && *name ? xstrdup(name) : NULL;
	n->what = xstrdup(s->what);
	n->line = s->line;
	n->creates = creates;
}

static void add_rel(struct scan *s, enum sql_need_kind kind, const PgQuery__RangeVar *rv,
		    int creates)
{
	if (rv && rv->relname && *rv->relname)
		add(s, kind, rv->schemaname, rv->relname, creates);
}

/* A name given as a list of String nodes: [schema.]name. */
static void list_name(PgQuery__Node *const *items, size_t n, const char **schema,
		      const char **name)
{
	*schema = *name = NULL;
	if (n >= 1 && items[n - 1]->node_case == PG_QUERY__NODE__NODE_STRING)
		*name = items[n - 1]->string->sval;
	if (n >= 2 && items[n - 2]->node_case == PG_QUERY__NODE__NODE_STRING)
		*schema = items[n - 2]->string->sval;
}

/* A new object named by a list lives in a schema: CREATE on it. */
static void new_in_schema(struct scan *s, PgQuery__Node *const *items, size_t n)
{
	const char *schema, *name;

	list_name(items, n, &schema, &name);
	add(s, NEED_SCHEMA_CREATE, schema, NULL, 0);
}

static void drop(struct scan *s, const PgQuery__DropStmt *d)
{
	size_t i;

	switch (d->remove_type) {
	case PG_QUERY__OBJECT_TYPE__OBJECT_TABLE:
	case PG_QUERY__OBJECT_TYPE__OBJECT_VIEW:
	case PG_QUERY__OBJECT_TYPE__OBJECT_MATVIEW:
	case PG_QUERY__OBJECT_TYPE__OBJECT_SEQUENCE:
	case PG_QUERY__OBJECT_TYPE__OBJECT_INDEX:
	case PG_QUERY__OBJECT_TYPE__OBJECT_FOREIGN_TABLE:
		break;
	default:
		return;
	}
	for (i = 0; i < d->n_objects; i++) {
		const PgQuery__Node *o = d->objects[i];
		const char *schema, *name;

		if (o->node_case != PG_QUERY__NODE__NODE_LIST)
			continue;
		list_name(o->list->items, o->list->n_items, &schema, &name);
		if (name) {
			add(s, NEED_TABLE_OWNER, schema, name, 0);
			s->out->items[s->out->n - 1].missing_ok = d->missing_ok;
		}
	}
}

static void statement(struct scan *s, const PgQuery__Node *n)
{
	switch (n->node_case) {
	case PG_QUERY__NODE__NODE_CREATE_STMT:
		s->what = "CREATE TABLE";
		add(s, NEED_SCHEMA_CREATE, n->create_stmt->relation->schemaname, NULL, 0);
		add_rel(s, NEED_TABLE_OWNER, n->create_stmt->relation, 1);
		break;
	case PG_QUERY__NODE__NODE_CREATE_TABLE_AS_STMT:
		s->what = "CREATE TABLE AS";
		if (n->create_table_as_stmt->into) {
			add(s, NEED_SCHEMA_CREATE, n->create_table_as_stmt->into->rel->schemaname,
			    NULL, 0);
			add_rel(s, NEED_TABLE_OWNER, n->create_table_as_stmt->into->rel, 1);
		}
		break;
	case PG_QUERY__NODE__NODE_VIEW_STMT:
		s->what = "CREATE VIEW";
		add(s, NEED_SCHEMA_CREATE, n->view_stmt->view->schemaname, NULL, 0);
		add_rel(s, NEED_TABLE_OWNER, n->view_stmt->view, 1);
		break;
	case PG_QUERY__NODE__NODE_CREATE_SEQ_STMT:
		s->what = "CREATE SEQUENCE";
		add(s, NEED_SCHEMA_CREATE, n->create_seq_stmt->sequence->schemaname, NULL, 0);
		add_rel(s, NEED_TABLE_OWNER, n->create_seq_stmt->sequence, 1);
		break;
	case PG_QUERY__NODE__NODE_CREATE_FUNCTION_STMT:
		s->what = "CREATE FUNCTION";
		new_in_schema(s, n->create_function_stmt->funcname,
			      n->create_function_stmt->n_funcname);
		break;
	case PG_QUERY__NODE__NODE_CREATE_ENUM_STMT:
		s->what = "CREATE TYPE";
		new_in_schema(s, n->create_enum_stmt->type_name, n->create_enum_stmt->n_type_name);
		break;
	case PG_QUERY__NODE__NODE_COMPOSITE_TYPE_STMT:
		s->what = "CREATE TYPE";
		add(s, NEED_SCHEMA_CREATE, n->composite_type_stmt->typevar->schemaname, NULL, 0);
		break;
	case PG_QUERY__NODE__NODE_INDEX_STMT:
		s->what = "CREATE INDEX";
		add_rel(s, NEED_TABLE_OWNER, n->index_stmt->relation, 0);
		break;
	case PG_QUERY__NODE__NODE_ALTER_TABLE_STMT:
		s->what = "ALTER TABLE";
		add_rel(s, NEED_TABLE_OWNER, n->alter_table_stmt->relation, 0);
		if (s->out->n)
			s->out->items[s->out->n - 1].missing_ok = n->alter_table_stmt->missing_ok;
		break;
	case PG_QUERY__NODE__NODE_RENAME_STMT:
		s->what = "ALTER ... RENAME";
		add_rel(s, NEED_TABLE_OWNER, n->rename_stmt->relation, 0);
		break;
	case PG_QUERY__NODE__NODE_DROP_STMT:
		s->what = "DROP";
		drop(s, n->drop_stmt);
		break;
	case PG_QUERY__NODE__NODE_TRUNCATE_STMT: {
		size_t i;

		s->what = "TRUNCATE";
		for (i = 0; i < n->truncate_stmt->n_relations; i++)
			if (n->truncate_stmt->relations[i]->node_case == PG_QUERY__NODE__NODE_RANGE_VAR)
				add_rel(s, NEED_TABLE_TRUNCATE,
					n->truncate_stmt->relations[i]->range_var, 0);
		break;
	}
	case PG_QUERY__NODE__NODE_INSERT_STMT:
		s->what = "INSERT";
		add_rel(s, NEED_TABLE_INSERT, n->insert_stmt->relation, 0);
		break;
	case PG_QUERY__NODE__NODE_UPDATE_STMT:
		s->what = "UPDATE";
		add_rel(s, NEED_TABLE_UPDATE, n->update_stmt->relation, 0);
		break;
	case PG_QUERY__NODE__NODE_DELETE_STMT:
		s->what = "DELETE";
		add_rel(s, NEED_TABLE_DELETE, n->delete_stmt->relation, 0);
		break;
	case PG_QUERY__NODE__NODE_CREATE_SCHEMA_STMT:
		s->what = "CREATE SCHEMA";
		add(s, NEED_DB_CREATE, NULL, n->create_schema_stmt->schemaname, 1);
		break;
	case PG_QUERY__NODE__NODE_CREATE_EXTENSION_STMT:
		s->what = "CREATE EXTENSION";
		add(s, NEED_EXTENSION, NULL, n->create_extension_stmt->extname, 0);
		break;
	default:
		break;
	}
}

static int line_at(const char *script, size_t off)
{
	size_t i;
	int line = 1;

	for (i = 0; i < off && script[i]; i++)
		if (script[i] == '\n')
			line++;
	/* the statement starts after the blanks that follow the last ';' */
	for (; script[i] == ' ' || script[i] == '\t' || script[i] == '\n' || script[i] == '\r'; i++)
		if (script[i] == '\n')
			line++;
	return line;
}

static int stmt_line(const char *script, const PgQuery__RawStmt *rs)
{
	return line_at(script, (size_t)(rs->stmt_location > 0 ? rs->stmt_location : 0));
}

/* The script's parse tree: 0, or -1 with the error set (line, message);
 * parse_free either way. */
static int parse(const char *script, PgQueryProtobufParseResult *r, PgQuery__ParseResult **tree)
{
	*tree = NULL;
	*r = pg_query_parse_protobuf(script);
	if (r->error) {
		cairn_error_set("line %d: %s",
				line_at(script, (size_t)(r->error->cursorpos > 0
							 ? r->error->cursorpos - 1 : 0)),
				r->error->message);
		return -1;
	}
	*tree = pg_query__parse_result__unpack(NULL, r->parse_tree.len,
					       (const uint8_t *)r->parse_tree.data);
	if (!*tree) {
		cairn_error_set("cannot read the parse tree");
		return -1;
	}
	return 0;
}

static void parse_free(PgQueryProtobufParseResult *r, PgQuery__ParseResult *tree)
{
	if (tree)
		pg_query__parse_result__free_unpacked(tree, NULL);
	pg_query_free_protobuf_parse_result(*r);
}

int sql_needs_scan(struct sql_needs *out, const char *script)
{
	PgQueryProtobufParseResult r;
	PgQuery__ParseResult *tree;
	struct scan s;
	size_t i;
	int rc = parse(script, &r, &tree);

	memset(&s, 0, sizeof(s));
	s.out = out;
	s.script = script;
	for (i = 0; !rc && i < tree->n_stmts; i++) {
		const PgQuery__RawStmt *rs = tree->stmts[i];

		if (!rs->stmt)
			continue;
		s.line = stmt_line(script, rs);
		s.what = "";
		statement(&s, rs->stmt);
	}
	parse_free(&r, tree);
	return rc;
}

void sql_needs_release(struct sql_needs *n)
{
	size_t i;

	if (!n)
		return;
	for (i = 0; i < n->n; i++) {
		free(n->items[i].schema);
		free(n->items[i].name);
		free(n->items[i].what);
	}
	free(n->items);
	memset(n, 0, sizeof(*n));
}

static int same(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

int sql_needs_created(const struct sql_needs *n, size_t upto, enum sql_need_kind kind,
		      const char *schema, const char *name)
{
	size_t i;

	for (i = 0; i < upto && i < n->n; i++)
		if (n->items[i].creates && n->items[i].kind == kind && same(n->items[i].schema, schema) &&
		    same(n->items[i].name, name))
			return 1;
	return 0;
}

const char *sql_need_kind_name(enum sql_need_kind k)
{
	switch (k) {
	case NEED_SCHEMA_CREATE: return "CREATE on schema";
	case NEED_TABLE_OWNER: return "ownership of";
	case NEED_TABLE_TRUNCATE: return "TRUNCATE on";
	case NEED_DB_CREATE: return "CREATE on the database";
	case NEED_EXTENSION: return "CREATE on the database (extension)";
	case NEED_TABLE_INSERT: return "INSERT on";
	case NEED_TABLE_UPDATE: return "UPDATE on";
	case NEED_TABLE_DELETE: return "DELETE on";
	}
	return "?";
}

static const char *alter_destroys(const PgQuery__AlterTableStmt *a)
{
	size_t i;

	for (i = 0; i < a->n_cmds; i++) {
		const PgQuery__Node *c = a->cmds[i];

		if (c->node_case != PG_QUERY__NODE__NODE_ALTER_TABLE_CMD)
			continue;
		if (c->alter_table_cmd->subtype == PG_QUERY__ALTER_TABLE_TYPE__AT_DropColumn)
			return "DROP COLUMN";
		if (c->alter_table_cmd->subtype == PG_QUERY__ALTER_TABLE_TYPE__AT_AlterColumnType)
			return "ALTER COLUMN TYPE";
	}
	return NULL;
}

static const char *destroys(const PgQuery__Node *n)
{
	switch (n->node_case) {
	case PG_QUERY__NODE__NODE_DROP_STMT:
		if (n->drop_stmt->remove_type == PG_QUERY__OBJECT_TYPE__OBJECT_TABLE)
			return "DROP TABLE";
		if (n->drop_stmt->remove_type == PG_QUERY__OBJECT_TYPE__OBJECT_SCHEMA)
			return "DROP SCHEMA";
		return NULL;
	case PG_QUERY__NODE__NODE_ALTER_TABLE_STMT:
		return alter_destroys(n->alter_table_stmt);
	case PG_QUERY__NODE__NODE_TRUNCATE_STMT:
		return "TRUNCATE";
	case PG_QUERY__NODE__NODE_DELETE_STMT:
		return n->delete_stmt->where_clause ? NULL : "DELETE without WHERE";
	case PG_QUERY__NODE__NODE_UPDATE_STMT:
		return n->update_stmt->where_clause ? NULL : "UPDATE without WHERE";
	default:
		return NULL;
	}
}

int sql_destructive(const char *script, char **what)
{
	PgQueryProtobufParseResult r;
	PgQuery__ParseResult *tree;
	size_t i;
	int rc = parse(script, &r, &tree);

	*what = NULL;
	for (i = 0; !rc && i < tree->n_stmts; i++) {
		const PgQuery__RawStmt *rs = tree->stmts[i];
		const char *d = rs->stmt ? destroys(rs->stmt) : NULL;

		if (d) {
			*what = xasprintf("line %d: %s", stmt_line(script, rs), d);
			rc = 1;
		}
	}
	parse_free(&r, tree);
	return rc;
}

/* "schema"."name" (or "name" alone): what to_regclass reads exactly. */
static void put_ident(struct buf *b, const char *s)
{
	buf_putc(b, '"');
	for (; *s; s++) {
		if (*s == '"')
			buf_putc(b, '"');
		buf_putc(b, *s);
	}
	buf_putc(b, '"');
}

char *sql_need_relname(const struct sql_need *n)
{
	struct buf b = BUF_INIT;

	if (n->schema) {
		put_ident(&b, n->schema);
		buf_putc(&b, '.');
	}
	put_ident(&b, n->name);
	return buf_detach(&b, NULL);
}

/* Needs that an earlier statement of the pending migrations meets itself. */
int sql_needs_met(const struct sql_needs *all, size_t i)
{
	const struct sql_need *n = &all->items[i];

	if (n->creates && n->kind == NEED_TABLE_OWNER)
		return 1;
	if (n->kind == NEED_SCHEMA_CREATE)
		return n->schema && sql_needs_created(all, i, NEED_DB_CREATE, NULL, n->schema);
	if (n->kind == NEED_DB_CREATE || n->kind == NEED_EXTENSION)
		return 0;
	return sql_needs_created(all, i, NEED_TABLE_OWNER, n->schema, n->name) ||
	       (!n->schema && sql_needs_created(all, i, NEED_TABLE_OWNER, NULL, n->name));
}

/* The tables the pending statements touch that exist now, as
 * to_regclass reads them. */
size_t sql_needs_tables(const struct sql_needs *all, char ***out)
{
	char **t = NULL;
	size_t n = 0, i, j, alloc = 0;

	for (i = 0; i < all->n; i++) {
		const struct sql_need *x = &all->items[i];
		char *r;

		if (!x->name || x->kind == NEED_SCHEMA_CREATE || x->kind == NEED_DB_CREATE ||
		    x->kind == NEED_EXTENSION || sql_needs_met(all, i))
			continue;
		r = sql_need_relname(x);
		for (j = 0; j < n && strcmp(t[j], r); j++)
			;
		if (j < n) {
			free(r);
			continue;
		}
		ALLOC_GROW(t, n + 1, alloc);
		t[n++] = r;
	}
	*out = t;
	return n;
}

/* ---- what a script creates (restore, ops20d) ---- */

static void created_add(struct sql_created *c, const char *kind, const char *schema,
			const char *name, int line, int may_exist)
{
	struct sql_created_obj *o;
	size_t i;

	if (!name || !*name)
		return;
	if (schema && !*schema)
		schema = NULL;
	for (i = 0; i < c->n; i++) /* CREATE OR REPLACE of what it created before */
		if (!strcmp(c->items[i].kind, kind) && same(c->items[i].schema, schema) &&
		    !strcmp(c->items[i].name, name))
			return;
	ALLOC_GROW(c->items, c->n + 1, c->alloc);
	o = &c->items[c->n++];
	memset(o, 0, sizeof(*o));
	o->kind = kind;
	o->schema = schema ? xstrdup(schema) : NULL;
	o->name = xstrdup(name);
	o->line = line;
	o->may_exist = may_exist;
}

static void created_list(struct sql_created *c, const char *kind, PgQuery__Node *const *items,
			 size_t n, int line, int may_exist)
{
	const char *schema, *name;

	list_name(items, n, &schema, &name);
	created_add(c, kind, schema, name, line, may_exist);
}

static void created_rel(struct sql_created *c, const char *kind, const PgQuery__RangeVar *rv,
			int line, int may_exist)
{
	if (rv)
		created_add(c, kind, rv->schemaname, rv->relname, line, may_exist);
}

/* 1 when rv names a relation the script created before */
static int created_before(const struct sql_created *c, const PgQuery__RangeVar *rv)
{
	size_t i;

	for (i = 0; rv && i < c->n; i++)
		if ((!strcmp(c->items[i].kind, "TABLE") || !strcmp(c->items[i].kind, "VIEW")) &&
		    same(c->items[i].schema,
			 rv->schemaname && *rv->schemaname ? rv->schemaname : NULL) &&
		    !strcmp(c->items[i].name, rv->relname))
			return 1;
	return 0;
}

/* The statement recorded in c; 0, or -1 when restore cannot follow it. */
static int created_stmt(struct sql_created *c, const PgQuery__Node *n, int line)
{
	switch (n->node_case) {
	case PG_QUERY__NODE__NODE_CREATE_STMT:
		created_rel(c, "TABLE", n->create_stmt->relation, line, n->create_stmt->if_not_exists);
		return 0;
	case PG_QUERY__NODE__NODE_CREATE_TABLE_AS_STMT:
		if (n->create_table_as_stmt->into)
			created_rel(c, n->create_table_as_stmt->objtype ==
						PG_QUERY__OBJECT_TYPE__OBJECT_MATVIEW
					       ? "MATERIALIZED VIEW" : "TABLE",
				    n->create_table_as_stmt->into->rel, line,
				    n->create_table_as_stmt->if_not_exists);
		return 0;
	case PG_QUERY__NODE__NODE_VIEW_STMT:
		created_rel(c, "VIEW", n->view_stmt->view, line, n->view_stmt->replace);
		return 0;
	case PG_QUERY__NODE__NODE_CREATE_SEQ_STMT:
		created_rel(c, "SEQUENCE", n->create_seq_stmt->sequence, line,
			    n->create_seq_stmt->if_not_exists);
		return 0;
	case PG_QUERY__NODE__NODE_CREATE_ENUM_STMT:
		created_list(c, "TYPE", n->create_enum_stmt->type_name,
			     n->create_enum_stmt->n_type_name, line, 0);
		return 0;
	case PG_QUERY__NODE__NODE_CREATE_RANGE_STMT:
		created_list(c, "TYPE", n->create_range_stmt->type_name,
			     n->create_range_stmt->n_type_name, line, 0);
		return 0;
	case PG_QUERY__NODE__NODE_COMPOSITE_TYPE_STMT:
		created_rel(c, "TYPE", n->composite_type_stmt->typevar, line, 0);
		return 0;
	case PG_QUERY__NODE__NODE_CREATE_DOMAIN_STMT:
		created_list(c, "DOMAIN", n->create_domain_stmt->domainname,
			     n->create_domain_stmt->n_domainname, line, 0);
		return 0;
	case PG_QUERY__NODE__NODE_CREATE_FUNCTION_STMT:
		created_list(c, n->create_function_stmt->is_procedure ? "PROCEDURE" : "FUNCTION",
			     n->create_function_stmt->funcname, n->create_function_stmt->n_funcname,
			     line, n->create_function_stmt->replace);
		return 0;
	case PG_QUERY__NODE__NODE_CREATE_SCHEMA_STMT:
		if (n->create_schema_stmt->n_schema_elts)
			return -1;
		created_add(c, "SCHEMA", NULL, n->create_schema_stmt->schemaname, line,
			    n->create_schema_stmt->if_not_exists);
		return 0;
	case PG_QUERY__NODE__NODE_CREATE_EXTENSION_STMT:
		created_add(c, "EXTENSION", NULL, n->create_extension_stmt->extname, line,
			    n->create_extension_stmt->if_not_exists);
		return 0;
	case PG_QUERY__NODE__NODE_RENAME_STMT:
		/* a column or a constraint: the table comes back from the dump;
		 * a table renamed: the new name is what the dump does not replace */
		if (n->rename_stmt->rename_type == PG_QUERY__OBJECT_TYPE__OBJECT_COLUMN ||
		    n->rename_stmt->rename_type == PG_QUERY__OBJECT_TYPE__OBJECT_TABCONSTRAINT)
			return 0;
		if (n->rename_stmt->rename_type != PG_QUERY__OBJECT_TYPE__OBJECT_TABLE ||
		    !n->rename_stmt->relation)
			return -1;
		created_add(c, "TABLE", n->rename_stmt->relation->schemaname,
			    n->rename_stmt->newname, line, 0);
		return 0;
	case PG_QUERY__NODE__NODE_CREATE_TRIG_STMT:
		return created_before(c, n->create_trig_stmt->relation) ? 0 : -1;
	case PG_QUERY__NODE__NODE_CREATE_POLICY_STMT:
		return created_before(c, n->create_policy_stmt->table) ? 0 : -1;
	case PG_QUERY__NODE__NODE_DROP_STMT:
		switch (n->drop_stmt->remove_type) {
		case PG_QUERY__OBJECT_TYPE__OBJECT_TABLE:
		case PG_QUERY__OBJECT_TYPE__OBJECT_VIEW:
		case PG_QUERY__OBJECT_TYPE__OBJECT_MATVIEW:
		case PG_QUERY__OBJECT_TYPE__OBJECT_SEQUENCE:
			return 0; /* dumped by name (pg_dump --table) */
		default:
			return -1;
		}
	/* on the dumped tables (they come back whole, indexes, constraints,
	 * comments and grants included) or on what the script created */
	case PG_QUERY__NODE__NODE_INDEX_STMT:
	case PG_QUERY__NODE__NODE_ALTER_TABLE_STMT:
	case PG_QUERY__NODE__NODE_COMMENT_STMT:
	case PG_QUERY__NODE__NODE_GRANT_STMT:
	case PG_QUERY__NODE__NODE_INSERT_STMT:
	case PG_QUERY__NODE__NODE_UPDATE_STMT:
	case PG_QUERY__NODE__NODE_DELETE_STMT:
	case PG_QUERY__NODE__NODE_TRUNCATE_STMT:
	case PG_QUERY__NODE__NODE_SELECT_STMT:
	case PG_QUERY__NODE__NODE_COPY_STMT:
	case PG_QUERY__NODE__NODE_VARIABLE_SET_STMT:
	case PG_QUERY__NODE__NODE_TRANSACTION_STMT:
		return 0;
	default:
		return -1;
	}
}

/* The name of a statement's node ("do_stmt"), for messages: the field of
 * the node's own descriptor (the unpacked message points at it) whose id
 * is the node's case. Read as data, so the applier, which loads
 * libpg_query at first use (lib/pg-query-load.c), needs none of its
 * symbols for it. */
static const char *node_name(const PgQuery__Node *n)
{
	const ProtobufCMessageDescriptor *d = n->base.descriptor;
	unsigned i;

	for (i = 0; d && i < d->n_fields; i++)
		if (d->fields[i].id == (uint32_t)n->node_case)
			return d->fields[i].name;
	return "statement";
}

int sql_created_scan(struct sql_created *out, const char *script)
{
	PgQueryProtobufParseResult r;
	PgQuery__ParseResult *tree;
	size_t i;
	int rc = parse(script, &r, &tree);

	memset(out, 0, sizeof(*out));
	for (i = 0; !rc && i < tree->n_stmts; i++) {
		const PgQuery__RawStmt *rs = tree->stmts[i];
		int line;

		if (!rs->stmt)
			continue;
		line = stmt_line(script, rs);
		if (created_stmt(out, rs->stmt, line) < 0) {
			out->unknown = xasprintf("line %d: %s", line, node_name(rs->stmt));
			rc = 1;
		}
	}
	parse_free(&r, tree);
	return rc;
}

void sql_created_release(struct sql_created *c)
{
	size_t i;

	if (!c)
		return;
	for (i = 0; i < c->n; i++) {
		free(c->items[i].schema);
		free(c->items[i].name);
	}
	free(c->items);
	free(c->unknown);
	memset(c, 0, sizeof(*c));
}

char *sql_created_name(const struct sql_created_obj *o, const char *schema)
{
	struct buf b = BUF_INIT;

	if (schema) {
		put_ident(&b, schema);
		buf_putc(&b, '.');
	}
	put_ident(&b, o->name);
	return buf_detach(&b, NULL);
}
