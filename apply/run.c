/* A run of the engine: its transactions, the audit chain's head, the
 * bookkeeping and audit rows it writes, and the three ways a migration
 * runs (in a transaction, outside one, in batches). The choices are listed
 * at the top of engine.c. */
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../lib/error.h"
#include "../lib/exitcodes.h"
#include "../lib/spill.h"
#include "../lib/util.h"
#include "../verify/bundle.h"
#include "engine.h"
#include "engine-int.h"

int take_lock(struct db *db, const struct driver *drv, const struct apply_opts *o)
{
	int rc = drv->lock(db, o->lock_timeout_ms);

	/* SIGINT/SIGTERM/SIGHUP while it waited (the driver's cancel stopped the wait,
	 * or the lock came first): nothing is done, nothing is held */
	if (o->interrupted && *o->interrupted) {
		if (rc == 0)
			drv->unlock(db);
		cairn_error_set("interrupted by %s while waiting for the run lock: nothing was done",
				stop_signal_name(*o->interrupted));
		return EXIT_LOCKED;
	}
	if (rc == DRIVER_BUSY)
		return EXIT_LOCKED;
	return rc ? EXIT_ENVIRONMENT : EXIT_OK;
}

void unlock_keeping_error(struct db *db, const struct driver *drv, int *rc)
{
	char keep[CAIRN_ERRMSG_MAX];
	int ok = *rc == EXIT_OK || *rc == EXIT_CONTRACT || *rc == EXIT_BUDGET;

	/* a failed run's message is why it failed: a lock that cannot be
	 * released on a connection the server ended says less (t1098) */
	snprintf(keep, sizeof(keep), "%s", cairn_error_last());
	if (!drv->unlock(db))
		return;
	if (ok)
		*rc = EXIT_ENVIRONMENT;
	else
		cairn_error_set("%s", keep);
}

int read_rows(struct db *db, const struct driver *drv, int *exists, struct bk_row **rows,
	      size_t *nrows)
{
	*rows = NULL;
	*nrows = 0;
	if (drv->bk_exists(db, exists))
		return -1;
	return *exists ? drv->bk_read(db, rows, nrows) : 0;
}

void emit(struct run *r, struct apply_event *ev)
{
	if (!ev->environment)
		ev->environment = r->o->env;
	if (r->o->event)
		r->o->event(r->o->ctx, ev);
}

int run_init(struct run *r, struct db *db, const struct driver *drv,
	     const struct apply_opts *o)
{
	struct audit_row *last = NULL;
	size_t n = 0;

	memset(r, 0, sizeof(*r));
	r->db = db;
	r->drv = drv;
	r->o = o;
	r->actor = o->actor ? xstrdup(o->actor) : engine_actor();
	snprintf(r->head, sizeof(r->head), "%s", AUDIT_ZERO_HASH);
	if (drv->audit_read(db, 1, &last, &n))
		return -1;
	if (n) {
		r->seq = last[0].seq;
		snprintf(r->head, sizeof(r->head), "%s", last[0].hash);
	}
	audit_rows_free(last, n);
	r->tx_seq = r->seq;
	memcpy(r->tx_head, r->head, sizeof(r->head));
	return 0;
}

void deferred_clear(struct run *r)
{
	size_t i;

	for (i = 0; i < r->ndq; i++) {
		bk_row_release(&r->dq[i].row);
		audit_row_release(&r->dq[i].a);
	}
	r->ndq = 0;
}

void run_release(struct run *r)
{
	deferred_clear(r);
	free(r->dq);
	free(r->actor);
	free(r->current);
}

/* Writes what --atomic deferred; the caller commits or rolls back. */
int deferred_flush(struct run *r)
{
	size_t i;

	for (i = 0; i < r->ndq; i++)
		if (r->drv->audit_append(r->db, &r->dq[i].a) || r->drv->bk_put(r->db, &r->dq[i].row))
			return -1;
	deferred_clear(r);
	return 0;
}

