/* Rolling back: engine_rollback (engine.h). */
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../lib/error.h"
#include "../lib/exitcodes.h"
#include "../lib/sha256.h"
#include "../lib/util.h"
#include "../verify/bundle.h"
#include "engine.h"
#include "engine-int.h"

/* ---- rollback, baseline, repair ---- */

static int cmp_row_version_desc(const void *a, const void *b)
{
	return version_cmp((*(const struct bk_row *const *)b)->version,
			   (*(const struct bk_row *const *)a)->version);
}

/* Runs t's down script: 0, or 1 (nothing changed: the transaction rolls
 * back) or 2 (partly run outside a transaction) with *err. */
static int rollback_exec(struct run *r, const struct bk_row *t, char **err)
{
	const struct apply_set *set = r->o->manifest; /* its rollback callbacks (issue #20) */
	struct db *db = r->db;
	const struct driver *drv = r->drv;
	struct driver_exec x;
	char *path;
	int failed = 0;

	memset(&x, 0, sizeof(x));
	path = xasprintf("down script of %s", t->name);
	if (t->transactional) {
		if (tx_begin(r)) {
			*err = xstrdup(cairn_error_last());
			failed = 1;
		} else if (set && callback_exec(r, set, CB_BEFORE_EACH_ROLLBACK, err)) {
			failed = 1;
		} else if (drv->exec(db, t->down_sql, strlen(t->down_sql), &x)) {
			*err = x.err.message[0] ? script_error(path, t->down_sql,
							       strlen(t->down_sql), &x.err)
						: xstrdup(cairn_error_last());
			failed = 1;
		} else if (set && callback_exec(r, set, CB_AFTER_EACH_ROLLBACK, err)) {
			failed = 1; /* the step rolls back: its migration stays applied */
		}
	} else {
		x.flags = DRIVER_EXEC_SPLIT;
		if (drv->exec(db, t->down_sql, strlen(t->down_sql), &x)) {
			*err = x.err.message[0] ? script_error(path, t->down_sql,
							       strlen(t->down_sql), &x.err)
						: xstrdup(cairn_error_last());
			failed = 2; /* partly run: the row is marked failed */
		} else if (tx_begin(r)) {
			*err = xstrdup(cairn_error_last());
			failed = 2;
		}
	}
	free(path);
	return failed;
}

/* Rolls back targets[i], newest first, in its own transaction (or, for a
 * migration recorded outside one, runs the down script and then records it). */
static int rollback_one(struct run *r, const struct bk_row *rows, size_t nrows,
			const struct bk_row **targets, size_t ntargets, size_t i,
			struct apply_result *res)
{
	const struct bk_row *t = targets[i];
	struct db *db = r->db;
	const struct driver *drv = r->drv;
	const struct apply_opts *o = r->o;
	struct apply_event ev;
	struct bk_row row;
	const struct apply_set *set = o->manifest;
	char at[32], *err = NULL, *note = NULL, *detail;
	long long m0 = now_ms();
	int failed = 0, rc;

