/* Prisma Migrate: prisma/migrations/{timestamp}_{name}/migration.sql,
 * with migration_lock.toml naming the provider. Prisma has no down
 * migrations: each one becomes irreversible: true. */
#include <string.h>

#include "../lib/error.h"
#include "../lib/util.h"
#include "import-int.h"

int import_prisma(struct import *im)
{
	struct strlist names = { NULL, 0, 0 };
	struct buf lock = BUF_INIT;
	size_t i;

	if (import_list(im, "", &names) < 0)
		return -1;
	if (import_read_file(im, "migration_lock.toml", &lock) == 0) {
		const char *p = lock.ptr ? strstr(lock.ptr, "provider") : NULL;

		import_count(im, "migration_lock.toml", 1, 0);
		if (p && !strstr(p, "postgresql") && !strstr(p, "sqlite")) {
			/* not one migration's problem: every one is for that database */
			import_report(im, "migration_lock.toml", IMPORT_ERROR,
				      "the provider is neither postgresql nor sqlite, which cairn cannot apply");
			im->errors++;
		} else
			import_report(im, "migration_lock.toml", IMPORT_NOTE,
				      "provider noted, not imported: cairn.yaml's drivers say where migrations run");
	}
	for (i = 0; i < names.n; i++) {
		const char *n = names.items[i], *us = strchr(n, '_');
		size_t vlen = us ? (size_t)(us - n) : 0;
		char *path = path_join(im->dir, n), *version, *slug, *rel;
		struct import_mig *m;

		if (!is_dir(path) || !import_digits(n, vlen)) {
			if (strcmp(n, "migration_lock.toml"))
				import_report(im, n, IMPORT_NOTE, "not a Prisma migration directory; left alone");
			free(path);
			continue;
		}
		free(path);
		version = xstrndup(n, vlen);
		slug = import_slug(us + 1, strlen(us + 1));
		m = import_mig_get(im, version, slug, n);
		rel = xasprintf("%s/migration.sql", n);
		import_take(im, m, rel, "up.sql", "migration.sql scripts");
		strlist_push(&im->consumed, n);
		free(rel);
		free(version);
		free(slug);
	}
	buf_release(&lock);
	strlist_release(&names);
	return 0;
}
