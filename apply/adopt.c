/* cairn-apply adopt: another tool's history read and matched to a bundle
 * (adopt.h). One reader per tool turns its table into "applied" entries
 * (a version, the tool's checksum if it keeps one, the row for the audit);
 * the matcher then finds each in the bundle. The tools' tables, as each
 * documents or creates them:
 *   flyway         flyway_schema_history (installed_rank, version, type,
 *                  script, checksum: CRC32 of the file's lines, success)
 *   golang-migrate schema_migrations (version, dirty): the last version only
 *   dbmate         schema_migrations (version): one row per migration
 *   goose          goose_db_version (id, version_id, is_applied): a log
 *   sqitch         sqitch.changes (change_id, change, script_hash: SHA-1 of
 *                  the deploy script), PostgreSQL only
 *   pop            schema_migration (version)
 *   diesel         __diesel_schema_migrations (version)
 *   prisma         _prisma_migrations (migration_name, checksum: SHA-256
 *                  of migration.sql, finished_at, rolled_back_at) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../lib/error.h"
#include "../lib/exitcodes.h"
#include "../lib/util.h"
#include "adopt-int.h"
#include "engine-int.h"

struct tool {
	const char *name, *table;
	/* SELECT cols FROM <the table> tail */
	const char *cols, *tail;
	int (*read)(struct adopt_reader *rd, const struct driver_rows *rows);
	/* how the tool renames its table (--registry names it then); NULL: it
	 * cannot (diesel, prisma). sqitch's --registry is its own (a schema on
	 * PostgreSQL, a file on SQLite). */
	const char *renamed_by;
};

static const char *cell(const struct driver_rows *r, size_t row, size_t col)
{
	return r->cells[row * r->ncols + col];
}

static const char *or_null(const char *s)
{
	return s ? s : "NULL";
}

static int truthy(const char *s)
{
	return s && (!strcmp(s, "t") || !strcmp(s, "1") || !strcmp(s, "true"));
}

static struct adopt_entry *entry_add(struct adopt_reader *rd, const char *version, const char *checksum,
			       char *source)
{
	struct adopt_entry *e;

	ALLOC_GROW(rd->e, rd->n + 1, rd->alloc);
	e = &rd->e[rd->n++];
	memset(e, 0, sizeof(*e));
	e->pos = rd->n - 1;
	e->version = version ? xstrdup(version) : NULL;
	e->checksum = checksum ? xstrdup(checksum) : NULL;
	e->source = source;
	return e;
}

/* The tool's later row for the same version undoes the earlier ones
 * (adopt_settle_undos, once every row is read). */
static void entry_undo(struct adopt_reader *rd, const char *version)
{
	entry_add(rd, version, NULL, NULL)->undo = 1;
}

/* ---- the readers ----------------------------------------------------- */

static int read_flyway(struct adopt_reader *rd, const struct driver_rows *r)
{
	size_t i;

	for (i = 0; i < r->nrows; i++) {
		const char *rank = or_null(cell(r, i, 0)), *v = cell(r, i, 1);
		const char *type = or_null(cell(r, i, 2)), *script = or_null(cell(r, i, 3));

		if (!strcmp(type, "SCHEMA"))
			continue; /* flyway created the schema: nothing of the bundle's */
		if (!truthy(cell(r, i, 5))) {
			adopt_problem(rd->p, "%s installed_rank=%s: %s failed (success = false): fix "
				"the schema by hand and run 'flyway repair' first", rd->table,
				rank, script);
			continue;
		}
		if (!v) {
			adopt_problem(rd->p, "%s installed_rank=%s: %s is a repeatable migration, "
				"which cairn does not have", rd->table, rank, script);
			continue;
		}
		if (!strcmp(type, "UNDO_SQL") || !strcmp(type, "DELETE")) {
			entry_undo(rd, v);
			continue;
		}
		if (!strcmp(type, "BASELINE")) {
			/* flyway baseline: the schema up to v was there before Flyway */
			entry_add(rd, v, NULL,
				  xasprintf("%s installed_rank=%s type=BASELINE version=%s",
					    rd->table, rank, v))->below = 2;
			continue;
		}
		if (strcmp(type, "SQL")) {
			adopt_problem(rd->p, "%s installed_rank=%s: %s is a %s migration, which cairn "
				"cannot hold", rd->table, rank, script, type);
			continue;
		}
		entry_add(rd, v, cell(r, i, 4),
			  xasprintf("%s installed_rank=%s version=%s script=%s checksum=%s",
				    rd->table, rank, v, script, or_null(cell(r, i, 4))));
	}
	return 0;
}

