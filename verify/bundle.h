/* Reading and checking a bundle: the contract between verify/ (which
 * implements it, issue #4) and the applier (which consumes it, #5 and #6).
 * Shared by `cairn verify` and `cairn-apply verify`, so the two can never
 * disagree.
 *
 * bundle_open() authenticates before it parses: it checks the manifest's
 * signature(s) against the trusted keys first, hashes every member while
 * reading it and compares with SHA256SUMS/manifest, and only then parses the
 * manifest YAML. A bundle that fails any check is never returned. Text
 * members are kept in memory after the check up to BUNDLE_TEXT_KEEP in all;
 * data files and the text beyond that are streamed again on demand and
 * re-hashed (bundle_stream), so memory stays bounded whatever the bundle
 * carries. */
#ifndef CAIRN_BUNDLE_H
#define CAIRN_BUNDLE_H

#include <stddef.h>

#include "../lib/buf.h"
#include "bundle-types.h"
#include "keys.h"

/* Keys the caller trusts (PEM public keys), by role. */
struct trust;
struct trust *trust_new(void);
int trust_add_builder_key(struct trust *t, const char *pem_path);
void trust_free(struct trust *t);
/* added: roles for the statement types (#7 builds on these). */
#define TRUST_BUILD    1
#define TRUST_APPROVAL 2
#define TRUST_RECEIPT  4
#define TRUST_OVERRIDE 8
int trust_add_key(struct trust *t, unsigned roles, const char *pem_path);
/* The key with that id trusted for one of roles, or NULL. */
const struct pubkey *trust_find(const struct trust *t, const char *key_id, unsigned roles);
size_t trust_count(const struct trust *t, unsigned roles);
/* The ids of the keys trusted for one of roles, ", "-separated, as many
 * as fit in out. */
void trust_list_ids(const struct trust *t, unsigned roles, char *out, size_t size);
unsigned trust_role_of_type(const char *statement_type);

/* Opens and verifies path. With trust == NULL nothing is trusted and the
 * bundle is refused (no build signature by a trusted key). Returns 0, or -1
 * with the error set to a one-line message naming the member and the rule;
 * *out is NULL then. */
int bundle_open(struct bundle **out, const char *path, const struct trust *trust);
void bundle_free(struct bundle *b);

/* added: bundle_open with options. */
#define BUNDLE_TEXT_CAP (64ULL << 20)   /* any member but data/: kept in memory */
#define BUNDLE_DATA_CAP (1ULL << 40)    /* a data/ member: streamed */
#define BUNDLE_TEXT_TOTAL_CAP (1ULL << 30) /* all members but data/, together */
/* Text members held in memory after their check, together: the first ones
 * up to this much; the others are hashed as they stream by, like data/
 * members, and read again (and hashed again) when asked for, so verifying
 * or applying any bundle holds at most this much of its text (issue #15). */
#define BUNDLE_TEXT_KEEP (16ULL << 20)
struct bundle_open_opts {
	/* Integrity only: every check but "a build signature by a trusted
	 * key" (cairn inspect, cairn sign). Statements still say whether
	 * they are valid and trusted. */
	int untrusted;
	unsigned long long text_cap, data_cap; /* 0: the defaults above */
	unsigned long long text_keep;          /* 0: BUNDLE_TEXT_KEEP */
	/* The raw manifest.yaml is not kept once parsed and checked: a caller
	 * that never writes the bundle again (bundle_manifest_bytes is then
	 * empty). 3.6 MB at 5,000 migrations, 14 MB at 20,000. */
	int drop_manifest_bytes;
	/* An unchanged bundle file (issue #14): called with NULL, whether any
	 * file would do (> 0); then, once the statements are authenticated,
	 * with the file's sha256 (hex): > 0 when the caller knows a file of
	 * those bytes was verified whole before. The migration members are
	 * then not read until one is asked for (bundle_read, bundle_stream),
	 * and then all of them, with every check. */
	int (*known_file)(void *ctx, const char *sha256_hex);
	void *known_ctx;
	/* The trusted keys are still being loaded (by the caller, beside the
	 * reading): called once the head is read, before trust is first
	 * used; 0 when they are in, or -1 with the error set (the open
	 * fails). */
	int (*trust_ready)(void *ctx);
	void *trust_ctx;
};
int bundle_open_opts(struct bundle **out, const char *path, const struct trust *trust,
		     const struct bundle_open_opts *opts);
/* 1 when the bundle was opened as an unchanged file whose migration
 * members have not been read (known_file): what was checked of them
 * before needs no checking again until one is read. */
int bundle_members_checked_before(const struct bundle *b);
/* 1 when an apply's open (drop_manifest_bytes) parsed the manifest as it
 * was read, on the canonical fast path; 0 when it read it again whole
 * for the general parser (not in the canonical form), or kept it whole.
 * For tests and benchmarks. */
int bundle_manifest_streamed(const struct bundle *b);

/* The raw bytes of manifest.yaml and of a statement pair kept by the
 * reader (for cairn sign, which rewrites the tarball). */
const struct buf *bundle_manifest_bytes(const struct bundle *b);
const struct buf *bundle_sums_bytes(const struct bundle *b);
int bundle_statement_bytes(const struct bundle *b, size_t i, const struct buf **yaml,
			   const struct buf **sig);

/* The migration's file for role ("up", "down", "verify") on driver: the
 * driver's variant (up.postgres.sql) when present, else the generic file,
 * else NULL. */
const struct bundle_file *bundle_migration_file(const struct bundle_migration *m,
						const char *role, const char *driver);
/* Every file the bundle carries but its statements (the migrations',
 * then the callbacks'), in member order: an array the caller frees, *n
 * entries pointing into b. */
const struct bundle_file **bundle_files_sorted(const struct bundle *b, size_t *n);

/* A verified member's bytes (SQL, YAML: kept after the check up to
 * BUNDLE_TEXT_KEEP, else read again from the file and hashed again). */
int bundle_read(struct bundle *b, const struct bundle_file *f, struct buf *out);
/* 1 when a text member held a NUL byte as it was verified, 0 when not, -1
 * (error set) when it is not in the bundle. Its bytes, read again, must hash
 * to the same sha256, so the answer holds for them. */
int bundle_member_has_nul(struct bundle *b, const struct bundle_file *f);
/* Streams a member (a large data file) through cb in chunks, re-hashing as it
 * goes; returns -1 when the bytes no longer match the manifest (the caller
 * rolls back) or cb returns non-zero. */
int bundle_stream(struct bundle *b, const struct bundle_file *f,
		  int (*cb)(void *ctx, const void *data, size_t len), void *ctx);

#endif
