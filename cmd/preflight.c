#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "../apply/load.h"
#include "../lib/buf.h"
#include "../lib/error.h"
#include "../lib/trace.h"
#include "../ops/metrics.h"
#include "../ops/preflight.h"
#include "policy-gate.h"
#include "cairn-apply.h"

const struct cmd cmd_preflight_desc = {
	"preflight", cmd_preflight,
	"will apply go through? every check apply depends on, changing nothing",
	"cairn-apply preflight BUNDLE --env ENV [--db DSN] [--config FILE] [--to VERSION] [--key PUB]... [--log-format text|json]\n"
	"       cairn-apply preflight BUNDLE --env ENV [--metrics-file PATH]",
	"Answers, before a window, whether 'cairn-apply apply' with the same\n"
	"arguments would go through, and changes nothing: the database is opened\n"
	"read-only, the run lock is tried and dropped at once, and every other\n"
	"question is a catalog query or a file system call. The checks:\n"
	"\n"
	"   connect      the database opens (else the rest of the database's checks\n"
	"                are not made)\n"
	"   bundle       it verifies, and the environment's policy is met\n"
	"   plan         no drift, no failed or unfinished migration; what is pending\n"
	"   version      PostgreSQL: the server's major version is at least the\n"
	"                environment's postgres: {version:}\n"
	"   role         PostgreSQL: the role cannot hide writes from the books\n"
	"                guard (a superuser, a member of one, BYPASSRLS, ...): fails\n"
	"                where apply would refuse it (postgres: {privileged_role:\n"
	"                refuse}, the default where the policy asks more than a\n"
	"                build), a warning where apply would warn\n"
	"   books        the bookkeeping tables can be created or written\n"
	"   privileges   PostgreSQL: every pending statement, parsed, against the\n"
	"                catalog: CREATE on the schema, ownership of the tables it\n"
	"                alters or drops, CREATE on the database for schemas and\n"
	"                extensions, INSERT/UPDATE/DELETE/TRUNCATE\n"
	"   disk         SQLite: free space beside the file for a backup and growth\n"
	"   blockers     sessions holding locks on the tables the pending statements\n"
	"                touch (PostgreSQL: pg_locks, pg_stat_activity); SQLite: a\n"
	"                connection with a write transaction open\n"
	"   lock         no other runner holds cairn's run lock\n"
	"   replication  PostgreSQL: standbys and their replay lag (shown only)\n"
	"\n"
	"Options:\n"
	"   --env ENV         the environment (else $CAIRN_ENV)\n"
	"   --config FILE     the applier's config (else $CAIRN_APPLY_CONFIG, else\n"
	"                     ./cairn-apply.yaml)\n"
	"   --db DSN          the database (else $CAIRN_DB, else the config's)\n"
	"   --to VERSION      as apply --to: only what runs up to VERSION is checked\n"
	"   --key PUB         trust builds signed by this public key (repeatable)\n"
	"   --log-format F    text (default) or json (one object); --format too\n"
	"   --metrics-file PATH  write each check's verdict as Prometheus metrics to\n"
	"                     PATH, replaced atomically (node_exporter's textfile\n"
	"                     collector); not $CAIRN_METRICS_FILE, which is apply's\n"
	"\n"
	"Exit status: 0 every check passed; else the gravest failure, as apply would\n"
	"exit: 3 the bundle or the role is refused, 6 the database cannot be opened or read,\n"
	"or the books written, or disk space is short, 5 drift or a failed or\n"
	"unfinished migration, 4 another runner holds the lock, 1 a privilege is\n"
	"missing, a session holds a lock a migration would wait for, the server is\n"
	"older than the environment's postgres: {version:}, or a script does not\n"
	"parse; 2 usage.\n",
};

/* The plan against the books, then the checks on the database. */
void preflight_db(struct apply_ctx *c, const struct apply_set *set, const char *env,
		  const char *to, const struct apply_policy *ap, int signs_receipt,
		  struct preflight *p)
{
	struct preflight_input in;
	struct bk_row *rows = NULL;
	size_t nrows = 0;
	struct plan plan;
	int exists = 0, planned = 0;
	size_t i;