/* golang-migrate keeps one row: the last version it reached; every
 * migration up to it was applied, in order. */
static int read_golang_migrate(struct adopt_reader *rd, const struct driver_rows *r)
{
	if (!r->nrows)
		return 0;
	if (r->nrows > 1) {
		adopt_problem(rd->p, "%s holds %zu rows; golang-migrate keeps one", rd->table,
			r->nrows);
		return 0;
	}
	if (truthy(cell(r, 0, 1))) {
		adopt_problem(rd->p, "%s version=%s dirty=true: golang-migrate stopped in the "
			"middle of %s; fix the schema by hand, then 'migrate force' the version it "
			"is really at", rd->table, or_null(cell(r, 0, 0)), or_null(cell(r, 0, 0)));
		return 0;
	}
	entry_add(rd, or_null(cell(r, 0, 0)), NULL,
		  xasprintf("%s version=%s dirty=false", rd->table, or_null(cell(r, 0, 0))));
	rd->e[0].below = 1;
	return 0;
}

/* dbmate, pop, diesel: one row per applied version. */
static int read_versions(struct adopt_reader *rd, const struct driver_rows *r)
{
	size_t i;

	for (i = 0; i < r->nrows; i++)
		entry_add(rd, or_null(cell(r, i, 0)), NULL,
			  xasprintf("%s version=%s", rd->table, or_null(cell(r, i, 0))));
	return 0;
}

/* goose's table is a log: the last row of a version says whether it is
 * applied; version 0 is goose's own first row. */
static int read_goose(struct adopt_reader *rd, const struct driver_rows *r)
{
	size_t i;

	for (i = 0; i < r->nrows; i++) {
		const char *v = or_null(cell(r, i, 1));

		if (!version_cmp(v, "0"))
			continue;
		entry_undo(rd, v);
		if (truthy(cell(r, i, 2)))
			entry_add(rd, v, NULL, xasprintf("%s id=%s version_id=%s", rd->table,
							 or_null(cell(r, i, 0)), v));
	}
	return 0;
}

static int read_sqitch(struct adopt_reader *rd, const struct driver_rows *r)
{
	size_t i;

	for (i = 0; i < r->nrows; i++) {
		struct adopt_entry *e = entry_add(rd, NULL, cell(r, i, 2),
					    xasprintf("%s change_id=%s change=%s script_hash=%s",
						      rd->table, or_null(cell(r, i, 0)),
						      or_null(cell(r, i, 1)),
						      or_null(cell(r, i, 2))));

		e->name = xstrdup(or_null(cell(r, i, 1)));
	}
	return 0;
}

static int read_prisma(struct adopt_reader *rd, const struct driver_rows *r)
{
	size_t i;

	for (i = 0; i < r->nrows; i++) {
		const char *name = or_null(cell(r, i, 1));
		size_t vl = strcspn(name, "_");
		char *v;

		if (cell(r, i, 4))
			continue; /* prisma migrate resolve --rolled-back: not applied */
		if (!cell(r, i, 3)) {
			adopt_problem(rd->p, "%s id=%s: %s failed or did not finish (finished_at is "
				"NULL): resolve it with 'prisma migrate resolve' first", rd->table,
				or_null(cell(r, i, 0)), name);
			continue;
		}
		v = xstrndup(name, vl);
		entry_add(rd, v, cell(r, i, 2),
			  xasprintf("%s id=%s migration_name=%s checksum=%s", rd->table,
				    or_null(cell(r, i, 0)), name, or_null(cell(r, i, 2))));
		free(v);
	}
	return 0;
}

