/* Destructive statements in a bundle's signed up scripts (destructive.h).
 *
 * PostgreSQL: libpg_query's parse tree, so a statement in a comment or a
 * string is no statement, and one inside a data-modifying WITH, EXPLAIN
 * ANALYZE or PREPARE is. Code the applier cannot read through (DO, CREATE
 * FUNCTION or PROCEDURE, CALL, CREATE RULE) counts as destructive: its
 * body could drop anything. A script the parser refuses counts too.
 *
 * SQLite: a token scan (comments, strings and quoted names skipped) of each
 * statement, trigger bodies included, for DROP TABLE, ALTER TABLE ... DROP
 * or RENAME, DELETE or UPDATE without a WHERE at their own level, and
 * PRAGMA writable_schema. */
#include <pg_query.h>
#include <pg_query/pg_query.pb-c.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/buf.h"
#include "../lib/callbacks.h"
#include "../lib/error.h"
#include "../lib/sqlsplit.h"
#include "../lib/util.h"
#include "destructive.h"

struct dscan {
	struct destructive_list *out;
	const char *migration, *version, *file;
};

const char *const destructive_rules[DESTRUCTIVE_NRULES] = {
	"drop-table", "drop-schema", "drop-extension", "drop-database", "drop-cascade",
	"drop-column", "column-type", "drop-not-null", "rename-column", "rename-table",
	"truncate", "truncate-cascade", "delete-all", "update-all", "merge",
	"opaque-code", "unreadable", "destructive",
};

/* rule: one of destructive_rules, or a waived lint rule (destructive_rule()) */
static void add_rule(struct dscan *s, const char *rule, unsigned long long line,
		     const char *what)
{
	struct destructive_item *it;
	size_t i;

	for (i = 0; i < s->out->n; i++) {
		it = &s->out->items[i];
		if (!strcmp(it->migration, s->migration) && !strcmp(it->rule, rule) &&
		    !strcmp(it->file, s->file) && it->line == line)
			return; /* the scan and the manifest said the same */
	}
	ALLOC_GROW(s->out->items, s->out->n + 1, s->out->alloc);
	it = &s->out->items[s->out->n++];
	it->migration = s->migration;
	it->version = s->version;
	it->rule = xstrdup(rule);
	it->file = xstrdup(s->file);
	it->line = line;
	it->what = xstrdup(what);
}

static void add(struct dscan *s, enum destructive_rule r, unsigned long long line,
		const char *what)
{
	add_rule(s, destructive_rules[r], line, what);
}

/* ------------------------------------------------------------------ */
/* PostgreSQL */

static unsigned long long line_at(const char *sql, size_t off)
{
	unsigned long long line = 1;
	size_t i;

	for (i = 0; i < off && sql[i]; i++)
		if (sql[i] == '\n')
			line++;
	return line;
}

static void pg_node(struct dscan *s, const PgQuery__Node *n, unsigned long long line);

static void pg_with(struct dscan *s, const PgQuery__WithClause *w, unsigned long long line)
{
	size_t i;

	for (i = 0; w && i < w->n_ctes; i++)
		if (w->ctes[i]->node_case == PG_QUERY__NODE__NODE_COMMON_TABLE_EXPR)
			pg_node(s, w->ctes[i]->common_table_expr->ctequery, line);
}

static void pg_drop(struct dscan *s, const PgQuery__DropStmt *d, unsigned long long line)
{
	switch (d->remove_type) {
	case PG_QUERY__OBJECT_TYPE__OBJECT_TABLE:
	case PG_QUERY__OBJECT_TYPE__OBJECT_FOREIGN_TABLE:
	case PG_QUERY__OBJECT_TYPE__OBJECT_MATVIEW:
		add(s, DR_DROP_TABLE, line, "DROP TABLE");
		return;
	case PG_QUERY__OBJECT_TYPE__OBJECT_SCHEMA:
		add(s, DR_DROP_SCHEMA, line, "DROP SCHEMA");
		return;
	case PG_QUERY__OBJECT_TYPE__OBJECT_EXTENSION:
		add(s, DR_DROP_EXTENSION, line, "DROP EXTENSION (its tables go with it)");
		return;
	default:
		break;
	}
	if (d->behavior == PG_QUERY__DROP_BEHAVIOR__DROP_CASCADE)
		add(s, DR_DROP_CASCADE, line, "DROP ... CASCADE (drops what depends on it)");
}

