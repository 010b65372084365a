/* repair --accept-checksum (engine.h): an applied migration whose file was
 * legitimately re-released records the bundle's checksum, under the chain,
 * with an audit row naming who and why. Apart from repair.c, which other
 * work edits. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/error.h"
#include "../lib/exitcodes.h"
#include "../lib/util.h"
#include "engine.h"
#include "engine-int.h"

/* The row of version the checksum may move on: applied, and drifted. */
static int accept_target(const struct bk_row *rows, size_t nrows, const struct apply_mig *m,
			 const struct bk_row **out)
{
	size_t i;

	*out = NULL;
	for (i = 0; i < nrows; i++)
		if (!strcmp(rows[i].version, m->version))
			*out = &rows[i];
	if (!*out) {
		cairn_error_set("no migration %s is recorded in the database: nothing to accept",
				m->version);
		return EXIT_FAILED;
	}
	if (strcmp((*out)->state, BK_APPLIED)) {
		cairn_error_set("migration %s is %s, not applied: --accept-checksum records a "
				"new checksum for an applied migration only",
				(*out)->name, (*out)->state);
		return EXIT_FAILED;
	}
	if (!strcmp((*out)->checksum, m->checksum)) {
		cairn_error_set("migration %s was applied with checksum %s, which the bundle "
				"has too: no drift, nothing to accept",
				(*out)->name, m->checksum);
		return EXIT_FAILED;
	}
	return EXIT_OK;
}

int engine_accept_checksum(struct db *db, const struct driver *drv, const struct apply_set *set,
			   const char *version, const char *reason, const struct apply_opts *o)
{
	struct run r;
	struct books_guard guard;
	struct bk_row *rows = NULL, row;
	const struct bk_row *t = NULL;
	const struct apply_mig *m = NULL;
	size_t nrows = 0, i;
	int rc;
	char *detail = NULL;

	memset(&r, 0, sizeof(r));
	memset(&row, 0, sizeof(row));
	memset(&guard, 0, sizeof(guard));
	for (i = 0; i < set->n; i++)
		if (!strcmp(set->migs[i].version, version))
			m = &set->migs[i];
	if (!m) {
		cairn_error_set("bundle %s has no migration %s", set->bundle_id, version);
		return EXIT_FAILED;
	}
	if ((rc = take_lock(db, drv, o)) != EXIT_OK)
		return rc;
	rc = books_open_rows(&r, &guard, db, drv, o, "repair", &rows, &nrows);
	if (rc == EXIT_OK)
		rc = accept_target(rows, nrows, m, &t);
	if (rc != EXIT_OK)
		goto out;
	row = *t;
	row.checksum = m->checksum;
	row.audit_hash = NULL;
	detail = xasprintf("accept-checksum: %s -> %s from bundle %s; why: %s", t->checksum,
			   m->checksum, set->bundle_id, reason);
	rc = put_row_tx(&r, &row, "repair", set->bundle_id, r.current, detail) ? EXIT_ENVIRONMENT
									  : EXIT_OK;
	free(row.audit_hash);
	memset(&row, 0, sizeof(row));
out:
	unlock_keeping_error(db, drv, &rc);
	books_guard_release(&guard);
	free(detail);
	bk_rows_free(rows, nrows);
	run_release(&r);
	return rc;
}
