#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <git2/sys/repository.h>

#include "../lib/error.h"
#include "../lib/util.h"
#include "source.h"

static int git_fail(const char *what)
{
	const git_error *e = git_error_last();

	cairn_error_set("%s: %s", what, e && e->message ? e->message : "libgit2 error");
	return -1;
}

static struct source *source_new(enum source_kind kind, git_repository *repo, const char *prefix)
{
	struct source *s = xcalloc(1, sizeof(*s));

	s->kind = kind;
	s->repo = repo;
	s->prefix = xstrdup(prefix ? prefix : "");
	return s;
}

/* core.sparseCheckout, which git sparse-checkout writes to config.worktree
 * when extensions.worktreeConfig is on: libgit2 1.5 does not read that
 * file, so it is read here too. */
static int sparse_checkout(git_repository *repo)
{
	git_config *cfg = NULL;
	char *wt;
	int on = 0;

	if (git_repository_config_snapshot(&cfg, repo) == 0 &&
	    git_config_get_bool(&on, cfg, "core.sparseCheckout") < 0)
		on = 0;
	git_config_free(cfg);
	cfg = NULL;
	wt = path_join(git_repository_path(repo), "config.worktree");
	if (!on && path_exists(wt) && git_config_open_ondisk(&cfg, wt) == 0 &&
	    git_config_get_bool(&on, cfg, "core.sparseCheckout") < 0)
		on = 0;
	git_config_free(cfg);
	free(wt);
	return on;
}

int source_open_worktree(struct source **out, const char *root, git_repository *repo,
			 const char *prefix, const char *index_path)
{
	struct source *s = source_new(SOURCE_WORKTREE, repo, prefix);
	char *own = NULL;

	s->root = xstrdup(root);
	s->label = xstrdup("work tree");
	s->index_path = index_path ? xstrdup(index_path) : NULL;
	/* in a sparse checkout, what is not checked out is as the index has
	 * it (git status says the same), not deleted */
	if (repo && sparse_checkout(repo)) {
		if (!index_path)
			index_path = own = path_join(git_repository_path(repo), "index");
		if (gitindex_load(&s->gix, repo, git_repository_path(repo), index_path,
				  s->prefix)) {
			cairn_error_set("cannot read the index of this sparse checkout ('%s'): %s",
					index_path, cairn_error_last());
			free(own);
			source_free(s);
			return -1;
		}
		free(own);
		s->gix_loaded = 1;
	}
	*out = s;
	return 0;
}

/* A work-tree path git keeps out of a sparse checkout: its index entry. */
static const struct index_entry *skipped_entry(const struct source *s, const char *path)
{
	const struct index_entry *ie;
	char *full;

	if (!s->gix.n)
		return NULL;
	full = xstrcat3(s->prefix, path, "");
	ie = source_index_get(s, full);
	free(full);
	return ie && ie->skip_worktree ? ie : NULL;
}

/* With core.ignorecase libgit2 orders and finds paths without case, so
 * it reads the index then, and whatever form cairn's reader does not know;
 * otherwise cairn reads it (project/gitindex.c). */
static int index_by_libgit2(struct source *s, git_repository *repo, const char *path)
{
	size_t i;

	if (git_index_open(&s->index, path) < 0)
		return git_fail("cannot read the git index");
	git_repository_set_index(repo, s->index);
	if (git_index_set_caps(s->index, GIT_INDEX_CAPABILITY_FROM_OWNER) < 0)
		return git_fail("cannot read the git index");
	s->gix.n = git_index_entrycount(s->index);
	s->gix.e = xcalloc(s->gix.n ? s->gix.n : 1, sizeof(*s->gix.e));
	for (i = 0; i < s->gix.n; i++) {
		const git_index_entry *ie = git_index_get_byindex(s->index, i);

		s->gix.e[i].path = ie->path;
		s->gix.e[i].mode = ie->mode;
		s->gix.e[i].stage = GIT_INDEX_ENTRY_STAGE(ie);
		s->gix.e[i].size = ie->file_size;
		git_oid_cpy(&s->gix.e[i].oid, &ie->id);
		s->gix.e[i].skip_worktree = (ie->flags_extended & GIT_INDEX_ENTRY_SKIP_WORKTREE) != 0;
	}
	return 0;
}

