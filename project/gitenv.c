#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <git2/sys/repository.h>

#include "../lib/error.h"
#include "../lib/util.h"
#include "gitenv.h"

/* A variable git reads, or NULL when unset or empty (git treats an empty
 * GIT_DIR or GIT_INDEX_FILE as unset too). */
static const char *env(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

static const char *git_msg(void)
{
	const git_error *e = git_error_last();

	return e && e->message ? e->message : "libgit2 error";
}

static char *absolute(const char *path, const char *base)
{
	return path[0] == '/' ? xstrdup(path) : path_join(base, path);
}

static int same_dir(const char *a, const char *b)
{
	char ra[PATH_MAX], rb[PATH_MAX];

	return realpath(a, ra) && realpath(b, rb) && !strcmp(ra, rb);
}

/* git's rule for the work tree: GIT_WORK_TREE; else, with GIT_DIR set,
 * core.worktree, or none in a bare repository, or the current directory. */
static int set_worktree(git_repository *repo, const char *dir, const char *cwd)
{
	const char *wt = env("GIT_WORK_TREE");
	git_config *cfg = NULL;
	git_buf v = { NULL, 0, 0 };
	char *path = NULL;
	int bare = 0, has_cfg_wt, rc = 0;

	if (wt) {
		path = absolute(wt, cwd);
	} else if (dir) {
		if (git_repository_config_snapshot(&cfg, repo) < 0) {
			cairn_error_set("cannot read the configuration of '%s': %s", dir, git_msg());
			return -1;
		}
		has_cfg_wt = git_config_get_string_buf(&v, cfg, "core.worktree") == 0;
		if (git_config_get_bool(&bare, cfg, "core.bare") < 0)
			bare = 0;
		git_buf_dispose(&v);
		git_config_free(cfg);
		if (!has_cfg_wt && !bare)
			path = xstrdup(cwd);
	}
	/* libgit2 1.5 leaks its copy of the path when it is the work tree
	 * already (a linked worktree's GIT_DIR): only a different one is set */
	if (path && git_repository_workdir(repo) && same_dir(path, git_repository_workdir(repo))) {
		free(path);
		return 0;
	}
	if (path && git_repository_set_workdir(repo, path, 0) < 0) {
		cairn_error_set("cannot use '%s' as the work tree: %s", path, git_msg());
		rc = -1;
	}
	free(path);
	return rc;
}

/* GIT_OBJECT_DIRECTORY and GIT_ALTERNATE_OBJECT_DIRECTORIES: where a
 * pre-receive hook finds the pushed objects (git's quarantine). */
static int set_objects(git_repository *repo, const char *cwd)
{
	const char *objdir = env("GIT_OBJECT_DIRECTORY"), *alt = env("GIT_ALTERNATE_OBJECT_DIRECTORIES");
	git_odb *odb = NULL;
	char *path = NULL;
	int rc = -1;

	if (objdir) {
		path = absolute(objdir, cwd);
		if (git_odb_open(&odb, path) < 0) {
			cairn_error_set("cannot open GIT_OBJECT_DIRECTORY '%s': %s", objdir, git_msg());
			goto out;
		}
		git_repository_set_odb(repo, odb);
		git_odb_free(odb);
		odb = NULL;
	}
	while (alt && *alt) {
		const char *end = strchr(alt, ':');
		size_t len = end ? (size_t)(end - alt) : strlen(alt);

		free(path);
		path = NULL;
		if (len) {
			char *one = xstrndup(alt, len);

			path = absolute(one, cwd);
			free(one);
			if (!odb && git_repository_odb(&odb, repo) < 0) {
				cairn_error_set("cannot open the object database: %s", git_msg());
				goto out;
			}
			if (git_odb_add_disk_alternate(odb, path) < 0) {
				cairn_error_set("cannot use the alternate object directory '%s': %s", path,
						git_msg());
				goto out;
			}
		}
		alt = end ? end + 1 : NULL;
	}
	rc = 0;
out:
	git_odb_free(odb);
	free(path);
	return rc;
}

/* GIT_CONFIG_GLOBAL and GIT_CONFIG_SYSTEM (git 2.32) name the files git
 * reads in place of ~/.gitconfig and /etc/gitconfig; libgit2 1.5 does not
 * look at them. What they say decides what 'git add' does (a clean filter,
 * core.attributesFile), so they replace libgit2's files at those levels
 * before anything reads the config or the attributes. */
static int set_config_files(git_repository *repo, const char *cwd)
{
	static const struct {
		const char *var;
		git_config_level_t level;
	} files[] = { { "GIT_CONFIG_GLOBAL", GIT_CONFIG_LEVEL_GLOBAL },
		      { "GIT_CONFIG_SYSTEM", GIT_CONFIG_LEVEL_SYSTEM } };
	git_config *cfg = NULL;
	size_t i;
	int rc = -1;

	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		const char *v = env(files[i].var);
		char *path;
		int r;

		if (!v)
			continue;
		if (!cfg && git_repository_config(&cfg, repo) < 0) {
			cairn_error_set("cannot read the repository's config: %s", git_msg());
			goto out;
		}
		path = absolute(v, cwd);
		r = git_config_add_file_ondisk(cfg, path, files[i].level, repo, 1);
		if (r < 0 && r != GIT_ENOTFOUND) {
			cairn_error_set("cannot read %s '%s': %s", files[i].var, path, git_msg());
			free(path);
			goto out;
		}
		free(path);
	}
	rc = 0;
out:
	git_config_free(cfg);
	return rc;
}

