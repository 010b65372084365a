/* The apply engine. See engine.h for the contract; the choices:
 *
 * - Each transactional migration commits together with its cairn_migrations
 *   row and its cairn_audit row: after a crash at any point a migration is
 *   either applied and recorded, or neither.
 * - A transactional migration that fails is rolled back and leaves no
 *   bookkeeping row (the database is as it was); the failure is recorded in
 *   the audit chain in a transaction of its own.
 * - transaction: false marks the row in_progress first; a failure marks it
 *   failed. Either stops later runs until `repair` (EXIT_STATE).
 * - kind: batch commits the row's progress with every batch; a run that finds
 *   a batch row in progress or failed resumes it, since a batch statement is
 *   by definition safe to repeat until it changes no row.
 * - The in-memory head of the audit chain only moves when a commit succeeds. */
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
#include "load.h"

void apply_result_release(struct apply_result *r)
{
	if (!r)
		return;
	free(r->from_version);
	free(r->to_version);
	free(r->failed_version);
	free(r->waiting_version);
	free(r->stopped_version);
	memset(r, 0, sizeof(*r));
}

char *engine_actor(void)
{
	char host[256] = "";
	const char *user = getenv("USER");
	struct passwd *pw = getpwuid(geteuid());

	if (pw && pw->pw_name)
		user = pw->pw_name;
	if (gethostname(host, sizeof(host) - 1) != 0 || !host[0])
		snprintf(host, sizeof(host), "localhost");
	return xasprintf("%s@%s", user && *user ? user : "unknown", host);
}

void engine_now(char out[32])
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	if (!strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(out, 32, "1970-01-01T00:00:00Z");
}

long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void engine_error_where(const char *path, const char *sql, size_t len, long offset, char *out,
			size_t outlen)
{
	if (!path) {
		out[0] = '\0';
		return;
	}
	if (offset < 0 || !sql || (size_t)offset > len)
		snprintf(out, outlen, "%s: ", path);
	else
		snprintf(out, outlen, "%s:%d: ", path, line_of_offset(sql, len, (size_t)offset));
}

static void report_plan_problems(struct run *r, const struct apply_set *set, const struct plan *p)
{
	struct apply_event ev;
	size_t i;

	for (i = 0; i < p->nmissing; i++) {
		ev_init(&ev, EV_MISSING, NULL, set);
		ev.version = p->missing[i]->version;
		ev.name = p->missing[i]->name;
		ev.row = p->missing[i];
		emit(r, &ev);
	}
	for (i = 0; i < p->n; i++) {
		const struct plan_step *s = &p->steps[i];

		if (s->action != STEP_DRIFT)
			continue;
		ev_init(&ev, EV_DRIFT, s->m, set);
		ev.row = s->row;
		emit(r, &ev);
	}
	for (i = 0; i < p->nblocked; i++) {
		ev_init(&ev, EV_BLOCKED, NULL, set);
		ev.version = p->blocked[i]->version;
		ev.name = p->blocked[i]->name;
		ev.row = p->blocked[i];
		emit(r, &ev);
	}
}

/* SQL of the steps to run held from this check to the step, together:
 * past it, a step's SQL is read again (and hashed again) when it runs,
 * so applying any bundle holds at most this much of its SQL (issue #15). */
#define ENGINE_SQL_KEEP (16u << 20)

/* The bytes of m's SQL for driver, as the signed manifest gives them. */
static size_t step_sql_size(const struct apply_mig *m, const char *driver)
{
	static const char *const roles[] = { "up", "down", "verify" };
	size_t i, n = 0;

	for (i = 0; m->bm && i < 3; i++) {
		const struct bundle_file *f = bundle_migration_file(m->bm, roles[i], driver);

		n += f ? (size_t)f->size : 0;
	}
	return n;
}

/* The SQL of every step that will run, read and checked before the first
 * one runs: a migration 5 that cannot be used stops the run before 1 to 4
 * are applied, as when every migration's SQL was read at load. */
static int read_steps_sql(const struct apply_set *set, const struct plan *p)
{
	size_t i, held = 0;

	for (i = 0; i < p->n; i++) {
		const struct plan_step *s = &p->steps[i];
		size_t len;

		if (s->action != STEP_APPLY && s->action != STEP_RESUME)
			continue;
		/* past the budget: checked at load (apply_set_load), read when it runs */
		len = step_sql_size(s->m, set->driver);
		if (s->m->bundle && !apply_mig_sql(s->m)->up &&
		    (held + len > ENGINE_SQL_KEEP || apply_mig_up_streams(s->m, set->driver)))
			continue;
		if (apply_mig_read_sql(s->m, set->driver)) {
			cairn_error_set("cannot read bundle '%s': %s", set->bundle_path,
					cairn_error_last());
			return EXIT_REFUSED;
		}
		held += len;
	}
	return EXIT_OK;
}

