#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/error.h"
#include "books-flags.h"
#include "policy-gate.h"
#include "cairn-apply.h"

const struct cmd cmd_baseline_desc = {
	"baseline", cmd_baseline,
	"mark an existing database as being at a version",
	"cairn-apply baseline --db DSN --version VERSION [--env ENV] [--description TEXT] [--lock-timeout D]\n"
	"       cairn-apply baseline ... [--config FILE] [--checkpoint FILE [--checkpoint-key KEY]]",
	"Records that the database already holds every migration up to and\n"
	"including VERSION (made before cairn managed it): apply then skips them\n"
	"and starts above VERSION. Refused when the database already records\n"
	"migrations. The baseline is appended to the audit trail; it cannot be\n"
	"rolled back past. The environment is --env, else $CAIRN_ENV; with an\n"
	"applier's config anywhere one must be named, and its entry gives the\n"
	"database and the checkpoint file. A database that belongs to another\n"
	"environment or project is refused (exit 3), and so is a run without a\n"
	"config on a database a config's policy governs (identity policy=1).\n"
	"\n"
	"Options:\n"
	"   --db DSN            the database: sqlite:PATH\n"
	"   --version VERSION   the version the existing schema corresponds to\n"
	"   --env ENV           the environment, for the audit trail\n"
	"   --description TEXT  recorded in the audit trail\n"
	"   --lock-timeout D    wait up to D for another runner (default 15s)\n"
	"   --config FILE       the applier's config\n"
	"   --checkpoint FILE   after the run, append a signed checkpoint of the audit\n"
	"                       chain's head (else $CAIRN_CHECKPOINT, else the config's)\n"
	"   --checkpoint-key KEY  the key that signs it (else $CAIRN_CHECKPOINT_KEY)\n"
	"\n"
	"SIGINT, SIGTERM or SIGHUP stops the wait for the lock, or cancels the write\n"
	"of the books (one transaction: all of it or nothing), and exits 130, 143\n"
	"or 129.\n",
};

struct baseline_args {
	struct books_flags bf;
	const char *version, *desc;
};

static int parse_args(struct baseline_args *a, int argc, char **argv)
{
	static const struct option opts[] = {
		BOOKS_FLAGS_OPTIONS,
		{ "version", required_argument, NULL, 'v' },
		{ "description", required_argument, NULL, 'm' },
		{ NULL, 0, NULL, 0 },
	};
	int c, rc;

	books_flags_init(&a->bf);
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'v': a->version = optarg; break;
		case 'm': a->desc = optarg; break;
		default:
			if ((rc = books_flags_take(&a->bf, &cmd_baseline_desc, c, argv)))
				return rc;
		}
	}
	if (optind < argc)
		return usage_error(&cmd_baseline_desc, "unexpected argument '%s'", argv[optind]);
	if (!a->version)
		return usage_error(&cmd_baseline_desc, "missing --version VERSION");
	books_flags_done(&a->bf);
	return EXIT_OK;
}

int cmd_baseline(int argc, char **argv)
{
	struct baseline_args a;
	struct apply_policy ap;
	struct apply_ctx ctx;
	struct apply_opts o;
	int rc;

	memset(&a, 0, sizeof(a));
	memset(&ap, 0, sizeof(ap));
	memset(&ctx, 0, sizeof(ctx));
	memset(&o, 0, sizeof(o));
	rc = parse_args(&a, argc, argv);
	if (rc == EXIT_OK)
		rc = books_flags_policy(&a.bf, &cmd_baseline_desc, &ap);
	if (rc == EXIT_OK)
		rc = books_flags_open(&a.bf, &cmd_baseline_desc, &ap, &ctx, 0, 0);
	if (rc)
		goto out;
	o.env = a.bf.env;
	o.checkpoint = ctx.checkpoint;
	o.policy = ap.active;
	o.evidence = ap.ext_note; /* the SQLite extensions loaded (issue #19) */
	o.lock_timeout_ms = a.bf.lock_ms;
	o.interrupted = &apply_interrupted;
	apply_ctx_catch_signals(&ctx);
	rc = engine_baseline(ctx.db, ctx.drv, a.version, a.desc, &o);
	apply_ctx_release_signals();
	if (apply_interrupted) {
		rc = apply_ctx_interrupt_books(&ctx, rc, "baseline");
	} else if (rc == EXIT_OK) {
		printf("baseline: %s is at version %s; apply starts above it\n",
		       ctx.drv->display_name(ctx.db), a.version);
	} else if (rc == EXIT_USAGE) {
		rc = usage_error(&cmd_baseline_desc, "%s", cairn_error_last());
	} else {
		char *target = books_flags_target(&a.bf);

		apply_ctx_fail_unchanged(&ctx, rc, rc == EXIT_STATE, target);
		free(target);
	}
	rc = checkpoint_after_run(&ctx, &a.bf.cpo, rc);
out:
	books_flags_release(&a.bf);
	apply_ctx_close(&ctx);
	apply_policy_release(&ap);
	return rc;
}
