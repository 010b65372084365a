/* cairn lint [PATH...]: the linter (lint/) on files, migrations or the
 * project, with what cairn.yaml and each migration.yaml say. */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../lib/buf.h"
#include "../lib/error.h"
#include "../lib/util.h"
#include "cairn.h"
#include "lint-report.h"

const struct cmd cmd_lint_desc = {
	"lint", cmd_lint,
	"report SQL that locks or breaks a running PostgreSQL database",
	"cairn lint [PATH...] [--format text|json|sarif|github|gitlab]",
	"Reads PostgreSQL SQL with PostgreSQL's own parser and reports the\n"
	"statements that take locks which block reads or writes, rewrite tables,\n"
	"or break the running release's clients, each with the lock, what it\n"
	"blocks and the safe rewrite. PATH is a .sql file, a migration directory,\n"
	"a directory of either, or a project; without PATH, the project around\n"
	"the current directory. A migration's up.postgres.sql (else up.sql) is\n"
	"read with its migration.yaml (transaction, timeouts, lint: {allow}).\n"
	"Levels come from cairn.yaml's lint: map; the rules are in docs/lint.md.\n"
	"Exits 1 if a finding is an error.\n"
	"\n"
	"Options:\n"
	"   --format F      text (default: path:line:col, the line and a caret;\n"
	"                   colour on a terminal unless NO_COLOR is set), json,\n"
	"                   sarif (2.1.0), github (workflow commands) or gitlab\n"
	"                   (Code Quality)\n",
};

struct lint_run {
	struct config cfg;
	struct lint_sqlite *db; /* a project's: every migration replayed in order */
	struct lint_report rep;
	int env_error;
};

#define LINT_MAX_FILE (16u << 20)

/* cairn.yaml from dir upwards: the levels and the server version. */
static void load_config(struct lint_run *L)
{
	char cwd[PATH_MAX], *dir;
	struct findings f = FINDINGS_INIT;

	if (!getcwd(cwd, sizeof(cwd)))
		return;
	dir = xstrdup(cwd);
	for (;;) {
		char *path = path_join(dir, CONFIG_FILE), *slash;
		struct buf b = BUF_INIT;
		int found = read_file(path, 1 << 20, &b) == 0;

		free(path);
		if (found) {
			struct buf out = BUF_INIT;

			config_parse(&L->cfg, b.ptr, b.len, &f);
			findings_format_text(&f, &out);
			fwrite(out.ptr ? out.ptr : "", 1, out.len, stderr);
			buf_release(&out);
			buf_release(&b);
			break;
		}
		buf_release(&b);
		slash = strrchr(dir, '/');
		if (!slash || slash == dir)
			break;
		*slash = '\0';
	}
	findings_release(&f);
	free(dir);
}

static void add_result(struct lint_run *L, const char *path, const struct buf *text,
		       const struct lint_result *r)
{
	size_t i;

	for (i = 0; i < r->n; i++) {
		const struct lint_finding *x = &r->items[i];

		lint_report_add(&L->rep, path, text, x->rule, x->level, x->line, x->col,
				x->stmt_line, x->stmt_end_line, x->msg);
	}
}

/* One script, with what migration m says (a default one for a bare file);
 * sqlite: checked by SQLite, else PostgreSQL's parser. */
static void lint_script(struct lint_run *L, const char *path, const struct migration *m,
			unsigned char *allow_used, int sqlite)
{
	struct buf b = BUF_INIT;
	struct lint_result r = LINT_RESULT_INIT;
	const struct buf *kept;
	const struct mig_file *gen = sqlite ? NULL : migration_file(m, ROLE_UP, "postgres");

	/* what operation: generates (issue #22) is linted from memory */
	if (gen && gen->content) {
		buf_put(&b, gen->content, gen->content_len);
	} else if (read_file(path, LINT_MAX_FILE, &b) < 0) {
		error_msg("cannot lint '%s': %s", path, cairn_error_last());
		L->env_error = 1;
		buf_release(&b);
		return;
	}
	kept = lint_report_keep(&L->rep, &b);
	L->rep.files++;
	if (sqlite)
		project_lint_sqlite(&L->cfg, m, L->db, kept->ptr, kept->len, allow_used, 0, &r);
	else
		project_lint(&L->cfg, m, kept->ptr, kept->len, allow_used, 0, &r);
	add_result(L, path, kept, &r);
	lint_result_release(&r);
}

