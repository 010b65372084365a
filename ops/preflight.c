/* Preflight's checks on the open database (preflight.h). Every question
 * is a read: catalog queries, a lock tried and dropped at once, statvfs. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "../apply/role.h"
#include "../lib/buf.h"
#include "../lib/error.h"
#include "../lib/exitcodes.h"
#include "preflight.h"
#include "sqlneeds.h"

void preflight_add(struct preflight *p, const char *id, enum pf_status st, int exit_code,
		   const char *fmt, ...)
{
	struct pf_check *c;
	struct buf b = BUF_INIT;
	va_list ap;
	char line[CAIRN_ERRMSG_MAX * 2];
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0)
		line[0] = '\0';
	else if ((size_t)n >= sizeof(line)) {
		/* a long list of findings: format it whole */
		char *big = xmalloc((size_t)n + 1);

		va_start(ap, fmt);
		vsnprintf(big, (size_t)n + 1, fmt, ap);
		va_end(ap);
		buf_puts(&b, big);
		free(big);
	}
	if (!b.len)
		buf_puts(&b, line);
	ALLOC_GROW(p->checks, p->n + 1, p->alloc);
	c = &p->checks[p->n++];
	c->id = xstrdup(id);
	c->status = st;
	c->exit_code = st == PF_FAIL ? exit_code : EXIT_OK;
	c->detail = buf_detach(&b, NULL);
}

static int is_pg(const struct preflight_input *in)
{
	return !strcmp(in->drv->name, "postgres");
}

static void check_version(struct preflight *p, const struct preflight_input *in)
{
	char *v = NULL, *num = NULL;
	long major;

	if (!in->drv->query_text) {
		preflight_add(p, "version", PF_SKIP, 0, "the driver cannot say");
		return;
	}
	if (!is_pg(in)) {
		if (in->drv->query_text(in->db, "SELECT sqlite_version()", &v) < 0)
			preflight_add(p, "version", PF_FAIL, EXIT_ENVIRONMENT, "%s", cairn_error_last());
		else
			preflight_add(p, "version", PF_INFO, 0, "SQLite %s", v ? v : "(no file yet)");
		free(v);
		return;
	}
	if (in->drv->query_text(in->db, "SELECT current_setting('server_version')", &v) < 0 ||
	    in->drv->query_text(in->db, "SELECT current_setting('server_version_num')", &num) < 0) {
		preflight_add(p, "version", PF_FAIL, EXIT_ENVIRONMENT, "%s", cairn_error_last());
		goto out;
	}
	major = num ? strtol(num, NULL, 10) / 10000 : 0;
	if (!in->pg_version)
		preflight_add(p, "version", PF_INFO, 0,
			      "PostgreSQL %s (the environment sets no postgres: {version:} to "
			      "compare with)", v ? v : "?");
	else if (major < in->pg_version)
		preflight_add(p, "version", PF_FAIL, EXIT_FAILED,
			      "the server is PostgreSQL %s, older than the %d the environment's "
			      "postgres: {version:} says the migrations were checked for",
			      v ? v : "?", in->pg_version);
	else
		preflight_add(p, "version", PF_PASS, 0, "PostgreSQL %s (postgres: {version: %d})",
			      v ? v : "?", in->pg_version);
out:
	free(v);
	free(num);
}

/* What apply asks once the database is open, before anything is written
 * (attack15i): a role that can hide writes from the books guard fails the
 * check with apply's refusal and its way out, or passes with its warning. */
static void check_role(struct preflight *p, const struct preflight_input *in)
{
	char *warning = NULL;

	if (!in->drv->role_facts)
		return; /* SQLite: no roles ("privileges" says so) */
	if (role_check(in->drv, in->db, in->role_refuse, in->role_why, in->env, "apply",
		       &warning) < 0)
		preflight_add(p, "role", PF_FAIL, EXIT_REFUSED, "%s", cairn_error_last());
	else if (warning)
		preflight_add(p, "role", PF_WARN, 0, "%s", warning);
	else
		preflight_add(p, "role", PF_PASS, 0, "the role can hide no write from the books "
			      "guard (no superuser, no member of one, no BYPASSRLS, "
			      "session_replication_role origin)");
	free(warning);
}

