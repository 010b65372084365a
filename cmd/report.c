/* cairn-apply report: the picture across environments and fleet runs. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "../fleet/report.h"
#include "../lib/buf.h"
#include "../lib/error.h"
#include "../lib/util.h"
#include "../verify/bundle.h"
#include "cairn-apply.h"
#include "verify.h"

const struct cmd cmd_report_desc = {
	"report", cmd_report,
	"the picture across environments and fleet runs: text, JSON or one HTML page",
	"cairn-apply report INPUT... [--key PUB]... [--format text|json|html] [-o FILE]",
	"Reads INPUTs, each one of: the JSON of 'cairn-apply status [BUNDLE] --format\n"
	"json' for one database; the JSON of 'cairn-apply history --format json' (a\n"
	"database's audit trail); a fleet's result file; a bundle (.tar.gz), with the\n"
	"approvals and receipts it carries (a fleet's --receipt-dir copies too). It\n"
	"shows: each environment's database, version, drift and failed migrations,\n"
	"the bundle that brought it there with that bundle's approvals and receipts\n"
	"for the environment, its pending migrations (from the newest bundle given,\n"
	"by build time, else from the status JSON), the failed and not-started\n"
	"targets of each fleet run, the releases (migrations per bundle per\n"
	"environment, from the books) and the schema's evolution over time (per\n"
	"environment and bundle: migrations applied, rolled back and failed, and on\n"
	"how many databases, from the audit trails).\n"
	"\n"
	"The HTML page is one file with no script, no network and no external\n"
	"asset: it opens on an air-gapped laptop.\n"
	"\n"
	"Options:\n"
	"   --key PUB      trust PUB for build signatures: a bundle then opens only\n"
	"                  when built by a trusted key (without --key its integrity is\n"
	"                  checked and its statements shown as valid, not trusted)\n"
	"   --format F     text (default), json or html (the default when -o names\n"
	"                  a .html file)\n"
	"   -o, --output FILE  write to FILE (default: stdout)\n"
	"\n"
	"Exit status: 0, 2 usage or an INPUT that is none of these, 3 a bundle\n"
	"refused, 6 a file cannot be read or written.\n",
};

/* A bundle by its first bytes (gzip), not by its name. */
static int is_bundle(const char *path)
{
	unsigned char m[2] = { 0, 0 };
	FILE *f = fopen(path, "rb");
	int yes;

	if (!f)
		return 0;
	yes = fread(m, 1, 2, f) == 2 && m[0] == 0x1f && m[1] == 0x8b;
	fclose(f);
	return yes;
}

static int add_bundle(struct report *r, const char *path, const struct trust *trust)
{
	struct bundle_open_opts o;
	struct bundle *b = NULL;

	memset(&o, 0, sizeof(o));
	o.untrusted = !trust;
	o.drop_manifest_bytes = 1;
	if (bundle_open_opts(&b, path, trust, &o) < 0) {
		error_msg("refusing bundle '%s': %s", path, cairn_error_last());
		return EXIT_REFUSED;
	}
	report_add_bundle(r, b, path);
	r->bundles[r->nbundles - 1].trusted = !!trust;
	bundle_free(b);
	return EXIT_OK;
}

static int add_input(struct report *r, const char *path, const struct trust *trust)
{
	struct buf in = BUF_INIT;
	int rc = EXIT_OK;

	if (is_bundle(path))
		return add_bundle(r, path, trust);
	buf_init(&in, REPORT_INPUT_MAX);
	if (read_file(path, REPORT_INPUT_MAX, &in) < 0) {
		error_msg("cannot read '%s': %s", path, cairn_error_last());
		rc = EXIT_ENVIRONMENT;
	} else if (report_add(r, buf_cstr(&in), in.len, path) < 0) {
		error_msg("%s", cairn_error_last());
		rc = EXIT_USAGE;
	}
	buf_release(&in);
	return rc;
}

int cmd_report(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "output", required_argument, NULL, 'o' },
		{ "key", required_argument, NULL, 'k' },
		{ NULL, 0, NULL, 0 },
	};
	struct report r;
	struct trust *trust = NULL;
	struct buf out = BUF_INIT;
	char **keys = NULL;
	size_t nkeys = 0, alloc = 0;
	const char *output = NULL, *format = NULL;
	enum report_format f = REPORT_TEXT;
	char now[32];
	int c, rc = EXIT_OK;

	memset(&r, 0, sizeof(r));
	while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
		if (c == 'o') {
			output = optarg;
		} else if (c == 'f') {
			format = optarg;
		} else if (c == 'k') {
			ALLOC_GROW(keys, nkeys + 1, alloc);
			keys[nkeys++] = optarg;
		} else {
			free(keys);
			return usage_error(&cmd_report_desc, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (format && !strcmp(format, "json"))
		f = REPORT_JSON;
	else if (format && !strcmp(format, "html"))
		f = REPORT_HTML;
	else if (format && strcmp(format, "text"))
		rc = usage_error(&cmd_report_desc, "--format must be text, json or html, not '%s'",
				 format);
	else if (!format && output && ends_with(output, ".html"))
		f = REPORT_HTML;
	if (!rc && optind >= argc)
		rc = usage_error(&cmd_report_desc, "missing INPUT");
	if (!rc && nkeys)
		rc = load_trust(&cmd_report_desc, keys, nkeys, &trust);
	for (; !rc && optind < argc; optind++)
		rc = add_input(&r, argv[optind], trust);
	if (rc)
		goto out;
	report_finish(&r);
	engine_now(now);
	report_format(&out, &r, f, now);
	if (output ? write_file_atomic(output, buf_cstr(&out), out.len, 0644) < 0
		   : (fwrite(buf_cstr(&out), 1, out.len, stdout) != out.len || fflush(stdout))) {
		error_msg("cannot write '%s': %s", output ? output : "stdout", cairn_error_last());
		rc = EXIT_ENVIRONMENT;
	}
out:
	free(keys);
	trust_free(trust);
	buf_release(&out);
	report_release(&r);
	return rc;
}
