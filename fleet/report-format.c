/* The report written out: text, JSON, or one static HTML page. */
#include <string.h>

#include "report.h"

static const char *nn(const char *s)
{
	return s ? s : "-";
}

/* The first 19 characters of a bundle id ("sha256:" and 12 hex digits). */
static void put_short(struct buf *out, const char *id)
{
	buf_printf(out, "%.19s", nn(id));
}

#define STMTS_MAX 64

/* "shop-0002" after a bundle id, when that bundle was an input. */
static const char *bundle_name(const struct report *r, const char *id)
{
	const struct report_bundle *b = report_bundle_of(r, id);

	return b && b->name ? b->name : NULL;
}

static const char *trust_word(const struct report_stmt *s)
{
	return !s->valid ? "INVALID" : s->trusted ? "trusted" : "valid";
}

/* Said of an approval shown from its time, not from the audit trail. */
#define BY_TIME "by time: no audit trail given"

static void text_stmts(struct buf *out, const struct report *r, const struct report_db *d)
{
	int by_audit;
	size_t idx[STMTS_MAX], n = report_db_stmts(r, d, idx, STMTS_MAX, &by_audit), i;

	for (i = 0; i < n; i++) {
		const struct report_stmt *s = &r->stmts[idx[i]];

		buf_printf(out, "    %s: %s (key %s, %s) %s", s->type, nn(s->signer), nn(s->key_id),
			   trust_word(s), nn(s->time));
		if (s->database)
			buf_printf(out, " on %s", s->database);
		if (!by_audit && !strcmp(s->type, "approval"))
			buf_puts(out, " (" BY_TIME ")");
		buf_putc(out, '\n');
	}
}

static void text_trail(struct buf *out, const struct report *r)
{
	size_t i;

	if (r->nbundles)
		buf_puts(out, "\nbundles:\n");
	for (i = 0; i < r->nbundles; i++) {
		const struct report_bundle *b = &r->bundles[i];

		buf_printf(out, "    %s  ", nn(b->name));
		put_short(out, b->id);
		buf_printf(out, "  built %s, %zu migration%s, %s  (%s)\n", nn(b->built), b->nmigs,
			   b->nmigs == 1 ? "" : "s", b->trusted ? "trusted builder" : "integrity only",
			   b->source);
	}
	if (r->nsteps)
		buf_puts(out, "\nevolution (from the audit trails):\n");
	for (i = 0; i < r->nsteps; i++) {
		const struct report_step *s = &r->steps[i];

		buf_printf(out, "    %-20s %-12s ", nn(s->first_at), s->environment);
		put_short(out, s->bundle);
		buf_printf(out, " %-12s applied %zu, rolled back %zu, failed %zu, on %zu database%s\n",
			   nn(bundle_name(r, s->bundle)), s->applied, s->rolled_back, s->failed,
			   s->databases, s->databases == 1 ? "" : "s");
	}
}

/* "prod acme (sqlite:/srv/acme.db)", a trail's database as the report names it. */
static void trail_label(struct buf *out, const struct report_trail *t)
{
	buf_printf(out, "%s %s", nn(t->environment), nn(t->target ? t->target : t->database));
	if (t->target && t->database)
		buf_printf(out, " (%s)", t->database);
}

static void text_trails(struct buf *out, const struct report *r)
{
	size_t i, j;

	if (r->ntrails)
		buf_puts(out, "\nper database (from its audit trail):\n");
	for (i = 0; i < r->ntrails; i++) {
		const struct report_trail *t = &r->trails[i];

		buf_puts(out, "    ");
		trail_label(out, t);
		buf_printf(out, "  id %.12s  %s\n", nn(t->database_id),
			   t->db == (size_t)-1 ? "no status given" : "with its status");
		for (j = 0; j < t->nhops; j++) {
			const struct report_hop *h = &t->hops[j];

			buf_printf(out, "      %s .. %s  %-10s %s -> %s  ", nn(h->first_at),
				   nn(h->last_at), nn(h->environment), h->from ? h->from : "none",
				   h->to ? h->to : "none");
			if (h->bundle) {
				put_short(out, h->bundle);
				if (bundle_name(r, h->bundle))
					buf_printf(out, " %s", bundle_name(r, h->bundle));
			} else {
				buf_puts(out, "rollback");
			}
			buf_printf(out, "  applied %zu, rolled back %zu, failed %zu\n", h->applied,
				   h->rolled_back, h->failed);
		}
	}
}

