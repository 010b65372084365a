/* Fuzz target: the YAML tree loader and the two parsers on top of it that
 * read files from a repository (cairn.yaml and migration.yaml shapes). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/yaml.h"
#include "../../project/project.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ynode *n = NULL;
	struct config c;
	struct findings f = FINDINGS_INIT;

	if (yaml_load(&n, (const char *)data, size, "fuzz") == 0)
		ynode_free(n);
	config_init(&c);
	config_parse(&c, (const char *)data, size, &f);
	config_release(&c);
	findings_release(&f);
	return 0;
}
