#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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

int source_open_worktree(struct source **out, const char *root, git_repository *repo,
			 const char *prefix)
{
	struct source *s = source_new(SOURCE_WORKTREE, repo, prefix);

	s->root = xstrdup(root);
	s->label = xstrdup("work tree");
	*out = s;
	return 0;
}

int source_open_index(struct source **out, git_repository *repo, const char *prefix)
{
	struct source *s = source_new(SOURCE_INDEX, repo, prefix);

	if (git_repository_index(&s->index, repo) < 0) {
		source_free(s);
		return git_fail("cannot read the git index");
	}
	s->label = xstrdup("index");
	*out = s;
	return 0;
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
	free(s->label);
	free(s->root);
	free(s->prefix);
	free(s);
}

void source_entries_free(struct source_entry *e, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(e[i].path);
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
	const char *dir;
};

static int tree_cb(const char *root, const git_tree_entry *te, void *payload)
{
	struct tree_walk_ctx *c = payload;
	enum entry_type t = type_of_mode(git_tree_entry_filemode(te));
	struct source_entry *e;

	if (t == ENTRY_DIR)
		return 0;
	e = entry_push(c->l, xasprintf("%s/%s%s", c->dir, root, git_tree_entry_name(te)), t);
	git_oid_cpy(&e->oid, git_tree_entry_id(te));
	e->has_oid = 1;
	return 0;
}

int source_walk(struct source *s, const char *dir, struct source_entry **out, size_t *n)
{
	struct entry_list l = { NULL, 0, 0 };
	int rc = -1;

	*out = NULL;
	*n = 0;
	switch (s->kind) {
	case SOURCE_WORKTREE:
		if (walk_fs(&l, s->root, dir) < 0)
			goto out;
		break;
	case SOURCE_INDEX: {
		char *full = xasprintf("%s%s/", s->prefix, dir);
		size_t plen = strlen(s->prefix), flen = strlen(full), pos = 0;
		size_t count = git_index_entrycount(s->index);

		/* entries are sorted by path: find the first under dir */
		if (git_index_find_prefix(&pos, s->index, full) < 0) {
			free(full);
			break;
		}
		for (; pos < count; pos++) {
			const git_index_entry *ie = git_index_get_byindex(s->index, pos);
			struct source_entry *e;

			if (strncmp(ie->path, full, flen))
				break;
			if (GIT_INDEX_ENTRY_STAGE(ie) != 0) {
				/* an unresolved merge: report the path once, as "other" */
				if (l.n && !strcmp(l.items[l.n - 1].path, ie->path + plen))
					continue;
			}
			e = entry_push(&l, xstrdup(ie->path + plen), type_of_mode(ie->mode));
			git_oid_cpy(&e->oid, &ie->id);
			e->has_oid = 1;
			e->size = ie->file_size;
			if (GIT_INDEX_ENTRY_STAGE(ie) != 0)
				e->type = ENTRY_OTHER;
		}
		free(full);
		break;
	}
	case SOURCE_COMMIT: {
		git_tree_entry *te = NULL;
		git_tree *sub = NULL;
		struct tree_walk_ctx c = { &l, dir };
		int r = git_tree_entry_bypath(&te, s->tree, dir);

		if (r == GIT_ENOTFOUND)
			break;
		if (r < 0) {
			git_fail("cannot read the tree");
			goto out;
		}
		if (git_tree_entry_type(te) != GIT_OBJECT_TREE) {
			git_tree_entry_free(te);
			break;
		}
		r = git_tree_lookup(&sub, s->repo, git_tree_entry_id(te));
		git_tree_entry_free(te);
		if (r < 0) {
			git_fail("cannot read the tree");
			goto out;
		}
		r = git_tree_walk(sub, GIT_TREEWALK_PRE, tree_cb, &c);
		git_tree_free(sub);
		if (r < 0) {
			git_fail("cannot walk the tree");
			goto out;
		}
		break;
	}
	}
	if (l.n)
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
			free(abs);
			return 1;
		}
		rc = read_file(abs, cap, out);
		free(abs);
		return rc;
	}
	case SOURCE_INDEX: {
		char *full = xasprintf("%s%s", s->prefix, path);
		const git_index_entry *ie = git_index_get_bypath(s->index, full, 0);

		free(full);
		if (!ie)
			return 1;
		return read_blob(s, &ie->id, path, cap, out);
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