	memset(&in, 0, sizeof(in));
	memset(&plan, 0, sizeof(plan));
	if (c->drv->bk_exists(c->db, &exists) || (exists && c->drv->bk_read(c->db, &rows, &nrows))) {
		preflight_add(p, "plan", PF_FAIL, EXIT_ENVIRONMENT, "%s", cairn_error_last());
	} else if (set && plan_build(&plan, set, rows, nrows, env, to) != EXIT_OK) {
		preflight_add(p, "plan", PF_FAIL, EXIT_USAGE, "%s", cairn_error_last());
	} else if (set) {
		planned = 1;
		if (plan.ndrift)
			preflight_add(p, "plan", PF_FAIL, EXIT_STATE,
				      "%zu applied migration%s differ%s from the bundle (drift)",
				      plan.ndrift, plan.ndrift == 1 ? "" : "s",
				      plan.ndrift == 1 ? "s" : "");
		else if (plan.nblocked)
			preflight_add(p, "plan", PF_FAIL, EXIT_STATE,
				      "a migration failed or did not finish in an earlier run: see "
				      "'cairn-apply status' and 'cairn-apply repair'");
		else
			preflight_add(p, "plan", PF_PASS, 0, "%zu to apply, %zu skipped; the database "
				      "is at version %s", plan.napply, plan.n - plan.napply,
				      plan.current ? plan.current : "none");
	}
	/* apply reads only the SQL of what runs, and only when it runs */
	for (i = 0; planned && i < plan.n; i++) {
		struct apply_mig *m = plan.steps[i].m;

		if ((plan.steps[i].action == STEP_APPLY || plan.steps[i].action == STEP_RESUME) &&
		    !apply_mig_sql(m)->up && apply_mig_read_sql(m, c->drv->name) < 0) {
			preflight_add(p, "plan", PF_FAIL, EXIT_REFUSED, "%s", cairn_error_last());
			break;
		}
	}
	in.drv = c->drv;
	in.db = c->db;
	in.set = set;
	in.plan = planned ? &plan : NULL;
	in.pg_version = ap->active ? ap->ac.env.pg_version : 0;
	in.role_refuse = apply_policy_role_refuse(ap, signs_receipt, &in.role_why);
	in.env = env;
	preflight_run(p, &in);
	if (planned)
		plan_release(&plan);
	bk_rows_free(rows, nrows);
}

static void print_text(const struct preflight *p, FILE *out)
{
	size_t i;

	for (i = 0; i < p->n; i++) {
		const struct pf_check *k = &p->checks[i];
		const char *d = k->detail, *nl;

		fprintf(out, "  %-4s  %-11s  ", pf_status_name(k->status), k->id);
		while ((nl = strchr(d, '\n'))) {
			fprintf(out, "%.*s\n%21s", (int)(nl - d), d, "");
			d = nl + 1;
		}
		fprintf(out, "%s\n", d);
	}
}

void preflight_print(struct apply_ctx *c, const struct apply_set *set, const char *env,
		     const struct preflight *p)
{
	struct buf b = BUF_INIT;
	int rc = preflight_exit(p);
	size_t i, nfail = 0;

	for (i = 0; i < p->n; i++)
		nfail += p->checks[i].status == PF_FAIL;
	if (!c->json) {
		printf("preflight: bundle %s for %s on %s\n",
		       set && set->bundle_name ? set->bundle_name : "(refused)", env,
		       c->db ? c->drv->display_name(c->db) : "(not opened)");
		print_text(p, stdout);
		if (rc == EXIT_OK)
			printf("preflight: every check passed\n");
		else
			printf("preflight: %zu check%s failed: apply would not go through (exit %d)\n",
			       nfail, nfail == 1 ? "" : "s", rc);
		fflush(stdout);
		return;
	}
	buf_puts(&b, "{\"event\":\"preflight\"");
	if (trace_parent()) {
		buf_puts(&b, ",\"traceparent\":");
		buf_put_json_string(&b, trace_parent());
	}
	buf_puts(&b, ",\"bundle\":");
	if (set && set->bundle_id)
		buf_put_json_string(&b, set->bundle_id);
	else
		buf_puts(&b, "null");
	buf_puts(&b, ",\"environment\":");
	buf_put_json_string(&b, env);
	buf_puts(&b, ",\"database\":");
	if (c->db)
		buf_put_json_string(&b, c->drv->display_name(c->db));
	else
		buf_puts(&b, "null");
	buf_puts(&b, ",\"checks\":[");
	for (i = 0; i < p->n; i++) {
		buf_puts(&b, i ? ",{\"check\":" : "{\"check\":");
		buf_put_json_string(&b, p->checks[i].id);
		buf_puts(&b, ",\"status\":");
		buf_put_json_string(&b, p->checks[i].status == PF_FAIL ? "fail"
					: pf_status_name(p->checks[i].status));
		buf_puts(&b, ",\"detail\":");
		buf_put_json_string(&b, p->checks[i].detail);
		buf_putc(&b, '}');
	}
	buf_printf(&b, "],\"ok\":%s,\"exit\":%d}\n", rc == EXIT_OK ? "true" : "false", rc);
	fwrite(b.ptr, 1, b.len, stdout);
	fflush(stdout);
	buf_release(&b);
}

/* The two checks the verbs make before the database's: the connection
 * and the bundle (refused: its exit code, the refusals printed above). */
static void preflight_begin(struct preflight *p, struct apply_ctx *c,
			    const struct apply_policy *ap, const struct apply_set *set,
			    int connect_rc, int refused)
{
	if (connect_rc)
		preflight_add(p, "connect", PF_FAIL, connect_rc, "%s", cairn_error_last());
	else
		preflight_add(p, "connect", PF_PASS, 0, "opened %s", c->drv->display_name(c->db));
	if (refused)
		preflight_add(p, "bundle", PF_FAIL, refused, "refused (the reasons are above)");
	else
		preflight_add(p, "bundle", PF_PASS, 0, "%s verifies%s", set->bundle_id,
			      ap->active ? "; the environment's policy is met"
					 : "; signed by a --key (no policy)");
}

