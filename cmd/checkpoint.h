/* Checkpoints of the audit chain's head (apply/checkpoint.h), for the verbs:
 * written after every run that changed the books (apply, rollback, repair,
 * baseline) and inside receipts, checked by history --verify --checkpoint
 * (a file of lines, or a bundle whose receipts carry them). The key is the
 * receipt key or a host key (--checkpoint-key, $CAIRN_CHECKPOINT_KEY),
 * unlocked before the run. */
#ifndef CAIRN_CMD_CHECKPOINT_H
#define CAIRN_CMD_CHECKPOINT_H

#include "cairn-apply.h"

struct receipt_key;
struct apply_policy;
struct buf;

struct checkpoint_opts {
	const char *file;           /* --checkpoint, else $CAIRN_CHECKPOINT; NULL: none */
	const char *key_path;       /* --checkpoint-key, else $CAIRN_CHECKPOINT_KEY, else
				     * the receipt key */
	struct receipt_key *key;    /* loaded by checkpoint_opts_load */
	int owns_key;
};

/* The file and key the config names for the environment (the
 * environment's, else the defaults'), unless a flag or $CAIRN_CHECKPOINT
 * named the file; nothing outside policy mode. */
void checkpoint_opts_from_config(struct checkpoint_opts *o, const struct apply_policy *ap);

/* For a verb that changes the books without a bundle (rollback, repair,
 * baseline), once apply_policy_begin_books resolved env and dsn: the
 * checkpoint's file and key (from the config too), the key unlocked, then
 * the database opened and its books checked against the checkpoint file
 * (checkpoint_check_before). Prints; returns an exit code. */
int checkpoint_open_books(struct apply_ctx *ctx, const struct cmd *c,
			  const struct apply_policy *ap, struct checkpoint_opts *o,
			  const char *dsn, unsigned flags, int json);

/* Fills the defaults from the environment and loads the key (receipt: the
 * receipt key already loaded, or NULL). Prints; returns an exit code. */
int checkpoint_opts_load(struct checkpoint_opts *o, struct receipt_key *receipt);
void checkpoint_opts_release(struct checkpoint_opts *o);

/* A checkpoint line of c's books now, signed by key, without its newline,
 * into line; *nrows (when not NULL) the chain's length. 0, or -1 with the
 * error set. */
int checkpoint_make(struct apply_ctx *c, const struct receipt_key *key, struct buf *line,
		    size_t *nrows);

/* Appends a signed checkpoint of c's books to o->file (nothing when no
 * file). Prints what failed; returns an exit code. */
int checkpoint_append(struct apply_ctx *c, const struct checkpoint_opts *o);

/* restore (SQLite, the whole file): the checkpoint of the chain the
 * prepared copy holds, signed by o->key and naming c's database, written
 * to checkpoint_pending_path(o->file) (fsynced, renamed into place, its
 * directory synced) before the copy replaces the database. The next
 * checkpoint_check_before appends it to o->file when the chain extends it
 * and no longer extends o->file's newest (a restore killed after its
 * step; one killed before it leaves a pending file that nothing takes and
 * the next restore replaces); checkpoint_verify_file accepts it (same
 * key) in place of o->file's.
 * 0, or -1 with the error set. */
int checkpoint_pending_write(struct apply_ctx *c, const struct checkpoint_opts *o,
			     struct db *copy);
/* "FILE.pending", malloc'ed */
char *checkpoint_pending_path(const char *file);

/* Before a verb acts (the database open): the newest checkpoint of this
 * database in o->file, its signature checked against o->key, kept in
 * c->checkpoint for the engine, which compares the chain with it under its
 * run lock (apply_opts.checkpoint, books_guard), so that a chain cut,
 * rewritten with recomputed hashes or dropped since the last run is refused
 * before anything runs, and nothing can change the books between that
 * comparison and the lock. Nothing without a file or a checkpoint of this
 * database in it. Prints; EXIT_OK, EXIT_STATE (a checkpoint not signed by
 * the key), EXIT_ENVIRONMENT. */
int checkpoint_check_before(struct apply_ctx *c, const struct checkpoint_opts *o);

/* After a verb's run: the checkpoint when rc says the books may have
 * changed (0, 1, 5). Returns rc, or the checkpoint's failure when rc was 0. */
int checkpoint_after_run(struct apply_ctx *c, const struct checkpoint_opts *o, int rc);

/* history --verify --checkpoint FILE [--checkpoint-id ID]: the newest
 * checkpoint of this database in file against the chain a; when file is a
 * bundle, the checkpoint of every receipt in it for this database. Prints;
 * returns EXIT_OK or EXIT_FAILED (EXIT_ENVIRONMENT when file cannot be
 * read). */
int checkpoint_verify_file(struct apply_ctx *c, const char *file, const char *want_key,
			   const struct audit_row *a, size_t n);

#endif
