#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/batch.h"
#include "../lib/buf.h"
#include "../lib/error.h"
#include "../lib/util.h"
#include "policy-gate.h"
#include "cairn-apply.h"

const struct cmd cmd_plan_desc = {
	"plan", cmd_plan,
	"show what apply would do, in order, with the SQL; change nothing",
	"cairn-apply plan BUNDLE --env ENV [--db DSN] [--config FILE] [--to VERSION] [--key PUB]... [--format text|json]",
	"Verifies BUNDLE, reads the database's bookkeeping without writing to it,\n"
	"and prints every migration in apply order: what would run, with its SQL,\n"
	"and what would be skipped and why (already applied, not for ENV, after\n"
	"--to, below the baseline). Drift and failed or unfinished migrations are\n"
	"reported as apply would report them. The database is opened read-only:\n"
	"a file that does not exist is not created. Same as 'apply --dry-run'.\n"
	"\n"
	"Options:\n"
	"   --env ENV       the environment (migrations with environments: that do\n"
	"                   not list it are skipped)\n"
	"   --db DSN        the database: sqlite:PATH\n"
	"   --to VERSION    stop after this version\n"
	"   --key PUB       trust builds signed by this public key (repeatable)\n"
	"   --format F      text (default) or json\n"
	"\n"
	"Exit status: 0, 3 when the bundle is refused, 5 when apply would stop on\n"
	"drift or on a failed or unfinished migration, 6 when the database cannot be\n"
	"read.\n",
};

static const char *skip_reason(const struct plan_step *s, const char *env, char *buf, size_t len)
{
	size_t i, n = 0;

	switch (s->action) {
	case STEP_APPLIED:
		return "already applied";
	case STEP_BASELINE:
		return "at or below the baseline";
	case STEP_AFTER_TO:
		return "after --to";
	case STEP_OTHER_ENV:
		n = (size_t)snprintf(buf, len, "not for environment %s (only ", env ? env : "");
		for (i = 0; i < s->m->nenvironments && n < len; i++)
			n += (size_t)snprintf(buf + n, len - n, "%s%s", i ? ", " : "",
					      s->m->environments[i]);
		if (n < len)
			snprintf(buf + n, len - n, ")");
		return buf;
	case STEP_DRIFT:
		return "applied with another checksum (drift)";
	case STEP_BLOCKED:
		return "failed or unfinished in an earlier run: needs repair";
	case STEP_CONTRACT_WAITS:
		return s->m->contract ? "phase: contract: waits for a contract statement for this "
					"environment (cairn promote BUNDLE --to ENV --contract)"
				      : "after a contract migration that waits: waits with it";
	default:
		return NULL;
	}
}

/* What runs around the steps: the environment's hooks, and the backup
 * before each destructive step (the driver's, as configured). */
struct plan_ops {
	struct backup_ctx b;
	int backup;                     /* the driver takes backups */
	const struct policy_env *hooks; /* NULL: none */
};

static char *step_backup(const struct plan_ops *o, const struct plan_step *s)
{
	if (!o->backup || (s->action != STEP_APPLY && s->action != STEP_RESUME))
		return NULL;
	return backup_plan(&o->b, s->m);
}

static void hooks_text(const struct policy_env *h)
{
	if (!h)
		return;
	if (h->hook_before)
		printf("hook before: %s (a failure stops the run before anything is applied)\n",
		       h->hook_before);
	if (h->hook_after)
		printf("hook after: %s\n", h->hook_after);
	if (h->hook_on_error)
		printf("hook on_error: %s\n", h->hook_on_error);
}

static void hooks_json(struct buf *b, const struct policy_env *h)
{
	const char *names[] = { "before", "after", "on_error" };
	const char *cmds[3];
	size_t i, n = 0;

	if (!h)
		return;
	cmds[0] = h->hook_before;
	cmds[1] = h->hook_after;
	cmds[2] = h->hook_on_error;
	buf_puts(b, ",\"hooks\":{");
	for (i = 0; i < 3; i++) {
		if (!cmds[i])
			continue;
		buf_printf(b, "%s\"%s\":", n++ ? "," : "", names[i]);
		buf_put_json_string(b, cmds[i]);
	}
	buf_putc(b, '}');
}

/* The bundle's SQL callbacks for this driver (issue #20), and when each
 * runs; nothing runs when nothing is pending. */
