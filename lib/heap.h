/* The heap of a run that makes many small allocations: grown in large
 * steps, never trimmed, and marked for transparent huge pages. */
#ifndef CAIRN_HEAP_H
#define CAIRN_HEAP_H

/* heap_hugepages' flags */
#define HEAP_ONE_ARENA 1 /* threads allocate from the main heap too */

/* Called first thing in main(), before any thread starts. */
void heap_hugepages(unsigned flags);

#endif
