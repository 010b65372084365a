#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/buf.h"
#include "../lib/error.h"
#include "cairn.h"

const struct cmd cmd_check_desc = {
	"check", cmd_check,
	"check the migrations, and report every problem",
	"cairn check [--staged] [--ref REV] [--format text|json]",
	"Checks the migrations of the work tree (or the index, or a commit) and\n"
	"prints every finding as 'path:line: error: rule-id: message', then exits 1\n"
	"if any is an error. Rule ids are listed in cairn(1).\n"
	"\n"
	"Options:\n"
	"   --staged        check what is staged in the index (for pre-commit hooks)\n"
	"   --ref REV       check the tree of commit REV\n"
	"   --format F      text (default) or json\n",
};

int cmd_check(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "staged", no_argument, NULL, 's' },
		{ "ref", required_argument, NULL, 'r' },
		{ "format", required_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	struct project_ctx ctx;
	const char *rev = NULL;
	int staged = 0, json = 0, c, rc;
	struct buf out = BUF_INIT;

	memset(&ctx, 0, sizeof(ctx));
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			staged = 1;
			break;
		case 'r':
			rev = optarg;
			break;
		case 'f':
			if (parse_format(&cmd_check_desc, optarg, &json))
				return EXIT_USAGE;
			break;
		default:
			return usage_error(&cmd_check_desc, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return usage_error(&cmd_check_desc, "unexpected argument '%s'", argv[optind]);
	if (staged && rev)
		return usage_error(&cmd_check_desc, "--staged and --ref cannot be used together");
	rc = project_ctx_open(&ctx, staged || rev);
	if (!rc)
		rc = project_ctx_load(&ctx, staged, rev);
	if (rc)
		goto out;
	check_static(ctx.proj, &ctx.findings);
	findings_sort(&ctx.findings);
	if (json) {
		struct buf extra = BUF_INIT;

		buf_puts(&extra, "\"source\":");
		buf_put_json_string(&extra, ctx.src->label);
		buf_printf(&extra, ",\"migrations\":%zu", ctx.proj->n);
		findings_format_json(&ctx.findings, extra.ptr, &out);
		buf_release(&extra);
	} else {
		findings_format_text(&ctx.findings, &out);
	}
	fwrite(out.ptr ? out.ptr : "", 1, out.len, stdout);
	fflush(stdout);
	if (!json) {
		if (ctx.findings.errors)
			error_msg("%zu error%s, %zu warning%s in %zu migration%s (%s)",
				  ctx.findings.errors, ctx.findings.errors == 1 ? "" : "s",
				  ctx.findings.warnings, ctx.findings.warnings == 1 ? "" : "s",
				  ctx.proj->n, ctx.proj->n == 1 ? "" : "s", ctx.src->label);
		else
			fprintf(stderr, "cairn: %zu migration%s checked, %zu warning%s (%s)\n",
				ctx.proj->n, ctx.proj->n == 1 ? "" : "s", ctx.findings.warnings,
				ctx.findings.warnings == 1 ? "" : "s", ctx.src->label);
	}
	rc = ctx.findings.errors ? EXIT_FAILED : EXIT_OK;
out:
	buf_release(&out);
	project_ctx_release(&ctx);
	return rc;
}
