/* The bundle's SQL callbacks run by the engine (issue #20; lib/callbacks.h,
 * set.h): before_each and after_each inside a migration's transaction (so
 * a failing after_each rolls the migration back), before_migrate,
 * after_migrate and on_error in a transaction of their own, each with an
 * audit row "callback" naming the file, its sha256 and the outcome; and
 * the rollback callbacks of rollback --bundle in the same places around
 * the down scripts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/error.h"
#include "../lib/exitcodes.h"
#include "../lib/util.h"
#include "engine.h"
#include "engine-int.h"

int callback_exec(struct run *r, const struct apply_set *set, int kind, char **err)
{
	const struct apply_callback *cb = &set->callbacks[kind];
	struct driver_exec x;
	char *where;

	if (!cb->path)
		return 0;
	memset(&x, 0, sizeof(x));
	if (!r->drv->exec(r->db, cb->sql, cb->len, &x))
		return 0;
	where = x.err.message[0] ? script_error(cb->path, cb->sql, cb->len, &x.err)
				 : xstrdup(cairn_error_last());
	*err = xasprintf("callback %s (sha256:%.12s) failed: %s", callback_names[kind], cb->sha256,
			 where);
	free(where);
	r->tx_ended = x.err.tx_ended;
	r->tx_committed = x.err.tx_committed;
	return -1;
}

char *callback_note(const struct apply_set *set, int k1, int k2)
{
	struct buf b = BUF_INIT;
	int ks[2] = { k1, k2 };
	size_t i;

	for (i = 0; i < 2; i++) {
		const struct apply_callback *cb = ks[i] >= 0 ? &set->callbacks[ks[i]] : NULL;

		if (!cb || !cb->path)
			continue;
		buf_printf(&b, "%scallback=%s; sha256=%s; outcome=ok", b.len ? "; " : "",
			   strrchr(cb->path, '/') + 1, cb->sha256);
	}
	return b.len ? buf_detach(&b, NULL) : NULL;
}

int callback_run_own(struct run *r, const struct apply_set *set, int kind, const char *version,
		     char **err)
{
	const struct apply_callback *cb = &set->callbacks[kind];
	char *detail;
	int rc;

	*err = NULL;
	if (!cb->path)
		return 0;
	if (r->drv->set_timeouts(r->db, r->o->statement_timeout_ms,
				 r->o->migration_lock_timeout_ms) || tx_begin(r)) {
		*err = xstrdup(cairn_error_last());
		return -1;
	}
	rc = callback_exec(r, set, kind, err);
	if (!rc) {
		detail = callback_note(set, kind, -1);
		rc = audit_add(r, "callback", version, set->bundle_id, r->current, detail, NULL) ||
		     tx_commit(r);
		free(detail);
		if (rc)
			*err = xstrdup(cairn_error_last());
	}
	if (!rc)
		return 0;
	tx_rollback(r);
	/* the failure on a row of its own, as a migration's is */
	detail = xasprintf("callback=%s; sha256=%s; outcome=failed: %s",
			   strrchr(cb->path, '/') + 1, cb->sha256, *err);
	if (!tx_begin(r)) {
		if (audit_add(r, "callback", version, set->bundle_id, r->current, detail, NULL) ||
		    tx_commit(r))
			tx_rollback(r);
	}
	free(detail);
	return -1;
}

void callback_on_error(struct run *r, const struct apply_set *set, const char *version)
{
	char keep[CAIRN_ERRMSG_MAX], *err = NULL;

	if (!set->callbacks[CB_ON_ERROR].path || !r->db)
		return;
	/* its failure never hides the run's: the message is the run's */
	snprintf(keep, sizeof(keep), "%s", cairn_error_last());
	callback_run_own(r, set, CB_ON_ERROR, version, &err);
	free(err);
	cairn_error_set("%s", keep);
}

/* before_migrate or before_rollback: EXIT_FAILED, nothing done, when it fails */
static int run_before(struct run *r, const struct apply_set *set, int kind, const char *nothing,
		      struct apply_result *res)
{
	char *err = NULL;

	r->callbacks_started = 1;
	if (!callback_run_own(r, set, kind, "", &err))
		return EXIT_OK;
	cairn_error_set("%s; %s", err, nothing);
	free(err);
	res->rolled_back = 1;
	return EXIT_FAILED;
}

/* after_migrate or after_rollback when the run did something (ok: its
 * exit code allows), then on_error when it failed */
static int run_after(struct run *r, const struct apply_set *set, struct apply_result *res, int rc,
		     int kind, int ok, const char *done)
{
	char *err = NULL;

	if (!r->callbacks_started)
		return rc;
	if (ok && res->applied && callback_run_own(r, set, kind, "", &err)) {
		cairn_error_set("%s; the %zu migration%s this run %s stay %s", err, res->applied,
				res->applied == 1 ? "" : "s", done, done);
		free(err);
		rc = EXIT_FAILED;
	}
	if (rc == EXIT_FAILED && !(r->o->interrupted && *r->o->interrupted))
		callback_on_error(r, set, res->failed_version ? res->failed_version : "");
	return rc;
}

/* before_each(_rollback) or after_each(_rollback) of a step outside a
 * transaction, in one of their own */
static int each_own(struct run *r, const struct apply_set *set, const char *version,
		    const char *name, int kind, int before, const char *what, const char *done,
		    struct apply_result *res)
{
	char *err = NULL;

	if (callback_run_own(r, set, kind, version, &err) == 0)
		return EXIT_OK;
	if (before) {
		cairn_error_set("%s; nothing of %s %s ran", err, what, name);
		res->failed_version = xstrdup(version);
		res->rolled_back = 1;
	} else {
		cairn_error_set("%s; migration %s (outside a transaction) stays %s", err, name, done);
	}
	free(err);
	return EXIT_FAILED;
}

int callbacks_before_run(struct run *r, const struct apply_set *set, struct apply_result *res)
{
	return run_before(r, set, CB_BEFORE_MIGRATE, "no migration ran", res);
}

int callbacks_after_run(struct run *r, const struct apply_set *set, struct apply_result *res,
			int rc)
{
	return run_after(r, set, res, rc, CB_AFTER_MIGRATE,
			 rc == EXIT_OK || rc == EXIT_CONTRACT || rc == EXIT_BUDGET, "applied");
}

int callback_each_own(struct run *r, const struct apply_set *set, const struct apply_mig *m,
		      int kind, struct apply_result *res)
{
	return each_own(r, set, m->version, m->name, kind, kind == CB_BEFORE_EACH, "migration",
			"applied", res);
}

int callbacks_rollback_before(struct run *r, const struct apply_set *set,
			      struct apply_result *res)
{
	return set ? run_before(r, set, CB_BEFORE_ROLLBACK, "nothing was rolled back", res)
		   : EXIT_OK;
}

int callbacks_rollback_after(struct run *r, const struct apply_set *set,
			     struct apply_result *res, int rc)
{
	return set ? run_after(r, set, res, rc, CB_AFTER_ROLLBACK, rc == EXIT_OK, "rolled back")
		   : rc;
}

int callback_rollback_each_own(struct run *r, const struct apply_set *set,
			       const struct bk_row *t, int kind, struct apply_result *res)
{
	return set ? each_own(r, set, t->version, t->name, kind, kind == CB_BEFORE_EACH_ROLLBACK,
			      "the rollback of", "rolled back", res)
		   : EXIT_OK;
}
