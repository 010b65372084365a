#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/buf.h"
#include "../lib/error.h"
#include "../project/history.h"
#include "cairn.h"

const struct cmd cmd_list_desc = {
	"list", cmd_list,
	"list the migrations in apply order",
	"cairn list [--ref REV] [--format text|json]",
	"Lists the migrations in the order they apply: topological by requires,\n"
	"ties broken by version, with their description, dependencies and\n"
	"provenance: the commit that introduced each one, its author and date\n"
	"(\"uncommitted\" for a migration the commit does not hold yet).\n"
	"\n"
	"Options:\n"
	"   --ref REV       read the migrations from commit REV instead of the work tree\n"
	"   --format F      text (default) or json\n",
};

static void print_text(const struct project *p, int prov)
{
	size_t i, j;

	for (i = 0; i < p->n; i++) {
		const struct migration *m = p->order[i];

		printf("%s  %s", m->version, m->slug);
		if (m->description && *m->description)
			printf("  %s", m->description);
		if (m->ndeps) {
			printf("  (requires");
			for (j = 0; j < m->ndeps; j++)
				printf(" %s", m->deps[j]->dir);
			printf(")");
		}
		if (!m->transaction)
			printf("  [no transaction]");
		if (m->irreversible)
			printf("  [irreversible]");
		if (m->batch)
			printf("  [batch]");
		if (prov && m->prov_commit)
			printf("  introduced %.12s by %s on %s", m->prov_commit, m->prov_author,
			       m->prov_date);
		else if (prov)
			printf("  uncommitted");
		putchar('\n');
	}
}

static void print_json(const struct project *p, const char *source, int prov)
{
	struct buf b = BUF_INIT;
	size_t i, j;

	buf_puts(&b, "{\"source\":");
	buf_put_json_string(&b, source);
	buf_puts(&b, ",\"migrations\":[");
	for (i = 0; i < p->n; i++) {
		const struct migration *m = p->order[i];

		buf_puts(&b, i ? ",{\"version\":" : "{\"version\":");
		buf_put_json_string(&b, m->version);
		buf_puts(&b, ",\"name\":");
		buf_put_json_string(&b, m->dir);
		buf_puts(&b, ",\"path\":");
		buf_put_json_string(&b, m->path);
		buf_puts(&b, ",\"description\":");
		buf_put_json_string(&b, m->description ? m->description : "");
		buf_puts(&b, ",\"requires\":[");
		for (j = 0; j < m->ndeps; j++) {
			if (j)
				buf_putc(&b, ',');
			buf_put_json_string(&b, m->deps[j]->dir);
		}
		buf_printf(&b, "],\"transaction\":%s,\"irreversible\":%s,\"kind\":\"%s\"",
			   m->transaction ? "true" : "false", m->irreversible ? "true" : "false",
			   m->batch ? "batch" : "schema");
		if (prov && m->prov_commit) {
			buf_puts(&b, ",\"provenance\":{\"commit\":");
			buf_put_json_string(&b, m->prov_commit);
			buf_puts(&b, ",\"author\":");
			buf_put_json_string(&b, m->prov_author);
			buf_puts(&b, ",\"date\":");
			buf_put_json_string(&b, m->prov_date);
			buf_putc(&b, '}');
		} else {
			buf_puts(&b, ",\"provenance\":null");
		}
		buf_putc(&b, '}');
	}
	buf_puts(&b, "]}\n");
	fwrite(b.ptr, 1, b.len, stdout);
	buf_release(&b);
}

int cmd_list(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "ref", required_argument, NULL, 'r' },
		{ "format", required_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	struct project_ctx ctx;
	const char *rev = NULL;
	int json = 0, c, rc;

	memset(&ctx, 0, sizeof(ctx));
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			rev = optarg;
			break;
		case 'f':
			if (parse_format(&cmd_list_desc, optarg, &json))
				return EXIT_USAGE;
			break;
		default:
			return usage_error(&cmd_list_desc, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return usage_error(&cmd_list_desc, "unexpected argument '%s'", argv[optind]);
	rc = project_ctx_open(&ctx, rev != NULL);
	if (!rc)
		rc = project_ctx_load(&ctx, 0, rev);
	if (rc)
		goto out;
	project_order(ctx.proj, &ctx.findings);
	if (ctx.repo) {
		git_oid head;
		const git_oid *tip = NULL;

		if (rev)
			tip = git_commit_id(ctx.src->commit);
		else if (git_reference_name_to_id(&head, ctx.repo, "HEAD") == 0)
			tip = &head;
		if (history_provenance(ctx.proj, ctx.repo, tip) < 0) {
			error_msg("cannot find where the migrations were introduced: %s",
				  cairn_error_last());
			rc = EXIT_ENVIRONMENT;
			goto out;
		}
	}
	if (json)
		print_json(ctx.proj, ctx.src->label, ctx.repo != NULL);
	else
		print_text(ctx.proj, ctx.repo != NULL);
	if (ctx.findings.errors) {
		struct buf b = BUF_INIT;

		findings_sort(&ctx.findings);
		findings_format_text(&ctx.findings, &b);
		fflush(stdout);
		fputs(b.ptr ? b.ptr : "", stderr);
		buf_release(&b);
		error_msg("the order above may be wrong: %zu error%s (run 'cairn check')",
			  ctx.findings.errors, ctx.findings.errors == 1 ? "" : "s");
		rc = EXIT_FAILED;
	}
out:
	project_ctx_release(&ctx);
	return rc;
}
