/* See heap.h. A check of 10,000 migrations makes ~30 MiB of small
 * allocations, a nothing-pending apply at 5,000 ~20 MiB, and each 4 KiB
 * page's first touch is a page fault: 5,600 of them were a fifth of
 * 'check --staged's CPU on bench/history.sh's repository (more in a VM),
 * 3,400 a third of the apply's. So the heap grows in 32 MiB steps, is
 * never trimmed, and is marked for transparent huge pages, which the
 * kernel then faults in 2 MiB at a time where THP is "madvise" or
 * "always" (glibc's glibc.malloc.hugetlb=1 does the same, but only from
 * the environment). HEAP_ONE_ARENA: the applier's threads (the early
 * open of the database, the manifest's parse) would otherwise each get
 * an arena of their own, mapped apart and grown a few pages at a time
 * (an mprotect each), which the madvise does not cover. */
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "heap.h"

void heap_hugepages(unsigned flags)
{
	const uintptr_t huge = (uintptr_t)2 << 20;
	uintptr_t lo, hi;
	char *before, *after;
	void *volatile p; /* volatile: a malloc freed unused is optimised away */

	if (flags & HEAP_ONE_ARENA)
		mallopt(M_ARENA_MAX, 1);
	mallopt(M_TOP_PAD, 32 << 20);
	mallopt(M_MMAP_THRESHOLD, 8 << 20);
	before = sbrk(0);
	p = malloc((size_t)1 << 20); /* past the heap libc started with */
	after = sbrk(0);
	mallopt(M_TRIM_THRESHOLD, 64 << 20);
	free(p);
	if (before == (void *)-1 || after == (void *)-1 || after <= before)
		return;
	lo = ((uintptr_t)before + huge - 1) & ~(huge - 1);
	hi = (uintptr_t)after & ~(huge - 1);
	if (hi > lo)
		madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
}
