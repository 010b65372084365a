#ifndef CAIRN_PROJECT_STRLIST_H
#define CAIRN_PROJECT_STRLIST_H

#include <stddef.h>

/* A growable list of owned strings (driver names, release refs, columns...). */
struct strlist {
	char **items;
	size_t n, alloc;
};

void strlist_push(struct strlist *l, const char *s);
void strlist_release(struct strlist *l);
int strlist_has(const struct strlist *l, const char *s);

#endif
