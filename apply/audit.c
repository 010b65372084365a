/* The audit chain: each cairn_audit row holds the hash of the row before it,
 * and its own hash covers every field and that link. An edited row no longer
 * matches its hash; an inserted or deleted row breaks a link or the run of
 * sequence numbers. Deleting the newest rows leaves a valid shorter chain, so
 * each cairn_migrations row also names the hash of the audit row that last
 * changed it (audit_hash): a head cut off is missed by the rows it anchored.
 *
 * The hash is sha256 over "cairn-audit-v1\n" and each field as
 * "<length>:<bytes>\n", in the order of struct audit_row, then prev_hash:
 * length prefixes make the encoding unambiguous whatever the fields hold. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/error.h"
#include "../lib/sha256.h"
#include "engine.h"

static void put_field(struct sha256_ctx *c, const char *s)
{
	char len[32];

	if (!s)
		s = "";
	snprintf(len, sizeof(len), "%zu:", strlen(s));
	sha256_update(c, len, strlen(len));
	sha256_update(c, s, strlen(s));
	sha256_update(c, "\n", 1);
}

void audit_hash(struct audit_row *r)
{
	struct sha256_ctx c;
	char seq[32], hex[SHA256_HEX_LEN + 1];

	if (sha256_init(&c))
		hex[0] = '\0';
	else {
		sha256_update(&c, "cairn-audit-v1\n", 15);
		snprintf(seq, sizeof(seq), "%lld", r->seq);
		put_field(&c, seq);
		put_field(&c, r->at);
		put_field(&c, r->actor);
		put_field(&c, r->action);
		put_field(&c, r->version);
		put_field(&c, r->from_version);
		put_field(&c, r->to_version);
		put_field(&c, r->bundle_id);
		put_field(&c, r->environment);
		put_field(&c, r->detail);
		put_field(&c, r->prev_hash);
		if (sha256_final_hex(&c, hex))
			hex[0] = '\0';
	}
	free(r->hash);
	r->hash = xstrdup(hex);
}

static void problem(struct audit_problem **p, size_t *n, size_t *alloc, long long seq,
		    char *msg)
{
	ALLOC_GROW(*p, *n + 1, *alloc);
	(*p)[*n].seq = seq;
	(*p)[*n].message = msg;
	(*n)++;
}

static int cmp_hash(const void *a, const void *b)
{
	const struct audit_row *x = *(const struct audit_row *const *)a;
	const struct audit_row *y = *(const struct audit_row *const *)b;

	return strcmp(x->hash ? x->hash : "", y->hash ? y->hash : "");
}

const struct audit_row **audit_index(const struct audit_row *rows, size_t n)
{
	const struct audit_row **ix = xcalloc(n ? n : 1, sizeof(*ix));
	size_t i;

	for (i = 0; i < n; i++)
		ix[i] = &rows[i];
	qsort(ix, n, sizeof(*ix), cmp_hash);
	return ix;
}

const struct audit_row *audit_find(const struct audit_row *const *index, size_t n,
				   const char *hash)
{
	size_t lo = 0, hi = n;

	while (hash && lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(hash, index[mid]->hash ? index[mid]->hash : "");

		if (!c)
			return index[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

size_t audit_verify(const struct audit_row *rows, size_t n, const struct bk_row *bk,
		    size_t nbk, struct audit_problem **out)
{
	struct audit_problem *p = NULL;
	size_t np = 0, alloc = 0, i, j;
	const char *prev = AUDIT_ZERO_HASH;
	const struct audit_row **ix;

	for (i = 0; i < n; i++) {
		const struct audit_row *r = &rows[i];
		struct audit_row copy = *r;
		int hash_ok;

		copy.hash = NULL;
		audit_hash(&copy);
		hash_ok = r->hash && !strcmp(copy.hash, r->hash);
		free(copy.hash);
		if (r->seq != (long long)i + 1)
			problem(&p, &np, &alloc, r->seq,
				xasprintf("row %lld: expected sequence number %zu: a row before it "
					  "was deleted or inserted", r->seq, i + 1));
		if (!r->prev_hash || strcmp(r->prev_hash, prev))
			problem(&p, &np, &alloc, r->seq,
				xasprintf("row %lld: does not link to the row before it (its "
					  "prev_hash is %.16s..., the row before hashes to %.16s...): "
					  "a row was inserted, deleted or edited",
					  r->seq, r->prev_hash ? r->prev_hash : "", prev));
		if (!hash_ok)
			problem(&p, &np, &alloc, r->seq,
				xasprintf("row %lld: its contents do not match its hash: the row "
					  "was edited", r->seq));
		prev = r->hash ? r->hash : "";
	}
	/* Anchors: every bookkeeping row names an audit row that must exist. */
	ix = audit_index(rows, n);
	for (j = 0; j < nbk; j++) {
		const char *h = bk[j].audit_hash;
		int found;

		if (!h || !*h) {
			problem(&p, &np, &alloc, 0,
				xasprintf("migration %s: its bookkeeping row names no audit row: "
					  "the row was written outside cairn-apply", bk[j].version));
			continue;
		}
		found = audit_find(ix, n, h) != NULL;
		if (!found)
			problem(&p, &np, &alloc, 0,
				xasprintf("migration %s: the audit row that recorded its last change "
					  "(%.16s...) is missing: audit rows were deleted",
					  bk[j].version, h));
	}
	free(ix);
	*out = p;
	return np;
}

void audit_problems_free(struct audit_problem *p, size_t n)
{
	size_t i;

	for (i = 0; p && i < n; i++)
		free(p[i].message);
	free(p);
}
