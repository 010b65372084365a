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

void bk_facts_parts(const struct bk_row *r, char down[72], const char *part[BK_FACTS_PARTS])
{
	if (r->down_sql) {
		char hex[SHA256_HEX_LEN + 1];

		if (sha256_hex(r->down_sql, strlen(r->down_sql), hex))
			down[0] = '\0';
		else {
			memcpy(down, "sha256:", 7);
			memcpy(down + 7, hex, SHA256_HEX_LEN + 1);
		}
	} else {
		memcpy(down, "none", 5);
	}
	part[0] = " facts{state=";
	part[1] = r->state ? r->state : "";
	part[2] = ";checksum=";
	part[3] = r->checksum ? r->checksum : "";
	part[4] = ";down=";
	part[5] = down;
	part[6] = ";bundle=";
	part[7] = r->bundle_id ? r->bundle_id : "";
	part[8] = ";env=";
	part[9] = r->environment ? r->environment : "";
	part[10] = ";name=";
	part[11] = r->name ? r->name : "";
	part[12] = ";kind=";
	part[13] = r->kind ? r->kind : "";
	part[14] = ";irreversible=";
	part[15] = r->irreversible ? "1" : "0";
	part[16] = ";transactional=";
	part[17] = r->transactional ? "1" : "0";
}

/* ---- the rows compact (rss14o) ---- */

/* The sha256 of r's facts text, "}" included (books_facts's bytes); zeros
 * when it cannot be computed, which no recorded text's digest equals. */
static void facts_digest(const struct bk_row *r, unsigned char out[32])
{
	char down[72], stack[1024], *text = stack;
	const char *part[BK_FACTS_PARTS];
	size_t len[BK_FACTS_PARTS], total = 1, at = 0;
	struct sha256_ctx c;
	int i;

	memset(out, 0, 32);
	bk_facts_parts(r, down, part);
	for (i = 0; i < BK_FACTS_PARTS; i++)
		total += len[i] = strlen(part[i]);
	/* one update of the text joined: each update through EVP costs more
	 * than hashing a short piece (callgrind) */
	if (total > sizeof(stack))
		text = xmalloc(total);
	for (i = 0; i < BK_FACTS_PARTS; i++) {
		memcpy(text + at, part[i], len[i]);
		at += len[i];
	}
	text[at++] = '}';
	if (sha256_init(&c) == 0) {
		if (sha256_update(&c, text, at))
			sha256_release(&c);
		else if (sha256_final_raw(&c, out))
			memset(out, 0, 32);
	}
	if (text != stack)
		free(text);
}

void bk_brief_fill(struct bk_brief *b, const struct bk_row *r)
{
	const char *ck = r->checksum ? r->checksum : "";

	memset(b, 0, sizeof(*b));
	b->version = r->version;
	if (r->state && !strcmp(r->state, BK_APPLIED))
		b->flags |= BK_BRIEF_APPLIED;
	else if (r->state && (!strcmp(r->state, BK_FAILED) || !strcmp(r->state, BK_IN_PROGRESS)))
		b->flags |= BK_BRIEF_BLOCKING;
	if (r->kind && !strcmp(r->kind, "baseline"))
		b->flags |= BK_BRIEF_BASELINE;
	else if (r->kind && !strcmp(r->kind, "batch"))
		b->flags |= BK_BRIEF_BATCH;
	if (strncmp(ck, "sha256:", 7) || hexdigest_parse(ck + 7, b->checksum)) {
		b->flags |= BK_BRIEF_CK_ODD;
		memset(b->checksum, 0, 32);
	}
	if (!r->audit_hash || hexdigest_parse(r->audit_hash, b->audit_hash)) {
		b->flags |= BK_BRIEF_HASH_ODD;
		memset(b->audit_hash, 0, 32);
	}
	facts_digest(r, b->facts);
}

void bk_briefs_add(struct bk_briefs *bs, const struct bk_row *r)
{
	const char *v = r->version ? r->version : "";
	size_t len = strlen(v) + 1;
	struct bk_brief *b;

	ALLOC_GROW(bs->b, bs->n + 1, bs->alloc);
	b = &bs->b[bs->n++];
	bk_brief_fill(b, r);
	ALLOC_GROW(bs->text, bs->len + len, bs->cap);
	memcpy(bs->text + bs->len, v, len);
	b->version = (const char *)(uintptr_t)bs->len; /* its offset, until bk_briefs_finish */
	bs->len += len;
}

void bk_briefs_finish(struct bk_briefs *bs)
{
	size_t i;

	ALLOC_SHRINK(bs->b, bs->n, bs->alloc);
	ALLOC_SHRINK(bs->text, bs->len, bs->cap);
	for (i = 0; i < bs->n; i++)
		bs->b[i].version = bs->text + (uintptr_t)bs->b[i].version;
}

void bk_briefs_release(struct bk_briefs *bs)
{
	if (!bs)
		return;
	free(bs->b);
	free(bs->text);
	memset(bs, 0, sizeof(*bs));
}

int bk_briefs_match(const struct bk_briefs *bs, const struct bk_row *rows, size_t n)
{
	struct bk_brief b;
	size_t i;

	if (bs->n != n)
		return 0;
	for (i = 0; i < n; i++) {
		const struct bk_brief *a = &bs->b[i];

		bk_brief_fill(&b, &rows[i]);
		if (strcmp(a->version, rows[i].version ? rows[i].version : "") || a->flags != b.flags ||
		    memcmp(a->checksum, b.checksum, 32) || memcmp(a->audit_hash, b.audit_hash, 32) ||
		    memcmp(a->facts, b.facts, 32))
			return 0;
	}
	return 1;
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
