#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../lib/error.h"
#include "../lib/util.h"
#include "../project/gitenv.h"
#include "../project/history.h"
#include "cairn.h"

const char *opt_chdir;

char *project_find_root(const char *top)
{
	char cwd[PATH_MAX];
	char *dir;

	if (!getcwd(cwd, sizeof(cwd)))
		return NULL;
	dir = xstrdup(cwd);
	for (;;) {
		char *cfg = path_join(dir, CONFIG_FILE), *slash;
		int found = path_exists(cfg);

		free(cfg);
		if (found && (!top || starts_with(dir, top)))
			return dir;
		slash = strrchr(dir, '/');
		if (found || !slash || slash == dir ||
		    (top && (!starts_with(dir, top) || !strcmp(dir, top)))) {
			free(dir);
			return NULL;
		}
		*slash = '\0';
	}
}

int project_ctx_open(struct project_ctx *c, int need_git)
{
	struct gitenv env;
	const char *workdir;
	int r;
	char real_root[PATH_MAX], real_work[PATH_MAX];

	memset(c, 0, sizeof(*c));
	if (opt_chdir && chdir(opt_chdir) < 0) {
		error_msg("cannot change to '%s': %s", opt_chdir, strerror(errno));
		return EXIT_ENVIRONMENT;
	}
	opt_chdir = NULL; /* once: a verb may open the project twice */
	c->root = project_find_root(NULL);
	if (!c->root) {
		error_msg("not in a cairn project: no %s here or in any parent directory (run 'cairn init')",
			  CONFIG_FILE);
		return EXIT_ENVIRONMENT;
	}
	r = gitenv_open(&env, c->root);
	if (r < 0) {
		error_msg("%s", cairn_error_last());
		return EXIT_ENVIRONMENT;
	}
	c->repo = env.repo;
	c->index_path = env.index_path;
	if (r > 0) {
		if (need_git) {
			error_msg("'%s' is not in a git repository (run 'git init' there)", c->root);
			return EXIT_ENVIRONMENT;
		}
		c->prefix = xstrdup("");
		return 0;
	}
	workdir = git_repository_workdir(c->repo);
	if (!workdir) {
		error_msg("'%s' is in a bare repository; cairn reads a project from a work tree, or use --ref",
			  c->root);
		return EXIT_ENVIRONMENT;
	}
	if (!realpath(c->root, real_root) || !realpath(workdir, real_work)) {
		error_msg("cannot resolve '%s': %s", c->root, strerror(errno));
		return EXIT_ENVIRONMENT;
	}
	if (!strcmp(real_root, real_work))
		c->prefix = xstrdup("");
	else if (starts_with(real_root, real_work))
		c->prefix = xasprintf("%s/", real_root + strlen(real_work) + (ends_with(real_work, "/") ? 0 : 1));
	else
		c->prefix = xstrdup("");
	return 0;
}

int project_ctx_load(struct project_ctx *c, int staged, const char *rev)
{
	int rc;

	if ((staged || rev) && !c->repo) {
		error_msg("%s needs a git repository, and '%s' is not in one",
			  staged ? "--staged" : "--ref", c->root);
		return EXIT_ENVIRONMENT;
	}
	if (staged)
		rc = source_open_index(&c->src, c->repo, c->prefix, c->index_path);
	else if (rev)
		rc = source_open_commit(&c->src, c->repo, c->prefix, rev);
	else
		rc = source_open_worktree(&c->src, c->root, c->repo, c->prefix, c->index_path);
	if (rc < 0) {
		error_msg("%s", cairn_error_last());
		return EXIT_ENVIRONMENT;
	}
	if (project_load(&c->proj, c->src, &c->findings) < 0) {
		error_msg("%s", cairn_error_last());
		return EXIT_ENVIRONMENT;
	}
	return 0;
}

int project_ctx_check_commit(struct project_ctx *c, const char *rev, struct history *h)
{
	git_object *obj = NULL;
	git_reference *ref = NULL, *resolved = NULL;

	project_order(c->proj, &c->findings);
	check_static(c->proj, &c->findings);
	if (history_open(h, c->repo, &c->proj->cfg, c->prefix, NULL) < 0)
		return -1;
	history_set_tip(h, git_commit_id(c->src->commit));
	/* a branch that is a release ref itself judges against itself, as
	 * 'cairn check' does in its work tree (release/1.x) */
	if (git_revparse_ext(&obj, &ref, c->repo, rev) == 0 && ref &&
	    git_reference_resolve(&resolved, ref) == 0 && git_reference_is_branch(resolved))
		h->tip_ref = xstrdup(git_reference_name(resolved));
	git_object_free(obj);
	git_reference_free(ref);
	git_reference_free(resolved);
	if (history_default_base(h, 1, rev) < 0 || history_check(h, c->proj, &c->findings) < 0)
		return -1;
	return 0;
}

/* The remote a clone came from: origin, else the first remote.NAME.url
 * in the config; NULL when there is none, or when its name is not plain
 * (a fetch line with it might not paste). Read by iterating the config:
 * git_remote_list matches names with a regex, whose pcre2 match data
 * libgit2 1.5 leaks. */
