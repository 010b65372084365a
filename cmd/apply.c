#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/error.h"
#include "cairn-apply.h"

#define DEFAULT_LOCK_TIMEOUT_MS 15000ull

const struct cmd cmd_apply_desc = {
	"apply", cmd_apply,
	"verify a bundle and apply its pending migrations",
	"cairn-apply apply BUNDLE --env ENV --db DSN [--to VERSION] [--dry-run] [--atomic]\n"
	"       cairn-apply apply BUNDLE --env ENV --db DSN [--lock-timeout D] [--key PUB]... [--log-format text|json]",
	"Verifies BUNDLE (a bundle that fails verification is refused before the\n"
	"database is opened), takes the database's lock, reads the bookkeeping\n"
	"(cairn_migrations, cairn_audit: created on first use) and applies every\n"
	"pending migration in the bundle's order. Each migration commits in one\n"
	"transaction with its bookkeeping row and audit row, after its verify.sql\n"
	"(when present) returned true in that transaction. A migration with\n"
	"transaction: false is marked in progress first and runs statement by\n"
	"statement; kind: batch repeats its statement, one transaction per batch,\n"
	"until it changes no row, and resumes where it stopped after a crash.\n"
	"Drift (an applied migration whose checksum differs from the bundle's)\n"
	"and failed or unfinished migrations stop the run before anything runs.\n"
	"\n"
	"Options:\n"
	"   --env ENV          the environment; migrations whose environments: do not\n"
	"                      list it are skipped\n"
	"   --db DSN           the database: sqlite:PATH\n"
	"   --to VERSION       apply up to and including VERSION only\n"
	"   --dry-run          print the plan (as 'cairn-apply plan') and change nothing\n"
	"   --atomic           all pending migrations in one transaction: all or nothing\n"
	"   --lock-timeout D   wait up to D for another runner (default 15s; 0: do not wait)\n"
	"   --key PUB          trust builds signed by this public key (repeatable)\n"
	"   --log-format F     text (default; progress on a terminal) or json: one object\n"
	"                      per event, with version, migration, environment, duration\n"
	"\n"
	"Exit status: 0 applied (or nothing to do), 1 a migration failed and was\n"
	"rolled back, 2 usage, 3 bundle refused, 4 lock not obtained, 5 the database\n"
	"needs an operator (drift, a failed or unfinished migration), 6 the database\n"
	"or the bundle cannot be read or written.\n",
};

static void report(struct apply_ctx *c, int rc, const struct apply_result *r,
		   const struct apply_set *set, const char *dsn)
{
	char *msg = xstrdup(cairn_error_last()), *state = NULL, *next = NULL;
	const char *at = r->to_version ? r->to_version : "none";

	switch (rc) {
	case EXIT_LOCKED:
		state = xstrdup("is unchanged by this run");
		next = xstrdup("wait for the other runner to finish, or raise --lock-timeout");
		break;
	case EXIT_STATE:
		if (r->partial) {
			state = xasprintf("needs an operator: migration %s ran outside a transaction "
					  "and may be partly applied; it is marked failed",
					  r->failed_version);
			next = xasprintf("inspect the schema, finish or undo %s by hand, then run "
					 "'cairn-apply repair --db %s %s --mark-applied' (or "
					 "--mark-rolled-back) and apply again",
					 r->failed_version, dsn, r->failed_version);
		} else if (r->needs_repair) {
			state = xasprintf("is unchanged by this run (at version %s), but needs an "
					  "operator first", at);
			next = xasprintf("run 'cairn-apply status --db %s'; inspect the schema, then "
					 "'cairn-apply repair --db %s VERSION --mark-applied' (finished "
					 "by hand) or --mark-rolled-back (undone by hand)",
					 dsn, dsn);
		} else {
			state = xasprintf("is unchanged by this run (at version %s)", at);
			next = xstrdup("applied migrations are immutable: ship a bundle whose migrations "
				       "match what was applied, or find who changed them ('cairn-apply "
				       "status BUNDLE --db DSN')");
		}
		break;
	case EXIT_FAILED:
		if (r->failed_version && set) {
			size_t i;
			int batch = 0;

			for (i = 0; i < set->n; i++)
				if (!strcmp(set->migs[i].version, r->failed_version))
					batch = set->migs[i].batch;
			if (batch) {
				state = xasprintf("has the failing batch of %s rolled back; batches "
						  "committed before it stay, recorded as progress",
						  r->failed_version);
				next = xstrdup("fix the cause, then run apply again: the migration "
					       "resumes where it stopped");
				break;
			}
		}
		if (r->failed_version)
			state = xasprintf("was rolled back to version %s: %s", at,
					  r->applied ? "migrations committed before the failure stay "
						       "applied"
						     : "nothing from this run was applied");
		else
			state = xasprintf("is unchanged (at version %s)", at);
		next = xstrdup("fix the migration, build and ship a new bundle, and run apply "
			       "again");
		break;
	default:
		state = xstrdup("is in the state the last successful step left it; run "
				"'cairn-apply status' once it can be reached");
		break;
	}
	apply_ctx_fail(c, rc, msg, state, next);
	free(msg);
	free(state);
	free(next);
}

