/* The driver registry: every driver the applier knows, found by DSN or name. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/error.h"
#include "../lib/hexindex.h"
#include "../lib/sha256.h"
#include "../lib/util.h"
#include "driver.h"

extern const struct driver driver_sqlite;
extern const struct driver driver_postgres;

/* A new driver adds one line here (and its source to DRIVER_SRC). */
static const struct driver *const drivers[] = {
	&driver_sqlite,
	&driver_postgres,
	NULL,
};

const struct driver *const *driver_list(void)
{
	return drivers;
}

const struct driver *driver_by_name(const char *name)
{
	size_t i;

	for (i = 0; drivers[i]; i++)
		if (!strcmp(drivers[i]->name, name))
			return drivers[i];
	return NULL;
}

const struct driver *driver_for_dsn(const char *dsn)
{
	size_t i;

	for (i = 0; drivers[i]; i++)
		if (drivers[i]->accepts(dsn))
			return drivers[i];
	/* Never echo the DSN: it may hold a password. */
	cairn_error_set("unsupported database: expected sqlite:PATH, postgres://..., "
			"postgresql://... or a libpq keyword string");
	return NULL;
}

void bk_row_release(struct bk_row *r)
{
	if (!r)
		return;
	if (r->strings) {
		free(r->strings);
	} else {
		free(r->version);
		free(r->name);
		free(r->checksum);
		free(r->state);
		free(r->bundle_id);
		free(r->environment);
		free(r->applied_at);
		free(r->applied_by);
		free(r->down_sql);
		free(r->kind);
		free(r->error);
		free(r->audit_hash);
	}
	memset(r, 0, sizeof(*r));
}

/* ---- the rows compact (rss14o, rss14p) ---- */

/* s as "sha256:" and 64 lowercase hex digits, into out: 0; -1 otherwise
 * (hex_decode takes lowercase digits only, so the text is exactly the
 * digest's hex_encode). */
static int digest_text(const char *s, unsigned char out[32])
{
	return s && !strncmp(s, "sha256:", 7) && hexdigest_parse(s + 7, out) == 0 ? 0 : -1;
}

/* s's number in bs->interned, added if new; -1 when the table is full. */
static int intern(struct bk_briefs *bs, const char *s)
{
	unsigned i;

	for (i = 0; i < bs->ninterned; i++)
		if (!strcmp(bs->interned[i], s))
			return (int)i;
	if (bs->ninterned == BK_BRIEF_INTERNED)
		return -1;
	bs->interned[bs->ninterned] = xstrdup(s);
	return (int)bs->ninterned++;
}

/* b's facts but its version from r: state, environment and kind interned
 * into bs. */
static void brief_fill(struct bk_briefs *bs, struct bk_brief *b, const struct bk_row *r)
{
	const char *text[4] = { r->state, r->environment, r->kind, r->bundle_id };
	unsigned char *code[4] = { &b->state, &b->env, &b->kind, &b->bundle_text };
	unsigned char d[32];
	int k, at;

	memset(b, 0, sizeof(*b));
	if (r->state && !strcmp(r->state, BK_APPLIED))
		b->flags |= BK_BRIEF_APPLIED;
	else if (r->state && (!strcmp(r->state, BK_FAILED) || !strcmp(r->state, BK_IN_PROGRESS)))
		b->flags |= BK_BRIEF_BLOCKING;
	if (r->kind && !strcmp(r->kind, "baseline"))
		b->flags |= BK_BRIEF_BASELINE;
	else if (r->kind && !strcmp(r->kind, "batch"))
		b->flags |= BK_BRIEF_BATCH;
	/* most rows have the bundle id of the row before: decoded and kept once */
	if (r->bundle_id && bs->nbundles && !strcmp(r->bundle_id, bs->bundle_seen)) {
		b->bundle = bs->nbundles - 1;
	} else if (digest_text(r->bundle_id, d)) {
		b->flags |= BK_BRIEF_BUNDLE_TEXT;
	} else {
		ALLOC_GROW(bs->bundles, bs->nbundles + 1, bs->bundles_alloc);
		memcpy(bs->bundles[bs->nbundles], d, 32);
		b->bundle = bs->nbundles++;
		memcpy(bs->bundle_seen, r->bundle_id, sizeof(bs->bundle_seen));
	}
	for (k = 0; k < (b->flags & BK_BRIEF_BUNDLE_TEXT ? 4 : 3); k++) {
		if ((at = intern(bs, text[k] ? text[k] : "")) < 0)
			b->flags |= BK_BRIEF_INEXACT;
		else
			*code[k] = (unsigned char)at;
	}
	if (digest_text(r->checksum, b->checksum)) {
		b->flags |= BK_BRIEF_CK_ODD | BK_BRIEF_INEXACT;
		memset(b->checksum, 0, 32);
	}
	if (hexdigest_parse(r->audit_hash, b->audit_hash)) {
		b->flags |= BK_BRIEF_HASH_ODD;
		memset(b->audit_hash, 0, 32);
	}
	/* the one sha256 of the down script in a run (books_facts's down=) */
	if (!r->down_sql)
		b->flags |= BK_BRIEF_DOWN_NONE;
	else if (sha256_raw(r->down_sql, strlen(r->down_sql), b->down))
		b->flags |= BK_BRIEF_INEXACT;
	if (r->irreversible)
		b->flags |= BK_BRIEF_IRREVERSIBLE;
	if (r->transactional)
		b->flags |= BK_BRIEF_TRANSACTIONAL;
}

