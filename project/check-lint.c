/* The linter (lint/) run by the checker on each migration's PostgreSQL up
 * script, its findings turned into the checker's (check.c). */
#include <stdlib.h>
#include <string.h>

#include "../lib/callbacks.h"
#include "../lib/error.h"
#include "project.h"

/* What destructive: true in migration.yaml acknowledges. */
static const char *const destructive_rules[] = {
	"drop-column", "drop-table", "rename-column", "rename-table", "drop-not-null", NULL,
};

/* What cairn knows about m's script on driver: levels, transaction,
 * timeouts, waivers. allow: room for m's own and destructive_rules. */
static void fill_input(struct lint_input *in, struct lint_config *cfg, const char **allow,
		       const struct config *pc, const struct migration *m, const char *driver,
		       const char *sql, size_t len, unsigned char *allow_used, int in_check)
{
	size_t i, n = 0;

	*cfg = pc->lint;
	/* in check, sqlcheck's transaction-control, not-in-transaction and
	 * pragma-in-transaction say these */
	if (in_check) {
		cfg->level[LR_TRANSACTION_NESTING] = LINT_OFF;
		cfg->level[LR_CONCURRENT_IN_TRANSACTION] = LINT_OFF;
		cfg->level[LR_SQLITE_PRAGMA_IN_TX] = LINT_OFF;
	}
	for (i = 0; i < m->lint_allow.n; i++)
		allow[n++] = m->lint_allow.items[i];
	if (m->destructive)
		for (i = 0; destructive_rules[i]; i++)
			allow[n++] = destructive_rules[i];
	memset(in, 0, sizeof(*in));
	in->sql = sql;
	in->len = len;
	in->in_transaction = migration_transaction(m, driver);
	in->vacuum_told = in_check;
	in->has_lock_timeout = m->lock_timeout_ms > 0;
	in->has_statement_timeout = m->timeout_ms > 0;
	in->phase = m->no_phase ? LINT_PHASE_NONE
		    : m->contract ? LINT_PHASE_CONTRACT : LINT_PHASE_EXPAND;
	in->cfg = cfg;
	in->allow = allow;
	in->nallow = n;
	in->allow_used = allow_used; /* the first m->lint_allow.n entries are its own */
	in->nallow_destructive = n - m->lint_allow.n;
}

void project_lint(const struct config *pc, const struct migration *m, const char *sql,
		  size_t len, unsigned char *allow_used, int in_check, struct lint_result *out)
{
	struct lint_config cfg;
	struct lint_input in;
	const char **allow = xcalloc(m->lint_allow.n + 8, sizeof(*allow));

	fill_input(&in, &cfg, allow, pc, m, "postgres", sql, len, allow_used, in_check);
	lint_pg(out, &in);
	free(allow);
}

void project_lint_sqlite(const struct config *pc, const struct migration *m,
			 struct lint_sqlite *db, const char *sql, size_t len,
			 unsigned char *allow_used, int in_check, struct lint_result *out)
{
	struct lint_config cfg;
	struct lint_input in;
	const char **allow = xcalloc(m->lint_allow.n + 8, sizeof(*allow));

	fill_input(&in, &cfg, allow, pc, m, "sqlite", sql, len, allow_used, in_check);
	lint_sqlite(out, db, &in);
	free(allow);
}

/* What r found waived in mf, onto m for the bundle's manifest. A generic
 * up.sql is linted twice (PostgreSQL, SQLite): each rule belongs to one. */
static void record_waived(const struct lint_result *r, struct migration *m,
			  const struct mig_file *mf)
{
	size_t i;

	for (i = 0; i < r->nwaived; i++) {
		const struct lint_waived *x = &r->waived[i];
		struct mig_waiver *w;

		ALLOC_GROW(m->waivers, m->nwaivers + 1, m->waivers_alloc);
		w = &m->waivers[m->nwaivers++];
		w->rule = lint_rules[x->rule].id;
		w->via = lint_via_name(x->via);
		w->file = xstrdup(mf->name);
		w->reason = x->reason ? xstrdup(x->reason) : NULL;
		w->line = x->line;
	}
}

static void lint_findings_only(const struct lint_result *r, const struct mig_file *mf,
			       struct findings *f)
{
	size_t i;

	for (i = 0; i < r->n; i++) {
		const struct lint_finding *x = &r->items[i];

		findings_add(f, x->level == LINT_ERROR ? SEV_ERROR : SEV_WARNING, mf->path, x->line,
			     x->col, lint_rules[x->rule].id, "%s", x->msg);
	}
}

static void lint_findings(const struct lint_result *r, struct migration *m,
			  const struct mig_file *mf, struct findings *f)
{
	record_waived(r, m, mf);
	lint_findings_only(r, mf, f);
}

void check_lint_sqlite_file(const struct project *p, struct migration *m,
			    const struct mig_file *mf, const char *sql, size_t len,
			    unsigned char *allow_used, struct findings *f)
{
	struct lint_result r = LINT_RESULT_INIT;

	project_lint_sqlite(&p->cfg, m, p->lint_db, sql, len, allow_used, 1, &r);
	lint_findings(&r, m, mf, f);
	lint_result_release(&r);
}