static void check_books(struct preflight *p, const struct preflight_input *in)
{
	char *why = NULL;
	int rc;

	if (!in->drv->books_writable) {
		preflight_add(p, "books", PF_SKIP, 0, "the driver cannot say");
		return;
	}
	rc = in->drv->books_writable(in->db, &why);
	if (rc < 0)
		preflight_add(p, "books", PF_FAIL, EXIT_ENVIRONMENT, "%s", cairn_error_last());
	else if (!rc)
		preflight_add(p, "books", PF_FAIL, EXIT_ENVIRONMENT, "%s", why ? why : "not writable");
	else
		preflight_add(p, "books", PF_PASS, 0, "the bookkeeping can be written");
	free(why);
}

/* The catalog query that answers one need: NULL when the role has it,
 * else why not. */
static void need_query(struct buf *q, const struct sql_need *n)
{
	struct buf r = BUF_INIT;
	char *rel;
	const char *priv = NULL;

	switch (n->kind) {
	case NEED_SCHEMA_CREATE:
		if (n->schema)
			buf_put_sql_literal(&r, n->schema);
		else
			buf_puts(&r, "current_schema()");
		buf_printf(q, "SELECT CASE WHEN s IS NULL THEN 'no schema on the search path' "
			   "WHEN to_regnamespace(quote_ident(s)) IS NULL THEN format('schema %%s does not "
			   "exist', s) WHEN has_schema_privilege(quote_ident(s), 'CREATE') THEN NULL "
			   "ELSE format('role %%s has no CREATE on schema %%s', current_user, s) END "
			   "FROM (SELECT %s::text AS s) x", r.ptr);
		break;
	case NEED_TABLE_OWNER:
		rel = sql_need_relname(n);
		buf_put_sql_literal(&r, rel);
		free(rel);
		/* IF EXISTS: a relation that is not there is no failure */
		buf_puts(q, "SELECT CASE WHEN c.oid IS NULL THEN ");
		if (n->missing_ok)
			buf_puts(q, "NULL");
		else
			buf_printf(q, "format('%%s does not exist', %s)", r.ptr);
		buf_printf(q, " WHEN pg_has_role(c.relowner, 'USAGE') THEN NULL "
			   "ELSE format('role %%s does not own %%s (owner: %%s)', current_user, "
			   "c.oid::regclass, c.relowner::regrole) END "
			   "FROM (SELECT to_regclass(%s) AS r) x LEFT JOIN pg_class c ON c.oid = x.r",
			   r.ptr);
		break;
	case NEED_TABLE_TRUNCATE: priv = "TRUNCATE"; break;
	case NEED_TABLE_INSERT: priv = "INSERT"; break;
	case NEED_TABLE_UPDATE: priv = "UPDATE"; break;
	case NEED_TABLE_DELETE: priv = "DELETE"; break;
	case NEED_DB_CREATE:
		buf_puts(q, "SELECT CASE WHEN has_database_privilege(current_database(), 'CREATE') "
			 "THEN NULL ELSE format('role %s has no CREATE on database %s', current_user, "
			 "current_database()) END");
		break;
	case NEED_EXTENSION:
		buf_put_sql_literal(&r, n->name);
		buf_printf(q, "SELECT CASE WHEN EXISTS (SELECT 1 FROM pg_extension WHERE extname = %s) "
			   "OR has_database_privilege(current_database(), 'CREATE') THEN NULL "
			   "ELSE format('role %%s has no CREATE on database %%s', current_user, "
			   "current_database()) END", r.ptr);
		break;
	}
	if (priv) {
		rel = sql_need_relname(n);
		buf_put_sql_literal(&r, rel);
		free(rel);
		buf_printf(q, "SELECT CASE WHEN to_regclass(%s) IS NULL THEN format('%%s does not "
			   "exist', %s) WHEN has_table_privilege(to_regclass(%s), '%s') THEN NULL "
			   "ELSE format('role %%s has no %s on %%s', current_user, to_regclass(%s)) END",
			   r.ptr, r.ptr, r.ptr, priv, priv, r.ptr);
	}
	buf_release(&r);
}

struct scanned {
	struct sql_needs all;
	const char **path;     /* per need: the script it came from */
	size_t npath, apath;
	int parse_failed;
};

/* Every pending step's up script, parsed; a script that does not parse is
 * a failure of its own (apply would stop on it). */
