/* Releasing an apply_set, and a migration's SQL allocated (set.h). */
#include <stdlib.h>
#include <string.h>

#include "../lib/error.h"
#include "../verify/bundle.h"
#include "set.h"

struct apply_sql *apply_mig_sql_fill(struct apply_mig *m)
{
	if (!m->sql)
		m->sql = xcalloc(1, sizeof(*m->sql));
	return m->sql;
}

void apply_set_release(struct apply_set *s)
{
	size_t i, j;

	if (!s)
		return;
	for (i = 0; i < s->n; i++) {
		struct apply_mig *m = &s->migs[i];

		if (m->sql) {
			free(m->sql->up);
			free(m->sql->down);
			free(m->sql->verify);
			free(m->sql->backup_why);
			if (!s->borrows_bundle)
				free(m->sql->up_path);
			free(m->sql);
		}
		if (s->borrows_bundle)
			continue;
		free(m->version);
		free(m->name);
		free(m->checksum);
		free(m->description);
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

