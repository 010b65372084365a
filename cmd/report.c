/* cairn-apply report: the picture across environments and fleet runs. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../fleet/report.h"
#include "../lib/buf.h"
#include "../lib/error.h"
#include "../lib/tmpfile.h"
#include "../lib/util.h"
#include "../verify/bundle.h"
#include "cairn-apply.h"
#include "verify.h"

const struct cmd cmd_report_desc = {
	"report", cmd_report,
	"the picture across environments and fleet runs: text, JSON or one HTML page",
	"cairn-apply report INPUT... [--key PUB]... [--format text|json|html] [-o FILE]",
	"Reads INPUTs (\"-\": stdin, once; its kind told as for a file), each one\n"
	"of: the JSON of 'cairn-apply status [BUNDLE] --format json' for one\n"
	"database; the JSON of 'cairn-apply history --format json' (a database's\n"
	"audit trail); a fleet's result file; a bundle (.tar.gz), with the\n"
	"approvals and receipts it carries (a fleet's --receipt-dir copies too). It\n"
	"shows: each environment's database, version, drift and failed migrations,\n"
	"the bundle that brought it there with its receipts and the approvals that\n"
	"counted (named by the audit trail's apply rows; without a trail, guessed\n"
	"by time and marked so), its pending migrations (from the newest bundle\n"
	"given, by build time, else from the status JSON), the failed and not-started\n"
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

/* name: what the report calls it (the path, or "-" for stdin). */
static int add_bundle(struct report *r, const char *path, const char *name,
		      const struct trust *trust)
{
	struct bundle_open_opts o;
	struct bundle *b = NULL;

	memset(&o, 0, sizeof(o));
	o.untrusted = !trust;
	o.drop_manifest_bytes = 1;
	if (bundle_open_opts(&b, path, trust, &o) < 0) {
		error_msg("refusing bundle '%s': %s", name, cairn_error_last());
		return EXIT_REFUSED;
	}
	report_add_bundle(r, b, name);
	r->bundles[r->nbundles - 1].trusted = !!trust;
	bundle_free(b);
	return EXIT_OK;
}

static int add_input(struct report *r, const char *path, const struct trust *trust)
{
	struct buf in = BUF_INIT;
	int rc = EXIT_OK;

	if (is_bundle(path))
		return add_bundle(r, path, path, trust);
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

/* The rest of stdin, after first (n bytes), into a temporary file for
 * bundle_open; returns its malloc'ed name, or NULL with the error set. */
static char *stdin_to_tmp(const char *first, size_t n)
{
	const char *dir = getenv("TMPDIR");
	char *path = xasprintf("%s/cairn-report-XXXXXX", dir && *dir ? dir : "/tmp");
	char chunk[65536];
	int fd = mkstemp(path), ok;
	FILE *f = fd < 0 ? NULL : fdopen(fd, "wb");

	if (!f) {
		cairn_error_set("cannot create '%s': %s", path, strerror(errno));
		if (fd >= 0) {
			close(fd);
			unlink(path);
		}
		free(path);
		return NULL;
	}
	tmpfile_hold(path);
	ok = fwrite(first, 1, n, f) == n;
	while (ok && (n = fread(chunk, 1, sizeof(chunk), stdin)) > 0)
		ok = fwrite(chunk, 1, n, f) == n;
	ok = ok && !ferror(stdin);
	if (fclose(f) != 0 || !ok) {
		cairn_error_set("cannot copy stdin to '%s': %s", path, strerror(errno));
		unlink(path);
		tmpfile_drop(path);
		free(path);
		return NULL;
	}
	return path;
}

/* "-": stdin, its kind sniffed as for a file. A bundle goes through a
 * temporary file (bundle_open reads a file); anything else is read into
 * memory, up to REPORT_INPUT_MAX. */
static int add_stdin(struct report *r, const struct trust *trust)
{
	struct buf in = BUF_INIT;
	char chunk[65536];
	size_t n = fread(chunk, 1, sizeof(chunk), stdin);
	int rc = EXIT_OK;

	if (n >= 2 && (unsigned char)chunk[0] == 0x1f && (unsigned char)chunk[1] == 0x8b) {
		char *path = stdin_to_tmp(chunk, n);

		if (!path) {
			error_msg("%s", cairn_error_last());
			return EXIT_ENVIRONMENT;
		}
		rc = add_bundle(r, path, "-", trust);
		unlink(path);
		tmpfile_drop(path);
		free(path);
		return rc;
	}
	buf_init(&in, REPORT_INPUT_MAX);
	do {
		if (buf_put(&in, chunk, n) < 0) {
			error_msg("cannot read '-': stdin is over the limit of %u bytes",
				  REPORT_INPUT_MAX);
			rc = EXIT_ENVIRONMENT;
			break;
		}
	} while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0);
	if (!rc && ferror(stdin)) {
		error_msg("cannot read '-': %s", strerror(errno));
		rc = EXIT_ENVIRONMENT;
	} else if (!rc && report_add(r, buf_cstr(&in), in.len, "-") < 0) {
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
	int c, rc = EXIT_OK, stdin_seen;

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
	for (c = optind, stdin_seen = 0; !rc && c < argc; c++)
		if (!strcmp(argv[c], "-") && stdin_seen++)
			rc = usage_error(&cmd_report_desc, "'-' named twice: stdin can be read once");
	if (!rc && nkeys)
		rc = load_trust(&cmd_report_desc, keys, nkeys, &trust);
	for (; !rc && optind < argc; optind++)
		rc = strcmp(argv[optind], "-") ? add_input(&r, argv[optind], trust)
					       : add_stdin(&r, trust);
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
