/* pop/soda (and ory popx): {version}_{name}[.{dialect}][.autocommit].{up|down}.{sql|fizz}.
 * A file without a dialect is the generic fallback; postgres and sqlite3
 * become up.postgres.sql and up.sqlite.sql; .autocommit runs outside a
 * transaction. Versions are often 20 digits (above 2^64): kept as text.
 * Fizz (pop's own DSL) and dialects cairn has no driver for are reported.
 * .autocommit on one dialect's file makes that driver's run
 * non-transactional only (transaction: {postgres: false}). */
#include <stdlib.h>
#include <string.h>

#include "../lib/error.h"
#include "../lib/util.h"
#include "import-int.h"

static const struct {
	const char *pop, *cairn;
} dialects[] = {
	{ "postgres", "postgres" }, { "sqlite3", "sqlite" }, { "sqlite", "sqlite" },
	{ "mysql", NULL }, { "mariadb", NULL }, { "cockroach", NULL }, { "cockroachdb", NULL },
	{ "sqlserver", NULL },
};

/* Cuts ".word" off the end of s[0, *len) when it is there. */
static int cut(const char *s, size_t *len, const char *word)
{
	size_t l = strlen(word);

	if (*len > l + 1 && s[*len - l - 1] == '.' && !strncmp(s + *len - l, word, l)) {
		*len -= l + 1;
		return 1;
	}
	return 0;
}

static void one_file(struct import *im, const char *n)
{
	const char *us = strchr(n, '_');
	size_t len = strlen(n), vlen = us ? (size_t)(us - n) : 0, d;
	int fizz = 0, up, autocommit;
	const char *dialect = NULL, *driver = NULL;
	struct import_mig *m;
	char *version, *slug, *name;

	if (!cut(n, &len, "sql") && !(fizz = cut(n, &len, "fizz")))
		goto not_pop;
	if (!(up = cut(n, &len, "up")) && !cut(n, &len, "down"))
		goto not_pop;
	autocommit = cut(n, &len, "autocommit");
	for (d = 0; d < sizeof(dialects) / sizeof(dialects[0]); d++)
		if (cut(n, &len, dialects[d].pop)) {
			dialect = dialects[d].pop;
			driver = dialects[d].cairn;
			break;
		}
	if (!us || !import_digits(n, vlen) || len <= vlen + 1)
		goto not_pop;
	version = xstrndup(n, vlen);
	slug = import_slug(us + 1, len - vlen - 1);
	m = import_mig_get(im, version, slug, n);
	if (up && (!strstr(m->origin, ".up.") || (!dialect && strchr(m->origin, '.') != strrchr(m->origin, '.')))) {
		/* an up file names the migration in reports, the generic one first */
		free(m->origin);
		m->origin = xstrdup(n);
	}
	if (fizz) {
		import_count(im, "fizz files", 1, 0);
		import_mig_report(im, m, n, IMPORT_ERROR,
				  "a fizz file: cairn runs SQL; generate SQL from it (soda generate sql) or --skip %s",
				  version);
	} else if (dialect && !driver) {
		import_count(im, "files for dialects cairn has no driver for", 1, 0);
		import_report(im, n, IMPORT_NOTE, "for %s, which cairn does not apply; not imported", dialect);
		strlist_push(&im->consumed, n);
	} else {
		name = driver ? xasprintf("%s.%s.sql", up ? "up" : "down", driver)
			      : xstrdup(up ? "up.sql" : "down.sql");
		import_take(im, m, n, name, driver ? "per-dialect scripts" : "generic scripts");
		free(name);
		if (autocommit) {
			import_count(im, ".autocommit markers", 1, 1);
			/* a dialect's own file: that driver only (the form of #16) */
			if (import_mig_notx(m, driver)) {
				if (driver)
					import_report(im, n, IMPORT_MAPPED,
						      ".autocommit for %s: transaction: {%s: false}",
						      dialect, driver);
				else
					import_report(im, n, IMPORT_MAPPED,
						      ".autocommit: transaction: false");
			}
		}
	}
	free(version);
	free(slug);
	return;
not_pop:
	import_report(im, n, IMPORT_NOTE,
		      "not a pop migration ({version}_{name}[.{dialect}][.autocommit].up|down.sql); left alone");
}

int import_pop(struct import *im)
{
	struct strlist names = { NULL, 0, 0 };
	size_t i;

	if (import_list(im, "", &names) < 0)
		return -1;
	for (i = 0; i < names.n; i++)
		one_file(im, names.items[i]);
	strlist_release(&names);
	return 0;
}
