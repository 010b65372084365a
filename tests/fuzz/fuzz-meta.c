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

	m->transaction = 1;
	migration_meta_parse(m, (const char *)data, size, "migrations/1_x/migration.yaml", &f);
	migration_free(m);
	findings_release(&f);
	return 0;
}
