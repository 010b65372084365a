/* cairn-apply adopt: the tool's rows matched to the bundle's migrations
 * (adopt-int.h). The bundle's migrations are sorted once by the version
 * the tool knows them by (cairn's, or the Flyway version a dotted
 * project's names keep), and each row is found by binary search, so
 * 20,000 rows against 20,000 migrations take O(n log n), not n^2. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/error.h"
#include "../lib/sha256.h"
#include "../lib/util.h"
#include "../lib/yaml.h"
#include "../verify/bundle.h"
#include "adopt-int.h"

void adopt_problem(struct adopt_plan *p, const char *fmt, ...)
{
	va_list ap;
	char line[CAIRN_ERRMSG_MAX];
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	ALLOC_GROW(p->problems, p->nproblems + 1, p->aproblems);
	p->problems[p->nproblems++] = xstrdup(line); /* a cut line still says what */
}

/* ---- undone rows ------------------------------------------------------ */

static const char *strip0(const char *v)
{
	while (*v == '0' && v[1])
		v++;
	return v;
}

/* Same version: equal exactly when version_cmp says so. */
static int same_version(const struct adopt_entry *x, const struct adopt_entry *y)
{
	return !strcmp(strip0(x->version), strip0(y->version));
}

/* By version, then by place in the tool's log. */
static int cmp_entry(const void *a, const void *b)
{
	const struct adopt_entry *x = *(const struct adopt_entry *const *)a;
	const struct adopt_entry *y = *(const struct adopt_entry *const *)b;
	int c = strcmp(strip0(x->version), strip0(y->version));

	if (c)
		return c;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

void adopt_settle_undos(struct adopt_reader *rd)
{
	struct adopt_entry **v = xcalloc(rd->n + 1, sizeof(*v));
	size_t i, n = 0, j;

	for (i = 0; i < rd->n; i++)
		if (rd->e[i].version)
			v[n++] = &rd->e[i];
	qsort(v, n, sizeof(*v), cmp_entry);
	for (i = n; i > 0; i = j) {
		int undone = 0;

		/* one version's rows, the last first */
		for (j = i; j > 0 && same_version(v[j - 1], v[i - 1]); j--) {
			if (v[j - 1]->undo)
				undone = 1;
			else if (undone)
				v[j - 1]->gone = 1;
		}
	}
	free(v);
}

/* ---- the bundle's migrations by version ------------------------------- */

/* sqitch: the migration's name is VERSION_SLUG, the slug made from the
 * change's name by cairn import (lower case, other characters as '_'). */
static int sqitch_name_matches(const char *mig, const char *change)
{
	const char *s = strchr(mig, '_');

	if (!s)
		return 0;
	for (s++; *change; change++) {
		unsigned char c = (unsigned char)*change;

		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-') {
			if (*s++ != (char)c)
				return 0;
		} else if (c >= 'A' && c <= 'Z') {
			if (*s++ != (char)(c - 'A' + 'a'))
				return 0;
		} else if (*s == '_') {
			s++;
		}
	}
	return *s == '\0';
}

/* The Flyway version a migration's name keeps ("10203_v1-2-3_add_x"
 * keeps 1-2-3: cairn import's mapping of a dotted project), or NULL. */
static const char *flyway_tag(const char *name, size_t *len)
{
	const char *t = strchr(name, '_');

	if (!t || t[1] != 'v')
		return NULL;
	t += 2;
	*len = strspn(t, "0123456789-");
	if (!*len || (t[*len] && t[*len] != '_'))
		return NULL;
	return t;
}

/* The next number of a version's parts (separated by . _ or -), leading
 * zeros skipped; "" at the end. Trailing parts of 0 count as none, as in
 * Flyway (1.0 is 1). */
static const char *next_part(const char **p, const char *end, size_t *len)
{
	const char *s;

	while (*p < end && (**p == '.' || **p == '_' || **p == '-'))
		(*p)++;
	while (*p + 1 < end && **p == '0' && (*p)[1] >= '0' && (*p)[1] <= '9')
		(*p)++;
	s = *p;
	while (*p < end && **p >= '0' && **p <= '9')
		(*p)++;
	*len = (size_t)(*p - s);
	if (*len == 1 && *s == '0') {
		const char *q = *p;

		while (q < end && (*q == '0' || *q == '.' || *q == '_' || *q == '-'))
			q++;
		if (q == end)
			*len = 0;
	}
	return s;
}

