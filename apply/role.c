#include <stdlib.h>

#include "../lib/error.h"
#include "role.h"

int role_check(const struct driver *drv, struct db *db, int refuse, const char *why,
	       const char *env, const char *verb, char **warning)
{
	char *facts = NULL;

	*warning = NULL;
	if (!drv->role_facts)
		return 0;
	if (drv->role_facts(db, &facts) < 0)
		return -1; /* the error says what the query met */
	if (!facts)
		return 0;
	if (refuse) {
		cairn_error_set("refusing to %s on %s: %s, so its migrations can hide writes to "
				"cairn's books from the books guard (catalog writes, "
				"session_replication_role, track_counts); connect as a role that is "
				"neither, or set postgres: {privileged_role: warn} for environment "
				"'%s' (privileged_role: refuse, %s)",
				verb, drv->display_name(db), facts, env ? env : "",
				why ? why : "set");
		free(facts);
		return -1;
	}
	*warning = xasprintf("%s: its migrations can hide writes to cairn's books from the books "
			     "guard; connect as a role that is neither, or set postgres: "
			     "{privileged_role: refuse} to refuse such runs", facts);
	free(facts);
	return 0;
}
