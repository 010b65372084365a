#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/error.h"
#include "../lib/util.h"
#include "books-flags.h"
#include "policy-gate.h"
#include "cairn-apply.h"

const struct cmd cmd_rollback_desc = {
	"rollback", cmd_rollback,
	"run the down scripts stored at apply time, newest first",
	"cairn-apply rollback --db DSN (--to VERSION | --last N) [--env ENV] [--lock-timeout D] [--log-format text|json]\n"
	"       cairn-apply rollback --env ENV [--config FILE] (--to VERSION | --last N) [--checkpoint FILE [--checkpoint-key KEY]]\n"
	"       cairn-apply rollback ... --bundle BUNDLE [--key PUB]...",
	"Rolls back applied migrations, newest first, with the down scripts that\n"
	"were stored in cairn_migrations when they were applied: no bundle is\n"
	"needed. Each down script commits in one transaction with its bookkeeping\n"
	"row (state rolled_back) and an audit row. Every migration to roll back is\n"
	"checked first: an irreversible one, the baseline, or one recorded without\n"
	"a down script stops the command before anything runs. The books are\n"
	"checked against the audit chain first (exit 5 when a row was changed\n"
	"outside cairn-apply), and a down script runs only if its sha256 is the\n"
	"one recorded when its migration was applied from a verified bundle.\n"
	"That record is in the database: with --bundle, each down script must\n"
	"also have the sha256 the bundle's signed manifest records for it (the\n"
	"bundle verified with --key, or with the environment's builder keys), or\n"
	"nothing runs (exit 5 naming the migration and both hashes). Under an\n"
	"applier's config whose environment sets rollback: {require_bundle: true}\n"
	"(the default where it asks for approvals or an 'after' environment),\n"
	"--bundle must be given (else exit 3, nothing done).\n"
	"\n"
	"The environment is --env, else $CAIRN_ENV; with an applier's config\n"
	"(--config, $CAIRN_APPLY_CONFIG, ./cairn-apply.yaml) one must be named, and\n"
	"its entry gives the database and the checkpoint file. A database that\n"
	"belongs to another environment or project is refused (exit 3), and so is\n"
	"a run without a config on a database a config's policy governs (its\n"
	"identity records policy=1): run it with --config FILE.\n"
	"\n"
	"Options:\n"
	"   --db DSN           the database: sqlite:PATH\n"
	"   --to VERSION       roll back every migration above VERSION (0: all)\n"
	"   --last N           roll back the N most recent migrations\n"
	"   --env ENV          the environment this is meant for: refused (exit 3) when\n"
	"                      the database belongs to another (else $CAIRN_ENV)\n"
	"   --config FILE      the applier's config\n"
	"   --checkpoint FILE  after the run, append a signed checkpoint of the audit\n"
	"                      chain's head to FILE (else $CAIRN_CHECKPOINT, else the\n"
	"                      config's)\n"
	"   --checkpoint-key KEY  the key that signs it (else $CAIRN_CHECKPOINT_KEY)\n"
	"   --bundle BUNDLE    the bundle that applied the migrations: every down script\n"
	"                      to run is checked against its signed manifest\n"
	"   --key PUB          a builder key that verifies BUNDLE (repeatable; else the\n"
	"                      config's builders)\n"
	"   --lock-timeout D   wait up to D for another runner (default 15s)\n"
	"   --log-format F     text (default) or json\n"
	"\n"
	"Exit status: 0, 1 a down script failed (that step was rolled back) or an\n"
	"irreversible migration stopped it, 4 lock not obtained, 5 a failed or\n"
	"unfinished migration needs repair first or the books were changed outside\n"
	"cairn-apply, 3 the database belongs to another environment or project, or\n"
	"the environment's policy requires --bundle and none was given, 6\n"
	"the database cannot be used.\n",
};

struct rollback_args {
	struct books_flags bf;
	const char *to, *last, *bundle;
	const char **keys;
	size_t nkeys;
	unsigned long long n;
	int json;
};

