/* Each database's own trail in the report: which bundles brought it where
 * and when, read from its audit trail ('history --format json', which
 * names the database: its id, its DSN without secrets, the fleet target),
 * and joined to the database's status JSON by that id, not by the order
 * of the inputs. */
#include <stdlib.h>
#include <string.h>

#include "../lib/error.h"
#include "../lib/yaml.h"
#include "report.h"

static const char *field(const struct ynode *map, const char *key)
{
	const struct ynode *v = ynode_get(map, key);

	if (!v || v->type != YNODE_SCALAR || ynode_is_null(v) || !*v->str)
		return NULL;
	return v->str;
}

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

static int same(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

static void hop_row(struct report_trail *t, const struct ynode *row, const char *action)
{
	const char *bundle = field(row, "bundle"), *env = field(row, "environment");
	const char *at = field(row, "at");
	struct report_hop *h = t->nhops ? &t->hops[t->nhops - 1] : NULL;
	int rollback = !strcmp(action, "rollback");

	if (rollback)
		bundle = NULL;
	/* a new hop when the bundle, the environment or the direction changes */
	if (!h || !same(h->bundle, bundle) || !same(h->environment, env) ||
	    !!h->rolled_back != rollback) {
		t->hops = xrealloc(t->hops, (t->nhops + 1) * sizeof(*t->hops));
		h = &t->hops[t->nhops++];
		memset(h, 0, sizeof(*h));
		h->bundle = dup_or_null(bundle);
		h->environment = dup_or_null(env);
		h->from = dup_or_null(field(row, "from_version"));
		h->first_at = dup_or_null(at);
	}
	free(h->to);
	h->to = dup_or_null(field(row, "to_version"));
	free(h->last_at);
	h->last_at = dup_or_null(at);
	if (rollback)
		h->rolled_back++;
	else if (!strcmp(action, "apply"))
		h->applied++;
	else
		h->failed++;
}

static void trail_release(struct report_trail *t)
{
	size_t i;

	for (i = 0; i < t->nhops; i++) {
		struct report_hop *h = &t->hops[i];

		free(h->bundle);
		free(h->environment);
		free(h->from);
		free(h->to);
		free(h->first_at);
		free(h->last_at);
	}
	free(t->hops);
	free(t->source);
	free(t->database);
	free(t->database_id);
	free(t->join);
	free(t->target);
	free(t->environment);
	free(t->project);
}

char *report_join_key(const char *id, const char *database)
{
	if (!id)
		return NULL;
	if (strlen(id) == 64)
		return xasprintf("%s\t%s", id, database ? database : "");
	return xstrdup(id);
}

static const char *trail_id_at(const void *ctx, size_t pos)
{
	return ((const struct report *)ctx)->trails[pos].join;
}

static const char *db_id_at(const void *ctx, size_t pos)
{
	return ((const struct report *)ctx)->dbs[pos].join;
}

int report_trail_add(struct report *r, const struct ynode *root, const char *name)
{
	const struct ynode *rows = ynode_get(root, "rows");
	const char *id = field(root, "database_id");
	char *join = report_join_key(id, field(root, "database"));
	size_t i = join ? fleet_index_find(&r->trail_ix, join, trail_id_at, r) : (size_t)-1;
	struct report_trail t;

	if (i != (size_t)-1) {
		free(join);
		const struct report_trail *o = &r->trails[i];

		cairn_error_set("%s: the audit trail of the database %s again (%s has it): "
				"give each database's trail once", name,
				o->database ? o->database : id, o->source);
		return -1;
	}
	memset(&t, 0, sizeof(t));
	t.source = xstrdup(name);
	t.database = dup_or_null(field(root, "database"));
	t.database_id = dup_or_null(id);
	t.join = join;
	t.target = dup_or_null(field(root, "target"));
	t.environment = dup_or_null(field(root, "environment"));
	t.project = dup_or_null(field(root, "project"));
	t.db = (size_t)-1;
	for (i = 0; rows && i < rows->n; i++) {
		const struct ynode *row = rows->items[i];
		const char *action = field(row, "action");

		if (row->type != YNODE_MAP || !action)
			continue;
		if (!strcmp(action, "apply") || !strcmp(action, "apply-failed") ||
		    !strcmp(action, "rollback"))
			hop_row(&t, row, action);
		if (!t.environment && field(row, "environment"))
			t.environment = xstrdup(field(row, "environment"));
	}
	r->trails = xrealloc(r->trails, (r->ntrails + 1) * sizeof(*r->trails));
	r->trails[r->ntrails] = t;
	if (join)
		fleet_index_add(&r->trail_ix, join, r->ntrails);
	r->ntrails++;
	return 0;
}

static const char *trail_name(const struct report_trail *t)
{
	return t->target ? t->target : t->database ? t->database : "";
}

static int cmp_trail(const void *a, const void *b)
{
	const struct report_trail *x = a, *y = b;
	int c = strcmp(x->environment ? x->environment : "", y->environment ? y->environment : "");

	if (!c)
		c = strcmp(trail_name(x), trail_name(y));
	if (!c)
		c = strcmp(x->database_id ? x->database_id : "", y->database_id ? y->database_id : "");
	return c ? c : strcmp(x->source, y->source);
}

void report_trails_finish(struct report *r)
{
	struct fleet_index ix = { 0 };
	size_t i, j;

	if (r->ntrails)
		qsort(r->trails, r->ntrails, sizeof(*r->trails), cmp_trail);
	fleet_index_release(&r->trail_ix);
	/* by id: a status and a trail of the same database, whatever their
	 * order among the inputs; the first status of a database joins */
	for (i = 0; i < r->ndbs; i++) {
		r->dbs[i].trail = (size_t)-1;
		if (r->dbs[i].join && fleet_index_find(&ix, r->dbs[i].join, db_id_at, r) == (size_t)-1)
			fleet_index_add(&ix, r->dbs[i].join, i);
	}
	for (j = 0; j < r->ntrails; j++) {
		struct report_trail *t = &r->trails[j];

		i = t->join ? fleet_index_find(&ix, t->join, db_id_at, r) : (size_t)-1;
		t->db = i;
		if (i != (size_t)-1)
			r->dbs[i].trail = j;
	}
	fleet_index_release(&ix);
}

void report_trails_release(struct report *r)
{
	size_t i;

	for (i = 0; i < r->ntrails; i++)
		trail_release(&r->trails[i]);
	free(r->trails);
	r->trails = NULL;
	r->ntrails = 0;
	fleet_index_release(&r->trail_ix);
}
