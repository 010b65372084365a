#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../lib/error.h"
#include "../lib/util.h"
#include "../verify/bundle-types.h"
#include "cmd.h"


static void vmsg(const char *kind, const char *fmt, va_list ap)
{
	fprintf(stderr, "%s: %s", progname, kind);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void error_msg(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg("", fmt, ap);
	va_end(ap);
}

void warning_msg(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg("warning: ", fmt, ap);
	va_end(ap);
}

void print_help(const struct cmd *c, FILE *out)
{
	fprintf(out, "usage: %s", c->usage);
	if (c->usage[strlen(c->usage) - 1] != '\n')
		fputc('\n', out);
	fprintf(out, "\n%s\n", c->summary);
	if (c->help && *c->help)
		fprintf(out, "\n%s", c->help);
}

int usage_error(const struct cmd *c, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s %s: ", progname, c->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nusage: %s", c->usage);
	if (c->usage[strlen(c->usage) - 1] != '\n')
		fputc('\n', stderr);
	fprintf(stderr, "Run '%s %s --help' for the options.\n", progname, c->name);
	return EXIT_USAGE;
}

const struct cmd *cmd_lookup(const struct cmd *const *table, const char *name)
{
	for (; *table; table++)
		if (!strcmp((*table)->name, name))
			return *table;
	return NULL;
}

void print_command_list(const struct cmd *const *table, FILE *out)
{
	for (; *table; table++)
		fprintf(out, "   %-10s %s\n", (*table)->name, (*table)->summary);
}

int cmd_dispatch(const struct cmd *const *table, int argc, char **argv)
{
	const struct cmd *c = cmd_lookup(table, argv[0]);
	int rc;

	if (!c) {
		const char *names[64];
		const char *hint;
		size_t n = 0;

		for (; table[n] && n < 63; n++)
			names[n] = table[n]->name;
		names[n] = NULL;
		hint = did_you_mean(argv[0], names);
		if (hint)
			error_msg("'%s' is not a %s command; did you mean '%s'?", argv[0], progname, hint);
		else
			error_msg("'%s' is not a %s command; see '%s --help'", argv[0], progname, progname);
		return EXIT_USAGE;
	}
	if (wants_help(argc, argv)) {
		print_help(c, stdout);
		return fflush(stdout) ? EXIT_ENVIRONMENT : EXIT_OK;
	}
	getopt_reset();
	rc = c->fn(argc, argv);
	if (fflush(stdout) != 0 && rc == EXIT_OK) {
		error_msg("cannot write the output");
		rc = EXIT_ENVIRONMENT;
	}
	return rc;
}

int parse_format(const struct cmd *c, const char *arg, int *json)
{
	if (!strcmp(arg, "json") || !strcmp(arg, "text")) {
		*json = !strcmp(arg, "json");
		return 0;
	}
	return usage_error(c, "--format must be text or json, not '%s'", arg);
}

int wants_help(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--"))
			break;
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			return 1;
	}
	return 0;
}

void getopt_reset(void)
{
	optind = 0; /* glibc: 0 also resets its internal state */
	opterr = 0;
}

int bundle_error_exit(const char *path)
{
	struct stat st;

	/* a file we cannot read at all is the environment; anything read and
	 * found wrong is a refusal */
	if (stat(path, &st) < 0 || !S_ISREG(st.st_mode) || access(path, R_OK) < 0)
		return EXIT_ENVIRONMENT;
	return EXIT_REFUSED;
}

void waiver_list_text(const struct bundle_waiver *ws, size_t n, const char *file,
		      const char *prefix, struct buf *out)
{
	size_t i;

	for (i = 0; i < n; i++) {
		const struct bundle_waiver *w = &ws[i];
		char *esc;

		if (file && strcmp(file, w->file))
			continue;
		esc = text_escape_controls(w->reason);
		buf_printf(out, "%swaived %s at %s:%llu (%s)%s%s\n", prefix, w->rule, w->file, w->line,
			   w->via, w->reason ? ": " : "", esc ? esc : w->reason ? w->reason : "");
		free(esc);
	}
}

void waiver_list_json(const struct bundle_waiver *ws, size_t n, const char *file,
		      struct buf *out)
{
	size_t i, k = 0;

	buf_puts(out, "[");
	for (i = 0; i < n; i++) {
		const struct bundle_waiver *w = &ws[i];

		if (file && strcmp(file, w->file))
			continue;
		buf_puts(out, k++ ? ",{\"rule\":" : "{\"rule\":");
		buf_put_json_string(out, w->rule);
		buf_puts(out, ",\"file\":");
		buf_put_json_string(out, w->file);
		buf_printf(out, ",\"line\":%llu,\"via\":", w->line);
		buf_put_json_string(out, w->via);
		buf_puts(out, ",\"reason\":");
		if (w->reason)
			buf_put_json_string(out, w->reason);
		else
			buf_puts(out, "null");
		buf_putc(out, '}');
	}
	buf_putc(out, ']');
}

void waivers_text(const struct bundle_migration *m, const char *prefix, struct buf *out)
{
	if (m)
		waiver_list_text(m->waivers, m->nwaivers, NULL, prefix, out);
}

void waivers_json(const struct bundle_migration *m, struct buf *out)
{
	waiver_list_json(m ? m->waivers : NULL, m ? m->nwaivers : 0, NULL, out);
}
