/* Flyway: V<version>__<description>.sql (versioned), U<version>__ (undo,
 * Teams), R__<description>.sql (repeatable), with script configuration in
 * <file>.conf or a "-- flyway:executeInTransaction=false" line. Versions
 * of digits map as they are ("001" stays "001"); dotted versions (1.2,
 * 1_2) and repeatables have no cairn equivalent and stop the import. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../lib/error.h"
#include "../lib/util.h"
#include "import-int.h"

static int notx_config(const char *s, size_t len)
{
	return memmem(s, len, "executeInTransaction=false", 26) != NULL;
}

static void script_config(struct import *im, struct import_mig *m, const char *rel,
			  const struct import_file *f)
{
	char *conf = xasprintf("%s.conf", rel);
	struct buf b = BUF_INIT;

	if (f && f->data && notx_config(f->data, f->len) && m->transaction) {
		m->transaction = 0;
		import_report(im, rel, IMPORT_MAPPED,
			      "flyway:executeInTransaction=false: transaction: false");
	}
	if (import_read_file(im, conf, &b) == 0) {
		import_count(im, "script configuration files", 1, 1);
		strlist_push(&im->consumed, conf);
		if (notx_config(b.ptr, b.len) && m->transaction) {
			m->transaction = 0;
			import_report(im, conf, IMPORT_MAPPED,
				      "executeInTransaction=false: transaction: false");
		}
	}
	if (f && f->data && memmem(f->data, f->len, "${", 2))
		import_mig_report(im, m, rel, IMPORT_ERROR,
				  "uses a Flyway placeholder ${...}, which cairn does not replace; write the value in, or --skip %s",
				  m->version);
	buf_release(&b);
	free(conf);
}

/* The first filesystem: location of flyway.conf (flyway.locations=) or
 * flyway.toml (locations = [...]) in the current directory, or NULL. */
char *import_flyway_dir(void)
{
	static const char *const files[] = { "flyway.conf", "conf/flyway.conf", "flyway.toml" };
	size_t i;

	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		struct buf b = BUF_INIT;
		const char *p;
		char *dir = NULL;

		if (read_file(files[i], 1 << 20, &b) < 0 || !b.ptr) {
			buf_release(&b);
			continue;
		}
		p = strstr(b.ptr, "locations");
		p = p ? strstr(p, "filesystem:") : NULL;
		if (p) {
			p += strlen("filesystem:");
			dir = xstrndup(p, strcspn(p, ",\"' \t\r\n]"));
		}
		buf_release(&b);
		if (dir && *dir)
			return dir;
		free(dir);
	}
	return NULL;
}

int import_flyway(struct import *im)
{
	struct strlist names = { NULL, 0, 0 };
	size_t i;

	if (import_list(im, "", &names) < 0)
		return -1;
	for (i = 0; i < names.n; i++) {
		const char *n = names.items[i], *sep = strstr(n, "__");
		size_t vlen = sep ? (size_t)(sep - n - 1) : 0;
		struct import_mig *m;
		char *version, *slug;
		int undo = n[0] == 'U';

		if (ends_with(n, ".sql.conf") || !strcasecmp(n, "flyway.conf") ||
		    !strcmp(n, "flyway.toml"))
			continue; /* read with their script, or the tool's own settings */
		if (!sep || !ends_with(n, ".sql") || !strchr("VUR", n[0])) {
			import_report(im, n, IMPORT_NOTE, "not a Flyway migration (V<version>__<description>.sql); left alone");
			continue;
		}
		slug = import_slug(sep + 2, strlen(sep + 2) - 4);
		if (n[0] == 'R') {
			m = import_mig_get(im, n, slug, n);
			import_count(im, "repeatable migrations", 1, 0);
			import_mig_report(im, m, n, IMPORT_ERROR,
					  "a repeatable migration (R__): cairn applies each migration once; make it a versioned one, or --skip %s",
					  n);
			free(slug);
			continue;
		}
		version = xstrndup(n + 1, vlen);
		m = import_mig_get(im, version, slug, n);
		if (!import_digits(version, vlen)) {
			import_count(im, undo ? "undo migrations" : "versioned migrations", 1, 0);
			import_mig_report(im, m, n, IMPORT_ERROR,
					  "version '%s' is not a whole number; cairn versions are digits only, so a dotted version cannot keep its value (--skip %s to leave it out)",
					  version, version);
		} else {
			struct import_file *f = import_take(im, m, n, undo ? "down.sql" : "up.sql",
							    undo ? "undo migrations" : "versioned migrations");

			if (!undo && !m->description)
				m->description = xstrndup(sep + 2, strlen(sep + 2) - 4);
			if (!undo) {
				free(m->origin);
				m->origin = xstrdup(n);
			}
			script_config(im, m, n, f);
		}
		free(version);
		free(slug);
	}
	strlist_release(&names);
	return 0;
}
