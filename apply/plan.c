/* The plan: what engine_apply would do with a set against the bookkeeping
 * rows (plan_build), and what plan and status show. See engine.h. */
#include <pwd.h>
#include <stdint.h>
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
	case STEP_CONTRACT_WAITS: return "waits-for-contract";
	}
	return "?";
}

int is_blocking(const struct bk_row *r)
{
	return !strcmp(r->state, BK_FAILED) || !strcmp(r->state, BK_IN_PROGRESS);
}

static int is_batch_row(const struct bk_row *r)
{
	return r->kind && !strcmp(r->kind, "batch");
}

int is_baseline_row(const struct bk_row *r)
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
#define ROW_SAME     32 /* step_decide's: applied as bundled, or the baseline */
#define ROW_BATCH    64 /* step_decide's: a batch's row */

struct row_index {
	const char *base;          /* the rows, full or brief: each starts with its version */
	size_t stride;
	size_t *slots;             /* 1 + the first row with a version; 0: empty */
	size_t mask;
	size_t *first;             /* per row: the first row with its version */
	unsigned char *flags;      /* per row: ROW_*, set by the caller */
};

/* Row i's version: struct bk_row and struct bk_brief both begin with it. */
static const char *row_version(const struct row_index *x, size_t i)
{
	const char *v;

	memcpy(&v, x->base + i * x->stride, sizeof(v));
	return v;
}

static void row_index_build(struct row_index *x, const void *rows, size_t stride, size_t n)
{
	size_t i, cap = 16;

	while (cap < 2 * n)
		cap *= 2;
	x->base = rows;
	x->stride = stride;
	x->mask = cap - 1;
	x->slots = xcalloc(cap, sizeof(*x->slots));
	x->first = xcalloc(n ? n : 1, sizeof(*x->first));
	x->flags = xcalloc(n ? n : 1, 1);
	for (i = 0; i < n; i++) {
		const char *v = row_version(x, i);
		size_t h = str_hash(v) & x->mask;

		while (x->slots[h] && strcmp(row_version(x, x->slots[h] - 1), v))
			h = (h + 1) & x->mask;
		if (!x->slots[h])
			x->slots[h] = i + 1;
		x->first[i] = x->slots[h] - 1;
	}
}

/* The index of the first row whose version is exactly v, or -1. */
static long row_index_find(const struct row_index *x, const char *v)
{
	size_t h = str_hash(v) & x->mask;

	for (; x->slots[h]; h = (h + 1) & x->mask)
		if (!strcmp(row_version(x, x->slots[h] - 1), v))
			return (long)x->slots[h] - 1;
	return -1;
}

static void row_index_release(struct row_index *x)
{
	free(x->slots);
	free(x->first);
	free(x->flags);
}

/* p->baseline and p->current from the applied rows (n of them, each
 * stride bytes from base, starting with its version; flags[i]: ROW_*), in
 * their order. */
static void plan_current(struct plan *p, const void *base, size_t stride, size_t n,
			 const unsigned char *flags)
{
	struct row_index at = { .base = base, .stride = stride };
	const char *current = NULL;
	size_t i;

	for (i = 0; i < n; i++) {
		const char *v = row_version(&at, i);

		if (!(flags[i] & ROW_APPLIED))
			continue;
		if (flags[i] & ROW_BASELINE)
			p->baseline = v;
		if (!current || version_cmp(v, current) > 0)
			current = v;
	}
	p->current = current ? xstrdup(current) : NULL;
}

/* Step s (the set's i-th) as plan_build decides it, from f: its row's
 * ROW_* flags (0: no row), with ROW_SAME when the row, applied, is as
 * bundled (or the baseline) and ROW_BATCH when it is a batch's; counted
 * into p. *waiting: a contract migration waits, and every pending step
 * after it. */
