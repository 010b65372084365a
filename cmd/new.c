#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../lib/buf.h"
#include "../lib/error.h"
#include "../lib/util.h"
#include "../lib/yaml.h"
#include "cairn.h"

const struct cmd cmd_new_desc = {
	"new", cmd_new,
	"create a new migration directory and print its path",
	"cairn new [--driver D] [--no-transaction] [--irreversible] NAME",
	"Creates migrations/VERSION_slug/ with up.sql, down.sql and migration.yaml\n"
	"from the templates, and prints the directory. The version is the current\n"
	"UTC time (or the next sequence number), always above every existing one,\n"
	"even when several run in the same second.\n"
	"\n"
	"Options:\n"
	"   --driver D         use driver D's templates (default: the project's first\n"
	"                      driver)\n"
	"   --no-transaction   write transaction: false into migration.yaml\n"
	"   --irreversible     write irreversible: true, and no down.sql\n"
	"\n"
	"Templates are read from $CAIRN_TEMPLATE_DIR, else from the installed\n"
	"share/cairn/templates; TEMPLATE_DIR/DRIVER/up.sql wins over TEMPLATE_DIR/up.sql.\n",
};

static char *slugify(const char *name)
{
	struct buf b = BUF_INIT;
	const unsigned char *p;
	int sep = 0;

	for (p = (const unsigned char *)name; *p; p++) {
		if (isalnum(*p)) {
			if (sep && b.len)
				buf_putc(&b, '_');
			sep = 0;
			buf_putc(&b, (char)tolower(*p));
		} else if (*p == '-' && b.len && !sep) {
			buf_putc(&b, '-');
		} else {
			sep = 1;
		}
	}
	while (b.len && b.ptr[b.len - 1] == '-')
		b.ptr[--b.len] = '\0';
	return buf_detach(&b, NULL);
}

/* The template directory: $CAIRN_TEMPLATE_DIR, the source tree next to the
 * binary (bin/../templates), or the installed share/cairn/templates. */
static char *template_dir(void)
{
	const char *env = getenv("CAIRN_TEMPLATE_DIR");
	char exe[PATH_MAX];
	ssize_t n;

	if (env && *env)
		return xstrdup(env);
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		char *slash, *cand;

		exe[n] = '\0';
		slash = strrchr(exe, '/');
		if (slash) {
			*slash = '\0';
			cand = xasprintf("%s/../templates", exe);
			if (is_dir(cand))
				return cand;
			free(cand);
			cand = xasprintf("%s/../share/cairn/templates", exe);
			if (is_dir(cand))
				return cand;
			free(cand);
		}
	}
	return xstrdup(CAIRN_TEMPLATE_DIR);
}

static const char *builtin_template(const char *file)
{
	if (!strcmp(file, "up.sql"))
		return "-- {{name}}: apply ({{version}})\n\n";
	if (!strcmp(file, "down.sql"))
		return "-- {{name}}: roll back ({{version}})\n\n";
	return "description: {{description}}\n";
}

static int render(struct buf *out, const char *tdir, const char *driver, const char *file,
		  const char *name, const char *version, const char *description)
{
	struct buf tpl = BUF_INIT;
	char *path = xasprintf("%s/%s/%s", tdir, driver, file);
	const char *s;
	int rc = -1;

	if (read_file(path, 1 << 20, &tpl) < 0) {
		free(path);
		path = xasprintf("%s/%s", tdir, file);
		buf_reset(&tpl);
		if (read_file(path, 1 << 20, &tpl) < 0) {
			buf_reset(&tpl);
			buf_puts(&tpl, builtin_template(file));
		}
	}
	for (s = tpl.ptr; *s;) {
		if (!strncmp(s, "{{name}}", 8)) {
			buf_puts(out, name);
			s += 8;
		} else if (!strncmp(s, "{{version}}", 11)) {
			buf_puts(out, version);
			s += 11;
		} else if (!strncmp(s, "{{driver}}", 10)) {
			buf_puts(out, driver);
			s += 10;
		} else if (!strncmp(s, "{{description}}", 15)) {
			yaml_put_scalar(out, description);
			s += 15;
		} else {
			buf_putc(out, *s++);
		}
	}
	rc = 0;
	buf_release(&tpl);
	free(path);
	return rc;
}

/* The highest version among the directories of migdir ("" when none), and
 * the width of the widest. */
static char *max_version(const char *migdir, size_t *width)
{
	DIR *d = opendir(migdir);
	struct dirent *de;
	char *best = xstrdup("");

	*width = 0;
	if (!d)
		return best;
	while ((de = readdir(d))) {
		size_t n = strspn(de->d_name, "0123456789");

		if (!n || de->d_name[n] != '_')
			continue;
		if (n > *width)
			*width = n;
		{
			char *v = xstrndup(de->d_name, n);

			if (!*best || version_cmp(v, best) > 0) {
				free(best);
				best = v;
			} else {
				free(v);
			}
		}
	}
	closedir(d);
	return best;
}

static void format_time(char out[16], time_t t)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 16, "%Y%m%d%H%M%S", &tm);
}

static time_t parse_timestamp(const char *v)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (strlen(v) != 14 || !strptime(v, "%Y%m%d%H%M%S", &tm))
		return (time_t)-1;
	return timegm(&tm);
}

/* The next version: now, or one past the highest (timestamp); or the
 * highest plus one, zero-padded (sequence). */
