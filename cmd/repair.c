#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/error.h"
#include "cairn-apply.h"

const struct cmd cmd_repair_desc = {
	"repair", cmd_repair,
	"clear a failed or unfinished migration after fixing it by hand",
	"cairn-apply repair --db DSN VERSION (--mark-applied | --mark-rolled-back) [--lock-timeout D]",
	"A migration that ran outside a transaction (transaction: false) and failed\n"
	"or was interrupted stays failed or in progress, and apply refuses to run\n"
	"until an operator has looked. Once the schema is fixed by hand, repair\n"
	"records the outcome: --mark-applied (the migration's effect is complete)\n"
	"or --mark-rolled-back (it is undone; apply will run it again). The repair\n"
	"is appended to the audit trail with the error it cleared.\n"
	"\n"
	"Options:\n"
	"   --db DSN             the database: sqlite:PATH\n"
	"   --mark-applied       the migration is now fully applied\n"
	"   --mark-rolled-back   the migration is now fully undone\n"
	"   --lock-timeout D     wait up to D for another runner (default 15s)\n"
	"\n"
	"Exit status: 0, 1 when VERSION is not failed or in progress, 4 lock not\n"
	"obtained, 6 the database cannot be used.\n",
};

int cmd_repair(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "db", required_argument, NULL, 'd' },
		{ "lock-timeout", required_argument, NULL, 'l' },
		{ "mark-applied", no_argument, NULL, 'a' },
		{ "mark-rolled-back", no_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dsn = NULL;
	int applied = 0, rolled = 0, c, rc;
	struct apply_ctx ctx;
	struct apply_opts o;
	unsigned long long lock_ms = 15000;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dsn = optarg; break;
		case 'l':
			if (parse_lock_timeout(&cmd_repair_desc, optarg, &lock_ms))
				return EXIT_USAGE;
			break;
		case 'a': applied = 1; break;
		case 'r': rolled = 1; break;
		default:
			return usage_error(&cmd_repair_desc, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind + 1 != argc)
		return usage_error(&cmd_repair_desc, optind < argc ? "expected one VERSION"
								 : "missing VERSION");
	if (!dsn)
		return usage_error(&cmd_repair_desc, "missing --db DSN");
	if (applied == rolled)
		return usage_error(&cmd_repair_desc, "give one of --mark-applied or --mark-rolled-back");
	rc = apply_ctx_open(&ctx, &cmd_repair_desc, dsn, 0, 0);
	if (rc)
		return rc;
	memset(&o, 0, sizeof(o));
	o.lock_timeout_ms = lock_ms;
	rc = engine_repair(ctx.db, ctx.drv, argv[optind], applied, &o);
	if (rc == EXIT_OK)
		printf("repaired %s: marked %s%s\n", argv[optind], applied ? "applied" : "rolled back",
		       applied ? "" : "; the next apply runs it again");
	else
		apply_ctx_fail(&ctx, rc, cairn_error_last(), "is unchanged",
			       rc == EXIT_FAILED ? "see 'cairn-apply status --db DSN'" : NULL);
	apply_ctx_close(&ctx);
	return rc;
}
