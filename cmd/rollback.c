#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/error.h"
#include "cairn-apply.h"

const struct cmd cmd_rollback_desc = {
	"rollback", cmd_rollback,
	"run the down scripts stored at apply time, newest first",
	"cairn-apply rollback --db DSN (--to VERSION | --last N) [--env ENV] [--lock-timeout D] [--log-format text|json]",
	"Rolls back applied migrations, newest first, with the down scripts that\n"
	"were stored in cairn_migrations when they were applied: no bundle is\n"
	"needed. Each down script commits in one transaction with its bookkeeping\n"
	"row (state rolled_back) and an audit row. Every migration to roll back is\n"
	"checked first: an irreversible one, the baseline, or one recorded without\n"
	"a down script stops the command before anything runs. The books are\n"
	"checked against the audit chain first (exit 5 when a row was changed\n"
	"outside cairn-apply), and a down script runs only if its sha256 is the\n"
	"one recorded when its migration was applied from a verified bundle.\n"
	"\n"
	"Options:\n"
	"   --db DSN           the database: sqlite:PATH\n"
	"   --to VERSION       roll back every migration above VERSION (0: all)\n"
	"   --last N           roll back the N most recent migrations\n"
	"   --env ENV          the environment this is meant for: refused (exit 3) when\n"
	"                      the database belongs to another\n"
	"   --lock-timeout D   wait up to D for another runner (default 15s)\n"
	"   --log-format F     text (default) or json\n"
	"\n"
	"Exit status: 0, 1 a down script failed (that step was rolled back) or an\n"
	"irreversible migration stopped it, 4 lock not obtained, 5 a failed or\n"
	"unfinished migration needs repair first, 6 the database cannot be used.\n",
};

int cmd_rollback(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "db", required_argument, NULL, 'd' },
		{ "to", required_argument, NULL, 't' },
		{ "last", required_argument, NULL, 'n' },
		{ "env", required_argument, NULL, 'e' },
		{ "lock-timeout", required_argument, NULL, 'l' },
		{ "log-format", required_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dsn = NULL, *to = NULL, *last = NULL, *env = NULL;
	unsigned long long lock_ms = 15000, n = 0;
	int json = 0, c, rc = EXIT_OK;
	struct apply_ctx ctx;
	struct apply_opts o;
	struct apply_result res;
	char *end;

	memset(&ctx, 0, sizeof(ctx));
	memset(&res, 0, sizeof(res));
	while (rc == EXIT_OK && (c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dsn = optarg; break;
		case 't': to = optarg; break;
		case 'n': last = optarg; break;
		case 'e': env = optarg; break;
		case 'l': rc = parse_lock_timeout(&cmd_rollback_desc, optarg, &lock_ms); break;
		case 'f': rc = parse_format(&cmd_rollback_desc, optarg, &json); break;
		default:
			rc = usage_error(&cmd_rollback_desc, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (rc != EXIT_OK)
		return rc;
	if (optind < argc)
		return usage_error(&cmd_rollback_desc, "unexpected argument '%s'", argv[optind]);
	if (!dsn)
		return usage_error(&cmd_rollback_desc, "missing --db DSN");
	if (!to == !last)
		return usage_error(&cmd_rollback_desc, "give one of --to VERSION or --last N");
	if (to && (!*to || strspn(to, "0123456789") != strlen(to)))
		return usage_error(&cmd_rollback_desc, "--to must be a version (digits), not '%s'", to);
	if (last) {
		errno = 0;
		n = strtoull(last, &end, 10);
		if (errno || *end || !*last || *last == '-' || n == 0)
			return usage_error(&cmd_rollback_desc, "--last must be a positive number, not '%s'",
					   last);
	}
	rc = apply_ctx_open(&ctx, &cmd_rollback_desc, dsn, DRIVER_OPEN_EXISTING, json);
	if (rc)
		return rc;
	memset(&o, 0, sizeof(o));
	o.env = env;
	o.lock_timeout_ms = lock_ms;
	o.event = apply_ctx_event;
	o.ctx = &ctx;
	o.interrupted = &apply_interrupted;
	apply_ctx_catch_signals(&ctx);
	rc = engine_rollback(ctx.db, ctx.drv, to, (size_t)n, &o, &res);
	apply_ctx_release_signals();
	if (rc == EXIT_OK) {
		if (!json) {
			if (res.applied)
				printf("rolled back %zu migration%s; %s is at version %s\n", res.applied,
				       res.applied == 1 ? "" : "s", ctx.drv->display_name(ctx.db),
				       res.to_version ? res.to_version : "none (nothing applied)");
			else
				printf("nothing to roll back: %s is at version %s\n",
				       ctx.drv->display_name(ctx.db),
				       res.to_version ? res.to_version : "none");
		}
	} else {
		char *state = NULL, *next = NULL, *target = apply_target_args(dsn, dsn, NULL, NULL);
		const char *at = res.to_version ? res.to_version : "none";

		if (rc == EXIT_LOCKED) {
			state = xstrdup("is unchanged by this run");
			next = xstrdup("wait for the other runner, or raise --lock-timeout");
		} else if (rc == EXIT_STATE && res.partial) {
			state = xasprintf("needs an operator: the down script of %s ran outside a "
					  "transaction and stopped partway; it is marked failed",
					  res.failed_version);
			next = xasprintf("finish or undo it by hand, then 'cairn-apply repair %s "
					 "%s --mark-rolled-back' (or --mark-applied)",
					 target, res.failed_version);
		} else if (rc == EXIT_STATE) {
			state = xstrdup("is unchanged by this run, but needs an operator first");
			next = xasprintf("run 'cairn-apply status %s', then 'cairn-apply repair "
					 "%s %s --mark-applied' or --mark-rolled-back",
					 target, target, res.failed_version ? res.failed_version : "VERSION");
		} else if (rc == EXIT_FAILED && res.applied == 0 && !res.rolled_back) {
			state = xasprintf("is unchanged (at version %s)", at);
			next = xstrdup("roll back to a version above it, or write a new migration "
				       "that undoes what you need");
		} else if (rc == EXIT_FAILED) {
			state = xasprintf("is at version %s: the failed down script was rolled back%s",
					  at, res.applied ? "; the rollbacks before it stay" : "");
			next = xstrdup("fix the cause (the down scripts come from the bookkeeping), "
				       "then run rollback again");
		} else {
			state = xstrdup("is in the state the last successful step left it");
		}
		if (apply_interrupted)
			apply_ctx_interrupt_exit(&ctx, "the running down script was cancelled and rolled back");
		apply_ctx_fail(&ctx, rc, cairn_error_last(), state, next);
		free(state);
		free(next);
		free(target);
		if (apply_interrupted)
			rc = 128 + apply_interrupted;
	}
	apply_result_release(&res);
	apply_ctx_close(&ctx);
	return rc;
}