static int parse_args(struct rollback_args *a, int argc, char **argv)
{
	static const struct option opts[] = {
		BOOKS_FLAGS_OPTIONS,
		{ "to", required_argument, NULL, 't' },
		{ "last", required_argument, NULL, 'n' },
		{ "log-format", required_argument, NULL, 'f' },
		{ "bundle", required_argument, NULL, 'b' },
		{ "key", required_argument, NULL, 'k' },
		{ NULL, 0, NULL, 0 },
	};
	int c, rc = EXIT_OK;
	char *end;

	books_flags_init(&a->bf);
	a->keys = xcalloc((size_t)argc, sizeof(*a->keys));
	while (rc == EXIT_OK && (c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 't': a->to = optarg; break;
		case 'n': a->last = optarg; break;
		case 'b': a->bundle = optarg; break;
		case 'k': a->keys[a->nkeys++] = optarg; break;
		case 'f': rc = parse_format(&cmd_rollback_desc, optarg, &a->json); break;
		default: rc = books_flags_take(&a->bf, &cmd_rollback_desc, c, argv);
		}
	}
	if (rc != EXIT_OK)
		return rc;
	if (optind < argc)
		return usage_error(&cmd_rollback_desc, "unexpected argument '%s'", argv[optind]);
	if (!a->to == !a->last)
		return usage_error(&cmd_rollback_desc, "give one of --to VERSION or --last N");
	if (a->nkeys && !a->bundle)
		return usage_error(&cmd_rollback_desc, "--key verifies --bundle BUNDLE: give both");
	if (a->to && (!*a->to || strspn(a->to, "0123456789") != strlen(a->to)))
		return usage_error(&cmd_rollback_desc, "--to must be a version (digits), not '%s'",
				   a->to);
	if (a->last) {
		errno = 0;
		a->n = strtoull(a->last, &end, 10);
		if (errno || *end || !*a->last || *a->last == '-' || a->n == 0)
			return usage_error(&cmd_rollback_desc, "--last must be a positive number, "
					   "not '%s'", a->last);
	}
	books_flags_done(&a->bf);
	return EXIT_OK;
}

/* What failed, the state the database is in and what to run next. */
static void report_failure(struct apply_ctx *ctx, const struct rollback_args *a, int rc,
			   const struct apply_result *res)
{
	char *state = NULL, *next = NULL;
	char *target = books_flags_target(&a->bf);
	const char *at = res->to_version ? res->to_version : "none";

	if (rc == EXIT_LOCKED) {
		state = xstrdup("is unchanged by this run");
		next = xstrdup("wait for the other runner, or raise --lock-timeout");
	} else if (rc == EXIT_STATE && res->partial) {
		state = xasprintf("needs an operator: the down script of %s ran outside a "
				  "transaction and stopped partway; it is marked failed",
				  res->failed_version);
		next = xasprintf("finish or undo it by hand, then 'cairn-apply repair %s "
				 "%s --mark-rolled-back' (or --mark-applied)",
				 target, res->failed_version);
	} else if (rc == EXIT_STATE && !res->needs_repair) {
		state = xstrdup("is unchanged (nothing was done)");
		next = xasprintf("compare it with a backup; 'cairn-apply history %s --verify' "
				 "shows what differs", target);
	} else if (rc == EXIT_STATE) {
		state = xstrdup("is unchanged by this run, but needs an operator first");
		next = xasprintf("run 'cairn-apply status %s', then 'cairn-apply repair "
				 "%s %s --mark-applied' or --mark-rolled-back",
				 target, target, res->failed_version ? res->failed_version : "VERSION");
	} else if (rc == EXIT_REFUSED) {
		state = xstrdup("is unchanged");
	} else if (rc == EXIT_FAILED && res->between_steps) {
		state = xasprintf("is at version %s: %s", at,
				  res->applied ? "the rollbacks before the signal stay"
					       : "nothing was rolled back");
		next = xstrdup("run the rollback again to go on");
	} else if (rc == EXIT_FAILED && res->applied == 0 && !res->rolled_back) {
		state = xasprintf("is unchanged (at version %s)", at);
		next = xstrdup("roll back to a version above it, or write a new migration "
			       "that undoes what you need");
	} else if (rc == EXIT_FAILED) {
		state = xasprintf("is at version %s: the failed down script was rolled back%s",
				  at, res->applied ? "; the rollbacks before it stay" : "");
		next = xstrdup("fix the cause (the down scripts come from the bookkeeping), "
			       "then run rollback again");
	} else {
		state = xstrdup("is in the state the last successful step left it");
	}
	if (apply_interrupted && res->between_steps)
		apply_ctx_interrupt_exit(ctx, "stopped between two steps; none was running");
	else if (apply_interrupted)
		apply_ctx_interrupt_exit(ctx, "the running down script was cancelled and rolled back");
	apply_ctx_fail(ctx, rc, cairn_error_last(), state, next);
	free(state);
	free(next);
	free(target);
}

/* --bundle: verified with --key, else (policy mode) with the environment's
 * builder keys, and loaded for the engine, which checks every down script
 * it would run against the bundle's signed manifest. */