static void step_decide(struct plan *p, const struct apply_set *set, struct plan_step *s,
			unsigned f, size_t i, size_t to_index, const char *env, int *waiting)
{
	if (f & ROW_APPLIED) {
		if (f & ROW_SAME) {
			s->action = STEP_APPLIED;
		} else {
			s->action = STEP_DRIFT;
			p->ndrift++;
		}
	} else if (f & ROW_BLOCKING) {
		s->action = (f & ROW_BATCH) && s->m->batch ? STEP_RESUME : STEP_BLOCKED;
	} else if (p->baseline && version_cmp(s->m->version, p->baseline) <= 0) {
		s->action = STEP_BASELINE;
	} else if (!env_listed(s->m, env)) {
		s->action = STEP_OTHER_ENV;
	} else if (i > to_index) {
		s->action = STEP_AFTER_TO;
	} else {
		s->action = STEP_APPLY;
	}
	/* a contract migration without a contract statement waits, and
	 * so does every pending step after it: the order holds */
	if (s->action == STEP_APPLY && (*waiting || (s->m->contract && !set->contract_approved))) {
		s->action = STEP_CONTRACT_WAITS;
		*waiting = 1;
		p->nwaiting++;
	}
	if (s->action == STEP_APPLY || s->action == STEP_RESUME)
		p->napply++;
}

