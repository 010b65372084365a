/* Signed statements added to a bundle by cairn (promote, override). */
#ifndef CAIRN_CMD_PROMOTE_H
#define CAIRN_CMD_PROMOTE_H

#include "cmd.h"

struct statement_add_req {
	const char *path, *output;
	const char *type;          /* approval | override */
	const char *env, *key, *signer, *pass_file;
	const char *comment, *ticket, *expires;
	const char *allow;         /* override: comma-separated operations */
};

/* The entries of getopt_long's table that statement_add_take takes (the
 * environment's, 't', is each verb's own: --to, --env). */
#define STATEMENT_ADD_OPTIONS                                        \
	{ "key", required_argument, NULL, 'k' },                     \
	{ "comment", required_argument, NULL, 'c' },                 \
	{ "expires", required_argument, NULL, 'e' },                 \
	{ "ticket", required_argument, NULL, 'T' },                  \
	{ "signer", required_argument, NULL, 'n' },                  \
	{ "passphrase-file", required_argument, NULL, 'p' },         \
	{ "output", required_argument, NULL, 'o' }

/* getopt_long's opt and optarg, in a verb's default case: EXIT_OK when it
 * is 't' or one of STATEMENT_ADD_OPTIONS, else EXIT_USAGE with the usage
 * error printed (an option without its value, or an unknown one). */
int statement_add_take(struct statement_add_req *r, const struct cmd *desc, int opt,
		       char **argv);

/* Opens path (integrity only), signs the statement with key and writes the
 * bundle back with it. Prints; returns the exit code. */
int statement_add(const struct cmd *desc, const struct statement_add_req *r);

#endif