static int load_manifest(struct rollback_args *a, struct apply_ctx *ctx,
			 const struct apply_policy *ap, struct apply_set *set)
{
	const struct policy_keylist *l = ap->active ? ap->ac.env.builders : NULL;
	const char **keys = a->keys;
	size_t n = a->nkeys, i;
	int rc;

	if (!a->bundle)
		return EXIT_OK;
	if (!n && l) {
		keys = xcalloc(l->n ? l->n : 1, sizeof(*keys));
		for (i = 0; i < l->n; i++)
			keys[n++] = l->items[i].resolved;
	}
	if (!n)
		rc = usage_error(&cmd_rollback_desc, "--bundle needs the builder keys that "
				 "verify it: --key PUB, or an applier's config");
	else
		rc = apply_ctx_load_bundle(ctx, a->bundle, keys, n, set);
	if (keys != a->keys)
		free(keys);
	return rc;
}

/* rollback: {require_bundle:} (issue #15): under a policy that asks for it
 * (the default where the environment requires approvals) a rollback
 * without --bundle would run down scripts only the books vouch for, and
 * whoever can write the books can recompute their chain. Refused before
 * the database is opened. */
static int bundle_required(const struct rollback_args *a, const struct apply_policy *ap)
{
	const struct policy_resolved *r = &ap->ac.env;

	if (!ap->active || a->bundle || !r->rollback_require_bundle)
		return EXIT_OK;
	error_msg("cannot roll back '%s' without --bundle: its policy runs a stored down script "
		  "only when the signed manifest of the bundle that applied it vouches for it "
		  "(rollback: {require_bundle: true}, %s); nothing was rolled back: the database "
		  "is unchanged", r->env_name, r->rollback_require_src);
	error_msg("give the bundle that applied the migrations: 'cairn-apply rollback --env %s "
		  "%s %s --bundle BUNDLE'", r->env_name, a->to ? "--to" : "--last",
		  a->to ? a->to : a->last);
	return EXIT_REFUSED;
}

int cmd_rollback(int argc, char **argv)
{
	struct rollback_args a;
	struct apply_policy ap;
	struct apply_ctx ctx;
	struct apply_opts o;
	struct apply_result res;
	struct apply_set set;
	int rc;

	memset(&set, 0, sizeof(set));
	memset(&a, 0, sizeof(a));
	memset(&ap, 0, sizeof(ap));
	memset(&ctx, 0, sizeof(ctx));
	memset(&res, 0, sizeof(res));
	rc = parse_args(&a, argc, argv);
	if (rc == EXIT_OK)
		rc = books_flags_policy(&a.bf, &cmd_rollback_desc, &ap);
	if (rc == EXIT_OK)
		rc = bundle_required(&a, &ap);
	if (rc == EXIT_OK)
		rc = books_flags_open(&a.bf, &cmd_rollback_desc, &ap, &ctx, DRIVER_OPEN_EXISTING, a.json);
	if (rc == EXIT_OK)
		rc = load_manifest(&a, &ctx, &ap, &set);
	if (rc)
		goto out;
	memset(&o, 0, sizeof(o));
	o.env = a.bf.env;
	o.checkpoint = ctx.checkpoint;
	o.policy = ap.active;
	o.manifest = a.bundle ? &set : NULL;
	o.lock_timeout_ms = a.bf.lock_ms;
	o.event = apply_ctx_event;
	o.ctx = &ctx;
	o.interrupted = &apply_interrupted;
	o.evidence = ap.ext_note; /* the SQLite extensions loaded (issue #19) */
	apply_ctx_catch_signals(&ctx);
	rc = engine_rollback(ctx.db, ctx.drv, a.to, (size_t)a.n, &o, &res);
	apply_ctx_release_signals();
	if (rc == EXIT_OK && !a.json) {
		if (res.applied)
			printf("rolled back %zu migration%s; %s is at version %s\n", res.applied,
			       res.applied == 1 ? "" : "s", ctx.drv->display_name(ctx.db),
			       res.to_version ? res.to_version : "none (nothing applied)");
		else
			printf("nothing to roll back: %s is at version %s\n",
			       ctx.drv->display_name(ctx.db),
			       res.to_version ? res.to_version : "none");
	} else if (rc != EXIT_OK) {
		report_failure(&ctx, &a, rc, &res);
		if (apply_interrupted)
			rc = 128 + apply_interrupted;
	}
	/* the chain's head, kept outside the database: a rollback changes it */
	rc = checkpoint_after_run(&ctx, &a.bf.cpo, rc);
out:
	books_flags_release(&a.bf);
	apply_set_release(&set);
	free(a.keys);
	apply_result_release(&res);
	apply_ctx_close(&ctx);
	apply_policy_release(&ap);
	return rc;
}