static const char *const callback_when[CB_COUNT] = {
	"once, before the first pending migration, in its own transaction",
	"in each migration's transaction, before its up script",
	"in each migration's transaction, after its up and verify scripts (a failure rolls "
	"the migration back)",
	"once, after the last migration applied, in its own transaction",
	"after a failed apply or rollback, in its own transaction",
	"by rollback --bundle: once, before the first down script, in its own transaction",
	"by rollback --bundle: in each step's transaction, before its down script",
	"by rollback --bundle: in each step's transaction, after its down script (a failure "
	"rolls that step back)",
	"by rollback --bundle: once, after the last step, in its own transaction",
};

static void callbacks_text(const struct apply_set *set, const struct plan *p)
{
	const struct bundle *b = set->bundle;
	size_t i;

	for (i = 0; i < CB_COUNT; i++) {
		struct buf w = BUF_INIT;

		if (!set->callbacks[i].path)
			continue;
		printf("callback %s: %s (sha256:%.12s) %s%s\n", callback_names[i],
		       set->callbacks[i].path, set->callbacks[i].sha256, callback_when[i],
		       p->napply || i >= CB_BEFORE_ROLLBACK ? "" : "; not run: nothing is pending");
		/* what it waived (format cairn-bundle/3), as a migration's */
		if (b)
			waiver_list_text(b->callback_waivers, b->ncallback_waivers,
					 strrchr(set->callbacks[i].path, '/') + 1, "      ", &w);
		fputs(buf_cstr(&w), stdout);
		buf_release(&w);
	}
}

static void callbacks_json(struct buf *b, const struct apply_set *set)
{
	size_t i, n = 0;

	buf_puts(b, ",\"callbacks\":[");
	for (i = 0; i < CB_COUNT; i++) {
		if (!set->callbacks[i].path)
			continue;
		buf_printf(b, "%s{\"name\":\"%s\",\"path\":", n++ ? "," : "", callback_names[i]);
		buf_put_json_string(b, set->callbacks[i].path);
		buf_printf(b, ",\"sha256\":\"%s\",\"waivers\":", set->callbacks[i].sha256);
		waiver_list_json(set->bundle ? set->bundle->callback_waivers : NULL,
				 set->bundle ? set->bundle->ncallback_waivers : 0,
				 strrchr(set->callbacks[i].path, '/') + 1, b);
		buf_putc(b, '}');
	}
	buf_putc(b, ']');
}

static void print_sql(const char *label, const char *sql)
{
	const char *p = sql, *nl;

	printf("      -- %s\n", label);
	while (*p) {
		nl = strchr(p, '\n');
		if (!nl) {
			printf("      %s\n", p);
			break;
		}
		printf("      %.*s\n", (int)(nl - p), p);
		p = nl + 1;
	}
}

static void plan_text(struct apply_ctx *c, const struct apply_set *set, const struct plan *p,
		      const char *env, const struct plan_ops *o)
{
	size_t i;
	char why[512];

	printf("plan: bundle %s (%s) for %s on %s\n", set->bundle_name, set->bundle_id, env,
	       c->drv->display_name(c->db));
	if (p->current)
		printf("the database is at version %s\n", p->current);
	else
		printf("the database has no migration applied yet\n");
	hooks_text(o->hooks);
	callbacks_text(set, p);
	for (i = 0; i < p->n; i++) {
		const struct plan_step *s = &p->steps[i];
		const struct apply_mig *m = s->m;
		char *bp = step_backup(o, s);

		if (s->action == STEP_APPLY || s->action == STEP_RESUME) {
			printf("  %-6s %s%s%s%s\n", s->action == STEP_RESUME ? "resume" : "apply",
			       m->name, m->transaction ? "" : "  [no transaction]",
			       m->batch ? "  [batch: repeats until it changes no row]" : "",
			       m->irreversible ? "  [irreversible]" : "");
			if (s->action == STEP_RESUME)
				printf("      (resumes after %lld batches, %lld rows)\n",
				       s->row->batches, s->row->rows_changed);
			if (batch_throttle_set(m->throttle)) {
				struct buf t = BUF_INIT;

				if (batch_throttle_text(m->throttle, &t) == 0)
					printf("      batch: %s\n", buf_cstr(&t));
				buf_release(&t);
			}
			if (bp)
				printf("      backup first: %s\n", bp);
			if (m->bm && m->bm->nwaivers) {
				struct buf w = BUF_INIT;

				/* what the signed manifest says was let through */
				waivers_text(m->bm, "      ", &w);
				fputs(buf_cstr(&w), stdout);
				buf_release(&w);
			}
			const struct apply_sql *q = apply_mig_sql(m);

			print_sql(q->up_path, q->up);
			if (q->verify)
				print_sql("verify.sql (must return true)", q->verify);
		} else {
			printf("  %-6s %s: %s\n", s->action == STEP_DRIFT ? "DRIFT"
						  : s->action == STEP_BLOCKED ? "STOP"
						  : s->action == STEP_CONTRACT_WAITS ? "wait"
									      : "skip",
			       m->name, skip_reason(s, env, why, sizeof(why)));
		}
		free(bp);
	}
	for (i = 0; i < p->nmissing; i++)
		printf("  note   %s is applied in the database but not in this bundle\n",
		       p->missing[i]->name);
	for (i = 0; i < p->nblocked; i++) {
		size_t j;
		int shown = 0;

		for (j = 0; j < p->n && !shown; j++)
			shown = p->steps[j].row == p->blocked[i];
		if (!shown)
			printf("  STOP   %s: %s in an earlier run and not in this bundle: needs repair\n",
			       p->blocked[i]->name,
			       strcmp(p->blocked[i]->state, BK_FAILED) ? "unfinished" : "failed");
	}
	printf("%zu to apply, %zu skipped\n", p->napply, p->n - p->napply);
}

