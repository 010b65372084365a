#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "../apply/load.h"
#include "../lib/error.h"
#include "books-flags.h"
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
	"--key KEY --allow repair'); the audit row names it. $CAIRN_ENV counts as\n"
	"--env, and with an applier's config anywhere ($CAIRN_APPLY_CONFIG,\n"
	"./cairn-apply.yaml) a repair is always under the policy: leaving out\n"
	"--env is no way around it. A database that belongs to another environment\n"
	"or project is refused (exit 3).\n"
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
	"   --checkpoint FILE    after the repair, append a signed checkpoint of the\n"
	"                        audit chain's head (else $CAIRN_CHECKPOINT, else the\n"
	"                        config's)\n"
	"   --checkpoint-key KEY the key that signs it (else $CAIRN_CHECKPOINT_KEY)\n"
	"\n"
	"Exit status: 0, 1 when VERSION is not failed or in progress (with\n"
	"--accept-checksum: not applied with another checksum), 3 refused by the\n"
	"policy or the database's identity, 4 lock not obtained, 5 the books were\n"
	"changed outside cairn-apply, 6 the database cannot be used, 130, 143 or\n"
	"129 SIGINT, SIGTERM or SIGHUP (the wait for the lock stopped, or the write of the\n"
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
			     struct apply_policy *ap, int gated, const char *version,
			     const struct apply_opts *o)
{
	struct apply_set set;
	int rc;

	memset(&set, 0, sizeof(set));
	if (gated) {
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

struct repair_args {
	struct books_flags bf;
	const char *bundle;
	int applied, rolled, gated;
	struct repair_accept acc;
};

static int parse_args(struct repair_args *a, int argc, char **argv)
{
	static const struct option opts[] = {
		BOOKS_FLAGS_OPTIONS,
		{ "mark-applied", no_argument, NULL, 'a' },
		{ "mark-rolled-back", no_argument, NULL, 'r' },
		{ "bundle", required_argument, NULL, 'b' },
		{ "accept-checksum", no_argument, NULL, 'A' },
		{ "reason", required_argument, NULL, 'R' },
		{ "key", required_argument, NULL, 'k' },
		{ NULL, 0, NULL, 0 },
	};
	int c, rc;

	books_flags_init(&a->bf);
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'a': a->applied = 1; break;
		case 'r': a->rolled = 1; break;
		case 'b': a->bundle = optarg; break;
		case 'A': a->acc.on = 1; break;
		case 'R': a->acc.reason = optarg; break;
		case 'k': repair_accept_key(&a->acc, argc, optarg); break;
		default:
			if ((rc = books_flags_take(&a->bf, &cmd_repair_desc, c, argv)))
				return rc;
		}
	}
	if (a->acc.on) {
		rc = repair_accept_args(&a->acc, argc, argv, a->applied || a->rolled);

		if (rc != EXIT_OK)
			return rc;
		if (a->bundle)
			return usage_error(&cmd_repair_desc, "--accept-checksum takes the bundle as "
					   "its first operand, not --bundle");
	} else if (optind + 1 != argc)
		return usage_error(&cmd_repair_desc, optind < argc ? "expected one VERSION"
								 : "missing VERSION");
	if (!a->acc.on && a->applied == a->rolled)
		return usage_error(&cmd_repair_desc, "give one of --mark-applied or --mark-rolled-back");
	books_flags_done(&a->bf);
	return EXIT_OK;
}

/* Under the policy (--env, --config, --bundle, or a config anywhere): an
 * admin's override on the bundle allowing repair. */
static int policy_gate(struct repair_args *a, struct apply_policy *ap, struct apply_opts *o)
{
	struct books_flags *f = &a->bf;
	int rc = books_flags_policy(f, &cmd_repair_desc, ap);

	o->lock_timeout_ms = f->lock_ms;
	if (rc || !(ap->active || f->env_flag || f->config || a->bundle || (!f->dsn && f->env)))
		return rc;
	if (!a->bundle && a->acc.on)
		a->bundle = a->acc.bundle;
	if (!a->bundle)
		return usage_error(&cmd_repair_desc, "missing --bundle BUNDLE: under an "
				   "environment's policy a repair needs an admin's override "
				   "statement on the bundle");
	a->gated = 1;
	rc = policy_bundle_check(&ap->pb, &ap->ac, a->bundle, POLICY_OVERRIDE_REPAIR, NULL);
	if (rc == EXIT_REFUSED)
		error_msg("the database is unchanged");
	o->evidence = apply_policy_evidence(ap);
	return rc;
}

int cmd_repair(int argc, char **argv)
{
	struct repair_args a;
	struct apply_policy ap;
	struct apply_ctx ctx;
	struct apply_opts o;
	int rc;

	memset(&a, 0, sizeof(a));
	memset(&ap, 0, sizeof(ap));
	memset(&ctx, 0, sizeof(ctx));
	memset(&o, 0, sizeof(o));
	rc = parse_args(&a, argc, argv);
	if (rc) {
		free(a.acc.keys);
		return rc;
	}
	rc = policy_gate(&a, &ap, &o);
	if (rc == EXIT_OK)
		rc = books_flags_open(&a.bf, &cmd_repair_desc, &ap, &ctx, DRIVER_OPEN_EXISTING, 0);
	if (rc)
		goto out;
	o.env = a.bf.env;
	o.checkpoint = ctx.checkpoint;
	o.policy = ap.active;
	/* again: books_flags_open noted the server connected, which a repair
	 * without a policy records too (attack15i) */
	o.evidence = apply_policy_evidence(&ap);
	o.interrupted = &apply_interrupted;
	apply_ctx_catch_signals(&ctx);
	if (a.acc.on)
		rc = repair_accept_run(&a.acc, &ctx, &ap, a.gated, argv[argc - 1], &o);
	else
		rc = engine_repair(ctx.db, ctx.drv, argv[argc - 1], a.applied, &o);
	apply_ctx_release_signals();
	if (apply_interrupted) {
		rc = apply_ctx_interrupt_books(&ctx, rc, "repair");
	} else if (rc == EXIT_OK && a.acc.on) {
		printf("repaired %s: drift accepted; the books now hold the checksum of bundle %s\n",
		       argv[argc - 1], a.acc.bundle);
	} else if (rc == EXIT_OK) {
		printf("repaired %s: marked %s%s\n", argv[argc - 1],
		       a.applied ? "applied" : "rolled back",
		       a.applied ? "" : "; the next apply runs it again");
	} else {
		char *target = books_flags_target(&a.bf);

		apply_ctx_fail_unchanged(&ctx, rc, rc == EXIT_FAILED, target);
		free(target);
	}
	rc = checkpoint_after_run(&ctx, &a.bf.cpo, rc);
out:
	books_flags_release(&a.bf);
	free(a.acc.keys);
	apply_ctx_close(&ctx);
	apply_policy_release(&ap);
	return rc;
}
