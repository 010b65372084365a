/* What verify/manifest.c and manifest-canon.c (the canonical fast path)
 * share: the checks both parsers make. Private to verify/manifest*.c. */
#ifndef CAIRN_MANIFEST_INT_H
#define CAIRN_MANIFEST_INT_H

#include <stddef.h>

#include "../lib/buf.h"
#include "../lib/pool.h"

struct bundle;
struct bundle_migration;
struct bundle_waiver;
struct ynode;

int digits_only(const char *s);
/* Names are unique, and what a migration requires is listed before it (the
 * list is in apply order). migs: the YAML list, for line numbers in the
 * messages (NULL: none). */
int check_order(const struct bundle *b, const struct ynode *migs);

/* manifest-waivers.c: a migration's waivers: list, its entries read one
 * key at a time, so any parser can feed it. */
/* Sets key of w from value (NUL-terminated, len bytes; copied into *pool, or malloc'd when
 * pool is NULL); -1 with the error set on an unknown key or a bad value. */
int manifest_waiver_set(struct bundle_waiver *w, const char *key, const char *value,
			size_t len, struct pool_block **pool);
/* The entry is whole (rule, file, line, via) and names one of m's files. */
int manifest_waiver_done(const struct bundle_migration *m, const struct bundle_waiver *w);
/* The YAML form: seq is the value of waivers: (manifest_parse_yaml). */
int manifest_waivers_yaml(struct bundle_migration *m, const struct ynode *seq);
int manifest_waivers_format(const struct bundle_migration *m, struct buf *out);
void manifest_waivers_release(struct bundle_migration *m, int pooled);
/* The callbacks' waivers (format cairn-bundle/3): the same entries, their
 * files b's callbacks. manifest_callback_dir makes the pseudo migration
 * "callbacks" whose files are b's callbacks, for manifest_waiver_done. */
void manifest_callback_dir(const struct bundle *b, struct bundle_migration *dir);
int manifest_callback_waivers_yaml(struct bundle *b, const struct ynode *seq);
int manifest_callback_waivers_format(const struct bundle *b, struct buf *out);
void manifest_callback_waivers_release(struct bundle *b, int pooled);

#endif
