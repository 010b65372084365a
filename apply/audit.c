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
#include "../lib/hexindex.h"
#include "../lib/sha256.h"
#include "engine.h"

/* "<length>:<bytes>\n" onto out (which has room: audit_encoded_len). */
static char *put_field(char *out, const char *s)
{
	char digits[24];
	size_t len = s ? strlen(s) : 0, n = 0;

	do
		digits[n++] = (char)('0' + len % 10);
	while ((len /= 10) > 0);
	while (n)
		*out++ = digits[--n];
	*out++ = ':';
	len = s ? strlen(s) : 0;
	memcpy(out, s ? s : "", len);
	out[len] = '\n';
	return out + len + 1;
}

#define AUDIT_NFIELDS 11

static void audit_fields(const struct audit_row *r, char seq[24], const char *f[AUDIT_NFIELDS])
{
	unsigned long long v = r->seq < 0 ? 0ULL - (unsigned long long)r->seq
					  : (unsigned long long)r->seq;
	char tmp[24];
	size_t n = 0, i = 0;

	do
		tmp[n++] = (char)('0' + v % 10);
	while ((v /= 10) > 0);
	if (r->seq < 0)
		seq[i++] = '-';
	while (n)
		seq[i++] = tmp[--n];
	seq[i] = '\0';
	f[0] = seq;
	f[1] = r->at;
	f[2] = r->actor;
	f[3] = r->action;
	f[4] = r->version;
	f[5] = r->from_version;
	f[6] = r->to_version;
	f[7] = r->bundle_id;
	f[8] = r->environment;
	f[9] = r->detail;
	f[10] = r->prev_hash;
}

/* The row's hash. The encoding is built whole and hashed in one update:
 * 34 small updates a row through OpenSSL's EVP layer, with a printf for
 * each length, were most of the cost of checking a chain of 5,000 rows on
 * every run (callgrind). 0, or -1 when hashing failed. */
int audit_hash_raw(const struct audit_row *r, unsigned char raw[32])
{
	const char *f[AUDIT_NFIELDS];
	char seq[24], small[2048], *enc = small, *p;
	size_t need = 15, i;
	struct sha256_ctx c;
	int rc = -1;

	audit_fields(r, seq, f);
	for (i = 0; i < AUDIT_NFIELDS; i++)
		need += (f[i] ? strlen(f[i]) : 0) + 24;
	if (need > sizeof(small))
		enc = xmalloc(need);
	memcpy(enc, "cairn-audit-v1\n", 15);
	p = enc + 15;
	for (i = 0; i < AUDIT_NFIELDS; i++)
		p = put_field(p, f[i]);
	if (sha256_init(&c) == 0) {
		if (sha256_update(&c, enc, (size_t)(p - enc)) == 0)
			rc = sha256_final_raw(&c, raw);
		else
			sha256_release(&c);
	}
	if (enc != small)
		free(enc);
	return rc;
}

/* The row's hash into hex ("" when hashing failed). */
void audit_hash_hex(const struct audit_row *r, char hex[SHA256_HEX_LEN + 1])
{
	unsigned char raw[32];

	if (audit_hash_raw(r, raw)) {
		hex[0] = '\0';
		return;
	}
	hex_encode(raw, sizeof(raw), hex);
	hex[SHA256_HEX_LEN] = '\0';
}

void audit_hash(struct audit_row *r)
{
	char hex[SHA256_HEX_LEN + 1];

	audit_hash_hex(r, hex);
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

void audit_index(struct hexindex *ix, const struct audit_row *rows, size_t n)
{
	size_t i;

	hexindex_init(ix, n);
	for (i = 0; i < n; i++)
		hexindex_add(ix, i, rows[i].hash);
}

const struct audit_row *audit_find(const struct hexindex *ix, const struct audit_row *rows,
				   const char *hash)
{
	size_t i = hexindex_first(ix, hash);

	return i ? &rows[i - 1] : NULL;
}

void audit_check_row(const struct audit_row *r, size_t i, const char *prev,
		     struct audit_problem **p, size_t *np, size_t *alloc)
{
	unsigned char stored[32];

	audit_check_parsed(r, i, prev, hexdigest_parse(r->hash, stored) == 0 ? stored : NULL, p,
			   np, alloc);
}

void audit_check_parsed(const struct audit_row *r, size_t i, const char *prev,
			const unsigned char *stored, struct audit_problem **p, size_t *np,
			size_t *alloc)
{
	unsigned char got[32];
	int hash_ok;

	/* on the digests: r->hash parses (stored) only when it is 64
	 * lowercase hex digits, the one text that equals the hash's hex */
	hash_ok = stored && audit_hash_raw(r, got) == 0 && !memcmp(got, stored, sizeof(got));
	if (r->seq != (long long)i + 1)
		problem(p, np, alloc, r->seq,
			xasprintf("row %lld: expected sequence number %zu: a row before it "
				  "was deleted or inserted", r->seq, i + 1));
	if (!r->prev_hash || strcmp(r->prev_hash, prev))
		problem(p, np, alloc, r->seq,
			xasprintf("row %lld: does not link to the row before it (its "
				  "prev_hash is %.16s..., the row before hashes to %.16s...): "
				  "a row was inserted, deleted or edited",
				  r->seq, r->prev_hash ? r->prev_hash : "", prev));
	if (!hash_ok)
		problem(p, np, alloc, r->seq,
			xasprintf("row %lld: its contents do not match its hash: the row "
				  "was edited", r->seq));
}

char *audit_anchor_problem(const struct bk_row *bk, int found)
{
	if (!bk->audit_hash || !*bk->audit_hash)
		return xasprintf("migration %s: its bookkeeping row names no audit row: "
				 "the row was written outside cairn-apply", bk->version);
	if (!found)
		return xasprintf("migration %s: the audit row that recorded its last change "
				 "(%.16s...) is missing: audit rows were deleted",
				 bk->version, bk->audit_hash);
	return NULL;
}

size_t audit_verify(const struct audit_row *rows, size_t n, const struct bk_row *bk,
		    size_t nbk, struct audit_problem **out)
{
	struct audit_problem *p = NULL;
	size_t np = 0, alloc = 0, i, j;
	const char *prev = AUDIT_ZERO_HASH;
	struct hexindex ix;

	for (i = 0; i < n; i++) {
		audit_check_row(&rows[i], i, prev, &p, &np, &alloc);
		prev = rows[i].hash ? rows[i].hash : "";
	}
	/* Anchors: every bookkeeping row names an audit row that must exist. */
	audit_index(&ix, rows, n);
	for (j = 0; j < nbk; j++) {
		const char *h = bk[j].audit_hash;
		char *msg = audit_anchor_problem(&bk[j], h && *h && audit_find(&ix, rows, h));

		if (msg)
			problem(&p, &np, &alloc, 0, msg);
	}
	hexindex_release(&ix);
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
