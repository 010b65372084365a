/* The backup before a destructive migration (backup.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../lib/buf.h"
#include "../lib/error.h"
#include "../lib/pgobject.h"
#include "../lib/sha256.h"
#include "../lib/util.h"
#include "backup.h"
#include "hooks.h"
#include "sqlneeds.h"

/* Why m needs a backup, malloc'ed; NULL when it does not. */
static char *destructive_why(const struct apply_mig *m)
{
	const struct apply_sql *q = apply_mig_sql(m);
	char *what = NULL;
	int rc;

	if (q->backup_why_known)
		return q->backup_why ? xstrdup(q->backup_why) : NULL;
	if (!q->up)
		return NULL;
	rc = sql_destructive(q->up, &what);
	if (rc > 0)
		return what;
	if (rc < 0)
		return xasprintf("the script does not parse as PostgreSQL SQL (%s): copied to be "
				 "safe", cairn_error_last());
	return m->destructive ? xstrdup("migration.yaml says destructive: true") : NULL;
}

void backup_classify(struct apply_set *set)
{
	size_t i;

	for (i = 0; i < set->n; i++) {
		struct apply_mig *m = &set->migs[i];
		struct apply_sql *q;
		char *why;

		/* only a migration whose up script was read has its SQL to fill */
		if (!apply_mig_sql(m)->up || apply_mig_sql(m)->backup_why_known)
			continue;
		why = destructive_why(m);
		q = apply_mig_sql_fill(m);
		q->backup_why = why;
		q->backup_why_known = 1;
	}
}

/* <base>.<version>.<UTC time>.<ext> */
static char *backup_name(const char *base, const char *version, const char *ext)
{
	char stamp[32];
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	return xasprintf("%s.%s.%s.%s", base, version, stamp, ext);
}

/* DIR/<file name>.<version>.<UTC time>.backup */
static char *backup_path(const struct backup_ctx *b, const char *file, const char *version)
{
	const char *slash = strrchr(file, '/'), *base = slash ? slash + 1 : file;
	char *dir, *name, *path;
	int n;

	if (b->dir)
		dir = xstrdup(b->dir);
	else if (slash)
		dir = xstrndup(file, slash == file ? 1 : (size_t)(slash - file));
	else
		dir = xstrdup(".");
	name = backup_name(base, version, "backup");
	path = path_join(dir, name);
	/* two runs of one version within a second: the first copy is kept */
	for (n = 1; path_exists(path) && n < 1000; n++) {
		char *other = xasprintf("%s.%d", name, n);

		free(path);
		path = path_join(dir, other);
		free(other);
	}
	free(dir);
	free(name);
	return path;
}

/* The tables m's script touches that exist now (as to_regclass reads
 * them), into *tables and list (comma-separated); how many. */
static size_t touched_tables(struct sql_needs *needs, const struct apply_mig *m,
			     char ***tables, struct buf *list)
{
	size_t n = 0, i;

	memset(needs, 0, sizeof(*needs));
	*tables = NULL;
	if (sql_needs_scan(needs, apply_mig_sql(m)->up) == 0)
		n = sql_needs_tables(needs, tables);
	for (i = 0; i < n; i++)
		buf_printf(list, "%s%s", i ? "," : "", (*tables)[i]);
	return n;
}

/* The first line of a command's output, at most 200 bytes, for the row. */
static char *first_line(const struct buf *out)
{
	size_t n = 0;

	while (n < out->len && n < 200 && out->ptr[n] != '\n' && out->ptr[n] != '\r')
		n++;
	return xstrndup(out->len ? out->ptr : "", n);
}

/* backup: {command: CMD}: the environment's own command instead of the
 * copy (a PITR snapshot, a storage snapshot...). */