static void pg_alter(struct dscan *s, const PgQuery__AlterTableStmt *a, unsigned long long line)
{
	size_t i;

	for (i = 0; i < a->n_cmds; i++) {
		const PgQuery__AlterTableCmd *c;

		if (a->cmds[i]->node_case != PG_QUERY__NODE__NODE_ALTER_TABLE_CMD)
			continue;
		c = a->cmds[i]->alter_table_cmd;
		if (c->subtype == PG_QUERY__ALTER_TABLE_TYPE__AT_DropColumn ||
		    c->subtype == PG_QUERY__ALTER_TABLE_TYPE__AT_DropColumnRecurse)
			add(s, DR_DROP_COLUMN, line, "ALTER TABLE ... DROP COLUMN");
		else if (c->subtype == PG_QUERY__ALTER_TABLE_TYPE__AT_AlterColumnType)
			add(s, DR_COLUMN_TYPE, line, "ALTER TABLE ... ALTER COLUMN ... TYPE");
		else if (c->subtype == PG_QUERY__ALTER_TABLE_TYPE__AT_DropNotNull)
			add(s, DR_DROP_NOT_NULL, line, "ALTER TABLE ... DROP NOT NULL");
	}
}

static void pg_node(struct dscan *s, const PgQuery__Node *n, unsigned long long line)
{
	if (!n)
		return;
	switch (n->node_case) {
	case PG_QUERY__NODE__NODE_DROP_STMT:
		pg_drop(s, n->drop_stmt, line);
		break;
	case PG_QUERY__NODE__NODE_DROPDB_STMT:
		add(s, DR_DROP_DATABASE, line, "DROP DATABASE");
		break;
	case PG_QUERY__NODE__NODE_DROP_OWNED_STMT:
		add(s, DR_DROP_CASCADE, line, "DROP OWNED");
		break;
	case PG_QUERY__NODE__NODE_TRUNCATE_STMT:
		add(s, n->truncate_stmt->behavior == PG_QUERY__DROP_BEHAVIOR__DROP_CASCADE
		       ? DR_TRUNCATE_CASCADE : DR_TRUNCATE, line, "TRUNCATE");
		break;
	case PG_QUERY__NODE__NODE_ALTER_TABLE_STMT:
		pg_alter(s, n->alter_table_stmt, line);
		break;
	case PG_QUERY__NODE__NODE_RENAME_STMT:
		if (n->rename_stmt->rename_type == PG_QUERY__OBJECT_TYPE__OBJECT_COLUMN)
			add(s, DR_RENAME_COLUMN, line, "ALTER TABLE ... RENAME COLUMN");
		else if (n->rename_stmt->rename_type == PG_QUERY__OBJECT_TYPE__OBJECT_TABLE)
			add(s, DR_RENAME_TABLE, line, "ALTER TABLE ... RENAME TO");
		break;
	case PG_QUERY__NODE__NODE_DELETE_STMT:
		if (!n->delete_stmt->where_clause)
			add(s, DR_DELETE_ALL, line, "DELETE without WHERE");
		pg_with(s, n->delete_stmt->with_clause, line);
		break;
	case PG_QUERY__NODE__NODE_UPDATE_STMT:
		if (!n->update_stmt->where_clause)
			add(s, DR_UPDATE_ALL, line, "UPDATE without WHERE");
		pg_with(s, n->update_stmt->with_clause, line);
		break;
	case PG_QUERY__NODE__NODE_MERGE_STMT:
		add(s, DR_MERGE, line, "MERGE (its WHEN clauses may update or delete any row)");
		break;
	case PG_QUERY__NODE__NODE_SELECT_STMT:
		pg_with(s, n->select_stmt->with_clause, line);
		break;
	case PG_QUERY__NODE__NODE_INSERT_STMT:
		pg_with(s, n->insert_stmt->with_clause, line);
		pg_node(s, n->insert_stmt->select_stmt, line);
		break;
	case PG_QUERY__NODE__NODE_EXPLAIN_STMT:
		pg_node(s, n->explain_stmt->query, line);
		break;
	case PG_QUERY__NODE__NODE_PREPARE_STMT:
		pg_node(s, n->prepare_stmt->query, line);
		break;
	case PG_QUERY__NODE__NODE_CREATE_TABLE_AS_STMT:
		pg_node(s, n->create_table_as_stmt->query, line);
		break;
	case PG_QUERY__NODE__NODE_DO_STMT:
		add(s, DR_OPAQUE_CODE, line, "DO block (code the applier cannot read through)");
		break;
	case PG_QUERY__NODE__NODE_CREATE_FUNCTION_STMT:
		add(s, DR_OPAQUE_CODE, line,
		    "CREATE FUNCTION or PROCEDURE (code the applier cannot read through)");
		break;
	case PG_QUERY__NODE__NODE_CALL_STMT:
		add(s, DR_OPAQUE_CODE, line, "CALL (code the applier cannot read through)");
		break;
	case PG_QUERY__NODE__NODE_RULE_STMT:
		add(s, DR_OPAQUE_CODE, line, "CREATE RULE (its actions run on later statements)");
		break;
	default:
		break;
	}
}

