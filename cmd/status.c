#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/buf.h"
#include "../lib/error.h"
#include "../lib/prom.h"
#include "../lib/util.h"
#include "../apply/load.h"
#include "config.h"
#include "policy-report.h"
#include "cairn-apply.h"

const struct cmd cmd_status_desc = {
	"status", cmd_status,
	"show applied, pending, failed, unfinished and drifted migrations",
	"cairn-apply status [BUNDLE] --db DSN [--env ENV] [--key PUB]... [--format text|json]\n"
	"       cairn-apply status [BUNDLE] --env ENV [--config FILE] [--key PUB]... [--format text|json]\n"
	"       cairn-apply status [BUNDLE] --env ENV [--format prometheus]",
	"Reads the bookkeeping (read-only: nothing is created or written) and\n"
	"lists every migration the database records, with its state, when and by\n"
	"whom it was applied, and from which bundle. With BUNDLE (verified first),\n"
	"also what the bundle would apply (pending), what differs from what was\n"
	"applied (drifted), and what is applied but absent from the bundle.\n"
	"\n"
	"Options:\n"
	"   --db DSN        the database: sqlite:PATH, postgres://..., host=...\n"
	"   --env ENV       the environment: with BUNDLE, for environments: filters;\n"
	"                   without --db, its database in the applier's config\n"
	"   --config FILE   the applier's config (default: $CAIRN_APPLY_CONFIG, else\n"
	"                   ./cairn-apply.yaml)\n"
	"   --key PUB       trust builds signed by this public key (repeatable)\n"
	"   --format F      text (default), json, or prometheus: the counts by state\n"
	"                   in Prometheus's text format, for a scraping wrapper\n"
	"\n"
	"Exit status: 0, 3 BUNDLE refused, 5 a migration is failed, unfinished or\n"
	"drifted (the database needs an operator), 6 the database cannot be read.\n",
};

struct entry {
	const char *version, *name, *state;
	const struct bk_row *row;
	const struct apply_mig *m;
	const char *bundle_checksum;
	const struct audit_row *fail; /* apply_failed: the audit row of the failure */
	int would_apply;              /* with a bundle: apply would run it */
	int waits;                    /* pending behind a contract migration (issue #22) */
};

static int cmp_entry(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;

	return version_cmp(x->version, y->version);
}

struct counts {
	size_t applied, pending, failed, in_progress, drifted, rolled_back, skipped, missing;
	size_t resumable; /* batch migrations interrupted: the next apply resumes them */
	size_t apply_failed; /* failed in a transaction that rolled back: nothing applied */
};

/* A transactional migration that failed leaves no row, only an apply-failed
 * audit row (design.md, "Bookkeeping"): the latest audit row of each
 * version, when it is such a failure, sorted by version for fail_find. */
static int cmp_audit(const void *a, const void *b)
{
	const struct audit_row *x = *(const struct audit_row *const *)a;
	const struct audit_row *y = *(const struct audit_row *const *)b;
	int c = strcmp(x->version, y->version);

	return c ? c : (x->seq > y->seq) - (x->seq < y->seq);
}

static size_t last_failures(const struct audit_row **out, const struct audit_row *rows, size_t n)
{
	const struct audit_row **all = xcalloc(n + 1, sizeof(*all));
	size_t i, k = 0;

	for (i = 0; i < n; i++)
		all[i] = &rows[i];
	qsort(all, n, sizeof(*all), cmp_audit);
	for (i = 0; i < n; i++)
		if (*all[i]->version && (i + 1 == n || strcmp(all[i]->version, all[i + 1]->version)) &&
		    !strcmp(all[i]->action, "apply-failed"))
			out[k++] = all[i];
	free(all);
	return k;
}