int tx_begin(struct run *r)
{
	r->tx_seq = r->seq;
	memcpy(r->tx_head, r->head, sizeof(r->head));
	if (r->drv->begin(r->db))
		return -1;
	if (!r->pending_identity)
		return 0;
	if ((r->pending_books && r->drv->bk_ensure(r->db)) ||
	    audit_add(r, BOOKS_IDENTITY_ACTION, "", NULL, r->current, r->pending_identity, NULL)) {
		tx_rollback(r);
		return -1;
	}
	r->pending_in_tx = 1;
	r->pending_seq = r->tx_seq;
	memcpy(r->pending_head, r->tx_head, sizeof(r->tx_head));
	return 0;
}

int tx_commit(struct run *r)
{
	if (r->drv->commit(r->db))
		return -1;
	r->seq = r->tx_seq;
	memcpy(r->head, r->tx_head, sizeof(r->head));
	r->pending_identity = NULL;
	r->pending_in_tx = 0;
	return 0;
}

void tx_rollback(struct run *r)
{
	char keep[CAIRN_ERRMSG_MAX];

	/* A failed ROLLBACK must not replace the message of what failed. */
	snprintf(keep, sizeof(keep), "%s", cairn_error_last());
	r->drv->rollback(r->db);
	cairn_error_set("%s", keep);
	if (r->pending_in_tx) {
		r->pending_in_tx = 0;
		/* a script's own COMMIT committed the books and the identity row
		 * written before it: they stay, and the chain goes on from the row */
		if (r->tx_ended && r->tx_committed) {
			r->pending_identity = NULL;
			r->seq = r->pending_seq;
			memcpy(r->head, r->pending_head, sizeof(r->head));
		}
	}
	r->tx_seq = r->seq;
	memcpy(r->tx_head, r->head, sizeof(r->head));
}

/* Appends an audit row in the open transaction (or autocommit); anchor, when
 * set, receives the row's hash before it is written. */
static int audit_add_to(struct run *r, const char *action, const char *version,
			const char *bundle_id, const char *to_version, const char *detail,
			struct bk_row *anchor, struct audit_row *keep)
{
	struct audit_row a;
	char at[32], *evidence = NULL;
	int rc = 0;

	memset(&a, 0, sizeof(a));
	engine_now(at);
	a.seq = r->tx_seq + 1;
	a.at = at;
	a.actor = r->actor;
	a.action = (char *)action;
	a.version = (char *)(version ? version : "");
	a.from_version = r->current ? r->current : "";
	a.to_version = (char *)(to_version ? to_version : "");
	a.bundle_id = (char *)(bundle_id ? bundle_id : "");
	a.environment = (char *)(r->o->env ? r->o->env : "");
	a.detail = (char *)(detail ? detail : "");
	if (r->o->evidence && *r->o->evidence)
		a.detail = evidence = xasprintf("%s%s%s", a.detail, *a.detail ? "; " : "",
						r->o->evidence);
	if (anchor) {
		/* the row's facts end the detail, so the chain covers them */
		char *facts = books_facts(anchor), *with = xasprintf("%s%s", a.detail, facts);

		free(facts);
		free(evidence);
		a.detail = evidence = with;
	}
	a.prev_hash = r->tx_head;
	audit_hash(&a);
	if (anchor) {
		free(anchor->audit_hash);
		anchor->audit_hash = xstrdup(a.hash);
	}
	if (keep) {
		keep->seq = a.seq;
		keep->at = xstrdup(a.at);
		keep->actor = xstrdup(a.actor);
		keep->action = xstrdup(a.action);
		keep->version = xstrdup(a.version);
		keep->from_version = xstrdup(a.from_version);
		keep->to_version = xstrdup(a.to_version);
		keep->bundle_id = xstrdup(a.bundle_id);
		keep->environment = xstrdup(a.environment);
		keep->detail = xstrdup(a.detail);
		keep->prev_hash = xstrdup(a.prev_hash);
		keep->hash = xstrdup(a.hash);
	} else {
		rc = r->drv->audit_append(r->db, &a);
	}
	if (!rc) {
		r->tx_seq = a.seq;
		snprintf(r->tx_head, sizeof(r->tx_head), "%s", a.hash);
	}
	free(a.hash);
	free(evidence);
	return rc;
}