static void text_format(struct buf *out, const struct report *r)
{
	size_t i, j;

	buf_printf(out, "%-12s %-28s %-16s %7s %7s %7s  %s\n", "ENVIRONMENT", "DATABASE", "VERSION",
		   "PENDING", "DRIFTED", "FAILED", "BROUGHT BY");
	for (i = 0; i < r->ndbs; i++) {
		const struct report_db *d = &r->dbs[i];

		buf_printf(out, "%-12s %-28s %-16s %7zu %7zu %7zu  ", d->environment, d->database,
			   nn(d->current), d->pending, d->drifted, d->failed + d->in_progress);
		put_short(out, d->bundle);
		if (bundle_name(r, d->bundle))
			buf_printf(out, " %s", bundle_name(r, d->bundle));
		buf_putc(out, '\n');
		text_stmts(out, r, d);
		if (d->pending_list)
			buf_printf(out, "    pending: %s\n", d->pending_list);
		if (d->drifted_list)
			buf_printf(out, "    drifted: %s\n", d->drifted_list);
	}
	for (i = 0; i < r->nfleets; i++) {
		const struct report_fleet *f = &r->fleets[i];

		buf_printf(out, "\nfleet %s: %zu targets: %zu applied, %zu current, ", f->source,
			   f->rs.n, f->applied, f->current);
		fleet_expected_counts(out, f->waiting, f->stopped);
		buf_printf(out, "%zu failed, %zu not started\n", f->failed, f->not_started);
		for (j = 0; j < f->rs.n; j++) {
			const struct fleet_result *x = &f->rs.items[j];

			if (!fleet_outcome_ok(x->outcome))
				buf_printf(out, "    %s %s (exit %d): %s\n", x->target, x->outcome, x->exit,
					   nn(x->error));
		}
	}
	if (r->nrel)
		buf_puts(out, "\nreleases (migrations per bundle, from the books):\n");
	for (i = 0; i < r->nrel; i++) {
		buf_printf(out, "    %-12s ", r->rel[i].environment);
		put_short(out, r->rel[i].bundle);
		buf_printf(out, "  %zu migration%s, first applied %s\n", r->rel[i].migrations,
			   r->rel[i].migrations == 1 ? "" : "s", nn(r->rel[i].first_at));
	}
	text_trail(out, r);
	text_trails(out, r);
}

static void json_kv(struct buf *out, const char *key, const char *v, int comma)
{
	buf_printf(out, "%s\"%s\":", comma ? "," : "", key);
	if (v)
		buf_put_json_string(out, v);
	else
		buf_puts(out, "null");
}

static void json_stmts(struct buf *out, const struct report *r, const struct report_db *d)
{
	int by_audit;
	size_t idx[STMTS_MAX], n = report_db_stmts(r, d, idx, STMTS_MAX, &by_audit), i;

	buf_puts(out, ",\"statements\":[");
	for (i = 0; i < n; i++) {
		const struct report_stmt *s = &r->stmts[idx[i]];

		buf_puts(out, i ? ",{" : "{");
		json_kv(out, "type", s->type, 0);
		json_kv(out, "signer", s->signer, 1);
		json_kv(out, "key", s->key_id, 1);
		json_kv(out, "time", s->time, 1);
		json_kv(out, "database", s->database, 1);
		if (!strcmp(s->type, "approval"))
			json_kv(out, "counted", by_audit ? "audit" : "time", 1);
		buf_printf(out, ",\"valid\":%s,\"trusted\":%s}", s->valid ? "true" : "false",
			   s->trusted ? "true" : "false");
	}
	buf_puts(out, "]");
}

