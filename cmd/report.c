/* cairn-apply report: the picture across environments and fleet runs. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "../fleet/report.h"
#include "../lib/buf.h"
#include "../lib/error.h"
#include "../lib/util.h"
#include "cairn-apply.h"

const struct cmd cmd_report_desc = {
	"report", cmd_report,
	"the picture across environments and fleet runs: text, JSON or one HTML page",
	"cairn-apply report INPUT... [--format text|json|html] [-o FILE]",
	"Reads INPUTs, each either the JSON of 'cairn-apply status [BUNDLE] --format\n"
	"json' for one database, or a fleet's result file, and shows: each\n"
	"environment's database, version, drift and failed migrations, the bundle\n"
	"that brought it there, its pending migrations (status with a BUNDLE lists\n"
	"them), the failed and not-started targets of each fleet run, and the\n"
	"releases (migrations per bundle per environment, from the books).\n"
	"\n"
	"The HTML page is one file with no script, no network and no external\n"
	"asset: it opens on an air-gapped laptop.\n"
	"\n"
	"Options:\n"
	"   --format F     text (default), json or html (the default when -o names\n"
	"                  a .html file)\n"
	"   -o, --output FILE  write to FILE (default: stdout)\n"
	"\n"
	"Exit status: 0, 2 usage or an INPUT that is neither, 6 a file cannot be\n"
	"read or written.\n",
};

int cmd_report(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "output", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	struct report r;
	struct buf in = BUF_INIT, out = BUF_INIT;
	const char *output = NULL, *format = NULL;
	enum report_format f = REPORT_TEXT;
	char now[32];
	int c, rc = EXIT_OK;

	memset(&r, 0, sizeof(r));
	while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
		if (c == 'o')
			output = optarg;
		else if (c == 'f')
			format = optarg;
		else
			return usage_error(&cmd_report_desc, "unknown option '%s'", argv[optind - 1]);
	}
	if (format && !strcmp(format, "json"))
		f = REPORT_JSON;
	else if (format && !strcmp(format, "html"))
		f = REPORT_HTML;
	else if (format && strcmp(format, "text"))
		return usage_error(&cmd_report_desc, "--format must be text, json or html, not '%s'",
				   format);
	else if (!format && output && ends_with(output, ".html"))
		f = REPORT_HTML;
	if (optind >= argc)
		return usage_error(&cmd_report_desc, "missing INPUT");
	for (; optind < argc; optind++) {
		buf_release(&in);
		buf_init(&in, REPORT_INPUT_MAX);
		if (read_file(argv[optind], REPORT_INPUT_MAX, &in) < 0) {
			error_msg("cannot read '%s': %s", argv[optind], cairn_error_last());
			rc = EXIT_ENVIRONMENT;
			goto out;
		}
		if (report_add(&r, buf_cstr(&in), in.len, argv[optind]) < 0) {
			error_msg("%s", cairn_error_last());
			rc = EXIT_USAGE;
			goto out;
		}
	}
	engine_now(now);
	report_format(&out, &r, f, now);
	if (output ? write_file_atomic(output, buf_cstr(&out), out.len, 0644) < 0
		   : (fwrite(buf_cstr(&out), 1, out.len, stdout) != out.len || fflush(stdout))) {
		error_msg("cannot write '%s': %s", output ? output : "stdout", cairn_error_last());
		rc = EXIT_ENVIRONMENT;
	}
out:
	buf_release(&in);
	buf_release(&out);
	report_release(&r);
	return rc;
}
