/* operation: in migration.yaml (issue #22): a column change cairn build
 * expands into PostgreSQL's safe sequence. This file reads the operation
 * and checks it against the project and the migration's phase and kind;
 * operation-sql.c writes the SQL. */
#include <ctype.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/error.h"
#include "../lib/util.h"
#include "../lib/yaml.h"
#include "operation-int.h"
#include "project.h"

/* The operations and their keys: required first, then '|', then optional. */
static const struct op_spec {
	const char *name;
	enum op_kind kind;
	const char *const keys[9];
} specs[] = {
	{ "rename_column", OP_RENAME_COLUMN, { "table", "column", "to", "type", "|" } },
	{ "change_type", OP_CHANGE_TYPE,
	  { "table", "column", "to", "type", "from_type", "using", "down_using", "|" } },
	{ "set_not_null", OP_SET_NOT_NULL, { "table", "column", "|" } },
	{ "add_check", OP_ADD_CHECK, { "table", "name", "check", "|" } },
	{ "add_foreign_key", OP_ADD_FOREIGN_KEY,
	  { "table", "columns", "references", "|", "name", "on_delete" } },
	{ "add_unique", OP_ADD_UNIQUE, { "table", "columns", "|", "name" } },
};
#define NSPECS (sizeof(specs) / sizeof(specs[0]))

static const char *const op_names[] = {
	"rename_column", "change_type", "set_not_null", "add_check", "add_foreign_key",
	"add_unique", NULL,
};

static const char *const on_delete_values[] = {
	"cascade", "restrict", "set null", "set default", "no action", NULL,
};

void operation_free(struct mig_op *op)
{
	if (!op)
		return;
	free(op->table);
	free(op->column);
	free(op->to);
	free(op->type);
	free(op->from_type);
	free(op->using_expr);
	free(op->down_using);
	free(op->name);
	free(op->check);
	free(op->ref_table);
	free(op->on_delete);
	strlist_release(&op->columns);
	strlist_release(&op->ref_columns);
	free(op);
}

/* A lower-case name PostgreSQL keeps as written: [a-z_][a-z0-9_]*, at most
 * 63 bytes (cairn quotes it, so a reserved word works too). */
int op_ident_ok(const char *s, size_t len)
{
	size_t i;

	if (!len || len > 63 || !(islower((unsigned char)s[0]) || s[0] == '_'))
		return 0;
	for (i = 1; i < len; i++)
		if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '_'))
			return 0;
	return 1;
}

/* table, or schema.table */
static int table_ok(const char *s)
{
	const char *dot = strchr(s, '.');

	if (!dot)
		return op_ident_ok(s, strlen(s));
	return op_ident_ok(s, (size_t)(dot - s)) && op_ident_ok(dot + 1, strlen(dot + 1));
}

/* A type as written in a column definition: numeric(12, 2), text[],
 * timestamp with time zone; no quotes, comments or statement ends. */
static int type_ok(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!(isalnum((unsigned char)*s) || strchr("_ (),.[]", *s)))
			return 0;
	return 1;
}

static void bad(struct findings *f, const char *path, const struct ynode *n, const char *fmt,
		const char *a, const char *b)
{
	findings_add(f, SEV_ERROR, path, n->line, n->col, "bad-operation", fmt, a, b);
}

static char **scalar_field(struct mig_op *op, const char *key)
{
	static const struct { const char *key; size_t off; } fields[] = {
		{ "table", offsetof(struct mig_op, table) },
		{ "column", offsetof(struct mig_op, column) },
		{ "to", offsetof(struct mig_op, to) },
		{ "type", offsetof(struct mig_op, type) },
		{ "from_type", offsetof(struct mig_op, from_type) },
		{ "using", offsetof(struct mig_op, using_expr) },
		{ "down_using", offsetof(struct mig_op, down_using) },
		{ "name", offsetof(struct mig_op, name) },
		{ "check", offsetof(struct mig_op, check) },
		{ "on_delete", offsetof(struct mig_op, on_delete) },
	};
	size_t i;

	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (!strcmp(fields[i].key, key))
			return (char **)((char *)op + fields[i].off);
	return NULL;
}

