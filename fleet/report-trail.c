/* What the report reads beside the databases' status: bundles (with the
 * approvals and receipts they carry) and audit trails (the schema's
 * evolution over time). */
#include <stdlib.h>
#include <string.h>

#include "../lib/error.h"
#include "../lib/yaml.h"
#include "../verify/bundle-types.h"
#include "report.h"

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

static int same(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

static const char *stmt_key_at(const void *ctx, size_t pos)
{
	return ((const struct report *)ctx)->stmts[pos].key;
}

/* Each field present ("+VALUE") or absent ("-"), unit-separated. */
static void key_field(struct buf *k, const char *v)
{
	if (v)
		buf_printf(k, "+%s\x1f", v);
	else
		buf_puts(k, "-\x1f");
}

static void stmt_add(struct report *r, const char *id, const struct bundle_statement *s)
{
	struct report_stmt *t;
	struct buf k = BUF_INIT;
	char *key;

	/* the copies of one bundle (a fleet's --receipt-dir) carry the same
	 * approvals: each counts once */
	key_field(&k, id);
	key_field(&k, s->type);
	key_field(&k, s->environment);
	key_field(&k, s->key_id);
	key_field(&k, s->time);
	key_field(&k, s->database);
	key = buf_detach(&k, NULL);
	if (fleet_index_find(&r->stmt_ix, key, stmt_key_at, r) != (size_t)-1) {
		free(key);
		return;
	}
	r->stmts = xrealloc(r->stmts, (r->nstmts + 1) * sizeof(*r->stmts));
	t = &r->stmts[r->nstmts];
	t->bundle = xstrdup(id);
	t->type = xstrdup(s->type);
	t->environment = dup_or_null(s->environment);
	t->signer = dup_or_null(s->signer);
	t->key_id = dup_or_null(s->key_id);
	t->time = dup_or_null(s->time);
	t->database = dup_or_null(s->database);
	t->member = dup_or_null(s->member);
	t->key = key;
	t->valid = s->valid;
	t->trusted = s->trusted;
	fleet_index_add(&r->stmt_ix, key, r->nstmts++);
}

static const char *bundle_id_at(const void *ctx, size_t pos)
{
	return ((const struct report *)ctx)->bundles[pos].id;
}

void report_add_bundle(struct report *r, const struct bundle *b, const char *name)
{
	struct report_bundle *x;
	size_t i;

	r->bundles = xrealloc(r->bundles, (r->nbundles + 1) * sizeof(*r->bundles));
	x = &r->bundles[r->nbundles++];
	memset(x, 0, sizeof(*x));
	x->source = xstrdup(name);
	x->id = xstrdup(b->id);
	if (fleet_index_find(&r->bundle_ix, x->id, bundle_id_at, r) == (size_t)-1)
		fleet_index_add(&r->bundle_ix, x->id, r->nbundles - 1);
	x->name = dup_or_null(b->name);
	x->built = dup_or_null(b->build_time);
	x->nmigs = b->nmigs;
	x->migs = xcalloc(b->nmigs ? b->nmigs : 1, sizeof(*x->migs));
	x->envs = xcalloc(b->nmigs ? b->nmigs : 1, sizeof(*x->envs));
	for (i = 0; i < b->nmigs; i++) {
		const struct bundle_migration *m = &b->migs[i];
		size_t j;

		x->migs[i] = xstrdup(m->name);
		for (j = 0; j < m->nenvironments; j++) {
			char *n = x->envs[i] ? xasprintf("%s, %s", x->envs[i], m->environments[j])
					     : xstrdup(m->environments[j]);

			free(x->envs[i]);
			x->envs[i] = n;
		}
	}
	for (i = 0; i < b->nstatements; i++) {
		const struct bundle_statement *s = &b->statements[i];

		/* a statement naming another bundle counts for nothing here */
		if (s->type && strcmp(s->type, "build") && same(s->bundle_id, b->id))
			stmt_add(r, b->id, s);
	}
}

static const char *field(const struct ynode *map, const char *key)
{
	const struct ynode *v = ynode_get(map, key);

	if (!v || v->type != YNODE_SCALAR || ynode_is_null(v))
		return NULL;
	return v->str;
}

static const char *step_key_at(const void *ctx, size_t pos)
{
	return ((const struct report *)ctx)->steps[pos].key;
}

static size_t step_find(const struct report *r, const char *env, const char *bundle)
{
	char *key = xasprintf("%s\t%s", env, bundle);
	size_t pos = fleet_index_find(&r->step_ix, key, step_key_at, r);

	free(key);
	return pos;
}

static struct report_step *step_of(struct report *r, const char *env, const char *bundle)
{
	size_t pos = step_find(r, env, bundle);
	struct report_step *s;

	if (pos != (size_t)-1)
		return &r->steps[pos];
	r->steps = xrealloc(r->steps, (r->nsteps + 1) * sizeof(*r->steps));
	s = &r->steps[r->nsteps];
	memset(s, 0, sizeof(*s));
	s->environment = xstrdup(env);
	s->bundle = xstrdup(bundle);
	s->key = xasprintf("%s\t%s", env, bundle);
	fleet_index_add(&r->step_ix, s->key, r->nsteps);
	return &r->steps[r->nsteps++];
}

/* The statements an apply row's detail names as counted: after "policy:",
 * entries "TYPE MEMBER (SIGNER KEYID)" separated by "; " (policy/bundle.c,
 * make_evidence); "none", "ignored: ..." and what follows the evidence
 * (a hook's note, the row's facts{...}) match no entry and are skipped. */
static void step_counted(struct report_step *s, const char *detail)
{
	const char *p = detail ? strstr(detail, "policy:") : NULL;

	for (p = p ? p + 7 : NULL; p && *p; p = strchr(p, ';') ? strchr(p, ';') + 1 : NULL) {
		const char *type, *member, *open, *close, *kid;
		char *c;
		size_t i;

		while (*p == ' ')
			p++;
		type = p;
		member = strchr(type, ' ');
		open = member ? strchr(member + 1, ' ') : NULL;
		close = open ? strchr(open, ')') : NULL;
		if (!open || open[1] != '(' || !close || memchr(type, ';', (size_t)(close - type)))
			continue;
		for (kid = close; kid > open && kid[-1] != ' '; kid--)
			;
		if (kid <= open + 2)
			continue;
		c = xasprintf("%.*s\t%.*s\t%.*s", (int)(member - type), type,
			      (int)(open - member - 1), member + 1, (int)(close - kid), kid);
		for (i = 0; i < s->ncounted && strcmp(s->counted[i], c); i++)
			;
		if (i < s->ncounted) {
			free(c);
			continue;
		}
		s->counted = xrealloc(s->counted, (s->ncounted + 1) * sizeof(*s->counted));
		s->counted[s->ncounted++] = c;
	}
}

int report_add_history(struct report *r, const struct ynode *root, const char *name)
{
	const struct ynode *rows = ynode_get(root, "rows");
	char *source = xstrdup(name);
	size_t i;

	if (!rows || rows->type != YNODE_SEQ) {
		free(source);
		cairn_error_set("%s: not the JSON of 'cairn-apply history --format json' (no rows)",
				name);
		return -1;
	}
	if (report_trail_add(r, root, name) < 0) {
		free(source);
		return -1;
	}
	for (i = 0; i < rows->n; i++) {
		const struct ynode *row = rows->items[i];
		const char *action = field(row, "action"), *at = field(row, "at");
		const char *env = field(row, "environment"), *bundle = field(row, "bundle");
		struct report_step *s;

		if (row->type != YNODE_MAP || !action || !env || !*env || !bundle || !*bundle)
			continue;
		if (strcmp(action, "apply") && strcmp(action, "rollback") &&
		    strcmp(action, "apply-failed"))
			continue;
		s = step_of(r, env, bundle);
		if (!strcmp(action, "apply")) {
			s->applied++;
			step_counted(s, field(row, "detail"));
		} else if (!strcmp(action, "rollback")) {
			s->rolled_back++;
		} else {
			s->failed++;
		}
		if (s->last_source != source) {
			s->databases++;
			s->last_source = source;
		}
		if (at && (!s->first_at || strcmp(at, s->first_at) < 0)) {
			free(s->first_at);
			s->first_at = xstrdup(at);
		}
		if (at && (!s->last_at || strcmp(at, s->last_at) > 0)) {
			free(s->last_at);
			s->last_at = xstrdup(at);
		}
	}
	/* counted once per trail: the next one is another database */
	for (i = 0; i < r->nsteps; i++)
		if (r->steps[i].last_source == source)
			r->steps[i].last_source = NULL;
	free(source);
	return 0;
}

static int env_in(const char *list, const char *env)
{
	size_t n = strlen(env);
	const char *p;

	if (!list)
		return 1;
	for (p = list; (p = strstr(p, env)); p += n)
		if ((p == list || p[-1] == ' ') && (p[n] == ',' || !p[n]))
			return 1;
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_step(const void *a, const void *b)
{
	const struct report_step *x = a, *y = b;
	int c = strcmp(x->first_at ? x->first_at : "", y->first_at ? y->first_at : "");

	/* whole keys, so that the order of the inputs does not show */
	if (!c)
		c = strcmp(x->environment, y->environment);
	return c ? c : strcmp(x->bundle, y->bundle);
}

/* d's pending migrations: those of bundle b for d's environment that its
 * books do not hold applied. */
static void db_pending(struct report_db *d, const struct report_bundle *b)
{
	struct buf l = BUF_INIT;
	size_t i;

	free(d->pending_list);
	d->pending_list = NULL;
	d->pending = 0;
	d->pending_from_bundle = 1;
	for (i = 0; i < b->nmigs; i++) {
		if (!env_in(b->envs[i], d->environment) ||
		    (d->ndone && bsearch(&b->migs[i], d->done, d->ndone, sizeof(*d->done), cmp_str)))
			continue;
		buf_printf(&l, "%s%s", d->pending ? ", " : "", b->migs[i]);
		d->pending++;
	}
	if (d->pending)
		d->pending_list = buf_detach(&l, NULL);
	buf_release(&l);
}

/* By build time; built in the same second, the one with more migrations
 * (a later release holds its predecessor's), then the one named last. */
static int newer(const struct report_bundle *a, const struct report_bundle *b)
{
	int c = strcmp(a->built ? a->built : "", b->built ? b->built : "");

	return c ? c > 0 : a->nmigs >= b->nmigs;
}

/* The third key of stmt_order: a receipt's database, else "". */
static const char *stmt_db(const struct report_stmt *s)
{
	return !strcmp(s->type, "receipt") && s->database ? s->database : "";
}

static int stmt_cmp3(const struct report_stmt *s, const char *bundle, const char *env,
		     const char *db)
{
	int c = strcmp(s->bundle, bundle);

	if (!c)
		c = strcmp(s->environment ? s->environment : "", env);
	return c ? c : strcmp(stmt_db(s), db);
}

static int cmp_stmt_order(const void *a, const void *b, void *ctx)
{
	const struct report *r = ctx;
	size_t i = *(const size_t *)a, j = *(const size_t *)b;
	const struct report_stmt *y = &r->stmts[j];
	int c = stmt_cmp3(&r->stmts[i], y->bundle, y->environment ? y->environment : "",
			  stmt_db(y));

	return c ? c : (i > j) - (i < j);
}

void report_finish(struct report *r)
{
	const struct report_bundle *newest = NULL;
	size_t i;

	for (i = 0; i < r->nbundles; i++)
		if (!newest || newer(&r->bundles[i], newest))
			newest = &r->bundles[i];
	report_dbs_sort(r);
	for (i = 0; i < r->ndbs; i++) {
		struct report_db *d = &r->dbs[i];

		if (d->ndone)
			qsort(d->done, d->ndone, sizeof(*d->done), cmp_str);
		if (newest)
			db_pending(d, newest);
	}
	if (r->nsteps)
		qsort(r->steps, r->nsteps, sizeof(*r->steps), cmp_step);
	report_trails_finish(r);
	fleet_index_release(&r->step_ix);
	for (i = 0; i < r->nsteps; i++)
		fleet_index_add(&r->step_ix, r->steps[i].key, i);
	free(r->stmt_order);
	r->stmt_order = xcalloc(r->nstmts ? r->nstmts : 1, sizeof(*r->stmt_order));
	for (i = 0; i < r->nstmts; i++)
		r->stmt_order[i] = i;
	qsort_r(r->stmt_order, r->nstmts, sizeof(*r->stmt_order), cmp_stmt_order, r);
}

const struct report_bundle *report_bundle_of(const struct report *r, const char *id)
{
	size_t pos = id ? fleet_index_find(&r->bundle_ix, id, bundle_id_at, r) : (size_t)-1;

	return pos == (size_t)-1 ? NULL : &r->bundles[pos];
}

/* Whether the step's apply rows name s as counted. */
static int counted_in(const struct report_step *st, const struct report_stmt *s)
{
	size_t i, tl = strlen(s->type), ml = s->member ? strlen(s->member) : 0;
	const char *c;

	if (!s->member || !s->key_id)
		return 0;
	for (i = 0; i < st->ncounted; i++) {
		c = st->counted[i];
		if (!strncmp(c, s->type, tl) && c[tl] == '\t' && !strncmp(c + tl + 1, s->member, ml) &&
		    c[tl + 1 + ml] == '\t' && !strcmp(c + tl + 2 + ml, s->key_id))
			return 1;
	}
	return 0;
}

/* Appends to idx the statements of d's bundle and environment whose third
 * key is db, that count for d (see report_db_stmts). */
static size_t db_range(const struct report *r, const struct report_db *d, const char *db,
		       const struct report_step *st, size_t *idx, size_t n, size_t max)
{
	size_t lo = 0, hi = r->nstmts;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (stmt_cmp3(&r->stmts[r->stmt_order[mid]], d->bundle, d->environment, db) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < r->nstmts && n < max; lo++) {
		const struct report_stmt *s = &r->stmts[r->stmt_order[lo]];

		if (stmt_cmp3(s, d->bundle, d->environment, db))
			break;
		if (!s->environment)
			continue;
		if (!strcmp(s->type, "approval") &&
		    (st ? !counted_in(st, s)
			: s->time && d->brought_at && strcmp(s->time, d->brought_at) > 0))
			continue;
		idx[n++] = r->stmt_order[lo];
	}
	return n;
}

static int cmp_size(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	return (x > y) - (x < y);
}

size_t report_db_stmts(const struct report *r, const struct report_db *d, size_t *idx,
		       size_t max, int *by_audit)
{
	size_t pos = d->bundle ? step_find(r, d->environment, d->bundle) : (size_t)-1;
	const struct report_step *st = pos == (size_t)-1 ? NULL : &r->steps[pos];
	size_t n;

	/* a trail whose rows for this bundle include no apply says nothing of
	 * what counted */
	if (st && !st->applied)
		st = NULL;
	*by_audit = !!st;
	if (!d->bundle || !r->stmt_order)
		return 0;
	n = db_range(r, d, "", st, idx, 0, max);
	if (*d->database)
		n = db_range(r, d, d->database, st, idx, n, max);
	qsort(idx, n, sizeof(*idx), cmp_size);
	return n;
}

void report_trail_release(struct report *r)
{
	size_t i, j;

	for (i = 0; i < r->nbundles; i++) {
		struct report_bundle *b = &r->bundles[i];

		for (j = 0; j < b->nmigs; j++) {
			free(b->migs[j]);
			free(b->envs[j]);
		}
		free(b->migs);
		free(b->envs);
		free(b->source);
		free(b->id);
		free(b->name);
		free(b->built);
	}
	for (i = 0; i < r->nstmts; i++) {
		struct report_stmt *s = &r->stmts[i];

		free(s->bundle);
		free(s->type);
		free(s->environment);
		free(s->signer);
		free(s->key_id);
		free(s->time);
		free(s->database);
		free(s->member);
		free(s->key);
	}
	for (i = 0; i < r->nsteps; i++) {
		free(r->steps[i].environment);
		free(r->steps[i].bundle);
		free(r->steps[i].first_at);
		free(r->steps[i].last_at);
		free(r->steps[i].key);
		for (j = 0; j < r->steps[i].ncounted; j++)
			free(r->steps[i].counted[j]);
		free(r->steps[i].counted);
	}
	free(r->bundles);
	free(r->stmts);
	free(r->steps);
	free(r->stmt_order);
	fleet_index_release(&r->stmt_ix);
	fleet_index_release(&r->bundle_ix);
	fleet_index_release(&r->step_ix);
}