static const struct tool tools[] = {
	{ "flyway", "flyway_schema_history",
	  "installed_rank, version, type, script, checksum, success", "ORDER BY installed_rank",
	  read_flyway, "flyway.table (and flyway.schemas or defaultSchema)" },
	{ "golang-migrate", "schema_migrations", "version, dirty", "", read_golang_migrate,
	  "x-migrations-table" },
	{ "dbmate", "schema_migrations", "version", "ORDER BY version", read_versions,
	  "--migrations-table" },
	{ "goose", "goose_db_version", "id, version_id, is_applied", "ORDER BY id", read_goose,
	  "-table" },
	{ "sqitch", "changes", "change_id, change, script_hash", "ORDER BY committed_at, change_id",
	  read_sqitch, "--registry" },
	{ "pop", "schema_migration", "version", "ORDER BY version", read_versions,
	  "migration_table_name" },
	{ "diesel", "__diesel_schema_migrations", "version", "ORDER BY version", read_versions,
	  NULL },
	{ "prisma", "_prisma_migrations",
	  "id, migration_name, checksum, finished_at, rolled_back_at",
	  "ORDER BY started_at, migration_name", read_prisma, NULL },
};

#define NTOOLS (sizeof(tools) / sizeof(tools[0]))

const char *adopt_tool_names(void)
{
	return "flyway, golang-migrate, dbmate, goose, sqitch, pop, diesel, prisma";
}

static const struct tool *tool_find(const char *name)
{
	size_t i;

	for (i = 0; i < NTOOLS; i++)
		if (!strcmp(tools[i].name, name))
			return &tools[i];
	return NULL;
}

int adopt_tool_known(const char *tool)
{
	return tool_find(tool) != NULL;
}

/* sqitch keeps its registry on SQLite in a file of its own beside the
 * target (sqitch's Engine::sqlite, registry_uri): the registry's name in
 * place of the target file's name, keeping its extension (prod.db:
 * sqitch.db; prod: sqitch); an absolute path as it is; a name with a dot
 * in place of the whole file name. */
static char *sqitch_registry_path(const char *target, const char *reg)
{
	const char *base = strrchr(target, '/'), *dot;
	int dirlen;

	if (!reg || !*reg)
		reg = "sqitch";
	if (reg[0] == '/')
		return xstrdup(reg);
	base = base ? base + 1 : target;
	dirlen = (int)(base - target);
	dot = strchr(base, '.');
	if (strchr(reg, '.') || !dot)
		return xasprintf("%.*s%s", dirlen, target, reg);
	return xasprintf("%.*s%s%s", dirlen, target, reg, dot);
}

/* The registry attached as schema "sqitch", so that the query is the one
 * PostgreSQL's sqitch schema answers. 1 when it is not there (*path says
 * where it was looked for); -1 with the error set. Only read. */
static int sqitch_attach(struct db *db, const struct driver *drv, const char *registry,
			 char **path)
{
	const char *target = drv->file_path ? drv->file_path(db) : NULL;
	struct driver_rows r;
	struct buf sql = BUF_INIT;
	struct stat st;
	const char *c;
	int rc;

	if (!target) {
		cairn_error_set("the %s driver does not say where its file is; sqitch's "
				"registry is found beside it", drv->name);
		return -1;
	}
	*path = sqitch_registry_path(target, registry);
	if (stat(*path, &st) || !S_ISREG(st.st_mode))
		return 1;
	buf_puts(&sql, "ATTACH DATABASE '");
	for (c = *path; *c; c++)
		buf_put(&sql, *c == '\'' ? "''" : c, *c == '\'' ? 2 : 1);
	buf_puts(&sql, "' AS sqitch");
	rc = drv->query_rows(db, sql.ptr, &r);
	buf_release(&sql);
	if (rc)
		return -1;
	driver_rows_release(&r);
	return 0;
}

static void sqitch_detach(struct db *db, const struct driver *drv)
{
	struct driver_rows r;

	if (!drv->query_rows(db, "DETACH DATABASE sqitch", &r))
		driver_rows_release(&r);
}

/* ---- the table's name: --registry, quoted ------------------------------ */

/* The history table: schema (NULL: PostgreSQL's search path, SQLite's
 * main) and table, as named, unquoted; shown as the messages name it. */
struct hist_name {
	char *schema, *table, *shown;
};

static void hist_name_release(struct hist_name *h)
{
	free(h->schema);
	free(h->table);
	free(h->shown);
}