/* The migration.yaml of directory dir, or the defaults. */
static struct migration *load_meta(const char *dir)
{
	struct migration *m = xcalloc(1, sizeof(*m));
	char *path = path_join(dir, "migration.yaml");
	struct buf b = BUF_INIT;
	struct findings ignored = FINDINGS_INIT; /* cairn check reports them */

	m->transaction = 1;
	if (read_file(path, 1 << 20, &b) == 0)
		migration_meta_parse(m, b.ptr, b.len, path, &ignored);
	findings_release(&ignored);
	buf_release(&b);
	free(path);
	return m;
}

static void lint_migration(struct lint_run *L, const char *dir)
{
	struct migration *m = load_meta(dir);
	unsigned char *used = xcalloc(m->lint_allow.n + 8, 1);
	char *up = path_join(dir, "up.postgres.sql");
	char *lite = path_join(dir, "up.sqlite.sql");
	const struct strlist *d = &L->cfg.drivers;
	struct findings f = FINDINGS_INIT;
	size_t i;

	if (m->op) {
		m->path = xstrdup(dir);
		operation_generate(&L->cfg, m, &f); /* cairn check reports its findings */
		findings_release(&f);
		if (migration_file(m, ROLE_UP, "postgres")) {
			lint_script(L, up, m, used, 0);
			free(up);
			up = NULL;
		}
	}

	/* the generic up.sql runs on each driver the project targets (all,
	 * when cairn.yaml names none) that has no variant of its own */
	if (up && !path_exists(up)) {
		free(up);
		up = !d->n || strlist_has(d, "postgres") ? path_join(dir, "up.sql") : NULL;
	}
	if (!path_exists(lite)) {
		free(lite);
		lite = strlist_has(d, "sqlite") ? path_join(dir, "up.sql") : NULL;
	}
	if (up && path_exists(up))
		lint_script(L, up, m, used, 0);
	if (lite && path_exists(lite))
		lint_script(L, lite, m, used, 1);
	free(lite);
	/* a waiver in migration.yaml that waived nothing */
	check_lint_unused(&L->cfg, m, used, &f);
	for (i = 0; i < f.n; i++) {
		char *meta = path_join(dir, "migration.yaml");

		lint_report_add(&L->rep, meta, NULL, LR_UNUSED_WAIVER,
				f.items[i].sev == SEV_ERROR ? LINT_ERROR : LINT_WARNING,
				f.items[i].line, 1, f.items[i].line, f.items[i].line, f.items[i].msg);
		free(meta);
	}
	findings_release(&f);
	free(up);
	free(used);
	migration_free(m);
}

