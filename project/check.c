/* Static rules on one tree. Every rule adds findings and goes on, so one
 * run reports everything; the rule ids are listed in cairn(1). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/error.h"
#include "../lib/util.h"
#include "../verify/archive.h"
#include "project.h"
#include "sqlcheck.h"

/* An up.sql holding only white space and comments does nothing. */
static int sql_is_empty(const char *s, size_t len)
{
	return sql_skip_blank(s, len, 0, 0) >= len;
}

static const char *const standard_files[] = {
	"up.sql", "down.sql", "verify.sql", "migration.yaml", NULL,
};

static const char *role_name(enum mig_role r)
{
	switch (r) {
	case ROLE_UP: return "up";
	case ROLE_DOWN: return "down";
	case ROLE_VERIFY: return "verify";
	default: return "";
	}
}

/* Does driver d run this file? A variant runs on its driver only; a generic
 * file on every targeted driver that has no variant of that role. */
static int file_runs_on(const struct project *p, const struct migration *m,
			const struct mig_file *mf, const char *d)
{
	if (mf->driver)
		return !strcmp(mf->driver, d);
	if (p->cfg.drivers.n && !strlist_has(&p->cfg.drivers, d))
		return 0;
	return !migration_file(m, mf->role, d) || !migration_file(m, mf->role, d)->driver;
}

static int item_seen(const struct sql_items *items, const struct sql_item *it)
{
	size_t i;

	for (i = 0; i < items->n; i++)
		if (items->items[i].line == it->line && items->items[i].kind == it->kind)
			return 1;
	return 0;
}

/* One finding per statement of sqlcheck's kinds. drv names the driver(s)
 * whose setting made it a problem, for the message. */
static void sql_finding(const struct mig_file *mf, const struct sql_item *it, const char *drv,
			struct findings *f)
{
	const char *verify = mf->role == ROLE_VERIFY ? "verify" : NULL;

	switch (it->kind) {
	case SQL_TX_CONTROL:
		if (verify)
			findings_add(f, SEV_ERROR, mf->path, it->line, 0, "transaction-control",
				     "%s in %s: verify.sql runs read-only inside the migration's transaction, and may not end or steer it; delete the statement (a sqitch-style BEGIN ... ROLLBACK wrapper is not needed)",
				     it->what, mf->name);
		else
			findings_add(f, SEV_ERROR, mf->path, it->line, 0, "transaction-control",
				     "%s in a migration that runs in a transaction%s%s: cairn already runs each migration in a transaction and records it there, so delete the BEGIN/COMMIT wrapper, or set transaction: %s%s%s in migration.yaml",
				     it->what, drv ? " on " : "", drv ? drv : "", drv ? "{" : "false",
				     drv ? drv : "", drv ? ": false}" : "");
		break;
	case SQL_NO_TX:
		findings_add(f, SEV_ERROR, mf->path, it->line, 0, "not-in-transaction",
			     "%s cannot run inside a transaction block, and this migration runs in one%s%s; set transaction: %s%s%s in migration.yaml, best in a migration of its own",
			     it->what, drv ? " on " : "", drv ? drv : "", drv ? "{" : "false",
			     drv ? drv : "", drv ? ": false}" : "");
		break;
	case SQL_NO_TX_BEFORE12:
		findings_add(f, SEV_WARNING, mf->path, it->line, 0, "not-in-transaction",
			     "%s cannot run inside a transaction before PostgreSQL 12, and from 12 on the new value cannot be used in the same transaction; set transaction: {postgres: false} if either matters",
			     it->what);
		break;
	case SQL_IGNORED_IN_TX:
		findings_add(f, SEV_WARNING, mf->path, it->line, 0, "pragma-in-transaction",
			     "%s does nothing inside a transaction, where SQLite runs this migration; set it per connection instead: the DSN's sqlite:PATH?foreign_keys=on, or sqlite: {foreign_keys: on} in the applier's config",
			     it->what);
		break;
	}
}

/* Transaction control and statements that cannot run in a transaction, for
 * every driver that runs this file (design.md, "Transactions in SQL"). */
static void check_sql_transaction(struct project *p, struct migration *m,
				  const struct mig_file *mf, const char *sql, size_t len,
				  struct findings *f)
{
	static const struct { const char *driver; enum sql_dialect d; } drv[] = {
		{ "postgres", SQL_POSTGRES }, { "sqlite", SQL_SQLITE },
	};
	struct sql_items items = SQL_ITEMS_INIT, told = SQL_ITEMS_INIT;
	size_t i, k;