static void json_trail(struct buf *out, const struct report *r)
{
	size_t i;

	buf_puts(out, ",\"bundles\":[");
	for (i = 0; i < r->nbundles; i++) {
		const struct report_bundle *b = &r->bundles[i];

		buf_puts(out, i ? ",{" : "{");
		json_kv(out, "source", b->source, 0);
		json_kv(out, "id", b->id, 1);
		json_kv(out, "name", b->name, 1);
		json_kv(out, "built", b->built, 1);
		buf_printf(out, ",\"migrations\":%zu,\"trusted\":%s}", b->nmigs,
			   b->trusted ? "true" : "false");
	}
	buf_puts(out, "],\"evolution\":[");
	for (i = 0; i < r->nsteps; i++) {
		const struct report_step *s = &r->steps[i];

		buf_puts(out, i ? ",{" : "{");
		json_kv(out, "environment", s->environment, 0);
		json_kv(out, "bundle", s->bundle, 1);
		json_kv(out, "bundle_name", bundle_name(r, s->bundle), 1);
		json_kv(out, "first_at", s->first_at, 1);
		json_kv(out, "last_at", s->last_at, 1);
		buf_printf(out, ",\"applied\":%zu,\"rolled_back\":%zu,\"failed\":%zu,"
			   "\"databases\":%zu}", s->applied, s->rolled_back, s->failed, s->databases);
	}
	buf_puts(out, "]");
}

static void json_trails(struct buf *out, const struct report *r)
{
	size_t i, j;

	buf_puts(out, ",\"trails\":[");
	for (i = 0; i < r->ntrails; i++) {
		const struct report_trail *t = &r->trails[i];

		buf_puts(out, i ? ",{" : "{");
		json_kv(out, "source", t->source, 0);
		json_kv(out, "database", t->database, 1);
		json_kv(out, "database_id", t->database_id, 1);
		json_kv(out, "target", t->target, 1);
		json_kv(out, "environment", t->environment, 1);
		json_kv(out, "project", t->project, 1);
		json_kv(out, "status", t->db == (size_t)-1 ? NULL : r->dbs[t->db].source, 1);
		buf_puts(out, ",\"hops\":[");
		for (j = 0; j < t->nhops; j++) {
			const struct report_hop *h = &t->hops[j];

			buf_puts(out, j ? ",{" : "{");
			json_kv(out, "bundle", h->bundle, 0);
			json_kv(out, "bundle_name", h->bundle ? bundle_name(r, h->bundle) : NULL, 1);
			json_kv(out, "environment", h->environment, 1);
			json_kv(out, "from", h->from, 1);
			json_kv(out, "to", h->to, 1);
			json_kv(out, "first_at", h->first_at, 1);
			json_kv(out, "last_at", h->last_at, 1);
			buf_printf(out, ",\"applied\":%zu,\"rolled_back\":%zu,\"failed\":%zu}",
				   h->applied, h->rolled_back, h->failed);
		}
		buf_puts(out, "]}");
	}
	buf_puts(out, "]");
}