	memset(&ev, 0, sizeof(ev));
	ev.type = EV_START;
	ev.action = "rollback";
	ev.version = t->version;
	ev.name = t->name;
	ev.index = i + 1;
	ev.total = ntargets;
	emit(r, &ev);
	memset(&row, 0, sizeof(row));
	row = *t; /* shallow: the fields below are replaced by owned copies */
	row.state_only = 1;
	row.state = BK_ROLLED_BACK;
	engine_now(at);
	row.applied_at = at;
	row.applied_by = r->actor;
	row.environment = (char *)(o->env ? o->env : t->environment);
	row.audit_hash = NULL;
	if (!t->transactional &&
	    (rc = callback_rollback_each_own(r, set, t, CB_BEFORE_EACH_ROLLBACK, res)) != EXIT_OK)
		return rc;
	failed = rollback_exec(r, t, &err);
	if (!failed) {
		const char *after = i + 1 < ntargets ? targets[i + 1]->version : NULL;

		/* The version the database is at after this rollback. */
		if (!after) {
			size_t k;

			after = NULL;
			for (k = 0; k < nrows; k++)
				if (!strcmp(rows[k].state, BK_APPLIED) &&
				    version_cmp(rows[k].version, t->version) < 0 &&
				    (!after || version_cmp(rows[k].version, after) > 0))
					after = rows[k].version;
		}
		row.duration_ms = now_ms() - m0;
		if (set && t->transactional)
			note = callback_note(set, CB_BEFORE_EACH_ROLLBACK, CB_AFTER_EACH_ROLLBACK);
		detail = note ? xasprintf("%s; %s", t->checksum, note) : NULL;
		if (audit_add(r, "rollback", t->version, t->bundle_id, after,
			      detail ? detail : t->checksum, &row) ||
		    drv->bk_put(db, &row) || tx_commit(r)) {
			err = xstrdup(cairn_error_last());
			failed = 1;
			tx_rollback(r);
		} else {
			set_current(r, after);
		}
		free(row.audit_hash);
		free(detail);
		free(note);
	} else if (failed == 1) {
		tx_rollback(r);
	} else {
		struct bk_row frow = *t;

		frow.state = BK_FAILED;
		frow.error = err;
		frow.audit_hash = NULL;
		if (!put_row_tx(r, &frow, "rollback-failed", t->bundle_id, r->current, err))
			res->needs_repair = 1;
		free(frow.audit_hash);
	}
	if (failed) {
		memset(&ev, 0, sizeof(ev));
		ev.type = EV_FAILED;
		ev.action = "rollback";
		ev.version = t->version;
		ev.name = t->name;
		ev.error = err;
		ev.index = i + 1;
		ev.total = ntargets;
		emit(r, &ev);
		res->failed_version = xstrdup(t->version);
		res->rolled_back = failed == 1;
		res->needs_repair = failed == 2;
		res->partial = failed == 2;
		cairn_error_set("rollback of %s failed: %s", t->name, err);
		free(err);
		return failed == 2 ? EXIT_STATE : EXIT_FAILED;
	}
	res->applied++;
	memset(&ev, 0, sizeof(ev));
	ev.type = EV_APPLIED;
	ev.action = "rollback";
	ev.version = t->version;
	ev.name = t->name;
	ev.index = i + 1;
	ev.total = ntargets;
	ev.duration_ms = now_ms() - m0;
	emit(r, &ev);
	if (!t->transactional)
		return callback_rollback_each_own(r, set, t, CB_AFTER_EACH_ROLLBACK, res);
	return EXIT_OK;
}

/* t's stored down script against the signed manifest of the bundle given
 * (set): 0, or EXIT_STATE with the error set naming the migration and both
 * hashes. */
static int down_in_manifest(const struct apply_set *set, const char *driver,
			    const struct bk_row *t)
{
	const struct bundle_file *f = NULL;
	char have[SHA256_HEX_LEN + 1], want[SHA256_HEX_LEN + 1];
	size_t i;

	if (sha256_hex(t->down_sql, strlen(t->down_sql), have))
		return EXIT_ENVIRONMENT;
	for (i = 0; i < set->n; i++)
		if (!strcmp(set->migs[i].version, t->version))
			break;
	if (i == set->n || !set->migs[i].bm) {
		cairn_error_set("migration %s: its stored down script (sha256:%s) cannot be "
				"checked: bundle %s (%s) does not list it; give the bundle that "
				"applied it (%s); nothing was rolled back", t->name, have,
				set->bundle_name ? set->bundle_name : "?", set->bundle_id,
				t->bundle_id ? t->bundle_id : "not recorded");
		return EXIT_STATE;
	}
	f = bundle_migration_file(set->migs[i].bm, "down", driver);
	if (!f || strcmp(bundle_file_hex(f, want), have)) {
		cairn_error_set("migration %s: its stored down script has sha256:%s, but the "
				"signed manifest of bundle %s (%s) records %s%s: the script was "
				"changed after apply; nothing was rolled back", t->name, have,
				set->bundle_name ? set->bundle_name : "?", set->bundle_id,
				f ? "sha256:" : "no down script", f ? want : "");
		return EXIT_STATE;
	}
	return EXIT_OK;
}

