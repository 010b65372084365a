/* diesel: a directory per migration, {version}_{name}/ with up.sql,
 * down.sql and an optional metadata.toml (run_in_transaction = false).
 * The version is the directory's prefix with its dashes removed
 * ("2019-05-02-140000" is 20190502140000), as diesel records it. */
#include <string.h>

#include "../lib/error.h"
#include "../lib/util.h"
#include "import-int.h"

static void metadata(struct import *im, struct import_mig *m, const char *rel)
{
	struct buf b = BUF_INIT;
	const char *p;

	if (import_read_file(im, rel, &b) < 0) {
		buf_release(&b);
		return;
	}
	import_count(im, "metadata.toml files", 1, 1);
	strlist_push(&im->consumed, rel);
	p = b.ptr ? strstr(b.ptr, "run_in_transaction") : NULL;
	if (p) {
		p += strlen("run_in_transaction");
		p += strspn(p, " \t=");
		if (starts_with(p, "false")) {
			m->transaction = 0;
			import_report(im, rel, IMPORT_MAPPED, "run_in_transaction = false: transaction: false");
		}
	}
	buf_release(&b);
}

int import_diesel(struct import *im)
{
	struct strlist names = { NULL, 0, 0 };
	size_t i;

	if (import_list(im, "", &names) < 0)
		return -1;
	for (i = 0; i < names.n; i++) {
		const char *n = names.items[i], *us = strchr(n, '_'), *c;
		struct buf v = BUF_INIT;
		struct import_mig *m;
		char *slug, *rel, *path;

		path = path_join(im->dir, n);
		if (!is_dir(path) || !us) {
			if (strcmp(n, ".keep") && strcmp(n, ".gitkeep"))
				import_report(im, n, IMPORT_NOTE, "not a diesel migration directory; left alone");
			free(path);
			continue;
		}
		free(path);
		for (c = n; c < us; c++)
			if (*c != '-')
				buf_putc(&v, *c);
		if (!v.len || !import_digits(v.ptr, v.len)) {
			import_report(im, n, IMPORT_NOTE, "not a diesel migration directory ({version}_{name}); left alone");
			buf_release(&v);
			continue;
		}
		slug = import_slug(us + 1, strlen(us + 1));
		m = import_mig_get(im, v.ptr, slug, n);
		rel = xasprintf("%s/up.sql", n);
		import_take(im, m, rel, "up.sql", "up scripts");
		free(rel);
		rel = xasprintf("%s/down.sql", n);
		path = path_join(im->dir, rel);
		if (path_exists(path))
			import_take(im, m, rel, "down.sql", "down scripts");
		free(path);
		free(rel);
		rel = xasprintf("%s/metadata.toml", n);
		metadata(im, m, rel);
		free(rel);
		strlist_push(&im->consumed, n);
		free(slug);
		buf_release(&v);
	}
	strlist_release(&names);
	return 0;
}