	if (mf->role != ROLE_UP && mf->role != ROLE_DOWN && mf->role != ROLE_VERIFY)
		return;
	for (k = 0; k < sizeof(drv) / sizeof(drv[0]); k++) {
		int tx = migration_transaction(m, drv[k].driver);
		/* name the driver when the setting or the file is its own */
		int per_driver = mf->driver ||
				 migration_transaction(m, "postgres") != migration_transaction(m, "sqlite");

		if (!file_runs_on(p, m, mf, drv[k].driver))
			continue;
		items.n = 0;
		sqlcheck_scan(&items, sql, len, drv[k].d);
		for (i = 0; i < items.n; i++) {
			const struct sql_item *it = &items.items[i];

			/* a generic file read for both drivers: said once */
			if (item_seen(&told, it))
				continue;
			/* a non-transactional migration manages its own (a
			 * verify.sql never may); PRAGMA foreign_keys works there */
			if (!tx && mf->role != ROLE_VERIFY)
				continue;
			if (it->kind == SQL_NO_TX && mf->role == ROLE_VERIFY)
				continue;
			sql_finding(mf, it, per_driver ? drv[k].driver : NULL, f);
			ALLOC_GROW(told.items, told.n + 1, told.alloc);
			told.items[told.n++] = *it;
		}
	}
	sql_items_release(&items);
	sql_items_release(&told);
}


static void check_sql_text(struct project *p, struct migration *m, struct mig_file *mf,
			   unsigned char *allow_used, struct findings *f)
{
	struct buf b = BUF_INIT;
	const char *nul;
	size_t bad;
	/* a file an operation generated is in memory, not in the source */
	int r = mf->content ? buf_put(&b, mf->content, mf->content_len)
			    : source_read(p->src, mf->path, p->cfg.max_file_size, &b);

	if (r != 0) {
		if (r < 0 && strstr(cairn_error_last(), "over the limit"))
			findings_add(f, SEV_ERROR, mf->path, 0, 0, "file-too-large",
				     "%s; split the migration, or raise max_file_size in %s",
				     cairn_error_last(), CONFIG_FILE);
		else if (r < 0)
			findings_add(f, SEV_ERROR, mf->path, 0, 0, "unreadable", "%s",
				     cairn_error_last());
		goto out;
	}
	mf->size = (long long)b.len;
	nul = memchr(b.ptr, '\0', b.len);
	if (nul) {
		findings_add(f, SEV_ERROR, mf->path, line_of_offset(b.ptr, b.len, (size_t)(nul - b.ptr)),
			     0, "nul-byte",
			     "NUL byte at offset %zu: SQL files must be text; remove it",
			     (size_t)(nul - b.ptr));
	} else if (utf8_check(b.ptr, b.len, &bad) < 0) {
		findings_add(f, SEV_ERROR, mf->path, line_of_offset(b.ptr, b.len, bad), 0,
			     "invalid-utf8",
			     "invalid UTF-8 at offset %zu (byte 0x%02x); save the file as UTF-8",
			     bad, (unsigned char)b.ptr[bad]);
	}
	if (!nul)
		check_sql_transaction(p, m, mf, b.ptr, b.len, f);
	/* the linter reads up scripts: a down script undoes, and drops by design */
	if (!nul && mf->role == ROLE_UP && file_runs_on(p, m, mf, "postgres"))
		check_lint_file(p, m, mf, b.ptr, b.len, allow_used, f);
	if (!nul && mf->role == ROLE_UP && p->lint_db && project_sqlite_up(p, m) == mf)
		check_lint_sqlite_file(p, m, mf, b.ptr, b.len, allow_used, f);
	if (sql_is_empty(b.ptr, b.len)) {
		if (mf->role == ROLE_UP && !m->noop && !p->cfg.allow_noop)
			findings_add(f, SEV_ERROR, mf->path, 0, 0, "empty-up",
				     "%s holds no SQL; write the change, or say noop: true in migration.yaml if it is a placeholder on purpose",
				     mf->name);
		else if (mf->role == ROLE_DOWN && !m->irreversible && !m->noop && !mf->content)
			findings_add(f, SEV_WARNING, mf->path, 0, 0, "empty-down",
				     "%s holds no SQL, so a rollback would change nothing; write it, or set irreversible: true in migration.yaml",
				     mf->name);
	}
	if (mf->role == ROLE_UP && sql_is_empty(b.ptr, b.len))
		m->ups_empty++;
	else if (mf->role == ROLE_UP)
		m->ups_sql++;
out:
	buf_release(&b);
}

/* Every driver the project targets needs an up (and a down, unless the
 * migration is irreversible): a generic file, or that driver's variant. */
static void check_required(struct project *p, struct migration *m, enum mig_role role,
			   struct findings *f)
{
	const char *rule = role == ROLE_UP ? "missing-up" : "missing-down";
	size_t i;