/* columns: [a, b] (or one name) */
static void parse_columns(struct strlist *out, struct findings *f, const char *path,
			  const char *key, const struct ynode *v)
{
	size_t i;

	if (v->type == YNODE_SCALAR && op_ident_ok(v->str, v->len)) {
		strlist_push(out, v->str);
		return;
	}
	for (i = 0; v->type == YNODE_SEQ && i < v->n; i++) {
		const struct ynode *c = v->items[i];

		if (c->type != YNODE_SCALAR || !op_ident_ok(c->str, c->len)) {
			bad(f, path, c, "'%s' must list column names ([a-z_][a-z0-9_]*, at most 63 bytes)%s",
			    key, "");
			return;
		}
		strlist_push(out, c->str);
	}
	if (v->type != YNODE_SEQ || !v->n)
		bad(f, path, v, "'%s' must be a list of column names, such as [customer_id]%s", key,
		    "");
}

/* references: {table: customers, columns: [id]} */
static void parse_references(struct mig_op *op, struct findings *f, const char *path,
			     const struct ynode *v)
{
	size_t i;

	if (v->type != YNODE_MAP) {
		bad(f, path, v, "'references' must be a map such as {table: customers, columns: [id]}%s%s",
		    "", "");
		return;
	}
	for (i = 0; i < v->n; i++) {
		const struct ynode *k = ynode_key(v, i), *rv = ynode_val(v, i);

		if (!strcmp(k->str, "table") && rv->type == YNODE_SCALAR && table_ok(rv->str))
			op->ref_table = xstrdup(rv->str);
		else if (!strcmp(k->str, "table"))
			bad(f, path, rv, "'references: table' must be a table name (or schema.table)%s%s",
			    "", "");
		else if (!strcmp(k->str, "columns"))
			parse_columns(&op->ref_columns, f, path, "references: columns", rv);
		else
			bad(f, path, k, "unknown key 'references: %s' (cairn knows references: {table, columns})%s",
			    k->str, "");
	}
	if (!op->ref_table || !op->ref_columns.n)
		bad(f, path, v, "'references' needs table and columns%s%s", "", "");
}

/* One key of the operation's map: checked for its kind of value. */
static void parse_key(struct mig_op *op, struct findings *f, const char *path,
		      const struct ynode *k, const struct ynode *v)
{
	char **field = scalar_field(op, k->str);
	const char *s = v->type == YNODE_SCALAR ? v->str : NULL;

	if (!strcmp(k->str, "columns")) {
		parse_columns(&op->columns, f, path, k->str, v);
		return;
	}
	if (!strcmp(k->str, "references")) {
		parse_references(op, f, path, v);
		return;
	}
	if (!field)
		return;
	if (!s || !*s) {
		bad(f, path, v, "'%s' must be a string%s", k->str, "");
		return;
	}
	if ((!strcmp(k->str, "table") && !table_ok(s)) ||
	    ((!strcmp(k->str, "column") || !strcmp(k->str, "to") || !strcmp(k->str, "name")) &&
	     !op_ident_ok(s, v->len))) {
		bad(f, path, v, "'%s' must be a lower-case name ([a-z_][a-z0-9_]*, at most 63 bytes; a table may be schema.table), not '%s'",
		    k->str, s);
		return;
	}
	if ((!strcmp(k->str, "type") || !strcmp(k->str, "from_type")) && !type_ok(s)) {
		bad(f, path, v, "'%s' must be a column type such as numeric(12,2) or text[], not '%s'",
		    k->str, s);
		return;
	}
	if (!strcmp(k->str, "on_delete") && !strlist_find_static(on_delete_values, s)) {
		bad(f, path, v, "'on_delete' must be cascade, restrict, set null, set default or no action, not '%s'%s",
		    s, "");
		return;
	}
	if (strstr(s, "$cairn$")) {
		bad(f, path, v, "'%s' may not hold '$cairn$', the quote of the generated function%s",
		    k->str, "");
		return;
	}
	*field = xstrdup(s);
}

int strlist_find_static(const char *const *list, const char *s)
{
	for (; *list; list++)
		if (!strcmp(*list, s))
			return 1;
	return 0;
}

