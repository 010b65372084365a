/* Adding signed statements (approvals, receipts, overrides) to a bundle
 * that verify/ has opened: the tarball is rewritten, reproducibly, with
 * every member it had and the new statement pairs. No key material here:
 * the caller brings statements already signed, so the applier can link this
 * to attach its receipt without linking any other signing code. */
#ifndef CAIRN_BUNDLE_APPEND_H
#define CAIRN_BUNDLE_APPEND_H

#include <stddef.h>

#include "../lib/buf.h"
#include "../verify/bundle.h"

/* One statement and its signature, named by statement_member_base(). */
struct stmt_pair {
	char *base;          /* "approvals/prod-9f06..." (no .yaml/.sig) */
	struct buf yaml;     /* the statement's exact bytes */
	struct buf sig;      /* base64 signature and "\n" */
};

void stmt_pair_release(struct stmt_pair *p);

/* Writes b with the pairs added to out_path (b->path: replaced atomically).
 * A pair named like one already in the bundle replaces it. */
int bundle_append_statements(struct bundle *b, const char *out_path,
			     const struct stmt_pair *pairs, size_t n);

/* Writes b without the statements (and their signatures) signed by key_id
 * to out_path; *removed is how many went. The manifest, and so the bundle
 * id, is untouched. */
int bundle_strip_statements(struct bundle *b, const char *out_path, const char *key_id,
			    size_t *removed);

#endif