static const struct audit_row *fail_find(const struct audit_row **fails, size_t n,
					 const char *version)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(fails[mid]->version, version);

		if (!c)
			return fails[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static void count(struct counts *c, const char *state)
{
	if (!strcmp(state, "applied"))
		c->applied++;
	else if (!strcmp(state, "pending"))
		c->pending++;
	else if (!strcmp(state, "failed"))
		c->failed++;
	else if (!strcmp(state, "in_progress"))
		c->in_progress++;
	else if (!strcmp(state, "drifted"))
		c->drifted++;
	else if (!strcmp(state, "rolled_back"))
		c->rolled_back++;
	else if (!strcmp(state, "skipped"))
		c->skipped++;
	else if (!strcmp(state, "apply_failed"))
		c->apply_failed++;
}

static void print_text(struct apply_ctx *c, const struct entry *e, size_t n, const struct counts *k,
		       const char *current, const struct apply_set *set)
{
	size_t i;

	printf("database: %s\n", c->drv->display_name(c->db));
	if (set)
		printf("bundle:   %s (%s)\n", set->bundle_name, set->bundle_id);
	printf("version:  %s\n", current ? current : "none (nothing applied)");
	if (n)
		printf("\n%-16s %-12s %-20s %-20s %s\n", "VERSION", "STATE", "APPLIED AT", "BY",
		       "MIGRATION");
	for (i = 0; i < n; i++) {
		const struct bk_row *r = e[i].row;
		const struct audit_row *fl = e[i].fail;

		if (fl)
			printf("%-16s %-12s %-20s %-20s %s  (rolled back: nothing applied; the next "
			       "apply runs it again)\n%-16s error: %s\n", e[i].version, e[i].state,
			       fl->at, fl->actor, *e[i].name ? e[i].name : "-", "", fl->detail);
		if (fl)
			continue;
		printf("%-16s %-12s %-20s %-20s %s", e[i].version, e[i].state,
		       r && *r->applied_at ? r->applied_at : "-",
		       r && *r->applied_by ? r->applied_by : "-", e[i].name);
		if (e[i].waits)
			printf(e[i].m->contract ? "  (phase: contract: applies only with a contract "
						  "statement for the environment)"
						: "  (after a contract migration: waits with it)");
		if (r && e[i].would_apply && !strcmp(r->state, BK_ROLLED_BACK))
			printf("  (not applied: the bundle would apply it again)");
		if (r && !strcmp(r->state, BK_IN_PROGRESS) && r->statement >= 0)
			printf("  (stopped at statement %lld)", r->statement + 1);
		if (r && r->kind && !strcmp(r->kind, "batch") && strcmp(r->state, BK_APPLIED))
			printf("  (%lld batches, %lld rows so far)", r->batches, r->rows_changed);
		if (r && r->error && strcmp(r->state, BK_APPLIED))
			printf("\n%-16s error: %s", "", r->error);
		if (!strcmp(e[i].state, "drifted"))
			printf("\n%-16s applied %s by bundle %s; this bundle has %s", "", r->checksum,
			       *r->bundle_id ? r->bundle_id : "(none)", e[i].bundle_checksum);
		if (set && r && !e[i].m && !strcmp(r->state, BK_APPLIED) &&
		    strcmp(r->kind ? r->kind : "", "baseline"))
			printf("  (not in this bundle)");
		putchar('\n');
	}
	printf("\n%zu applied, %zu pending, %zu failed, %zu in progress, %zu drifted, "
	       "%zu rolled back",
	       k->applied, k->pending, k->failed, k->in_progress, k->drifted, k->rolled_back);
	if (k->apply_failed)
		printf(", %zu failed and rolled back", k->apply_failed);
	if (k->skipped)
		printf(", %zu skipped", k->skipped);
	if (k->resumable)
		printf(", %zu batch migration%s to resume", k->resumable, k->resumable == 1 ? "" : "s");
	if (set)
		printf(", %zu not in the bundle", k->missing);
	putchar('\n');
}

static void json_str(struct buf *b, const char *key, const char *v)
{
	buf_printf(b, ",\"%s\":", key);
	if (v)
		buf_put_json_string(b, v);
	else
		buf_puts(b, "null");
}

/* ,"destructive":{...} of BUNDLE under the environment's policy: what the
 * text status's note says (a destructive migration the database has not
 * applied, needing destructive: {approvals: N}), said whether or not the
 * bundle carries them; nothing when the environment asks nothing more or
 * no such migration waits. An exit code. */
static int json_destructive(struct buf *b, struct policy_bundle *pb, const struct apply_config *ac)
{
	const struct destructive_item **dx = NULL;
	const struct policy_reason *refused = NULL;
	size_t i, n = 0;

	if (!pb->b)
		return EXIT_OK;
	if (policy_bundle_destructive(pb, &ac->config, ac->env.env_name, &dx, &n) < 0) {
		error_msg("%s", cairn_error_last());
		return EXIT_REFUSED;
	}
	for (i = 0; i < pb->v.nreasons; i++)
		if (!strcmp(pb->v.reasons[i].rule, "destructive"))
			refused = &pb->v.reasons[i];
	if (n) {
		buf_printf(b, ",\"destructive\":{\"approvals_needed\":%llu,\"approvals\":%zu,"
			   "\"ok\":%s", policy_env_destructive_approvals(&ac->config, ac->env.env),
			   pb->v.approvals, refused ? "false" : "true");
		json_str(b, "message", refused ? refused->message : NULL);
		buf_puts(b, ",\"statements\":[");
		for (i = 0; i < n; i++) {
			buf_puts(b, i ? ",{\"version\":" : "{\"version\":");
			buf_put_json_string(b, dx[i]->version);
			json_str(b, "migration", dx[i]->migration);
			json_str(b, "rule", dx[i]->rule);
			json_str(b, "file", dx[i]->file);
			buf_printf(b, ",\"line\":%llu", dx[i]->line);
			json_str(b, "what", dx[i]->what);
			buf_putc(b, '}');
		}
		buf_puts(b, "]}");
	}
	free(dx);
	return EXIT_OK;
}

static void print_json(struct apply_ctx *c, const struct entry *e, size_t n, const struct counts *k,
		       const char *current, const struct apply_set *set, const char *db_id,
		       const char *extra)
{
	struct buf b = BUF_INIT;
	size_t i;

	buf_puts(&b, "{\"database\":");
	buf_put_json_string(&b, c->drv->display_name(c->db));
	/* what joins it to the database's audit trail in a report */
	json_str(&b, "database_id", db_id);
	json_str(&b, "bundle", set ? set->bundle_id : NULL);
	json_str(&b, "current", current);
	buf_puts(&b, extra);
	buf_puts(&b, ",\"migrations\":[");
	for (i = 0; i < n; i++) {
		const struct bk_row *r = e[i].row;

		buf_puts(&b, i ? ",{\"version\":" : "{\"version\":");
		buf_put_json_string(&b, e[i].version);
		json_str(&b, "migration", e[i].name);
		json_str(&b, "state", e[i].state);
		if (e[i].m && e[i].m->contract)
			json_str(&b, "phase", "contract");
		if (e[i].waits)
			buf_puts(&b, ",\"waits_for_contract\":true");
		if (e[i].fail) {
			json_str(&b, "error", e[i].fail->detail);
			json_str(&b, "failed_at", e[i].fail->at);
			json_str(&b, "failed_by", e[i].fail->actor);
		}
		json_str(&b, "checksum", r ? r->checksum : e[i].bundle_checksum);
		if (e[i].bundle_checksum && r)
			json_str(&b, "bundle_checksum", e[i].bundle_checksum);
		if (r) {
			json_str(&b, "applied_at", *r->applied_at ? r->applied_at : NULL);
			json_str(&b, "applied_by", *r->applied_by ? r->applied_by : NULL);
			json_str(&b, "applied_by_bundle", *r->bundle_id ? r->bundle_id : NULL);
			json_str(&b, "environment", *r->environment ? r->environment : NULL);
			buf_printf(&b, ",\"duration_ms\":%lld", r->duration_ms);
			json_str(&b, "kind", r->kind);
			json_str(&b, "error", r->error);
			if (r->statement >= 0)
				buf_printf(&b, ",\"statement\":%lld", r->statement + 1);
			if (r->kind && !strcmp(r->kind, "batch"))
				buf_printf(&b, ",\"batches\":%lld,\"rows\":%lld", r->batches,
					   r->rows_changed);
			buf_printf(&b, ",\"reversible\":%s",
				   r->irreversible || !r->down_sql ? "false" : "true");
		}
		if (set)
			buf_printf(&b, ",\"in_bundle\":%s,\"would_apply\":%s", e[i].m ? "true" : "false",
				   e[i].would_apply ? "true" : "false");
		buf_putc(&b, '}');
	}
	buf_printf(&b, "],\"summary\":{\"applied\":%zu,\"pending\":%zu,\"failed\":%zu,"
		       "\"in_progress\":%zu,\"drifted\":%zu,\"rolled_back\":%zu,\"skipped\":%zu,"
		       "\"resumable\":%zu,\"apply_failed\":%zu",
		   k->applied, k->pending, k->failed, k->in_progress, k->drifted, k->rolled_back,
		   k->skipped, k->resumable, k->apply_failed);
	if (set)
		buf_printf(&b, ",\"not_in_bundle\":%zu", k->missing);
	buf_puts(&b, "}}\n");
	fwrite(b.ptr, 1, b.len, stdout);
	buf_release(&b);
}

/* --format json, with BUNDLE's destructive note under the policy (pb,
 * ac; pb->b NULL without one). An exit code. */
static int status_json(struct apply_ctx *c, const struct entry *e, size_t n,
		       const struct counts *k, const char *current, const struct apply_set *set,
		       struct policy_bundle *pb, const struct apply_config *ac,
		       const struct audit_row *arows, size_t narows)
{
	char *dbid = books_database_id(arows, narows);
	struct buf dx = BUF_INIT;
	int rc = json_destructive(&dx, pb, ac);

	if (!rc)
		print_json(c, e, n, k, current, set, dbid, buf_cstr(&dx));
	buf_release(&dx);
	free(dbid);
	return rc;
}

/* --format prometheus: the summary's counts, for pull-style scraping. */
static void print_prometheus(const struct counts *k, const char *env, const struct apply_set *set)
{
	struct prom_label l[2] = { { "env", env }, { "state", NULL } };
	const char *states[] = { "applied", "pending", "failed", "in_progress", "drifted",
				 "rolled_back", "skipped", "apply_failed", "resumable",
				 "not_in_bundle" };
	const size_t n[] = { k->applied, k->pending, k->failed, k->in_progress, k->drifted,
			     k->rolled_back, k->skipped, k->apply_failed, k->resumable, k->missing };
	struct buf b = BUF_INIT;
	size_t i;

	prom_family(&b, "cairn_status_migrations", "gauge",
		    "Migrations by state, as cairn-apply status counts them.");
	for (i = 0; i < sizeof(states) / sizeof(*states); i++) {
		if (!set && (!strcmp(states[i], "pending") || !strcmp(states[i], "drifted") ||
			     !strcmp(states[i], "not_in_bundle")))
			continue; /* known only against a bundle */
		l[1].value = states[i];
		prom_sample(&b, "cairn_status_migrations", l, 2, "%zu", n[i]);
	}
	prom_gauge(&b, "cairn_status_needs_operator",
		   "1 when a migration is failed, unfinished or drifted.",
		   l, 1, "%d", !!(k->failed || k->in_progress || k->drifted));
	fwrite(b.ptr, 1, b.len, stdout);
	buf_release(&b);
}

/* The entries to show, sorted by version: the plan's steps (with a bundle)
 * or the rows, then what neither holds but the audit trail: a failure that
 * rolled back (apply_failed). */
static size_t collect_entries(struct entry *e, const struct plan *p, struct bk_row *rows,
			      size_t nrows, const struct audit_row **fails, size_t nfails,
			      struct counts *k)
{
	size_t n = 0, i, j;

	for (i = 0; p && i < p->n; i++) {
		const struct plan_step *s = &p->steps[i];
		struct entry *x = &e[n++];

		x->version = s->m->version;
		x->name = s->m->name;
		x->row = s->row;
		x->m = s->m;
		x->bundle_checksum = s->m->checksum;
		switch (s->action) {
		case STEP_APPLY:
			x->would_apply = 1;
			x->state = s->row ? s->row->state : "pending";
			break;
		case STEP_CONTRACT_WAITS:
			/* status asks no policy: pending, and said to wait */
			x->state = s->row ? s->row->state : "pending";
			x->waits = 1;
			break;
		case STEP_DRIFT: x->state = "drifted"; break;
		case STEP_OTHER_ENV: x->state = "skipped"; break;
		case STEP_BASELINE: x->state = s->row ? s->row->state : "baseline"; break;
		default: x->state = s->row ? s->row->state : "pending"; break;
		}
	}
	for (i = 0; p && i < p->nmissing; i++) {
		struct entry *x = &e[n++];

		x->version = p->missing[i]->version;
		x->name = p->missing[i]->name;
		x->row = p->missing[i];
		x->state = p->missing[i]->state;
		k->missing++;
	}
	/* rows neither in the bundle nor applied (rolled back, failed...),
	 * or every row without a bundle */
	for (i = 0; i < nrows; i++) {
		int seen = 0;

		for (j = 0; p && j < n && !seen; j++)
			seen = e[j].row == &rows[i];
		if (!seen) {
			struct entry *x = &e[n++];

			x->version = rows[i].version;
			x->name = rows[i].name;
			x->row = &rows[i];
			x->state = rows[i].state;
		}
	}
	/* a failure the audit trail holds, newer than what the row says */
	for (i = 0; i < n; i++) {
		const struct audit_row *fl = fail_find(fails, nfails, e[i].version);

		if (fl && (!e[i].row || !strcmp(e[i].row->state, BK_ROLLED_BACK))) {
			e[i].fail = fl;
			e[i].state = "apply_failed";
		}
	}
	for (i = 0; i < nfails; i++) {
		int seen = 0;

		for (j = 0; j < n && !seen; j++)
			seen = !strcmp(e[j].version, fails[i]->version);
		if (!seen) {
			struct entry *x = &e[n++];

			x->version = fails[i]->version;
			x->name = "";
			x->fail = fails[i];
			x->state = "apply_failed";
		}
	}
	qsort(e, n, sizeof(*e), cmp_entry);
	return n;
}

/* BUNDLE without --key, in an environment of the applier's config: its
 * policy decides, as for plan and apply (issue #22), so status says what
 * apply would hold back for a contract statement. The bundle's build
 * signature must be trusted; a verdict that refuses it is printed as notes:
 * status shows, it does not refuse. An exit code. */
static int load_policy_bundle(struct apply_ctx *c, struct apply_config *ac,
			      struct policy_bundle *pb, const char *config, const char *env,
			      const char *path, struct apply_set *set, const struct bk_row *rows,
			      size_t nrows)
{
	struct apply_config_flags f;
	const char **done = xcalloc(nrows + 1, sizeof(*done));
	size_t i, ndone = 0;
	int rc;

	memset(&f, 0, sizeof(f));
	f.config = config;
	f.env = env;
	if ((rc = apply_config_open(ac, &cmd_status_desc, &f)) != EXIT_OK ||
	    (rc = policy_bundle_load(pb, ac, path, NULL)) != EXIT_OK) {
		free(done);
		return rc;
	}
	/* a destructive migration already applied waits for nothing */
	for (i = 0; i < nrows; i++)
		if (!strcmp(rows[i].state, BK_APPLIED))
			done[ndone++] = rows[i].version;
	policy_bundle_set_applied(pb, done, ndone);
	free(done);
	if (policy_bundle_evaluate(pb, &ac->config, ac->env.env_name, 0, NULL) < 0) {
		error_msg("%s", cairn_error_last());
		return EXIT_USAGE;
	}
	for (i = 0; !c->json && !pb->v.ok && i < pb->v.nreasons; i++)
		error_msg("note: the policy of '%s' would refuse '%s': %s: %s", ac->env.env_name,
			  path, pb->v.reasons[i].rule, pb->v.reasons[i].message);
	if (apply_set_load(set, pb->b, c->drv->name, APPLY_LOAD_SQL) < 0) {
		error_msg("cannot read bundle '%s': %s", path, cairn_error_last());
		return EXIT_REFUSED;
	}
	set->contract_approved = pb->v.contract;
	return EXIT_OK;
}

/* A config names the policy: --config, $CAIRN_APPLY_CONFIG or the file. */
static int have_config(const char *config)
{
	const char *var = getenv(POLICY_CONFIG_ENV);

	return config || (var && *var) || path_exists(POLICY_CONFIG_FILE);
}

/* BUNDLE verified into set: under the environment's policy when there is
 * one (load_policy_bundle), else with the --key files. An exit code. */
static int load_bundle(struct apply_ctx *c, struct apply_config *ac, struct policy_bundle *pb,
		       const char *config, const char *env, const char **keys, size_t nkeys,
		       const char *path, struct apply_set *set, const struct bk_row *rows,
		       size_t nrows)
{
	const char *var = getenv("CAIRN_ENV");
	int rc;

	if (!env && var && *var)
		env = var;
	if (!nkeys && env && have_config(config))
		return load_policy_bundle(c, ac, pb, config, env, path, set, rows, nrows);
	rc = apply_ctx_load_bundle(c, path, keys, nkeys, set);
	/* --key: no environment's policy, so apply runs contract migrations
	 * (a developer's own database); status says so too */
	set->contract_approved = 1;
	return rc;
}

/* Counts the entries by state (a failed or unfinished batch is resumable)
 * and returns the newest applied version, NULL when none is. */
static const char *tally(const struct entry *e, size_t n, struct counts *k)
{
	const char *current = NULL;
	size_t i;

	for (i = 0; i < n; i++) {
		if (e[i].row && e[i].row->kind && !strcmp(e[i].row->kind, "batch") &&
		    (!strcmp(e[i].state, BK_FAILED) || !strcmp(e[i].state, BK_IN_PROGRESS)))
			k->resumable++;
		else
			count(k, e[i].state);
		if (e[i].row && !strcmp(e[i].row->state, BK_APPLIED) &&
		    (!current || version_cmp(e[i].row->version, current) > 0))
			current = e[i].row->version;
	}
	return current;
}

/* EXIT_STATE when a migration failed, did not finish or drifted, said on
 * stderr unless the output is for a machine (JSON, Prometheus). */
static int needs_operator(const struct counts *k, int quiet)
{
	if (!k->failed && !k->in_progress && !k->drifted)
		return EXIT_OK;
	if (!quiet)
		error_msg("the database needs an operator: %s%s%s; see 'cairn-apply repair --help'",
			  k->failed ? "a migration failed" : "",
			  k->in_progress ? (k->failed ? ", one did not finish"
						      : "a migration did not finish")
					 : "",
			  k->drifted ? (k->failed || k->in_progress
					? ", drift"
					: "drift: applied migrations differ from the bundle")
				     : "");
	return EXIT_STATE;
}

int cmd_status(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "db", required_argument, NULL, 'd' },
		{ "env", required_argument, NULL, 'e' },
		{ "key", required_argument, NULL, 'k' },
		{ "format", required_argument, NULL, 'f' },
		{ "config", required_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 },
	};
	const char *db = NULL, *env = NULL, *bundle = NULL, *config = NULL;
	char *dsn = NULL;
	const char **keys = xcalloc((size_t)argc, sizeof(*keys));
	size_t nkeys = 0, nrows = 0, n = 0;
	int json = 0, prom = 0, c, rc = EXIT_OK, exists = 0, have_set = 0;
	struct apply_ctx ctx;
	struct apply_config ac;
	struct policy_bundle pb;
	struct apply_set set;
	struct bk_row *rows = NULL;
	struct audit_row *arows = NULL;
	const struct audit_row **fails = NULL;
	size_t narows = 0, nfails = 0;
	struct entry *e = NULL;
	struct plan p;
	struct counts k;
	const char *current = NULL;

	memset(&ctx, 0, sizeof(ctx));
	memset(&ac, 0, sizeof(ac));
	memset(&pb, 0, sizeof(pb));
	memset(&set, 0, sizeof(set));
	memset(&p, 0, sizeof(p));
	memset(&k, 0, sizeof(k));
	while (rc == EXIT_OK && (c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd': db = optarg; break;
		case 'e': env = optarg; break;
		case 'c': config = optarg; break;
		case 'k': keys[nkeys++] = optarg; break;
		case 'f':
			prom = !strcmp(optarg, "prometheus");
			if (!prom)
				rc = parse_format(&cmd_status_desc, optarg, &json);
			break;
		default:
			rc = usage_error(&cmd_status_desc, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (rc != EXIT_OK)
		goto out;
	if (optind + 1 < argc) {
		rc = usage_error(&cmd_status_desc, "unexpected argument '%s'", argv[optind + 1]);
		goto out;
	}
	bundle = optind < argc ? argv[optind] : NULL;
	rc = apply_config_database(&cmd_status_desc, config, env, db, &dsn);
	if (rc)
		goto out;
	rc = apply_ctx_open(&ctx, &cmd_status_desc, dsn, DRIVER_OPEN_READONLY | DRIVER_OPEN_EXISTING, json);
	if (rc)
		goto out;
	if (ctx.drv->bk_exists(ctx.db, &exists) ||
	    (exists && ctx.drv->bk_read(ctx.db, &rows, &nrows))) {
		apply_ctx_fail(&ctx, EXIT_ENVIRONMENT, cairn_error_last(), NULL, NULL);
		rc = EXIT_ENVIRONMENT;
		goto out;
	}
	if (bundle) {
		rc = load_bundle(&ctx, &ac, &pb, config, env, keys, nkeys, bundle, &set, rows, nrows);
		if (rc)
			goto out;
		have_set = 1;
	}
	if (exists && ctx.drv->audit_read(ctx.db, 0, &arows, &narows)) {
		apply_ctx_fail(&ctx, EXIT_ENVIRONMENT, cairn_error_last(), NULL, NULL);
		rc = EXIT_ENVIRONMENT;
		goto out;
	}
	fails = xcalloc(narows + 1, sizeof(*fails));
	nfails = last_failures(fails, arows, narows);
	e = xcalloc(nrows + set.n + nfails + 1, sizeof(*e));
	if (have_set)
		plan_build(&p, &set, rows, nrows, env, NULL);
	n = collect_entries(e, have_set ? &p : NULL, rows, nrows, fails, nfails, &k);
	current = tally(e, n, &k);
	if (prom)
		print_prometheus(&k, env, have_set ? &set : NULL);
	else if (json) {
		rc = status_json(&ctx, e, n, &k, current, have_set ? &set : NULL, &pb, &ac, arows,
				 narows);
		if (rc)
			goto out;
	} else
		print_text(&ctx, e, n, &k, current, have_set ? &set : NULL);
	fflush(stdout);
	rc = needs_operator(&k, json || prom);
out:
	free(e);
	free(fails);
	audit_rows_free(arows, narows);
	plan_release(&p);
	bk_rows_free(rows, nrows);
	apply_set_release(&set);
	policy_bundle_release(&pb);
	apply_config_release(&ac);
	apply_ctx_close(&ctx);
	apply_config_dsn_free(dsn);
	free(keys);
	return rc;
}
