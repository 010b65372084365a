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

/* Opens path (integrity only), signs the statement with key and writes the
 * bundle back with it. Prints; returns the exit code. */
int statement_add(const struct cmd *desc, const struct statement_add_req *r);

#endif