static void json_format(struct buf *out, const struct report *r, const char *now)
{
	size_t i;

	buf_puts(out, "{");
	json_kv(out, "generated", now, 0);
	buf_puts(out, ",\"environments\":[");
	for (i = 0; i < r->ndbs; i++) {
		const struct report_db *d = &r->dbs[i];

		buf_puts(out, i ? ",{" : "{");
		json_kv(out, "environment", d->environment, 0);
		json_kv(out, "database", d->database, 1);
		json_kv(out, "source", d->source, 1);
		json_kv(out, "version", d->current, 1);
		json_kv(out, "bundle", d->bundle, 1);
		buf_printf(out, ",\"applied\":%zu,\"pending\":%zu,\"drifted\":%zu,\"failed\":%zu,"
			   "\"in_progress\":%zu", d->applied, d->pending, d->drifted, d->failed,
			   d->in_progress);
		json_kv(out, "pending_migrations", d->pending_list, 1);
		json_kv(out, "drifted_migrations", d->drifted_list, 1);
		json_kv(out, "bundle_name", bundle_name(r, d->bundle), 1);
		json_kv(out, "database_id", d->database_id, 1);
		json_kv(out, "trail", d->trail == (size_t)-1 ? NULL : r->trails[d->trail].source, 1);
		json_stmts(out, r, d);
		buf_puts(out, "}");
	}
	buf_puts(out, "],\"fleets\":[");
	for (i = 0; i < r->nfleets; i++) {
		const struct report_fleet *f = &r->fleets[i];
		size_t j, k = 0;

		buf_puts(out, i ? ",{" : "{");
		json_kv(out, "source", f->source, 0);
		buf_printf(out, ",\"targets\":%zu,\"applied\":%zu,\"current\":%zu,\"waiting\":%zu,"
			   "\"stopped\":%zu,\"failed\":%zu,\"not_started\":%zu,\"failed_targets\":[",
			   f->rs.n, f->applied, f->current, f->waiting, f->stopped, f->failed,
			   f->not_started);
		for (j = 0; j < f->rs.n; j++) {
			const struct fleet_result *x = &f->rs.items[j];

			if (fleet_outcome_ok(x->outcome))
				continue;
			buf_puts(out, k++ ? ",{" : "{");
			json_kv(out, "target", x->target, 0);
			json_kv(out, "outcome", x->outcome, 1);
			buf_printf(out, ",\"exit\":%d", x->exit);
			json_kv(out, "error", x->error, 1);
			buf_puts(out, "}");
		}
		buf_puts(out, "]}");
	}
	buf_puts(out, "],\"releases\":[");
	for (i = 0; i < r->nrel; i++) {
		buf_puts(out, i ? ",{" : "{");
		json_kv(out, "environment", r->rel[i].environment, 0);
		json_kv(out, "bundle", r->rel[i].bundle, 1);
		buf_printf(out, ",\"migrations\":%zu", r->rel[i].migrations);
		json_kv(out, "first_applied", r->rel[i].first_at, 1);
		buf_puts(out, "}");
	}
	buf_puts(out, "]");
	json_trail(out, r);
	json_trails(out, r);
	buf_puts(out, "}\n");
}

/* Text for HTML: & < > " ' escaped. */
static void h(struct buf *out, const char *s)
{
	for (s = nn(s); *s; s++) {
		switch (*s) {
		case '&': buf_puts(out, "&amp;"); break;
		case '<': buf_puts(out, "&lt;"); break;
		case '>': buf_puts(out, "&gt;"); break;
		case '"': buf_puts(out, "&quot;"); break;
		case '\'': buf_puts(out, "&#39;"); break;
		default: buf_putc(out, *s);
		}
	}
}

static const char css[] =
	"body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}"
	"h1{font-size:1.5em}h2{font-size:1.15em;margin-top:2em}"
	"table{border-collapse:collapse;margin:.5em 0}"
	"th,td{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}"
	"th{background:#f2f2f2}code{font:12px ui-monospace,monospace}"
	".ok{background:#dff3df}.warn{background:#fff2cc}.bad{background:#f8d7d7}"
	".muted{color:#777}ul.statements{margin:.2em 0;padding-left:1.2em}"
	".bar{display:inline-block;height:.8em;background:#4a7fb5;vertical-align:middle}";

