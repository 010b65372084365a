/* Fuzz target: the applier's config parser (cairn-apply.yaml), its
 * validation, the merge for each environment it declares, and DSN masking
 * of every DSN it holds. Key files are not read: a config may name any
 * path, and the fuzzer must not read /dev/stdin. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../policy/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct policy_config c;
	size_t i;

	policy_config_init(&c);
	policy_config_parse(&c, (const char *)data, size, "fuzz.yaml", "/nonexistent",
			    POLICY_CONFIG_NO_KEYS);
	for (i = 0; i < c.nenvs; i++) {
		struct policy_resolved r;
		struct policy_inputs in;
		int usage;

		memset(&in, 0, sizeof(in));
		in.flag_env = c.envs[i].name;
		if (policy_resolve(&r, &c, &in, &usage) == 0) {
			if (r.db_kind == POLICY_DB_DSN)
				free(dsn_mask(r.db_value));
			policy_resolved_release(&r);
		}
	}
	policy_config_release(&c);
	/* the input as a DSN */
	{
		char *s = malloc(size + 1);

		if (s) {
			memcpy(s, data, size);
			s[size] = '\0';
			free(dsn_mask(s));
			free(s);
		}
	}
	return 0;
}
