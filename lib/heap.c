/* See heap.h. A check of 10,000 migrations makes ~30 MiB of small
 * allocations, a nothing-pending apply at 5,000 ~20 MiB, and each 4 KiB
 * page's first touch is a page fault: 5,600 of them were a fifth of
 * 'check --staged's CPU on bench/history.sh's repository (more in a VM),
 * 3,400 a third of the apply's. So the heap grows in 32 MiB steps, is
 * trimmed only by heap_give_back (below), and is marked for transparent
 * huge pages, which the kernel then faults in 2 MiB at a time where THP
 * is "madvise" or "always" (glibc's glibc.malloc.hugetlb=1 does the
 * same, but only from the environment). HEAP_ONE_ARENA: the applier's
 * threads (the early open of the database, the manifest's parse) would
 * otherwise each get an arena of their own, mapped apart and grown a few
 * pages at a time (an mprotect each), which the madvise does not cover.
 * HEAP_HUGE_FIRST_ONLY (the applier): a nothing-pending apply at 5,000
 * migrations touches ~10 MiB of heap, inside the first 12 MiB; one at
 * 20,000 touches ~24 MiB, and in huge pages throughout it peaked 1 to 3
 * MiB higher than in 4 KiB pages, from run to run as its threads'
 * allocations fell (issue #14: 32 MiB at 20,000; docs/benchmarks.md,
 * "Huge pages for the first 12 MiB"). */
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
	if ((flags & HEAP_HUGE_FIRST_ONLY) && hi > lo + HEAP_HUGE_FIRST)
		hi = lo + HEAP_HUGE_FIRST;
	if (hi > lo)
		madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
}

/* The memory verification freed inside the heap (the inflater's buffers,
 * the manifest's pieces, the parse's scratch) is given back twice by the
 * applier: when the manifest's parse ends (verify/bundle-parse.c), before
 * the books' briefs are read on the early open's thread and the members
 * checked against SHA256SUMS, which together set the peak of a large
 * nothing-pending apply; and again after the bundle is open
 * (cmd/bundle-load.c), before the migrations are loaded. The heap is
 * otherwise never trimmed, and what follows reuses only part of what was
 * freed: at 20,000 migrations 5 to 8 MB were free below the heap's top,
 * 3 to 4 MB of the run's peak RSS (docs/benchmarks.md, perf14j and "Huge
 * pages for the first 12 MiB"). Only the free chunks below the top are
 * given back (the pad keeps the top as heap_hugepages grew it), and only
 * for a large bundle, whose parse leaves 12 MiB or more in use: at 5,000
 * migrations (7 MB in use) the pages given back cost ~700 page faults
 * when the set reused them (+1 % of the run's CPU) for no steady gain.
 * The bar was 16 MiB until the parse freed SHA256SUMS's list itself
 * (bundle-parse.c: sums_drop_equal): at 20,000 migrations that left 15.4
 * to 16.2 MB in use when the parse ended, so the first give-back was
 * skipped in most runs and the parse phase peaked 1 to 2 MB higher than
 * before the list was freed early (docs/benchmarks.md, stop 32). */
#define GIVE_BACK_IN_USE ((size_t)12 << 20)
#define GIVE_BACK_FREE ((size_t)2 << 20)
#define GIVE_BACK_KEEP_TOP ((size_t)32 << 20)

void heap_give_back(void)
{
#ifdef __GLIBC__
	struct mallinfo2 mi = mallinfo2();

	if (mi.uordblks >= GIVE_BACK_IN_USE && mi.fordblks - mi.keepcost >= GIVE_BACK_FREE)
		malloc_trim(GIVE_BACK_KEEP_TOP);
#endif
}
