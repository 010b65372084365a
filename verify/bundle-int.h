/* What bundle.c (opening and checking a bundle) and bundle-read.c (its
 * members handed out afterwards) share; private to verify/. */
#ifndef CAIRN_BUNDLE_INT_H
#define CAIRN_BUNDLE_INT_H

#include "../lib/buf.h"
#include "../lib/pool.h"
#include "archive.h"
#include "manifest.h"

struct kept {
	const char *name;           /* member name: its SHA256SUMS entry's path */
	const char *data;           /* text members: the verified bytes (in kept_bytes) */
	size_t len;
	unsigned long long size;    /* bytes read */
	int is_data;                /* a data/ member: streamed, not kept */
	int streamed;               /* a text member past BUNDLE_TEXT_KEEP: not kept either */
	int has_nul;                /* a text member with a NUL byte (not SQL) */
};

struct pair {
	char *base;                 /* "signatures/<keyid>" or "approvals/<env>-<keyid>" */
	struct buf yaml, sig;
	int have_yaml, have_sig;
};

/* manifest.yaml as read by an apply, which never writes the bundle again
 * (drop_manifest_bytes): in pieces, each freed once the parse is past it. */
struct mpiece {
	struct mpiece *next;
	size_t len, cap;
	char data[];
};

struct bundle_priv {
	struct buf manifest, sums_raw;
	struct mpiece *mhead, *mtail; /* the pieces not parsed yet */
	int mgiven;                 /* mhead was handed to the parse */
	size_t msize;               /* the pieces' bytes in all */
	struct sums sums;
	struct kept *members;       /* the migration members, in SHA256SUMS order */
	size_t nmembers;
	struct pair *pairs;
	size_t npairs, pairs_alloc;
	unsigned long long text_cap, data_cap, text_keep;
	unsigned long long kept;    /* bytes of text members read (BUNDLE_TEXT_TOTAL_CAP) */
	unsigned long long held;    /* of which held in memory (BUNDLE_TEXT_KEEP) */
	/* The text members' bytes: 10,000 members of a 5,000-migration
	 * bundle were as many mallocs and frees, ~1 ms of a nothing-pending
	 * apply. */
	struct pool_block *kept_bytes;
	size_t next;                /* the next SHA256SUMS entry a member must be */
	/* An unchanged file (file_known): the reader stopped before the
	 * first migration member, which it has read (paused_m), until a
	 * member is asked for. broken: why reading on failed. */
	struct breader *paused;
	int sums_dropped;           /* sums freed once cross_check passed (bundle.c: sums_drop) */
	/* the manifest's parse found its files equal to sums's entries, in
	 * order, as it went (manifest_parse_canonical_sums): cross_check has
	 * only the sizes left to compare */
	int sums_matched;
	struct bmember paused_m;
	char *broken;
	/* Members read again (data, text not kept): the reader is kept where
	 * the last one ended, since the engine asks for them in the archive's
	 * order; cursor_after names that member. */
	struct breader *cursor;
	char *cursor_after;
};

/* A bundle opened as an unchanged file, read on to its end as
 * bundle_open_opts would have (bundle.c); 0, or -1 with the error set. */
int bundle_resume(struct bundle *b);

/* bundle-cross.c: the manifest's files (the migrations', then the
 * callbacks') in SHA256SUMS's order, an array the caller frees; and the
 * cross-check of the manifest, SHA256SUMS and the members read (top: the
 * archive's top directory; drop: SHA256SUMS is freed once found equal).
 * 0, or -1 with the error set. */
const struct bundle_file **bundle_files_sums_order(const struct bundle *b, size_t *n);
int bundle_cross_check(struct bundle *b, const char *top, int drop);

#endif