int preflight_gate(struct apply_ctx *c, const struct apply_policy *ap,
		   const struct apply_set *set, const char *env, const char *to,
		   int signs_receipt)
{
	struct preflight p;
	int rc;

	memset(&p, 0, sizeof(p));
	preflight_begin(&p, c, ap, set, 0, 0);
	preflight_db(c, set, env, to, ap, signs_receipt, &p);
	preflight_print(c, set, env, &p);
	rc = preflight_exit(&p);
	if (rc) {
		if (c->json)
			apply_ctx_json_error(c, rc, "preflight failed", "unchanged", NULL);
		error_msg("preflight failed: nothing was applied; the database is unchanged");
	}
	preflight_release(&p);
	return rc;
}

struct preflight_args {
	const char *env, *dsn, *to, *config, *bundle, *metrics;
	const char **keys;
	size_t nkeys;
	int json;
};

static int parse_args(struct preflight_args *a, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "env", required_argument, NULL, 'e' },
		{ "db", required_argument, NULL, 'd' },
		{ "to", required_argument, NULL, 't' },
		{ "key", required_argument, NULL, 'k' },
		{ "log-format", required_argument, NULL, 'f' },
		{ "format", required_argument, NULL, 'f' },
		{ "config", required_argument, NULL, 'C' },
		{ "metrics-file", required_argument, NULL, 'M' },
		{ NULL, 0, NULL, 0 },
	};
	int c, rc = EXIT_OK;

	a->keys = xcalloc((size_t)argc, sizeof(*a->keys));
	while (rc == EXIT_OK && (c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'e': a->env = optarg; break;
		case 'd': a->dsn = optarg; break;
		case 't': a->to = optarg; break;
		case 'k': a->keys[a->nkeys++] = optarg; break;
		case 'C': a->config = optarg; break;
		case 'M': a->metrics = optarg; break;
		case 'f': rc = parse_format(&cmd_preflight_desc, optarg, &a->json); break;
		default:
			rc = usage_error(&cmd_preflight_desc, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (rc != EXIT_OK)
		return rc;
	if (optind + 1 != argc)
		return usage_error(&cmd_preflight_desc,
				   optind < argc ? "expected one BUNDLE" : "missing BUNDLE");
	a->bundle = argv[optind];
	return EXIT_OK;
}

int cmd_preflight(int argc, char **argv)
{
	struct preflight_args a;
	struct apply_policy ap;
	struct apply_ctx ctx;
	struct apply_set set;
	struct preflight p;
	int rc, loaded;

	memset(&a, 0, sizeof(a));
	memset(&ap, 0, sizeof(ap));
	memset(&ctx, 0, sizeof(ctx));
	memset(&set, 0, sizeof(set));
	memset(&p, 0, sizeof(p));
	rc = parse_args(&a, argc, argv);
	if (rc == EXIT_OK)
		rc = apply_policy_begin(&ap, &cmd_preflight_desc, a.config, &a.env, &a.dsn, NULL,
					NULL, a.nkeys);
	if (rc == EXIT_OK && !a.env)
		rc = usage_error(&cmd_preflight_desc, "missing --env ENV");
	else if (rc == EXIT_OK && !a.dsn)
		rc = usage_error(&cmd_preflight_desc, "missing --db DSN");
	if (rc != EXIT_OK)
		goto out;
	rc = apply_ctx_open(&ctx, &cmd_preflight_desc, a.dsn, DRIVER_OPEN_READONLY, a.json);
	if (rc == EXIT_USAGE)
		goto out;
	/* the message of a failed open, before the bundle's overwrites it */
	if (rc)
		preflight_add(&p, "connect", PF_FAIL, rc, "%s", cairn_error_last());
	loaded = apply_policy_load_bundle(&ap, &ctx, a.bundle, 0, a.keys, a.nkeys, &set);
	if (!loaded && ctx.db)
		loaded = apply_policy_check_db(&ap, &ctx, a.bundle, 0);
	if (rc) {
		preflight_add(&p, "bundle", loaded ? PF_FAIL : PF_PASS, loaded, "%s",
			      loaded ? "refused (the reasons are above)" : set.bundle_id);
	} else {
		preflight_begin(&p, &ctx, &ap, &set, 0, loaded);
	}
	if (ctx.db)
		preflight_db(&ctx, loaded ? NULL : &set, a.env, a.to, &ap, 0, &p);
	preflight_print(&ctx, loaded ? NULL : &set, a.env, &p);
	rc = preflight_exit(&p);
	if (a.metrics && preflight_metrics_write(&p, a.env, a.metrics) < 0)
		warning_msg("cannot write the metrics to '%s': %s", a.metrics, cairn_error_last());
out:
	preflight_release(&p);
	apply_set_release(&set);
	apply_ctx_close(&ctx);
	apply_policy_release(&ap);
	free(a.keys);
	return rc;
}