int audit_add(struct run *r, const char *action, const char *version,
	      const char *bundle_id, const char *to_version, const char *detail,
	      struct bk_row *anchor)
{
	return audit_add_to(r, action, version, bundle_id, to_version, detail, anchor, NULL);
}

int record_identity(struct run *r, const char *detail)
{
	return record_identity_books(r, 0, detail);
}

int record_identity_books(struct run *r, int create_books, const char *detail)
{
	if (!detail)
		return create_books ? r->drv->bk_ensure(r->db) : 0;
	if (tx_begin(r))
		return -1;
	if ((create_books && r->drv->bk_ensure(r->db)) ||
	    audit_add(r, BOOKS_IDENTITY_ACTION, "", NULL, r->current, detail, NULL)) {
		tx_rollback(r);
		return -1;
	}
	return tx_commit(r);
}

int record_backup(struct run *r, const char *version, const char *bundle_id,
		  const char *detail)
{
	if (tx_begin(r))
		return -1;
	if (audit_add(r, "backup", version, bundle_id, r->current, detail, NULL)) {
		tx_rollback(r);
		return -1;
	}
	return tx_commit(r);
}

/* --atomic: the migration's rows, kept for deferred_flush; row is moved. */
static void defer_record(struct run *r, struct bk_row *row, const char *action,
			 const char *bundle_id, const char *to, const char *detail)
{
	struct deferred *d;

	ALLOC_GROW(r->dq, r->ndq + 1, r->adq);
	d = &r->dq[r->ndq++];
	memset(d, 0, sizeof(*d));
	audit_add_to(r, action, row->version, bundle_id, to, detail, row, &d->a);
	d->row = *row;
	memset(row, 0, sizeof(*row));
}

/* A failure recorded on its own, after the migration's transaction rolled
 * back. Best effort: the run fails either way, with the original message. */
void audit_failure(struct run *r, const char *version, const char *bundle_id,
		   const char *error)
{
	char keep[CAIRN_ERRMSG_MAX];

	snprintf(keep, sizeof(keep), "%s", cairn_error_last());
	if (!tx_begin(r)) {
		if (!audit_add(r, "apply-failed", version, bundle_id, r->current, error, NULL))
			tx_commit(r);
		else
			tx_rollback(r);
	}
	cairn_error_set("%s", keep);
}

void set_current(struct run *r, const char *v)
{
	free(r->current);
	r->current = v ? xstrdup(v) : NULL;
}

void fill_row(struct bk_row *row, const struct apply_mig *m, const struct apply_set *set,
		     const struct run *r, const char *state)
{
	char at[32];

	engine_now(at);
	bk_row_release(row);
	row->version = xstrdup(m->version);
	row->name = xstrdup(m->name);
	row->checksum = xstrdup(m->checksum);
	row->state = xstrdup(state);
	row->bundle_id = xstrdup(set->bundle_id ? set->bundle_id : "");
	row->environment = xstrdup(r->o->env ? r->o->env : "");
	row->applied_at = xstrdup(at);
	row->applied_by = xstrdup(r->actor);
	row->down_sql = apply_mig_sql(m)->down ? xstrdup(apply_mig_sql(m)->down) : NULL;
	row->irreversible = m->irreversible;
	row->transactional = m->transaction;
	row->kind = xstrdup(m->batch ? "batch" : "schema");
	row->statement = -1;
}

/* "path:line: code: message" for a failed script. */
char *script_error(const char *path, const char *sql, size_t len,
		   const struct driver_error *e)
{
	char where[512], what[1400];

	if (!sql && e->line > 0 && path)
		snprintf(where, sizeof(where), "%s:%ld: ", path, e->line); /* streamed */
	else
		engine_error_where(path, sql, len, e->offset, where, sizeof(where));
	driver_error_format(e, what, sizeof(what));
	return xasprintf("%s%s", where, what);
}

