/* Names to positions in O(1) each, for the targets of a fleet and the
 * lines of its result files: a fleet of 100,000 targets is looked up
 * 100,000 times (--resume, fleet-merge, report), which a scan of the list
 * made quadratic. Open addressing over the name's FNV-1a hash; the table
 * stores positions, the caller the names. */
#ifndef CAIRN_FLEET_INDEX_H
#define CAIRN_FLEET_INDEX_H

#include <stddef.h>
#include <stdint.h>

/* FNV-1a, 64 bits, of the name's bytes: also what --shard takes modulo N. */
uint64_t fleet_name_hash(const char *name);

struct fleet_index_slot {
	uint64_t hash;
	size_t pos1;           /* position + 1; 0: empty */
};

struct fleet_index {
	struct fleet_index_slot *slots;
	size_t cap, n;         /* cap: a power of two, at least twice n */
};

/* The name at a position, for the comparisons a hash cannot settle. */
typedef const char *(*fleet_name_at)(const void *ctx, size_t pos);

void fleet_index_release(struct fleet_index *x);
/* The position of name, or (size_t)-1. */
size_t fleet_index_find(const struct fleet_index *x, const char *name, fleet_name_at at,
			const void *ctx);
/* Records name at pos (a name not in the index yet). */
void fleet_index_add(struct fleet_index *x, const char *name, size_t pos);

#endif
