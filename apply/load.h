/* Builds the engine's apply_set from a verified bundle (apply/load.c). */
#ifndef CAIRN_APPLY_LOAD_H
#define CAIRN_APPLY_LOAD_H

#include "engine.h"

struct bundle;

/* Reads every migration of b with driver's SQL. 0, or -1 with the error set.
 * The set borrows b (kept for data files); set owns_bundle to hand it over. */
int apply_set_load(struct apply_set *out, struct bundle *b, const char *driver);

#endif