static void plan_json(struct apply_ctx *c, const struct apply_set *set, const struct plan *p,
		      const char *env, const struct plan_ops *o)
{
	struct buf b = BUF_INIT;
	size_t i;
	char why[512];

	buf_puts(&b, "{\"bundle\":");
	buf_put_json_string(&b, set->bundle_id);
	buf_puts(&b, ",\"bundle_name\":");
	buf_put_json_string(&b, set->bundle_name);
	buf_puts(&b, ",\"environment\":");
	buf_put_json_string(&b, env);
	buf_puts(&b, ",\"database\":");
	buf_put_json_string(&b, c->drv->display_name(c->db));
	buf_puts(&b, ",\"current\":");
	if (p->current)
		buf_put_json_string(&b, p->current);
	else
		buf_puts(&b, "null");
	hooks_json(&b, o->hooks);
	callbacks_json(&b, set);
	buf_puts(&b, ",\"steps\":[");
	for (i = 0; i < p->n; i++) {
		const struct plan_step *s = &p->steps[i];
		const char *r = skip_reason(s, env, why, sizeof(why));
		char *bp = step_backup(o, s);

		buf_puts(&b, i ? ",{\"version\":" : "{\"version\":");
		buf_put_json_string(&b, s->m->version);
		buf_puts(&b, ",\"migration\":");
		buf_put_json_string(&b, s->m->name);
		buf_puts(&b, ",\"action\":");
		buf_put_json_string(&b, step_action_name(s->action));
		buf_printf(&b, ",\"transaction\":%s,\"kind\":\"%s\"",
			   s->m->transaction ? "true" : "false", s->m->batch ? "batch" : "schema");
		if (batch_throttle_set(s->m->throttle)) {
			buf_puts(&b, ",\"batch\":");
			batch_throttle_json(s->m->throttle, &b);
		}
		if (r) {
			buf_puts(&b, ",\"reason\":");
			buf_put_json_string(&b, r);
		}
		if (s->action == STEP_DRIFT) {
			buf_puts(&b, ",\"checksum\":");
			buf_put_json_string(&b, s->m->checksum);
			buf_puts(&b, ",\"applied_checksum\":");
			buf_put_json_string(&b, s->row->checksum);
		}
		if (s->m->bm && s->m->bm->nwaivers) {
			buf_puts(&b, ",\"waivers\":");
			waivers_json(s->m->bm, &b);
		}
		if (s->action == STEP_APPLY || s->action == STEP_RESUME) {
			const struct apply_sql *q = apply_mig_sql(s->m);

			buf_puts(&b, ",\"sql\":");
			buf_put_json_string(&b, q->up);
			if (q->verify) {
				buf_puts(&b, ",\"verify\":");
				buf_put_json_string(&b, q->verify);
			}
		}
		if (bp) {
			buf_puts(&b, ",\"backup\":");
			buf_put_json_string(&b, bp);
			free(bp);
		}
		buf_putc(&b, '}');
	}
	buf_puts(&b, "],\"missing\":[");
	for (i = 0; i < p->nmissing; i++) {
		if (i)
			buf_putc(&b, ',');
		buf_put_json_string(&b, p->missing[i]->name);
	}
	buf_printf(&b, "],\"apply\":%zu,\"skip\":%zu}\n", p->napply, p->n - p->napply);
	fwrite(b.ptr, 1, b.len, stdout);
	buf_release(&b);
}