static void scan_pending(struct scanned *sc, struct preflight *p,
			 const struct preflight_input *in, struct buf *bad)
{
	size_t i, before;

	for (i = 0; in->plan && i < in->plan->n; i++) {
		const struct plan_step *s = &in->plan->steps[i];

		if (s->action != STEP_APPLY && s->action != STEP_RESUME)
			continue;
		if (!apply_mig_sql(s->m)->up)
			continue;
		before = sc->all.n;
		if (sql_needs_scan(&sc->all, apply_mig_sql(s->m)->up) < 0) {
			buf_printf(bad, "%s%s: does not parse: %s", bad->len ? "\n" : "",
				   apply_mig_sql(s->m)->up_path, cairn_error_last());
			sc->parse_failed = 1;
			continue;
		}
		ALLOC_GROW(sc->path, sc->all.n, sc->apath);
		for (; before < sc->all.n; before++)
			sc->path[before] = apply_mig_sql(s->m)->up_path;
	}
	(void)p;
}

static void check_privileges(struct preflight *p, const struct preflight_input *in,
			     struct scanned *sc)
{
	struct buf bad = BUF_INIT, q = BUF_INIT;
	size_t i, checked = 0;

	scan_pending(sc, p, in, &bad);
	for (i = 0; i < sc->all.n; i++) {
		const struct sql_need *n = &sc->all.items[i];
		char *why = NULL;

		if (sql_needs_met(&sc->all, i))
			continue;
		buf_reset(&q);
		need_query(&q, n);
		checked++;
		if (in->drv->query_text(in->db, q.ptr, &why) < 0) {
			preflight_add(p, "privileges", PF_FAIL, EXIT_ENVIRONMENT, "%s",
				      cairn_error_last());
			goto out;
		}
		if (why)
			buf_printf(&bad, "%s%s:%d: %s needs %s%s%s: %s", bad.len ? "\n" : "",
				   sc->path[i], n->line, n->what, sql_need_kind_name(n->kind),
				   n->name && n->kind != NEED_DB_CREATE ? " " : "",
				   n->name && n->kind != NEED_DB_CREATE ? n->name : "", why);
		free(why);
	}
	if (bad.len)
		preflight_add(p, "privileges", PF_FAIL, EXIT_FAILED, "%s", bad.ptr);
	else
		preflight_add(p, "privileges", PF_PASS, 0,
			      "the role has all %zu privilege%s the pending statements need (%zu more "
			      "are met by what the run itself creates)", checked,
			      checked == 1 ? "" : "s", sc->all.n - checked);
out:
	buf_release(&bad);
	buf_release(&q);
}

static void check_blockers(struct preflight *p, const struct preflight_input *in,
			   const struct scanned *sc)
{
	char **tables = NULL, *who = NULL;
	size_t n = sql_needs_tables(&sc->all, &tables), i;

	if (!in->drv->blockers)
		preflight_add(p, "blockers", PF_SKIP, 0, "the driver cannot say");
	else if (in->drv->blockers(in->db, (const char *const *)tables, n, &who) < 0)
		preflight_add(p, "blockers", PF_FAIL, EXIT_ENVIRONMENT, "%s", cairn_error_last());
	else if (who && in->plan && !in->plan->napply)
		preflight_add(p, "blockers", PF_INFO, 0, "nothing to apply; held now:\n%s", who);
	else if (who)
		preflight_add(p, "blockers", PF_FAIL, EXIT_FAILED,
			      "sessions hold locks the migrations would wait for:\n%s", who);
	else if (is_pg(in))
		preflight_add(p, "blockers", PF_PASS, 0,
			      "no other session holds a lock on the %zu table%s touched", n,
			      n == 1 ? "" : "s");
	else
		preflight_add(p, "blockers", PF_PASS, 0, "no other connection is writing");
	for (i = 0; i < n; i++)
		free(tables[i]);
	free(tables);
	free(who);
}

/* SQLite: the run may need the file's size again for the backup (a copy
 * beside it) and as much again for the rollback journal and growth. */