static char *clone_remote(git_repository *repo)
{
	git_config *cfg = NULL;
	git_config_iterator *it = NULL;
	git_config_entry *e;
	char *first = NULL, *name = NULL;

	if (git_repository_config_snapshot(&cfg, repo) < 0 || git_config_iterator_new(&it, cfg) < 0)
		goto out;
	while (!name && git_config_next(&e, it) == 0) {
		size_t n = strlen(e->name);

		if (!starts_with(e->name, "remote.") || n < 12 || strcmp(e->name + n - 4, ".url"))
			continue;
		if (!strcmp(e->name, "remote.origin.url"))
			name = xstrdup("origin");
		else if (!first)
			first = xstrndup(e->name + 7, n - 11);
	}
	if (!name && first &&
	    strspn(first, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") ==
		    strlen(first))
		name = xstrdup(first);
out:
	free(first);
	git_config_iterator_free(it);
	git_config_free(cfg);
	return name;
}

/* 1 when the repository has a remote (remote.NAME.url in its config). */
static int has_remote(git_repository *repo)
{
	git_config *cfg = NULL;
	git_config_iterator *it = NULL;
	git_config_entry *e;
	int found = 0;

	if (git_repository_config_snapshot(&cfg, repo) == 0 && git_config_iterator_new(&it, cfg) == 0)
		while (!found && git_config_next(&e, it) == 0)
			found = starts_with(e->name, "remote.") && ends_with(e->name, ".url");
	git_config_iterator_free(it);
	git_config_free(cfg);
	return found;
}

int project_ctx_refuse_shallow(const struct project_ctx *c, const char *what)
{
	char *remote;

	if (!c->repo || !git_repository_is_shallow(c->repo))
		return 0;
	/* a cut history lacks the release refs' commits and the merge base:
	 * every migration would count as new, and the history rules pass */
	error_msg("cannot %s in a shallow clone: the history rules and each migration's provenance need the whole history, with the release branches and tags", what);
	remote = clone_remote(c->repo);
	if (remote)
		error_msg("next: git fetch --unshallow --tags %s '+refs/heads/*:refs/remotes/%s/*'",
			  remote, remote);
	else
		error_msg("next: git fetch --unshallow --tags");
	free(remote);
	return EXIT_ENVIRONMENT;
}

/* Only patterns, none matched: a clone whose remotes' settings could not
 * have fetched what one names (a single-branch clone, --no-tags) cannot
 * tell "nothing released yet" from "not fetched". */
static int refuse_unfetched(const struct project_ctx *c, const struct strlist *pats)
{
	char *remote = clone_remote(c->repo), *fix = NULL;
	const char *p = history_unfetched_pattern(c->repo, pats, remote, &fix);

	if (p) {
		error_msg("cannot check against the history: no release ref matches '%s' here, and this clone's remote settings do not fetch what it names (a single-branch or --no-tags clone): every migration would count as new",
			  p);
		error_msg("next: %s", fix ? fix : "fetch the release branches and tags from the project's server");
	}
	free(remote);
	free(fix);
	return p ? EXIT_ENVIRONMENT : 0;
}

int project_ctx_refuse_partial(const struct project_ctx *c)
{
	struct strlist pats = { NULL, 0, 0 };
	struct history h;
	const char *missing = NULL;
	char *remote = NULL;
	size_t i;
	int rc = 0;

	memset(&h, 0, sizeof(h));
	if (!c->repo || !c->proj || !has_remote(c->repo))
		goto out;
	if (history_open(&h, c->repo, &c->proj->cfg, c->prefix, NULL) < 0 || h.nrefs)
		goto out;
	/* a branch named in full (no wildcard) exists on the server the
	 * clone came from; one of a pattern (release/x) may not exist yet */
	history_release_patterns(c->repo, &c->proj->cfg, &pats);
	for (i = 0; i < pats.n && !missing; i++)
		if (starts_with(pats.items[i], "refs/heads/") && !strpbrk(pats.items[i], "*?["))
			missing = pats.items[i];
	if (!missing) {
		rc = refuse_unfetched(c, &pats);
		goto out;
	}
	error_msg("cannot check against the history: this clone has no release ref ('%s' is neither a branch here nor a remote-tracking one; release_refs in %s names them): every migration would count as new",
		  missing, CONFIG_FILE);
	remote = clone_remote(c->repo);
	if (remote)
		error_msg("next: git fetch --tags %s '+refs/heads/*:refs/remotes/%s/*'", remote,
			  remote);
	else
		error_msg("next: fetch the release branches and tags from the project's server");
	rc = EXIT_ENVIRONMENT;
out:
	free(remote);
	strlist_release(&pats);
	history_release(&h);
	return rc;
}

void project_ctx_release(struct project_ctx *c)
{
	project_free(c->proj);
	source_free(c->src);
	findings_release(&c->findings);
	git_repository_free(c->repo);
	free(c->root);
	free(c->prefix);
	free(c->index_path);
	memset(c, 0, sizeof(*c));
}

const char *libgit2_version(void)
{
	static char v[32];
	int major, minor, rev;

	git_libgit2_version(&major, &minor, &rev);
	snprintf(v, sizeof(v), "%d.%d.%d", major, minor, rev);
	return v;
}