static char *verify_path(const struct apply_mig *m)
{
	const struct apply_sql *q = apply_mig_sql(m);
	const char *slash = q->up_path ? strrchr(q->up_path, '/') : NULL;

	if (q->verify_path)
		return xstrdup(q->verify_path);
	if (!slash)
		return xstrdup("verify.sql");
	return xasprintf("%.*s/verify.sql", (int)(slash - q->up_path), q->up_path);
}

/* A data load asked for by the driver (COPY ... FROM 'data/NAME'): the
 * migration's file, streamed from the verified bundle and re-hashed on the
 * way, so a file of any size costs a buffer, not its size. */
static int stream_data(void *ctx, const char *name,
		       int (*sink)(void *sink_ctx, const void *data, size_t len), void *sink_ctx)
{
	const struct apply_mig *m = ctx;
	size_t i;

	for (i = 0; i < m->bm->nfiles; i++)
		if (!strcmp(m->bm->files[i].name, name))
			return bundle_stream(m->bundle, &m->bm->files[i], sink, sink_ctx);
	cairn_error_set("migration %s has no file '%s' in the bundle", m->name, name);
	return -1;
}

/* A large up script (apply_mig_up_streams), fed to the driver from the
 * verified bundle in chunks and hashed on the way: bundle_stream fails at
 * its end when the bytes differ from the signed manifest's, and the caller
 * rolls back what ran (driver.h, exec_stream). */
static int stream_up(void *ctx, int (*sink)(void *sink_ctx, const void *data, size_t len),
		     void *sink_ctx)
{
	const struct apply_mig *m = ctx;
	const char *up_path = apply_mig_sql(m)->up_path;
	const struct bundle_file *f = NULL;
	size_t i;

	for (i = 0; i < m->bm->nfiles && !f; i++)
		if (up_path && !strcmp(m->bm->files[i].member, up_path))
			f = &m->bm->files[i];
	if (!f) {
		cairn_error_set("migration %s: its up script is not in the bundle", m->name);
		return -1;
	}
	return bundle_stream(m->bundle, f, sink, sink_ctx);
}

struct spill_sink {
	int fd;
	char why[CAIRN_ERRMSG_MAX]; /* the write's error (bundle_stream says only
				     * that reading stopped) */
};

static int spill_sink_put(void *ctx, const void *data, size_t len)
{
	struct spill_sink *ss = ctx;

	if (!spill_write(ss->fd, data, len))
		return 0;
	snprintf(ss->why, sizeof(ss->why), "%s", cairn_error_last());
	return -1;
}

/* exec_stream's feed for a spilled script: the file, from its start (a
 * retry reads it again) */
static int spill_feed_up(void *ctx, int (*sink)(void *sink_ctx, const void *data, size_t len),
			 void *sink_ctx)
{
	return spill_feed(*(const int *)ctx, sink, sink_ctx);
}

/* A transaction: false up script too large to be held whole (issue #15,
 * trust15e): its statements commit as they run, so its hash must be checked
 * before the first; the member is written to a private temporary file while
 * bundle_stream hashes it (lib/spill.h), and the driver is fed from that
 * file. *fd: the file, or -1 when the script is held whole (apply_mig_sql(m)->up). 0, or
 * -1 with *err (nothing of the script ran). */
static int spill_up(const struct apply_mig *m, int *fd, char **err)
{
	struct spill_sink ss;

	*fd = -1;
	if (apply_mig_sql(m)->up || !m->bundle || !m->bm)
		return 0;
	ss.fd = spill_open();
	ss.why[0] = '\0';
	if (ss.fd >= 0 && !stream_up((void *)m, spill_sink_put, &ss)) {
		*fd = ss.fd;
		return 0;
	}
	*err = xasprintf("cannot stream %s: %s; nothing of it ran", apply_mig_sql(m)->up_path,
			 ss.why[0] ? ss.why : cairn_error_last());
	if (ss.fd >= 0)
		close(ss.fd);
	return -1;
}

/* Runs up (and verify) inside the open transaction, or outside one
 * (DRIVER_EXEC_SPLIT) from its up held whole or, spill >= 0, from that file (spill_up).
 * *err gets the message. */
