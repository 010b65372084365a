#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/buf.h"
#include "../lib/error.h"
#include "checkpoint.h"
#include "config.h"
#include "cairn-apply.h"

const struct cmd cmd_history_desc = {
	"history", cmd_history,
	"show the audit trail, and check that it was not tampered with",
	"cairn-apply history --db DSN [--verify] [--format text|json]\n"
	"       cairn-apply history --env ENV [--config FILE] [--verify] [--format text|json]\n"
	"       cairn-apply history --db DSN --verify --checkpoint FILE [--checkpoint-id ID]",
	"Prints cairn_audit, oldest first: every apply, failed apply, rollback,\n"
	"baseline and repair, with who, when, the version before and after, and\n"
	"the bundle. Each row holds the hash of the row before it; --verify\n"
	"recomputes the chain and checks that every bookkeeping row's audit\n"
	"anchor is present, so an edited, inserted or deleted row is found. The\n"
	"database is opened read-only.\n"
	"\n"
	"Options:\n"
	"   --db DSN        the database: sqlite:PATH, postgres://..., host=...\n"
	"   --env ENV       without --db: the environment's database in the applier's\n"
	"                   config\n"
	"   --config FILE   the applier's config (default: $CAIRN_APPLY_CONFIG, else\n"
	"                   ./cairn-apply.yaml)\n"
	"   --verify        check the hash chain, and that every bookkeeping row holds\n"
	"                   the facts its audit row recorded; exit 1 when not\n"
	"   --checkpoint FILE  also check the chain against the newest checkpoint of\n"
	"                   this database in FILE (apply --checkpoint): finds newest\n"
	"                   rows deleted, chains recomputed, tables dropped\n"
	"   --checkpoint-id ID  the checkpoint must be signed by key ID\n"
	"   --format F      text (default) or json\n"
	"\n"
	"Exit status: 0, 1 the chain is broken (--verify), 6 the database cannot be\n"
	"read.\n",
};

static void print_text(const struct audit_row *a, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		const struct audit_row *r = &a[i];

		printf("%4lld %s %-14s %-16s %s -> %s  by %s%s%s%s%s\n", r->seq, r->at, r->action,
		       *r->version ? r->version : "-", *r->from_version ? r->from_version : "none",
		       *r->to_version ? r->to_version : "none", r->actor,
		       *r->environment ? "  env " : "", r->environment,
		       *r->bundle_id ? "  bundle " : "", *r->bundle_id ? r->bundle_id : "");
		if (*r->detail)
			printf("     %s\n", r->detail);
	}
}

int cmd_history(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "db", required_argument, NULL, 'd' },
		{ "verify", no_argument, NULL, 'v' },
		{ "format", required_argument, NULL, 'f' },
		{ "env", required_argument, NULL, 'e' },
		{ "config", required_argument, NULL, 'c' },
		{ "checkpoint", required_argument, NULL, 'P' },
		{ "checkpoint-id", required_argument, NULL, 'K' },
		{ NULL, 0, NULL, 0 },
	};
	const char *db = NULL, *env = NULL, *config = NULL, *cp_file = NULL, *cp_key = NULL;
	char *dsn = NULL;
	int json = 0, verify = 0, c, rc = EXIT_OK;
	struct apply_ctx ctx;
	struct audit_row *a = NULL;
	struct bk_row *rows = NULL;
	struct audit_problem *pr = NULL;
	size_t n = 0, nrows = 0, np = 0, i;

	while (rc == EXIT_OK && (c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd': db = optarg; break;
		case 'e': env = optarg; break;
		case 'c': config = optarg; break;
		case 'v': verify = 1; break;
		case 'P': cp_file = optarg; break;
		case 'K': cp_key = optarg; break;
		case 'f': rc = parse_format(&cmd_history_desc, optarg, &json); break;
		default:
			rc = usage_error(&cmd_history_desc, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (rc != EXIT_OK)
		return rc;
	if (optind < argc)
		return usage_error(&cmd_history_desc, "unexpected argument '%s'", argv[optind]);
	if ((cp_file || cp_key) && !verify)
		return usage_error(&cmd_history_desc, "--checkpoint goes with --verify");
	if (cp_key && !cp_file)
		return usage_error(&cmd_history_desc, "--checkpoint-id goes with --checkpoint");
	rc = apply_config_database(&cmd_history_desc, config, env, db, &dsn);
	if (rc)
		return rc;
	rc = apply_ctx_open(&ctx, &cmd_history_desc, dsn, DRIVER_OPEN_READONLY | DRIVER_OPEN_EXISTING, json);
	if (rc) {
		apply_config_dsn_free(dsn);
		return rc;
	}
	if (ctx.drv->audit_read(ctx.db, 0, &a, &n) ||
	    (verify && ctx.drv->bk_read(ctx.db, &rows, &nrows))) {
		apply_ctx_fail(&ctx, EXIT_ENVIRONMENT, cairn_error_last(), NULL, NULL);
		rc = EXIT_ENVIRONMENT;
		goto out;
	}
	if (verify)
		np = books_problems(a, n, rows, nrows, &pr);
	if (json) {
		struct trail_json t = { ctx.drv->display_name(ctx.db), NULL, a, n, verify, pr, np };
		struct buf b = BUF_INIT;

		trail_json(&b, &t);
		fwrite(b.ptr, 1, b.len, stdout);
		buf_release(&b);
	} else {
		print_text(a, n);
		if (!n)
			printf("no audit rows: cairn-apply has not changed %s yet\n",
			       ctx.drv->display_name(ctx.db));
	}
	fflush(stdout);
	if (verify && np) {
		for (i = 0; i < np; i++)
			error_msg("audit chain broken: %s", pr[i].message);
		error_msg("the audit trail of %s was altered outside cairn-apply (%zu problem%s); "
			  "compare it with a backup or the applier's logs",
			  ctx.drv->display_name(ctx.db), np, np == 1 ? "" : "s");
		rc = EXIT_FAILED;
	} else if (verify && !json) {
		printf("audit chain intact: %zu row%s, %zu migration%s anchored\n", n,
		       n == 1 ? "" : "s", nrows, nrows == 1 ? "" : "s");
	}
	if (verify && cp_file) {
		int crc = checkpoint_verify_file(&ctx, cp_file, cp_key, a, n);

		if (rc == EXIT_OK || crc == EXIT_ENVIRONMENT)
			rc = crc;
	}
out:
	audit_problems_free(pr, np);
	audit_rows_free(a, n);
	bk_rows_free(rows, nrows);
	apply_ctx_close(&ctx);
	apply_config_dsn_free(dsn);
	return rc;
}