static int is_sqitch(const struct tool *t)
{
	return !strcmp(t->name, "sqitch");
}

/* registry: NULL for the tool's own name. sqitch: its registry is a
 * schema on PostgreSQL (sqitch's --registry), a file on SQLite attached
 * as "sqitch" (sqitch_attach). Others: TABLE, or SCHEMA.TABLE on
 * PostgreSQL; on SQLite the whole name is the table's. */
static int hist_name_init(struct hist_name *h, const struct tool *t, int pg, const char *registry)
{
	const char *dot = pg && registry && !is_sqitch(t) ? strchr(registry, '.') : NULL;

	memset(h, 0, sizeof(*h));
	if (is_sqitch(t)) {
		h->schema = xstrdup(pg && registry ? registry : "sqitch");
		h->table = xstrdup(t->table);
	} else if (dot) {
		if (dot == registry || !dot[1] || strchr(dot + 1, '.')) {
			cairn_error_set("--registry '%s': name a table as TABLE or SCHEMA.TABLE",
					registry);
			return -1;
		}
		h->schema = xstrndup(registry, (size_t)(dot - registry));
		h->table = xstrdup(dot + 1);
	} else {
		h->table = xstrdup(registry ? registry : t->table);
	}
	h->shown = h->schema ? xasprintf("%s.%s", h->schema, h->table) : xstrdup(h->table);
	return 0;
}

/* An identifier quoted for both SQL dialects: "..." with " doubled, so
 * that no name can end it early. */
static void put_ident(struct buf *b, const char *s)
{
	buf_putc(b, '"');
	for (; *s; s++)
		buf_put(b, *s == '"' ? "\"\"" : s, *s == '"' ? 2 : 1);
	buf_putc(b, '"');
}

/* A string literal: '...' with ' doubled; on PostgreSQL E'...' with \
 * doubled too, whose backslashes are escapes whatever
 * standard_conforming_strings says, so neither can end it early. */
static void put_literal(struct buf *b, const char *s, int pg)
{
	buf_puts(b, pg ? "E'" : "'");
	for (; *s; s++) {
		if (*s == '\'')
			buf_puts(b, "''");
		else if (pg && *s == '\\')
			buf_puts(b, "\\\\");
		else
			buf_putc(b, *s);
	}
	buf_putc(b, '\'');
}

static void put_table(struct buf *b, const struct hist_name *h)
{
	if (h->schema) {
		put_ident(b, h->schema);
		buf_putc(b, '.');
	}
	put_ident(b, h->table);
}

