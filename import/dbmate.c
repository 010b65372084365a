/* dbmate: one file {version}_{name}.sql per migration, split by
 * "-- migrate:up" and "-- migrate:down" lines; either may carry the
 * option transaction:false. Version: digits (a timestamp by default). */
#include <string.h>

#include "../lib/error.h"
#include "../lib/util.h"
#include "import-int.h"

/* The marker line "-- migrate:WHAT [options]" at s, or NULL. */
static const char *marker(const char *s, const char *end, const char *what)
{
	const char *p = s;

	if (end - p < 2 || p[0] != '-' || p[1] != '-')
		return NULL;
	p += 2;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if ((size_t)(end - p) < strlen("migrate:") + strlen(what) ||
	    strncmp(p, "migrate:", 8) || strncmp(p + 8, what, strlen(what)))
		return NULL;
	return p + 8 + strlen(what);
}

/* Splits the file into its two sections; options after each marker. */
static void split_file(struct import *im, struct import_mig *m, const char *rel, char *data,
		       size_t len)
{
	const char *s = data, *end = data + len, *sec[2] = { NULL, NULL }, *stop[2] = { end, end };
	int notx[2] = { 0, 0 }, cur = -1;

	while (s < end) {
		const char *eol = memchr(s, '\n', (size_t)(end - s)), *opt;
		int which = -1;

		eol = eol ? eol + 1 : end;
		if ((opt = marker(s, eol, "up")))
			which = 0;
		else if ((opt = marker(s, eol, "down")))
			which = 1;
		if (which >= 0) {
			if (cur >= 0)
				stop[cur] = s;
			sec[which] = eol;
			notx[which] = memmem(opt, (size_t)(eol - opt), "transaction:false", 17) != NULL;
			cur = which;
		}
		s = eol;
	}
	if (!sec[0]) {
		import_mig_report(im, m, rel, IMPORT_ERROR, "no '-- migrate:up' line");
		return;
	}
	import_count(im, "up sections", 1, 1);
	import_mig_file(im, m, "up.sql", xstrndup(sec[0], (size_t)(stop[0] - sec[0])),
			(size_t)(stop[0] - sec[0]), rel);
	if (sec[1]) {
		import_count(im, "down sections", 1, 1);
		import_mig_file(im, m, "down.sql", xstrndup(sec[1], (size_t)(stop[1] - sec[1])),
				(size_t)(stop[1] - sec[1]), rel);
	}
	if (notx[0] || notx[1]) {
		m->transaction = 0;
		import_count(im, "transaction:false options", 1, 1);
		import_report(im, rel, IMPORT_MAPPED, "transaction:false: transaction: false%s",
			      notx[0] != notx[1] ? " (cairn's flag covers both directions)" : "");
	}
}

int import_dbmate(struct import *im)
{
	struct strlist names = { NULL, 0, 0 };
	size_t i;

	if (import_list(im, "", &names) < 0)
		return -1;
	for (i = 0; i < names.n; i++) {
		const char *n = names.items[i], *us = strchr(n, '_');
		size_t vlen = us ? (size_t)(us - n) : strspn(n, "0123456789");
		struct buf b = BUF_INIT;
		char *version, *slug;
		struct import_mig *m;

		if (!ends_with(n, ".sql") || !import_digits(n, vlen)) {
			import_report(im, n, IMPORT_NOTE, "not a dbmate migration ({version}_{name}.sql); left alone");
			continue;
		}
		version = xstrndup(n, vlen);
		slug = us ? import_slug(us + 1, strlen(us + 1) - 4) : xstrdup("migration");
		m = import_mig_get(im, version, slug, n);
		import_count(im, "migration files", 1, 0);
		if (import_read_file(im, n, &b) < 0) {
			import_mig_report(im, m, n, IMPORT_ERROR, "%s", cairn_error_last());
		} else {
			split_file(im, m, n, b.ptr ? b.ptr : "", b.len);
			strlist_push(&im->consumed, n);
			import_count(im, "migration files", 0, 1);
		}
		buf_release(&b);
		free(version);
		free(slug);
	}
	strlist_release(&names);
	return 0;
}