static int is_migration_dir(const char *dir)
{
	char *a = path_join(dir, "up.sql"), *b = path_join(dir, "up.postgres.sql");
	char *c = path_join(dir, "up.sqlite.sql"), *d = path_join(dir, "migration.yaml");
	int yes = path_exists(a) || path_exists(b) || path_exists(c) || path_exists(d);

	free(a);
	free(b);
	free(c);
	free(d);
	return yes;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void lint_path(struct lint_run *L, const char *path, int depth);

/* A directory: a project, a migration, or a folder of them and of .sql files. */
static void lint_dir(struct lint_run *L, const char *dir, int depth)
{
	char *cfg = path_join(dir, CONFIG_FILE);
	DIR *d;
	struct dirent *e;
	char **names = NULL;
	size_t n = 0, alloc = 0, i;

	if (path_exists(cfg)) {
		char *migs = path_join(dir, L->cfg.migrations_dir);
		int own = !L->db && lint_sqlite_open(&L->db, 1) == 0;

		free(cfg);
		lint_dir(L, migs, depth + 1);
		free(migs);
		if (own) {
			lint_sqlite_free(L->db);
			L->db = NULL;
		}
		return;
	}
	free(cfg);
	if (is_migration_dir(dir)) {
		lint_migration(L, dir);
		return;
	}
	d = opendir(dir);
	if (!d) {
		error_msg("cannot read directory '%s': %s", dir, strerror(errno));
		L->env_error = 1;
		return;
	}
	while ((e = readdir(d)))
		if (e->d_name[0] != '.') {
			ALLOC_GROW(names, n + 1, alloc);
			names[n++] = xstrdup(e->d_name);
		}
	closedir(d);
	qsort(names, n, sizeof(*names), name_cmp);
	for (i = 0; i < n; i++) {
		char *p = path_join(dir, names[i]);

		if (is_dir(p) || ends_with(names[i], ".sql"))
			lint_path(L, p, depth + 1);
		free(p);
		free(names[i]);
	}
	free(names);
}

static void lint_path(struct lint_run *L, const char *path, int depth)
{
	if (depth > 16)
		return;
	if (is_dir(path)) {
		lint_dir(L, path, depth);
	} else {
		struct migration *m = NULL;
		const char *slash = strrchr(path, '/');
		const char *base = slash ? slash + 1 : path;

		/* up.sql in a migration directory: its migration.yaml counts */
		if (starts_with(base, "up.")) {
			char *dir = slash ? xstrndup(path, (size_t)(slash - path)) : xstrdup(".");

			m = load_meta(dir);
			free(dir);
		} else {
			m = load_meta("/nonexistent/");
			m->no_phase = 1;
		}
		lint_script(L, path, m, NULL, ends_with(base, ".sqlite.sql"));
		migration_free(m);
	}
}

static int project_root(char **out)
{
	/* here: "." so findings name paths relative to the project (what a
	 * SARIF upload needs: code scanning reads them from the repository) */
	*out = path_exists(CONFIG_FILE) ? xstrdup(".") : project_find_root(NULL);
	return *out ? 0 : -1;
}

int cmd_lint(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "format", required_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	struct lint_run L;
	struct buf out = BUF_INIT;
	const char *nc = getenv("NO_COLOR");
	int format = LF_TEXT, c, rc, i;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'f' && (format = lint_format_parse(optarg)) >= 0)
			continue;
		if (c == 'f')
			return usage_error(&cmd_lint_desc, "unknown format '%s' (text, json, sarif, github or gitlab)",
					   optarg);
		return usage_error(&cmd_lint_desc, "unknown option '%s'", argv[optind - 1]);
	}
	if (opt_chdir && chdir(opt_chdir) < 0) {
		error_msg("cannot change to '%s': %s", opt_chdir, strerror(errno));
		return EXIT_ENVIRONMENT;
	}
	memset(&L, 0, sizeof(L));
	config_init(&L.cfg);
	load_config(&L);
	if (optind == argc) {
		char *root = NULL;

		if (project_root(&root) < 0) {
			error_msg("not in a cairn project: no %s here or above; name the files or directories to lint",
				  CONFIG_FILE);
			config_release(&L.cfg);
			return EXIT_ENVIRONMENT;
		}
		lint_path(&L, root, 0);
		free(root);
	}
	for (i = optind; i < argc; i++) {
		if (!path_exists(argv[i])) {
			error_msg("cannot lint '%s': no such file or directory", argv[i]);
			L.env_error = 1;
			continue;
		}
		lint_path(&L, argv[i], 0);
	}
	lint_report_sort(&L.rep);
	lint_report_format(&L.rep, (enum lint_format)format,
			   format == LF_TEXT && isatty(STDOUT_FILENO) && !(nc && *nc), &out);
	fwrite(out.ptr ? out.ptr : "", 1, out.len, stdout);
	fflush(stdout);
	if (format == LF_TEXT)
		fprintf(stderr, "%s: %zu file%s linted, %zu error%s, %zu warning%s\n", progname,
			L.rep.files, L.rep.files == 1 ? "" : "s", L.rep.errors,
			L.rep.errors == 1 ? "" : "s", L.rep.warnings, L.rep.warnings == 1 ? "" : "s");
	rc = L.env_error ? EXIT_ENVIRONMENT : L.rep.errors ? EXIT_FAILED : EXIT_OK;
	buf_release(&out);
	lint_report_release(&L.rep);
	config_release(&L.cfg);
	return rc;
}