static void scan_pg(struct dscan *s, const char *sql)
{
	PgQueryProtobufParseResult r = pg_query_parse_protobuf(sql);
	PgQuery__ParseResult *tree = NULL;
	size_t i, len = strlen(sql), done = 0;
	unsigned long long line = 1;

	if (r.error) {
		add(s, DR_UNREADABLE, line_at(sql, r.error->cursorpos > 0
						  ? (size_t)r.error->cursorpos - 1 : 0),
		    "PostgreSQL's parser refuses it, so the applier cannot say it is not destructive");
		goto out;
	}
	tree = pg_query__parse_result__unpack(NULL, r.parse_tree.len,
					      (const uint8_t *)r.parse_tree.data);
	if (!tree) {
		add(s, DR_UNREADABLE, 1, "its parse tree cannot be read");
		goto out;
	}
	for (i = 0; i < tree->n_stmts; i++) {
		const PgQuery__RawStmt *rs = tree->stmts[i];
		size_t at = rs->stmt_location > 0 ? (size_t)rs->stmt_location : 0;

		/* a statement's location is where the previous one ended; lines
		 * are counted on from the last statement's (in order) */
		at = sql_skip_blank(sql, len, at < len ? at : len, 1);
		for (; done < at; done++)
			if (sql[done] == '\n')
				line++;
		pg_node(s, rs->stmt, line);
	}
out:
	if (tree)
		pg_query__parse_result__free_unpacked(tree, NULL);
	pg_query_free_protobuf_parse_result(r);
}

/* ------------------------------------------------------------------ */
/* SQLite: tokens */

#define TOKS_MAX 8

/* The words of one statement (up to ';' outside a trigger body and outside
 * parentheses and strings), upper-cased, with their depth in parentheses
 * and their line. Only words matter: quoted names and literals are no
 * keywords. */
struct tok {
	char w[16];
	int depth;
	unsigned long long line;
};

struct stmt {
	struct tok *t;
	size_t n, alloc;
};

static int word_is(const struct stmt *st, size_t i, const char *w)
{
	return i < st->n && !strcmp(st->t[i].w, w);
}

/* DELETE or UPDATE at st->t[i]: a WHERE later at the same depth, before
 * the next DELETE/UPDATE/INSERT/SELECT at that depth (a trigger body's next
 * statement), scopes it. */
static int has_where(const struct stmt *st, size_t i)
{
	size_t j;

	for (j = i + 1; j < st->n && st->t[j].depth >= st->t[i].depth; j++) {
		if (st->t[j].depth != st->t[i].depth)
			continue;
		if (!strcmp(st->t[j].w, "WHERE"))
			return 1;
		if (!strcmp(st->t[j].w, "END") || !strcmp(st->t[j].w, "INSERT") ||
		    !strcmp(st->t[j].w, "SELECT") || !strcmp(st->t[j].w, "DELETE") ||
		    (!strcmp(st->t[j].w, "UPDATE") && !word_is(st, j - 1, "ON")))
			return 0;
	}
	return 0;
}

/* A DELETE or UPDATE word that is a trigger's event, a foreign key's
 * action or an upsert's, not a statement. */
static int is_event(const struct stmt *st, size_t i)
{
	static const char *const before[] = { "ON", "BEFORE", "AFTER", "OF", "DO", "OR", NULL };
	size_t k;

	if (!i)
		return 0;
	for (k = 0; before[k]; k++)
		if (!strcmp(st->t[i - 1].w, before[k]))
			return 1;
	return 0;
}