int cmd_apply(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "env", required_argument, NULL, 'e' },
		{ "db", required_argument, NULL, 'd' },
		{ "to", required_argument, NULL, 't' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "atomic", no_argument, NULL, 'a' },
		{ "lock-timeout", required_argument, NULL, 'l' },
		{ "key", required_argument, NULL, 'k' },
		{ "log-format", required_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	const char *env = NULL, *dsn = NULL, *to = NULL;
	const char **keys = xcalloc((size_t)argc, sizeof(*keys));
	size_t nkeys = 0;
	int json = 0, dry = 0, atomic = 0, c, rc = EXIT_OK;
	unsigned long long lock_ms = DEFAULT_LOCK_TIMEOUT_MS;
	struct apply_ctx ctx;
	struct apply_set set;
	struct apply_opts o;
	struct apply_result res;

	memset(&ctx, 0, sizeof(ctx));
	memset(&set, 0, sizeof(set));
	memset(&res, 0, sizeof(res));
	while (rc == EXIT_OK && (c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'e': env = optarg; break;
		case 'd': dsn = optarg; break;
		case 't': to = optarg; break;
		case 'n': dry = 1; break;
		case 'a': atomic = 1; break;
		case 'k': keys[nkeys++] = optarg; break;
		case 'l': rc = parse_lock_timeout(&cmd_apply_desc, optarg, &lock_ms); break;
		case 'f': rc = parse_format(&cmd_apply_desc, optarg, &json); break;
		default:
			rc = usage_error(&cmd_apply_desc, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (rc != EXIT_OK)
		goto out;
	if (optind + 1 != argc)
		rc = usage_error(&cmd_apply_desc, optind < argc ? "expected one BUNDLE" : "missing BUNDLE");
	else if (!env)
		rc = usage_error(&cmd_apply_desc, "missing --env ENV");
	else if (!dsn)
		rc = usage_error(&cmd_apply_desc, "missing --db DSN");
	if (rc != EXIT_OK)
		goto out;
	/* Verify before touching the database: a refused bundle opens nothing. */
	ctx.json = json;
	ctx.drv = driver_for_dsn(dsn);
	if (!ctx.drv) {
		error_msg("%s", cairn_error_last());
		rc = EXIT_USAGE;
		goto out;
	}
	rc = apply_ctx_load_bundle(&ctx, argv[optind], keys, nkeys, &set);
	if (rc != EXIT_OK)
		goto out;
	rc = apply_ctx_open(&ctx, &cmd_apply_desc, dsn, dry, json);
	if (rc != EXIT_OK)
		goto out;
	if (dry) {
		rc = plan_show(&ctx, &set, env, to);
		goto out;
	}
	memset(&o, 0, sizeof(o));
	o.env = env;
	o.to = to;
	o.atomic = atomic;
	o.lock_timeout_ms = lock_ms;
	o.event = apply_ctx_event;
	o.ctx = &ctx;
	rc = engine_apply(ctx.db, ctx.drv, &set, &o, &res);
	if (rc == EXIT_OK) {
		if (!json) {
			if (res.applied)
				printf("applied %zu migration%s; %s is at version %s\n", res.applied,
				       res.applied == 1 ? "" : "s", ctx.drv->display_name(ctx.db),
				       res.to_version ? res.to_version : "none");
			else
				printf("nothing to apply: %s is at version %s\n",
				       ctx.drv->display_name(ctx.db),
				       res.to_version ? res.to_version : "none");
		}
	} else if (rc == EXIT_USAGE) {
		rc = usage_error(&cmd_apply_desc, "%s", cairn_error_last());
	} else {
		report(&ctx, rc, &res, &set, dsn);
	}
out:
	apply_result_release(&res);
	apply_set_release(&set);
	apply_ctx_close(&ctx);
	free(keys);
	return rc;
}