static void check_disk(struct preflight *p, const struct preflight_input *in)
{
	const char *path = in->drv->file_path ? in->drv->file_path(in->db) : NULL;
	struct statvfs vfs;
	struct stat st;
	char *dir;
	const char *slash;
	unsigned long long size = 0, need, avail;

	if (!path) {
		preflight_add(p, "disk", PF_SKIP, 0, "the database server's own disk is not "
			      "visible from here");
		return;
	}
	if (stat(path, &st) == 0)
		size = (unsigned long long)st.st_size;
	slash = strrchr(path, '/');
	dir = slash ? (slash == path ? xstrdup("/") : xstrndup(path, (size_t)(slash - path)))
		    : xstrdup(".");
	if (statvfs(dir, &vfs) != 0) {
		preflight_add(p, "disk", PF_FAIL, EXIT_ENVIRONMENT, "cannot read the free space of "
			      "'%s'", dir);
		free(dir);
		return;
	}
	avail = (unsigned long long)vfs.f_bavail * vfs.f_frsize;
	need = 2 * size + (1ULL << 20);
	if (avail < need)
		preflight_add(p, "disk", PF_FAIL, EXIT_ENVIRONMENT,
			      "%llu bytes free in '%s', %llu needed (the file is %llu bytes: as "
			      "much again for a backup, for the journal and growth, and 1 MiB)",
			      avail, dir, need, size);
	else
		preflight_add(p, "disk", PF_PASS, 0, "%llu bytes free in '%s', %llu needed", avail,
			      dir, need);
	free(dir);
}

static void check_lock(struct preflight *p, const struct preflight_input *in)
{
	char *holder = NULL;
	int rc;

	if (!in->drv->lock_probe) {
		preflight_add(p, "lock", PF_SKIP, 0, "the driver cannot say");
		return;
	}
	rc = in->drv->lock_probe(in->db, &holder);
	if (rc < 0)
		preflight_add(p, "lock", PF_FAIL, EXIT_ENVIRONMENT, "%s", cairn_error_last());
	else if (rc)
		preflight_add(p, "lock", PF_FAIL, EXIT_LOCKED, "%s", holder);
	else
		preflight_add(p, "lock", PF_PASS, 0, "the run lock is free");
	free(holder);
}

static void check_replication(struct preflight *p, const struct preflight_input *in)
{
	char *v = NULL;

	if (in->drv->query_text(in->db,
				"SELECT CASE WHEN count(*) = 0 THEN 'no standby attached' ELSE "
				"format('%s standby(s); the largest replay lag is %s', count(*), "
				"coalesce(max(replay_lag)::text, 'unknown')) END "
				"FROM pg_stat_replication", &v) < 0)
		preflight_add(p, "replication", PF_INFO, 0, "not visible: %s", cairn_error_last());
	else
		preflight_add(p, "replication", PF_INFO, 0, "%s", v ? v : "?");
	free(v);
}

void preflight_run(struct preflight *p, const struct preflight_input *in)
{
	struct scanned sc;

	memset(&sc, 0, sizeof(sc));
	check_version(p, in);
	check_role(p, in);
	check_books(p, in);
	if (is_pg(in) && in->drv->query_text)
		check_privileges(p, in, &sc);
	else
		preflight_add(p, "privileges", PF_INFO, 0,
			      "SQLite has no roles: the file's permissions are the books check");
	check_disk(p, in);
	check_blockers(p, in, &sc);
	check_lock(p, in);
	if (is_pg(in) && in->drv->query_text)
		check_replication(p, in);
	sql_needs_release(&sc.all);
	free(sc.path);
}

int preflight_exit(const struct preflight *p)
{
	static const int order[] = { EXIT_REFUSED, EXIT_ENVIRONMENT, EXIT_STATE, EXIT_LOCKED,
				     EXIT_FAILED };
	size_t i, k;

	for (k = 0; k < sizeof(order) / sizeof(order[0]); k++)
		for (i = 0; i < p->n; i++)
			if (p->checks[i].status == PF_FAIL && p->checks[i].exit_code == order[k])
				return order[k];
	for (i = 0; i < p->n; i++)
		if (p->checks[i].status == PF_FAIL)
			return EXIT_FAILED;
	return EXIT_OK;
}

const char *pf_status_name(enum pf_status s)
{
	switch (s) {
	case PF_PASS: return "pass";
	case PF_FAIL: return "FAIL";
	case PF_INFO: return "info";
	case PF_SKIP: return "skip";
	case PF_WARN: return "warn";
	}
	return "?";
}

void preflight_release(struct preflight *p)
{
	size_t i;

	if (!p)
		return;
	for (i = 0; i < p->n; i++) {
		free(p->checks[i].id);
		free(p->checks[i].detail);
	}
	free(p->checks);
	memset(p, 0, sizeof(*p));
}