void bk_briefs_add(struct bk_briefs *bs, const struct bk_row *r)
{
	const char *v = r->version ? r->version : "", *name = r->name ? r->name : "";
	size_t lv = strlen(v) + 1, ln = strlen(name) + 1;
	struct bk_brief *b;

	ALLOC_GROW(bs->b, bs->n + 1, bs->alloc);
	b = &bs->b[bs->n++];
	brief_fill(bs, b, r);
	ALLOC_GROW(bs->text, bs->len + lv + ln, bs->cap);
	memcpy(bs->text + bs->len, v, lv);
	memcpy(bs->text + bs->len + lv, name, ln);
	b->version = (const char *)(uintptr_t)bs->len; /* its offset, until bk_briefs_finish */
	bs->len += lv + ln;
}

void bk_briefs_finish(struct bk_briefs *bs)
{
	size_t i;

	ALLOC_SHRINK(bs->b, bs->n, bs->alloc);
	ALLOC_SHRINK(bs->text, bs->len, bs->cap);
	ALLOC_SHRINK(bs->bundles, bs->nbundles, bs->bundles_alloc);
	for (i = 0; i < bs->n; i++)
		bs->b[i].version = bs->text + (uintptr_t)bs->b[i].version;
}

void bk_briefs_release(struct bk_briefs *bs)
{
	unsigned i;

	if (!bs)
		return;
	free(bs->b);
	free(bs->text);
	free(bs->bundles);
	for (i = 0; i < bs->ninterned; i++)
		free(bs->interned[i]);
	memset(bs, 0, sizeof(*bs));
}

const char *bk_brief_name(const struct bk_brief *b)
{
	return b->version + strlen(b->version) + 1;
}

/* 1 when brief a of as and brief b of bs, whose version is at text, say
 * the same of their rows. */
static int brief_same(const struct bk_briefs *as, const struct bk_brief *a,
		      const struct bk_briefs *bs, const struct bk_brief *b, const char *text)
{
	return !strcmp(a->version, text) && !strcmp(bk_brief_name(a), text + strlen(text) + 1) &&
	       a->flags == b->flags && !(a->flags & BK_BRIEF_INEXACT) &&
	       !memcmp(a->checksum, b->checksum, 32) && !memcmp(a->audit_hash, b->audit_hash, 32) &&
	       !memcmp(a->down, b->down, 32) &&
	       (a->flags & BK_BRIEF_BUNDLE_TEXT ||
		!memcmp(as->bundles[a->bundle], bs->bundles[b->bundle], 32)) &&
	       !strcmp(as->interned[a->state], bs->interned[b->state]) &&
	       !strcmp(as->interned[a->env], bs->interned[b->env]) &&
	       !strcmp(as->interned[a->kind], bs->interned[b->kind]) &&
	       (!(a->flags & BK_BRIEF_BUNDLE_TEXT) ||
		!strcmp(as->interned[a->bundle_text], bs->interned[b->bundle_text]));
}

int bk_briefs_match(const struct bk_briefs *bs, const struct bk_row *rows, size_t n)
{
	struct bk_briefs now;
	size_t i;
	int same = bs->n == n;

	memset(&now, 0, sizeof(now));
	for (i = 0; same && i < n; i++) {
		now.n = now.len = 0;
		bk_briefs_add(&now, &rows[i]);
		same = brief_same(bs, &bs->b[i], &now, &now.b[0], now.text);
	}
	bk_briefs_release(&now);
	return same;
}

static int cmp_bk_row(const void *a, const void *b)
{
	return version_cmp(((const struct bk_row *)a)->version, ((const struct bk_row *)b)->version);
}

void bk_rows_sort(struct bk_row *rows, size_t n)
{
	if (n > 1)
		qsort(rows, n, sizeof(*rows), cmp_bk_row);
}

void bk_rows_free(struct bk_row *rows, size_t n)
{
	size_t i;

	for (i = 0; rows && i < n; i++)
		bk_row_release(&rows[i]);
	free(rows);
}

void audit_row_release(struct audit_row *r)
{
	if (!r)
		return;
	if (r->strings) {
		free(r->strings);
		memset(r, 0, sizeof(*r));
		return;
	}
	free(r->at);
	free(r->actor);
	free(r->action);
	free(r->version);
	free(r->from_version);
	free(r->to_version);
	free(r->bundle_id);
	free(r->environment);
	free(r->detail);
	free(r->prev_hash);
	free(r->hash);
	memset(r, 0, sizeof(*r));
}

void audit_rows_free(struct audit_row *rows, size_t n)
{
	size_t i;

	for (i = 0; rows && i < n; i++)
		audit_row_release(&rows[i]);
	free(rows);
}

void driver_error_format(const struct driver_error *e, char *buf, size_t len)
{
	int n;

	n = snprintf(buf, len, "%s%s%s", e->code[0] ? e->code : "", e->code[0] ? ": " : "",
		     e->message[0] ? e->message : "unknown error");
	if (n < 0 || (size_t)n >= len)
		return; /* cut: the message is still one readable line */
	if (e->detail[0] || e->hint[0])
		snprintf(buf + n, len - (size_t)n, " (%s%s%s)", e->detail,
			 e->detail[0] && e->hint[0] ? "; hint: " : (e->hint[0] ? "hint: " : ""),
			 e->hint);
}

void driver_rows_release(struct driver_rows *r)
{
	size_t i;

	if (!r)
		return;
	for (i = 0; r->cells && i < r->nrows * r->ncols; i++)
		free(r->cells[i]);
	free(r->cells);
	memset(r, 0, sizeof(*r));
}