int source_open_index(struct source **out, git_repository *repo, const char *prefix,
		      const char *index_path)
{
	struct source *s = source_new(SOURCE_INDEX, repo, prefix);
	char *own = index_path ? NULL : path_join(git_repository_path(repo), "index");
	const char *path = index_path ? index_path : own;
	git_config *cfg = NULL;
	int r = 1, icase = 0;

	if (git_repository_config_snapshot(&cfg, repo) == 0 &&
	    git_config_get_bool(&icase, cfg, "core.ignorecase") < 0)
		icase = 0;
	git_config_free(cfg);
	if (!icase)
		r = gitindex_load(&s->gix, repo, git_repository_path(repo), path, s->prefix);
	if (r > 0) {
		gitindex_release(&s->gix);
		r = index_by_libgit2(s, repo, path);
	}
	free(own);
	if (r < 0) {
		source_free(s);
		return -1;
	}
	s->label = xstrdup("index");
	*out = s;
	return 0;
}

/* The first entry whose path is not below key (strcmp order, which is the
 * index's: paths compared as bytes). */
static size_t index_lower_bound(const struct source *s, const char *key)
{
	size_t lo = 0, hi = s->gix.n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(s->gix.e[mid].path, key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

const struct index_entry *source_index_get(const struct source *s, const char *path)
{
	size_t pos = index_lower_bound(s, path);

	if (pos < s->gix.n && !strcmp(s->gix.e[pos].path, path) && s->gix.e[pos].stage == 0)
		return &s->gix.e[pos];
	return NULL;
}

int source_open_commit(struct source **out, git_repository *repo, const char *prefix,
		       const char *rev)
{
	struct source *s = source_new(SOURCE_COMMIT, repo, prefix);
	git_object *obj = NULL;
	git_tree *top = NULL;
	char hex[GIT_OID_HEXSZ + 1];
	int rc = -1;

	if (git_revparse_single(&obj, repo, rev) < 0) {
		cairn_error_set("cannot resolve '%s' to a commit: %s", rev,
				git_error_last() ? git_error_last()->message : "unknown revision");
		goto out;
	}
	if (git_object_peel((git_object **)&s->commit, obj, GIT_OBJECT_COMMIT) < 0) {
		cairn_error_set("'%s' does not name a commit", rev);
		goto out;
	}
	if (git_commit_tree(&top, s->commit) < 0) {
		git_fail("cannot read the commit's tree");
		goto out;
	}
	if (*s->prefix) {
		git_tree_entry *te = NULL;
		char *p = xstrndup(s->prefix, strlen(s->prefix) - 1);
		int r = git_tree_entry_bypath(&te, top, p);

		free(p);
		if (r < 0 || git_tree_entry_type(te) != GIT_OBJECT_TREE) {
			git_tree_entry_free(te);
			cairn_error_set("commit '%s' has no directory '%s'", rev, s->prefix);
			goto out;
		}
		r = git_tree_lookup(&s->tree, repo, git_tree_entry_id(te));
		git_tree_entry_free(te);
		if (r < 0) {
			git_fail("cannot read a tree");
			goto out;
		}
	} else {
		s->tree = top;
		top = NULL;
	}
	git_oid_tostr(hex, 8, git_commit_id(s->commit));
	s->label = strcmp(rev, hex) ? xasprintf("commit %s (%s)", hex, rev)
				    : xasprintf("commit %s", hex);
	*out = s;
	s = NULL;
	rc = 0;
out:
	git_tree_free(top);
	git_object_free(obj);
	source_free(s);
	return rc;
}

void source_free(struct source *s)
{
	if (!s)
		return;
	git_tree_free(s->tree);
	git_commit_free(s->commit);
	git_index_free(s->index);
	gitindex_release(&s->gix);
	free(s->label);
	free(s->root);
	free(s->prefix);
	free(s->index_path);
	free(s);
}

void source_entries_free(struct source_entry *e, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(e[i].path);
		free(e[i].filter);
	}
	free(e);
}

struct entry_list {
	struct source_entry *items;
	size_t n, alloc;
};

static struct source_entry *entry_push(struct entry_list *l, char *path, enum entry_type type)
{
	struct source_entry *e;

	ALLOC_GROW(l->items, l->n + 1, l->alloc);
	e = &l->items[l->n++];
	memset(e, 0, sizeof(*e));
	e->path = path;
	e->type = type;
	e->size = -1;
	return e;
}

static int cmp_entry(const void *a, const void *b)
{
	return strcmp(((const struct source_entry *)a)->path, ((const struct source_entry *)b)->path);
}

static enum entry_type type_of_mode(unsigned int mode)
{
	switch (mode & 0170000) {
	case 0100000: return ENTRY_FILE;
	case 0120000: return ENTRY_SYMLINK;
	case 0160000: return ENTRY_SUBMODULE;
	case 0040000: return ENTRY_DIR;
	}
	return ENTRY_OTHER;
}

static int walk_fs(struct entry_list *l, const char *root, const char *rel)
{
	char *abs = path_join(root, rel);
	DIR *d = opendir(abs);
	struct dirent *de;
	int rc = -1;

	if (!d) {
		if (errno == ENOENT) {
			rc = 0;
		} else {
			cairn_error_set("cannot read directory '%s': %s", abs, strerror(errno));
		}
		free(abs);
		return rc;
	}
	while ((de = readdir(d))) {
		char *child_rel, *child_abs;
		struct stat st;
		struct source_entry *e;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		child_rel = xasprintf("%s/%s", rel, de->d_name);
		child_abs = path_join(root, child_rel);
		if (lstat(child_abs, &st) < 0) {
			cairn_error_set("cannot stat '%s': %s", child_abs, strerror(errno));
			free(child_abs);
			free(child_rel);
			goto out;
		}
		free(child_abs);
		if (S_ISDIR(st.st_mode)) {
			entry_push(l, child_rel, ENTRY_DIR);
			if (walk_fs(l, root, child_rel) < 0)
				goto out;
		} else {
			e = entry_push(l, child_rel, S_ISREG(st.st_mode) ? ENTRY_FILE :
						     S_ISLNK(st.st_mode) ? ENTRY_SYMLINK : ENTRY_OTHER);
			e->size = st.st_size;
		}
	}
	rc = 0;
out:
	closedir(d);
	free(abs);
	return rc;
}

struct tree_walk_ctx {
	struct entry_list *l;
	const char *dir_slash; /* "migrations/" */
};

static int tree_cb(const char *root, const git_tree_entry *te, void *payload)
{
	struct tree_walk_ctx *c = payload;
	enum entry_type t = type_of_mode(git_tree_entry_filemode(te));
	struct source_entry *e;

	if (t == ENTRY_DIR)
		return 0;
	e = entry_push(c->l, xstrcat3(c->dir_slash, root, git_tree_entry_name(te)), t);
	git_oid_cpy(&e->oid, git_tree_entry_id(te));
	e->has_oid = 1;
	return 0;
}

/* The entries below dir a sparse checkout left out of the work tree. */
static int add_skipped(struct source *s, struct entry_list *l, const char *dir)
{
	char *full = xstrcat3(s->prefix, dir, "/");
	size_t plen = strlen(s->prefix), flen = strlen(full), pos;

	for (pos = s->gix.n ? index_lower_bound(s, full) : 0; pos < s->gix.n; pos++) {
		const struct index_entry *ie = &s->gix.e[pos];
		struct source_entry *e;
		struct stat st;
		char *abs;
		int there;

		if (strncmp(ie->path, full, flen))
			break;
		if (!ie->skip_worktree || ie->stage)
			continue;
		abs = path_join(s->root, ie->path + plen);
		there = lstat(abs, &st) == 0;
		free(abs);
		if (there)
			continue; /* on disk after all: the file is what counts */
		e = entry_push(l, xstrdup(ie->path + plen), type_of_mode(ie->mode));
		git_oid_cpy(&e->oid, &ie->oid);
		e->has_oid = 1;
	}
	free(full);
	return 0;
}

/* 1 when the work tree's index tracks path (prefix included); an index
 * cairn cannot read counts every path as tracked (nothing is flagged). */
static int worktree_tracks(struct source *s, const char *path)
{
	if (!s->gix_loaded) {
		char *own = s->index_path ? NULL : path_join(git_repository_path(s->repo), "index");

		s->gix_loaded = gitindex_load(&s->gix, s->repo, git_repository_path(s->repo),
					      s->index_path ? s->index_path : own, s->prefix) ? -1 : 1;
		free(own);
	}
	return s->gix_loaded < 0 || source_index_get(s, path) != NULL;
}

/* Whether the n bytes at a spell key (SECTION.SUBSECTION.VAR): the
 * section and the variable compare without case, the subsection with it. */
static int config_key_is(const char *a, size_t n, const char *key)
{
	const char *dot1 = strchr(key, '.'), *dot2 = strrchr(key, '.');
	size_t s = (size_t)(dot1 - key), v = (size_t)(dot2 - key);

	return n == strlen(key) && !strncasecmp(a, key, s) && !strncmp(a + s, dot1, v - s) &&
	       !strncasecmp(a + v, dot2, n - v);
}

/* 1 when git's command-line config (GIT_CONFIG_PARAMETERS, which 'git -c
 * KEY=VALUE' sets for everything it runs, or GIT_CONFIG_KEY_<n> below
 * GIT_CONFIG_COUNT) names key. libgit2 1.5 reads neither; a mention is
 * enough to count the filter as set. */
static int env_config_names(const char *key)
{
	const char *p = getenv("GIT_CONFIG_PARAMETERS"), *count = getenv("GIT_CONFIG_COUNT");
	long i, n = count ? strtol(count, NULL, 10) : 0;

	/* each entry is 'KEY'='VALUE', or 'KEY=VALUE' before git 2.31 */
	while (p && (p = strchr(p, '\'')) != NULL) {
		size_t len = strcspn(p + 1, "'=");

		if (config_key_is(p + 1, len, key))
			return 1;
		p += 1 + len;
		if (*p == '\'')
			p++;
	}
	for (i = 0; i < n && i < 1000; i++) {
		char var[32];
		const char *k;

		if ((size_t)snprintf(var, sizeof(var), "GIT_CONFIG_KEY_%ld", i) >= sizeof(var))
			break;
		k = getenv(var);
		if (k && config_key_is(k, strlen(k), key))
			return 1;
	}
	return 0;
}

/* The filter driver of path when .gitattributes names one ('filter=X')
 * that the config gives a clean or process command: git runs it on 'git
 * add', libgit2 does not, so hashing the work-tree file would not give
 * the blob git commits. NULL otherwise. */
static char *clean_filter(git_repository *repo, git_config *cfg, const char *path)
{
	static const char *const kinds[] = { "clean", "process" };
	const char *val = NULL;
	char *name = NULL;
	size_t i;

	if (!cfg || git_attr_get(&val, repo, GIT_ATTR_CHECK_FILE_THEN_INDEX, path, "filter") < 0 ||
	    git_attr_value(val) != GIT_ATTR_VALUE_STRING)
		return NULL;
	for (i = 0; i < 2 && !name; i++) {
		git_buf cmd = { NULL, 0, 0 };
		char *key = xasprintf("filter.%s.%s", val, kinds[i]);

		if ((git_config_get_string_buf(&cmd, cfg, key) == 0 && cmd.size) ||
		    env_config_names(key))
			name = xstrdup(val);
		free(key);
		git_buf_dispose(&cmd);
	}
	return name;
}

/* What git does with each work-tree file when it adds it, which the
 * work tree check must see too: a file git ignores and does not track is
 * left out ('git add -A' and 'git commit -a' leave it out: a down.sql
 * ignored by a pattern passed plain check, and no commit held it); a file
 * under a clean filter is named (its blob is the filter's output). */
static int mark_git_view(struct source *s, struct entry_list *l)
{
	git_config *cfg = NULL;
	size_t i;
	int rc = 0;

	if (s->repo && git_repository_config_snapshot(&cfg, s->repo) < 0)
		cfg = NULL;
	for (i = 0; s->repo && i < l->n && !rc; i++) {
		struct source_entry *e = &l->items[i];
		char *full;
		int ign = 0;

		if (e->type == ENTRY_DIR || e->has_oid) /* has_oid: a sparse checkout's, tracked */
			continue;
		full = xstrcat3(s->prefix, e->path, "");
		if (git_ignore_path_is_ignored(&ign, s->repo, full) < 0)
			rc = git_fail("cannot read git's ignore rules");
		else if (ign && !worktree_tracks(s, full))
			e->ignored = 1;
		else if (e->type == ENTRY_FILE)
			e->filter = clean_filter(s->repo, cfg, full);
		free(full);
	}
	git_config_free(cfg);
	return rc;
}

int source_walk(struct source *s, const char *dir, struct source_entry **out, size_t *n)
{
	struct entry_list l = { NULL, 0, 0 };
	size_t i;
	int rc = -1;

	*out = NULL;
	*n = 0;
	switch (s->kind) {
	case SOURCE_WORKTREE:
		if (walk_fs(&l, s->root, dir) < 0 || add_skipped(s, &l, dir) < 0 ||
		    mark_git_view(s, &l) < 0)
			goto out;
		break;
	case SOURCE_INDEX: {
		char *full = xstrcat3(s->prefix, dir, "/");
		size_t plen = strlen(s->prefix), flen = strlen(full), pos;

		/* entries are sorted by path: from the first under dir */
		for (pos = index_lower_bound(s, full); pos < s->gix.n; pos++) {
			const struct index_entry *ie = &s->gix.e[pos];
			struct source_entry *e;

			if (strncmp(ie->path, full, flen))
				break;
			if (ie->stage != 0) {
				/* an unresolved merge: report the path once, as "other" */
				if (l.n && !strcmp(l.items[l.n - 1].path, ie->path + plen))
					continue;
			}
			e = entry_push(&l, xstrdup(ie->path + plen), type_of_mode(ie->mode));
			git_oid_cpy(&e->oid, &ie->oid);
			e->has_oid = 1;
			e->size = ie->size;
			if (ie->stage != 0)
				e->type = ENTRY_OTHER;
		}
		free(full);
		break;
	}
	case SOURCE_COMMIT: {
		git_tree_entry *te = NULL;
		git_tree *sub = NULL;
		char *dir_slash = xstrcat3(dir, "/", "");
		struct tree_walk_ctx c = { &l, dir_slash };
		int r = git_tree_entry_bypath(&te, s->tree, dir);

		if (r == 0 && git_tree_entry_type(te) == GIT_OBJECT_TREE) {
			r = git_tree_lookup(&sub, s->repo, git_tree_entry_id(te));
			if (r < 0)
				git_fail("cannot read the tree");
			else if ((r = git_tree_walk(sub, GIT_TREEWALK_PRE, tree_cb, &c)) < 0)
				git_fail("cannot walk the tree");
		} else if (r < 0 && r != GIT_ENOTFOUND) {
			git_fail("cannot read the tree");
		} else {
			r = 0;
		}
		git_tree_entry_free(te);
		git_tree_free(sub);
		free(dir_slash);
		if (r < 0)
			goto out;
		break;
	}
	}
	/* the index is sorted already; git's tree order differs from strcmp's
	 * only where a name continues with a byte below '/' */
	for (i = 1; i < l.n && cmp_entry(&l.items[i - 1], &l.items[i]) < 0; i++)
		;
	if (i < l.n)
		qsort(l.items, l.n, sizeof(*l.items), cmp_entry);
	*out = l.items;
	*n = l.n;
	l.items = NULL;
	l.n = 0;
	rc = 0;
out:
	source_entries_free(l.items, l.n);
	return rc;
}

static int read_blob(struct source *s, const git_oid *oid, const char *path, size_t cap,
		     struct buf *out)
{
	git_odb *odb = NULL;
	git_odb_object *obj = NULL;
	size_t len;
	git_object_t type;
	int rc = -1;

	if (git_repository_odb(&odb, s->repo) < 0)
		return git_fail("cannot open the object database");
	/* the header first, so an oversized blob is refused unread */
	if (git_odb_read_header(&len, &type, odb, oid) < 0) {
		git_fail(path);
		goto out;
	}
	if (cap && len > cap) {
		cairn_error_set("'%s' is %zu bytes, over the limit of %zu", path, len, cap);
		goto out;
	}
	if (git_odb_read(&obj, odb, oid) < 0) {
		git_fail(path);
		goto out;
	}
	if (buf_put(out, git_odb_object_data(obj), git_odb_object_size(obj)) < 0)
		goto out;
	rc = 0;
out:
	git_odb_object_free(obj);
	git_odb_free(odb);
	return rc;
}

int source_read(struct source *s, const char *path, size_t cap, struct buf *out)
{
	int rc;

	switch (s->kind) {
	case SOURCE_WORKTREE: {
		char *abs = path_join(s->root, path);
		struct stat st;

		if (lstat(abs, &st) < 0 && errno == ENOENT) {
			const struct index_entry *ie = skipped_entry(s, path);

			free(abs);
			return ie ? read_blob(s, &ie->oid, path, cap, out) : 1;
		}
		rc = read_file(abs, cap, out);
		free(abs);
		return rc;
	}
	case SOURCE_INDEX: {
		char *full = xstrcat3(s->prefix, path, "");
		const struct index_entry *ie = source_index_get(s, full);

		free(full);
		if (!ie)
			return 1;
		return read_blob(s, &ie->oid, path, cap, out);
	}
	case SOURCE_COMMIT: {
		git_tree_entry *te = NULL;

		if (git_tree_entry_bypath(&te, s->tree, path) < 0)
			return 1;
		if (git_tree_entry_type(te) != GIT_OBJECT_BLOB) {
			git_tree_entry_free(te);
			cairn_error_set("'%s' is not a file in %s", path, s->label);
			return -1;
		}
		rc = read_blob(s, git_tree_entry_id(te), path, cap, out);
		git_tree_entry_free(te);
		return rc;
	}
	}
	return -1;
}
