#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../import/import.h"
#include "../lib/buf.h"
#include "../lib/error.h"
#include "../lib/util.h"
#include "cairn.h"

const struct cmd cmd_import_desc = {
	"import", cmd_import,
	"convert another tool's migrations into cairn's layout",
	"cairn import --from TOOL [DIR] [--dry-run] [--skip NAME]... [--strip-transaction-wrappers]",
	"Reads the migrations of TOOL from DIR (default: the tool's usual place)\n"
	"and writes them as cairn migrations into the project's migrations/ (run\n"
	"from the directory holding cairn.yaml), ready to commit. Versions and\n"
	"order stay the tool's own. Every construct met is printed, mapped or with\n"
	"the reason it is not, and counts in and out per kind; a migration that\n"
	"cannot be mapped stops the import, and nothing is written, unless --skip\n"
	"names it. Converted files inside cairn's migrations/ are removed (git keeps\n"
	"them); files elsewhere are left for you to remove.\n"
	"\n"
	"TOOL: golang-migrate (migrations), dbmate (db/migrations), flyway (sql),\n"
	"goose (migrations), sqitch (., the directory of sqitch.plan), pop\n"
	"(migrations), diesel (migrations), prisma (prisma/migrations).\n"
	"See docs/migrating-from.md.\n"
	"\n"
	"Options:\n"
	"   --from TOOL     the tool the migrations were written for\n"
	"   --dry-run       print what would be written, write nothing\n"
	"   --skip NAME     leave out a migration: its version, VERSION_name, or its\n"
	"                   source file (repeatable)\n"
	"   --strip-transaction-wrappers\n"
	"                   remove the BEGIN and COMMIT of scripts that wrap\n"
	"                   themselves in a transaction (cairn runs each migration\n"
	"                   in one); without it such a script stops the import\n",
};

static const char *const sev_names[] = { "mapped", "note", "error" };

static void print_plan(const struct import *im, const struct config *cfg, int dry_run)
{
	size_t i, j, nonts = 0, written = 0;

	for (i = 0; i < im->n; i++) {
		const struct import_mig *m = im->migs[i];

		if (m->skipped || m->failed)
			continue;
		written++;
		nonts += !version_is_timestamp(m->version);
		printf("%s %s/%s_%s <- %s", dry_run ? "would write" : "wrote", cfg->migrations_dir,
		       m->version, m->slug, m->origin);
		for (j = 0; j < m->nfiles; j++)
			printf("%s%s", j ? ", " : " (", m->files[j].name);
		printf("%s%s%s%s", m->nfiles ? ")" : "", m->transaction ? "" : " transaction: false",
		       m->irreversible ? " irreversible" : "", m->noop ? " noop" : "");
		for (j = 0; j < m->requires.n; j++)
			printf("%s%s", j ? ", " : " requires: ", m->requires.items[j]);
		putchar('\n');
	}
	for (i = 0; i < im->nreports; i++)
		printf("%s/%s: %s: %s\n", im->dir, im->reports[i].file,
		       sev_names[im->reports[i].sev], im->reports[i].text);
	printf("counts (in -> out):\n");
	for (i = 0; i < im->ncounts; i++)
		printf("  %-48s %u -> %u\n", im->counts[i].kind, im->counts[i].in, im->counts[i].out);
	printf("  %-48s %zu -> %zu\n", "migrations", im->n, written);
	if (nonts && cfg->style == STYLE_TIMESTAMP)
		warning_msg("%zu imported versions are not UTC timestamps, and %s says version_style: timestamp; set version_style: sequence there",
			    nonts, CONFIG_FILE);
}

static int load_config(struct config *cfg)
{
	struct buf b = BUF_INIT;
	struct findings f;
	int rc = 0;

	memset(&f, 0, sizeof(f));
	if (!path_exists(CONFIG_FILE)) {
		error_msg("no %s here: run 'cairn init' first (it guesses the version style), then import from the project's directory",
			  CONFIG_FILE);
		return EXIT_FAILED;
	}
	if (read_file(CONFIG_FILE, 1 << 20, &b) < 0) {
		error_msg("%s", cairn_error_last());
		rc = EXIT_ENVIRONMENT;
	} else {
		config_parse(cfg, b.ptr ? b.ptr : "", b.len, &f);
		if (f.errors) {
			error_msg("%s has errors; run 'cairn check' and fix them first", CONFIG_FILE);
			rc = EXIT_FAILED;
		}
	}
	findings_release(&f);
	buf_release(&b);
	return rc;
}

int cmd_import(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "from", required_argument, NULL, 'f' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "skip", required_argument, NULL, 's' },
		{ "strip-transaction-wrappers", no_argument, NULL, 'w' },
		{ NULL, 0, NULL, 0 },
	};
	struct import_opts o = { NULL, NULL, NULL, 0 };
	struct strlist skip = { NULL, 0, 0 };
	struct import *im = NULL;
	struct config cfg;
	int c, dry_run = 0, rc;

	config_init(&cfg);
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'f': o.from = optarg; break;
		case 'n': dry_run = 1; break;
		case 's': strlist_push(&skip, optarg); break;
		case 'w': o.strip_wrappers = 1; break;
		default:
			rc = usage_error(&cmd_import_desc, "unknown option '%s'", argv[optind - 1]);
			goto out;
		}
	}
	if (!o.from || argc - optind > 1) {
		rc = usage_error(&cmd_import_desc, o.from ? "too many arguments" : "--from TOOL is required");
		goto out;
	}
	o.dir = argc - optind == 1 ? argv[optind] : NULL;
	o.skip = &skip;
	if (opt_chdir && chdir(opt_chdir) < 0) {
		error_msg("cannot change to '%s': %s", opt_chdir, strerror(errno));
		rc = EXIT_ENVIRONMENT;
		goto out;
	}
	if ((rc = load_config(&cfg)))
		goto out;
	if (import_read(&im, &o) < 0) {
		error_msg("cannot import: %s", cairn_error_last());
		rc = strstr(cairn_error_last(), "unknown tool") ? EXIT_USAGE : EXIT_FAILED;
		goto out;
	}
	print_plan(im, &cfg, dry_run || im->errors);
	if (im->errors) {
		error_msg("import from %s stopped: %zu migrations cannot be mapped (the errors above); nothing was written. Fix them, or leave them out with --skip",
			  im->tool, im->errors);
		rc = EXIT_FAILED;
		goto out;
	}
	if (!dry_run && import_write(im, cfg.migrations_dir) < 0) {
		error_msg("cannot write the import: %s", cairn_error_last());
		rc = EXIT_FAILED;
		goto out;
	}
	if (!dry_run)
		fprintf(stderr, "%s: imported from %s; now run 'cairn check', then commit\n",
			progname, im->tool);
	rc = EXIT_OK;
out:
	import_free(im);
	config_release(&cfg);
	strlist_release(&skip);
	return rc;
}
