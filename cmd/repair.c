#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "../apply/load.h"
#include "../lib/error.h"
#include "policy-gate.h"
#include "cairn-apply.h"

const struct cmd cmd_repair_desc = {
	"repair", cmd_repair,
	"clear a failed or unfinished migration after fixing it by hand",
	"cairn-apply repair --db DSN VERSION (--mark-applied | --mark-rolled-back) [--lock-timeout D]\n"
	"       cairn-apply repair --env ENV --bundle BUNDLE [--config FILE] VERSION (--mark-applied | --mark-rolled-back)\n"
	"       cairn-apply repair BUNDLE --db DSN [--key PUB]... VERSION --accept-checksum --reason WHY\n"
	"       cairn-apply repair BUNDLE --env ENV [--config FILE] VERSION --accept-checksum --reason WHY",
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
	"Drift: an applied migration whose file changed stops apply. When the\n"
	"change was a legitimate re-release (a comment, a fix already made by\n"
	"hand), --accept-checksum records the checksum BUNDLE (verified with\n"
	"--key, or under the environment's policy with an admin's override\n"
	"allowing repair) has for VERSION; the audit row names the old and new\n"
	"checksums, the bundle, who ran it and --reason. Nothing is run.\n"
	"\n"
	"Options:\n"
	"   --db DSN             the database: sqlite:PATH\n"
	"   --env ENV            under the environment's policy (else $CAIRN_ENV)\n"
	"   --bundle BUNDLE      the bundle carrying the admin's override\n"
	"   --config FILE        the applier's config\n"
	"   --mark-applied       the migration is now fully applied\n"
	"   --mark-rolled-back   the migration is now fully undone\n"
	"   --accept-checksum    record BUNDLE's checksum for the drifted VERSION\n"
	"   --reason WHY         why (--accept-checksum): goes into the audit row\n"
	"   --key PUB            trust builds signed by this key (--accept-checksum, --db)\n"
	"   --lock-timeout D     wait up to D for another runner (default 15s)\n"
	"\n"
	"Exit status: 0, 1 when VERSION is not failed or in progress (with\n"
	"--accept-checksum: not applied with another checksum), 3 the bundle is\n"
	"refused, 4 lock not obtained, 6 the database cannot be used, 130 or 143\n"
	"SIGINT or SIGTERM (the wait for the lock stopped, or the write of the\n"
	"books cancelled: one transaction, all of it or nothing).\n",
};

/* --accept-checksum (drift accepted): its arguments and its run, apart
 * from the rest of the verb. */
struct repair_accept {
	int on;
	const char *reason;
	const char **keys;
	size_t nkeys;
	const char *bundle; /* the first of the two operands: BUNDLE VERSION */
};

static void repair_accept_key(struct repair_accept *a, int argc, const char *key)
{
	if (!a->keys)
		a->keys = xcalloc((size_t)argc, sizeof(*a->keys));
	a->keys[a->nkeys++] = key;
}

static int repair_accept_args(struct repair_accept *a, int argc, char **argv, int marked)
{
	if (marked)
		return usage_error(&cmd_repair_desc, "--accept-checksum takes neither "
				   "--mark-applied nor --mark-rolled-back");
	if (optind + 2 != argc)
		return usage_error(&cmd_repair_desc, "--accept-checksum needs BUNDLE and VERSION");
	if (!a->reason || !*a->reason)
		return usage_error(&cmd_repair_desc, "--accept-checksum needs --reason WHY: it goes "
				   "into the audit row");
	a->bundle = argv[optind];
	return EXIT_OK;
}

/* The bundle (verified with --key, or the one the policy checked), then the
 * engine. */
static int repair_accept_run(struct repair_accept *a, struct apply_ctx *ctx,
			     struct apply_policy *ap, const char *version, const struct apply_opts *o)
{
	struct apply_set set;
	int rc;

	memset(&set, 0, sizeof(set));
	if (ap->active) {
		if (apply_set_load(&set, ap->pb.b, ctx->drv->name, 0)) {
			error_msg("cannot read bundle '%s': %s", a->bundle, cairn_error_last());
			return EXIT_REFUSED;
		}
	} else if ((rc = apply_ctx_load_bundle(ctx, a->bundle, a->keys, a->nkeys, &set))) {
		return rc;
	}
	rc = engine_accept_checksum(ctx->db, ctx->drv, &set, version, a->reason, o);
	apply_set_release(&set);
	return rc;
}

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
		{ "accept-checksum", no_argument, NULL, 'A' },
		{ "reason", required_argument, NULL, 'R' },
		{ "key", required_argument, NULL, 'k' },
		{ NULL, 0, NULL, 0 },
	};
	struct repair_accept acc = { 0, NULL, NULL, 0, NULL };
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
		case 'A': acc.on = 1; break;
		case 'R': acc.reason = optarg; break;
		case 'k': repair_accept_key(&acc, argc, optarg); break;
		default:
			return usage_error(&cmd_repair_desc, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (acc.on && (rc = repair_accept_args(&acc, argc, argv, applied || rolled)) != EXIT_OK) {
		free(acc.keys);
		return rc;
	}
	if (acc.on)
		bundle = acc.bundle;
	else if (optind + 1 != argc)
		return usage_error(&cmd_repair_desc, optind < argc ? "expected one VERSION"
								 : "missing VERSION");
	if (!acc.on && applied == rolled)
		return usage_error(&cmd_repair_desc, "give one of --mark-applied or --mark-rolled-back");
	db_flag = dsn;
	memset(&ap, 0, sizeof(ap));
	memset(&ctx, 0, sizeof(ctx));
	memset(&o, 0, sizeof(o));
	o.lock_timeout_ms = lock_ms;
	if (env || config || (bundle && !acc.on) || (!dsn && getenv("CAIRN_ENV"))) {
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
	o.interrupted = &apply_interrupted;
	apply_ctx_catch_signals(&ctx);
	if (acc.on)
		rc = repair_accept_run(&acc, &ctx, &ap, argv[argc - 1], &o);
	else
		rc = engine_repair(ctx.db, ctx.drv, argv[optind], applied, &o);
	apply_ctx_release_signals();
	if (apply_interrupted)
		rc = apply_ctx_interrupt_books(&ctx, rc, "repair");
	else if (acc.on && rc == EXIT_OK)
		printf("repaired %s: drift accepted; the books now hold the checksum of bundle %s\n",
		       argv[argc - 1], acc.bundle);
	else if (rc == EXIT_OK)
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
	free(acc.keys);
	return rc;
}
