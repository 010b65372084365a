/* What the parts of the apply engine share (apply/engine.c, plan.c, run.c,
 * rollback.c, repair.c): a run (the open database, the audit chain's head,
 * the --atomic queue) and the steps that write migrations, bookkeeping and
 * audit rows through it. Private to apply/. */
#ifndef CAIRN_APPLY_ENGINE_INT_H
#define CAIRN_APPLY_ENGINE_INT_H

#include "engine.h"

struct run {
	struct db *db;
	const struct driver *drv;
	const struct apply_opts *o;
	char *actor;
	long long seq;          /* last committed audit seq */
	char head[65];          /* its hash */
	long long tx_seq;       /* within the open transaction */
	char tx_head[65];
	char *current;          /* highest applied version, as committed */
	/* --atomic: bookkeeping and audit rows are written after the last
	 * migration, still inside the one transaction, so the two prepared
	 * inserts are not re-prepared after every schema change. */
	struct deferred {
		struct bk_row row;
		struct audit_row a;
	} *dq;
	size_t ndq, adq;
	/* the failed step's script ended the transaction itself (issue #16);
	 * tx_committed: it committed work outside the books */
	int tx_ended, tx_committed;
	size_t atomic_committed; /* --atomic: migrations its COMMIT committed */
	int retrying;            /* apply_tx_retry runs the step: retry_lock_timeout_ms */
	int lock_timed_out;      /* the failed step's statement timed out waiting for a
				  * lock (driver_error.lock_timeout): retry.c may run it again */
	int step_unstarted;      /* the failed step failed before any of it ran: no row
				  * started (a transaction: false script's spill, a
				  * script read again, or its row left rolled_back with
				  * statement -1: 2): rolled back, not for an operator */
	int callbacks_started;   /* the run reached its pending steps: after_migrate
				  * and on_error may run (callbacks.c) */
	/* A new database's books (pending_books) and identity row, written
	 * by the run's first transaction (tx_begin: its first migration's)
	 * rather than by one of their own; NULL once committed. pending_in_tx:
	 * in the open transaction; pending_seq and pending_head: the chain
	 * just after the row, for a script whose own COMMIT took it along. */
	const char *pending_identity;
	int pending_books, pending_in_tx;
	long long pending_seq;
	char pending_head[65];
};

/* A backup taken before a migration (apply_opts.before_step), on an audit
 * row of its own in its own transaction: 0, or -1 with the error set. */
int record_backup(struct run *r, const char *version, const char *bundle_id,
		  const char *detail);

/* callbacks.c (issue #20): the set's SQL callbacks. callback_exec runs
 * kind in the open transaction (nothing when the set has none): 0, or -1
 * with *err "callback NAME (sha256:...) failed: path:line: ...".
 * callback_run_own runs it in a transaction of its own with an audit row
 * "callback" (version: the migration concerned, "" for the run), and on
 * failure a row with its outcome after rolling back: 0, or -1 with *err.
 * callback_note: "callback=FILE; sha256=HEX; outcome=ok" for k1 and k2
 * (-1: none) that the set has, "; "-joined, or NULL. callback_on_error
 * runs on_error after a failure, keeping the error slot as it was. */
int callback_exec(struct run *r, const struct apply_set *set, int kind, char **err);
int callback_run_own(struct run *r, const struct apply_set *set, int kind, const char *version,
		     char **err);
char *callback_note(const struct apply_set *set, int k1, int k2);
void callback_on_error(struct run *r, const struct apply_set *set, const char *version);
/* Around a run with pending steps: before_migrate (EXIT_FAILED, nothing
 * ran, when it fails), then, given the run's exit code, after_migrate
 * when it applied something and on_error when it failed; the exit code
 * after them. callback_each_own: before_each or after_each of a
 * migration that runs outside one transaction (transaction: false, kind:
 * batch), in one of their own: an exit code. */
int callbacks_before_run(struct run *r, const struct apply_set *set, struct apply_result *res);
int callbacks_after_run(struct run *r, const struct apply_set *set, struct apply_result *res,
			int rc);
int callback_each_own(struct run *r, const struct apply_set *set, const struct apply_mig *m,
		      int kind, struct apply_result *res);
/* The same around rollback --bundle (set NULL: no bundle, none run):
 * before_rollback before the first down script, after_rollback after the
 * last, on_error after a failure; callback_rollback_each_own runs
 * before_each_rollback or after_each_rollback of a step recorded outside
 * a transaction in one of their own. Exit codes. */
