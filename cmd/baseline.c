#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/error.h"
#include "cairn-apply.h"

const struct cmd cmd_baseline_desc = {
	"baseline", cmd_baseline,
	"mark an existing database as being at a version",
	"cairn-apply baseline --db DSN --version VERSION [--env ENV] [--description TEXT] [--lock-timeout D]",
	"Records that the database already holds every migration up to and\n"
	"including VERSION (made before cairn managed it): apply then skips them\n"
	"and starts above VERSION. Refused when the database already records\n"
	"migrations. The baseline is appended to the audit trail; it cannot be\n"
	"rolled back past.\n"
	"\n"
	"Options:\n"
	"   --db DSN            the database: sqlite:PATH\n"
	"   --version VERSION   the version the existing schema corresponds to\n"
	"   --env ENV           the environment, for the audit trail\n"
	"   --description TEXT  recorded in the audit trail\n"
	"   --lock-timeout D    wait up to D for another runner (default 15s)\n"
	"\n"
	"SIGINT or SIGTERM stops the wait for the lock, or cancels the write of the\n"
	"books (one transaction: all of it or nothing), and exits 130 or 143.\n",
};

int cmd_baseline(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "db", required_argument, NULL, 'd' },
		{ "lock-timeout", required_argument, NULL, 'l' },
		{ "version", required_argument, NULL, 'v' },
		{ "env", required_argument, NULL, 'e' },
		{ "description", required_argument, NULL, 'm' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dsn = NULL, *version = NULL, *env = NULL, *desc = NULL;
	struct apply_ctx ctx;
	struct apply_opts o;
	unsigned long long lock_ms = 15000;
	int c, rc;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dsn = optarg; break;
		case 'l':
			if (parse_lock_timeout(&cmd_baseline_desc, optarg, &lock_ms))
				return EXIT_USAGE;
			break;
		case 'v': version = optarg; break;
		case 'e': env = optarg; break;
		case 'm': desc = optarg; break;
		default:
			return usage_error(&cmd_baseline_desc, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return usage_error(&cmd_baseline_desc, "unexpected argument '%s'", argv[optind]);
	if (!dsn)
		return usage_error(&cmd_baseline_desc, "missing --db DSN");
	if (!version)
		return usage_error(&cmd_baseline_desc, "missing --version VERSION");
	rc = apply_ctx_open(&ctx, &cmd_baseline_desc, dsn, 0, 0);
	if (rc)
		return rc;
	memset(&o, 0, sizeof(o));
	o.env = env;
	o.lock_timeout_ms = lock_ms;
	o.interrupted = &apply_interrupted;
	apply_ctx_catch_signals(&ctx);
	rc = engine_baseline(ctx.db, ctx.drv, version, desc, &o);
	apply_ctx_release_signals();
	if (apply_interrupted)
		rc = apply_ctx_interrupt_books(&ctx, rc, "baseline");
	else if (rc == EXIT_OK)
		printf("baseline: %s is at version %s; apply starts above it\n",
		       ctx.drv->display_name(ctx.db), version);
	else if (rc == EXIT_USAGE)
		rc = usage_error(&cmd_baseline_desc, "%s", cairn_error_last());
	else {
		char *target = apply_target_args(dsn, dsn, NULL, NULL);

		apply_ctx_fail_unchanged(&ctx, rc, rc == EXIT_STATE, target);
		free(target);
	}
	apply_ctx_close(&ctx);
	return rc;
}