static void html_brought(struct buf *out, const struct report *r, const struct report_db *d)
{
	int by_audit;
	size_t idx[STMTS_MAX], n = report_db_stmts(r, d, idx, STMTS_MAX, &by_audit), i;

	if (bundle_name(r, d->bundle)) {
		h(out, bundle_name(r, d->bundle));
		buf_puts(out, " ");
	}
	buf_puts(out, "<code>");
	put_short(out, d->bundle);
	buf_puts(out, "</code>");
	if (n)
		buf_puts(out, "<ul class=\"statements\">");
	for (i = 0; i < n; i++) {
		const struct report_stmt *s = &r->stmts[idx[i]];

		buf_printf(out, "<li class=\"%s\">", s->valid ? s->type : "bad");
		h(out, s->type);
		buf_puts(out, " by ");
		h(out, s->signer);
		buf_printf(out, " (%s) ", trust_word(s));
		h(out, s->time);
		if (s->database) {
			buf_puts(out, " on ");
			h(out, s->database);
		}
		if (!by_audit && !strcmp(s->type, "approval"))
			buf_puts(out, " <span class=\"muted\">(" BY_TIME ")</span>");
		buf_puts(out, "</li>");
	}
	if (n)
		buf_puts(out, "</ul>");
}

/* Its audit trail, joined by database_id: how many runs, the last one. */
static void html_db_trail(struct buf *out, const struct report *r, const struct report_db *d)
{
	const struct report_trail *t = d->trail == (size_t)-1 ? NULL : &r->trails[d->trail];

	if (!t || !t->nhops) {
		buf_puts(out, "<span class=\"muted\">no trail given</span>");
		return;
	}
	buf_printf(out, "%zu step%s, last ", t->nhops, t->nhops == 1 ? "" : "s");
	h(out, t->hops[t->nhops - 1].last_at);
}

static void html_envs(struct buf *out, const struct report *r)
{
	size_t i;

	buf_puts(out, "<h2>Environments</h2>\n<table id=\"environments\"><tr><th>environment</th>"
		      "<th>database</th><th>version</th><th>state</th><th>pending</th>"
		      "<th>brought there by</th>");
	/* a column for the trails only when one was given: the page of
	 * statuses alone stays as it was */
	buf_puts(out, r->ntrails ? "<th>its trail</th></tr>\n" : "</tr>\n");
	for (i = 0; i < r->ndbs; i++) {
		const struct report_db *d = &r->dbs[i];
		const char *cls = d->drifted || d->failed || d->in_progress ? "bad"
				  : d->pending ? "warn" : "ok";

		buf_printf(out, "<tr class=\"%s\" data-database-id=\"", cls);
		h(out, d->database_id);
		buf_puts(out, "\"><td>");
		h(out, d->environment);
		buf_puts(out, "</td><td>");
		h(out, d->database);
		buf_puts(out, "</td><td>");
		h(out, d->current);
		buf_puts(out, "</td><td>");
		if (d->drifted || d->failed || d->in_progress)
			buf_printf(out, "%zu drifted, %zu failed or unfinished", d->drifted,
				   d->failed + d->in_progress);
		else
			buf_puts(out, "no drift");
		if (d->drifted_list) {
			buf_puts(out, ": ");
			h(out, d->drifted_list);
		}
		buf_printf(out, "</td><td>%zu", d->pending);
		if (d->pending_list) {
			buf_puts(out, ": ");
			h(out, d->pending_list);
		}
		buf_puts(out, "</td><td>");
		html_brought(out, r, d);
		if (r->ntrails) {
			buf_puts(out, "</td><td class=\"trail\">");
			html_db_trail(out, r, d);
		}
		buf_puts(out, "</td></tr>\n");
	}
	buf_puts(out, "</table>\n");
}

