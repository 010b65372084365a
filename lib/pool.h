/* Many small allocations that all live as long as one owner and are freed
 * together: carved from large blocks instead of a malloc each. The
 * manifest's strings and file lists (~45,000 at 5,000 migrations) and a
 * bundle's kept member bytes (10,000) were as many mallocs and frees. */
#ifndef CAIRN_POOL_H
#define CAIRN_POOL_H

#include <stddef.h>

struct pool_block;

/* A pool is a pointer to its newest block; NULL is an empty pool. */
/* n bytes aligned to align (a power of two, at most max_align_t's); dies
 * like xmalloc when memory runs out. */
void *pool_alloc(struct pool_block **pool, size_t n, size_t align);
/* s[0, n) and a NUL, in the pool. */
char *pool_strndup(struct pool_block **pool, const char *s, size_t n);
/* Where the pool stands, to give back what was allocated after it
 * (pool_rewind): a parser that finds it needs no copy of a string it just
 * read (the manifest's provenance, the same for most migrations). */
struct pool_mark {
	struct pool_block *block;
	size_t used;
};
void pool_mark(struct pool_block *const *pool, struct pool_mark *out);
/* Gives back what was allocated since mark, when it all sits in the block
 * that was newest then; else nothing (a new block stays until pool_free).
 * Nothing allocated since mark may be used after. */
void pool_rewind(struct pool_block **pool, const struct pool_mark *mark);
/* Frees every block; the pool is empty again. */
void pool_free(struct pool_block **pool);

#endif
