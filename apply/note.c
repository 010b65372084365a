/* An audit row appended to a checked chain outside a run (issue #20): a
 * host hook that ran after the run's commit and lock (the after and
 * on_error hooks) is recorded under the run lock taken again, like any
 * other row, so `history --verify` and the checkpoints cover it. */
#include <string.h>

#include "../lib/error.h"
#include "../lib/exitcodes.h"
#include "../lib/util.h"
#include "engine.h"
#include "engine-int.h"

int engine_note(struct db *db, const struct driver *drv, const char *action,
		const char *bundle_id, const char *detail, const struct apply_opts *o,
		int *written)
{
	struct run r;
	struct books_guard guard;
	struct bk_row *rows = NULL;
	size_t nrows = 0;
	int exists = 0, rc;

	*written = 0;
	memset(&r, 0, sizeof(r));
	memset(&guard, 0, sizeof(guard));
	if ((rc = take_lock(db, drv, o)) != EXIT_OK)
		return rc;
	if (read_rows(db, drv, &exists, &rows, &nrows)) {
		rc = EXIT_ENVIRONMENT;
		goto out;
	}
	/* no books: nothing was ever applied here, and a note creates none */
	bk_rows_free(rows, nrows);
	rows = NULL;
	nrows = 0;
	if (!exists)
		goto out;
	rc = books_open_rows(&r, &guard, db, drv, o, "record a hook in", &rows, &nrows);
	if (rc != EXIT_OK)
		goto out;
	if (tx_begin(&r)) {
		rc = EXIT_ENVIRONMENT;
		goto out;
	}
	if (audit_add(&r, action, "", bundle_id, r.current, detail, NULL) || tx_commit(&r)) {
		tx_rollback(&r);
		rc = EXIT_ENVIRONMENT;
		goto out;
	}
	*written = 1;
out:
	unlock_keeping_error(db, drv, &rc);
	books_guard_release(&guard);
	bk_rows_free(rows, nrows);
	run_release(&r);
	return rc;
}
