/* Rules against git history: the snapshots of a commit's migrations/, the
 * release refs and the base. See history.h; the design (what counts as
 * released, which base, why ids and not contents) is in docs/design.md,
 * "History rules". The rules themselves are in history-rules.c, tree ids in
 * history-tree.c, provenance in history-provenance.c. */
#include <ctype.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/error.h"
#include "../lib/util.h"
#include "history.h"
#include "history-int.h"

int git_fail(const char *what)
{
	const git_error *e = git_error_last();

	cairn_error_set("%s: %s", what, e && e->message ? e->message : "libgit2 error");
	return -1;
}

void short_id(char out[13], const git_oid *id)
{
	git_oid_tostr(out, 13, id);
}

/* The version of a migration directory name, or NULL when it is not one. */
char *dir_version(const char *name)
{
	const char *s = name;

	while (isdigit((unsigned char)*s))
		s++;
	if (s == name || *s != '_' || !s[1])
		return NULL;
	return xstrndup(name, (size_t)(s - name));
}

static int cmp_snap_ent(const void *a, const void *b)
{
	return strcmp(((const struct snap_ent *)a)->name, ((const struct snap_ent *)b)->name);
}

void snap_free(struct history_snap *s)
{
	size_t i;

	if (!s)
		return;
	for (i = 0; i < s->n; i++)
		free(s->e[i].version);
	free(s->e);
	git_tree_free(s->tree);
	free(s);
}

/* The id of path's tree in commit c; 1 when there is none, -1 on error. */
int commit_subtree_id(git_repository *repo, const git_commit *c, const char *path,
		      git_oid *out)
{
	git_tree *root = NULL;
	git_tree_entry *te = NULL;
	int rc = 1, r;

	if (git_commit_tree(&root, c) < 0)
		return git_fail("cannot read a commit's tree");
	r = git_tree_entry_bypath(&te, root, path);
	if (r == 0 && git_tree_entry_type(te) == GIT_OBJECT_TREE) {
		git_oid_cpy(out, git_tree_entry_id(te));
		rc = 0;
	} else if (r < 0 && r != GIT_ENOTFOUND) {
		rc = git_fail("cannot read a tree");
	}
	git_tree_entry_free(te);
	git_tree_free(root);
	(void)repo;
	return rc;
}

int snap_load(struct history *h, const git_oid *commit, struct history_snap **out)
{
	struct history_snap *s = xcalloc(1, sizeof(*s));
	git_commit *c = NULL;
	git_oid mt;
	size_t i, n, alloc = 0;
	int r, rc = -1;

	*out = NULL;
	git_oid_cpy(&s->commit, commit);
	if (git_commit_lookup(&c, h->repo, commit) < 0) {
		git_fail("cannot read a commit");
		goto out;
	}
	r = commit_subtree_id(h->repo, c, h->mdir, &mt);
	if (r < 0)
		goto out;
	if (r == 0) {
		if (git_tree_lookup(&s->tree, h->repo, &mt) < 0) {
			git_fail("cannot read a tree");
			goto out;
		}
		n = git_tree_entrycount(s->tree);
		for (i = 0; i < n; i++) {
			const git_tree_entry *te = git_tree_entry_byindex(s->tree, i);
			char *v;

			if (git_tree_entry_type(te) != GIT_OBJECT_TREE)
				continue;
			v = dir_version(git_tree_entry_name(te));
			if (!v)
				continue;
			ALLOC_GROW(s->e, s->n + 1, alloc);
			s->e[s->n].name = git_tree_entry_name(te);
			s->e[s->n].version = v;
			git_oid_cpy(&s->e[s->n].oid, git_tree_entry_id(te));
			s->n++;
		}
		if (s->n)
			qsort(s->e, s->n, sizeof(*s->e), cmp_snap_ent);
	}
	*out = s;
	s = NULL;
	rc = 0;
out:
	git_commit_free(c);
	snap_free(s);
	return rc;
}

const struct snap_ent *snap_find(const struct history_snap *s, const char *name)
{
	struct snap_ent key;

	if (!s || !s->n)
		return NULL;
	key.name = name;
	return bsearch(&key, s->e, s->n, sizeof(*s->e), cmp_snap_ent);
}

const struct snap_ent *snap_find_version(const struct history_snap *s, const char *v,
					 const char *except)
{
	size_t i;

	for (i = 0; s && i < s->n; i++)
		if (!version_cmp(s->e[i].version, v) && strcmp(s->e[i].name, except))
			return &s->e[i];
	return NULL;
}

