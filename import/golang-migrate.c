/* golang-migrate: {version}_{title}.up.{ext} and .down.{ext} in one
 * directory; the version is an unsigned integer (sequence or timestamp).
 * It runs each file as it is, without a transaction of its own, which is
 * why files often carry BEGIN/COMMIT (see import_finish). */
#include <stdlib.h>
#include <string.h>

#include "../lib/error.h"
#include "../lib/util.h"
#include "import-int.h"

int import_golang_migrate(struct import *im)
{
	struct strlist names = { NULL, 0, 0 };
	size_t i;

	if (import_list(im, "", &names) < 0)
		return -1;
	for (i = 0; i < names.n; i++) {
		const char *n = names.items[i], *us = strchr(n, '_'), *dir;
		size_t vlen = us ? (size_t)(us - n) : 0;
		char *version, *slug;
		struct import_mig *m;
		int up = 0;

		if ((dir = strstr(n, ".up.")))
			up = 1;
		else if ((dir = strstr(n, ".down.")))
			up = 0;
		if (!us || !dir || !import_digits(n, vlen) || dir < us) {
			import_report(im, n, IMPORT_NOTE,
				      "not a golang-migrate file ({version}_{title}.up|down.{ext}); left alone");
			continue;
		}
		version = xstrndup(n, vlen);
		slug = import_slug(us + 1, (size_t)(dir - us - 1));
		m = import_mig_get(im, version, slug, n);
		if (up) {
			/* the up file names the migration in reports */
			free(m->origin);
			m->origin = xstrdup(n);
		}
		if (!ends_with(n, ".sql")) {
			import_count(im, up ? "up scripts" : "down scripts", 1, 0);
			import_mig_report(im, m, n, IMPORT_ERROR,
					  "not an SQL file: cairn runs SQL only");
		} else {
			import_take(im, m, n, up ? "up.sql" : "down.sql",
				    up ? "up scripts" : "down scripts");
		}
		free(version);
		free(slug);
	}
	strlist_release(&names);
	return 0;
}