static char *next_version(const char *migdir, enum version_style style)
{
	size_t width;
	char *max = max_version(migdir, &width);
	char *v;

	if (style == STYLE_TIMESTAMP) {
		char ts[16];
		time_t now = time(NULL), last = *max ? parse_timestamp(max) : (time_t)-1;

		format_time(ts, now);
		if (*max && version_cmp(ts, max) <= 0) {
			if (last != (time_t)-1)
				format_time(ts, last + 1);
			else
				snprintf(ts, sizeof(ts), "%s", max); /* handled below */
		}
		v = xstrdup(ts);
		if (*max && version_cmp(v, max) <= 0) {
			/* a non-timestamp max: fall back to max + 1 */
			free(v);
			v = NULL;
		}
	} else {
		v = NULL;
	}
	if (!v) {
		unsigned long long n = *max ? strtoull(max, NULL, 10) : 0;

		if (width < 4)
			width = 4;
		v = xasprintf("%0*llu", (int)width, n + 1);
	}
	free(max);
	return v;
}

int cmd_new(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "driver", required_argument, NULL, 'd' },
		{ "no-transaction", no_argument, NULL, 'T' },
		{ "irreversible", no_argument, NULL, 'I' },
		{ NULL, 0, NULL, 0 },
	};
	struct project_ctx ctx;
	const char *driver = NULL;
	int no_tx = 0, irreversible = 0, c, rc, lockfd = -1;
	char *slug = NULL, *migdir = NULL, *version = NULL, *dir = NULL, *tdir = NULL;
	struct buf up = BUF_INIT, down = BUF_INIT, meta = BUF_INIT;

	memset(&ctx, 0, sizeof(ctx));
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			driver = optarg;
			break;
		case 'T':
			no_tx = 1;
			break;
		case 'I':
			irreversible = 1;
			break;
		default:
			return usage_error(&cmd_new_desc, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (argc - optind != 1)
		return usage_error(&cmd_new_desc, argc - optind ? "too many arguments" : "a NAME is needed");
	slug = slugify(argv[optind]);
	if (!*slug) {
		rc = usage_error(&cmd_new_desc, "NAME '%s' has no letters or digits to make a directory name from",
				 argv[optind]);
		goto out;
	}
	rc = project_ctx_open(&ctx, 0);
	if (rc)
		goto out;
	rc = project_ctx_load(&ctx, 0, NULL);
	if (rc)
		goto out;
	if (driver) {
		if (!driver_is_known(driver)) {
			rc = usage_error(&cmd_new_desc, "unknown driver '%s' (cairn knows sqlite and postgres)", driver);
			goto out;
		}
	} else {
		driver = ctx.proj->cfg.drivers.n ? ctx.proj->cfg.drivers.items[0] : "sqlite";
	}
	migdir = path_join(ctx.root, ctx.proj->cfg.migrations_dir);
	if (mkdir_p(migdir, 0777) < 0) {
		error_msg("%s", cairn_error_last());
		rc = EXIT_ENVIRONMENT;
		goto out;
	}
	/* Serialise concurrent 'cairn new' runs on this tree: the version is
	 * chosen and its directory made under one lock on migrations/. */
	lockfd = open(migdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (lockfd < 0 || flock(lockfd, LOCK_EX) < 0) {
		error_msg("cannot lock '%s': %s", migdir, strerror(errno));
		rc = EXIT_ENVIRONMENT;
		goto out;
	}
	version = next_version(migdir, ctx.proj->cfg.style);
	dir = xasprintf("%s/%s_%s", migdir, version, slug);
	if (mkdir(dir, 0777) < 0) {
		error_msg("cannot create '%s': %s", dir, strerror(errno));
		rc = EXIT_ENVIRONMENT;
		goto out;
	}
	tdir = template_dir();
	render(&up, tdir, driver, "up.sql", argv[optind], version, argv[optind]);
	render(&meta, tdir, driver, "migration.yaml", argv[optind], version, argv[optind]);
	if (no_tx)
		buf_puts(&meta, "transaction: false\n");
	if (irreversible)
		buf_puts(&meta, "irreversible: true\n");
	else
		render(&down, tdir, driver, "down.sql", argv[optind], version, argv[optind]);
	{
		char *p_up = path_join(dir, "up.sql"), *p_down = path_join(dir, "down.sql");
		char *p_meta = path_join(dir, "migration.yaml");
		int bad = write_file_new(p_up, up.ptr, up.len, 0666) < 0 ||
			  (!irreversible && write_file_new(p_down, down.ptr, down.len, 0666) < 0) ||
			  write_file_new(p_meta, meta.ptr, meta.len, 0666) < 0;

		free(p_up);
		free(p_down);
		free(p_meta);
		if (bad) {
			error_msg("%s", cairn_error_last());
			rc = EXIT_ENVIRONMENT;
			goto out;
		}
	}
	/* relative to where the user is when the project is here */
	{
		char cwd[PATH_MAX];

		if (getcwd(cwd, sizeof(cwd)) && starts_with(dir, cwd) && dir[strlen(cwd)] == '/')
			printf("%s\n", dir + strlen(cwd) + 1);
		else
			printf("%s\n", dir);
	}
	rc = EXIT_OK;
out:
	if (lockfd >= 0)
		close(lockfd);
	buf_release(&up);
	buf_release(&down);
	buf_release(&meta);
	free(slug);
	free(migdir);
	free(version);
	free(dir);
	free(tdir);
	project_ctx_release(&ctx);
	return rc;
}