const struct snap_ent *snap_max(const struct history_snap *s)
{
	const struct snap_ent *best = NULL;
	size_t i;

	for (i = 0; s && i < s->n; i++)
		if (!best || version_cmp(s->e[i].version, best->version) > 0)
			best = &s->e[i];
	return best;
}

/* ---- release refs and the base ---- */

/* 1 when branch NAME exists locally or as a remote-tracking branch
 * (refs/remotes/REMOTE/NAME: a CI checkout often has no local branch). */
static int branch_exists(git_repository *repo, const char *name)
{
	git_reference_iterator *it = NULL;
	git_reference *ref = NULL;
	char *local = xasprintf("refs/heads/%s", name);
	char *glob = xasprintf("refs/remotes/*/%s", name);
	git_oid id;
	int found = git_reference_name_to_id(&id, repo, local) == 0;

	if (!found && git_reference_iterator_glob_new(&it, repo, glob) == 0 &&
	    git_reference_next(&ref, it) == 0)
		found = 1;
	git_reference_free(ref);
	git_reference_iterator_free(it);
	free(local);
	free(glob);
	return found;
}

void history_release_patterns(git_repository *repo, const struct config *cfg,
			      struct strlist *pats)
{
	size_t i;

	if (cfg->release_refs_set) {
		for (i = 0; i < cfg->release_refs.n; i++)
			strlist_push(pats, cfg->release_refs.items[i]);
		return;
	}
	if (branch_exists(repo, "main") || !branch_exists(repo, "master"))
		strlist_push(pats, "refs/heads/main");
	else
		strlist_push(pats, "refs/heads/master");
	strlist_push(pats, "refs/tags/v*");
}

/* The pattern refname matches, or -1. A remote-tracking branch
 * (refs/remotes/REMOTE/NAME) matches what refs/heads/NAME would: it is
 * the server's copy of a release branch, so what it holds was pushed
 * there, and a CI checkout (a detached HEAD, no local main) has only it. */
static int pattern_index(const struct strlist *pats, const char *refname)
{
	const char *rest = NULL, *slash;
	char *as_branch = NULL;
	size_t i;
	int found = -1;

	if (starts_with(refname, "refs/remotes/") &&
	    (slash = strchr(refname + strlen("refs/remotes/"), '/')) && strcmp(slash + 1, "HEAD"))
		rest = slash + 1;
	if (rest)
		as_branch = xasprintf("refs/heads/%s", rest);
	for (i = 0; i < pats->n && found < 0; i++)
		if (!fnmatch(pats->items[i], refname, FNM_PATHNAME) ||
		    (as_branch && starts_with(pats->items[i], "refs/heads/") &&
		     !fnmatch(pats->items[i], as_branch, FNM_PATHNAME)))
			found = (int)i;
	free(as_branch);
	return found;
}

int history_is_release_ref(const struct strlist *pats, const char *refname)
{
	return pattern_index(pats, refname) >= 0;
}

static int cmp_ref(const void *a, const void *b)
{
	const struct history_ref *x = a, *y = b;

	int xt = starts_with(x->name, "refs/tags/"), yt = starts_with(y->name, "refs/tags/");

	if (x->time != y->time)
		return x->time < y->time ? -1 : 1;
	if (xt != yt)
		return xt ? -1 : 1; /* a tag names a release better than a branch */
	return strcmp(x->name, y->name);
}

int history_open(struct history *h, git_repository *repo, const struct config *cfg,
		 const char *prefix, const char *exclude)
{
	struct strlist pats = { NULL, 0, 0 };
	git_reference_iterator *it = NULL;
	git_reference *ref = NULL;
	size_t alloc = 0;
	int rc = -1, r;

	memset(h, 0, sizeof(*h));
	h->repo = repo;
	h->mdir = xasprintf("%s%s", prefix ? prefix : "", cfg->migrations_dir);
	history_release_patterns(repo, cfg, &pats);
	if (git_reference_iterator_new(&it, repo) < 0) {
		git_fail("cannot list the repository's refs");
		goto out;
	}
	while ((r = git_reference_next(&ref, it)) == 0) {
		const char *name = git_reference_name(ref);
		int pat = pattern_index(&pats, name);
		git_object *obj = NULL;
		git_commit *c = NULL;

		if (pat >= 0 && !(exclude && !strcmp(exclude, name)) &&
		    git_reference_peel(&obj, ref, GIT_OBJECT_COMMIT) == 0) {
			struct history_ref *x;

			c = (git_commit *)obj;
			ALLOC_GROW(h->refs, h->nrefs + 1, alloc);
			x = &h->refs[h->nrefs++];
			memset(x, 0, sizeof(*x));
			x->name = xstrdup(name);
			git_oid_cpy(&x->commit, git_commit_id(c));
			x->time = git_commit_time(c);
			x->pattern = pat;
		}
		git_object_free(obj);
		git_reference_free(ref);
		ref = NULL;
	}
	if (r != GIT_ITEROVER) {
		git_fail("cannot list the repository's refs");
		goto out;
	}
	if (h->nrefs)
		qsort(h->refs, h->nrefs, sizeof(*h->refs), cmp_ref);
	rc = 0;
out:
	git_reference_iterator_free(it);
	strlist_release(&pats);
	return rc;
}