/* A step's SQL dropped by read_steps_sql, read again just before it runs:
 * 0, or 1 with *err set (the step fails before any of it runs). */
static int reread_step_sql(struct run *r, const struct apply_set *set, struct apply_mig *m,
			   char **err)
{
	int streams = r->drv->exec_stream && apply_mig_up_streams(m, set->driver);

	if (apply_mig_sql(m)->up || !m->bundle)
		return 0;
	/* a large up script is streamed by run_up, never held whole */
	if (!(streams ? apply_mig_read_sql_but_up(m, set->driver)
		      : apply_mig_read_sql(m, set->driver)))
		return 0;
	*err = xasprintf("cannot read bundle '%s': %s", set->bundle_path, cairn_error_last());
	return 1;
}

/* The steps the plan skips, each told to the caller. */
static void report_skipped(struct run *r, const struct apply_set *set, const struct plan *p,
			   struct apply_result *res)
{
	struct apply_event ev;
	size_t i;

	for (i = 0; i < p->n; i++) {
		const struct plan_step *s = &p->steps[i];
		const char *why = NULL;

		if (s->action == STEP_OTHER_ENV)
			why = "not for this environment";
		else if (s->action == STEP_AFTER_TO)
			why = "after --to";
		else if (s->action == STEP_BASELINE)
			why = "at or below the baseline";
		else if (s->action == STEP_CONTRACT_WAITS && s->m->contract)
			why = "phase: contract, waits for a contract statement (cairn promote --contract)";
		else if (s->action == STEP_CONTRACT_WAITS)
			why = "after a contract migration that waits for a contract statement";
		if (s->action == STEP_CONTRACT_WAITS && !res->waiting++)
			res->waiting_version = xstrdup(s->m->version);
		if (why) {
			ev_init(&ev, EV_SKIPPED, s->m, set);
			ev.reason = why;
			emit(r, &ev);
			res->skipped++;
		}
	}
}

/* --atomic: 1 (with the error set) when a step that runs cannot run in the
 * one transaction. */
static int atomic_refused(const struct plan *p)
{
	size_t i;

	for (i = 0; i < p->n; i++) {
		const struct plan_step *s = &p->steps[i];

		if ((s->action == STEP_APPLY || s->action == STEP_RESUME) &&
		    (!s->m->transaction || s->m->batch)) {
			cairn_error_set("--atomic: migration %s %s, so the bundle cannot apply "
					"in one transaction; nothing was applied",
					s->m->name,
					s->m->batch ? "is a batch migration"
						    : "runs outside a transaction "
						      "(transaction: false)");
			return 1;
		}
	}
	return 0;
}

/* Step m failed with err (freed here): what that leaves, and the exit code. */
static int step_failed(struct run *r, const struct apply_set *set, const struct plan *p,
		       const struct apply_mig *m, int in_atomic, char *err,
		       struct apply_result *res)
{
	int rc;

	res->failed_version = xstrdup(m->version);
	if (r->tx_ended && r->tx_committed) {
		/* its own COMMIT: recorded failed by apply_tx, for an operator */
		if (r->atomic_committed) {
			const struct plan_step *last = NULL;
			size_t i, n = 0;

			for (i = 0; i < p->n && n < r->atomic_committed; i++)
				if (p->steps[i].action == STEP_APPLY || p->steps[i].action == STEP_RESUME)
					last = &p->steps[i], n++;
			if (last)
				set_current(r, last->m->version);
			res->applied = r->atomic_committed;
		}
		res->needs_repair = 1;
		res->partial = 1;
		res->tx_ended = 1;
		cairn_error_set("migration %s ended cairn's transaction itself: %s", m->name, err);
		free(err);
		return EXIT_STATE;
	}
	if (in_atomic) {
		tx_rollback(r);
		deferred_clear(r);
		audit_failure(r, m->version, set->bundle_id, err);
		res->applied = 0;
		set_current(r, p->current);
		res->rolled_back = 1;
		rc = EXIT_FAILED;
	} else if (m->batch) {
		res->rolled_back = 1; /* this batch; earlier ones stay, resumable */
		rc = EXIT_FAILED;
	} else if (!m->transaction && !r->step_unstarted) {
		res->needs_repair = 1;
		res->partial = 1;
		rc = EXIT_STATE;
	} else {
		if (r->step_unstarted != 2)
			audit_failure(r, m->version, set->bundle_id, err);
		res->rolled_back = 1;
		rc = EXIT_FAILED;
	}
	cairn_error_set("migration %s %s: %s", m->name,
			r->tx_ended ? "ended cairn's transaction itself" : "failed", err);
	free(err);
	return rc;
}

/* The caller's hook before step s (a backup, issue #20), and its audit
 * row. EXIT_OK, or EXIT_FAILED with nothing of the step run. */
