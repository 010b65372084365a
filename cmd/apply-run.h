/* The part of 'apply' that acts on one open database once the bundle is
 * verified and the policy met: the database-side policy check, the engine,
 * the closing message, the checkpoint and the receipt. 'apply' runs it once;
 * 'fleet' runs it in a process per target, so a target of a fleet gets
 * exactly the checks and the books a single apply would give it. */
#ifndef CAIRN_CMD_APPLY_RUN_H
#define CAIRN_CMD_APPLY_RUN_H

#include "checkpoint.h"
#include "policy-gate.h"

struct apply_run {
	const char *bundle;         /* the bundle's path, for messages */
	const char *env, *to;
	int atomic;
	unsigned long long lock_ms;
	const char **keys;          /* --key files (no config) */
	size_t nkeys;
	const char *db_flag, *dsn, *config; /* for the next: hints */
	struct apply_policy *ap;
	const struct apply_set *set;
	const struct checkpoint_opts *cpo;
	const struct receipt_key *rkey; /* NULL: no receipt */
	const char *receipt_path;   /* the bundle the receipt is added to (NULL: bundle) */
};

/* Applies r->set to ctx's open database. Prints; returns the exit code of
 * 'apply' (128 + the signal when SIGINT or SIGTERM stopped it). */
int apply_run_db(struct apply_ctx *ctx, const struct apply_run *r, struct apply_result *res);

#endif
