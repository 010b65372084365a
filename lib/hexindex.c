/* Finding strings of sha256 hex by their bytes: see hexindex.h. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "hexindex.h"
#include "sha256.h"

int hexdigest_parse(const char *s, unsigned char out[32])
{
	return s && hex_decode(s, 32, out) == 0 && s[64] == '\0' ? 0 : -1;
}

/* The table for n items, the keys not yet anywhere. */
static void init_table(struct hexindex *ix, size_t n)
{
	size_t size = 16;

	memset(ix, 0, sizeof(*ix));
	while (size < 2 * n) /* at most half full */
		size *= 2;
	/* items past UINT32_MAX - 1 (never near) are not added, so never found */
	ix->cap = n < UINT32_MAX - 1 ? n : UINT32_MAX - 1;
	ix->mask = size - 1;
	ix->slot = xcalloc(size, sizeof(*ix->slot));
	ix->next = xcalloc(n ? n : 1, sizeof(*ix->next));
}

void hexindex_init(struct hexindex *ix, size_t n)
{
	init_table(ix, n);
	ix->key = xcalloc(n ? n : 1, sizeof(*ix->key));
}

/* Item i's digest: in the index's own keys, or the caller's (hexindex_init_at). */
static const unsigned char *key_of(const struct hexindex *ix, size_t i)
{
	return ix->at ? ix->at + i * ix->at_stride : ix->key[i];
}

void hexindex_init_at(struct hexindex *ix, size_t n, const unsigned char *keys, size_t stride)
{
	init_table(ix, n);
	ix->at = keys;
	ix->at_stride = stride;
}

/* Where a digest's chain starts, or the empty slot where it would. The
 * digests are sha256 outputs (or text an attacker with write access to
 * the books chose: then only the lookups get slower), so their first bytes
 * are the hash. */
static uint32_t *find_slot(const struct hexindex *ix, const unsigned char d[32])
{
	uint64_t h;
	size_t at;

	memcpy(&h, d, sizeof(h));
	for (at = (size_t)h & ix->mask;; at = (at + 1) & ix->mask) {
		uint32_t *s = &ix->slot[at];

		if (!*s || !memcmp(key_of(ix, *s - 1), d, 32))
			return s;
	}
}

/* The last item of the chain that starts at item (+ 1) head. */
static size_t chain_tail(const struct hexindex *ix, size_t head)
{
	while (ix->next[head - 1])
		head = ix->next[head - 1];
	return head;
}

/* Item i, whose digest key_of holds, into the table. */
static void add_key(struct hexindex *ix, size_t i)
{
	uint32_t *slot = find_slot(ix, key_of(ix, i));

	if (*slot)
		ix->next[chain_tail(ix, *slot) - 1] = (uint32_t)(i + 1);
	else
		*slot = (uint32_t)(i + 1);
}

void hexindex_add_at(struct hexindex *ix, size_t i)
{
	if (!ix->at || i >= ix->cap)
		return;
	ix->n++;
	add_key(ix, i);
}

void hexindex_add(struct hexindex *ix, size_t i, const char *s)
{
	size_t j;

	if (!s || !*s || i >= ix->cap)
		return;
	ix->n++;
	if (hexdigest_parse(s, ix->key[i]) == 0) {
		add_key(ix, i);
		return;
	}
	/* text that no digest equals: rare (never written by cairn-apply) */
	for (j = 0; j < ix->nodd; j++)
		if (!strcmp(ix->odd[j], s)) {
			ix->next[chain_tail(ix, ix->odd_item[j] + 1) - 1] = (uint32_t)(i + 1);
			return;
		}
	ix->odd = xrealloc(ix->odd, (ix->nodd + 1) * sizeof(*ix->odd));
	ix->odd_item = xrealloc(ix->odd_item, (ix->nodd + 1) * sizeof(*ix->odd_item));
	ix->odd[ix->nodd] = s;
	ix->odd_item[ix->nodd++] = i;
}

size_t hexindex_first(const struct hexindex *ix, const char *s)
{
	unsigned char d[32];

	return hexindex_first_parsed(ix, s, hexdigest_parse(s, d) == 0 ? d : NULL);
}

size_t hexindex_first_parsed(const struct hexindex *ix, const char *s, const unsigned char *d)
{
	size_t j;

	if (!s || !*s || !ix->slot)
		return 0;
	if (d)
		return *find_slot(ix, d);
	for (j = 0; j < ix->nodd; j++)
		if (!strcmp(ix->odd[j], s))
			return ix->odd_item[j] + 1;
	return 0;
}

size_t hexindex_next(const struct hexindex *ix, size_t i)
{
	return i && i <= ix->cap ? ix->next[i - 1] : 0;
}

void hexindex_release(struct hexindex *ix)
{
	if (!ix)
		return;
	free(ix->slot);
	free(ix->key);
	free(ix->next);
	free(ix->odd);
	free(ix->odd_item);
	memset(ix, 0, sizeof(*ix));
}
