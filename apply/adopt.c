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
	const char *name, *table, *pg_table; /* pg_table: NULL = table */
	const char *sql;
	int (*read)(struct adopt_reader *rd, const struct driver_rows *rows);
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
			adopt_problem(rd->p, "flyway_schema_history installed_rank=%s: %s failed (success "
				"= false): fix the schema by hand and run 'flyway repair' first",
				rank, script);
			continue;
		}
		if (!v) {
			adopt_problem(rd->p, "flyway_schema_history installed_rank=%s: %s is a repeatable "
				"migration, which cairn does not have", rank, script);
			continue;
		}
		if (!strcmp(type, "UNDO_SQL") || !strcmp(type, "DELETE")) {
			entry_undo(rd, v);
			continue;
		}
		if (!strcmp(type, "BASELINE")) {
			/* flyway baseline: the schema up to v was there before Flyway */
			entry_add(rd, v, NULL,
				  xasprintf("flyway_schema_history installed_rank=%s type=BASELINE "
					    "version=%s", rank, v))->below = 2;
			continue;
		}
		if (strcmp(type, "SQL")) {
			adopt_problem(rd->p, "flyway_schema_history installed_rank=%s: %s is a %s "
				"migration, which cairn cannot hold", rank, script, type);
			continue;
		}
		entry_add(rd, v, cell(r, i, 4),
			  xasprintf("flyway_schema_history installed_rank=%s version=%s "
				    "script=%s checksum=%s", rank, v, script, or_null(cell(r, i, 4))));
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
		adopt_problem(rd->p, "schema_migrations holds %zu rows; golang-migrate keeps one",
			r->nrows);
		return 0;
	}
	if (truthy(cell(r, 0, 1))) {
		adopt_problem(rd->p, "schema_migrations version=%s dirty=true: golang-migrate stopped "
			"in the middle of %s; fix the schema by hand, then 'migrate force' the "
			"version it is really at", or_null(cell(r, 0, 0)), or_null(cell(r, 0, 0)));
		return 0;
	}
	entry_add(rd, or_null(cell(r, 0, 0)), NULL,
		  xasprintf("schema_migrations version=%s dirty=false", or_null(cell(r, 0, 0))));
	rd->e[0].below = 1;
	return 0;
}

/* dbmate, pop, diesel: one row per applied version. */
static int read_versions(struct adopt_reader *rd, const struct driver_rows *r, const char *table)
{
	size_t i;

	for (i = 0; i < r->nrows; i++)
		entry_add(rd, or_null(cell(r, i, 0)), NULL,
			  xasprintf("%s version=%s", table, or_null(cell(r, i, 0))));
	return 0;
}

static int read_dbmate(struct adopt_reader *rd, const struct driver_rows *r)
{
	return read_versions(rd, r, "schema_migrations");
}

static int read_pop(struct adopt_reader *rd, const struct driver_rows *r)
{
	return read_versions(rd, r, "schema_migration");
}

static int read_diesel(struct adopt_reader *rd, const struct driver_rows *r)
{
	return read_versions(rd, r, "__diesel_schema_migrations");
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
			entry_add(rd, v, NULL, xasprintf("goose_db_version id=%s version_id=%s",
							 or_null(cell(r, i, 0)), v));
	}
	return 0;
}

