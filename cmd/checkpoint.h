/* Checkpoints of the audit chain's head (apply/checkpoint.h), for the verbs:
 * written after a run that changed the books, checked by history --verify
 * --checkpoint. The key is the receipt key or a host key (--checkpoint-key,
 * $CAIRN_CHECKPOINT_KEY), unlocked before the run. */
#ifndef CAIRN_CMD_CHECKPOINT_H
#define CAIRN_CMD_CHECKPOINT_H

#include "cairn-apply.h"

struct receipt_key;

struct checkpoint_opts {
	const char *file;           /* --checkpoint, else $CAIRN_CHECKPOINT; NULL: none */
	const char *key_path;       /* --checkpoint-key, else $CAIRN_CHECKPOINT_KEY, else
				     * the receipt key */
	struct receipt_key *key;    /* loaded by checkpoint_opts_load */
	int owns_key;
};

/* Fills the defaults from the environment and loads the key (receipt: the
 * receipt key already loaded, or NULL). Prints; returns an exit code. */
int checkpoint_opts_load(struct checkpoint_opts *o, struct receipt_key *receipt);
void checkpoint_opts_release(struct checkpoint_opts *o);
/* Without --checkpoint or $CAIRN_CHECKPOINT, in policy mode: the
 * environment's (else the defaults') checkpoint: {file, key}. */
struct apply_policy;
void checkpoint_opts_from_policy(struct checkpoint_opts *o, const struct apply_policy *ap);

/* Appends a signed checkpoint of c's books to o->file (nothing when no
 * file). Prints what failed; returns an exit code. */
int checkpoint_append(struct apply_ctx *c, const struct checkpoint_opts *o);

/* history --verify --checkpoint FILE [--checkpoint-id ID]: the newest
 * checkpoint of this database in file against the chain a. Prints; returns
 * EXIT_OK or EXIT_FAILED (EXIT_ENVIRONMENT when file cannot be read). */
int checkpoint_verify_file(struct apply_ctx *c, const char *file, const char *want_key,
			   const struct audit_row *a, size_t n);

#endif
