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
#include "load.h"

void apply_set_release(struct apply_set *s)
{
	size_t i, j;

	if (!s)
		return;
	for (i = 0; i < s->n; i++) {
		struct apply_mig *m = &s->migs[i];

		free(m->up);
		free(m->down);
		free(m->verify);
		if (s->borrows_bundle)
			continue;
		free(m->version);
		free(m->name);
		free(m->checksum);
		free(m->description);
		free(m->up_path);
		for (j = 0; j < m->nenvironments; j++)
			free(m->environments[j]);
		free(m->environments);
	}
	free(s->migs);
	if (s->owns_bundle)
		bundle_free(s->bundle);
	free(s->bundle_id);
	free(s->bundle_name);
	free(s->bundle_path);
	memset(s, 0, sizeof(*s));
}

void apply_result_release(struct apply_result *r)
{
	if (!r)
		return;
	free(r->from_version);
	free(r->to_version);
	free(r->failed_version);
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

static long long now_ms(void)
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

/* ---- the plan ---- */

const char *step_action_name(enum step_action a)
{
	switch (a) {
	case STEP_APPLY: return "apply";
	case STEP_RESUME: return "resume";
	case STEP_APPLIED: return "applied";
	case STEP_BASELINE: return "baseline";
	case STEP_OTHER_ENV: return "other-environment";
	case STEP_AFTER_TO: return "after-target";
	case STEP_DRIFT: return "drift";
	case STEP_BLOCKED: return "blocked";
	}
	return "?";
}

static int is_blocking(const struct bk_row *r)
{
	return !strcmp(r->state, BK_FAILED) || !strcmp(r->state, BK_IN_PROGRESS);
}

static int is_batch_row(const struct bk_row *r)
{
	return r->kind && !strcmp(r->kind, "batch");
}

static int is_baseline_row(const struct bk_row *r)
{
	return r->kind && !strcmp(r->kind, "baseline");
}

static int env_listed(const struct apply_mig *m, const char *env)
{
	size_t i;

	if (!m->nenvironments)
		return 1;
	for (i = 0; env && i < m->nenvironments; i++)
		if (!strcmp(m->environments[i], env))
			return 1;
	return 0;
}

/* The rows by exact version, for plan_build. bk_read sorts them by
 * version_cmp, under which "0002" and "2" are equal (and which is no total
 * order on strings that are not numbers), so that order cannot find an
 * exact match; a hash of the exact strings does, in one pass, in any order.
 * Each row also carries what plan_build asks of it more than once. */
#define ROW_APPLIED  1
#define ROW_BLOCKING 2
#define ROW_BASELINE 4
#define ROW_HIT      8  /* a migration of the set has exactly this version */
#define ROW_RESUMES  16 /* a step of the set resumes this row */

struct row_index {
	const struct bk_row *rows;
	size_t *slots;             /* 1 + the first row with a version; 0: empty */
	size_t mask;
	size_t *first;             /* per row: the first row with its version */
	unsigned char *flags;      /* per row: ROW_* */
};

static size_t version_hash(const char *s)
{
	size_t h = 2166136261u;    /* FNV-1a */

	while (*s)
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h;
}

static void row_index_build(struct row_index *x, const struct bk_row *rows, size_t n)
{
	size_t i, cap = 16;

	while (cap < 2 * n)
		cap *= 2;
	x->rows = rows;
	x->mask = cap - 1;
	x->slots = xcalloc(cap, sizeof(*x->slots));
	x->first = xcalloc(n ? n : 1, sizeof(*x->first));
	x->flags = xcalloc(n ? n : 1, 1);
	for (i = 0; i < n; i++) {
		size_t h = version_hash(rows[i].version) & x->mask;

		while (x->slots[h] && strcmp(rows[x->slots[h] - 1].version, rows[i].version))
			h = (h + 1) & x->mask;
		if (!x->slots[h])
			x->slots[h] = i + 1;
		x->first[i] = x->slots[h] - 1;
		if (!strcmp(rows[i].state, BK_APPLIED))
			x->flags[i] |= ROW_APPLIED;
		else if (is_blocking(&rows[i]))
			x->flags[i] |= ROW_BLOCKING;
		if (is_baseline_row(&rows[i]))
			x->flags[i] |= ROW_BASELINE;
	}
}

/* The index of the first row whose version is exactly v, or -1. */
static long row_index_find(const struct row_index *x, const char *v)
{
	size_t h = version_hash(v) & x->mask;

	for (; x->slots[h]; h = (h + 1) & x->mask)
		if (!strcmp(x->rows[x->slots[h] - 1].version, v))
			return (long)x->slots[h] - 1;
	return -1;
}

static void row_index_release(struct row_index *x)
{
	free(x->slots);
	free(x->first);
	free(x->flags);
}

int plan_build(struct plan *p, const struct apply_set *set, const struct bk_row *rows,
	       size_t nrows, const char *env, const char *to)
{
	struct row_index x;
	const char *current = NULL;
	size_t i, to_index = set->n;

	memset(p, 0, sizeof(*p));
	if (to) {
		for (i = 0; i < set->n; i++)
			if (!strcmp(set->migs[i].version, to))
				break;
		if (i == set->n) {
			cairn_error_set("--to %s: no migration with that version in the bundle", to);
			return EXIT_USAGE;
		}
		to_index = i;
	}
	row_index_build(&x, rows, nrows);
	for (i = 0; i < nrows; i++) {
		if (!(x.flags[i] & ROW_APPLIED))
			continue;
		if (x.flags[i] & ROW_BASELINE)
			p->baseline = rows[i].version;
		if (!current || version_cmp(rows[i].version, current) > 0)
			current = rows[i].version;
	}
	p->current = current ? xstrdup(current) : NULL;

	p->steps = xcalloc(set->n ? set->n : 1, sizeof(*p->steps));
	p->n = set->n;
	for (i = 0; i < set->n; i++) {
		struct plan_step *s = &p->steps[i];
		long r = row_index_find(&x, set->migs[i].version);
		unsigned f = r >= 0 ? x.flags[r] : 0;

		s->m = &set->migs[i];
		s->row = r >= 0 ? &rows[r] : NULL;
		if (r >= 0)
			x.flags[r] |= ROW_HIT;
		if (f & ROW_APPLIED) {
			if ((f & ROW_BASELINE) || !strcmp(s->row->checksum, s->m->checksum)) {
				s->action = STEP_APPLIED;
			} else {
				s->action = STEP_DRIFT;
				p->ndrift++;
			}
		} else if (f & ROW_BLOCKING) {
			s->action = is_batch_row(s->row) && s->m->batch ? STEP_RESUME : STEP_BLOCKED;
			if (s->action == STEP_RESUME)
				x.flags[r] |= ROW_RESUMES;
		} else if (p->baseline && version_cmp(s->m->version, p->baseline) <= 0) {
			s->action = STEP_BASELINE;
		} else if (!env_listed(s->m, env)) {
			s->action = STEP_OTHER_ENV;
		} else if (i > to_index) {
			s->action = STEP_AFTER_TO;
		} else {
			s->action = STEP_APPLY;
		}
		if (s->action == STEP_APPLY || s->action == STEP_RESUME)
			p->napply++;
	}

	for (i = 0; i < nrows; i++) {
		/* A failed or unfinished row blocks the run unless it is a batch
		 * migration of this set, which resumes; one absent from the set
		 * cannot. */
		if ((x.flags[i] & ROW_BLOCKING) && !(x.flags[i] & ROW_RESUMES)) {
			p->blocked = xrealloc(p->blocked, (p->nblocked + 1) * sizeof(*p->blocked));
			p->blocked[p->nblocked++] = &rows[i];
		}
		/* Applied, and no migration of the set has its version. */
		if ((x.flags[i] & (ROW_APPLIED | ROW_BASELINE)) == ROW_APPLIED &&
		    !(x.flags[x.first[i]] & ROW_HIT)) {
			p->missing = xrealloc(p->missing, (p->nmissing + 1) * sizeof(*p->missing));
			p->missing[p->nmissing++] = &rows[i];
		}
	}
	row_index_release(&x);
	return EXIT_OK;
}

void plan_release(struct plan *p)
{
	if (!p)
		return;
	free(p->steps);
	free(p->missing);
	free(p->blocked);
	free(p->current);
	memset(p, 0, sizeof(*p));
}

/* ---- a run ---- */

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
};