static void sqlite_stmt(struct dscan *s, const struct stmt *st)
{
	size_t i;

	for (i = 0; i < st->n; i++) {
		const char *w = st->t[i].w;
		unsigned long long line = st->t[i].line;

		if (!strcmp(w, "DROP") && word_is(st, i + 1, "TABLE"))
			add(s, DR_DROP_TABLE, line, "DROP TABLE");
		else if (!strcmp(w, "ALTER") && word_is(st, i + 1, "TABLE")) {
			size_t j;

			for (j = i + 2; j < st->n && j < i + 6; j++) {
				if (word_is(st, j, "DROP")) {
					add(s, DR_DROP_COLUMN, line, "ALTER TABLE ... DROP COLUMN");
					break;
				}
				if (word_is(st, j, "RENAME")) {
					add(s, word_is(st, j + 1, "TO") ? DR_RENAME_TABLE : DR_RENAME_COLUMN,
					    line, "ALTER TABLE ... RENAME");
					break;
				}
			}
		} else if ((!strcmp(w, "DELETE") || !strcmp(w, "UPDATE")) && !is_event(st, i) &&
			   !has_where(st, i))
			add(s, *w == 'D' ? DR_DELETE_ALL : DR_UPDATE_ALL, line,
			    *w == 'D' ? "DELETE without WHERE" : "UPDATE without WHERE");
		else if (!strcmp(w, "PRAGMA") && word_is(st, i + 1, "WRITABLE_SCHEMA"))
			add(s, DR_OPAQUE_CODE, line,
			    "PRAGMA writable_schema (the schema edited as data)");
	}
}

/* The end of a quoted run starting at i (quote q, doubled to escape). */
static size_t skip_quoted(const char *sql, size_t len, size_t i, char q, unsigned long long *line)
{
	for (i++; i < len; i++) {
		if (sql[i] == '\n')
			(*line)++;
		if (sql[i] == q) {
			if (i + 1 < len && sql[i + 1] == q && q != ']') {
				i++;
				continue;
			}
			return i + 1;
		}
	}
	return len;
}

static void push_word(struct stmt *st, const char *p, size_t n, int depth, unsigned long long line)
{
	struct tok *t;
	size_t k;

	ALLOC_GROW(st->t, st->n + 1, st->alloc);
	t = &st->t[st->n++];
	if (n >= sizeof(t->w))
		n = sizeof(t->w) - 1; /* no keyword is that long: it stays no keyword */
	for (k = 0; k < n; k++)
		t->w[k] = (char)toupper((unsigned char)p[k]);
	t->w[n] = 0;
	t->depth = depth;
	t->line = line;
}

static void scan_sqlite(struct dscan *s, const char *sql, size_t len)
{
	struct stmt st = { NULL, 0, 0 };
	unsigned long long line = 1;
	size_t i = 0;
	int depth = 0, in_trigger = 0;

	while (i < len) {
		size_t j = sql_skip_blank(sql, len, i, 0);
		char c;

		for (; i < j; i++)
			if (sql[i] == '\n')
				line++;
		if (i >= len)
			break;
		c = sql[i];
		if (c == '\'' || c == '"' || c == '`' || c == '[') {
			i = skip_quoted(sql, len, i, c == '[' ? ']' : c, &line);
		} else if (isalpha((unsigned char)c) || c == '_') {
			size_t k = i;

			while (k < len && (isalnum((unsigned char)sql[k]) || sql[k] == '_' || sql[k] == '$'))
				k++;
			push_word(&st, sql + i, k - i, depth, line);
			/* CREATE [TEMP] TRIGGER ... BEGIN ...; ...; END: one statement */
			if ((st.n == 2 || st.n == 3) && !strcmp(st.t[0].w, "CREATE") &&
			    !strcmp(st.t[st.n - 1].w, "TRIGGER"))
				in_trigger = 1;
			if (in_trigger && !strcmp(st.t[st.n - 1].w, "END"))
				in_trigger = 2;
			i = k;
		} else {
			if (c == '(')
				depth++;
			else if (c == ')' && depth > 0)
				depth--;
			else if (c == ';' && in_trigger != 1) {
				sqlite_stmt(s, &st);
				st.n = 0;
				depth = 0;
				in_trigger = 0;
			}
			i++;
		}
	}
	sqlite_stmt(s, &st);
	free(st.t);
}

/* ------------------------------------------------------------------ */

void destructive_scan_sql(struct destructive_list *out, const char *sql, size_t len,
			  enum destructive_dialect d, const char *migration, const char *version,
			  const char *file)
{
	struct dscan s = { out, migration, version, file };
	size_t nul = strnlen(sql, len);

	if (nul < len)
		add(&s, DR_UNREADABLE, line_at(sql, nul),
		    "a NUL byte: the applier cannot say what follows it is not destructive");
	if (d == DESTRUCTIVE_SQLITE) {
		scan_sqlite(&s, sql, len);
	} else {
		char *z = xstrndup(sql, nul);

		scan_pg(&s, z);
		free(z);
	}
}

/* A lint finding the migration waived that destructive: true acknowledges,
 * or that loses data. */
static int destructive_rule(const char *rule)
{
	static const char *const rules[] = {
		"drop-column", "drop-table", "drop-database", "drop-not-null", "rename-column",
		"rename-table", "truncate-cascade", "column-type", NULL,
	};
	size_t i;

	for (i = 0; rules[i]; i++)
		if (!strcmp(rules[i], rule))
			return 1;
	return 0;
}