static void html_fleets(struct buf *out, const struct report *r)
{
	size_t i, j;

	for (i = 0; i < r->nfleets; i++) {
		const struct report_fleet *f = &r->fleets[i];

		buf_puts(out, "<h2>Fleet run <code>");
		h(out, f->source);
		buf_printf(out, "</code></h2>\n<p class=\"fleet-summary\">%zu targets: %zu applied, %zu "
			   "current, ", f->rs.n, f->applied, f->current);
		fleet_expected_counts(out, f->waiting, f->stopped);
		buf_printf(out, "%zu failed, %zu not started</p>\n", f->failed, f->not_started);
		if (!f->failed && !f->not_started && !f->waiting && !f->stopped)
			continue;
		buf_puts(out, "<table class=\"failed-targets\"><tr><th>target</th><th>outcome</th>"
			      "<th>exit</th><th>error</th></tr>\n");
		for (j = 0; j < f->rs.n; j++) {
			const struct fleet_result *x = &f->rs.items[j];

			if (fleet_outcome_ok(x->outcome))
				continue;
			buf_puts(out, "<tr class=\"bad\"><td>");
			h(out, x->target);
			buf_puts(out, "</td><td>");
			h(out, x->outcome);
			buf_printf(out, "</td><td>%d</td><td>", x->exit);
			h(out, x->error);
			buf_puts(out, "</td></tr>\n");
		}
		buf_puts(out, "</table>\n");
	}
}

static void html_trail(struct buf *out, const struct report *r)
{
	size_t i, most = 1;

	buf_puts(out, "<h2>Bundles</h2>\n<table id=\"bundles\"><tr><th>bundle</th><th>id</th>"
		      "<th>built</th><th>migrations</th><th>builder</th></tr>\n");
	for (i = 0; i < r->nbundles; i++) {
		const struct report_bundle *b = &r->bundles[i];

		buf_puts(out, "<tr><td>");
		h(out, b->name);
		buf_puts(out, "</td><td><code>");
		put_short(out, b->id);
		buf_puts(out, "</code></td><td>");
		h(out, b->built);
		buf_printf(out, "</td><td>%zu</td><td>%s</td></tr>\n", b->nmigs,
			   b->trusted ? "trusted" : "integrity only");
	}
	buf_puts(out, "</table>\n<h2>Schema evolution</h2>\n<table id=\"evolution\"><tr>"
		      "<th>first applied</th><th>environment</th><th>bundle</th><th>applied</th>"
		      "<th>rolled back</th><th>failed</th><th>databases</th></tr>\n");
	for (i = 0; i < r->nsteps; i++)
		if (r->steps[i].applied > most)
			most = r->steps[i].applied;
	for (i = 0; i < r->nsteps; i++) {
		const struct report_step *s = &r->steps[i];

		buf_printf(out, "<tr class=\"%s\"><td>", s->failed ? "bad" : "ok");
		h(out, s->first_at);
		buf_puts(out, "</td><td>");
		h(out, s->environment);
		buf_puts(out, "</td><td>");
		if (bundle_name(r, s->bundle)) {
			h(out, bundle_name(r, s->bundle));
			buf_puts(out, " ");
		}
		buf_puts(out, "<code>");
		put_short(out, s->bundle);
		buf_printf(out, "</code></td><td><span class=\"bar\" style=\"width:%zupx\"></span> "
			   "%zu</td><td>%zu</td><td>%zu</td><td>%zu</td></tr>\n",
			   1 + 120 * s->applied / most, s->applied, s->rolled_back, s->failed,
			   s->databases);
	}
	buf_puts(out, "</table>\n");
}

static void html_hop(struct buf *out, const struct report *r, const struct report_hop *hp)
{
	buf_puts(out, "<td>");
	if (hp->bundle) {
		if (bundle_name(r, hp->bundle)) {
			h(out, bundle_name(r, hp->bundle));
			buf_puts(out, " ");
		}
		buf_puts(out, "<code>");
		put_short(out, hp->bundle);
		buf_puts(out, "</code>");
	} else {
		buf_puts(out, "rollback");
	}
	buf_puts(out, "</td><td>");
	h(out, hp->from ? hp->from : "none");
	buf_puts(out, " &rarr; ");
	h(out, hp->to ? hp->to : "none");
	buf_puts(out, "</td><td>");
	h(out, hp->first_at);
	if (hp->last_at && (!hp->first_at || strcmp(hp->first_at, hp->last_at))) {
		buf_puts(out, " .. ");
		h(out, hp->last_at);
	}
	buf_printf(out, "</td><td>%zu</td><td>%zu</td><td>%zu</td>", hp->applied, hp->rolled_back,
		   hp->failed);
}

