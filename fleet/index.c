/* Names to positions: open addressing over FNV-1a, linear probing. */
#include <stdlib.h>
#include <string.h>

#include "../lib/error.h"
#include "index.h"

uint64_t fleet_name_hash(const char *name)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	const unsigned char *p;

	for (p = (const unsigned char *)name; *p; p++) {
		h ^= *p;
		h *= 0x100000001b3ULL;
	}
	return h;
}

void fleet_index_release(struct fleet_index *x)
{
	if (!x)
		return;
	free(x->slots);
	memset(x, 0, sizeof(*x));
}

static void put(struct fleet_index_slot *slots, size_t cap, uint64_t h, size_t pos1)
{
	size_t i = (size_t)h & (cap - 1);

	while (slots[i].pos1)
		i = (i + 1) & (cap - 1);
	slots[i].hash = h;
	slots[i].pos1 = pos1;
}

size_t fleet_index_find(const struct fleet_index *x, const char *name, fleet_name_at at,
			const void *ctx)
{
	uint64_t h;
	size_t i;

	if (!x->n)
		return (size_t)-1;
	h = fleet_name_hash(name);
	for (i = (size_t)h & (x->cap - 1); x->slots[i].pos1; i = (i + 1) & (x->cap - 1))
		if (x->slots[i].hash == h && !strcmp(at(ctx, x->slots[i].pos1 - 1), name))
			return x->slots[i].pos1 - 1;
	return (size_t)-1;
}

void fleet_index_add(struct fleet_index *x, const char *name, size_t pos)
{
	if (2 * (x->n + 1) > x->cap) {
		size_t cap = x->cap ? 2 * x->cap : 64, i;
		struct fleet_index_slot *slots = xcalloc(cap, sizeof(*slots));

		for (i = 0; i < x->cap; i++)
			if (x->slots[i].pos1)
				put(slots, cap, x->slots[i].hash, x->slots[i].pos1);
		free(x->slots);
		x->slots = slots;
		x->cap = cap;
	}
	put(x->slots, x->cap, fleet_name_hash(name), pos + 1);
	x->n++;
}