static int run_up(struct run *r, const struct apply_mig *m, unsigned flags, int spill,
		  struct driver_exec *x, char **err,
		  int (*on_stmt)(void *, unsigned long, size_t), void *ctx)
{
	const struct apply_sql *q = apply_mig_sql(m);
	int streams = !q->up && m->bundle && m->bm && r->drv->exec_stream &&
		      (!(flags & DRIVER_EXEC_SPLIT) || spill >= 0);

	memset(x, 0, sizeof(*x));
	x->flags = flags;
	x->on_statement = on_stmt;
	x->ctx = ctx;
	if (m->bundle && m->bm) {
		x->stream_data = stream_data;
		x->data_ctx = (void *)m;
	}
	if (r->drv->set_timeouts(r->db, m->timeout_ms ? m->timeout_ms : r->o->statement_timeout_ms,
				 m->lock_timeout_ms ? m->lock_timeout_ms
				 : r->retrying && r->o->retry_lock_timeout_ms ? r->o->retry_lock_timeout_ms
				 : r->o->migration_lock_timeout_ms)) {
		*err = xstrdup(cairn_error_last());
		return -1;
	}
	if (streams ? r->drv->exec_stream(r->db, spill >= 0 ? spill_feed_up : stream_up,
					  spill >= 0 ? (void *)&spill : (void *)m, x)
		    : r->drv->exec(r->db, q->up, q->up_len, x)) {
		*err = x->err.message[0] ? script_error(q->up_path, q->up, q->up_len, &x->err)
					 : xstrdup(cairn_error_last());
		r->tx_ended = x->err.tx_ended;
		r->tx_committed = x->err.tx_committed;
		r->lock_timed_out = x->err.lock_timeout;
		return -1;
	}
	return 0;
}

static int run_verify(struct run *r, const struct apply_mig *m, char **err)
{
	const struct apply_sql *q = apply_mig_sql(m);
	struct driver_error de;
	int truth = 0;
	char *path;

	if (!q->verify)
		return 0;
	memset(&de, 0, sizeof(de));
	path = verify_path(m);
	if (r->drv->query_truth(r->db, q->verify, q->verify_len, &truth, &de)) {
		*err = de.message[0] ? script_error(path, q->verify, q->verify_len, &de)
				     : xstrdup(cairn_error_last());
		r->tx_ended = de.tx_ended;
		r->tx_committed = de.tx_committed;
		r->lock_timed_out = de.lock_timeout;
		free(path);
		return -1;
	}
	if (!truth) {
		*err = xasprintf("%s: verify.sql returned false or no row", path);
		free(path);
		return -1;
	}
	free(path);
	return 0;
}

void ev_init(struct apply_event *ev, enum apply_event_type t, const struct apply_mig *m,
	     const struct apply_set *set)
{
	memset(ev, 0, sizeof(*ev));
	ev->type = t;
	ev->action = "apply";
	if (m) {
		ev->version = m->version;
		ev->name = m->name;
		ev->checksum = m->checksum;
	}
	ev->bundle_id = set ? set->bundle_id : NULL;
}

/* The script of m committed work itself (its own COMMIT): that work is in
 * the database, unrecorded. The books say so: with --atomic, the migrations
 * before it, which that COMMIT committed too, are recorded applied (their
 * rows were kept for the end); m is recorded failed, with the statement
 * that committed, for an operator to look at and repair. */
static void record_own_commit(struct run *r, const struct apply_set *set,
			      const struct apply_mig *m, int in_atomic, int is_new,
			      const char *err)
{
	char keep[CAIRN_ERRMSG_MAX];
	struct bk_row row;
	size_t n = r->ndq;

	snprintf(keep, sizeof(keep), "%s", cairn_error_last());
	if (in_atomic && n) {
		if (r->drv->begin(r->db) || deferred_flush(r) || tx_commit(r))
			r->drv->rollback(r->db);
		else
			r->atomic_committed = n;
	}
	memset(&row, 0, sizeof(row));
	fill_row(&row, m, set, r, BK_FAILED);
	row.is_new = is_new;
	row.error = xstrdup(err);
	put_row_tx(r, &row, "apply-failed", set->bundle_id, r->current, err);
	bk_row_release(&row);
	cairn_error_set("%s", keep);
}