int engine_rollback(struct db *db, const struct driver *drv, const char *to_version,
		    size_t last_n, const struct apply_opts *o, struct apply_result *res)
{
	struct run r;
	struct books_guard guard;
	struct bk_row *rows = NULL;
	const struct bk_row **targets = NULL;
	size_t nrows = 0, ntargets = 0, i;
	int exists = 0, rc;
	struct apply_event ev;
	long long t0 = now_ms();
	const struct apply_set *set = o->manifest;

	memset(res, 0, sizeof(*res));
	memset(&r, 0, sizeof(r));
	memset(&guard, 0, sizeof(guard));
	if ((rc = take_lock(db, drv, o)) != EXIT_OK)
		return rc;
	if (read_rows(db, drv, &exists, &rows, &nrows) || run_init(&r, db, drv, o)) {
		rc = EXIT_ENVIRONMENT;
		goto out;
	}
	rc = books_guard(&guard, db, drv, o, rows, nrows, exists, "roll back");
	if (rc != EXIT_OK)
		goto out;
	o = r.o = &guard.opts; /* the recorded environment when none was named */
	targets = xcalloc(nrows ? nrows : 1, sizeof(*targets));
	for (i = 0; i < nrows; i++) {
		if (is_blocking(&rows[i])) {
			res->needs_repair = 1;
			res->failed_version = xstrdup(rows[i].version);
			cairn_error_set("migration %s is %s: repair it before rolling back",
					rows[i].name,
					!strcmp(rows[i].state, BK_FAILED) ? "failed" : "in progress");
			rc = EXIT_STATE;
			goto out;
		}
		if (!strcmp(rows[i].state, BK_APPLIED))
			targets[ntargets++] = &rows[i];
	}
	qsort(targets, ntargets, sizeof(*targets), cmp_row_version_desc);
	if (ntargets)
		set_current(&r, targets[0]->version);
	res->from_version = r.current ? xstrdup(r.current) : NULL;
	if (to_version) {
		for (i = 0; i < ntargets && version_cmp(targets[i]->version, to_version) > 0; i++)
			;
		ntargets = i;
	} else if (last_n < ntargets) {
		ntargets = last_n;
	}
	/* Everything is checked before anything runs. */
	for (i = 0; i < ntargets; i++) {
		const struct bk_row *t = targets[i];

		if (is_baseline_row(t) || t->irreversible || !t->down_sql) {
			res->failed_version = xstrdup(t->version);
			cairn_error_set("migration %s is %s: cannot roll back past it; nothing was "
					"rolled back",
					t->name,
					is_baseline_row(t) ? "the baseline"
					: t->irreversible  ? "irreversible"
							   : "recorded without a down script");
			rc = EXIT_FAILED;
			goto out;
		}
		if (o->manifest && (rc = down_in_manifest(o->manifest, drv->name, t)) != EXIT_OK) {
			res->failed_version = xstrdup(t->version);
			goto out;
		}
	}
	if (exists && record_identity(&r, guard.record)) {
		rc = EXIT_ENVIRONMENT;
		goto out;
	}
	ev_init(&ev, EV_PLAN, NULL, NULL);
	ev.action = "rollback";
	ev.total = ntargets;
	emit(&r, &ev);
	if (ntargets && (rc = callbacks_rollback_before(&r, set, res)) != EXIT_OK)
		goto out;
	for (i = 0; i < ntargets; i++) {
		/* SIGINT/SIGTERM/SIGHUP between two steps: no down script runs
		 * for the driver's cancel to stop, so the run stops here */
		if (o->interrupted && *o->interrupted) {
			cairn_error_set("interrupted by %s before rolling back %s; it stays applied",
					stop_signal_name(*o->interrupted), targets[i]->name);
			res->failed_version = xstrdup(targets[i]->version);
			res->between_steps = 1;
			rc = EXIT_FAILED;
			goto out;
		}
		rc = rollback_one(&r, rows, nrows, targets, ntargets, i, res);
		if (rc != EXIT_OK)
			goto out;
	}
	memset(&ev, 0, sizeof(ev));
	ev.type = EV_DONE;
	ev.action = "rollback";
	ev.total = res->applied;
	ev.duration_ms = now_ms() - t0;
	emit(&r, &ev);
	rc = EXIT_OK;
out:
	rc = callbacks_rollback_after(&r, set, res, rc);
	res->to_version = r.current ? xstrdup(r.current) : NULL;
	unlock_keeping_error(db, drv, &rc);
	free(targets);
	books_guard_release(&guard);
	bk_rows_free(rows, nrows);
	run_release(&r);
	return rc;
}
