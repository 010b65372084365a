#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../lib/buf.h"
#include "../lib/error.h"
#include "../lib/util.h"
#include "cairn.h"

const struct cmd cmd_hooks_desc = {
	"hooks", cmd_hooks,
	"install the git hooks that run cairn check",
	"cairn hooks install [--pre-commit] [--pre-receive] [--force]\n"
	"       cairn hooks uninstall [--pre-commit] [--pre-receive]",
	"Writes git hooks that run cairn: pre-commit and pre-merge-commit run\n"
	"'cairn check --staged' (a commit or a merge that breaks a rule is refused:\n"
	"git reports no conflict when two branches add the same version, cairn\n"
	"does), pre-receive runs 'cairn check\n"
	"--pre-receive' on a server (a push that edits a released migration is\n"
	"refused). Without a hook option: pre-commit in a repository with a work\n"
	"tree, pre-receive in a bare one. Hooks go where git looks for them:\n"
	"core.hooksPath when set, else the repository's hooks directory.\n"
	"\n"
	"A hook cairn did not write is never replaced, unless --force (the old one\n"
	"is kept as HOOK.cairn-backup). Installing again is harmless; uninstall\n"
	"removes only hooks cairn wrote. The scripts are also installed in\n"
	"share/cairn/hooks, and .pre-commit-hooks.yaml serves the pre-commit\n"
	"framework.\n"
	"\n"
	"Options:\n"
	"   --pre-commit    the pre-commit and pre-merge-commit hooks\n"
	"   --pre-receive   the pre-receive hook\n"
	"   --force         replace a hook cairn did not write\n",
};

#define HOOK_MARKER "# cairn-hook:"

/* The scripts, as shipped in hooks/; install puts the absolute path of this
 * cairn and the project's directory in. */
static const char pre_commit_fmt[] =
	"#!/bin/sh\n"
	HOOK_MARKER " %s, written by 'cairn hooks install'.\n"
	"# Refuses a commit whose staged migrations break a cairn rule: static rules,\n"
	"# and against git history (released migrations never change; new ones come\n"
	"# last). See 'man cairn'. To skip it once: git commit --no-verify.\n"
	"cairn=\"${CAIRN:-%s}\"\n"
	"exec \"$cairn\" -C %s check --staged\n";

static const char pre_receive_fmt[] =
	"#!/bin/sh\n"
	HOOK_MARKER " pre-receive, written by 'cairn hooks install'.\n"
	"# Refuses a push to a release ref that edits, renames or deletes a released\n"
	"# migration, adds one out of order or with a version another branch took, or\n"
	"# breaks a static rule. The pusher sees each finding and its rule id.\n"
	"# A project below the top of the repository: git config cairn.prefix DIR/\n"
	"cairn=\"${CAIRN:-%s}\"\n"
	"exec \"$cairn\" check --pre-receive\n";

/* Single-quoted for sh. */
static char *sh_quote(const char *s)
{
	struct buf b = BUF_INIT;

	buf_putc(&b, '\'');
	for (; *s; s++) {
		if (*s == '\'')
			buf_puts(&b, "'\\''");
		else
			buf_putc(&b, *s);
	}
	buf_putc(&b, '\'');
	return buf_detach(&b, NULL);
}

/* The path of the running cairn, so the hook finds it without PATH (a
 * server's hook environment often has a bare PATH). */