/* One transactional migration. in_atomic: the caller holds the transaction. */
int apply_tx(struct run *r, const struct apply_set *set, const struct apply_mig *m,
	     int in_atomic, int is_new, long long *duration, char **err)
{
	struct driver_exec x;
	struct bk_row row;
	long long t0 = now_ms();
	char *note, *detail = NULL;

	memset(&row, 0, sizeof(row));
	if (!in_atomic && tx_begin(r)) {
		*err = xstrdup(cairn_error_last());
		return -1;
	}
	/* the callbacks around it, in its transaction (issue #20) */
	if (callback_exec(r, set, CB_BEFORE_EACH, err) || run_up(r, m, 0, -1, &x, err, NULL, NULL) ||
	    run_verify(r, m, err) || callback_exec(r, set, CB_AFTER_EACH, err))
		goto fail;
	fill_row(&row, m, set, r, BK_APPLIED);
	row.is_new = is_new;
	*duration = row.duration_ms = now_ms() - t0;
	if ((note = callback_note(set, CB_BEFORE_EACH, CB_AFTER_EACH)))
		detail = xasprintf("%s; %s", m->checksum, note);
	free(note);
	if (in_atomic) {
		defer_record(r, &row, "apply", set->bundle_id, m->version,
			     detail ? detail : m->checksum);
		free(detail);
		return 0;
	}
	if (audit_add(r, "apply", m->version, set->bundle_id, m->version,
		      detail ? detail : m->checksum, &row) ||
	    r->drv->bk_put(r->db, &row)) {
		*err = xstrdup(cairn_error_last());
		goto fail;
	}
	if (!in_atomic && tx_commit(r)) {
		*err = xstrdup(cairn_error_last());
		goto fail;
	}
	free(detail);
	bk_row_release(&row);
	return 0;
fail:
	*duration = now_ms() - t0; /* a failure's line says how long it took too */
	free(detail);
	bk_row_release(&row);
	if (!in_atomic)
		tx_rollback(r);
	if (r->tx_ended && r->tx_committed)
		record_own_commit(r, set, m, in_atomic, is_new, *err);
	return -1;
}

struct stmt_ctx {
	struct run *r;
	struct bk_row *row;
};

static int on_statement(void *ctx, unsigned long index, size_t offset)
{
	struct stmt_ctx *s = ctx;

	(void)offset;
	if (s->r->o->interrupted && *s->r->o->interrupted) {
		cairn_error_set("interrupted before statement %lu", index + 1);
		return -1;
	}
	s->row->statement = (long long)index;
	return s->r->drv->bk_put(s->r->db, s->row);
}

int put_row_tx(struct run *r, struct bk_row *row, const char *action,
	       const char *bundle_id, const char *to, const char *detail)
{
	if (tx_begin(r))
		return -1;
	if (audit_add(r, action, row->version, bundle_id, to, detail, row) ||
	    r->drv->bk_put(r->db, row)) {
		tx_rollback(r);
		return -1;
	}
	return tx_commit(r);
}

/* transaction: false. Returns 0, or -1 with *err (the row is failed or, when
 * even that could not be written, still in progress). */