void check_lint_file(const struct project *p, struct migration *m,
		     const struct mig_file *mf, const char *sql, size_t len,
		     unsigned char *allow_used, struct findings *f)
{
	struct lint_result r = LINT_RESULT_INIT;

	project_lint(&p->cfg, m, sql, len, allow_used, 1, &r);
	lint_findings(&r, m, mf, f);
	lint_result_release(&r);
}

void check_lint_unused(const struct config *cfg, const struct migration *m,
		       const unsigned char *allow_used, struct findings *f)
{
	const struct mig_file *meta = migration_file(m, ROLE_META, NULL);
	size_t i;

	if (cfg->lint.level[LR_UNUSED_WAIVER] == LINT_OFF)
		return;
	for (i = 0; i < m->lint_allow.n; i++)
		if (!allow_used[i] && lint_rule_find(m->lint_allow.items[i]) >= 0)
			findings_add(f, cfg->lint.level[LR_UNUSED_WAIVER] == LINT_ERROR ? SEV_ERROR
											   : SEV_WARNING,
				     meta ? meta->path : m->path,
				     m->lint_allow_line ? m->lint_allow_line[i] : 0, 0, "unused-waiver",
				     "lint: allow lists %s, which waives nothing in this migration's SQL; remove it so it cannot hide a later finding",
				     m->lint_allow.items[i]);
}

/* A callback's findings; the advice of the transaction rules is a
 * migration's (transaction: false), which a callback cannot take. */
static void callback_findings(const struct lint_result *r, const struct mig_file *mf,
			      struct findings *f)
{
	size_t i;

	for (i = 0; i < r->n; i++) {
		const struct lint_finding *x = &r->items[i];
		const char *cut = strstr(x->msg, ", and this migration runs in one");
		int tx = x->rule == LR_CONCURRENT_IN_TRANSACTION || x->rule == LR_TRANSACTION_NESTING;
		size_t n = cut ? (size_t)(cut - x->msg) : strcspn(x->msg, ";");

		if (tx)
			findings_add(f, x->level == LINT_ERROR ? SEV_ERROR : SEV_WARNING, mf->path,
				     x->line, x->col, lint_rules[x->rule].id,
				     "%.*s; a callback always runs inside a transaction (the "
				     "migration's, or its own): do this in a migration of its own",
				     (int)n, x->msg);
		else
			findings_add(f, x->level == LINT_ERROR ? SEV_ERROR : SEV_WARNING, mf->path,
				     x->line, x->col, lint_rules[x->rule].id, "%s", x->msg);
	}
}

/* The SQL callbacks (migrations/callbacks/, lib/callbacks.h) under the
 * same rules and in-file waivers as the migrations' up scripts (ops20d).
 * Every callback runs inside a transaction: before_each, after_each and
 * their rollback kin in the migration's (or step's), the others in one of
 * their own; so CONCURRENTLY or a COMMIT there is an error. sqlcheck's
 * transaction findings do not read callbacks, so nothing is left out
 * (in_check 0). A driver's variant is read for that driver; a generic one
 * for each driver it serves (PostgreSQL, and SQLite when cairn.yaml names
 * it, on the schema every migration built). */
void check_lint_callbacks(struct project *p, struct lint_sqlite *db, struct findings *f)
{
	struct migration cb;
	size_t i;

	memset(&cb, 0, sizeof(cb));
	cb.transaction = 1;
	cb.no_phase = 1;
	for (i = 0; i < p->ncallbacks; i++) {
		const struct mig_file *mf = &p->callbacks[i];
		const char *driver;
		struct buf b = BUF_INIT;
		struct lint_result r = LINT_RESULT_INIT;
		int pg, lite;

		if (callback_parse(mf->name, &driver) < 0 || mf->type != ENTRY_FILE ||
		    source_read(p->src, mf->path, p->cfg.max_file_size, &b) != 0 ||
		    memchr(b.ptr, '\0', b.len)) {
			buf_release(&b);
			continue; /* named, read and checked by the loader's findings */
		}
		pg = driver ? !strcmp(driver, "postgres")
			    : !p->cfg.drivers.n || strlist_has(&p->cfg.drivers, "postgres");
		lite = db && (driver ? !strcmp(driver, "sqlite")
				     : strlist_has(&p->cfg.drivers, "sqlite"));
		if (pg) {
			project_lint(&p->cfg, &cb, b.ptr, b.len, NULL, 0, &r);
			record_waived(&r, &cb, mf);
			callback_findings(&r, mf, f);
			lint_result_release(&r);
		}
		if (lite) {
			project_lint_sqlite(&p->cfg, &cb, db, b.ptr, b.len, NULL, 0, &r);
			record_waived(&r, &cb, mf);
			callback_findings(&r, mf, f);
			lint_result_release(&r);
		}
		buf_release(&b);
	}
	/* for the manifest's callback_waivers, as a migration's waivers */
	p->callback_waivers = cb.waivers;
	p->ncallback_waivers = cb.nwaivers;
}
