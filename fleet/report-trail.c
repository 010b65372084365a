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

static void stmt_add(struct report *r, const char *id, const struct bundle_statement *s)
{
	struct report_stmt *t;
	size_t i;

	/* the copies of one bundle (a fleet's --receipt-dir) carry the same
	 * approvals: each counts once */
	for (i = 0; i < r->nstmts; i++) {
		t = &r->stmts[i];
		if (!strcmp(t->bundle, id) && same(t->type, s->type) && same(t->environment, s->environment) &&
		    same(t->key_id, s->key_id) && same(t->time, s->time) &&
		    same(t->database, s->database))
			return;
	}
	r->stmts = xrealloc(r->stmts, (r->nstmts + 1) * sizeof(*r->stmts));
	t = &r->stmts[r->nstmts++];
	t->bundle = xstrdup(id);
	t->type = xstrdup(s->type);
	t->environment = dup_or_null(s->environment);
	t->signer = dup_or_null(s->signer);
	t->key_id = dup_or_null(s->key_id);
	t->time = dup_or_null(s->time);
	t->database = dup_or_null(s->database);
	t->valid = s->valid;
	t->trusted = s->trusted;
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

static struct report_step *step_of(struct report *r, const char *env, const char *bundle)
{
	size_t i;

	for (i = 0; i < r->nsteps; i++)
		if (!strcmp(r->steps[i].environment, env) && !strcmp(r->steps[i].bundle, bundle))
			return &r->steps[i];
	r->steps = xrealloc(r->steps, (r->nsteps + 1) * sizeof(*r->steps));
	memset(&r->steps[r->nsteps], 0, sizeof(r->steps[0]));
	r->steps[r->nsteps].environment = xstrdup(env);
	r->steps[r->nsteps].bundle = xstrdup(bundle);
	return &r->steps[r->nsteps++];
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
		if (!strcmp(action, "apply"))
			s->applied++;
		else if (!strcmp(action, "rollback"))
			s->rolled_back++;
		else
			s->failed++;
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

	return c ? c : strcmp(x->environment, y->environment);
}

/* d's pending migrations: those of bundle b for d's environment that its
 * books do not hold applied. */
static void db_pending(struct report_db *d, const struct report_bundle *b)
{
	size_t i;

	free(d->pending_list);
	d->pending_list = NULL;
	d->pending = 0;
	d->pending_from_bundle = 1;
	for (i = 0; i < b->nmigs; i++) {
		char *n;

		if (!env_in(b->envs[i], d->environment) ||
		    (d->ndone && bsearch(&b->migs[i], d->done, d->ndone, sizeof(*d->done), cmp_str)))
			continue;
		n = d->pending_list ? xasprintf("%s, %s", d->pending_list, b->migs[i])
				    : xstrdup(b->migs[i]);
		free(d->pending_list);
		d->pending_list = n;
		d->pending++;
	}
}

/* By build time; built in the same second, the one with more migrations
 * (a later release holds its predecessor's), then the one named last. */
static int newer(const struct report_bundle *a, const struct report_bundle *b)
{
	int c = strcmp(a->built ? a->built : "", b->built ? b->built : "");

	return c ? c > 0 : a->nmigs >= b->nmigs;
}

void report_finish(struct report *r)
{
	const struct report_bundle *newest = NULL;
	size_t i;

	for (i = 0; i < r->nbundles; i++)
		if (!newest || newer(&r->bundles[i], newest))
			newest = &r->bundles[i];
	for (i = 0; i < r->ndbs; i++) {
		struct report_db *d = &r->dbs[i];

		if (d->ndone)
			qsort(d->done, d->ndone, sizeof(*d->done), cmp_str);
		if (newest)
			db_pending(d, newest);
	}
	if (r->nsteps)
		qsort(r->steps, r->nsteps, sizeof(*r->steps), cmp_step);
}

const struct report_bundle *report_bundle_of(const struct report *r, const char *id)
{
	size_t i;

	for (i = 0; id && i < r->nbundles; i++)
		if (!strcmp(r->bundles[i].id, id))
			return &r->bundles[i];
	return NULL;
}

size_t report_db_stmts(const struct report *r, const struct report_db *d, size_t *idx,
		       size_t max)
{
	size_t i, n = 0;

	for (i = 0; d->bundle && i < r->nstmts && n < max; i++) {
		const struct report_stmt *s = &r->stmts[i];

		if (strcmp(s->bundle, d->bundle) || !same(s->environment, d->environment))
			continue;
		if (!strcmp(s->type, "receipt") && s->database && strcmp(s->database, d->database))
			continue;
		if (!strcmp(s->type, "approval") && s->time && d->brought_at &&
		    strcmp(s->time, d->brought_at) > 0)
			continue;
		idx[n++] = i;
	}
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
	}
	for (i = 0; i < r->nsteps; i++) {
		free(r->steps[i].environment);
		free(r->steps[i].bundle);
		free(r->steps[i].first_at);
		free(r->steps[i].last_at);
	}
	free(r->bundles);
	free(r->stmts);
	free(r->steps);
}
