#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/error.h"
#include "policy-gate.h"
#include "cairn-apply.h"

const struct cmd cmd_repair_desc = {
	"repair", cmd_repair,
	"clear a failed or unfinished migration after fixing it by hand",
	"cairn-apply repair --db DSN VERSION (--mark-applied | --mark-rolled-back) [--lock-timeout D]\n"
	"       cairn-apply repair --env ENV --bundle BUNDLE [--config FILE] VERSION (--mark-applied | --mark-rolled-back)",
	"A migration that ran outside a transaction (transaction: false) and failed\n"
	"or was interrupted stays failed or in progress, and apply refuses to run\n"
	"until an operator has looked. Once the schema is fixed by hand, repair\n"
	"records the outcome: --mark-applied (the migration's effect is complete)\n"
	"or --mark-rolled-back (it is undone; apply will run it again). The repair\n"
	"is appended to the audit trail with the error it cleared.\n"
	"\n"
	"With --env, the environment's entry in the applier's config names the\n"
	"database, and a repair is an admin's decision: BUNDLE (the bundle that\n"
	"failed) must meet the environment's policy and carry an override allowing\n"
	"repair, signed by one of its admins ('cairn override BUNDLE --env ENV\n"
	"--key KEY --allow repair'); the audit row names it.\n"
	"\n"
	"Options:\n"
	"   --db DSN             the database: sqlite:PATH\n"
	"   --env ENV            under the environment's policy (else $CAIRN_ENV)\n"
	"   --bundle BUNDLE      the bundle carrying the admin's override\n"
	"   --config FILE        the applier's config\n"
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
		{ "env", required_argument, NULL, 'e' },
		{ "bundle", required_argument, NULL, 'b' },
		{ "config", required_argument, NULL, 'C' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dsn = NULL, *env = NULL, *bundle = NULL, *config = NULL, *lock_flag = NULL;
	const char *db_flag;
	struct apply_policy ap;
	int applied = 0, rolled = 0, c, rc;
	struct apply_ctx ctx;
	struct apply_opts o;
	unsigned long long lock_ms = 15000;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dsn = optarg; break;
		case 'l':
			lock_flag = optarg;
			if (parse_lock_timeout(&cmd_repair_desc, optarg, &lock_ms))
				return EXIT_USAGE;
			break;
		case 'a': applied = 1; break;
		case 'r': rolled = 1; break;
		case 'e': env = optarg; break;
		case 'b': bundle = optarg; break;
		case 'C': config = optarg; break;
		default:
			return usage_error(&cmd_repair_desc, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind + 1 != argc)
		return usage_error(&cmd_repair_desc, optind < argc ? "expected one VERSION"
								 : "missing VERSION");
	if (applied == rolled)
		return usage_error(&cmd_repair_desc, "give one of --mark-applied or --mark-rolled-back");
	db_flag = dsn;
	memset(&ap, 0, sizeof(ap));
	memset(&ctx, 0, sizeof(ctx));
	memset(&o, 0, sizeof(o));
	o.lock_timeout_ms = lock_ms;
	if (env || config || bundle || (!dsn && getenv("CAIRN_ENV"))) {
		/* under the policy: an admin's override on the bundle */
		if (!bundle)
			return usage_error(&cmd_repair_desc, "missing --bundle BUNDLE: under an "
					   "environment's policy a repair needs an admin's override "
					   "statement on the bundle");
		rc = apply_policy_begin(&ap, &cmd_repair_desc, config, &env, &dsn, lock_flag,
					&o.lock_timeout_ms, 0);
		if (!rc)
			rc = policy_bundle_check(&ap.pb, &ap.ac, bundle, POLICY_OVERRIDE_REPAIR, NULL);
		if (rc) {
			if (rc == EXIT_REFUSED)
				error_msg("the database is unchanged");
			goto out;
		}
		o.env = env;
		o.evidence = apply_policy_evidence(&ap);
	} else if (!dsn) {
		return usage_error(&cmd_repair_desc, "missing --db DSN");
	}
	rc = apply_ctx_open(&ctx, &cmd_repair_desc, dsn, DRIVER_OPEN_EXISTING, 0);
	if (rc)
		goto out;
	rc = engine_repair(ctx.db, ctx.drv, argv[optind], applied, &o);
	if (rc == EXIT_OK)
		printf("repaired %s: marked %s%s\n", argv[optind], applied ? "applied" : "rolled back",
		       applied ? "" : "; the next apply runs it again");
	else {
		char *target = apply_target_args(db_flag, dsn, env, config);

		apply_ctx_fail_unchanged(&ctx, rc, rc == EXIT_FAILED, target);
		free(target);
	}
out:
	apply_ctx_close(&ctx);
	apply_policy_release(&ap);
	return rc;
}
