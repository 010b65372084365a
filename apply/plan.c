/* The plan: what engine_apply would do with a set against the bookkeeping
 * rows (plan_build), and what plan and status show. See engine.h. */
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../lib/error.h"
#include "../lib/exitcodes.h"
#include "../lib/hexindex.h"
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
		/* a contract migration without a contract statement waits, and
		 * so does every pending step after it: the order holds */
		if (s->action == STEP_APPLY && (waiting || (s->m->contract && !set->contract_approved))) {
			s->action = STEP_CONTRACT_WAITS;
			waiting = 1;
			p->nwaiting++;
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

/* ---- the plan from the rows compact (rss14o) ---- */

/* 1 when the set's checksum is the brief's: both "sha256:" and the same 64
 * lowercase hex digits. 0 when they differ, or either is written
 * otherwise, which only the whole rows can tell (plan_quiet). */
static int brief_checksum_is(const struct bk_brief *b, const char *checksum)
{
	unsigned char d[32];

	return !(b->flags & BK_BRIEF_CK_ODD) && checksum && !strncmp(checksum, "sha256:", 7) &&
	       hexdigest_parse(checksum + 7, d) == 0 && !memcmp(d, b->checksum, 32);
}

/* 1 when row b, which no migration of the set has exactly, leaves the plan
 * quiet: not applied (a rolled-back or pending row), or the baseline. */
static int brief_unmatched_ok(const struct bk_brief *b)
{
	return !(b->flags & BK_BRIEF_APPLIED) || (b->flags & BK_BRIEF_BASELINE);
}

/* 1 when the set's migrations and the briefs, both in version order,
 * meet as the quiet plan needs: each migration has a row of exactly its
 * version, applied, as bundled (or the baseline), and every other row is
 * brief_unmatched_ok. A walk of the two side by side, no index (at 20,000
 * rows the index was 0.7 MB). 0 for anything else, the set not in strict
 * version order included: the whole rows decide then. */
static int briefs_meet_set(const struct apply_set *set, const struct bk_briefs *bs)
{
	size_t i, j = 0;

	for (i = 0; i < set->n; i++) {
		const struct apply_mig *m = &set->migs[i];
		long found = -1;

		if (i && version_cmp(set->migs[i - 1].version, m->version) >= 0)
			return 0;
		for (; j < bs->n && version_cmp(bs->b[j].version, m->version) < 0; j++)
			if (!brief_unmatched_ok(&bs->b[j]))
				return 0;
		for (; j < bs->n && version_cmp(bs->b[j].version, m->version) == 0; j++)
			if (found < 0 && !strcmp(bs->b[j].version, m->version))
				found = (long)j;
			else if (!brief_unmatched_ok(&bs->b[j]))
				return 0;
		if (found < 0 || !(bs->b[found].flags & BK_BRIEF_APPLIED) ||
		    (!(bs->b[found].flags & BK_BRIEF_BASELINE) &&
		     !brief_checksum_is(&bs->b[found], m->checksum)))
			return 0;
	}
	for (; j < bs->n; j++)
		if (!brief_unmatched_ok(&bs->b[j]))
			return 0;
	return 1;
}

/* plan_build's plan from the briefs, when it is the quiet one: every
 * migration of the set applied as it is in the bundle (or under the
 * baseline), no row failed or unfinished, none applied that the set lacks.
 * 1 with p's current and baseline as plan_build sets them and no steps:
 * each would be STEP_APPLIED, which nothing after the plan reads in
 * engine_apply (its loops act on, and report, the other actions only; 0.5
 * MB at 20,000); 0, p empty, when it is any other plan, which plan_build
 * then makes from the whole rows. */
static int plan_quiet(struct plan *p, const struct apply_set *set, const struct bk_briefs *bs,
		      const char *to)
{
	unsigned char *flags;
	size_t i;

	memset(p, 0, sizeof(*p));
	for (i = 0; to && i < set->n; i++)
		if (!strcmp(set->migs[i].version, to))
			break;
	if (to && i == set->n)
		return 0; /* plan_build says so */
	for (i = 0; i < bs->n; i++)
		if (bs->b[i].flags & BK_BRIEF_BLOCKING)
			return 0;
	if (!briefs_meet_set(set, bs))
		return 0;
	flags = xcalloc(bs->n ? bs->n : 1, 1);
	for (i = 0; i < bs->n; i++)
		flags[i] = (bs->b[i].flags & BK_BRIEF_APPLIED ? ROW_APPLIED : 0) |
			   (bs->b[i].flags & BK_BRIEF_BASELINE ? ROW_BASELINE : 0);
	plan_current(p, bs->b, sizeof(*bs->b), bs->n, flags);
	free(flags);
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
			if (brief_ok && plan_quiet(&bp->p, set, &bp->briefs, o->to))
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