static int command_step(struct backup_ctx *b, const struct apply_mig *m, const char *why,
			char **detail)
{
	struct sql_needs needs;
	struct buf list = BUF_INIT, out = BUF_INIT;
	char **tables = NULL, *line = NULL;
	size_t n = touched_tables(&needs, m, &tables, &list), i;
	const char *env[] = {
		"CAIRN_BUNDLE_ID", b->bundle_id ? b->bundle_id : "",
		"CAIRN_ENV", b->env ? b->env : "",
		"CAIRN_VERSION", m->version,
		"CAIRN_MIGRATION", m->name,
		"CAIRN_TABLES", buf_cstr(&list),
		"CAIRN_DATABASE", b->drv->display_name(b->db),
		"CAIRN_BACKUP_DIR", b->dir ? b->dir : "",
		NULL, NULL,
	};
	int rc = hook_command("backup command", b->command, b->timeout_ms, env, &out);

	line = first_line(&out);
	if (rc < 0) {
		char *keep = xstrdup(cairn_error_last());

		cairn_error_set("%s%s%s", keep, *line ? ": " : "", line);
		free(keep);
	} else {
		*detail = xasprintf("backup=command; exit=0; output=%s; tables=%s; destructive: %s; "
				    "restore: by the environment's own means (backup: {command:})",
				    *line ? line : "(none)", n ? buf_cstr(&list) : "(none)", why);
	}
	for (i = 0; i < n; i++)
		free(tables[i]);
	free(tables);
	free(line);
	buf_release(&list);
	buf_release(&out);
	sql_needs_release(&needs);
	return rc;
}

/* "t" from a query of the catalog: 1, 0, or -1 (error set). */
static int catalog_says(struct backup_ctx *b, const char *sql)
{
	char *v = NULL;
	int rc = b->drv->query_text(b->db, sql, &v);

	if (!rc)
		rc = v && !strcmp(v, "t");
	free(v);
	return rc;
}

/* One object the script creates, unless the catalog has it already:
 * appended to list as "KIND NAME"; 1 when the script would replace it
 * (CREATE OR REPLACE: its old definition is not in the dump; *why set). */
static int created_one(struct backup_ctx *b, const struct sql_created_obj *o,
		       const char *current, struct buf *list, char **why)
{
	int schemaless = !strcmp(o->kind, "SCHEMA") || !strcmp(o->kind, "EXTENSION");
	char *name = sql_created_name(o, schemaless ? NULL : o->schema ? o->schema : current);
	char *sql = pg_object_exists_sql(o->kind, name);
	int there = catalog_says(b, sql), rc = 0;

	if (there < 0)
		rc = -1;
	else if (there && o->may_exist &&
		 (!strcmp(o->kind, "VIEW") || !strcmp(o->kind, "FUNCTION") ||
		  !strcmp(o->kind, "PROCEDURE"))) {
		*why = xasprintf("line %d: CREATE OR REPLACE %s %s replaces one that exists, whose "
				 "definition the dump does not hold", o->line, o->kind, name);
		rc = 1;
	} else if (!there) {
		buf_printf(list, "%s%s %s", list->len ? ", " : "", o->kind, name);
	}
	free(sql);
	free(name);
	return rc;
}

/* "created=KIND NAME, ..." for the backup row: what restore removes, the
 * names resolved now (current_schema() for an unqualified one), before
 * the migration runs; "created=(none)", or "created=unknown: WHY" when
 * restore could not know (a statement it cannot follow). NULL: error. */
static char *created_field(struct backup_ctx *b, const struct apply_mig *m)
{
	struct sql_created c;
	struct buf list = BUF_INIT;
	char *current = NULL, *why = NULL, *out = NULL;
	size_t i;
	int rc = sql_created_scan(&c, apply_mig_sql(m)->up);

	if (rc < 0) {
		out = xasprintf("created=unknown: the script does not parse (%s)",
				cairn_error_last());
		goto out;
	}
	if (rc > 0) {
		out = xasprintf("created=unknown: %s, which restore cannot follow", c.unknown);
		goto out;
	}
	if (b->drv->query_text(b->db, "SELECT current_schema()", &current) < 0)
		goto out;
	for (i = 0; i < c.n && !why; i++)
		if (created_one(b, &c.items[i], current, &list, &why) < 0)
			goto out;
	out = why ? xasprintf("created=unknown: %s", why)
		  : xasprintf("created=%s", list.len ? buf_cstr(&list) : "(none)");
out:
	free(current);
	free(why);
	buf_release(&list);
	sql_created_release(&c);
	return out;
}

/* PostgreSQL: pg_dump of the tables the script touches that exist now,
 * into DIR/<database>.<version>.<UTC time>.pgdump. */
