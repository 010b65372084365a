/* Fuzz target: migration.yaml, as read from any commit of a repository. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/error.h"
#include "../../project/project.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct migration *m = xcalloc(1, sizeof(*m));
	struct findings f = FINDINGS_INIT;
	struct config cfg;

	config_init(&cfg);
	strlist_push(&cfg.drivers, "postgres");
	m->transaction = 1;
	m->path = xstrdup("migrations/1_x");
	migration_meta_parse(m, (const char *)data, size, "migrations/1_x/migration.yaml", &f);
	/* an operation: the SQL it expands into (issue #22) */
	operation_generate(&cfg, m, &f);
	migration_free(m);
	findings_release(&f);
	config_release(&cfg);
	return 0;
}