static void emit(struct run *r, struct apply_event *ev)
{
	if (!ev->environment)
		ev->environment = r->o->env;
	if (r->o->event)
		r->o->event(r->o->ctx, ev);
}

static int run_init(struct run *r, struct db *db, const struct driver *drv,
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

static void deferred_clear(struct run *r)
{
	size_t i;

	for (i = 0; i < r->ndq; i++) {
		bk_row_release(&r->dq[i].row);
		audit_row_release(&r->dq[i].a);
	}
	r->ndq = 0;
}

static void run_release(struct run *r)
{
	deferred_clear(r);
	free(r->dq);
	free(r->actor);
	free(r->current);
}

/* Writes what --atomic deferred; the caller commits or rolls back. */
static int deferred_flush(struct run *r)
{
	size_t i;

	for (i = 0; i < r->ndq; i++)
		if (r->drv->audit_append(r->db, &r->dq[i].a) || r->drv->bk_put(r->db, &r->dq[i].row))
			return -1;
	deferred_clear(r);
	return 0;
}

static int tx_begin(struct run *r)
{
	r->tx_seq = r->seq;
	memcpy(r->tx_head, r->head, sizeof(r->head));
	return r->drv->begin(r->db);
}

static int tx_commit(struct run *r)
{
	if (r->drv->commit(r->db))
		return -1;
	r->seq = r->tx_seq;
	memcpy(r->head, r->tx_head, sizeof(r->head));
	return 0;
}

static void tx_rollback(struct run *r)
{
	char keep[CAIRN_ERRMSG_MAX];

	/* A failed ROLLBACK must not replace the message of what failed. */
	snprintf(keep, sizeof(keep), "%s", cairn_error_last());
	r->drv->rollback(r->db);
	cairn_error_set("%s", keep);
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

static int audit_add(struct run *r, const char *action, const char *version,
		     const char *bundle_id, const char *to_version, const char *detail,
		     struct bk_row *anchor)
{
	return audit_add_to(r, action, version, bundle_id, to_version, detail, anchor, NULL);
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
static void audit_failure(struct run *r, const char *version, const char *bundle_id,
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

static void set_current(struct run *r, const char *v)
{
	free(r->current);
	r->current = v ? xstrdup(v) : NULL;
}

static void fill_row(struct bk_row *row, const struct apply_mig *m, const struct apply_set *set,
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
	row->down_sql = m->down ? xstrdup(m->down) : NULL;
	row->irreversible = m->irreversible;
	row->transactional = m->transaction;
	row->kind = xstrdup(m->batch ? "batch" : "schema");
	row->statement = -1;
}

/* "path:line: code: message" for a failed script. */
static char *script_error(const char *path, const char *sql, size_t len,
			  const struct driver_error *e)
{
	char where[512], what[1400];

	engine_error_where(path, sql, len, e->offset, where, sizeof(where));
	driver_error_format(e, what, sizeof(what));
	return xasprintf("%s%s", where, what);
}

static char *verify_path(const struct apply_mig *m)
{
	const char *slash = m->up_path ? strrchr(m->up_path, '/') : NULL;

	if (!slash)
		return xstrdup("verify.sql");
	return xasprintf("%.*s/verify.sql", (int)(slash - m->up_path), m->up_path);
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

/* Runs up (and verify) inside the open transaction. *err gets the message. */
static int run_up(struct run *r, const struct apply_mig *m, unsigned flags,
		  struct driver_exec *x, char **err,
		  int (*on_stmt)(void *, unsigned long, size_t), void *ctx)
{
	memset(x, 0, sizeof(*x));
	x->flags = flags;
	x->on_statement = on_stmt;
	x->ctx = ctx;
	if (m->bundle && m->bm) {
		x->stream_data = stream_data;
		x->data_ctx = (void *)m;
	}
	if (r->drv->set_timeouts(r->db, m->timeout_ms, m->lock_timeout_ms)) {
		*err = xstrdup(cairn_error_last());
		return -1;
	}
	if (r->drv->exec(r->db, m->up, m->up_len, x)) {
		*err = x->err.message[0] ? script_error(m->up_path, m->up, m->up_len, &x->err)
					 : xstrdup(cairn_error_last());
		return -1;
	}
	return 0;
}

static int run_verify(struct run *r, const struct apply_mig *m, char **err)
{
	struct driver_error de;
	int truth = 0;
	char *path;

	if (!m->verify)
		return 0;
	path = verify_path(m);
	if (r->drv->query_truth(r->db, m->verify, m->verify_len, &truth, &de)) {
		*err = de.message[0] ? script_error(path, m->verify, m->verify_len, &de)
				     : xstrdup(cairn_error_last());
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

static void ev_init(struct apply_event *ev, enum apply_event_type t, const struct apply_mig *m,
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

/* One transactional migration. in_atomic: the caller holds the transaction. */
static int apply_tx(struct run *r, const struct apply_set *set, const struct apply_mig *m,
		    int in_atomic, int is_new, long long *duration, char **err)
{
	struct driver_exec x;
	struct bk_row row;
	long long t0 = now_ms();

	memset(&row, 0, sizeof(row));
	if (!in_atomic && tx_begin(r)) {
		*err = xstrdup(cairn_error_last());
		return -1;
	}
	if (run_up(r, m, 0, &x, err, NULL, NULL) || run_verify(r, m, err))
		goto fail;
	fill_row(&row, m, set, r, BK_APPLIED);
	row.is_new = is_new;
	*duration = row.duration_ms = now_ms() - t0;
	if (in_atomic) {
		defer_record(r, &row, "apply", set->bundle_id, m->version, m->checksum);
		return 0;
	}
	if (audit_add(r, "apply", m->version, set->bundle_id, m->version, m->checksum, &row) ||
	    r->drv->bk_put(r->db, &row)) {
		*err = xstrdup(cairn_error_last());
		goto fail;
	}
	if (!in_atomic && tx_commit(r)) {
		*err = xstrdup(cairn_error_last());
		goto fail;
	}
	bk_row_release(&row);
	return 0;
fail:
	bk_row_release(&row);
	if (!in_atomic)
		tx_rollback(r);
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
	s->row->statement = (long long)index;
	return s->r->drv->bk_put(s->r->db, s->row);
}

static int put_row_tx(struct run *r, struct bk_row *row, const char *action,
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
static int apply_nontx(struct run *r, const struct apply_set *set, const struct apply_mig *m,
		       long long *duration, char **err)
{
	struct driver_exec x;
	struct bk_row row;
	struct stmt_ctx sc;
	long long t0 = now_ms();

	memset(&row, 0, sizeof(row));
	fill_row(&row, m, set, r, BK_IN_PROGRESS);
	if (put_row_tx(r, &row, "apply-start", set->bundle_id, r->current, m->checksum)) {
		*err = xstrdup(cairn_error_last());
		bk_row_release(&row);
		return -1;
	}
	sc.r = r;
	sc.row = &row;
	if (run_up(r, m, DRIVER_EXEC_SPLIT, &x, err, on_statement, &sc) || run_verify(r, m, err)) {
		free(row.state);
		row.state = xstrdup(BK_FAILED);
		row.error = xstrdup(*err);
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

/* kind: batch, resumable: one transaction per batch, progress in the row. */
static int apply_batch(struct run *r, const struct apply_set *set, const struct apply_mig *m,
		       const struct bk_row *old, size_t index, size_t total, long long *duration,
		       char **err)
{
	struct driver_exec x;
	struct bk_row row;
	long long t0 = now_ms();

	memset(&row, 0, sizeof(row));
	fill_row(&row, m, set, r, BK_IN_PROGRESS);
	if (old) {
		row.batches = old->batches;
		row.rows_changed = old->rows_changed;
		row.audit_hash = old->audit_hash ? xstrdup(old->audit_hash) : NULL;
	}
	for (;;) {
		struct apply_event ev;
		int first = !row.audit_hash || !*row.audit_hash;

		if (tx_begin(r)) {
			*err = xstrdup(cairn_error_last());
			goto fail;
		}
		if (run_up(r, m, 0, &x, err, NULL, NULL))
			goto fail_tx;
		if (x.changes == 0) {
			if (run_verify(r, m, err))
				goto fail_tx;
			free(row.state);
			row.state = xstrdup(BK_APPLIED);
			free(row.error);
			row.error = NULL;
			*duration = row.duration_ms = row.duration_ms + (now_ms() - t0);
			if (audit_add(r, "apply", m->version, set->bundle_id, m->version, m->checksum,
				      &row) ||
			    r->drv->bk_put(r->db, &row) || tx_commit(r)) {
				*err = xstrdup(cairn_error_last());
				goto fail_tx;
			}
			break;
		}
		row.batches++;
		row.rows_changed += (long long)x.changes;
		free(row.state);
		row.state = xstrdup(BK_IN_PROGRESS);
		if ((first && audit_add(r, "apply-start", m->version, set->bundle_id, r->current,
					m->checksum, &row)) ||
		    r->drv->bk_put(r->db, &row) || tx_commit(r)) {
			*err = xstrdup(cairn_error_last());
			goto fail_tx;
		}
		ev_init(&ev, EV_BATCH, m, set);
		ev.index = index;
		ev.total = total;
		ev.batches = row.batches;
		ev.rows = row.rows_changed;
		ev.duration_ms = now_ms() - t0;
		emit(r, &ev);
	}
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

static int take_lock(struct db *db, const struct driver *drv, const struct apply_opts *o)
{
	int rc = drv->lock(db, o->lock_timeout_ms);

	if (rc == DRIVER_BUSY)
		return EXIT_LOCKED;
	return rc ? EXIT_ENVIRONMENT : EXIT_OK;
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

/* The SQL of every step that will run, read and checked before the first
 * one runs: a migration 5 that cannot be used stops the run before 1 to 4
 * are applied, as when every migration's SQL was read at load. */
static int read_steps_sql(const struct apply_set *set, const struct plan *p)
{
	size_t i;

	for (i = 0; i < p->n; i++) {
		const struct plan_step *s = &p->steps[i];

		if ((s->action == STEP_APPLY || s->action == STEP_RESUME) &&
		    apply_mig_read_sql(s->m, set->driver)) {
			cairn_error_set("cannot read bundle '%s': %s", set->bundle_path,
					cairn_error_last());
			return EXIT_REFUSED;
		}
	}
	return EXIT_OK;
}

static int read_rows(struct db *db, const struct driver *drv, int *exists, struct bk_row **rows,
		     size_t *nrows)
{
	*rows = NULL;
	*nrows = 0;
	if (drv->bk_exists(db, exists))
		return -1;
	return *exists ? drv->bk_read(db, rows, nrows) : 0;
}

int engine_apply(struct db *db, const struct driver *drv, const struct apply_set *set,
		 const struct apply_opts *o, struct apply_result *res)
{
	struct run r;
	struct plan p;
	struct bk_row *rows = NULL;
	size_t nrows = 0, i, done = 0;
	int exists = 0, rc, in_atomic = 0;
	long long t0 = now_ms();
	struct apply_event ev;

	memset(res, 0, sizeof(*res));
	memset(&p, 0, sizeof(p));
	memset(&r, 0, sizeof(r));
	if ((rc = take_lock(db, drv, o)) != EXIT_OK)
		return rc;
	if (read_rows(db, drv, &exists, &rows, &nrows)) {
		rc = EXIT_ENVIRONMENT;
		goto out_unlock;
	}
	rc = plan_build(&p, set, rows, nrows, o->env, o->to);
	if (rc == EXIT_OK)
		rc = read_steps_sql(set, &p);
	if (rc != EXIT_OK)
		goto out_unlock;
	if (run_init(&r, db, drv, o)) {
		rc = EXIT_ENVIRONMENT;
		goto out;
	}
	set_current(&r, p.current);
	res->from_version = p.current ? xstrdup(p.current) : NULL;
	report_plan_problems(&r, set, &p);
	if (p.ndrift) {
		cairn_error_set("%zu applied migration%s differ%s from the bundle (drift)", p.ndrift,
				p.ndrift == 1 ? "" : "s", p.ndrift == 1 ? "s" : "");
		rc = EXIT_STATE;
		goto out;
	}
	if (p.nblocked) {
		cairn_error_set("%zu migration%s failed or did not finish in an earlier run",
				p.nblocked, p.nblocked == 1 ? "" : "s");
		res->needs_repair = 1;
		rc = EXIT_STATE;
		goto out;
	}
	for (i = 0; i < p.n; i++) {
		struct plan_step *s = &p.steps[i];
		const char *why = NULL;

		if (s->action == STEP_OTHER_ENV)
			why = "not for this environment";
		else if (s->action == STEP_AFTER_TO)
			why = "after --to";
		else if (s->action == STEP_BASELINE)
			why = "at or below the baseline";
		if (why) {
			ev_init(&ev, EV_SKIPPED, s->m, set);
			ev.reason = why;
			emit(&r, &ev);
			res->skipped++;
		}
	}
	ev_init(&ev, EV_PLAN, NULL, set);
	ev.total = p.napply;
	emit(&r, &ev);
	if (o->atomic) {
		for (i = 0; i < p.n; i++) {
			const struct plan_step *s = &p.steps[i];

			if ((s->action == STEP_APPLY || s->action == STEP_RESUME) &&
			    (!s->m->transaction || s->m->batch)) {
				cairn_error_set("--atomic: migration %s %s, so the bundle cannot apply "
						"in one transaction; nothing was applied",
						s->m->name,
						s->m->batch ? "is a batch migration"
							    : "runs outside a transaction "
							      "(transaction: false)");
				rc = EXIT_FAILED;
				res->rolled_back = 1;
				goto out;
			}
		}
	}
	if (p.napply && !exists && drv->bk_ensure(db)) {
		rc = EXIT_ENVIRONMENT;
		goto out;
	}
	if (p.napply && o->atomic) {
		if (tx_begin(&r)) {
			rc = EXIT_ENVIRONMENT;
			goto out;
		}
		in_atomic = 1;
	}
	for (i = 0; i < p.n; i++) {
		struct plan_step *s = &p.steps[i];
		const struct apply_mig *m = s->m;
		long long duration = 0;
		char *err = NULL;
		int failed;

		if (s->action != STEP_APPLY && s->action != STEP_RESUME)
			continue;
		done++;
		ev_init(&ev, EV_START, m, set);
		ev.index = done;
		ev.total = p.napply;
		emit(&r, &ev);
		if (m->batch)
			failed = apply_batch(&r, set, m, s->action == STEP_RESUME ? s->row : NULL, done,
					     p.napply, &duration, &err);
		else if (!m->transaction)
			failed = apply_nontx(&r, set, m, &duration, &err);
		else
			failed = apply_tx(&r, set, m, in_atomic, !s->row, &duration, &err);
		if (failed) {
			ev_init(&ev, EV_FAILED, m, set);
			ev.index = done;
			ev.total = p.napply;
			ev.error = err;
			ev.duration_ms = duration;
			emit(&r, &ev);
			res->failed_version = xstrdup(m->version);
			if (in_atomic) {
				tx_rollback(&r);
				deferred_clear(&r);
				audit_failure(&r, m->version, set->bundle_id, err);
				res->applied = 0;
				set_current(&r, p.current);
				res->rolled_back = 1;
				rc = EXIT_FAILED;
			} else if (m->batch) {
				res->rolled_back = 1; /* this batch; earlier ones stay, resumable */
				rc = EXIT_FAILED;
			} else if (!m->transaction) {
				res->needs_repair = 1;
				res->partial = 1;
				rc = EXIT_STATE;
			} else {
				audit_failure(&r, m->version, set->bundle_id, err);
				res->rolled_back = 1;
				rc = EXIT_FAILED;
			}
			cairn_error_set("migration %s failed: %s", m->name, err);
			free(err);
			goto out;
		}
		set_current(&r, r.current && version_cmp(r.current, m->version) > 0 ? r.current
											: m->version);
		res->applied++;
		ev_init(&ev, EV_APPLIED, m, set);
		ev.index = done;
		ev.total = p.napply;
		ev.duration_ms = duration;
		emit(&r, &ev);
	}
	if (in_atomic) {
		if (deferred_flush(&r) || tx_commit(&r)) {
			tx_rollback(&r);
			res->applied = 0;
			set_current(&r, p.current);
			res->rolled_back = 1;
			rc = EXIT_FAILED;
			goto out;
		}
	}
	rc = EXIT_OK;
out:
	res->to_version = r.current ? xstrdup(r.current) : NULL;
	ev_init(&ev, EV_DONE, NULL, set);
	ev.total = res->applied;
	ev.duration_ms = now_ms() - t0;
	if (rc == EXIT_OK)
		emit(&r, &ev);
out_unlock:
	if (drv->unlock(db) && rc == EXIT_OK)
		rc = EXIT_ENVIRONMENT;
	plan_release(&p);
	bk_rows_free(rows, nrows);
	run_release(&r);
	return rc;
}

/* ---- rollback, baseline, repair ---- */

static int cmp_row_version_desc(const void *a, const void *b)
{
	return version_cmp((*(const struct bk_row *const *)b)->version,
			   (*(const struct bk_row *const *)a)->version);
}

int engine_rollback(struct db *db, const struct driver *drv, const char *to_version,
		    size_t last_n, const struct apply_opts *o, struct apply_result *res)
{
	struct run r;
	struct bk_row *rows = NULL;
	const struct bk_row **targets = NULL;
	size_t nrows = 0, ntargets = 0, i;
	int exists = 0, rc;
	struct apply_event ev;
	long long t0 = now_ms();

	memset(res, 0, sizeof(*res));
	memset(&r, 0, sizeof(r));
	if ((rc = take_lock(db, drv, o)) != EXIT_OK)
		return rc;
	if (read_rows(db, drv, &exists, &rows, &nrows) || run_init(&r, db, drv, o)) {
		rc = EXIT_ENVIRONMENT;
		goto out;
	}
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
	}
	ev_init(&ev, EV_PLAN, NULL, NULL);
	ev.action = "rollback";
	ev.total = ntargets;
	emit(&r, &ev);
	for (i = 0; i < ntargets; i++) {
		const struct bk_row *t = targets[i];
		struct driver_exec x;
		struct bk_row row;
		char at[32], *err = NULL, *path;
		long long m0 = now_ms();
		int failed = 0;

		memset(&ev, 0, sizeof(ev));
		ev.type = EV_START;
		ev.action = "rollback";
		ev.version = t->version;
		ev.name = t->name;
		ev.index = i + 1;
		ev.total = ntargets;
		emit(&r, &ev);
		memset(&x, 0, sizeof(x));
		memset(&row, 0, sizeof(row));
		row = *t; /* shallow: the fields below are replaced by owned copies */
		row.state_only = 1;
		row.state = BK_ROLLED_BACK;
		engine_now(at);
		row.applied_at = at;
		row.applied_by = r.actor;
		row.environment = (char *)(o->env ? o->env : t->environment);
		row.audit_hash = NULL;
		path = xasprintf("down script of %s", t->name);
		if (t->transactional) {
			if (tx_begin(&r)) {
				err = xstrdup(cairn_error_last());
				failed = 1;
			} else if (drv->exec(db, t->down_sql, strlen(t->down_sql), &x)) {
				err = x.err.message[0] ? script_error(path, t->down_sql,
								      strlen(t->down_sql), &x.err)
						       : xstrdup(cairn_error_last());
				failed = 1;
			}
		} else {
			x.flags = DRIVER_EXEC_SPLIT;
			if (drv->exec(db, t->down_sql, strlen(t->down_sql), &x)) {
				err = x.err.message[0] ? script_error(path, t->down_sql,
								      strlen(t->down_sql), &x.err)
						       : xstrdup(cairn_error_last());
				failed = 2; /* partly run: the row is marked failed */
			} else if (tx_begin(&r)) {
				err = xstrdup(cairn_error_last());
				failed = 2;
			}
		}
		free(path);
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
			if (audit_add(&r, "rollback", t->version, t->bundle_id, after, t->checksum,
				      &row) ||
			    drv->bk_put(db, &row) || tx_commit(&r)) {
				err = xstrdup(cairn_error_last());
				failed = 1;
				tx_rollback(&r);
			} else {
				set_current(&r, after);
			}
			free(row.audit_hash);
		} else if (failed == 1) {
			tx_rollback(&r);
		} else {
			struct bk_row frow = *t;

			frow.state = BK_FAILED;
			frow.error = err;
			frow.audit_hash = NULL;
			if (!put_row_tx(&r, &frow, "rollback-failed", t->bundle_id, r.current, err))
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
			emit(&r, &ev);
			res->failed_version = xstrdup(t->version);
			res->rolled_back = failed == 1;
			res->needs_repair = failed == 2;
			res->partial = failed == 2;
			cairn_error_set("rollback of %s failed: %s", t->name, err);
			free(err);
			rc = failed == 2 ? EXIT_STATE : EXIT_FAILED;
			goto out;
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
		emit(&r, &ev);
	}
	memset(&ev, 0, sizeof(ev));
	ev.type = EV_DONE;
	ev.action = "rollback";
	ev.total = res->applied;
	ev.duration_ms = now_ms() - t0;
	emit(&r, &ev);
	rc = EXIT_OK;
out:
	res->to_version = r.current ? xstrdup(r.current) : NULL;
	if (drv->unlock(db) && rc == EXIT_OK)
		rc = EXIT_ENVIRONMENT;
	free(targets);
	bk_rows_free(rows, nrows);
	run_release(&r);
	return rc;
}

int engine_baseline(struct db *db, const struct driver *drv, const char *version,
		    const char *description, const struct apply_opts *o)
{
	struct run r;
	struct bk_row *rows = NULL, row;
	size_t nrows = 0, i;
	int exists = 0, rc;
	char at[32];

	memset(&r, 0, sizeof(r));
	memset(&row, 0, sizeof(row));
	if (!*version || strspn(version, "0123456789") != strlen(version)) {
		cairn_error_set("--version must be a migration version (digits), not '%s'", version);
		return EXIT_USAGE;
	}
	if ((rc = take_lock(db, drv, o)) != EXIT_OK)
		return rc;
	if (read_rows(db, drv, &exists, &rows, &nrows)) {
		rc = EXIT_ENVIRONMENT;
		goto out;
	}
	for (i = 0; i < nrows; i++) {
		if (strcmp(rows[i].state, BK_ROLLED_BACK)) {
			cairn_error_set("the database already records migrations (%s is %s): a "
					"baseline only marks a database cairn has not managed yet",
					rows[i].version, rows[i].state);
			rc = EXIT_STATE;
			goto out;
		}
	}
	if ((!exists && drv->bk_ensure(db)) || run_init(&r, db, drv, o)) {
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
	if (drv->unlock(db) && rc == EXIT_OK)
		rc = EXIT_ENVIRONMENT;
	bk_row_release(&row);
	bk_rows_free(rows, nrows);
	run_release(&r);
	return rc;
}

int engine_repair(struct db *db, const struct driver *drv, const char *version,
		  int mark_applied, const struct apply_opts *o)
{
	struct run r;
	struct bk_row *rows = NULL, row;
	const struct bk_row *t = NULL;
	size_t nrows = 0, i;
	int exists = 0, rc;
	char *detail = NULL;

	memset(&r, 0, sizeof(r));
	memset(&row, 0, sizeof(row));
	if ((rc = take_lock(db, drv, o)) != EXIT_OK)
		return rc;
	if (read_rows(db, drv, &exists, &rows, &nrows) || run_init(&r, db, drv, o)) {
		rc = EXIT_ENVIRONMENT;
		goto out;
	}
	for (i = 0; i < nrows; i++) {
		if (!strcmp(rows[i].version, version))
			t = &rows[i];
		if (!strcmp(rows[i].state, BK_APPLIED) &&
		    (!r.current || version_cmp(rows[i].version, r.current) > 0))
			set_current(&r, rows[i].version);
	}
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
	if (drv->unlock(db) && rc == EXIT_OK)
		rc = EXIT_ENVIRONMENT;
	free(detail);
	bk_row_release(&row);
	bk_rows_free(rows, nrows);
	run_release(&r);
	return rc;
}