static void parse_body(struct mig_op *op, const struct op_spec *sp, struct findings *f,
		       const char *path, const struct ynode *name, const struct ynode *v)
{
	size_t i, j;
	int optional;

	if (v->type != YNODE_MAP) {
		bad(f, path, v, "'operation: %s' must be a map of its keys, such as {table: users, ...}%s",
		    sp->name, "");
		return;
	}
	for (i = 0; i < v->n; i++) {
		const struct ynode *k = ynode_key(v, i);

		for (j = 0; sp->keys[j] && (!strcmp(sp->keys[j], "|") || strcmp(sp->keys[j], k->str)); j++)
			;
		if (!sp->keys[j]) {
			struct buf known = BUF_INIT;

			for (j = 0; sp->keys[j]; j++)
				if (strcmp(sp->keys[j], "|"))
					buf_printf(&known, "%s%s", known.len ? ", " : "", sp->keys[j]);
			findings_add(f, SEV_ERROR, path, k->line, k->col, "unknown-key",
				     "unknown key '%s: %s' (cairn knows %s: {%s}; cairn(1), \"Operations\")",
				     sp->name, k->str, sp->name, buf_cstr(&known));
			buf_release(&known);
			continue;
		}
		parse_key(op, f, path, k, ynode_val(v, i));
	}
	for (j = 0, optional = 0; sp->keys[j]; j++) {
		const char *key = sp->keys[j];
		char **field = scalar_field(op, key);
		int have = field ? *field != NULL
				 : !strcmp(key, "columns") ? op->columns.n > 0 : op->ref_table != NULL;

		if (!strcmp(key, "|"))
			optional = 1;
		else if (!optional && !have && !ynode_get(v, key))
			bad(f, path, name, "'operation: %s' needs '%s' (cairn(1), \"Operations\")",
			    sp->name, key);
	}
}

void operation_parse(struct migration *m, struct findings *f, const char *path,
		     const struct ynode *k, const struct ynode *v)
{
	const struct ynode *name;
	size_t i;

	if (m->op) {
		bad(f, path, k, "a migration holds one operation%s%s", "", "");
		return;
	}
	if (v->type != YNODE_MAP || v->n != 1) {
		bad(f, path, v, "'operation' must be a map of one operation, such as {rename_column: {table: users, column: name, to: full_name, type: text}}%s%s",
		    "", "");
		return;
	}
	name = ynode_key(v, 0);
	for (i = 0; i < NSPECS && strcmp(specs[i].name, name->str); i++)
		;
	if (i == NSPECS) {
		const char *hint = did_you_mean(name->str, op_names);

		findings_add(f, SEV_ERROR, path, name->line, name->col, "unknown-key",
			     "unknown operation '%s'%s%s%s", name->str,
			     hint ? "; did you mean '" : " (cairn knows rename_column, change_type, set_not_null, add_check, add_foreign_key, add_unique)",
			     hint ? hint : "", hint ? "'?" : "");
		return;
	}
	m->op = xcalloc(1, sizeof(*m->op));
	m->op->kind = specs[i].kind;
	m->op->kind_name = specs[i].name;
	m->op->line = name->line;
	parse_body(m->op, &specs[i], f, path, name, ynode_val(v, 0));
}

int operation_replaces(const struct migration *m, const struct mig_file *mf)
{
	return m->op && (mf->role == ROLE_UP || mf->role == ROLE_DOWN) &&
	       (!mf->driver || !strcmp(mf->driver, "postgres"));
}

/* Which step of its operation m is, from its phase and kind; -1 with a
 * finding when the operation cannot be that step. */
static int op_step(const struct migration *m, struct findings *f, const char *path)
{
	const struct mig_op *op = m->op;
	int two_column = op->kind == OP_RENAME_COLUMN || op->kind == OP_CHANGE_TYPE;

	if (two_column) {
		if (m->batch && m->contract) {
			findings_add(f, SEV_ERROR, path, op->line, 0, "bad-operation",
				     "operation: %s: a backfill (kind: batch) is an expand step; remove phase: contract, or kind: batch for the contract step",
				     op->kind_name);
			return -1;
		}
		return m->batch ? OP_STEP_BACKFILL : m->contract ? OP_STEP_CONTRACT : OP_STEP_EXPAND;
	}
	if (!m->contract || m->batch) {
		findings_add(f, SEV_ERROR, path, op->line, 0, "bad-operation",
			     "operation: %s narrows what the running release may write, so it is one contract migration: %s",
			     op->kind_name, m->batch ? "remove kind: batch and say phase: contract"
						     : "add phase: contract to migration.yaml");
		return -1;
	}
	return OP_STEP_CONTRACT;
}