static int before_step(struct run *r, const struct apply_set *set, const struct apply_mig *m,
		       struct apply_result *res)
{
	char *detail = NULL;
	int rc = EXIT_OK;

	if (!r->o->before_step)
		return EXIT_OK;
	if (r->o->before_step(r->o->before_ctx, m, &detail)) {
		char keep[CAIRN_ERRMSG_MAX];

		snprintf(keep, sizeof(keep), "%s", cairn_error_last());
		cairn_error_set("before migration %s: %s; nothing of it ran", m->name, keep);
		res->failed_version = xstrdup(m->version);
		res->rolled_back = 1;
		return EXIT_FAILED;
	}
	if (detail && record_backup(r, m->version, set->bundle_id, detail)) {
		res->failed_version = xstrdup(m->version);
		res->rolled_back = 1;
		rc = EXIT_FAILED;
	}
	free(detail);
	return rc;
}

static int before_steps(struct run *r, const struct apply_set *set, const struct plan *p,
			struct apply_result *res)
{
	size_t i;
	int rc = EXIT_OK;

	for (i = 0; i < p->n && rc == EXIT_OK; i++)
		if (p->steps[i].action == STEP_APPLY || p->steps[i].action == STEP_RESUME)
			rc = before_step(r, set, p->steps[i].m, res);
	return rc;
}

/* Runs the steps of the plan that apply, in order, until one fails. */
static int apply_steps(struct run *r, const struct apply_set *set, const struct plan *p,
		       int in_atomic, struct apply_result *res)
{
	struct apply_event ev;
	size_t i, done = 0;

	for (i = 0; i < p->n; i++) {
		const struct plan_step *s = &p->steps[i];
		const struct apply_mig *m = s->m;
		long long duration = 0;
		char *err = NULL;
		int failed, reread, own_each;

		if (s->action != STEP_APPLY && s->action != STEP_RESUME)
			continue;
		if (r->o->interrupted && *r->o->interrupted) {
			cairn_error_set("interrupted by %s before migration %s; nothing of it ran",
					stop_signal_name(*r->o->interrupted), m->name);
			res->rolled_back = 1;
			return EXIT_FAILED;
		}
		if (!in_atomic && before_step(r, set, m, res) != EXIT_OK)
			return EXIT_FAILED;
		done++;
		ev_init(&ev, EV_START, m, set);
		ev.index = done;
		ev.total = p->napply;
		emit(r, &ev);
		own_each = m->batch || !m->transaction;
		if (own_each && callback_each_own(r, set, m, CB_BEFORE_EACH, res) != EXIT_OK)
			return EXIT_FAILED;
		reread = !apply_mig_sql(m)->up && m->bundle;
		r->step_unstarted = 0;
		if (reread && reread_step_sql(r, set, s->m, &err))
			failed = r->step_unstarted = 1;
		else if (m->batch)
			failed = apply_batch(r, set, m, s->action == STEP_RESUME ? s->row : NULL, done,
					     p->napply, &duration, &err, res);
		else if (!m->transaction)
			failed = apply_nontx(r, set, m, &duration, &err, res);
		else if (in_atomic)
			failed = apply_tx(r, set, m, 1, !s->row, &duration, &err);
		else
			failed = apply_tx_retry(r, set, m, !s->row, &duration, &err, res);
		if (reread)
			apply_mig_drop_sql(s->m);
		if (m->batch && failed == 1 && !err) /* stopped at its time budget */
			return EXIT_BUDGET;
		failed = failed != 0;
		if (failed && r->o->interrupted && *r->o->interrupted) {
			char *why = xasprintf("interrupted by %s: %s", stop_signal_name(*r->o->interrupted),
					      err ? err : "stopped");

			free(err);
			err = why;
		}
		if (failed) {
			ev_init(&ev, EV_FAILED, m, set);
			ev.index = done;
			ev.total = p->napply;
			ev.error = err;
			ev.duration_ms = duration;
			emit(r, &ev);
			return step_failed(r, set, p, m, in_atomic, err, res);
		}
		set_current(r, r->current && version_cmp(r->current, m->version) > 0 ? r->current
											: m->version);
		res->applied++;
		ev_init(&ev, EV_APPLIED, m, set);
		ev.index = done;
		ev.total = p->napply;
		ev.duration_ms = duration;
		emit(r, &ev);
		if (own_each && callback_each_own(r, set, m, CB_AFTER_EACH, res) != EXIT_OK)
			return EXIT_FAILED;
	}
	return EXIT_OK;
}

/* The books and identity still pending when no transaction of the run
 * committed them (the first step failed before any, or waits): written
 * now, as before the run they would have been; the run's message stands. */