static int scan_file(struct destructive_list *out, struct bundle *b,
		     const struct bundle_migration *m, const char *driver)
{
	const struct bundle_file *f = bundle_migration_file(m, "up", driver);
	struct buf sql = BUF_INIT;

	/* up.sql serves both drivers: it is scanned in both dialects */
	if (!f)
		return 0;
	if (bundle_read(b, f, &sql) < 0) {
		cairn_error_set("cannot read '%s': %s", f->member, cairn_error_last());
		return -1;
	}
	destructive_scan_sql(out, sql.ptr ? sql.ptr : "", sql.len,
			     strcmp(driver, "sqlite") ? DESTRUCTIVE_POSTGRES : DESTRUCTIVE_SQLITE,
			     m->name, m->version, f->name);
	buf_release(&sql);
	return 0;
}

static int names_driver(const struct bundle *b, const char *driver)
{
	size_t i;

	if (!b->ndrivers)
		return 1;
	for (i = 0; i < b->ndrivers; i++)
		if (!strcmp(b->drivers[i], driver))
			return 1;
	return 0;
}

/* The callbacks an apply runs (not rollback's): migration "callbacks",
 * version "", each in the dialect of each driver it serves. */
static int scan_callbacks(struct destructive_list *out, struct bundle *b,
			  const char *const *drivers)
{
	size_t i, k;

	/* what the callbacks waived (format cairn-bundle/3), as a migration's
	 * waivers count: those of the callbacks an apply runs */
	for (i = 0; i < b->ncallback_waivers; i++) {
		const struct bundle_waiver *w = &b->callback_waivers[i];
		struct dscan s = { out, "callbacks", "", w->file };
		const char *only;
		struct buf what = BUF_INIT;
		int kind = callback_parse(w->file, &only);

		if (kind < 0 || kind >= CB_BEFORE_ROLLBACK || !destructive_rule(w->rule))
			continue;
		buf_printf(&what, "a waived lint finding (%s)", w->via);
		add_rule(&s, w->rule, w->line, buf_cstr(&what));
		buf_release(&what);
	}
	for (i = 0; i < b->ncallbacks; i++) {
		const struct bundle_file *f = &b->callbacks[i];
		const char *only;
		int kind = callback_parse(f->name, &only);
		struct buf sql = BUF_INIT;

		if (kind < 0 || kind >= CB_BEFORE_ROLLBACK)
			continue;
		if (bundle_read(b, f, &sql) < 0) {
			cairn_error_set("cannot read '%s': %s", f->member, cairn_error_last());
			return -1;
		}
		for (k = 0; drivers[k]; k++)
			if (names_driver(b, drivers[k]) && (!only || !strcmp(only, drivers[k])))
				destructive_scan_sql(out, sql.ptr ? sql.ptr : "", sql.len,
						     strcmp(drivers[k], "sqlite")
							     ? DESTRUCTIVE_POSTGRES
							     : DESTRUCTIVE_SQLITE,
						     "callbacks", "", f->name);
		buf_release(&sql);
	}
	return 0;
}

int destructive_scan_bundle(struct destructive_list *out, struct bundle *b)
{
	static const char *const drivers[] = { "postgres", "sqlite", NULL };
	size_t i, j, k;

	for (i = 0; i < b->nmigs; i++) {
		const struct bundle_migration *m = &b->migs[i];
		struct dscan s = { out, m->name, m->version, "migration.yaml" };

		if (m->destructive)
			add(&s, DR_DESTRUCTIVE, 0, "destructive: true in migration.yaml");
		for (j = 0; j < m->nwaivers; j++) {
			struct buf what = BUF_INIT;

			if (!destructive_rule(m->waivers[j].rule))
				continue;
			s.file = m->waivers[j].file;
			buf_printf(&what, "a waived lint finding (%s)", m->waivers[j].via);
			add_rule(&s, m->waivers[j].rule, m->waivers[j].line, buf_cstr(&what));
			buf_release(&what);
		}
		for (k = 0; drivers[k]; k++)
			if (names_driver(b, drivers[k]) && scan_file(out, b, m, drivers[k]) < 0)
				return -1;
	}
	return scan_callbacks(out, b, drivers);
}

void destructive_list_release(struct destructive_list *l)
{
	size_t i;

	if (!l)
		return;
	for (i = 0; i < l->n; i++) {
		free(l->items[i].rule);
		free(l->items[i].file);
		free(l->items[i].what);
	}
	free(l->items);
	memset(l, 0, sizeof(*l));
}
