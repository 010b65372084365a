/* Who holds the locks a migration timed out waiting for (issue #22). The
 * tables come from the parse tree (ops/sqlneeds.c) and the sessions from
 * the driver (pg_locks joined with pg_stat_activity: drivers/pg-probe.c),
 * the query preflight's blockers check makes. */
#include <stdlib.h>

#include "../lib/error.h"
#include "lockwho.h"
#include "sqlneeds.h"

int lockwho_blockers(void *ctx, const struct apply_mig *m, char **out)
{
	const struct lockwho_ctx *c = ctx;
	struct sql_needs needs = { 0 };
	char **tables = NULL;
	size_t n = 0, i;
	int rc = -1;

	*out = NULL;
	if (!c->drv->blockers || !apply_mig_sql(m)->up)
		return 0;
	if (sql_needs_scan(&needs, apply_mig_sql(m)->up) < 0)
		goto out;
	n = sql_needs_tables(&needs, &tables);
	rc = c->drv->blockers(c->db, (const char *const *)tables, n, out);
out:
	for (i = 0; i < n; i++)
		free(tables[i]);
	free(tables);
	sql_needs_release(&needs);
	return rc;
}
