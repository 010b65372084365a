/* Flyway: V<version>__<description>.sql (versioned), U<version>__ (undo,
 * Teams), R__<description>.sql (repeatable), with script configuration in
 * <file>.conf or a "-- flyway:executeInTransaction=false" line. Versions
 * of digits map as they are ("001" stays "001"). Where a version is dotted
 * (1.2.3, or 1_2 as Flyway also reads it), every version of the project
 * maps to digits that keep Flyway's order (see dotted_version), and the
 * name keeps Flyway's version: V1.2.3__Add_x.sql becomes 10203_v1-2-3_add_x,
 * which cairn-apply adopt matches with flyway_schema_history's "1.2.3".
 * Repeatables have no cairn equivalent and stop the import. */
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

/* Flyway's versions: digit parts separated by '.' or '_' (1.2.3, 1_2, 001). */
static int version_parts(const char *v, size_t len, size_t *nparts, size_t *width)
{
	size_t i = 0, start, w;

	*nparts = 0;
	while (i <= len) {
		start = i;
		while (i < len && v[i] >= '0' && v[i] <= '9')
			i++;
		if (i == start || (i < len && v[i] != '.' && v[i] != '_'))
			return -1;
		while (start + 1 < i && v[start] == '0')
			start++; /* 001 is 1: Flyway compares numbers */
		w = i - start;
		if (w > *width)
			*width = w;
		(*nparts)++;
		i++;
	}
	return 0;
}

struct dotted {
	int on;            /* some version of the project is dotted */
	size_t parts, width;
};

/* The project's widest version, in parts and digits a part, over the V
 * and U files not left out by --skip. */
static void dotted_scan(struct import *im, const struct strlist *names, struct dotted *d)
{
	size_t i, n, w;

	memset(d, 0, sizeof(*d));
	for (i = 0; i < names->n; i++) {
		const char *f = names->items[i], *sep = strstr(f, "__");
		size_t vlen = sep ? (size_t)(sep - f - 1) : 0;
		char *v;
		int skip;

		if (!sep || !vlen || !strchr("VU", f[0]) || !ends_with(f, ".sql"))
			continue;
		v = xstrndup(f + 1, vlen);
		skip = im->skip && (strlist_has(im->skip, v) || strlist_has(im->skip, f));
		w = 0;
		if (!skip && version_parts(v, vlen, &n, &w) == 0) {
			if (n > 1)
				d->on = 1;
			if (n > d->parts)
				d->parts = n;
			if (w > d->width)
				d->width = w;
		}
		free(v);
	}
}

/* A dotted project's version in cairn: each part zero-padded to the
 * widest part's digits, missing parts 0, then concatenated (1.2.3 with 3
 * parts of 2 digits is 10203, 1.10 is 11000, 1.9 is 10900): numbers
 * compare as Flyway compares its versions, part by part. NULL when v is
 * not a Flyway version. */
static char *dotted_version(const struct dotted *d, const char *v, size_t len)
{
	struct buf b = BUF_INIT;
	size_t i = 0, k, j, s, e, n, w = 0;
	char *out;

	if (version_parts(v, len, &n, &w) < 0 || n > d->parts || w > d->width)
		return NULL;
	for (k = 0; k < d->parts; k++) {
		const char *dig = "0";
		size_t dl = 1;

		if (i <= len) {
			for (s = e = i; e < len && v[e] >= '0' && v[e] <= '9'; e++)
				;
			i = e + 1;
			while (s + 1 < e && v[s] == '0')
				s++;
			dig = v + s;
			dl = e - s;
		}
		for (j = dl; j < d->width; j++)
			buf_putc(&b, '0');
		buf_put(&b, dig, dl);
	}
	for (s = 0; s + 1 < b.len && b.ptr[s] == '0'; s++)
		;
	out = xstrndup(b.ptr + s, b.len - s);
	buf_release(&b);
	return out;
}

int import_flyway(struct import *im)
{
	struct dotted d;
	struct strlist names = { NULL, 0, 0 };
	size_t i;

	if (import_list(im, "", &names) < 0)
		return -1;
	dotted_scan(im, &names, &d);
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
		if (d.on && !(im->skip && (strlist_has(im->skip, version) || strlist_has(im->skip, n)))) {
			char *mapped = dotted_version(&d, version, vlen), *tagged, *p;

			if (mapped) {
				/* the name keeps Flyway's version: 1-2-3 for 1.2.3 or 1_2_3 */
				tagged = xasprintf("v%s_%s", version, slug);
				for (p = tagged + 1; p < tagged + 1 + vlen; p++)
					if (*p == '.' || *p == '_')
						*p = '-';
				free(slug);
				slug = tagged;
				if (!undo)
					import_report(im, n, IMPORT_MAPPED,
						      "version %s: %s, in Flyway's order (the name keeps v%.*s)",
						      version, mapped, (int)strcspn(slug + 1, "_"), slug + 1);
				free(version);
				version = mapped;
				vlen = strlen(version);
			}
		}
		m = import_mig_get(im, version, slug, n);
		if (!import_digits(version, vlen)) {
			import_count(im, undo ? "undo migrations" : "versioned migrations", 1, 0);
			import_mig_report(im, m, n, IMPORT_ERROR,
					  "version '%s' is not a Flyway version (digits separated by '.' or '_'), so it cannot be kept in order (--skip %s to leave it out)",
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