	if (migration_file(m, role, NULL) && !migration_file(m, role, NULL)->driver)
		return;
	if (!p->cfg.drivers.n) {
		if (role == ROLE_UP)
			findings_add(f, SEV_ERROR, m->path, 0, 0, rule,
				     "missing up.sql: every migration needs one ('cairn new' writes it)");
		else
			findings_add(f, SEV_ERROR, m->path, 0, 0, rule,
				     "missing down.sql: write the rollback, or set irreversible: true in migration.yaml");
		return;
	}
	for (i = 0; i < p->cfg.drivers.n; i++) {
		const char *d = p->cfg.drivers.items[i];

		if (migration_file(m, role, d))
			continue;
		if (role == ROLE_UP)
			findings_add(f, SEV_ERROR, m->path, 0, 0, rule,
				     "missing up.sql (or up.%s.sql for driver %s): every migration needs one",
				     d, d);
		else
			findings_add(f, SEV_ERROR, m->path, 0, 0, rule,
				     "missing down.sql (or down.%s.sql for driver %s): write the rollback, or set irreversible: true in migration.yaml",
				     d, d);
	}
}

static void check_migration(struct project *p, struct migration *m, struct findings *f)
{
	unsigned char *allow_used = xcalloc(m->lint_allow.n + 8, 1); /* + destructive_rules */
	int linted = 0;
	size_t i;

	if (p->cfg.style == STYLE_TIMESTAMP && !version_is_timestamp(m->version))
		findings_add(f, SEV_ERROR, m->path, 0, 0, "version-style",
			     "version %s is not a UTC timestamp YYYYMMDDHHMMSS, and %s says version_style: timestamp; if the project numbers its migrations otherwise, set version_style: sequence in %s (versions are compared as numbers of any length)",
			     m->version, CONFIG_FILE, CONFIG_FILE);
	for (i = 0; i < m->nfiles; i++) {
		struct mig_file *mf = &m->files[i];

		if (mf->type == ENTRY_SYMLINK) {
			findings_add(f, SEV_ERROR, mf->path, 0, 0, "symlink",
				     "symbolic links are refused in migrations (a bundle must hold the file itself); replace it with the file");
			continue;
		}
		if (mf->type != ENTRY_FILE) {
			findings_add(f, SEV_ERROR, mf->path, 0, 0, "not-a-file",
				     "not a regular file (submodule, device or unmerged entry); remove it");
			continue;
		}
		if (mf->role == ROLE_DATA) {
			/* what 'cairn build' would refuse, said at commit time */
			const char *problem = member_path_problem(mf->name);
			const unsigned char *c;

			for (c = (const unsigned char *)mf->name; !problem && *c; c++)
				if (*c >= 0x80)
					problem = "a character that is not ASCII";
			if (problem) {
				findings_add(f, SEV_ERROR, mf->path, 0, 0, "bundle-name",
					     "data file name '%s' has %s, which a bundle cannot hold (its member names are ASCII, without '.', '..' or control characters); rename it",
					     mf->name, problem);
				continue;
			}
		}
		if (mf->role == ROLE_OTHER) {
			const char *hint = strchr(mf->name, '/') ? NULL : did_you_mean(mf->name, standard_files);

			if (hint)
				findings_add(f, SEV_ERROR, mf->path, 0, 0, "unknown-file",
					     "unknown file '%s' in a migration; did you mean '%s'?",
					     mf->name, hint);
			else
				findings_add(f, SEV_WARNING, mf->path, 0, 0, "unknown-file",
					     "'%s' is not a migration file (up.sql, down.sql, verify.sql, migration.yaml, VARIANT.DRIVER.sql, data/); cairn ignores it",
					     mf->name);
			continue;
		}
		if (mf->driver) {
			if (!driver_is_known(mf->driver)) {
				const char *hint = did_you_mean(mf->driver, known_drivers);

				findings_add(f, SEV_ERROR, mf->path, 0, 0, "unknown-driver",
					     "%s is a variant for driver '%s', which cairn does not know%s%s%s",
					     mf->name, mf->driver, hint ? "; did you mean '" : " (known: sqlite, postgres)",
					     hint ? hint : "", hint ? "'?" : "");
				continue;
			}
			if (p->cfg.drivers.n && !strlist_has(&p->cfg.drivers, mf->driver))
				findings_add(f, SEV_WARNING, mf->path, 0, 0, "driver-not-configured",
					     "a variant for driver '%s', which is not in the drivers of %s; add it there or remove the file",
					     mf->driver, CONFIG_FILE);
		}
		if ((mf->role == ROLE_UP || mf->role == ROLE_DOWN || mf->role == ROLE_VERIFY) &&
		    !m->same_as_base) {
			check_sql_text(p, m, mf, allow_used, f);
			linted = 1;
		}
	}
	for (i = 0; i < m->ngen && !m->same_as_base; i++) {
		check_sql_text(p, m, &m->gen[i], allow_used, f);
		linted = 1;
	}
	if (m->noop && m->ups_sql && !m->ups_empty) {
		const struct mig_file *meta = migration_file(m, ROLE_META, NULL);

		findings_add(f, SEV_ERROR, meta ? meta->path : m->path, 0, 0, "noop-not-empty",
			     "migration.yaml says noop: true, but every up script holds SQL; remove noop, or empty the placeholder");
	}
	check_required(p, m, ROLE_UP, f);
	if (!m->irreversible)
		check_required(p, m, ROLE_DOWN, f);
	else if (migration_file(m, ROLE_DOWN, NULL))
		findings_add(f, SEV_WARNING, migration_file(m, ROLE_DOWN, NULL)->path, 0, 0,
			     "irreversible-down",
			     "the migration says irreversible: true, so this %s script is never run; delete it or drop irreversible",
			     role_name(ROLE_DOWN));
	if (m->batch && (!migration_transaction(m, "sqlite") || !migration_transaction(m, "postgres"))) {
		const struct mig_file *meta = migration_file(m, ROLE_META, NULL);

		findings_add(f, SEV_ERROR, meta ? meta->path : m->path, 0, 0, "batch-transaction",
			     "kind: batch runs one transaction per batch, so it cannot say transaction: false; remove one of the two");
	}
	if (linted)
		check_lint_unused(&p->cfg, m, allow_used, f);
	free(allow_used);
}