int apply_nontx(struct run *r, const struct apply_set *set, const struct apply_mig *m,
		long long *duration, char **err, struct apply_result *res)
{
	struct driver_exec x;
	struct bk_row row;
	struct stmt_ctx sc;
	struct nontx_retry st;
	long long t0 = now_ms();
	int failed, spill;

	if (spill_up(m, &spill, err)) {
		r->step_unstarted = 1;
		return -1;
	}
	memset(&st, 0, sizeof(st));
	st.t0 = t0; /* the budget counts from the first attempt's start */
	st.spill = spill;
	if (nontx_clean_first(r, m, &st, err)) {
		r->step_unstarted = 1;
		if (spill >= 0)
			close(spill);
		return -1;
	}

	memset(&row, 0, sizeof(row));
	fill_row(&row, m, set, r, BK_IN_PROGRESS);
	if (put_row_tx(r, &row, "apply-start", set->bundle_id, r->current, m->checksum)) {
		*err = xstrdup(cairn_error_last());
		bk_row_release(&row);
		if (spill >= 0)
			close(spill);
		return -1;
	}
	sc.r = r;
	sc.row = &row;
	do {
		row.statement = -1;
		r->lock_timed_out = 0;
		failed = run_up(r, m, DRIVER_EXEC_SPLIT, spill, &x, err, on_statement, &sc);
	} while (failed && !nontx_retry(r, set, m, &st, row.statement, err, res));
	if (spill >= 0)
		close(spill);
	if (failed || run_verify(r, m, err)) {
		free(row.state);
		/* stopped (SIGINT/SIGTERM), or refused (a script the parser
		 * cannot split: pg-stream.c), before its first statement: nothing
		 * of it ran, so nothing needs an operator; the next apply runs it */
		if (row.statement < 0)
			r->step_unstarted = 2; /* its audit row is this one */
		row.state = xstrdup(row.statement < 0 ? BK_ROLLED_BACK : BK_FAILED);
		row.error = xstrdup(*err);
		*duration = row.duration_ms = now_ms() - t0;
		if (put_row_tx(r, &row, "apply-failed", set->bundle_id, r->current, *err))
			cairn_error_set("%s", *err);
		bk_row_release(&row);
		return -1;
	}
	free(row.state);
	row.state = xstrdup(BK_APPLIED);
	row.statement = -1;
	*duration = row.duration_ms = now_ms() - t0;
	if (put_row_tx(r, &row, "apply", set->bundle_id, m->version, m->checksum)) {
		*err = xstrdup(cairn_error_last());
		bk_row_release(&row);
		return -1;
	}
	bk_row_release(&row);
	return 0;
}

/* rows per second over ms */
static long long per_s(long long rows, long long ms)
{
	return ms > 0 ? rows * 1000 / ms : rows * 1000;
}

/* The audit detail of a throttled migration's last row: its checksum and
 * what the throttle measured (issue #22); plain checksum otherwise. */
static char *batch_detail(const struct apply_mig *m, const struct apply_result *res,
			  long long rows, long long ms)
{
	if (!batch_throttle_set(m->throttle))
		return xstrdup(m->checksum);
	return xasprintf("%s rows=%lld rows_per_s=%lld lag_waits=%lu lag_wait_ms=%lld",
			 m->checksum, rows, per_s(rows, ms), res->lag_waits, res->lag_wait_ms);
}

/* max_duration reached (issue #22): the row stays in_progress with its
 * batches, an "apply-stopped" audit row says so, and the run stops. */
static int batch_stop(struct run *r, const struct apply_set *set, const struct apply_mig *m,
		      struct bk_row *row, long long run_rows, long long t0,
		      struct apply_result *res, char **err)
{
	struct apply_event ev;
	char *detail = batch_detail(m, res, run_rows, now_ms() - t0);
	int rc = put_row_tx(r, row, "apply-stopped", set->bundle_id, r->current, detail);

	free(detail);
	if (rc) {
		*err = xstrdup(cairn_error_last());
		return -1;
	}
	res->stopped_version = xstrdup(m->version);
	res->stopped_batches = row->batches;
	res->stopped_rows = row->rows_changed;
	res->rows_per_s = per_s(run_rows, now_ms() - t0);
	ev_init(&ev, EV_BATCH_STOP, m, set);
	ev.batches = row->batches;
	ev.rows = row->rows_changed;
	ev.rows_per_s = res->rows_per_s;
	ev.duration_ms = now_ms() - t0;
	emit(r, &ev);
	return 1;
}

/* kind: batch, resumable: one transaction per batch, progress in the row.
 * Returns 0 when done, 1 when stopped at its time budget (resumable),
 * -1 on failure (*err set). */