int plan_build(struct plan *p, const struct apply_set *set, const struct bk_row *rows,
	       size_t nrows, const char *env, const char *to)
{
	struct row_index x;
	size_t i, to_index = set->n;
	int waiting = 0;

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
	row_index_build(&x, rows, sizeof(*rows), nrows);
	for (i = 0; i < nrows; i++) {
		if (!strcmp(rows[i].state, BK_APPLIED))
			x.flags[i] |= ROW_APPLIED;
		else if (is_blocking(&rows[i]))
			x.flags[i] |= ROW_BLOCKING;
		if (is_baseline_row(&rows[i]))
			x.flags[i] |= ROW_BASELINE;
	}
	plan_current(p, rows, sizeof(*rows), nrows, x.flags);

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
		if (f & ROW_APPLIED && ((f & ROW_BASELINE) || !strcmp(s->row->checksum, s->m->checksum)))
			f |= ROW_SAME;
		if ((f & ROW_BLOCKING) && is_batch_row(s->row))
			f |= ROW_BATCH;
		step_decide(p, set, s, f, i, to_index, env, &waiting);
		if (s->action == STEP_RESUME)
			x.flags[r] |= ROW_RESUMES;
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

/* ---- the plan from the rows compact (rss14o, rss14p) ---- */

/* 1 when the set's checksum is the brief's: both "sha256:" and the same 64
 * lowercase hex digits. 0 when they differ, or either is written
 * otherwise, which only the whole rows can tell (plan_from_briefs). */
static int brief_checksum_is(const struct bk_brief *b, const char *checksum)
{
	return !(b->flags & BK_BRIEF_CK_ODD) && checksum && !strncmp(checksum, "sha256:", 7) &&
	       hex_is(checksum + 7, b->checksum, 32) && checksum[7 + SHA256_HEX_LEN] == '\0';
}

/* 1 when row b, which no migration of the set has exactly, leaves the plan
 * quiet: not applied (a rolled-back or pending row), or the baseline. */
static int brief_unmatched_ok(const struct bk_brief *b)
{
	return !(b->flags & BK_BRIEF_APPLIED) || (b->flags & BK_BRIEF_BASELINE);
}

/* The set's migrations and the briefs, both in version order, walked side
 * by side (no index: at 20,000 rows the index was 0.7 MB): at[i] 1 + the
 * brief of exactly migration i's version, 0 when none. 1 when the plan
 * from them needs nothing of the whole rows: every migration's row, if
 * applied, as bundled (or the baseline: no drift), and every row no
 * migration has exactly brief_unmatched_ok (none missing). 0 for anything
 * else, the set not in strict version order included: the whole rows
 * decide then. */
static int briefs_meet_set(const struct apply_set *set, const struct bk_briefs *bs,
			   uint32_t *at)
{
	size_t i, j = 0;

	for (i = 0; i < set->n; i++) {
		const struct apply_mig *m = &set->migs[i];
		const struct bk_brief *b;

		if (i && version_cmp(set->migs[i - 1].version, m->version) >= 0)
			return 0;
		/* most often the next row is exactly this migration's: any row
		 * after it of a version equal to this one's (version_cmp) goes
		 * through the first loop for the next migration */
		if (j < bs->n && !strcmp(bs->b[j].version, m->version)) {
			at[i] = (uint32_t)++j;
		} else {
			for (; j < bs->n && version_cmp(bs->b[j].version, m->version) < 0; j++)
				if (!brief_unmatched_ok(&bs->b[j]))
					return 0;
			for (; j < bs->n && version_cmp(bs->b[j].version, m->version) == 0; j++)
				if (!at[i] && !strcmp(bs->b[j].version, m->version))
					at[i] = (uint32_t)(j + 1);
				else if (!brief_unmatched_ok(&bs->b[j]))
					return 0;
		}
		b = at[i] ? &bs->b[at[i] - 1] : NULL;
		if (b && (b->flags & BK_BRIEF_APPLIED) && !(b->flags & BK_BRIEF_BASELINE) &&
		    !brief_checksum_is(b, m->checksum))
			return 0;
	}
	for (; j < bs->n; j++)
		if (!brief_unmatched_ok(&bs->b[j]))
			return 0;
	return 1;
}

/* A row for a step of the plan from briefs whose migration has a row, not
 * applied (rolled back, or pending): what engine_apply reads of such a
 * step's row is that there is one (apply_tx's is_new); version, name,
 * state, environment and kind are b's, the rest empty. */
static void stub_row(struct bk_row *r, const struct bk_briefs *bs, const struct bk_brief *b)
{
	static char none[1];

	memset(r, 0, sizeof(*r));
	r->version = (char *)b->version;
	r->name = (char *)bk_brief_name(b);
	r->state = bs->interned[b->state];
	r->environment = bs->interned[b->env];
	r->kind = bs->interned[b->kind];
	r->checksum = r->bundle_id = r->applied_at = r->applied_by = r->audit_hash = none;
	r->statement = -1;
	r->transactional = !!(b->flags & BK_BRIEF_TRANSACTIONAL);
	r->irreversible = !!(b->flags & BK_BRIEF_IRREVERSIBLE);
}

/* Steps for the plan from briefs, at from briefs_meet_set; stub rows for
 * the steps that have a row not applied, into *stubs. */
static void brief_steps(struct plan *p, const struct apply_set *set, const struct bk_briefs *bs,
			const uint32_t *at, size_t to_index, const char *env, struct bk_row **stubs)
{
	size_t i, k = 0;
	int waiting = 0;

	for (i = 0; i < set->n; i++)
		k += at[i] && !(bs->b[at[i] - 1].flags & BK_BRIEF_APPLIED);
	*stubs = k ? xcalloc(k, sizeof(**stubs)) : NULL;
	p->steps = xcalloc(set->n ? set->n : 1, sizeof(*p->steps));
	p->n = set->n;
	for (k = i = 0; i < set->n; i++) {
		const struct bk_brief *b = at[i] ? &bs->b[at[i] - 1] : NULL;
		struct plan_step *s = &p->steps[i];
		unsigned f = 0;

		s->m = &set->migs[i];
		if (b && (b->flags & BK_BRIEF_APPLIED)) {
			f = ROW_APPLIED | ROW_SAME; /* briefs_meet_set: no drift */
		} else if (b) {
			stub_row(&(*stubs)[k], bs, b);
			s->row = &(*stubs)[k++];
		}
		step_decide(p, set, s, f, i, to_index, env, &waiting);
	}
}

/* plan_build's plan from the briefs, when it needs nothing of the whole
 * rows (briefs_meet_set) and no row failed or unfinished. 1 with p as
 * plan_build makes it, but for two things nothing after the plan reads
 * in engine_apply: the quiet plan (every step STEP_APPLIED) has no steps
 * (p->n 0; engine_apply's loops act on, and report, the other actions
 * only: 0.5 MB at 20,000), and the steps' rows are NULL when applied, stub
 * rows (stub_row) when not. 0, p empty, when plan_build must make it from
 * the whole rows. */
static int plan_from_briefs(struct plan *p, const struct apply_set *set,
			    const struct bk_briefs *bs, const char *env, const char *to,
			    struct bk_row **stubs)
{
	unsigned char *flags;
	uint32_t *at;
	size_t i, to_index = set->n;
	int quiet = 1;

	memset(p, 0, sizeof(*p));
	*stubs = NULL;
	for (i = 0; to && i < set->n; i++)
		if (!strcmp(set->migs[i].version, to))
			break;
	if (to && i == set->n)
		return 0; /* plan_build says so */
	if (to)
		to_index = i;
	for (i = 0; i < bs->n; i++)
		if (bs->b[i].flags & BK_BRIEF_BLOCKING)
			return 0;
	at = xcalloc(set->n ? set->n : 1, sizeof(*at));
	if (!briefs_meet_set(set, bs, at)) {
		free(at);
		return 0;
	}
	flags = xcalloc(bs->n ? bs->n : 1, 1);
	for (i = 0; i < bs->n; i++)
		flags[i] = (bs->b[i].flags & BK_BRIEF_APPLIED ? ROW_APPLIED : 0) |
			   (bs->b[i].flags & BK_BRIEF_BASELINE ? ROW_BASELINE : 0);
	plan_current(p, bs->b, sizeof(*bs->b), bs->n, flags);
	free(flags);
	for (i = 0; quiet && i < set->n; i++)
		quiet = at[i] && (bs->b[at[i] - 1].flags & BK_BRIEF_APPLIED);
	if (!quiet)
		brief_steps(p, set, bs, at, to_index, env, stubs);
	free(at);
	return 1;
}

/* The whole rows read (engine_apply's books_plan): checked by the guard
 * as ever, unless they are the rows of the briefs the guard passed a
 * moment before under the same lock: the driver's stamp unmoved since the
 * briefs were read (asked after the whole read, so it covers it), or else
 * the rows field for field those briefs. An edit in between fails both and
 * meets the guard. */
static int whole_rows(struct db *db, const struct driver *drv, const struct apply_opts *o,
		      struct books_guard *g, int brief_ok, const struct bk_briefs *bs,
		      struct bk_row **rows, size_t *nrows, int *exists)
{
	if (read_rows(db, drv, exists, rows, nrows))
		return EXIT_ENVIRONMENT;
	if (brief_ok && *exists && *nrows == bs->n &&
	    ((drv->bk_same_since_brief && drv->bk_same_since_brief(db)) ||
	     bk_briefs_match(bs, *rows, *nrows)))
		return EXIT_OK;
	books_guard_release(g);
	return books_guard(g, db, drv, o, *rows, *nrows, *exists, "apply to");
}

int books_plan(struct db *db, const struct driver *drv, const struct apply_set *set,
	       const struct apply_opts *o, struct books_plan *bp)
{
	int rc = EXIT_ENVIRONMENT, brief_ok = 0, read;

	memset(&bp->p, 0, sizeof(bp->p));
	memset(&bp->guard, 0, sizeof(bp->guard));
	if (drv->bk_brief_read && drv->audit_scan) {
		if (drv->bk_exists(db, &bp->exists))
			return EXIT_ENVIRONMENT;
		read = bp->exists ? drv->bk_brief_read(db, &bp->briefs) : 1;
		if (read < 0)
			return EXIT_ENVIRONMENT;
		if (read == 0) {
			brief_ok = books_guard_brief(&bp->guard, db, drv, o, &bp->briefs,
						     "apply to") == EXIT_OK;
			if (brief_ok && plan_from_briefs(&bp->p, set, &bp->briefs, o->env, o->to,
							 &bp->stubs))
				return EXIT_OK;
		}
	}
	rc = whole_rows(db, drv, o, &bp->guard, brief_ok, &bp->briefs, &bp->rows, &bp->nrows,
			&bp->exists);
	bk_briefs_release(&bp->briefs);
	if (rc != EXIT_OK)
		return rc;
	return plan_build(&bp->p, set, bp->rows, bp->nrows, o->env, o->to);
}

void books_plan_release(struct books_plan *bp)
{
	plan_release(&bp->p);
	books_guard_release(&bp->guard);
	bk_rows_free(bp->rows, bp->nrows);
	free(bp->stubs);
	bk_briefs_release(&bp->briefs);
	memset(bp, 0, sizeof(*bp));
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

