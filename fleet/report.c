/* The picture across environments: status JSON and fleet results in, text,
 * JSON or one static HTML page out. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../lib/error.h"
#include "../lib/yaml.h"
#include "report.h"

void report_release(struct report *r)
{
	size_t i, j;

	if (!r)
		return;
	for (i = 0; i < r->ndbs; i++) {
		struct report_db *d = &r->dbs[i];

		free(d->source);
		free(d->database);
		free(d->environment);
		free(d->current);
		free(d->bundle);
		free(d->brought_at);
		free(d->pending_list);
		free(d->drifted_list);
		free(d->database_id);
		free(d->join);
		for (j = 0; j < d->ndone; j++)
			free(d->done[j]);
		free(d->done);
	}
	for (i = 0; i < r->nrel; i++) {
		free(r->rel[i].environment);
		free(r->rel[i].bundle);
		free(r->rel[i].first_at);
	}
	for (i = 0; i < r->nfleets; i++) {
		free(r->fleets[i].source);
		fleet_results_release(&r->fleets[i].rs);
	}
	free(r->dbs);
	free(r->rel);
	free(r->fleets);
	report_trail_release(r);
	report_trails_release(r);
	memset(r, 0, sizeof(*r));
}

/* A string field of a mapping, or NULL (absent, null, not a scalar). */
static const char *str_of(const struct ynode *map, const char *key)
{
	const struct ynode *v = ynode_get(map, key);

	if (!v || v->type != YNODE_SCALAR || ynode_is_null(v))
		return NULL;
	return v->str;
}

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

/* "a, b, c": appended in place (a list of thousands stays linear). */
static void list_add(struct buf *list, const char *item)
{
	buf_printf(list, "%s%s", list->len ? ", " : "", item);
}

static char *list_take(struct buf *list)
{
	char *s = list->len ? buf_detach(list, NULL) : NULL;

	buf_release(list);
	return s;
}

static void release_count(struct report *r, const char *env, const char *bundle, const char *at)
{
	size_t i;

	for (i = 0; i < r->nrel; i++)
		if (!strcmp(r->rel[i].environment, env) && !strcmp(r->rel[i].bundle, bundle))
			break;
	if (i == r->nrel) {
		r->rel = xrealloc(r->rel, (r->nrel + 1) * sizeof(*r->rel));
		memset(&r->rel[i], 0, sizeof(r->rel[i]));
		r->rel[i].environment = xstrdup(env);
		r->rel[i].bundle = xstrdup(bundle);
		r->nrel++;
	}
	r->rel[i].migrations++;
	if (at && (!r->rel[i].first_at || strcmp(at, r->rel[i].first_at) < 0)) {
		free(r->rel[i].first_at);
		r->rel[i].first_at = xstrdup(at);
	}
}

static int add_status(struct report *r, const struct ynode *root, const char *name)
{
	const struct ynode *migs = ynode_get(root, "migrations");
	struct buf pending = BUF_INIT, drifted = BUF_INIT;
	struct report_db *d;
	size_t i;

	if (!migs || migs->type != YNODE_SEQ || !str_of(root, "database")) {
		cairn_error_set("%s: not the JSON of 'cairn-apply status --format json' (no database "
				"and migrations)", name);
		return -1;
	}
	r->dbs = xrealloc(r->dbs, (r->ndbs + 1) * sizeof(*r->dbs));
	d = &r->dbs[r->ndbs++];
	memset(d, 0, sizeof(*d));
	d->source = xstrdup(name);
	d->database = xstrdup(str_of(root, "database"));
	d->database_id = dup_or_null(str_of(root, "database_id"));
	d->join = report_join_key(d->database_id, d->database);
	d->trail = (size_t)-1;
	d->current = dup_or_null(str_of(root, "current"));
	for (i = 0; i < migs->n; i++) {
		const struct ynode *m = migs->items[i];
		const char *state = str_of(m, "state"), *mig = str_of(m, "migration");
		const char *env = str_of(m, "environment"), *by = str_of(m, "applied_by_bundle");

		if (m->type != YNODE_MAP || !state)
			continue;
		/* a drifted migration is applied too: its file changed since */
		if (!strcmp(state, "applied") || !strcmp(state, "drifted")) {
			d->applied += !strcmp(state, "applied");
			if (mig) {
				d->done = xrealloc(d->done, (d->ndone + 1) * sizeof(*d->done));
				d->done[d->ndone++] = xstrdup(mig);
			}
			if (env) {
				free(d->environment);
				d->environment = xstrdup(env);
			}
			if (by) {
				free(d->bundle);
				d->bundle = xstrdup(by);
				free(d->brought_at);
				d->brought_at = dup_or_null(str_of(m, "applied_at"));
			}
			if (env && by)
				release_count(r, env, by, str_of(m, "applied_at"));
		}
		if (!strcmp(state, "drifted")) {
			d->drifted++;
			list_add(&drifted, mig ? mig : "?");
		} else if (!strcmp(state, "pending")) {
			d->pending++;
			list_add(&pending, mig ? mig : "?");
		} else if (!strcmp(state, "failed") || !strcmp(state, "apply_failed")) {
			d->failed++;
		} else if (!strcmp(state, "in_progress")) {
			d->in_progress++;
		}
	}
	d->pending_list = list_take(&pending);
	d->drifted_list = list_take(&drifted);
	if (!d->environment)
		d->environment = xstrdup("(none)");
	return 0;
}

