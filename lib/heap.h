/* The heap of a run that makes many small allocations: grown in large
 * steps, never trimmed but where heap_give_back says so, and marked for
 * transparent huge pages. */
#ifndef CAIRN_HEAP_H
#define CAIRN_HEAP_H

/* heap_hugepages' flags */
#define HEAP_ONE_ARENA 1 /* threads allocate from the main heap too */
/* Huge pages for the heap's first HEAP_HUGE_FIRST bytes only, 4 KiB pages
 * past them: a huge page is resident whole once any byte of it is
 * touched, so a heap that grows past a run's usual size would otherwise
 * be resident in 2 MiB steps, holes and all (heap.c says what it cost). */
#define HEAP_HUGE_FIRST_ONLY 2
#define HEAP_HUGE_FIRST ((unsigned long)12 << 20)

/* Called first thing in main(), before any thread starts. */
void heap_hugepages(unsigned flags);

/* The free memory inside the heap given back to the system, when the heap
 * is large (16 MiB in use or more) and 2 MiB of it or more is free below
 * its top; the top itself is kept. Any thread may call it. */
void heap_give_back(void);

#endif