/* A row per run of each database's trail: which bundle brought it from
 * where to where, and when; the database's cells span its runs. */
static void html_trails(struct buf *out, const struct report *r)
{
	size_t i, j;

	if (!r->ntrails)
		return;
	buf_puts(out, "<h2>Each database over time</h2>\n<table id=\"trails\"><tr><th>environment"
		      "</th><th>database</th><th>id</th><th>bundle</th><th>version</th><th>when</th>"
		      "<th>applied</th><th>rolled back</th><th>failed</th></tr>\n");
	for (i = 0; i < r->ntrails; i++) {
		const struct report_trail *t = &r->trails[i];
		size_t span = t->nhops ? t->nhops : 1;

		for (j = 0; j < span; j++) {
			const struct report_hop *hp = t->nhops ? &t->hops[j] : NULL;

			buf_printf(out, "<tr class=\"%s\" data-database-id=\"",
				   hp && hp->failed ? "bad" : "ok");
			h(out, t->database_id);
			buf_puts(out, "\">");
			if (!j) {
				buf_printf(out, "<td rowspan=\"%zu\">", span);
				h(out, t->environment);
				buf_printf(out, "</td><td rowspan=\"%zu\" class=\"trail-db\">", span);
				h(out, t->target ? t->target : t->database);
				if (t->target && t->database) {
					buf_puts(out, " <span class=\"muted\">");
					h(out, t->database);
					buf_puts(out, "</span>");
				}
				buf_printf(out, "</td><td rowspan=\"%zu\"><code>%.12s</code></td>", span,
					   nn(t->database_id));
			}
			if (hp)
				html_hop(out, r, hp);
			else
				buf_puts(out, "<td colspan=\"6\" class=\"muted\">no run yet</td>");
			buf_puts(out, "</tr>\n");
		}
	}
	buf_puts(out, "</table>\n");
}

static void html_format(struct buf *out, const struct report *r, const char *now)
{
	size_t i;

	buf_puts(out, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
		      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
		      "style-src 'unsafe-inline'\"><title>cairn report</title><style>");
	buf_puts(out, css);
	buf_puts(out, "</style></head><body>\n<h1>cairn: the picture across environments</h1>\n"
		      "<p class=\"muted\">generated ");
	h(out, now);
	buf_puts(out, "</p>\n");
	html_envs(out, r);
	html_fleets(out, r);
	buf_puts(out, "<h2>Releases</h2>\n<table id=\"releases\"><tr><th>environment</th>"
		      "<th>bundle</th><th>migrations</th><th>first applied</th></tr>\n");
	for (i = 0; i < r->nrel; i++) {
		buf_puts(out, "<tr><td>");
		h(out, r->rel[i].environment);
		buf_puts(out, "</td><td><code>");
		h(out, r->rel[i].bundle);
		buf_printf(out, "</code></td><td>%zu</td><td>", r->rel[i].migrations);
		h(out, r->rel[i].first_at);
		buf_puts(out, "</td></tr>\n");
	}
	buf_puts(out, "</table>\n");
	html_trail(out, r);
	html_trails(out, r);
	buf_puts(out, "</body></html>\n");
}

void report_format(struct buf *out, const struct report *r, enum report_format f,
		   const char *now)
{
	if (f == REPORT_JSON)
		json_format(out, r, now);
	else if (f == REPORT_HTML)
		html_format(out, r, now);
	else
		text_format(out, r);
}
