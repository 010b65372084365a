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

/* The two halves of checkpoint_check. The signature, checked before a
 * run, when the file is read; the chain's head, compared by the engine
 * under its run lock (books_guard): na rows, the one at index length - 1
 * having sequence seq and hash (0 and NULL when the chain is shorter). */
int checkpoint_signature_check(const struct checkpoint *c, const char *line,
			       const char *want_key);
int checkpoint_head_check(const struct checkpoint *c, size_t na, long long seq,
			  const char *hash);
/* checkpoint_head_check against the chain a of na rows. */
int checkpoint_rows_check(const struct checkpoint *c, const struct audit_row *a, size_t na);

#endif