static int add_fleet(struct report *r, const char *data, size_t len, const char *name)
{
	struct report_fleet *f;
	size_t i;

	r->fleets = xrealloc(r->fleets, (r->nfleets + 1) * sizeof(*r->fleets));
	f = &r->fleets[r->nfleets];
	memset(f, 0, sizeof(*f));
	if (fleet_results_parse(&f->rs, data, len, name) < 0) {
		fleet_results_release(&f->rs);
		return -1;
	}
	r->nfleets++;
	f->source = xstrdup(name);
	for (i = 0; i < f->rs.n; i++) {
		const char *o = f->rs.items[i].outcome;

		if (!strcmp(o, "applied"))
			f->applied++;
		else if (!strcmp(o, "current"))
			f->current++;
		else if (!strcmp(o, "waiting"))
			f->waiting++;
		else if (!strcmp(o, "stopped"))
			f->stopped++;
		else if (!strcmp(o, "not-started"))
			f->not_started++;
		else
			f->failed++;
	}
	return 0;
}

/* Where an environment stands in the usual promotion order: its name, or
 * its part before the first '-', '_' or '.' ("prod-eu"), among the common
 * names of each stage; any other name after them, "(none)" last. */
static int env_rank(const char *env)
{
	static const char *const stages[][4] = {
		{ "local", "dev", "development", NULL },
		{ "test", "qa", "ci", NULL },
		{ "staging", "stage", "preprod", "uat" },
		{ "prod", "production", "live", NULL },
	};
	size_t n = strcspn(env, "-_."), i, j;

	if (!strcmp(env, "(none)"))
		return 5;
	for (i = 0; i < sizeof(stages) / sizeof(stages[0]); i++)
		for (j = 0; j < 4 && stages[i][j]; j++)
			if (strlen(stages[i][j]) == n && !strncasecmp(env, stages[i][j], n))
				return (int)i;
	return 4;
}

static int cmp_db(const void *a, const void *b)
{
	const struct report_db *x = a, *y = b;
	int c = env_rank(x->environment) - env_rank(y->environment);

	if (!c)
		c = strcmp(x->environment, y->environment);
	if (!c)
		c = strcmp(x->database, y->database);
	return c ? c : strcmp(x->source, y->source);
}

/* The environments table's order, the same whatever the order of the
 * inputs: promotion order (dev, staging, prod), then the database's name.
 * Before the trails are joined to r->dbs by index. */
void report_dbs_sort(struct report *r)
{
	if (r->ndbs)
		qsort(r->dbs, r->ndbs, sizeof(*r->dbs), cmp_db);
}

int report_add(struct report *r, const char *data, size_t len, const char *name)
{
	struct ynode *root = NULL;
	int rc;

	/* a fleet result file: JSON lines, each with a target and an outcome */
	if (len && data[0] == '{' && memmem(data, len, "\"target\"", 8) &&
	    memmem(data, len, "\"outcome\"", 9))
		return add_fleet(r, data, len, name);
	if (yaml_load_max(&root, data, len, name, 10 * YAML_MAX_NODES) < 0)
		return -1;
	if (!root || root->type != YNODE_MAP) {
		ynode_free(root);
		cairn_error_set("%s: neither a status JSON nor a fleet result file", name);
		return -1;
	}
	/* a trail names its database too (history --format json) since the
	 * report tells databases' trails apart: rows make it a trail */
	if (ynode_get(root, "rows") && !ynode_get(root, "migrations"))
		rc = report_add_history(r, root, name);
	else
		rc = add_status(r, root, name);
	ynode_free(root);
	return rc;
}
