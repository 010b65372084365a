/* Who holds the locks a migration timed out waiting for (issue #22): the
 * engine's lock_blockers hook (apply/engine.h). A library: never prints. */
#ifndef CAIRN_OPS_LOCKWHO_H
#define CAIRN_OPS_LOCKWHO_H

#include "../apply/set.h"
#include "../drivers/driver.h"

struct lockwho_ctx {
	const struct driver *drv; /* blockers() NULL: nobody is named */
	struct db *db;
};

/* The sessions other than this one holding a granted lock on a table m's
 * up script touches (tables it creates left out; read with libpg_query,
 * as preflight reads them), one line each into *out (malloc'ed; NULL:
 * none). Asked after the migration's transaction rolled back, so the
 * holders are still there, and nothing of ours is. 0, or -1 with the
 * error set. */
int lockwho_blockers(void *ctx, const struct apply_mig *m, char **out);

#endif
