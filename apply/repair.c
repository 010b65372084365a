/* Baseline and repair: the two verbs that edit the bookkeeping without
 * running a migration (engine.h). */
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../lib/error.h"
#include "../lib/exitcodes.h"
#include "../lib/util.h"
#include "../verify/bundle.h"
#include "engine.h"
#include "engine-int.h"

int books_unmanaged(struct books_guard *g, struct db *db, const struct driver *drv,
		    const struct apply_opts *o, const char *what, const char *why, int *exists)
{
	struct bk_row *rows = NULL;
	size_t nrows = 0, i;
	int rc;

	memset(g, 0, sizeof(*g));
	if (read_rows(db, drv, exists, &rows, &nrows))
		return EXIT_ENVIRONMENT;
	rc = books_guard(g, db, drv, o, rows, nrows, *exists, what);
	for (i = 0; rc == EXIT_OK && i < nrows; i++) {
		if (strcmp(rows[i].state, BK_ROLLED_BACK)) {
			cairn_error_set("the database already records migrations (%s is %s): %s",
					rows[i].version, rows[i].state, why);
			rc = EXIT_STATE;
		}
	}
	bk_rows_free(rows, nrows);
	return rc;
}

int engine_baseline(struct db *db, const struct driver *drv, const char *version,
		    const char *description, const struct apply_opts *o)
{
	struct run r;
	struct books_guard guard;
	struct bk_row row;
	int exists = 0, rc;
	char at[32];

	memset(&r, 0, sizeof(r));
	memset(&row, 0, sizeof(row));
	memset(&guard, 0, sizeof(guard));
	if (!*version || strspn(version, "0123456789") != strlen(version)) {
		cairn_error_set("--version must be a migration version (digits), not '%s'", version);
		return EXIT_USAGE;
	}
	if ((rc = take_lock(db, drv, o)) != EXIT_OK)
		return rc;
	rc = books_unmanaged(&guard, db, drv, o, "baseline",
			     "a baseline only marks a database cairn has not managed yet", &exists);
	if (rc != EXIT_OK)
		goto out;
	o = r.o = &guard.opts; /* the recorded environment when none was named */
	if ((!exists && drv->bk_ensure(db)) || run_init(&r, db, drv, o) ||
	    record_identity(&r, guard.record)) {
		rc = EXIT_ENVIRONMENT;
		goto out;
	}
	engine_now(at);
	row.version = xstrdup(version);
	row.name = xasprintf("%s_baseline", version);
	row.checksum = xstrdup("baseline");
	row.state = xstrdup(BK_APPLIED);
	row.bundle_id = xstrdup("");
	row.environment = xstrdup(o->env ? o->env : "");
	row.applied_at = xstrdup(at);
	row.applied_by = xstrdup(r.actor);
	row.irreversible = 1;
	row.transactional = 1;
	row.kind = xstrdup("baseline");
	row.statement = -1;
	if (put_row_tx(&r, &row, "baseline", version, version,
		       description ? description : "existing schema taken as applied")) {
		rc = EXIT_ENVIRONMENT;
		goto out;
	}
	rc = EXIT_OK;
out:
	unlock_keeping_error(db, drv, &rc);
	books_guard_release(&guard);
	bk_row_release(&row);
	run_release(&r);
	return rc;
}

int books_open_rows(struct run *r, struct books_guard *g, struct db *db,
		    const struct driver *drv, const struct apply_opts *o, const char *what,
		    struct bk_row **rows, size_t *nrows)
{
	size_t i;
	int exists = 0, rc;

	if (read_rows(db, drv, &exists, rows, nrows) || run_init(r, db, drv, o))
		return EXIT_ENVIRONMENT;
	rc = books_guard(g, db, drv, o, *rows, *nrows, exists, what);
	if (rc != EXIT_OK)
		return rc;
	r->o = &g->opts; /* the recorded environment when none was named */
	if (exists && record_identity(r, g->record))
		return EXIT_ENVIRONMENT;
	for (i = 0; i < *nrows; i++)
		if (!strcmp((*rows)[i].state, BK_APPLIED) &&
		    (!r->current || version_cmp((*rows)[i].version, r->current) > 0))
			set_current(r, (*rows)[i].version);
	return EXIT_OK;
}

int engine_repair(struct db *db, const struct driver *drv, const char *version,
		  int mark_applied, const struct apply_opts *o)
{
	struct run r;
	struct books_guard guard;
	struct bk_row *rows = NULL, row;
	const struct bk_row *t = NULL;
	size_t nrows = 0, i;
	int rc;
	char *detail = NULL;

	memset(&r, 0, sizeof(r));
	memset(&row, 0, sizeof(row));
	memset(&guard, 0, sizeof(guard));
	if ((rc = take_lock(db, drv, o)) != EXIT_OK)
		return rc;
	rc = books_open_rows(&r, &guard, db, drv, o, "repair", &rows, &nrows);
	if (rc != EXIT_OK)
		goto out;
	for (i = 0; i < nrows; i++)
		if (!strcmp(rows[i].version, version))
			t = &rows[i];
	if (!t) {
		cairn_error_set("no migration %s is recorded in the database", version);
		rc = EXIT_FAILED;
		goto out;
	}
	if (!is_blocking(t)) {
		cairn_error_set("migration %s is %s, not failed or in progress: nothing to repair",
				t->name, t->state);
		rc = EXIT_FAILED;
		goto out;
	}
	row = *t;
	row.state = mark_applied ? BK_APPLIED : BK_ROLLED_BACK;
	row.error = NULL;
	row.audit_hash = NULL;
	detail = xasprintf("%s -> %s%s%s", t->state, row.state, t->error ? "; was: " : "",
			   t->error ? t->error : "");
	rc = put_row_tx(&r, &row, "repair", t->bundle_id,
			mark_applied && version_cmp(version, r.current ? r.current : "0") > 0
				? version
				: r.current,
			detail)
		     ? EXIT_ENVIRONMENT
		     : EXIT_OK;
	free(row.audit_hash);
	memset(&row, 0, sizeof(row));
out:
	unlock_keeping_error(db, drv, &rc);
	books_guard_release(&guard);
	free(detail);
	bk_row_release(&row);
	bk_rows_free(rows, nrows);
	run_release(&r);
	return rc;
}