void history_release(struct history *h)
{
	size_t i;

	if (!h)
		return;
	for (i = 0; i < h->nrefs; i++) {
		free(h->refs[i].name);
		snap_free(h->refs[i].snap);
	}
	free(h->refs);
	free(h->mdir);
	free(h->base_how);
	free(h->tip_ref);
	if (h->stat_cache) {
		git_index_free(h->stat_cache->index);
		free(h->stat_cache);
	}
	snap_free(h->base_snap);
	memset(h, 0, sizeof(*h));
}

void history_set_tip(struct history *h, const git_oid *tip)
{
	h->has_tip = tip != NULL;
	if (tip)
		git_oid_cpy(&h->tip, tip);
}

int history_set_base(struct history *h, const char *rev)
{
	git_object *obj = NULL, *c = NULL;
	int rc = -1;

	if (git_revparse_single(&obj, h->repo, rev) < 0) {
		cairn_error_set("cannot resolve --base '%s': %s", rev,
				git_error_last() ? git_error_last()->message : "unknown revision");
		goto out;
	}
	if (git_object_peel(&c, obj, GIT_OBJECT_COMMIT) < 0) {
		cairn_error_set("--base '%s' does not name a commit", rev);
		goto out;
	}
	h->has_base = 1;
	git_oid_cpy(&h->base, git_object_id(c));
	free(h->base_how);
	h->base_how = xasprintf("--base %s", rev);
	rc = 0;
out:
	git_object_free(c);
	git_object_free(obj);
	return rc;
}

/* The first release ref that exists: the lowest pattern, then the newest. */
static const struct history_ref *first_release_ref(const struct history *h)
{
	const struct history_ref *best = NULL;
	size_t i;

	for (i = 0; i < h->nrefs; i++) {
		const struct history_ref *r = &h->refs[i];

		/* on a tie, a local branch: the one the user works with */
		if (!best || r->pattern < best->pattern ||
		    (r->pattern == best->pattern &&
		     (r->time > best->time ||
		      (r->time == best->time &&
		       (!starts_with(r->name, "refs/remotes/") ||
			starts_with(best->name, "refs/remotes/"))))))
			best = r;
	}
	return best;
}

int history_default_base(struct history *h, int is_commit, const char *tip_name)
{
	const struct history_ref *r = first_release_ref(h);
	size_t i;

	/* on a release branch (release/1.x), what that branch holds is released */
	for (i = 0; h->tip_ref && i < h->nrefs; i++)
		if (!strcmp(h->refs[i].name, h->tip_ref))
			r = &h->refs[i];
	git_oid mb;
	int e;

	h->has_base = 0;
	free(h->base_how);
	h->base_how = NULL;
	if (!h->has_tip) {
		h->base_how = xasprintf("%s has no commit yet", tip_name);
		return 0;
	}
	if (!r) {
		h->base_how = xstrdup("no release ref exists yet");
		return 0;
	}
	e = git_merge_base(&mb, h->repo, &h->tip, &r->commit);
	if (e == GIT_ENOTFOUND) {
		h->base_how = xasprintf("%s shares no history with %s", tip_name, r->name);
		return 0;
	}
	if (e < 0)
		return git_fail("cannot compute a merge base");
	if (is_commit && git_oid_equal(&mb, &h->tip)) {
		git_commit *c = NULL;

		if (git_commit_lookup(&c, h->repo, &h->tip) < 0)
			return git_fail("cannot read a commit");
		if (git_commit_parentcount(c) == 0) {
			git_commit_free(c);
			h->base_how = xasprintf("%s is a root commit already in %s", tip_name, r->name);
			return 0;
		}
		git_oid_cpy(&h->base, git_commit_parent_id(c, 0));
		git_commit_free(c);
		h->has_base = 1;
		h->base_how = xasprintf("first parent of %s, which is already in %s", tip_name,
					r->name);
		return 0;
	}
	git_oid_cpy(&h->base, &mb);
	h->has_base = 1;
	h->base_how = xasprintf("merge base of %s and %s", tip_name, r->name);
	return 0;
}