/* Flyway's order: part by part, as numbers; -1, 0 or 1. */
static int flyway_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	const char *ae = a + alen, *be = b + blen, *x, *y;
	size_t xl, yl;
	int c;

	do {
		x = next_part(&a, ae, &xl);
		y = next_part(&b, be, &yl);
		if (!xl || !yl) /* a missing part is 0 */
			c = xl ? 1 : yl ? -1 : 0;
		else if (xl != yl)
			c = xl < yl ? -1 : 1;
		else
			c = memcmp(x, y, xl);
		if (c)
			return c < 0 ? -1 : 1;
	} while (xl && yl);
	return 0;
}

struct key {
	const char *k;  /* cairn's version, or the Flyway version the name keeps */
	size_t len;
	size_t i;       /* the migration's place in the bundle */
};

struct index {
	const struct apply_set *set;
	struct key *keys; /* sorted */
	int dotted;       /* Flyway, and every name keeps a Flyway version */
};

static int key_cmp(const struct index *x, const struct key *k, const char *v, size_t vl)
{
	return x->dotted ? flyway_cmp(k->k, k->len, v, vl) : version_cmp(k->k, v);
}

static int cmp_dotted(const void *a, const void *b)
{
	const struct key *x = a, *y = b;
	int c = flyway_cmp(x->k, x->len, y->k, y->len);

	return c ? c : x->i < y->i ? -1 : x->i > y->i;
}

static int cmp_version(const void *a, const void *b)
{
	const struct key *x = a, *y = b;
	int c = version_cmp(x->k, y->k);

	return c ? c : x->i < y->i ? -1 : x->i > y->i;
}

static void index_build(struct index *x, const struct apply_set *set, enum toolsum sum)
{
	size_t i;

	x->set = set;
	x->keys = xcalloc(set->n + 1, sizeof(*x->keys));
	x->dotted = sum == TOOLSUM_FLYWAY_CRC32 && set->n > 0;
	for (i = 0; i < set->n && x->dotted; i++)
		x->dotted = flyway_tag(set->migs[i].name, &x->keys[i].len) != NULL;
	for (i = 0; i < set->n; i++) {
		struct key *k = &x->keys[i];

		k->i = i;
		if (x->dotted) {
			k->k = flyway_tag(set->migs[i].name, &k->len);
		} else {
			k->k = set->migs[i].version;
			k->len = strlen(k->k);
		}
	}
	qsort(x->keys, set->n, sizeof(*x->keys), x->dotted ? cmp_dotted : cmp_version);
}

/* v can be compared with the keys: any Flyway version in a dotted
 * project, digits otherwise (cairn's versions are digits). */
static int comparable(const struct index *x, const char *v)
{
	return x->dotted || (*v && strspn(v, "0123456789") == strlen(v));
}