int callbacks_rollback_before(struct run *r, const struct apply_set *set,
			      struct apply_result *res);
int callbacks_rollback_after(struct run *r, const struct apply_set *set,
			     struct apply_result *res, int rc);
int callback_rollback_each_own(struct run *r, const struct apply_set *set,
			       const struct bk_row *t, int kind, struct apply_result *res);

/* engine.c */
long long now_ms(void);

/* plan.c */
/* What engine_apply reads under the run lock (rss14o, rss14p): the books
 * checked (books_guard), and the plan from them. With a driver that reads
 * the rows compact (bk_brief_read) the guard and plan read those first,
 * and rows stays NULL when the plan needs nothing of the whole rows
 * (plan_from_briefs: nothing blocked, missing or drifted; the quiet plan
 * has no steps, p.n 0, every one would be STEP_APPLIED, which engine_apply
 * passes over; a step whose row is not applied points to one of stubs);
 * any other plan, or a guard that did not pass, is made again from the
 * whole rows, read under the same lock and guarded unless they match the
 * briefs the guard passed. */
struct books_plan {
	struct books_guard guard;
	struct plan p;
	struct bk_row *rows;
	size_t nrows;
	struct bk_briefs briefs;   /* the plan from briefs': p.baseline points into them */
	struct bk_row *stubs;      /* its steps' rows (stub_row), into briefs */
	int exists;
};
int books_plan(struct db *db, const struct driver *drv, const struct apply_set *set,
	       const struct apply_opts *o, struct books_plan *bp);
void books_plan_release(struct books_plan *bp);
int is_blocking(const struct bk_row *r);
int is_baseline_row(const struct bk_row *r);

/* run.c */
void emit(struct run *r, struct apply_event *ev);
int run_init(struct run *r, struct db *db, const struct driver *drv,
	     const struct apply_opts *o);
void deferred_clear(struct run *r);
void run_release(struct run *r);
/* Writes what --atomic deferred; the caller commits or rolls back. */
int deferred_flush(struct run *r);
/* Begins a transaction; the first one of a run with a pending identity
 * (struct run) writes the books and that row first. */
int tx_begin(struct run *r);
int tx_commit(struct run *r);
void tx_rollback(struct run *r);
/* Appends the identity row books_guard decided on (detail; NULL: none), in
 * a transaction of its own. */
int record_identity(struct run *r, const char *detail);
/* The same, creating the books first (create_books) in that transaction:
 * a crash leaves a new database with neither or both, never books
 * without the identity row (one commit, four syncs on SQLite, fewer). */
int record_identity_books(struct run *r, int create_books, const char *detail);
int audit_add(struct run *r, const char *action, const char *version,
	      const char *bundle_id, const char *to_version, const char *detail,
	      struct bk_row *anchor);
/* A failure recorded on its own, after the migration's transaction rolled
 * back. Best effort: the run fails either way, with the original message. */
void audit_failure(struct run *r, const char *version, const char *bundle_id,
		   const char *error);
void set_current(struct run *r, const char *v);
/* row (released first) as the migration m of set leaves it in state. */
void fill_row(struct bk_row *row, const struct apply_mig *m, const struct apply_set *set,
	      const struct run *r, const char *state);
/* "path:line: code: message" for a failed script. */
char *script_error(const char *path, const char *sql, size_t len,
		   const struct driver_error *e);
void ev_init(struct apply_event *ev, enum apply_event_type t, const struct apply_mig *m,
	     const struct apply_set *set);
/* One transactional migration. in_atomic: the caller holds the transaction. */
int apply_tx(struct run *r, const struct apply_set *set, const struct apply_mig *m,
	     int in_atomic, int is_new, long long *duration, char **err);
/* retry.c (issue #22): apply_tx outside --atomic, run again after a pause
 * while it fails on a lock timeout, within o->lock_retry_budget_ms; each
 * timeout is an audit row "lock-retry" and an EV_LOCK_RETRY event, and
 * counted in res. */
int apply_tx_retry(struct run *r, const struct apply_set *set, const struct apply_mig *m,
		   int is_new, long long *duration, char **err, struct apply_result *res);
/* Sleeps ms, in slices, so SIGINT/SIGTERM ends the pause at once:
 * 1 when interrupted (retry.c). */
