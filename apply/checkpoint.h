/* Checking a checkpoint of the audit chain's head (lib/checkpoint.h has
 * the line's format) against the chain a database holds. */
#ifndef CAIRN_APPLY_CHECKPOINT_H
#define CAIRN_APPLY_CHECKPOINT_H

#include <stddef.h>

#include "../drivers/driver.h"
#include "../lib/checkpoint.h"

/* Checks the signature (against the line's own pub; want_key, when set,
 * must be its key id) and the chain against the checkpoint: at least
 * length rows, row length hashing to head. 0 when the chain holds the
 * checkpointed head, -1 with the error set saying what was found. */
int checkpoint_check(const struct checkpoint *c, const char *line, const char *want_key,
		     const struct audit_row *a, size_t na);

#endif