/* How many keys sort below v (or at or below it, with at). */
static size_t bound(const struct index *x, const char *v, int at)
{
	size_t lo = 0, hi = x->set->n, vl = strlen(v);

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = key_cmp(x, &x->keys[mid], v, vl);

		if (c < 0 || (at && c == 0))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The first migration (in the bundle's order) at version v, or -1. */
static long find_version(const struct index *x, const char *v)
{
	size_t at;

	if (!comparable(x, v))
		return -1;
	at = bound(x, v, 0);
	if (at < x->set->n && !key_cmp(x, &x->keys[at], v, strlen(v)))
		return (long)x->keys[at].i;
	return -1;
}

/* Marks in taken[] the migrations of the bundle below e's version (or at
 * or below it: a Flyway baseline). */
static void take_below(struct adopt_plan *p, const struct index *x, const struct adopt_entry *e,
		       char *taken, char **source)
{
	size_t j, n;

	if (!comparable(x, e->version)) {
		adopt_problem(p, "%s: version %s cannot be placed among the bundle's versions",
			      e->source, e->version);
		return;
	}
	n = bound(x, e->version, e->below != 1);
	for (j = 0; j < n; j++) {
		size_t i = x->keys[j].i;

		if (taken[i])
			continue;
		taken[i] = 1;
		source[i] = xasprintf("%s (%s version %s)", e->source,
				      e->below == 1 ? "below" : "at or below the baseline",
				      e->version);
	}
}

/* ---- checksums -------------------------------------------------------- */

/* migration.yaml's imported: (cairn import), when it is this tool's and
 * the up script the bundle runs here is still the one import wrote: the
 * tool's checksum of the original file, which import rewrote (a wrapper
 * stripped, ...). NULL otherwise, with *why saying what stood in the way. */
static char *imported_sum(const struct apply_mig *m, const char *tool, const char **why)
{
	const struct apply_sql *q = apply_mig_sql(m);
	const struct bundle_file *f = NULL;
	struct ynode *root = NULL, *im;
	struct buf b = BUF_INIT;
	char hex[SHA256_HEX_LEN + 1];
	const struct ynode *from, *sum, *up;
	char *out = NULL;
	size_t i;

	*why = NULL;
	for (i = 0; m->bm && m->bundle && i < m->bm->nfiles; i++)
		if (!strcmp(m->bm->files[i].name, "migration.yaml"))
			f = &m->bm->files[i];
	if (!f || bundle_read(m->bundle, f, &b) < 0 ||
	    yaml_load(&root, b.ptr ? b.ptr : "", b.len, "migration.yaml") < 0 || !root ||
	    root->type != YNODE_MAP || !(im = ynode_get(root, "imported")) ||
	    im->type != YNODE_MAP)
		goto out;
	from = ynode_get(im, "from");
	sum = ynode_get(im, "checksum");
	up = ynode_get(im, "up_sha256");
	if (!from || from->type != YNODE_SCALAR || strcmp(from->str, tool) || !sum ||
	    sum->type != YNODE_SCALAR || !up || up->type != YNODE_SCALAR)
		goto out;
	if (sha256_hex(q->up ? q->up : "", q->up ? q->up_len : 0, hex) || strcmp(hex, up->str)) {
		*why = "its up script changed after cairn import (not the up_sha256 that "
		       "migration.yaml's imported: records)";
		goto out;
	}
	out = xstrdup(sum->str);
out:
	ynode_free(root);
	buf_release(&b);
	return out;
}

static const char *tool_way_out(const char *tool)
{
	if (!strcmp(tool, "flyway"))
		return "'flyway repair' rewrites its checksums";
	if (!strcmp(tool, "prisma"))
		return "'prisma migrate resolve' marks what was applied";
	return "'sqitch rebase' or 'sqitch rework' brings it in line";
}

static void check_sum(struct adopt_plan *p, const char *tool, enum toolsum kind,
		      const struct adopt_entry *e, const struct apply_mig *m)
{
	const struct apply_sql *q = apply_mig_sql(m);
	char *sum, *orig;
	const char *why;

	if (kind == TOOLSUM_NONE || !e->checksum)
		return;
	sum = toolsum(kind, q->up, q->up ? q->up_len : 0);
	if (sum && !strcmp(sum, e->checksum)) {
		free(sum);
		return;
	}
	orig = imported_sum(m, tool, &why);
	if (orig && !strcmp(orig, e->checksum)) {
		free(orig);
		free(sum);
		return;
	}
	if (orig && sum && !strcmp(orig, sum)) { /* said once is enough */
		free(orig);
		orig = NULL;
	}
	adopt_problem(p, "%s: version %s: the checksum differs: %s's table has %s, the bundle's "
		      "%s gives %s%s%s%s%s%s%s; the script %s applied is not the bundle's: build the "
		      "bundle from the file %s ran (cairn import records its checksum), or, if the "
		      "database really holds what the bundle's script makes, bring %s's table in "
		      "line first (%s)", e->source, m->version, tool, e->checksum,
		      q->up_path ? q->up_path : "up script", sum ? sum : "nothing",
		      orig ? " (cairn import recorded " : "", orig ? orig : "",
		      orig ? " for the original file)" : "", why ? " (" : "", why ? why : "",
		      why ? ")" : "", tool, tool, tool,
		      tool_way_out(tool));
	free(orig);
	free(sum);
}

/* ---- matching --------------------------------------------------------- */

void adopt_match(struct adopt_plan *p, const char *tool, enum toolsum sum,
		 const struct apply_set *set, struct adopt_reader *rd, char *taken, char **source)
{
	struct index x;
	size_t i, k = 0;
	long at;

	index_build(&x, set, sum);
	for (i = 0; i < rd->n; i++) {
		struct adopt_entry *e = &rd->e[i];

		if (e->gone || e->undo)
			continue;
		if (!e->version) { /* sqitch: the plan's order */
			while (k < set->n && taken[k])
				k++;
			if (k >= set->n || !sqitch_name_matches(set->migs[k].name, e->name)) {
				adopt_problem(p, "%s: the bundle has no migration for this change at "
					      "position %zu (found %s)", e->source, k + 1,
					      k < set->n ? set->migs[k].name : "none");
				continue;
			}
			at = (long)k;
		} else if (e->below == 2) { /* a baseline: no migration of its own needed */
			take_below(p, &x, e, taken, source);
			continue;
		} else if ((at = find_version(&x, e->version)) < 0) {
			adopt_problem(p, "%s: %s applied version %s, which the bundle does not have",
				      e->source, tool, e->version);
			continue;
		}
		check_sum(p, tool, sum, e, &set->migs[at]);
		if (!taken[at]) {
			taken[at] = 1;
			source[at] = xstrdup(e->source);
		}
		if (e->below)
			take_below(p, &x, e, taken, source);
	}
	free(x.keys);
}