static int dump_step(struct backup_ctx *b, const struct apply_mig *m, const char *why,
		     char **detail)
{
	struct sql_needs needs;
	struct buf list = BUF_INIT;
	char **tables = NULL, *dbname = NULL, *path = NULL, *name, *q, *created = NULL;
	char hex[SHA256_HEX_LEN + 1];
	unsigned long long size;
	size_t n = 0, i;
	int rc = -1;

	n = touched_tables(&needs, m, &tables, &list);
	if (!n) {
		*detail = xasprintf("backup=none (no existing table touched); destructive: %s", why);
		rc = 0;
		goto out;
	}
	if (b->drv->query_text(b->db, "SELECT current_database()", &dbname) < 0 || !dbname ||
	    !(created = created_field(b, m)))
		goto out;
	if (mkdir_p(b->dir ? b->dir : ".", 0700) < 0)
		goto out;
	name = backup_name(dbname, m->version, "pgdump");
	path = path_join(b->dir ? b->dir : ".", name);
	free(name);
	if (b->drv->dump_tables(b->db, (const char *const *)tables, n, path) < 0 ||
	    sha256_file(path, hex, &size) < 0)
		goto out;
	q = shell_quote(path);
	*detail = xasprintf("backup=%s; sha256=%s; bytes=%llu; tables=%s; %s; destructive: %s; "
			    "restore: pg_restore --clean --if-exists --single-transaction "
			    "--dbname %s %s", path, hex, size, buf_cstr(&list), created, why, dbname,
			    q);
	free(q);
	free(b->last);
	free(b->last_sha256);
	b->last = path;
	b->last_sha256 = xstrdup(hex);
	path = NULL;
	rc = 0;
out:
	for (i = 0; i < n; i++)
		free(tables[i]);
	free(tables);
	free(dbname);
	free(path);
	free(created);
	buf_release(&list);
	sql_needs_release(&needs);
	return rc;
}

char *backup_plan(const struct backup_ctx *b, const struct apply_mig *m)
{
	const char *file = b->drv->file_path ? b->drv->file_path(b->db) : NULL;
	char *why = destructive_why(m), *out;

	if (!why)
		return NULL;
	if (b->off)
		out = xasprintf("none: backup: off (destructive: %s)", why);
	else if (b->command)
		out = xasprintf("the environment's command: %s (destructive: %s)", b->command, why);
	else if (!file && b->drv->dump_tables)
		out = xasprintf("pg_dump of the tables it touches to %s (destructive: %s)",
				b->dir ? b->dir : ".", why);
	else if (file && b->drv->backup_to)
		out = xasprintf("copy of the database %s (destructive: %s)",
				b->dir ? b->dir : "beside the file", why);
	else
		out = xasprintf("none: no file to copy (destructive: %s)", why);
	free(why);
	return out;
}

int backup_before_step(void *ctx, const struct apply_mig *m, char **detail)
{
	struct backup_ctx *b = ctx;
	const char *file = b->drv->file_path ? b->drv->file_path(b->db) : NULL;
	char *why = destructive_why(m), *path = NULL, *qdb = NULL, *qpath = NULL;
	char hex[SHA256_HEX_LEN + 1];
	unsigned long long size;

	*detail = NULL;
	if (!why)
		return 0;
	if (!b->off && b->command) {
		int rc = command_step(b, m, why, detail);

		free(why);
		return rc;
	}
	if (!b->off && !file && b->drv->dump_tables) {
		int rc = dump_step(b, m, why, detail);

		free(why);
		return rc;
	}
	if (b->off || !file) {
		*detail = xasprintf("backup=none (%s); destructive: %s",
				    b->off ? "backup: off" : "no file to copy", why);
		free(why);
		return 0;
	}
	if (b->dir && mkdir_p(b->dir, 0700) < 0) {
		free(why);
		return -1;
	}
	path = backup_path(b, file, m->version);
	if (b->drv->backup_to(b->db, path) < 0 || sha256_file(path, hex, &size) < 0) {
		free(why);
		free(path);
		return -1;
	}
	qdb = shell_quote(file);
	qpath = shell_quote(path);
	*detail = xasprintf("backup=%s; sha256=%s; bytes=%llu; destructive: %s; restore: "
			    "sqlite3 %s \".restore %s\"", path, hex, size, why, qdb, qpath);
	free(b->last);
	free(b->last_sha256);
	b->last = path;
	b->last_sha256 = xstrdup(hex);
	free(why);
	free(qdb);
	free(qpath);
	return 0;
}

void backup_ctx_release(struct backup_ctx *c)
{
	if (!c)
		return;
	free(c->last);
	free(c->last_sha256);
	c->last = c->last_sha256 = NULL;
}
