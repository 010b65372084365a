/* sqitch: sqitch.plan lists changes in deploy order,
 *   name [dep other !conflict proj:dep dep@tag] 2019-05-02T14:00:00Z Name <email> # note
 * with @tag lines between; deploy/NAME.sql, revert/NAME.sql, verify/NAME.sql
 * hold the scripts. A reworked change appears twice: its earlier versions
 * are deploy/NAME@TAG.sql, TAG the first tag after it. sqitch has no
 * versions: the plan's position becomes a sequence version (0001, ...),
 * and dependencies become requires:. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "../lib/error.h"
#include "../lib/util.h"
#include "import-int.h"

struct change {
	char *name, *tag;     /* tag: the first tag after it (set for reworked ones) */
	struct import_mig *m;
	int line;
};

/* The migration a dependency names: the last earlier change called so, or
 * the one before TAG for name@TAG. */
static struct import_mig *resolve(struct change *c, size_t n, const char *dep)
{
	const char *at = strchr(dep, '@');
	size_t nl = at ? (size_t)(at - dep) : strlen(dep), i;

	for (i = n; i-- > 0;)
		if (strlen(c[i].name) == nl && !strncmp(c[i].name, dep, nl) &&
		    (!at || (c[i].tag && !strcmp(c[i].tag, at + 1))))
			return c[i].m;
	return NULL;
}

static void deps(struct import *im, struct change *c, size_t n, const char *list, size_t len,
		 int line)
{
	char *s = xstrndup(list, len), *p = s;

	while (*p) {
		char *w = p, *name;
		struct import_mig *d;

		while (*p && !isspace((unsigned char)*p))
			p++;
		if (*p)
			*p++ = '\0';
		if (!*w)
			continue;
		if (*w == '!') {
			import_count(im, "conflicts", 1, 0);
			import_mig_report(im, c[n].m, "sqitch.plan", IMPORT_NOTE,
					  "line %d: conflict %s not imported: cairn orders by requires and has no conflicts",
					  line, w);
		} else if (strchr(w, ':')) {
			import_count(im, "cross-project dependencies", 1, 0);
			import_mig_report(im, c[n].m, "sqitch.plan", IMPORT_ERROR,
					  "line %d: dependency %s is on another project, which cairn cannot see",
					  line, w);
		} else if (!(d = resolve(c, n, w))) {
			import_mig_report(im, c[n].m, "sqitch.plan", IMPORT_ERROR,
					  "line %d: dependency %s names no earlier change", line, w);
		} else {
			name = xasprintf("%s_%s", d->version, d->slug);
			strlist_push(&c[n].m->requires, name);
			free(name);
			import_count(im, "dependencies (requires:)", 1, 1);
		}
	}
	free(s);
}

static void scripts(struct import *im, struct change *c)
{
	static const char *const kinds[][3] = {
		{ "deploy", "up.sql", "deploy scripts" },
		{ "revert", "down.sql", "revert scripts" },
		{ "verify", NULL, "verify scripts" },
	};
	size_t k;

	for (k = 0; k < 3; k++) {
		char *rel = c->tag ? xasprintf("%s/%s@%s.sql", kinds[k][0], c->name, c->tag)
				   : xasprintf("%s/%s.sql", kinds[k][0], c->name);
		char *path = path_join(im->dir, rel);

		if (!path_exists(path)) {
			if (k == 0)
				import_mig_report(im, c->m, rel, IMPORT_ERROR, "missing deploy script");
		} else if (kinds[k][1]) {
			import_take(im, c->m, rel, kinds[k][1], kinds[k][2]);
		} else {
			/* sqitch's verify passes unless it errors (SELECT ... WHERE FALSE
			 * is a typical one); cairn's verify.sql fails on an empty result */
			import_count(im, kinds[k][2], 1, 0);
			import_report(im, rel, IMPORT_NOTE,
				      "not imported: a sqitch verify script passes unless it errors, while cairn's verify.sql also fails on a false or empty result; rewrite it as a query returning true if you want it");
		}
		free(path);
		free(rel);
	}
}

/* One change line: "name [deps] time planner # note". */
static void change_line(struct import *im, struct change **cs, size_t *n, size_t *alloc,
			const char *s, const char *e, int line)
{
	const char *w = s, *br, *hash;
	char version[16], *slug;
	struct change *c;

	while (s < e && !isspace((unsigned char)*s) && *s != '[')
		s++;
	ALLOC_GROW(*cs, *n + 1, *alloc);
	c = &(*cs)[*n];
	memset(c, 0, sizeof(*c));
	c->name = xstrndup(w, (size_t)(s - w));
	c->line = line;
	if (snprintf(version, sizeof(version), "%04zu", *n + 1) >= (int)sizeof(version))
		version[0] = '\0';
	slug = import_slug(c->name, strlen(c->name));
	c->m = import_mig_get(im, version, slug, "sqitch.plan");
	free(slug);
	hash = memchr(s, '#', (size_t)(e - s));
	if (hash) {
		const char *d = hash + 1;

		while (d < e && isspace((unsigned char)*d))
			d++;
		if (d < e)
			c->m->description = xstrndup(d, (size_t)(e - d));
	}
	br = memchr(s, '[', (size_t)(e - s));
	if (br && (!hash || br < hash)) {
		const char *close = memchr(br, ']', (size_t)(e - br));

		if (close)
			deps(im, *cs, *n, br + 1, (size_t)(close - br - 1), line);
	}
	import_count(im, "plan changes", 1, 1);
	(*n)++;
}

int import_sqitch(struct import *im)
{
	struct buf plan = BUF_INIT;
	struct change *cs = NULL;
	size_t n = 0, alloc = 0, i, j, tagged = 0;
	const char *s, *end;
	int line = 0;

	if (import_read_file(im, "sqitch.plan", &plan) < 0)
		return -1;
	s = plan.ptr ? plan.ptr : "";
	end = s + plan.len;
	while (s < end) {
		const char *eol = memchr(s, '\n', (size_t)(end - s)), *t = s;

		eol = eol ? eol : end;
		line++;
		while (t < eol && isspace((unsigned char)*t))
			t++;
		if (t == eol || *t == '#' || *t == '%') {
			;
		} else if (*t == '@') {
			const char *te = t + 1;

			while (te < eol && !isspace((unsigned char)*te))
				te++;
			/* every change since the last tag is "as of" this tag */
			for (i = tagged; i < n; i++)
				cs[i].tag = xstrndup(t + 1, (size_t)(te - t - 1));
			tagged = n;
			import_count(im, "tags", 1, 0);
			import_report(im, "sqitch.plan", IMPORT_NOTE,
				      "line %d: tag %.*s not imported: cairn's releases are git refs (release_refs in cairn.yaml)",
				      line, (int)(te - t), t);
		} else {
			change_line(im, &cs, &n, &alloc, t, eol, line);
		}
		s = eol < end ? eol + 1 : end;
	}
	/* only a change reworked later keeps its @TAG file name */
	for (i = 0; i < n; i++) {
		int reworked = 0;

		for (j = i + 1; j < n; j++)
			reworked |= !strcmp(cs[i].name, cs[j].name);
		if (!reworked) {
			free(cs[i].tag);
			cs[i].tag = NULL;
		} else {
			import_count(im, "reworked changes", 1, 1);
		}
		scripts(im, &cs[i]);
	}
	for (i = 0; i < n; i++) {
		free(cs[i].name);
		free(cs[i].tag);
	}
	free(cs);
	buf_release(&plan);
	return 0;
}