int gitenv_open(struct gitenv *out, const char *start)
{
	const char *dir = env("GIT_DIR"), *common = env("GIT_COMMON_DIR"), *ix = env("GIT_INDEX_FILE");
	const char *workdir;
	char cwd[PATH_MAX];
	int r;

	memset(out, 0, sizeof(*out));
	if (!getcwd(cwd, sizeof(cwd))) {
		cairn_error_set("cannot find the current directory: %s", strerror(errno));
		return -1;
	}
	if (dir) {
		r = git_repository_open_ext(&out->repo, dir, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL);
		if (r < 0) {
			cairn_error_set("GIT_DIR '%s' is not a git repository: %s", dir, git_msg());
			goto fail;
		}
	} else {
		r = git_repository_open_ext(&out->repo, start, 0, env("GIT_CEILING_DIRECTORIES"));
		if (r == GIT_ENOTFOUND) {
			out->repo = NULL;
			return 1;
		}
		if (r < 0) {
			cairn_error_set("cannot open the git repository of '%s': %s", start, git_msg());
			goto fail;
		}
	}
	/* libgit2 finds the common directory through GIT_DIR's commondir
	 * file and cannot be told another; one that differs is refused */
	if (common && !same_dir(common, git_repository_commondir(out->repo))) {
		cairn_error_set("GIT_COMMON_DIR '%s' is not the common directory of '%s' (%s): cairn cannot read a repository split that way",
				common, git_repository_path(out->repo),
				git_repository_commondir(out->repo));
		goto fail;
	}
	if (set_worktree(out->repo, dir, cwd) < 0 || set_objects(out->repo, cwd) < 0 ||
	    set_config_files(out->repo, cwd) < 0)
		goto fail;
	/* git resolves a relative GIT_INDEX_FILE after moving to the top of
	 * the work tree (a hook gets ".git/index" there) */
	workdir = git_repository_workdir(out->repo);
	if (ix) {
		out->index_path = absolute(ix, workdir ? workdir : cwd);
		out->index_from_env = 1;
	} else {
		out->index_path = path_join(git_repository_path(out->repo), "index");
	}
	return 0;
fail:
	gitenv_release(out);
	return -1;
}

void gitenv_release(struct gitenv *e)
{
	if (!e)
		return;
	git_repository_free(e->repo);
	free(e->index_path);
	memset(e, 0, sizeof(*e));
}