static int identity_flush(struct run *r, int rc)
{
	char keep[CAIRN_ERRMSG_MAX];

	if (!r->pending_identity)
		return rc;
	snprintf(keep, sizeof(keep), "%s", cairn_error_last());
	if (tx_begin(r) || tx_commit(r)) {
		tx_rollback(r);
		if (rc == EXIT_OK || rc == EXIT_CONTRACT || rc == EXIT_BUDGET)
			return EXIT_ENVIRONMENT;
	}
	r->pending_identity = NULL;
	cairn_error_set("%s", keep);
	return rc;
}

int engine_apply(struct db *db, const struct driver *drv, const struct apply_set *set,
		 const struct apply_opts *o, struct apply_result *res)
{
	struct run r;
	struct books_plan bp;
	struct plan *pp = &bp.p;
	int rc, in_atomic = 0;
	long long t0 = now_ms();
	struct apply_event ev;

	memset(res, 0, sizeof(*res));
	memset(&bp, 0, sizeof(bp));
	memset(&r, 0, sizeof(r));
	rc = take_lock(db, drv, o);
	res->lock_tried = 1;
	res->lock_wait_ms = now_ms() - t0;
	if (rc != EXIT_OK)
		return rc;
	rc = books_plan(db, drv, set, o, &bp);
	if (rc == EXIT_OK)
		rc = read_steps_sql(set, pp);
	if (rc != EXIT_OK)
		goto out_unlock;
	if (run_init(&r, db, drv, o)) {
		rc = EXIT_ENVIRONMENT;
		goto out;
	}
	set_current(&r, pp->current);
	res->from_version = pp->current ? xstrdup(pp->current) : NULL;
	report_plan_problems(&r, set, pp);
	if (pp->ndrift) {
		cairn_error_set("%zu applied migration%s differ%s from the bundle (drift)", pp->ndrift,
				pp->ndrift == 1 ? "" : "s", pp->ndrift == 1 ? "s" : "");
		rc = EXIT_STATE;
		goto out;
	}
	if (pp->nblocked) {
		cairn_error_set("%zu migration%s failed or did not finish in an earlier run",
				pp->nblocked, pp->nblocked == 1 ? "" : "s");
		res->needs_repair = 1;
		rc = EXIT_STATE;
		goto out;
	}
	report_skipped(&r, set, pp, res);
	ev_init(&ev, EV_PLAN, NULL, set);
	ev.total = pp->napply;
	emit(&r, &ev);
	if (o->atomic && atomic_refused(pp)) {
		rc = EXIT_FAILED;
		res->rolled_back = 1;
		goto out;
	}
	if (pp->napply && !bp.exists && bp.guard.record && !o->atomic && drv->books_in_first_tx) {
		/* a new SQLite database: its books and identity come with the
		 * first migration's commit (tx_begin), so a crash leaves them
		 * with it or leaves nothing; flushed at the end if no transaction
		 * ran. PostgreSQL: up front (driver.h, books_in_first_tx) */
		r.pending_identity = bp.guard.record;
		r.pending_books = 1;
	} else if ((bp.exists || pp->napply) &&
		   record_identity_books(&r, pp->napply && !bp.exists, bp.guard.record)) {
		rc = EXIT_ENVIRONMENT;
		goto out;
	}
	if (pp->napply && (rc = callbacks_before_run(&r, set, res)) != EXIT_OK)
		goto out;
	if (pp->napply && o->atomic) {
		if ((rc = before_steps(&r, set, pp, res)) != EXIT_OK)
			goto out;
		if (tx_begin(&r)) {
			rc = EXIT_ENVIRONMENT;
			goto out;
		}
		in_atomic = 1;
	}
	rc = apply_steps(&r, set, pp, in_atomic, res);
	if (rc == EXIT_BUDGET) {
		res->needs_repair = 0;
		goto out;
	}
	if (rc != EXIT_OK)
		goto out;
	if (in_atomic) {
		if (deferred_flush(&r) || tx_commit(&r)) {
			tx_rollback(&r);
			res->applied = 0;
			set_current(&r, pp->current);
			res->rolled_back = 1;
			rc = EXIT_FAILED;
			goto out;
		}
	}
	rc = res->waiting ? EXIT_CONTRACT : EXIT_OK;
out:
	rc = callbacks_after_run(&r, set, res, rc);
	rc = identity_flush(&r, rc);
	res->to_version = r.current ? xstrdup(r.current) : NULL;
	ev_init(&ev, EV_DONE, NULL, set);
	ev.total = res->applied;
	ev.duration_ms = now_ms() - t0;
	if (rc == EXIT_OK || rc == EXIT_CONTRACT || rc == EXIT_BUDGET)
		emit(&r, &ev);
out_unlock:
	unlock_keeping_error(db, drv, &rc);
	books_plan_release(&bp);
	run_release(&r);
	return rc;
}
