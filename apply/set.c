/* Releasing an apply_set (set.h). */
#include <stdlib.h>
#include <string.h>

#include "../verify/bundle.h"
#include "set.h"

void apply_set_release(struct apply_set *s)
{
	size_t i, j;

	if (!s)
		return;
	for (i = 0; i < s->n; i++) {
		struct apply_mig *m = &s->migs[i];

		free(m->up);
		free(m->down);
		free(m->verify);
		free(m->backup_why);
		if (s->borrows_bundle)
			continue;
		free(m->version);
		free(m->name);
		free(m->checksum);
		free(m->description);
		free(m->up_path);
		for (j = 0; j < m->nenvironments; j++)
			free(m->environments[j]);
		free(m->environments);
	}
	free(s->migs);
	for (i = 0; i < CB_COUNT; i++)
		free(s->callbacks[i].sql);
	if (s->owns_bundle)
		bundle_free(s->bundle);
	free(s->bundle_id);
	free(s->bundle_name);
	free(s->bundle_path);
	memset(s, 0, sizeof(*s));
}