const char *adopt_registry_refused(const char *tool, const char *registry)
{
	const struct tool *t = tool_find(tool);
	const char *c;

	if (!t || !registry)
		return NULL;
	if (!t->renamed_by)
		return t == tool_find("diesel")
			       ? "diesel's table __diesel_schema_migrations has a fixed name: "
				 "--registry does not apply to it"
			       : "prisma's table _prisma_migrations has a fixed name: --registry "
				 "does not apply to it";
	if (!*registry || strlen(registry) > 255)
		return "--registry names no table, or too long a one (at most 255 bytes)";
	for (c = registry; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			return "--registry holds a control character";
	return NULL;
}

static int table_exists(struct db *db, const struct driver *drv, const struct hist_name *h,
			int pg, int *exists)
{
	struct driver_rows r;
	struct buf sql = BUF_INIT, name = BUF_INIT;
	int rc;

	if (pg) {
		put_table(&name, h);
		buf_puts(&sql, "SELECT to_regclass(");
		put_literal(&sql, buf_cstr(&name), 1);
		buf_puts(&sql, ") IS NOT NULL");
	} else {
		buf_puts(&sql, "SELECT count(*) FROM ");
		if (h->schema) {
			put_ident(&sql, h->schema);
			buf_putc(&sql, '.');
		}
		buf_puts(&sql, "sqlite_master WHERE type = 'table' AND name = ");
		put_literal(&sql, h->table, 0);
	}
	*exists = 0;
	rc = drv->query_rows(db, buf_cstr(&sql), &r);
	buf_release(&sql);
	buf_release(&name);
	if (rc)
		return -1;
	*exists = r.nrows == 1 && r.ncols == 1 && cell(&r, 0, 0) &&
		  (truthy(cell(&r, 0, 0)) || atoi(cell(&r, 0, 0)) > 0);
	driver_rows_release(&r);
	return 0;
}

/* The tool's rows read into rd (rd->table: h's shown name). EXIT_STATE
 * when its table is not there. */
static int read_history(struct adopt_reader *rd, struct db *db, const struct driver *drv,
			const struct tool *t, const struct hist_name *h, const char *registry)
{
	struct driver_rows rows;
	struct buf sql = BUF_INIT;
	char *reg = NULL;
	int pg = !strcmp(drv->name, "postgres");
	int exists = 0, attached = 0, rc = EXIT_ENVIRONMENT;

	memset(&rows, 0, sizeof(rows));
	rd->table = h->shown;
	if (is_sqitch(t) && !pg) {
		int a = sqitch_attach(db, drv, registry, &reg);

		if (a < 0)
			goto out;
		if (a > 0) {
			cairn_error_set("no sqitch history for '%s': its registry %s is not there "
					"(sqitch keeps it beside the database; name another with "
					"--registry)", drv->display_name(db), reg);
			rc = EXIT_STATE;
			goto out;
		}
		attached = 1;
	}
	if (table_exists(db, drv, h, pg, &exists))
		goto out;
	if (!exists) {
		cairn_error_set("no %s history on '%s': table %s not found%s%s%s", t->name,
				drv->display_name(db), h->shown, reg ? " in its registry " : "",
				reg ? reg : "", registry && !reg ? " (the name --registry gave)" : "");
		rc = EXIT_STATE;
		goto out;
	}
	buf_printf(&sql, "SELECT %s FROM ", t->cols);
	put_table(&sql, h);
	buf_printf(&sql, " %s", t->tail);
	if (drv->query_rows(db, buf_cstr(&sql), &rows) || t->read(rd, &rows))
		goto out;
	rc = EXIT_OK;
out:
	if (attached)
		sqitch_detach(db, drv);
	driver_rows_release(&rows);
	buf_release(&sql);
	free(reg);
	return rc;
}

int adopt_read(struct adopt_plan *out, struct db *db, const struct driver *drv,
	       const struct apply_set *set, const char *tool, const char *registry)
{
	const struct tool *t = tool_find(tool);
	struct adopt_reader rd;
	struct hist_name h;
	char *taken = NULL, **source = NULL;
	size_t i;
	int rc;

	memset(out, 0, sizeof(*out));
	memset(&rd, 0, sizeof(rd));
	if (!t) {
		cairn_error_set("unknown tool '%s': adopt reads %s", tool, adopt_tool_names());
		return EXIT_USAGE;
	}
	if (adopt_registry_refused(tool, registry)) {
		cairn_error_set("%s", adopt_registry_refused(tool, registry));
		return EXIT_USAGE;
	}
	if (!drv->query_rows) {
		cairn_error_set("the %s driver cannot read another tool's tables", drv->name);
		return EXIT_ENVIRONMENT;
	}
	if (hist_name_init(&h, t, !strcmp(drv->name, "postgres"), registry) < 0)
		return EXIT_USAGE;
	out->tool = t->name;
	out->table = xstrdup(h.shown);
	rd.p = out;
	if ((rc = read_history(&rd, db, drv, t, &h, registry)) != EXIT_OK)
		goto out;
	taken = xcalloc(set->n + 1, 1);
	source = xcalloc(set->n + 1, sizeof(*source));
	adopt_settle_undos(&rd);
	adopt_match(out, t->name, toolsum_of(t->name), set, &rd, taken, source);
	for (i = 0; i < set->n; i++) {
		if (!taken[i]) {
			out->pending++;
			continue;
		}
		ALLOC_GROW(out->items, out->n + 1, out->alloc);
		out->items[out->n].m = &set->migs[i];
		out->items[out->n++].source = source[i];
		source[i] = NULL;
	}
out:
	for (i = 0; source && i < set->n; i++)
		free(source[i]);
	free(source);
	free(taken);
	for (i = 0; i < rd.n; i++) {
		free(rd.e[i].version);
		free(rd.e[i].name);
		free(rd.e[i].checksum);
		free(rd.e[i].source);
	}
	free(rd.e);
	hist_name_release(&h);
	return rc;
}

void adopt_plan_release(struct adopt_plan *p)
{
	size_t i;

	if (!p)
		return;
	for (i = 0; i < p->n; i++)
		free(p->items[i].source);
	free(p->items);
	for (i = 0; i < p->nproblems; i++)
		free(p->problems[i]);
	free(p->problems);
	free(p->table);
	memset(p, 0, sizeof(*p));
}

static int cmp_version_p(const void *a, const void *b)
{
	return version_cmp(*(const char *const *)a, *(const char *const *)b);
}

/* The matched migrations as applied, one transaction: a row and an
 * "adopt" audit row each, the audit naming the tool's row. A version the
 * books hold already (rolled back: books_unmanaged allows no other) has
 * its row replaced. */
static int adopt_write(struct run *r, const struct apply_set *set, const struct adopt_plan *p)
{
	struct bk_row row, *old = NULL;
	size_t i, nold = 0;
	const char **had = NULL;
	char *detail;
	int exists = 0, rc = -1;

	memset(&row, 0, sizeof(row));
	if (read_rows(r->db, r->drv, &exists, &old, &nold))
		return -1;
	had = xcalloc(nold + 1, sizeof(*had));
	for (i = 0; i < nold; i++)
		had[i] = old[i].version;
	qsort(had, nold, sizeof(*had), cmp_version_p);
	if (tx_begin(r))
		goto out;
	for (i = 0; i < p->n; i++) {
		const struct apply_mig *m = p->items[i].m;

		fill_row(&row, m, set, r, BK_APPLIED);
		row.is_new = !bsearch(&m->version, had, nold, sizeof(*had), cmp_version_p);
		detail = xasprintf("adopted from %s: %s; its SQL was not run by cairn", p->tool,
				   p->items[i].source);
		if (audit_add(r, "adopt", m->version, set->bundle_id, m->version, detail, &row) ||
		    r->drv->bk_put(r->db, &row)) {
			free(detail);
			tx_rollback(r);
			goto out;
		}
		free(detail);
		set_current(r, m->version);
	}
	rc = tx_commit(r);
out:
	bk_row_release(&row);
	bk_rows_free(old, nold);
	free(had);
	return rc;
}

int engine_adopt(struct db *db, const struct driver *drv, const struct apply_set *set,
		 const char *tool, const char *registry, int dry_run, const struct apply_opts *o,
		 struct adopt_plan *out)
{
	struct run r;
	struct books_guard guard;
	int exists = 0, rc;

	memset(&r, 0, sizeof(r));
	memset(&guard, 0, sizeof(guard));
	memset(out, 0, sizeof(*out));
	if (!adopt_tool_known(tool)) {
		cairn_error_set("unknown tool '%s': adopt reads %s", tool, adopt_tool_names());
		return EXIT_USAGE;
	}
	if ((rc = take_lock(db, drv, o)) != EXIT_OK)
		return rc;
	rc = books_unmanaged(&guard, db, drv, o, "adopt",
			     "adopt only takes over a database cairn has not managed", &exists);
	if (rc != EXIT_OK)
		goto out;
	rc = adopt_read(out, db, drv, set, tool, registry);
	if (rc != EXIT_OK)
		goto out;
	if (out->nproblems) {
		cairn_error_set("%s's history on '%s' differs from bundle '%s' in %zu place%s; "
				"nothing was adopted", out->tool, drv->display_name(db),
				set->bundle_name ? set->bundle_name : "", out->nproblems,
				out->nproblems == 1 ? "" : "s");
		rc = EXIT_STATE;
		goto out;
	}
	if (dry_run)
		goto out;
	/* no --env: the database's recorded environment, as apply and baseline */
	o = &guard.opts;
	if ((!exists && drv->bk_ensure(db)) || run_init(&r, db, drv, o) ||
	    record_identity(&r, guard.record) || adopt_write(&r, set, out)) {
		rc = EXIT_ENVIRONMENT;
		goto out;
	}
out:
	unlock_keeping_error(db, drv, &rc);
	books_guard_release(&guard);
	if (r.db)
		run_release(&r);
	return rc;
}