/* The up script the SQLite linter reads for m, or NULL: up.sqlite.sql, or
 * up.sql when cairn.yaml's drivers name sqlite (a project that names no
 * drivers has its generic scripts read as PostgreSQL only). */
const struct mig_file *project_sqlite_up(const struct project *p, const struct migration *m)
{
	const struct mig_file *mf = migration_file(m, ROLE_UP, "sqlite");

	if (!mf || mf->type != ENTRY_FILE || !file_runs_on(p, m, mf, "sqlite"))
		return NULL;
	return mf->driver || strlist_has(&p->cfg.drivers, "sqlite") ? mf : NULL;
}

/* Runs m's SQLite up script on the linter's database: a migration the
 * check does not read (same as the base) still builds the schema. */
static void sqlite_replay(struct project *p, const struct migration *m)
{
	const struct mig_file *mf = project_sqlite_up(p, m);
	struct buf b = BUF_INIT;

	if (mf && source_read(p->src, mf->path, p->cfg.max_file_size, &b) == 0)
		lint_sqlite_replay(p->lint_db, b.ptr, b.len);
	buf_release(&b);
}

/* Before the first SQLite script the check lints: a database that has
 * replayed every migration before it, so the rules know the schema. */
static void sqlite_prepare(struct project *p, size_t upto)
{
	size_t i, from;

	if (p->lint_db)
		return;
	if (lint_sqlite_open(&p->lint_db, 1) < 0)
		return; /* no SQLite rules then; SQLite itself is out of memory */
	from = p->lint_cache_dir && upto ? lint_cache_load(p, upto) : 0;
	if (!p->lint_db)
		return;
	for (i = from; i < upto; i++)
		sqlite_replay(p, p->migs[i]);
	/* a cache that cannot be written is only slower next time */
	if (p->lint_cache_dir && from < upto && lint_cache_store(p, upto) == 0)
		p->lint_cache_stored = upto;
}

int check_static(struct project *p, struct findings *f)
{
	size_t i;

	for (i = 0; i < p->n; i++) {
		struct migration *m = p->migs[i];

		/* sorted by version: duplicates are neighbours */
		if (i > 0 && !version_cmp(p->migs[i - 1]->version, m->version))
			findings_add(f, SEV_ERROR, m->path, 0, 0, "duplicate-version",
				     "version %s is used by both %s and %s; give one of them a new version",
				     m->version, p->migs[i - 1]->dir, m->dir);
		if (!m->same_as_base && project_sqlite_up(p, m))
			sqlite_prepare(p, i);
		check_migration(p, m, f);
		if (p->lint_db && m->same_as_base)
			sqlite_replay(p, m);
	}
	if (p->ncallbacks && strlist_has(&p->cfg.drivers, "sqlite"))
		sqlite_prepare(p, p->n);
	check_lint_callbacks(p, p->lint_db, f);
	operation_check_steps(p, f);
	if (!p->ordered)
		project_order(p, f);
	return 0;
}
