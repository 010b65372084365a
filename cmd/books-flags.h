/* The options the verbs that change the books without applying a bundle
 * share (rollback, repair, baseline, restore): the database, the
 * environment, the applier's config, the run lock's timeout and the
 * checkpoint; and the two steps each takes with them before it runs. */
#ifndef CAIRN_CMD_BOOKS_FLAGS_H
#define CAIRN_CMD_BOOKS_FLAGS_H

#include <getopt.h>

#include "checkpoint.h"

struct books_flags {
	const char *dsn, *env, *config, *lock_flag;
	const char *db_flag, *env_flag; /* --db and --env as given (before the config) */
	unsigned long long lock_ms;     /* --lock-timeout; 15 s */
	struct checkpoint_opts cpo;     /* --checkpoint, --checkpoint-key */
};

/* The entries of getopt_long's table that books_flags_take takes. */
#define BOOKS_FLAGS_OPTIONS                                         \
	{ "db", required_argument, NULL, 'd' },                     \
	{ "env", required_argument, NULL, 'e' },                    \
	{ "config", required_argument, NULL, 'C' },                 \
	{ "lock-timeout", required_argument, NULL, 'l' },           \
	{ "checkpoint", required_argument, NULL, 'P' },             \
	{ "checkpoint-key", required_argument, NULL, 'K' }

void books_flags_init(struct books_flags *f);
/* getopt_long's opt and optarg, in a verb's default case: EXIT_OK when it
 * is one of BOOKS_FLAGS_OPTIONS, else EXIT_USAGE with the usage error
 * printed (an unknown option, or a bad --lock-timeout). */
int books_flags_take(struct books_flags *f, const struct cmd *c, int opt, char **argv);
/* Once the operands are checked: keeps --db and --env as given. */
void books_flags_done(struct books_flags *f);
/* apply_policy_begin_books with the flags: env, dsn and lock_ms resolved
 * from the config. Prints; returns an exit code. */
int books_flags_policy(struct books_flags *f, const struct cmd *c, struct apply_policy *ap);
/* checkpoint_open_books with the flags: the database opened and its books
 * checked against the checkpoint, the role checked (apply/role.h), and
 * where it connected noted for the audit rows (apply_policy_note_db).
 * Prints; returns an exit code. */
int books_flags_open(struct books_flags *f, const struct cmd *c, struct apply_policy *ap,
		     struct apply_ctx *ctx, unsigned flags, int json);
/* The role check (apply/role.h) as apply makes it, for a verb that writes
 * the books without applying (VERB as the refusal says it: "roll back",
 * "adopt"): a warning printed, or EXIT_REFUSED with the refusal printed.
 * Prints; returns an exit code. */
int books_role_gate(const struct apply_policy *ap, struct apply_ctx *ctx, const char *env,
		    const char *verb);
/* The options that name the target again, for a message (the caller frees). */
char *books_flags_target(const struct books_flags *f);
void books_flags_release(struct books_flags *f);

#endif