static int read_sqitch(struct adopt_reader *rd, const struct driver_rows *r)
{
	size_t i;

	for (i = 0; i < r->nrows; i++) {
		struct adopt_entry *e = entry_add(rd, NULL, cell(r, i, 2),
					    xasprintf("sqitch.changes change_id=%s change=%s "
						      "script_hash=%s", or_null(cell(r, i, 0)),
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
			adopt_problem(rd->p, "_prisma_migrations id=%s: %s failed or did not finish "
				"(finished_at is NULL): resolve it with 'prisma migrate resolve' "
				"first", or_null(cell(r, i, 0)), name);
			continue;
		}
		v = xstrndup(name, vl);
		entry_add(rd, v, cell(r, i, 2),
			  xasprintf("_prisma_migrations id=%s migration_name=%s checksum=%s",
				    or_null(cell(r, i, 0)), name, or_null(cell(r, i, 2))));
		free(v);
	}
	return 0;
}

static const struct tool tools[] = {
	{ "flyway", "flyway_schema_history", NULL,
	  "SELECT installed_rank, version, type, script, checksum, success "
	  "FROM flyway_schema_history ORDER BY installed_rank", read_flyway },
	{ "golang-migrate", "schema_migrations", NULL,
	  "SELECT version, dirty FROM schema_migrations", read_golang_migrate },
	{ "dbmate", "schema_migrations", NULL,
	  "SELECT version FROM schema_migrations ORDER BY version", read_dbmate },
	{ "goose", "goose_db_version", NULL,
	  "SELECT id, version_id, is_applied FROM goose_db_version ORDER BY id", read_goose },
	{ "sqitch", "sqitch.changes", "sqitch.changes",
	  "SELECT change_id, change, script_hash FROM sqitch.changes "
	  "ORDER BY committed_at, change_id", read_sqitch },
	{ "pop", "schema_migration", NULL,
	  "SELECT version FROM schema_migration ORDER BY version", read_pop },
	{ "diesel", "__diesel_schema_migrations", NULL,
	  "SELECT version FROM __diesel_schema_migrations ORDER BY version", read_diesel },
	{ "prisma", "_prisma_migrations", NULL,
	  "SELECT id, migration_name, checksum, finished_at, rolled_back_at "
	  "FROM _prisma_migrations ORDER BY started_at, migration_name", read_prisma },
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

static int table_exists(struct db *db, const struct driver *drv, const struct tool *t,
			int *exists)
{
	struct driver_rows r;
	char *sql;
	int rc;

	if (!strcmp(drv->name, "postgres"))
		sql = xasprintf("SELECT to_regclass('%s') IS NOT NULL",
				t->pg_table ? t->pg_table : t->table);
	else if (t->pg_table) /* sqitch: its registry attached as schema sqitch */
		sql = xstrdup("SELECT count(*) FROM sqitch.sqlite_master WHERE type = 'table' AND "
			      "name = 'changes'");
	else
		sql = xasprintf("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND "
				"name = '%s'", t->table);
	*exists = 0;
	rc = drv->query_rows(db, sql, &r);
	free(sql);
	if (rc)
		return -1;
	*exists = r.nrows == 1 && r.ncols == 1 && cell(&r, 0, 0) &&
		  (truthy(cell(&r, 0, 0)) || atoi(cell(&r, 0, 0)) > 0);
	driver_rows_release(&r);
	return 0;
}

/* The tool's rows read into rd. EXIT_STATE when its table is not there. */
static int read_history(struct adopt_reader *rd, struct db *db, const struct driver *drv,
			const struct tool *t, const char *registry)
{
	struct driver_rows rows;
	char *reg = NULL;
	int exists = 0, attached = 0, rc = EXIT_ENVIRONMENT;

	memset(&rows, 0, sizeof(rows));
	if (t->pg_table && strcmp(drv->name, "postgres")) {
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
	if (table_exists(db, drv, t, &exists))
		goto out;
	if (!exists) {
		cairn_error_set("no %s history on '%s': table %s not found%s%s", t->name,
				drv->display_name(db), t->table, reg ? " in its registry " : "",
				reg ? reg : "");
		rc = EXIT_STATE;
		goto out;
	}
	if (drv->query_rows(db, t->sql, &rows) || t->read(rd, &rows))
		goto out;
	rc = EXIT_OK;
out:
	if (attached)
		sqitch_detach(db, drv);
	driver_rows_release(&rows);
	free(reg);
	return rc;
}

int adopt_read(struct adopt_plan *out, struct db *db, const struct driver *drv,
	       const struct apply_set *set, const char *tool, const char *registry)
{
	const struct tool *t = tool_find(tool);
	struct adopt_reader rd;
	char *taken = NULL, **source = NULL;
	size_t i;
	int rc;

	memset(out, 0, sizeof(*out));
	memset(&rd, 0, sizeof(rd));
	if (!t) {
		cairn_error_set("unknown tool '%s': adopt reads %s", tool, adopt_tool_names());
		return EXIT_USAGE;
	}
	out->tool = t->name;
	out->table = t->table;
	rd.p = out;
	if (!drv->query_rows) {
		cairn_error_set("the %s driver cannot read another tool's tables", drv->name);
		return EXIT_ENVIRONMENT;
	}
	if ((rc = read_history(&rd, db, drv, t, registry)) != EXIT_OK)
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
	if (drv->unlock(db) && rc == EXIT_OK)
		rc = EXIT_ENVIRONMENT;
	books_guard_release(&guard);
	if (r.db)
		run_release(&r);
	return rc;
}
