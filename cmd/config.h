/* The applier's config as its verbs open it: which file, load it, merge the
 * environment's settings with flags and CAIRN_* variables. Shared by every
 * cairn-apply verb that takes --env/--config. */
#ifndef CAIRN_APPLY_CONFIG_H
#define CAIRN_APPLY_CONFIG_H

#include "../policy/config.h"
#include "cmd.h"

struct apply_config {
	struct policy_config config;
	struct policy_resolved env;
	const char *path;          /* the file read */
	const char *path_source;   /* "flag", "env" or "default" */
};

/* What a verb's options said; NULL for what it was not given. */
struct apply_config_flags {
	const char *config, *env, *db, *lock_timeout;
};

/* Loads the config (--config, $CAIRN_APPLY_CONFIG, ./cairn-apply.yaml) and
 * merges it for the environment. Prints every diagnostic and returns an
 * exit code (0 when usable). */
int apply_config_open(struct apply_config *ac, const struct cmd *c,
		      const struct apply_config_flags *flags);
void apply_config_release(struct apply_config *ac);

/* The database of a verb that needs no bundle (status, history): --db, else
 * $CAIRN_DB, else the environment's database in the config (--env or
 * $CAIRN_ENV, --config or the usual places). Prints
 * its own errors and returns an exit code; *dsn_out may hold a password:
 * never print it, and free it with apply_config_dsn_free. */
int apply_config_database(const struct cmd *c, const char *config, const char *env,
			  const char *db, char **dsn_out);
void apply_config_dsn_free(char *dsn);

int cmd_config(int argc, char **argv);
extern const struct cmd cmd_config_desc;

#endif