int apply_batch(struct run *r, const struct apply_set *set, const struct apply_mig *m,
		const struct bk_row *old, size_t index, size_t total, long long *duration,
		char **err, struct apply_result *res)
{
	struct driver_exec x;
	struct bk_row row;
	long long t0 = now_ms(), n = 0, run_rows = 0;
	int first, w;

	memset(&row, 0, sizeof(row));
	fill_row(&row, m, set, r, BK_IN_PROGRESS);
	if (old) {
		row.batches = old->batches;
		row.rows_changed = old->rows_changed;
		row.audit_hash = old->audit_hash ? xstrdup(old->audit_hash) : NULL;
	}
	/* the first batch of a run is audited when the row's facts change
	 * (new, or resumed from failed): the chain must cover its state */
	first = !row.audit_hash || !*row.audit_hash || (old && strcmp(old->state, BK_IN_PROGRESS));
	for (;;) {
		struct apply_event ev;

		w = batch_before(r, set, m, ++n, t0, res, err);
		if (w < 0)
			goto fail;
		if (w == BATCH_BUDGET) {
			*duration = row.duration_ms = row.duration_ms + (now_ms() - t0);
			w = batch_stop(r, set, m, &row, run_rows, t0, res, err);
			bk_row_release(&row);
			return w;
		}
		if (w) { /* SIGINT/SIGTERM in a pause or a wait: nothing to undo */
			res->between_batches = 1;
			*err = xasprintf("stopped between batches, after %lld batches, %lld rows; "
					 "the row stays in_progress and apply resumes it",
					 row.batches, row.rows_changed);
			bk_row_release(&row);
			return -1;
		}
		if (tx_begin(r)) {
			*err = xstrdup(cairn_error_last());
			goto fail;
		}
		if (batch_set_size(r, m, err) || run_up(r, m, 0, -1, &x, err, NULL, NULL))
			goto fail_tx;
		if (x.changes == 0) {
			char *detail;
			int bad;

			if (run_verify(r, m, err))
				goto fail_tx;
			free(row.state);
			row.state = xstrdup(BK_APPLIED);
			free(row.error);
			row.error = NULL;
			*duration = row.duration_ms = row.duration_ms + (now_ms() - t0);
			detail = batch_detail(m, res, run_rows, now_ms() - t0);
			bad = audit_add(r, "apply", m->version, set->bundle_id, m->version, detail,
					&row) ||
			      r->drv->bk_put(r->db, &row) || tx_commit(r);
			free(detail);
			if (bad) {
				*err = xstrdup(cairn_error_last());
				goto fail_tx;
			}
			break;
		}
		row.batches++;
		row.rows_changed += (long long)x.changes;
		run_rows += (long long)x.changes;
		free(row.state);
		row.state = xstrdup(BK_IN_PROGRESS);
		if ((first && audit_add(r, "apply-start", m->version, set->bundle_id, r->current,
					m->checksum, &row)) ||
		    r->drv->bk_put(r->db, &row) || tx_commit(r)) {
			*err = xstrdup(cairn_error_last());
			goto fail_tx;
		}
		first = 0;
		ev_init(&ev, EV_BATCH, m, set);
		ev.index = index;
		ev.total = total;
		ev.batches = row.batches;
		ev.rows = row.rows_changed;
		ev.duration_ms = now_ms() - t0;
		ev.rows_per_s = per_s(run_rows, ev.duration_ms);
		emit(r, &ev);
	}
	res->rows_per_s = per_s(run_rows, now_ms() - t0);
	bk_row_release(&row);
	return 0;
fail_tx:
	tx_rollback(r);
fail:
	if (row.batches > 0) {
		/* Batches committed before: keep the progress, mark it failed. */
		free(row.state);
		row.state = xstrdup(BK_FAILED);
		free(row.error);
		row.error = xstrdup(*err);
		if (put_row_tx(r, &row, "apply-failed", set->bundle_id, r->current, *err))
			cairn_error_set("%s", *err);
	} else {
		audit_failure(r, m->version, set->bundle_id, *err);
	}
	bk_row_release(&row);
	return -1;
}
