/* Strings that hold sha256 digests in hex (the audit chain's row hashes,
 * the books' anchors), found by their 32 bytes in a hash table instead of
 * by strcmp in a sorted array: at 5,000 migrations the anchor search was
 * 130,000 strcmp calls through pointers to scattered rows, 4 % of a
 * nothing-pending apply (perf, branch perf14e).
 *
 * A lookup finds exactly the items whose string is equal to the key, as
 * strcmp did: only 64 lowercase hex digits are parsed (hexdigest_parse),
 * so "ABC..." never finds "abc..."; any other non-empty string is kept
 * aside and compared as text. Empty and NULL strings are never found. */
#ifndef CAIRN_HEXINDEX_H
#define CAIRN_HEXINDEX_H

#include <stddef.h>
#include <stdint.h>

/* s is exactly 64 lowercase hex digits: their 32 bytes into out, 0; else -1. */
int hexdigest_parse(const char *s, unsigned char out[32]);

struct hexindex {
	size_t n, cap;                /* items added; of at most cap */
	size_t mask;                  /* table size - 1 (a power of two) */
	unsigned char (*key)[32];     /* each item's digest */
	uint32_t *slot;               /* table: 1 + the first item of a digest, 0: empty */
	uint32_t *next;               /* 1 + the next item of the same key, 0: none
				       * (32 bits: 0.34 MB less at 20,000 items; rss14p) */
	const unsigned char *at;      /* hexindex_init_at: the digests, not key */
	size_t at_stride;
	const char **odd;             /* items whose string is no digest: the string */
	size_t *odd_item, nodd;
};

/* Room for up to n items, the index empty. */
void hexindex_init(struct hexindex *ix, size_t n);
/* Item i (from 0, each once, i < n of init) has string s. Items of the
 * same string are found in the order they were added. */
void hexindex_add(struct hexindex *ix, size_t i, const char *s);
/* An index over digests the caller holds (rss14o: the books' briefs keep
 * theirs): item i's 32 bytes at keys + i * stride, which must stay put
 * until the index is released; items are added with hexindex_add_at, in
 * any order, each once, and found as hexindex_add's are. */
void hexindex_init_at(struct hexindex *ix, size_t n, const unsigned char *keys, size_t stride);
void hexindex_add_at(struct hexindex *ix, size_t i);
/* The first item whose string is s, and the one after item i: the
 * item's number + 1, or 0 when there is none. */
size_t hexindex_first(const struct hexindex *ix, const char *s);
size_t hexindex_next(const struct hexindex *ix, size_t i);
/* hexindex_first for a caller that parsed s already: d is its digest, or
 * NULL when hexdigest_parse refused it. */
size_t hexindex_first_parsed(const struct hexindex *ix, const char *s, const unsigned char *d);
void hexindex_release(struct hexindex *ix);

#endif