static void add_gen(struct migration *m, const char *name, struct buf *sql)
{
	struct mig_file *mf;

	m->gen = xrealloc(m->gen, (m->ngen + 1) * sizeof(*m->gen));
	mf = &m->gen[m->ngen++];
	memset(mf, 0, sizeof(*mf));
	mf->name = xstrdup(name);
	mf->path = xasprintf("%s/%s", m->path, name);
	mf->role = name[0] == 'u' ? ROLE_UP : ROLE_DOWN;
	mf->driver = xstrdup("postgres");
	mf->type = ENTRY_FILE;
	mf->content = buf_detach(sql, &mf->content_len);
	if (!mf->content)
		mf->content = xstrdup("");
	mf->size = (long long)mf->content_len;
}

void operation_generate(const struct config *cfg, struct migration *m, struct findings *f)
{
	const struct mig_file *meta = migration_file(m, ROLE_META, NULL);
	const char *path = meta ? meta->path : m->path;
	struct buf up = BUF_INIT, down = BUF_INIT;
	int step;
	size_t i;

	if (!m->op)
		return;
	if (!strlist_has(&cfg->drivers, "postgres")) {
		findings_add(f, SEV_ERROR, path, m->op->line, 0, "bad-operation",
			     "operation: %s generates PostgreSQL SQL, and %s targets %s; write up.sql and down.sql yourself, or say drivers: [postgres] in %s",
			     m->op->kind_name, CONFIG_FILE,
			     cfg->drivers.n ? "SQLite only (drivers:)" : "no driver by name", CONFIG_FILE);
		return;
	}
	for (i = 0; i < m->nfiles; i++)
		if (operation_replaces(m, &m->files[i]))
			findings_add(f, SEV_ERROR, m->files[i].path, 0, 0, "bad-operation",
				     "%s says operation: %s, whose PostgreSQL SQL cairn build generates; delete %s%s",
				     path, m->op->kind_name, m->files[i].name,
				     strlist_has(&cfg->drivers, "sqlite")
					     ? " (for SQLite, name it up.sqlite.sql or down.sqlite.sql)" : "");
	step = op_step(m, f, path);
	if (step < 0 || op_sql(m->op, step, &up, &down, f, path) < 0)
		goto out;
	/* the safe sequence never queues behind a long transaction: without
	 * lock_timeout: of its own, the applier's default (docs/zero-downtime.md) */
	if (!m->lock_timeout_ms)
		m->lock_timeout_ms = OP_LOCK_TIMEOUT_MS;
	add_gen(m, "up.postgres.sql", &up);
	if (!m->irreversible)
		add_gen(m, "down.postgres.sql", &down);
	/* NOT VALID, VALIDATE and CONCURRENTLY need a transaction each */
	if (step == OP_STEP_CONTRACT && m->op->kind != OP_RENAME_COLUMN &&
	    m->op->kind != OP_CHANGE_TYPE)
		m->tx_driver[1] = 1; /* known_drivers[1]: postgres, transaction: false */
out:
	buf_release(&up);
	buf_release(&down);
}

static int same_columns(const struct mig_op *a, const struct mig_op *b)
{
	return a->kind == b->kind && !strcmp(a->table, b->table) && !strcmp(a->column, b->column) &&
	       !strcmp(a->to, b->to);
}

void operation_check_steps(const struct project *p, struct findings *f)
{
	size_t i, j;

	for (i = 0; i < p->n; i++) {
		const struct migration *m = p->migs[i];
		const struct mig_file *meta = migration_file(m, ROLE_META, NULL);
		const struct mig_op *op = m->op;

		if (!op || (op->kind != OP_RENAME_COLUMN && op->kind != OP_CHANGE_TYPE) ||
		    !op->table || !op->column || !op->to || (!m->batch && !m->contract))
			continue;
		for (j = 0; j < i; j++) {
			const struct migration *e = p->migs[j];

			if (e->op && !e->batch && !e->contract && e->op->table && e->op->column &&
			    e->op->to && same_columns(e->op, op))
				break;
		}
		if (j == i)
			findings_add(f, SEV_ERROR, meta ? meta->path : m->path, op->line, 0,
				     "bad-operation",
				     "operation: %s's %s step has no expand step before it, which adds %s.%s and its trigger; add a migration with the same operation and neither phase: contract nor kind: batch, in an earlier version",
				     op->kind_name, m->batch ? "backfill" : "contract", op->table, op->to);
	}
}