static char *self_path(void)
{
	char p[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", p, sizeof(p) - 1);

	if (n <= 0 || (size_t)n >= sizeof(p) - 1)
		return xstrdup("cairn");
	p[n] = '\0';
	return xstrdup(p);
}

static char *hooks_dir(git_repository *repo)
{
	git_config *cfg = NULL;
	git_buf val = { NULL, 0, 0 };
	char *dir = NULL;

	if (git_repository_config_snapshot(&cfg, repo) == 0 &&
	    git_config_get_path(&val, cfg, "core.hooksPath") == 0 && val.ptr && *val.ptr) {
		if (val.ptr[0] == '/')
			dir = xstrdup(val.ptr);
		else
			/* git runs hooks from the top of the work tree, or in a bare
			 * repository from the repository: relative paths start there */
			dir = path_join(git_repository_is_bare(repo) ? git_repository_path(repo)
								      : git_repository_workdir(repo),
					val.ptr);
	} else {
		dir = path_join(git_repository_commondir(repo), "hooks");
	}
	git_buf_dispose(&val);
	git_config_free(cfg);
	return dir;
}

/* The project's directory relative to the top of the work tree, for -C. */
static char *project_dir(git_repository *repo)
{
	char top[PATH_MAX];
	const char *wd = git_repository_workdir(repo), *rel;
	char *dir, *out;

	if (!wd || !realpath(wd, top) || !(dir = project_find_root(top)))
		return NULL;
	rel = dir + strlen(top);
	while (*rel == '/')
		rel++;
	out = xstrdup(*rel ? rel : ".");
	free(dir);
	return out;
}

static int is_ours(const char *path)
{
	struct buf b = BUF_INIT;
	int ours;

	if (read_file(path, 1 << 20, &b) < 0) {
		buf_release(&b);
		return 0;
	}
	ours = strstr(buf_cstr(&b), HOOK_MARKER) != NULL;
	buf_release(&b);
	return ours;
}

static int install_one(const char *dir, const char *name, const char *text, int force)
{
	char *path = path_join(dir, name), *backup = NULL;
	struct buf old = BUF_INIT;
	int rc = EXIT_ENVIRONMENT;

	if (path_exists(path)) {
		if (read_file(path, 1 << 20, &old) == 0 && !strcmp(buf_cstr(&old), text)) {
			printf("%s: up to date\n", path);
			rc = EXIT_OK;
			goto out;
		}
		if (!is_ours(path)) {
			if (!force) {
				error_msg("not replacing '%s': cairn did not write it; add '%s' to it yourself, or use --force (the old hook is kept as %s.cairn-backup)",
					  path,
					  strcmp(name, "pre-receive") ? "cairn check --staged" : "cairn check --pre-receive",
					  name);
				rc = EXIT_FAILED;
				goto out;
			}
			backup = xasprintf("%s.cairn-backup", path);
			if (rename(path, backup) < 0) {
				error_msg("cannot keep the old hook as '%s': %s", backup, strerror(errno));
				goto out;
			}
			printf("%s: the old hook is now %s\n", path, backup);
		}
	}
	if (mkdir_p(dir, 0755) < 0 || write_file_atomic(path, text, strlen(text), 0755) < 0) {
		error_msg("cannot write the hook: %s", cairn_error_last());
		goto out;
	}
	printf("%s: installed\n", path);
	rc = EXIT_OK;
out:
	buf_release(&old);
	free(backup);
	free(path);
	return rc;
}

static int uninstall_one(const char *dir, const char *name)
{
	char *path = path_join(dir, name);
	int rc = EXIT_OK;

	if (!path_exists(path)) {
		printf("%s: not installed\n", path);
	} else if (!is_ours(path)) {
		error_msg("not removing '%s': cairn did not write it", path);
		rc = EXIT_FAILED;
	} else if (unlink(path) < 0) {
		error_msg("cannot remove '%s': %s", path, strerror(errno));
		rc = EXIT_ENVIRONMENT;
	} else {
		printf("%s: removed\n", path);
	}
	free(path);
	return rc;
}

int cmd_hooks(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "pre-commit", no_argument, NULL, 'c' },
		{ "pre-receive", no_argument, NULL, 'r' },
		{ "force", no_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	git_repository *repo = NULL;
	char *dir = NULL, *self = NULL, *proj = NULL, *qself = NULL, *qproj = NULL;
	int pre_commit = 0, pre_receive = 0, force = 0, install, c, rc = EXIT_OK;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			pre_commit = 1;
			break;
		case 'r':
			pre_receive = 1;
			break;
		case 'f':
			force = 1;
			break;
		default:
			return usage_error(&cmd_hooks_desc, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return usage_error(&cmd_hooks_desc, "say what to do: install or uninstall");
	if (strcmp(argv[optind], "install") && strcmp(argv[optind], "uninstall"))
		return usage_error(&cmd_hooks_desc, "unknown action '%s' (install or uninstall)",
				   argv[optind]);
	install = !strcmp(argv[optind], "install");
	if (optind + 1 < argc)
		return usage_error(&cmd_hooks_desc, "unexpected argument '%s'", argv[optind + 1]);
	if (!install && force)
		return usage_error(&cmd_hooks_desc, "--force is for install");
	if (opt_chdir && chdir(opt_chdir) < 0) {
		error_msg("cannot change to '%s': %s", opt_chdir, strerror(errno));
		return EXIT_ENVIRONMENT;
	}
	if (git_repository_open_ext(&repo, ".", 0, NULL) < 0) {
		error_msg("not in a git repository (run 'git init' first, or -C DIR)");
		return EXIT_ENVIRONMENT;
	}
	if (!pre_commit && !pre_receive) {
		if (git_repository_is_bare(repo))
			pre_receive = 1;
		else
			pre_commit = 1;
	}
	dir = hooks_dir(repo);
	if (install && pre_commit) {
		if (git_repository_is_bare(repo)) {
			error_msg("a bare repository has no commits to check before they are made; install --pre-receive here, and --pre-commit in a clone");
			rc = EXIT_USAGE;
			goto out;
		}
		proj = project_dir(repo);
		if (!proj) {
			error_msg("no %s in this directory or above it in the work tree: run 'cairn init' first, or -C the project's directory",
				  CONFIG_FILE);
			rc = EXIT_ENVIRONMENT;
			goto out;
		}
	}
	self = self_path();
	qself = xstrdup(self);
	if (strpbrk(self, "\"$`\\"))
		error_msg("warning: the path of cairn, '%s', has shell characters; set CAIRN for the hooks", self);
	if (pre_commit) {
		if (install) {
			char *text;

			qproj = sh_quote(proj);
			text = xasprintf(pre_commit_fmt, "pre-commit", qself, qproj);
			rc = install_one(dir, "pre-commit", text, force);
			free(text);
			if (rc == EXIT_OK) {
				/* git merge runs this one, not pre-commit */
				text = xasprintf(pre_commit_fmt, "pre-merge-commit", qself, qproj);
				rc = install_one(dir, "pre-merge-commit", text, force);
				free(text);
			}
		} else {
			rc = uninstall_one(dir, "pre-commit");
			if (rc == EXIT_OK)
				rc = uninstall_one(dir, "pre-merge-commit");
		}
	}
	if (pre_receive && rc == EXIT_OK) {
		if (install) {
			char *text = xasprintf(pre_receive_fmt, qself);

			rc = install_one(dir, "pre-receive", text, force);
			free(text);
		} else {
			rc = uninstall_one(dir, "pre-receive");
		}
	}
out:
	free(dir);
	free(self);
	free(qself);
	free(proj);
	free(qproj);
	git_repository_free(repo);
	return rc;
}