/* Whether a fetch refspec's source covers pattern: the same string, or a
 * glob "PREFIX*" of which pattern is a part ("refs/heads/" + "*" covers
 * "refs/heads/release/" + "*"). */
static int refspec_covers(const char *src, const char *pattern)
{
	size_t n = strlen(src);

	if (!strcmp(src, pattern))
		return 1;
	/* one '*', the last character, and no other glob */
	return n && strchr(src, '*') == src + n - 1 && !strpbrk(src, "?[") &&
	       !strncmp(src, pattern, n - 1);
}

/* What the remotes' config says they fetch (remote.R.fetch, remote.R.tagopt),
 * read from the config itself: libgit2 1.5's git_remote_list and
 * git_remote_lookup match config entries against a regex and leak PCRE2's
 * match data on each entry that does not match. */
struct fetch_view {
	struct strlist srcs;      /* every fetch refspec's source */
	struct strlist all_heads; /* remotes fetching refs/heads/ + "*" */
	struct strlist no_tags;   /* remotes with tagopt --no-tags */
	int remotes;              /* remote.R.url entries */
};

static char *remote_of(const char *name, const char *var)
{
	size_t n = strlen(name), v = strlen(var);

	if (!starts_with(name, "remote.") || n <= 7 + v || strcmp(name + n - v, var))
		return NULL;
	return xstrndup(name + 7, n - 7 - v);
}

static void fetch_view_read(git_repository *repo, struct fetch_view *fv)
{
	git_config *cfg = NULL;
	git_config_iterator *it = NULL;
	git_config_entry *e;
	char *r;

	if (git_repository_config_snapshot(&cfg, repo) < 0 || git_config_iterator_new(&it, cfg) < 0)
		goto out;
	while (git_config_next(&e, it) == 0) {
		const char *v = e->value ? e->value : "";

		if ((r = remote_of(e->name, ".url")) != NULL) {
			fv->remotes++;
		} else if ((r = remote_of(e->name, ".fetch")) != NULL) {
			char *src = xstrndup(v + (*v == '+'), strcspn(v + (*v == '+'), ":"));

			strlist_push(&fv->srcs, src);
			if (!strcmp(src, "refs/heads/*"))
				strlist_push(&fv->all_heads, r);
			free(src);
		} else if ((r = remote_of(e->name, ".tagopt")) != NULL && !strcmp(v, "--no-tags")) {
			strlist_push(&fv->no_tags, r);
		}
		free(r);
	}
out:
	git_config_iterator_free(it);
	git_config_free(cfg);
}

/* Whether some remote's fetch settings could bring pattern's refs here. A
 * tag comes with an explicit refspec, or by git's auto-follow from a
 * remote that fetches every branch and whose tagopt is not --no-tags. */
static int view_fetches(const struct fetch_view *fv, const char *pattern)
{
	size_t i;

	for (i = 0; i < fv->srcs.n; i++)
		if (refspec_covers(fv->srcs.items[i], pattern))
			return 1;
	if (!starts_with(pattern, "refs/tags/"))
		return 0;
	for (i = 0; i < fv->all_heads.n; i++)
		if (!strlist_has(&fv->no_tags, fv->all_heads.items[i]))
			return 1;
	return 0;
}

const char *history_unfetched_pattern(git_repository *repo, const struct strlist *pats,
				      const char *remote, char **fix)
{
	struct fetch_view fv;
	const char *missing = NULL;
	size_t i;

	*fix = NULL;
	memset(&fv, 0, sizeof(fv));
	fetch_view_read(repo, &fv);
	for (i = 0; fv.remotes && i < pats->n && !missing; i++) {
		const char *p = pats->items[i];

		if ((starts_with(p, "refs/heads/") || starts_with(p, "refs/tags/")) &&
		    !view_fetches(&fv, p))
			missing = p;
	}
	if (missing && remote) {
		/* a branch pattern lands beside the remote's other branches */
		char *dst = starts_with(missing, "refs/heads/")
				    ? xasprintf("refs/remotes/%s/%s", remote,
						missing + strlen("refs/heads/"))
				    : xstrdup(missing);

		*fix = xasprintf("git config --add remote.%s.fetch '+%s:%s' && git fetch --tags %s",
				 remote, missing, dst, remote);
		free(dst);
	}
	strlist_release(&fv.srcs);
	strlist_release(&fv.all_heads);
	strlist_release(&fv.no_tags);
	return missing;
}