int pause_ms(const struct apply_opts *o, long long ms);
/* throttle.c (issue #22): batch: {size, pause, max_duration,
 * max_replication_lag} of a kind: batch migration. batch_set_size makes
 * size readable by the batch script, in the batch's transaction;
 * batch_before waits what the throttle asks before batch n (1-based, of
 * this run; t0: when the run started the migration): the pause, then
 * while a standby lags beyond the bound. It returns 0 to go on,
 * BATCH_BUDGET when max_duration is reached, BATCH_INTERRUPTED on
 * SIGINT/SIGTERM, -1 on error (*err set). */
#define BATCH_BUDGET 1
#define BATCH_INTERRUPTED 2
int batch_set_size(struct run *r, const struct apply_mig *m, char **err);
int batch_before(struct run *r, const struct apply_set *set, const struct apply_mig *m,
		 long long n, long long t0, struct apply_result *res, char **err);
/* 1 when max_duration is set and this long has passed since t0. */
int batch_budget_spent(const struct apply_mig *m, long long t0);
int put_row_tx(struct run *r, struct bk_row *row, const char *action,
	       const char *bundle_id, const char *to, const char *detail);
/* transaction: false. Returns 0, or -1 with *err (the row is failed or, when
 * even that could not be written, still in progress). */
int apply_nontx(struct run *r, const struct apply_set *set, const struct apply_mig *m,
		long long *duration, char **err, struct apply_result *res);
/* retry.c (issue #22): after a transaction: false migration failed, 0 when
 * it runs again: it failed at its first statement (statement 0, nothing of
 * it committed) on a lock timeout, within o->lock_retry_budget_ms, after the
 * pause; an invalid index its CREATE INDEX CONCURRENTLY left is dropped
 * first. Logged and counted as apply_tx_retry's. -1: it stays failed (*err
 * says so when the budget is spent). st starts zeroed, t0 may be set. */
struct nontx_retry {
	long long t0, waited;
	unsigned long long seed;
	unsigned attempt;
	int spill; /* the spilled script's file (run.c spill_up), -1: apply_mig_sql(m)->up */
};
int nontx_retry(struct run *r, const struct apply_set *set, const struct apply_mig *m,
		struct nontx_retry *st, long long statement, char **err, struct apply_result *res);
/* Before the first attempt (pgguard15b): an INVALID index of the name the
 * script's CREATE INDEX CONCURRENTLY gives, left by a run that failed
 * (then repaired), is dropped, or IF NOT EXISTS would skip it and the books
 * call it applied. 0, or -1 with *err. */
int nontx_clean_first(struct run *r, const struct apply_mig *m, const struct nontx_retry *st,
		      char **err);
/* The index a script's first statement creates CONCURRENTLY, as written,
 * or NULL (malloc'ed). */
char *cic_index_name(const char *sql, size_t len);
/* kind: batch, resumable: one transaction per batch, progress in the row. */
int apply_batch(struct run *r, const struct apply_set *set, const struct apply_mig *m,
		const struct bk_row *old, size_t index, size_t total, long long *duration,
		char **err, struct apply_result *res);
/* Releases the run lock; a failure to is the run's failure (exit 6) when
 * the run succeeded, and keeps the run's own message when it failed. */
void unlock_keeping_error(struct db *db, const struct driver *drv, int *rc);
int take_lock(struct db *db, const struct driver *drv, const struct apply_opts *o);
int read_rows(struct db *db, const struct driver *drv, int *exists, struct bk_row **rows,
	      size_t *nrows);

/* repair.c: under the run lock, the books of a database cairn has not
 * managed yet, which baseline and adopt start: read, checked (books_guard,
 * g filled for what), and holding no migration but rolled-back ones
 * (EXIT_STATE, "... (V is S): why"). */
int books_unmanaged(struct books_guard *g, struct db *db, const struct driver *drv,
		    const struct apply_opts *o, const char *what, const char *why, int *exists);
/* repair.c: under the run lock, the opening of a run that rewrites one row
 * of the books (repair, repair --accept-checksum): the rows read, the chain
 * and identity checked (books_guard, g filled for what), the run acting as
 * the recorded environment when none was named (r->o), the identity row
 * written when it changed, r->current the newest applied version. An exit
 * code; r, g and *rows are the caller's to release either way. */
int books_open_rows(struct run *r, struct books_guard *g, struct db *db,
		    const struct driver *drv, const struct apply_opts *o, const char *what,
		    struct bk_row **rows, size_t *nrows);

#endif