int plan_show(struct apply_ctx *c, const struct apply_set *set, const char *env, const char *to,
	      const struct apply_policy *ap)
{
	struct bk_row *rows = NULL;
	size_t nrows = 0;
	struct plan p;
	struct plan_ops o;
	int rc, exists = 0;

	memset(&o, 0, sizeof(o));
	if (ap) {
		apply_policy_backup(&o.b, ap, c, env, set->bundle_id);
		o.hooks = ap->active ? ap->ac.env.hooks : NULL;
	}
	o.backup = c->drv->backup_to || c->drv->dump_tables;

	if (c->drv->bk_exists(c->db, &exists) || (exists && c->drv->bk_read(c->db, &rows, &nrows))) {
		apply_ctx_fail(c, EXIT_ENVIRONMENT, cairn_error_last(), "is unchanged", NULL);
		return EXIT_ENVIRONMENT;
	}
	rc = plan_build(&p, set, rows, nrows, env, to);
	if (rc != EXIT_OK) {
		error_msg("%s", cairn_error_last());
		bk_rows_free(rows, nrows);
		return rc;
	}
	if (c->json)
		plan_json(c, set, &p, env, &o);
	else
		plan_text(c, set, &p, env, &o);
	fflush(stdout);
	if (p.ndrift) {
		error_msg("apply would stop: %zu applied migration%s differ%s from the bundle (drift)",
			  p.ndrift, p.ndrift == 1 ? "" : "s", p.ndrift == 1 ? "s" : "");
		rc = EXIT_STATE;
	} else if (p.nblocked) {
		error_msg("apply would stop: a migration failed or did not finish in an earlier "
			  "run; see 'cairn-apply status' and 'cairn-apply repair'");
		rc = EXIT_STATE;
	}
	plan_release(&p);
	bk_rows_free(rows, nrows);
	return rc;
}

int cmd_plan(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "env", required_argument, NULL, 'e' },
		{ "db", required_argument, NULL, 'd' },
		{ "to", required_argument, NULL, 't' },
		{ "key", required_argument, NULL, 'k' },
		{ "format", required_argument, NULL, 'f' },
		{ "config", required_argument, NULL, 'C' },
		{ NULL, 0, NULL, 0 },
	};
	const char *env = NULL, *dsn = NULL, *to = NULL, *bundle, *config = NULL;
	struct apply_policy ap;
	const char **keys = NULL;
	size_t nkeys = 0;
	int json = 0, c, rc;
	struct apply_ctx ctx;
	struct apply_set set;

	memset(&ctx, 0, sizeof(ctx));
	memset(&set, 0, sizeof(set));
	memset(&ap, 0, sizeof(ap));
	keys = xcalloc((size_t)argc, sizeof(*keys));
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'e': env = optarg; break;
		case 'd': dsn = optarg; break;
		case 't': to = optarg; break;
		case 'k': keys[nkeys++] = optarg; break;
		case 'C': config = optarg; break;
		case 'f':
			if (parse_format(&cmd_plan_desc, optarg, &json)) {
				free(keys);
				return EXIT_USAGE;
			}
			break;
		default:
			free(keys);
			return usage_error(&cmd_plan_desc, "unknown option '%s'", argv[optind - 1]);
		}
	}
	rc = EXIT_USAGE;
	if (optind + 1 != argc)
		rc = usage_error(&cmd_plan_desc, optind < argc ? "expected one BUNDLE" : "missing BUNDLE");
	else if ((rc = apply_policy_begin(&ap, &cmd_plan_desc, config, &env, &dsn, NULL, NULL,
					  nkeys)) != EXIT_OK)
		;
	else if (!env)
		rc = usage_error(&cmd_plan_desc, "missing --env ENV");
	else if (!dsn)
		rc = usage_error(&cmd_plan_desc, "missing --db DSN");
	else
		rc = EXIT_OK;
	if (rc != EXIT_OK)
		goto out;
	bundle = argv[optind];
	rc = apply_ctx_open(&ctx, &cmd_plan_desc, dsn, DRIVER_OPEN_READONLY, json);
	if (rc)
		goto out;
	rc = apply_policy_load_bundle(&ap, &ctx, bundle, 0, keys, nkeys, &set);
	if (rc)
		goto out;
	rc = apply_policy_check_db(&ap, &ctx, bundle, 0);
	if (rc)
		goto out;
	rc = plan_show(&ctx, &set, env, to, &ap);
out:
	apply_set_release(&set);
	apply_ctx_close(&ctx);
	apply_policy_release(&ap);
	free(keys);
	return rc;
}
