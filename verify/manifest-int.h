/* What verify/manifest.c and manifest-canon.c (the canonical fast path)
 * share: the checks both parsers make. Private to verify/manifest*.c. */
#ifndef CAIRN_MANIFEST_INT_H
#define CAIRN_MANIFEST_INT_H

#include <stddef.h>

struct bundle;
struct ynode;

/* 1 when s[0..len) is 64 lower-case hex digits. */
int hex64_valid(const char *s, size_t len);
int digits_only(const char *s);
/* Names are unique, and what a migration requires is listed before it (the
 * list is in apply order). migs: the YAML list, for line numbers in the
 * messages (NULL: none). */
int check_order(const struct bundle *b, const struct ynode *migs);

#endif
