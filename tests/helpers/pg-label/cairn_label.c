/* A label provider for the tests (attack15h): "cairn_test" accepts any
 * label, so that SECURITY LABEL FOR cairn_test ON ... can be run on the
 * throwaway server of the test that loads it (shared_preload_libraries,
 * tests/lib-pg.sh pg_preload) and the books guard's comparison of
 * pg_seclabel (drivers/pg-guard.c) is exercised. PostgreSQL ships no
 * provider but sepgsql, which needs SELinux. Built with PGXS. */
#include "postgres.h"

#include "commands/seclabel.h"
#include "fmgr.h"

PG_MODULE_MAGIC;

void _PG_init(void);

static void cairn_label_check(const ObjectAddress *object, const char *seclabel)
{
	(void)object;
	(void)seclabel;
}

void _PG_init(void)
{
	register_label_provider("cairn_test", cairn_label_check);
}
