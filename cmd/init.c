#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../lib/buf.h"
#include "../lib/error.h"
#include "../lib/util.h"
#include "../lib/yaml.h"
#include "cairn.h"

const struct cmd cmd_init_desc = {
	"init", cmd_init,
	"create cairn.yaml and migrations/ in DIR (default: here)",
	"cairn init [--style timestamp|sequence] [--driver D]... [--name NAME] [DIR]",
	"Writes a commented cairn.yaml and an empty migrations/ directory. An\n"
	"existing cairn.yaml is never overwritten.\n"
	"\n"
	"Options:\n"
	"   --style S     version style: timestamp (UTC YYYYMMDDHHMMSS) or sequence\n"
	"                 (0001, 0002, ...); default: guessed from the names already\n"
	"                 in DIR/migrations (timestamp when every one is a valid\n"
	"                 timestamp), else timestamp\n"
	"   --driver D    a database the project targets: sqlite, postgres\n"
	"                 (repeatable; default: both)\n"
	"   --name NAME   the project name used in bundle names (default: DIR's name)\n",
};

static void put_list(struct buf *b, const struct strlist *l)
{
	size_t i;

	buf_puts(b, "[");
	for (i = 0; i < l->n; i++) {
		if (i)
			buf_puts(b, ", ");
		yaml_put_scalar(b, l->items[i]);
	}
	buf_puts(b, "]");
}

/* The style of the names in DIR/migrations, else in the other tools'
 * usual places (for a project about to run 'cairn import'); *from is the
 * directory the guess came from. */
static int guess_style(const char *dir, const char *mig, enum version_style *st, size_t *n,
		       char **from)
{
	static const char *const others[] = { "db/migrations", "sql", "prisma/migrations",
					      "src/main/resources/db/migration", NULL };
	size_t i;

	if (project_guess_style(mig, st, n) < 0)
		return -1;
	*from = xstrdup(mig);
	for (i = 0; !*n && others[i]; i++) {
		free(*from);
		*from = path_join(dir, others[i]);
		if (project_guess_style(*from, st, n) < 0)
			return -1;
	}
	return 0;
}

/* The commented cairn.yaml that init writes. */
static void config_text(struct buf *b, const char *name, const char *style,
			const struct strlist *drivers)
{
	buf_puts(b, "# cairn project configuration. See cairn(1) for every key.\n\n");
	buf_puts(b, "# The project's name: bundles are called NAME-VERSION.tar.gz.\nname: ");
	yaml_put_scalar(b, name);
	buf_puts(b,
		 "\n\n# Where the migrations live, one directory each: VERSION_name/up.sql ...\n"
		 "migrations: migrations\n\n"
		 "# How versions are written: timestamp (UTC YYYYMMDDHHMMSS, the default:\n"
		 "# branches rarely collide) or sequence (0001, 0002, ...).\n");
	buf_printf(b, "version_style: %s\n\n", style);
	buf_puts(b,
		 "# The databases the migrations target. up.DRIVER.sql overrides up.sql\n"
		 "# on that driver (the same for down and verify).\ndrivers: ");
	put_list(b, drivers);
	buf_puts(b,
		 "\n\n# Refs whose migrations count as released: never edited, renamed or\n"
		 "# deleted afterwards. Glob patterns are allowed.\n"
		 "release_refs:\n"
		 "  - refs/heads/main\n"
		 "  - refs/tags/v*\n\n"
		 "# strict: a new migration must have a version above every released one.\n"
		 "# allow-out-of-order: late versions only warn.\n"
		 "ordering: strict\n\n"
		 "# Largest SQL or YAML file accepted in a migration.\n"
		 "max_file_size: 16MiB\n");
}

int cmd_init(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "style", required_argument, NULL, 's' },
		{ "driver", required_argument, NULL, 'd' },
		{ "name", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	const char *style = NULL, *name = NULL, *dir = ".";
	char *from = NULL;
	size_t guessed = 0;
	struct strlist drivers = { NULL, 0, 0 };
	struct buf b = BUF_INIT;
	char *cfg = NULL, *mig = NULL, *keep = NULL, real[PATH_MAX];
	int c, rc = EXIT_FAILED;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (strcmp(optarg, "timestamp") && strcmp(optarg, "sequence")) {
				rc = usage_error(&cmd_init_desc, "--style must be timestamp or sequence, not '%s'", optarg);
				goto out;
			}
			style = optarg;
			break;
		case 'd':
			if (!driver_is_known(optarg)) {
				rc = usage_error(&cmd_init_desc, "unknown driver '%s' (cairn knows sqlite and postgres)", optarg);
				goto out;
			}
			if (!strlist_has(&drivers, optarg))
				strlist_push(&drivers, optarg);
			break;
		case 'n':
			name = optarg;
			break;
		default:
			rc = usage_error(&cmd_init_desc, "unknown option '%s'", argv[optind - 1]);
			goto out;
		}
	}
	if (argc - optind > 1) {
		rc = usage_error(&cmd_init_desc, "too many arguments");
		goto out;
	}
	if (argc - optind == 1)
		dir = argv[optind];
	if (!drivers.n) {
		strlist_push(&drivers, "sqlite");
		strlist_push(&drivers, "postgres");
	}
	if (mkdir_p(dir, 0777) < 0) {
		error_msg("%s", cairn_error_last());
		rc = EXIT_ENVIRONMENT;
		goto out;
	}
	cfg = path_join(dir, CONFIG_FILE);
	if (path_exists(cfg)) {
		error_msg("'%s' already exists; edit it, or remove it to start again", cfg);
		rc = EXIT_FAILED;
		goto out;
	}
	mig = path_join(dir, "migrations");
	if (!style) {
		enum version_style st = STYLE_TIMESTAMP;

		if (guess_style(dir, mig, &st, &guessed, &from) < 0) {
			error_msg("%s", cairn_error_last());
			rc = EXIT_ENVIRONMENT;
			goto out;
		}
		style = st == STYLE_SEQUENCE ? "sequence" : "timestamp";
	}
	if (!name) {
		if (!realpath(dir, real)) {
			error_msg("cannot resolve '%s': %s", dir, strerror(errno));
			rc = EXIT_ENVIRONMENT;
			goto out;
		}
		name = basename(real);
		if (!*name || !strcmp(name, "/"))
			name = "project";
	}
	config_text(&b, name, style, &drivers);
	if (mkdir_p(mig, 0777) < 0) {
		error_msg("%s", cairn_error_last());
		rc = EXIT_ENVIRONMENT;
		goto out;
	}
	keep = path_join(mig, ".gitkeep");
	if (!path_exists(keep) && write_file_new(keep, "", 0, 0666) < 0) {
		error_msg("%s", cairn_error_last());
		rc = EXIT_ENVIRONMENT;
		goto out;
	}
	if (write_file_new(cfg, b.ptr, b.len, 0666) < 0) {
		error_msg("%s", cairn_error_last());
		rc = EXIT_ENVIRONMENT;
		goto out;
	}
	printf("created %s and %s/\n", cfg, mig);
	if (guessed)
		printf("version_style: %s, guessed from the %zu numbered names in %s/\n", style,
		       guessed, from);
	rc = EXIT_OK;
out:
	free(from);
	strlist_release(&drivers);
	buf_release(&b);
	free(cfg);
	free(mig);
	free(keep);
	return rc;
}
