/* Rules against git history, and provenance. See history.h; the design
 * (what counts as released, which base, why ids and not contents) is in
 * docs/design.md, "History rules". */
#include <ctype.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/evp.h>

#include "../lib/error.h"
#include "../lib/util.h"
#include "history.h"

/* The index's stat data, to take a work-tree file's blob id from the index
 * when the file is unchanged since it was staged (git's stat cache), rather
 * than reading and hashing every file. */
struct stat_cache {
	git_index *index;
	time_t index_mtime;
};

/* One migration directory as a commit holds it. */
struct snap_ent {
	const char *name;  /* points into the snapshot's tree */
	char *version;
	git_oid oid;       /* the directory's tree id */
};

struct history_snap {
	git_tree *tree;    /* migrations/ of the commit; NULL when it has none */
	struct snap_ent *e; /* sorted by name (strcmp) */
	size_t n;
	git_oid commit;
};

static int git_fail(const char *what)
{
	const git_error *e = git_error_last();

	cairn_error_set("%s: %s", what, e && e->message ? e->message : "libgit2 error");
	return -1;
}

static void short_id(char out[13], const git_oid *id)
{
	git_oid_tostr(out, 13, id);
}

/* The version of a migration directory name, or NULL when it is not one. */
static char *dir_version(const char *name)
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

static void snap_free(struct history_snap *s)
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
static int commit_subtree_id(git_repository *repo, const git_commit *c, const char *path,
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

static int snap_load(struct history *h, const git_oid *commit, struct history_snap **out)
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

static const struct snap_ent *snap_find(const struct history_snap *s, const char *name)
{
	struct snap_ent key;

	if (!s || !s->n)
		return NULL;
	key.name = name;
	return bsearch(&key, s->e, s->n, sizeof(*s->e), cmp_snap_ent);
}

static const struct snap_ent *snap_find_version(const struct history_snap *s, const char *v,
						const char *except)
{
	size_t i;

	for (i = 0; s && i < s->n; i++)
		if (!version_cmp(s->e[i].version, v) && strcmp(s->e[i].name, except))
			return &s->e[i];
	return NULL;
}

static const struct snap_ent *snap_max(const struct history_snap *s)
{
	const struct snap_ent *best = NULL;
	size_t i;

	for (i = 0; s && i < s->n; i++)
		if (!best || version_cmp(s->e[i].version, best->version) > 0)
			best = &s->e[i];
	return best;
}

/* ---- release refs and the base ---- */

void history_release_patterns(git_repository *repo, const struct config *cfg,
			      struct strlist *pats)
{
	size_t i;
	git_oid id;

	if (cfg->release_refs_set) {
		for (i = 0; i < cfg->release_refs.n; i++)
			strlist_push(pats, cfg->release_refs.items[i]);
		return;
	}
	if (git_reference_name_to_id(&id, repo, "refs/heads/main") == 0 ||
	    git_reference_name_to_id(&id, repo, "refs/heads/master") < 0)
		strlist_push(pats, "refs/heads/main");
	else
		strlist_push(pats, "refs/heads/master");
	strlist_push(pats, "refs/tags/v*");
}

static int pattern_index(const struct strlist *pats, const char *refname)
{
	size_t i;

	for (i = 0; i < pats->n; i++)
		if (!fnmatch(pats->items[i], refname, FNM_PATHNAME))
			return (int)i;
	return -1;
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

		if (!best || r->pattern < best->pattern ||
		    (r->pattern == best->pattern && r->time >= best->time))
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

static int cmp_tree_entries(const git_tree_entry *a, const git_tree_entry *b);

/* ---- tree ids of a migration as the checked source holds it ---- */

struct tent {
	const char *name;
	size_t len;
	unsigned mode;
	git_oid oid;
};

/* git's tree order: a subtree sorts as if its name ended in '/'. */
static int cmp_tent(const void *a, const void *b)
{
	const struct tent *x = a, *y = b;
	size_t n = x->len < y->len ? x->len : y->len;
	int c = memcmp(x->name, y->name, n);
	unsigned char cx, cy;

	if (c)
		return c;
	cx = x->len > n ? (unsigned char)x->name[n] : x->mode == 040000 ? '/' : 0;
	cy = y->len > n ? (unsigned char)y->name[n] : y->mode == 040000 ? '/' : 0;
	return cx < cy ? -1 : cx > cy;
}

static int cmp_file_name(const void *a, const void *b)
{
	return strcmp((*(struct mig_file *const *)a)->name, (*(struct mig_file *const *)b)->name);
}

/* A git object id: SHA-1 of "TYPE LEN\0" and the bytes. git_odb_hash uses
 * the collision-detecting SHA-1, several times slower, and a check hashes
 * one tree per migration (10,000 on the bench repository); these trees are
 * made of blob ids that git already hashed, so detection adds nothing. */
static int hash_tree(git_oid *out, const void *data, size_t len)
{
	/* fetched once: an EVP lookup costs more than hashing a small tree */
	static EVP_MD *sha1;
	static EVP_MD_CTX *ctx;
	char hdr[32] = "tree ", *d = hdr + sizeof(hdr);
	size_t v = len;

	/* "tree LEN\0", the length in decimal, written backwards */
	*--d = '\0';
	do
		*--d = (char)('0' + v % 10);
	while ((v /= 10));
	d -= 5;
	memcpy(d, "tree ", 5);
	if (!sha1 && !(sha1 = EVP_MD_fetch(NULL, "SHA1", NULL)))
		return git_odb_hash(out, data, len, GIT_OBJECT_TREE);
	if (!ctx && !(ctx = EVP_MD_CTX_new()))
		return git_odb_hash(out, data, len, GIT_OBJECT_TREE);
	if (!EVP_DigestInit_ex(ctx, sha1, NULL) ||
	    !EVP_DigestUpdate(ctx, d, (size_t)(hdr + sizeof(hdr) - d)) ||
	    !EVP_DigestUpdate(ctx, data, len) || !EVP_DigestFinal_ex(ctx, out->id, NULL))
		return git_odb_hash(out, data, len, GIT_OBJECT_TREE);
	return 0;
}

/* files[0..n) share the first off bytes of their names (a directory) and
 * are sorted by name; builds that directory's tree id. */
static int build_tree(struct mig_file **files, size_t n, size_t off, git_oid *out)
{
	struct tent *t = xcalloc(n ? n : 1, sizeof(*t));
	char *d = NULL;
	size_t i = 0, nt = 0, k, len = 0, used = 0;
	int rc = -1;

	while (i < n) {
		const char *rest = files[i]->name + off;
		const char *slash = strchr(rest, '/');

		if (!slash) {
			if (!files[i]->has_oid)
				goto out;
			t[nt].name = rest;
			t[nt].len = strlen(rest);
			t[nt].mode = files[i]->type == ENTRY_SYMLINK ? 0120000 : 0100644;
			git_oid_cpy(&t[nt].oid, &files[i]->oid);
			nt++;
			i++;
			continue;
		}
		/* a subdirectory: every following name with the same component */
		{
			size_t clen = (size_t)(slash - rest), j = i;

			while (j < n && !strncmp(files[j]->name + off, rest, clen + 1))
				j++;
			t[nt].name = rest;
			t[nt].len = clen;
			t[nt].mode = 040000;
			if (build_tree(files + i, j - i, off + clen + 1, &t[nt].oid) < 0)
				goto out;
			nt++;
			i = j;
		}
	}
	qsort(t, nt, sizeof(*t), cmp_tent);
	/* sized first and filled with memcpy: one tree per migration */
	for (k = 0; k < nt; k++)
		len += 8 + t[k].len + GIT_OID_RAWSZ;
	d = xmalloc(len ? len : 1);
	for (k = 0; k < nt; k++) {
		const char *mode = t[k].mode == 040000 ? "40000 " :
				   t[k].mode == 0120000 ? "120000 " : "100644 ";
		size_t ml = strlen(mode);

		memcpy(d + used, mode, ml);
		memcpy(d + used + ml, t[k].name, t[k].len);
		d[used + ml + t[k].len] = '\0';
		memcpy(d + used + ml + t[k].len + 1, t[k].oid.id, GIT_OID_RAWSZ);
		used += ml + t[k].len + 1 + GIT_OID_RAWSZ;
	}
	if (hash_tree(out, d, used) < 0) {
		git_fail("cannot hash a tree");
		goto out;
	}
	rc = 0;
out:
	free(d);
	free(t);
	return rc;
}

/* 1 and *out when the index entry for rel describes the file st as it is:
 * same size, inode and modification time, and modified before the index
 * was written (else it may have changed within the index's timestamp
 * granularity: git's "racy" case, which is hashed). */
static int stat_cached(const struct stat_cache *sc, const char *rel, const struct stat *st,
		       git_oid *out)
{
	const git_index_entry *e;

	if (!sc || !sc->index || !S_ISREG(st->st_mode))
		return 0;
	e = git_index_get_bypath(sc->index, rel, 0);
	if (!e || e->file_size != (uint32_t)st->st_size || e->ino != (uint32_t)st->st_ino ||
	    e->mtime.seconds != (int32_t)st->st_mtim.tv_sec ||
	    e->mtime.nanoseconds != (uint32_t)st->st_mtim.tv_nsec ||
	    st->st_mtim.tv_sec >= sc->index_mtime)
		return 0;
	git_oid_cpy(out, &e->id);
	return 1;
}

/* Work-tree files have no blob id until hashed (with the repository's
 * filters, as git add would store them), or found unchanged in the index. */
static int fill_blob_ids(git_repository *repo, const char *prefix, struct migration *m,
			 const struct stat_cache *sc)
{
	size_t i;

	for (i = 0; i < m->nfiles; i++) {
		struct mig_file *mf = &m->files[i];
		struct stat st;
		char *rel;
		int r = 0;

		if (mf->has_oid || mf->type != ENTRY_FILE || !repo)
			continue;
		rel = xasprintf("%s%s", prefix, mf->path);
		if (sc && sc->index && git_repository_workdir(repo)) {
			char *abs = path_join(git_repository_workdir(repo), rel);

			if (lstat(abs, &st) == 0 && stat_cached(sc, rel, &st, &mf->oid))
				r = 1;
			free(abs);
		}
		if (!r)
			r = git_repository_hashfile(&mf->oid, repo, rel, GIT_OBJECT_BLOB, NULL) < 0 ? -1 : 1;
		free(rel);
		if (r < 0)
			return git_fail(mf->path);
		mf->has_oid = 1;
	}
	return 0;
}

static int tree_id(git_repository *repo, const char *prefix, struct migration *m,
		   const struct stat_cache *sc, git_oid *out)
{
	struct mig_file **files;
	size_t i;
	int rc;

	if (fill_blob_ids(repo, prefix ? prefix : "", m, sc) < 0)
		return -1;
	files = xcalloc(m->nfiles ? m->nfiles : 1, sizeof(*files));
	for (i = 0; i < m->nfiles; i++)
		files[i] = &m->files[i];
	qsort(files, m->nfiles, sizeof(*files), cmp_file_name);
	rc = build_tree(files, m->nfiles, 0, out);
	free(files);
	return rc;
}

int history_migration_tree_id(git_repository *repo, const char *prefix, struct migration *m,
			      git_oid *out)
{
	return tree_id(repo, prefix, m, NULL, out);
}

/* ---- comparing a checked migration with a released tree ---- */

struct blob_list {
	char **names;
	git_oid *ids;
	size_t n, alloc;
};

static int blob_cb(const char *root, const git_tree_entry *te, void *payload)
{
	struct blob_list *l = payload;
	size_t a = l->alloc;

	if (git_tree_entry_type(te) == GIT_OBJECT_TREE)
		return 0;
	ALLOC_GROW(l->names, l->n + 1, l->alloc);
	if (l->alloc != a)
		l->ids = xrealloc(l->ids, l->alloc * sizeof(*l->ids));
	l->names[l->n] = xasprintf("%s%s", root, git_tree_entry_name(te));
	git_oid_cpy(&l->ids[l->n], git_tree_entry_id(te));
	l->n++;
	return 0;
}

static void blob_list_release(struct blob_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->names[i]);
	free(l->names);
	free(l->ids);
}

/* 1 when m holds the same files with the same contents as the released
 * tree (modes are ignored: an executable bit changes no SQL); 0 with what
 * differs in diff; -1 on error. */
static int same_content(struct history *h, const char *prefix, const git_tree *mtree,
			struct migration *m, const git_oid *released, struct buf *diff)
{
	struct blob_list l = { NULL, NULL, 0, 0 };
	git_tree *t = NULL;
	git_oid mine;
	size_t i, j;
	int rc = -1, nd = 0;

	/* a commit records the directory's tree id: equal ids, same files */
	if (mtree) {
		const git_tree_entry *te = git_tree_entry_byname(mtree, m->dir);

		if (te && git_oid_equal(git_tree_entry_id(te), released))
			return 1;
	}
	if (tree_id(h->repo, prefix, m, h->stat_cache, &mine) == 0 &&
	    git_oid_equal(&mine, released))
		return 1;
	if (git_tree_lookup(&t, h->repo, released) < 0)
		return git_fail("cannot read a released migration's tree");
	if (git_tree_walk(t, GIT_TREEWALK_PRE, blob_cb, &l) < 0) {
		git_fail("cannot walk a released migration's tree");
		goto out;
	}
	for (i = 0; i < m->nfiles; i++) {
		struct mig_file *mf = &m->files[i];

		for (j = 0; j < l.n && (!l.names[j] || strcmp(l.names[j], mf->name)); j++)
			;
		if (j == l.n) {
			buf_printf(diff, "%s%s added", nd++ ? ", " : "", mf->name);
		} else {
			if (!mf->has_oid || !git_oid_equal(&mf->oid, &l.ids[j]))
				buf_printf(diff, "%s%s changed", nd++ ? ", " : "", mf->name);
			free(l.names[j]);
			l.names[j] = NULL;
		}
	}
	for (j = 0; j < l.n; j++)
		if (l.names[j])
			buf_printf(diff, "%s%s removed", nd++ ? ", " : "", l.names[j]);
	rc = nd ? 0 : 1;
out:
	blob_list_release(&l);
	git_tree_free(t);
	return rc;
}

/* ---- who released it ---- */

/* The oldest commit on the first-parent line from start that still has
 * the migration directory name: where it entered that line. */
static int entered_line(struct history *h, const git_oid *start, const char *name,
			git_oid *out)
{
	git_commit *c = NULL;
	git_tree *mt = NULL;
	git_oid mtid, cur;
	int have_mt = 0, rc = -1;

	git_oid_cpy(&cur, start);
	git_oid_cpy(out, start);
	for (;;) {
		git_oid id;
		int r;

		if (git_commit_lookup(&c, h->repo, &cur) < 0) {
			git_fail("cannot read a commit");
			goto out;
		}
		r = commit_subtree_id(h->repo, c, h->mdir, &id);
		if (r < 0)
			goto out;
		if (r > 0)
			break;
		if (!have_mt || !git_oid_equal(&id, &mtid)) {
			git_tree_free(mt);
			mt = NULL;
			if (git_tree_lookup(&mt, h->repo, &id) < 0) {
				git_fail("cannot read a tree");
				goto out;
			}
			git_oid_cpy(&mtid, &id);
			have_mt = 1;
		}
		if (!git_tree_entry_byname(mt, name))
			break;
		git_oid_cpy(out, &cur);
		if (git_commit_parentcount(c) == 0)
			break;
		git_oid_cpy(&cur, git_commit_parent_id(c, 0));
		git_commit_free(c);
		c = NULL;
	}
	rc = 0;
out:
	git_commit_free(c);
	git_tree_free(mt);
	return rc;
}

/* 1 when release ref r's migrations/ holds a migration directory that the
 * base's lacks; both trees are in git's order, so one merge walk over them
 * answers without building a snapshot. */
static int ref_has_extra(struct history *h, const struct history_ref *r)
{
	const struct history_snap *B = h->base_snap;
	git_commit *c = NULL;
	git_tree *t = NULL;
	git_oid mt;
	size_t a, b = 0, na, nb;
	int rc = -1, r2;

	if (git_commit_lookup(&c, h->repo, &r->commit) < 0)
		return git_fail("cannot read a commit");
	r2 = commit_subtree_id(h->repo, c, h->mdir, &mt);
	if (r2 != 0) {
		rc = r2 < 0 ? -1 : 0;
		goto out;
	}
	if (B && B->tree && git_oid_equal(&mt, git_tree_id(B->tree))) {
		rc = 0;
		goto out;
	}
	if (git_tree_lookup(&t, h->repo, &mt) < 0) {
		git_fail("cannot read a tree");
		goto out;
	}
	na = git_tree_entrycount(t);
	nb = B && B->tree ? git_tree_entrycount(B->tree) : 0;
	rc = 0;
	for (a = 0; a < na && !rc; a++) {
		const git_tree_entry *ea = git_tree_entry_byindex(t, a);
		int cmp = 1;
		char *v;

		if (git_tree_entry_type(ea) != GIT_OBJECT_TREE)
			continue;
		while (b < nb && (cmp = cmp_tree_entries(git_tree_entry_byindex(B->tree, b), ea)) < 0)
			b++;
		if (b < nb && cmp == 0)
			continue;
		v = dir_version(git_tree_entry_name(ea));
		rc = v != NULL;
		free(v);
	}
out:
	git_tree_free(t);
	git_commit_free(c);
	return rc;
}

static int ref_snap(struct history *h, struct history_ref *r, struct history_snap **out)
{
	if (!r->snap && snap_load(h, &r->commit, &r->snap) < 0)
		return -1;
	*out = r->snap;
	return 0;
}

/* "refs/tags/v1.0 (commit 1a2b3c4d5e6f)": the oldest release ref holding
 * name, and the commit where the migration entered it; else the base. */
static int released_where(struct history *h, const char *name, struct buf *out)
{
	char hex[13];
	git_oid at;
	size_t i;

	for (i = 0; i < h->nrefs; i++) {
		struct history_snap *s;

		if (ref_snap(h, &h->refs[i], &s) < 0)
			return -1;
		if (!snap_find(s, name))
			continue;
		if (entered_line(h, &h->refs[i].commit, name, &at) < 0)
			return -1;
		short_id(hex, &at);
		return buf_printf(out, "%s (commit %s)", h->refs[i].name, hex);
	}
	if (entered_line(h, &h->base, name, &at) < 0)
		return -1;
	short_id(hex, &at);
	return buf_printf(out, "the base, %s (commit %s)", h->base_how ? h->base_how : "--base", hex);
}

/* ---- the rules ---- */

struct mref {
	struct migration *m;
	size_t i; /* index in p->migs */
};

static int cmp_mref(const void *a, const void *b)
{
	return strcmp(((const struct mref *)a)->m->dir, ((const struct mref *)b)->m->dir);
}

static const struct mref *find_mig(const struct mref *byname, size_t n, const char *name)
{
	struct migration key;
	struct mref k;

	if (!n)
		return NULL;
	key.dir = (char *)name;
	k.m = &key;
	k.i = 0;
	return bsearch(&k, byname, n, sizeof(*byname), cmp_mref);
}

/* A version for a migration that must move: above every one seen. */
static char *suggest_version(const struct project *p, const char *above)
{
	if (p->cfg.style == STYLE_TIMESTAMP) {
		char now[16];
		time_t t = time(NULL);
		struct tm tm;

		gmtime_r(&t, &tm);
		strftime(now, sizeof(now), "%Y%m%d%H%M%S", &tm);
		if (version_cmp(now, above) > 0)
			return xstrdup(now);
	}
	{
		/* one more than above, keeping its width */
		char *v = xstrdup(above);
		size_t i = strlen(v);

		while (i > 0) {
			if (v[i - 1] < '9') {
				v[i - 1]++;
				return v;
			}
			v[--i] = '0';
		}
		free(v);
		return xasprintf("1%s", above);
	}
}

/* cairn.yaml is the same blob in the base and the checked source. */
static int config_same_as_base(struct history *h, struct project *p, const char *prefix)
{
	git_commit *c = NULL;
	git_tree *root = NULL;
	git_tree_entry *te = NULL;
	git_oid mine;
	char *path = xasprintf("%s%s", prefix, CONFIG_FILE);
	int same = 0;

	switch (p->src->kind) {
	case SOURCE_COMMIT: {
		git_tree_entry *e2 = NULL;

		if (git_tree_entry_bypath(&e2, p->src->tree, CONFIG_FILE) < 0)
			goto out;
		git_oid_cpy(&mine, git_tree_entry_id(e2));
		git_tree_entry_free(e2);
		break;
	}
	case SOURCE_INDEX: {
		const struct index_entry *ie = source_index_get(p->src, path);

		if (!ie)
			goto out;
		git_oid_cpy(&mine, &ie->oid);
		break;
	}
	case SOURCE_WORKTREE:
		if (git_repository_hashfile(&mine, h->repo, path, GIT_OBJECT_BLOB, NULL) < 0)
			goto out;
		break;
	}
	if (git_commit_lookup(&c, h->repo, &h->base) < 0 || git_commit_tree(&root, c) < 0 ||
	    git_tree_entry_bypath(&te, root, path) < 0)
		goto out;
	same = git_oid_equal(&mine, git_tree_entry_id(te));
out:
	git_tree_entry_free(te);
	git_tree_free(root);
	git_commit_free(c);
	free(path);
	return same;
}

/* Release refs that hold migrations the base does not and that the checked
 * tree cannot have seen: they moved on since the branch point. */
static int diverged(struct history *h, const struct history_ref *r)
{
	if (h->has_base && (git_oid_equal(&r->commit, &h->base) ||
			    git_graph_descendant_of(h->repo, &h->base, &r->commit) == 1))
		return 0;
	if (h->has_tip && (git_oid_equal(&r->commit, &h->tip) ||
			   git_graph_descendant_of(h->repo, &r->commit, &h->tip) == 1))
		return 0;
	return 1;
}

/* The state of one history_check run. */
struct hcheck {
	struct history *h;
	struct project *p;
	struct findings *f;
	const char *prefix, *mdir;
	struct mref *byname;      /* p->migs sorted by directory name */
	unsigned char *state;     /* per p->migs: 1 in the base, 2 renamed from it, 4 released elsewhere */
	struct history_snap *B;   /* the base's migrations; NULL without a base */
	git_tree *mtree;          /* migrations/ of the checked commit (SOURCE_COMMIT), else NULL */
	struct history_snap **moved; /* per release ref: its migrations when it moved on, else NULL */
	const struct snap_ent *bmax;
	char base_hex[13];
	struct buf where, diff;
};

/* Every released migration of the base that is still there is unchanged. */
static int check_kept(struct hcheck *x, int skip_same)
{
	size_t k;

	for (k = 0; x->B && k < x->B->n; k++) {
		const struct snap_ent *b = &x->B->e[k];
		const struct mref *mr = find_mig(x->byname, x->p->n, b->name);
		struct migration *m;
		int r;

		if (!mr)
			continue;
		m = mr->m;
		x->state[mr->i] |= 1;
		buf_reset(&x->diff);
		r = same_content(x->h, x->prefix, x->mtree, m, &b->oid, &x->diff);
		if (r < 0)
			return -1;
		if (r) {
			m->same_as_base = skip_same;
			continue;
		}
		buf_reset(&x->where);
		if (released_where(x->h, b->name, &x->where) < 0)
			return -1;
		findings_add(x->f, SEV_ERROR, m->path, 0, 0, "released-edited",
			     "migration '%s' was released in %s and must not change (%s); restore it with 'git checkout %s -- %s%s' and put the change in a new migration ('cairn new NAME')",
			     m->dir, x->where.ptr, x->diff.ptr, x->base_hex, x->prefix, m->path);
	}
	return 0;
}

/* A released migration of the base that is gone was renamed (a new one
 * has its version or its exact contents) or deleted. */
static int check_gone(struct hcheck *x)
{
	struct project *p = x->p;
	size_t i, k;

	for (k = 0; x->B && k < x->B->n; k++) {
		const struct snap_ent *b = &x->B->e[k];
		struct migration *to = NULL;
		size_t to_i = 0;
		char *bpath;

		if (find_mig(x->byname, p->n, b->name))
			continue;
		for (i = 0; i < p->n && !to; i++) {
			struct migration *m = p->migs[i];
			git_oid id;

			if (x->state[i] & 3)
				continue;
			if (!version_cmp(m->version, b->version) ||
			    (tree_id(x->h->repo, x->prefix, m, x->h->stat_cache, &id) == 0 &&
			     git_oid_equal(&id, &b->oid))) {
				to = m;
				to_i = i;
			}
		}
		buf_reset(&x->where);
		if (released_where(x->h, b->name, &x->where) < 0)
			return -1;
		bpath = xasprintf("%s/%s", x->mdir, b->name);
		if (to) {
			x->state[to_i] |= 2;
			findings_add(x->f, SEV_ERROR, bpath, 0, 0, "released-renamed",
				     "migration '%s' was released in %s and must not be renamed (now '%s'): databases know it by its name; rename it back with 'git mv %s%s %s%s'",
				     b->name, x->where.ptr, to->dir, x->prefix, to->path, x->prefix, bpath);
		} else {
			findings_add(x->f, SEV_ERROR, bpath, 0, 0, "released-deleted",
				     "migration '%s' was released in %s and must not be deleted: databases have applied it; restore it with 'git checkout %s -- %s%s', and undo its effect with a new migration",
				     b->name, x->where.ptr, x->base_hex, x->prefix, bpath);
		}
		free(bpath);
	}
	return 0;
}

/* Loads the release refs that moved on since the base (x->moved). */
static int load_moved_on(struct hcheck *x)
{
	struct history *h = x->h;
	git_time_t base_time = 0;
	size_t k;

	if (h->has_base) {
		git_commit *bc = NULL;

		if (git_commit_lookup(&bc, h->repo, &h->base) < 0)
			return git_fail("cannot read the base commit");
		base_time = git_commit_time(bc);
		git_commit_free(bc);
	}
	for (k = 0; k < h->nrefs; k++) {
		int extra;

		/* a tag does not move: one on a commit older than the base
		 * either is in the base's history or was a release of a line
		 * the base left (a maintenance release), judged when it was
		 * pushed; reading it again would cost a tree per tag */
		if (starts_with(h->refs[k].name, "refs/tags/") && h->has_base &&
		    h->refs[k].time < base_time)
			continue;
		/* only a ref holding migrations the base lacks can add a rule;
		 * the (costly) ancestry test runs for those alone */
		extra = ref_has_extra(h, &h->refs[k]);
		if (extra < 0)
			return -1;
		if (!extra || !diverged(h, &h->refs[k]))
			continue;
		if (ref_snap(h, &h->refs[k], &x->moved[k]) < 0)
			return -1;
	}
	return 0;
}

/* "REF (commit 1a2b3c4d5e6f)": where name entered release ref r. */
static int where_in_ref(struct hcheck *x, const struct history_ref *r, const char *name)
{
	git_oid at;
	char hex[13];

	if (entered_line(x->h, &r->commit, name, &at) < 0)
		return -1;
	short_id(hex, &at);
	return buf_printf(&x->where, "%s (commit %s)", r->name, hex);
}

/* A migration the base lacks: identical where a ref that moved on holds it
 * too (a squash or cherry-pick of this branch), no version released
 * elsewhere, and above every released one. */
static int check_new(struct hcheck *x, struct migration *m, size_t i)
{
	struct history *h = x->h;
	const struct snap_ent *hit, *above = NULL;
	const struct history_ref *hit_ref = NULL, *above_ref = NULL;
	size_t k;
	char *nv;

	for (k = 0; k < h->nrefs; k++) {
		const struct snap_ent *e = x->moved[k] ? snap_find(x->moved[k], m->dir) : NULL;
		int r;

		if (!e)
			continue;
		buf_reset(&x->diff);
		r = same_content(h, x->prefix, x->mtree, m, &e->oid, &x->diff);
		if (r < 0)
			return -1;
		x->state[i] |= 4;
		if (r)
			return 0;
		buf_reset(&x->where);
		if (where_in_ref(x, &h->refs[k], m->dir) < 0)
			return -1;
		findings_add(x->f, SEV_ERROR, m->path, 0, 0, "released-edited",
			     "migration '%s' was released in %s and must not change (%s); restore it with 'git checkout %s -- %s%s' and put the change in a new migration ('cairn new NAME')",
			     m->dir, x->where.ptr, x->diff.ptr, h->refs[k].name, x->prefix, m->path);
		return 0;
	}
	hit = snap_find_version(x->B, m->version, m->dir);
	for (k = 0; !hit && k < h->nrefs; k++)
		if (x->moved[k] && (hit = snap_find_version(x->moved[k], m->version, m->dir)))
			hit_ref = &h->refs[k];
	if (hit) {
		buf_reset(&x->where);
		if (hit_ref ? where_in_ref(x, hit_ref, hit->name) < 0
			    : released_where(h, hit->name, &x->where) < 0)
			return -1;
		nv = suggest_version(x->p, hit_ref || !x->bmax ? hit->version : x->bmax->version);
		findings_add(x->f, SEV_ERROR, m->path, 0, 0, "version-collision",
			     "new migration '%s' uses version %s, which '%s' already has in %s: two branches added the same version; give this one a new version with 'git mv %s%s %s%s/%s_%s'",
			     m->dir, m->version, hit->name, x->where.ptr, x->prefix, m->path,
			     x->prefix, x->mdir, nv, m->slug);
		free(nv);
		return 0;
	}
	/* append-only */
	if (x->bmax && version_cmp(m->version, x->bmax->version) < 0)
		above = x->bmax;
	for (k = 0; k < h->nrefs; k++) {
		const struct snap_ent *e = x->moved[k] ? snap_max(x->moved[k]) : NULL;

		if (e && version_cmp(m->version, e->version) < 0 &&
		    (!above || version_cmp(e->version, above->version) > 0)) {
			above = e;
			above_ref = &h->refs[k];
		}
	}
	if (!above)
		return 0;
	buf_reset(&x->where);
	if (above_ref)
		buf_printf(&x->where, "%s", above_ref->name);
	else if (released_where(h, above->name, &x->where) < 0)
		return -1;
	if (x->p->cfg.ordering == ORDER_ALLOW_OUT_OF_ORDER) {
		findings_add(x->f, SEV_WARNING, m->path, 0, 0, "out-of-order",
			     "new migration '%s' (version %s) is older than '%s' (version %s) in %s: databases that ran that one will apply this one out of order (ordering: allow-out-of-order)",
			     m->dir, m->version, above->name, above->version, x->where.ptr);
		return 0;
	}
	nv = suggest_version(x->p, above->version);
	findings_add(x->f, SEV_ERROR, m->path, 0, 0, "out-of-order",
		     "new migration '%s' (version %s) is not above '%s' (version %s) in %s: databases that ran that one would skip this one; give it a later version with 'git mv %s%s %s%s/%s_%s', or set ordering: allow-out-of-order in %s",
		     m->dir, m->version, above->name, above->version, x->where.ptr, x->prefix,
		     m->path, x->prefix, x->mdir, nv, m->slug, CONFIG_FILE);
	free(nv);
	return 0;
}

int history_check(struct history *h, struct project *p, struct findings *f)
{
	struct hcheck x;
	size_t i;
	int rc = -1;

	memset(&x, 0, sizeof(x));
	x.h = h;
	x.p = p;
	x.f = f;
	x.prefix = p->src->prefix ? p->src->prefix : "";
	x.mdir = p->cfg.migrations_dir;
	x.byname = xcalloc(p->n ? p->n : 1, sizeof(*x.byname));
	x.state = xcalloc(p->n ? p->n : 1, 1);
	x.moved = xcalloc(h->nrefs ? h->nrefs : 1, sizeof(*x.moved));
	for (i = 0; i < p->n; i++) {
		x.byname[i].m = p->migs[i];
		x.byname[i].i = i;
	}
	qsort(x.byname, p->n, sizeof(*x.byname), cmp_mref);
	if (p->src->kind == SOURCE_WORKTREE && !h->stat_cache && h->repo &&
	    git_repository_workdir(h->repo)) {
		struct stat_cache *sc = xcalloc(1, sizeof(*sc));
		char *ipath = path_join(git_repository_path(h->repo), "index");
		struct stat st;

		if (stat(ipath, &st) == 0 && git_repository_index(&sc->index, h->repo) == 0)
			sc->index_mtime = st.st_mtim.tv_sec;
		free(ipath);
		h->stat_cache = sc;
	}
	if (p->src->kind == SOURCE_COMMIT) {
		git_tree_entry *te = NULL;

		if (git_tree_entry_bypath(&te, p->src->tree, x.mdir) == 0 &&
		    git_tree_entry_type(te) == GIT_OBJECT_TREE &&
		    git_tree_lookup(&x.mtree, h->repo, git_tree_entry_id(te)) < 0)
			x.mtree = NULL; /* only a shortcut: the ids are computed instead */
		git_tree_entry_free(te);
	}
	if (h->has_base) {
		if (!h->base_snap && snap_load(h, &h->base, &h->base_snap) < 0)
			goto out;
		x.B = h->base_snap;
		short_id(x.base_hex, &x.B->commit);
	}
	x.bmax = snap_max(x.B);
	if (check_kept(&x, h->skip_same && x.B && config_same_as_base(h, p, x.prefix)) < 0 ||
	    check_gone(&x) < 0 || load_moved_on(&x) < 0)
		goto out;
	for (i = 0; i < p->n; i++)
		if (!(x.state[i] & 3) && check_new(&x, p->migs[i], i) < 0)
			goto out;
	rc = 0;
out:
	buf_release(&x.where);
	buf_release(&x.diff);
	free(x.byname);
	free(x.state);
	free(x.moved);
	git_tree_free(x.mtree);
	return rc;
}

int history_check_deletion(struct history *h, const char *refname, const git_oid *old,
			   struct findings *f)
{
	struct history_snap *s = NULL;
	struct buf names = BUF_INIT;
	size_t i, k, lost = 0;
	int rc = -1;

	if (snap_load(h, old, &s) < 0)
		return -1;
	for (i = 0; i < s->n; i++) {
		int kept = 0;

		for (k = 0; k < h->nrefs && !kept; k++) {
			struct history_snap *o;
			const struct snap_ent *e;

			if (ref_snap(h, &h->refs[k], &o) < 0)
				goto out;
			e = snap_find(o, s->e[i].name);
			kept = e && git_oid_equal(&e->oid, &s->e[i].oid);
		}
		if (kept)
			continue;
		if (lost < 5)
			buf_printf(&names, "%s'%s'", lost ? ", " : "", s->e[i].name);
		lost++;
	}
	if (lost)
		findings_add(f, SEV_ERROR, refname, 0, 0, "release-ref-deleted",
			     "deleting release ref %s would lose the only release of %zu migration%s (%s%s): keep the ref, or first push a release ref that holds them",
			     refname, lost, lost == 1 ? "" : "s", names.ptr, lost > 5 ? ", ..." : "");
	rc = 0;
out:
	buf_release(&names);
	snap_free(s);
	return rc;
}

/* ---- provenance ---- */

struct pending {
	const char *name;
	struct migration *m;
};

static int cmp_pending(const void *a, const void *b)
{
	return strcmp(((const struct pending *)a)->name, ((const struct pending *)b)->name);
}

static int fill_prov(struct migration *m, const git_commit *c)
{
	const git_signature *a = git_commit_author(c);
	char date[32];
	time_t t = (time_t)a->when.time;
	struct tm tm;

	if (!gmtime_r(&t, &tm) || !strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", &tm))
		return -1;
	free(m->prov_commit);
	free(m->prov_author);
	free(m->prov_date);
	m->prov_commit = xstrdup(git_oid_tostr_s(git_commit_id(c)));
	m->prov_author = xasprintf("%s <%s>", a->name ? a->name : "", a->email ? a->email : "");
	m->prov_date = xstrdup(date);
	return 0;
}

/* git's tree order for two entry names, directories as if ending in '/' */
static int cmp_tree_entries(const git_tree_entry *a, const git_tree_entry *b)
{
	struct tent x, y;

	x.name = git_tree_entry_name(a);
	x.len = strlen(x.name);
	x.mode = git_tree_entry_type(a) == GIT_OBJECT_TREE ? 040000 : 0100644;
	y.name = git_tree_entry_name(b);
	y.len = strlen(y.name);
	y.mode = git_tree_entry_type(b) == GIT_OBJECT_TREE ? 040000 : 0100644;
	return cmp_tent(&x, &y);
}

static void found(struct pending *pend, size_t np, size_t *left, const char *name,
		  const git_commit *c)
{
	struct pending key, *hit;

	key.name = name;
	hit = bsearch(&key, pend, np, sizeof(*pend), cmp_pending);
	if (!hit || !hit->m || hit->m->prov_commit)
		return;
	if (fill_prov(hit->m, c) == 0)
		(*left)--;
}

/* Raw tree objects for the provenance walk: comparing a commit's
 * migrations/ with its parent's, the bytes are identical but for the few
 * entries the commit changed, so only the entries outside the common prefix
 * and suffix are parsed and compared. */
struct raw_cache {
	git_odb *odb;
	git_odb_object *o[2];
	int next;
};

static git_odb_object *raw_get(struct raw_cache *c, const git_oid *id)
{
	int i;

	for (i = 0; i < 2; i++)
		if (c->o[i] && git_oid_equal(git_odb_object_id(c->o[i]), id))
			return c->o[i];
	git_odb_object_free(c->o[c->next]);
	c->o[c->next] = NULL;
	if (git_odb_read(&c->o[c->next], c->odb, id) < 0)
		return NULL;
	if (git_odb_object_type(c->o[c->next]) != GIT_OBJECT_TREE) {
		git_odb_object_free(c->o[c->next]);
		c->o[c->next] = NULL;
		cairn_error_set("object %s is not a tree", git_oid_tostr_s(id));
		return NULL;
	}
	i = c->next;
	c->next ^= 1;
	return c->o[i];
}

struct rent {
	const char *name; /* NUL-terminated inside the raw tree */
	size_t len;
	size_t dist;      /* distance of the entry's start from the end of the tree */
	int is_tree, in_suffix, same;
};

struct rlist {
	struct rent *e;
	size_t n, alloc;
};

/* The entries of a raw tree that are not wholly inside its first pre bytes;
 * in_suffix marks those starting in its last suf bytes. */
static int raw_entries(const unsigned char *d, size_t len, size_t pre, size_t suf,
		       struct rlist *out)
{
	size_t o = 0;

	out->n = 0;
	while (o < len) {
		const unsigned char *sp = memchr(d + o, ' ', len - o), *nul;
		size_t e;
		struct rent *r;

		if (!sp)
			goto bad;
		nul = memchr(sp + 1, '\0', len - (size_t)(sp + 1 - d));
		if (!nul)
			goto bad;
		e = (size_t)(nul - d) + 1 + GIT_OID_RAWSZ;
		if (e > len)
			goto bad;
		if (e <= pre) {
			o = e;
			continue;
		}
		ALLOC_GROW(out->e, out->n + 1, out->alloc);
		r = &out->e[out->n++];
		r->name = (const char *)sp + 1;
		r->len = (size_t)(nul - sp - 1);
		r->dist = len - o;
		r->is_tree = sp - (d + o) == 5 && !memcmp(d + o, "40000", 5);
		r->in_suffix = o >= len - suf;
		r->same = 0;
		o = e;
	}
	return 0;
bad:
	cairn_error_set("a malformed tree object in the history");
	return -1;
}

static int rent_cmp(const struct rent *x, const struct rent *y)
{
	struct tent a, b;

	a.name = x->name;
	a.len = x->len;
	a.mode = x->is_tree ? 040000 : 0100644;
	b.name = y->name;
	b.len = y->len;
	b.mode = y->is_tree ? 040000 : 0100644;
	return cmp_tent(&a, &b);
}

/* Calls add(name) for every directory in mine that theirs (NULL: none)
 * lacks. */
static int raw_added(git_odb_object *mine, git_odb_object *theirs, struct rlist *lm,
		     struct rlist *lt, void (*add)(const char *name, void *ctx), void *ctx)
{
	const unsigned char *a = git_odb_object_data(mine);
	const unsigned char *b = theirs ? git_odb_object_data(theirs) : NULL;
	size_t la = git_odb_object_size(mine), lb = theirs ? git_odb_object_size(theirs) : 0;
	size_t pre = 0, suf = 0, i, j;

	while (pre < la && pre < lb && a[pre] == b[pre])
		pre++;
	while (suf < la - pre && suf < lb - pre && a[la - 1 - suf] == b[lb - 1 - suf])
		suf++;
	if (raw_entries(a, la, pre, suf, lm) < 0 ||
	    (b && raw_entries(b, lb, pre, suf, lt) < 0))
		return -1;
	if (!b)
		lt->n = 0;
	/* entries starting at the same distance from the end, inside the
	 * identical suffix, are the same entry in both */
	for (i = 0, j = 0; i < lm->n && j < lt->n;) {
		struct rent *x = &lm->e[i], *y = &lt->e[j];

		if (!x->in_suffix) {
			i++;
		} else if (!y->in_suffix) {
			j++;
		} else if (x->dist == y->dist) {
			x->same = y->same = 1;
			i++;
			j++;
		} else if (x->dist > y->dist) {
			i++;
		} else {
			j++;
		}
	}
	/* the rest of both are in git's order: merge them */
	for (i = 0, j = 0; i < lm->n; i++) {
		struct rent *x = &lm->e[i];
		int cmp = 1;

		if (x->same || !x->is_tree)
			continue;
		while (j < lt->n && (lt->e[j].same || (cmp = rent_cmp(&lt->e[j], x)) < 0))
			j++;
		if (j < lt->n && cmp == 0 && lt->e[j].is_tree)
			continue;
		add(x->name, ctx);
	}
	return 0;
}

struct added_ctx {
	git_repository *repo;
	const git_commit *c;
	const char *mdir;
	struct pending *pend;
	size_t np, *left;
	int err;
};

/* A directory the first parent lacks: introduced here unless another
 * parent of a merge has it. */
static void added_one(const char *name, void *vctx)
{
	struct added_ctx *x = vctx;
	unsigned j, np = git_commit_parentcount(x->c);

	for (j = 1; j < np; j++) {
		git_commit *parent = NULL;
		git_tree *pt2 = NULL;
		git_oid id2;
		int ph, has = 0;

		if (git_commit_parent(&parent, x->c, j) < 0) {
			x->err = git_fail("cannot read a parent commit");
			return;
		}
		ph = commit_subtree_id(x->repo, parent, x->mdir, &id2);
		if (ph == 0 && git_tree_lookup(&pt2, x->repo, &id2) == 0)
			has = git_tree_entry_byname(pt2, name) != NULL;
		git_tree_free(pt2);
		git_commit_free(parent);
		if (ph < 0) {
			x->err = -1;
			return;
		}
		if (has)
			return;
	}
	found(x->pend, x->np, x->left, name, x->c);
}

/* The commits reachable from the tip, newest (committer time) first, each
 * read once: a max-heap of commits to visit and a hash set of those seen. */
struct cwalk {
	git_commit **heap;
	size_t n, alloc;
	git_oid *seen;
	unsigned char *used;
	size_t cap, count;
};

static size_t oid_hash(const git_oid *id, size_t cap)
{
	size_t h;

	memcpy(&h, id->id, sizeof(h));
	return h & (cap - 1);
}

/* 1 when id was not seen before (and is now) */
static int walk_see(struct cwalk *w, const git_oid *id)
{
	size_t i;

	if ((w->count + 1) * 2 > w->cap) {
		struct cwalk old = *w;
		size_t k;

		w->cap = w->cap ? w->cap * 2 : 1024;
		w->seen = xcalloc(w->cap, sizeof(*w->seen));
		w->used = xcalloc(w->cap, 1);
		w->count = 0;
		for (k = 0; k < old.cap; k++)
			if (old.used[k])
				walk_see(w, &old.seen[k]);
		free(old.seen);
		free(old.used);
	}
	for (i = oid_hash(id, w->cap); w->used[i]; i = (i + 1) & (w->cap - 1))
		if (git_oid_equal(&w->seen[i], id))
			return 0;
	w->used[i] = 1;
	git_oid_cpy(&w->seen[i], id);
	w->count++;
	return 1;
}

static int walk_newer(const git_commit *a, const git_commit *b)
{
	return git_commit_time(a) > git_commit_time(b);
}

static void walk_push(struct cwalk *w, git_commit *c)
{
	size_t i;

	ALLOC_GROW(w->heap, w->n + 1, w->alloc);
	i = w->n++;
	while (i > 0 && walk_newer(c, w->heap[(i - 1) / 2])) {
		w->heap[i] = w->heap[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	w->heap[i] = c;
}

static git_commit *walk_pop(struct cwalk *w)
{
	git_commit *top, *last;
	size_t i = 0;

	if (!w->n)
		return NULL;
	top = w->heap[0];
	last = w->heap[--w->n];
	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= w->n)
			break;
		if (c + 1 < w->n && walk_newer(w->heap[c + 1], w->heap[c]))
			c++;
		if (!walk_newer(w->heap[c], last))
			break;
		w->heap[i] = w->heap[c];
		i = c;
	}
	if (w->n)
		w->heap[i] = last;
	return top;
}

static void walk_release(struct cwalk *w)
{
	size_t i;

	for (i = 0; i < w->n; i++)
		git_commit_free(w->heap[i]);
	free(w->heap);
	free(w->seen);
	free(w->used);
}

/* Queues the parents of c not seen yet. */
static int walk_parents(struct cwalk *w, git_repository *repo, const git_commit *c)
{
	unsigned j, np = git_commit_parentcount(c);

	for (j = 0; j < np; j++) {
		const git_oid *pid = git_commit_parent_id(c, j);
		git_commit *pc = NULL;

		if (!walk_see(w, pid))
			continue;
		if (git_commit_lookup(&pc, repo, pid) < 0)
			return git_fail("cannot read a commit");
		walk_push(w, pc);
	}
	return 0;
}

int history_provenance(struct project *p, git_repository *repo, const git_oid *tip)
{
	const char *prefix = p->src && p->src->prefix ? p->src->prefix : "";
	char *mdir = xasprintf("%s%s", prefix, p->cfg.migrations_dir);
	struct pending *pend = xcalloc(p->n ? p->n : 1, sizeof(*pend));
	struct raw_cache raw = { NULL, { NULL, NULL }, 0 };
	struct rlist lm = { NULL, 0, 0 }, lt = { NULL, 0, 0 };
	struct cwalk w;
	git_commit *c = NULL, *parent = NULL;
	git_oid id;
	size_t i, left = p->n;
	int rc = -1, r;

	memset(&w, 0, sizeof(w));
	for (i = 0; i < p->n; i++) {
		pend[i].name = p->migs[i]->dir;
		pend[i].m = p->migs[i];
		free(p->migs[i]->prov_commit);
		p->migs[i]->prov_commit = NULL;
	}
	qsort(pend, p->n, sizeof(*pend), cmp_pending);
	if (!tip || !left) {
		rc = 0;
		goto out;
	}
	/* only what the tip holds has an introducing commit to find */
	if (git_commit_lookup(&c, repo, tip) < 0) {
		git_fail("cannot read a commit");
		goto out;
	}
	r = commit_subtree_id(repo, c, mdir, &id);
	if (r < 0)
		goto out;
	{
		git_tree *t = NULL;

		if (r == 0 && git_tree_lookup(&t, repo, &id) < 0) {
			git_fail("cannot read a tree");
			goto out;
		}
		for (i = 0; i < p->n; i++) {
			const git_tree_entry *te = t ? git_tree_entry_byname(t, pend[i].name) : NULL;

			if (!te || git_tree_entry_type(te) != GIT_OBJECT_TREE) {
				pend[i].m = NULL;
				left--;
			}
		}
		git_tree_free(t);
	}
	if (git_repository_odb(&raw.odb, repo) < 0) {
		git_fail("cannot open the object database");
		goto out;
	}
	walk_see(&w, tip);
	walk_push(&w, c);
	c = NULL;
	while (left) {
		git_oid mt, pt;
		git_odb_object *mine, *theirs;
		unsigned np, j;
		int have;

		git_commit_free(c);
		c = walk_pop(&w);
		if (!c)
			break;
		if (walk_parents(&w, repo, c) < 0)
			goto out;
		have = commit_subtree_id(repo, c, mdir, &mt);
		if (have < 0)
			goto out;
		if (have > 0)
			continue; /* no migrations here: nothing introduced */
		np = git_commit_parentcount(c);
		/* the first parent's migrations/, unless a parent has the same one */
		{
			int same = 0, first_have = 1;

			for (j = 0; j < np && !same; j++) {
				int ph;

				git_commit_free(parent);
				parent = NULL;
				if (git_commit_parent(&parent, c, j) < 0) {
					git_fail("cannot read a parent commit");
					goto out;
				}
				ph = commit_subtree_id(repo, parent, mdir, j == 0 ? &pt : &id);
				if (ph < 0)
					goto out;
				if (j == 0)
					first_have = ph == 0;
				if (ph == 0 && git_oid_equal(j == 0 ? &pt : &id, &mt))
					same = 1;
			}
			if (same)
				continue;
			mine = raw_get(&raw, &mt);
			theirs = NULL;
			if (mine && np && first_have) {
				theirs = raw_get(&raw, &pt);
				/* the cache may have dropped mine to load theirs */
				mine = theirs ? raw_get(&raw, &mt) : NULL;
			}
			if (!mine || (np && first_have && !theirs)) {
				if (!strstr(cairn_error_last(), "tree"))
					git_fail("cannot read a tree");
				goto out;
			}
		}
		{
			struct added_ctx x = { repo, c, mdir, pend, p->n, &left, 0 };

			if (raw_added(mine, theirs, &lm, &lt, added_one, &x) < 0 || x.err)
				goto out;
		}
	}
	rc = 0;
out:
	git_commit_free(c);
	git_commit_free(parent);
	git_odb_object_free(raw.o[0]);
	git_odb_object_free(raw.o[1]);
	git_odb_free(raw.odb);
	free(lm.e);
	free(lt.e);
	walk_release(&w);
	free(pend);
	free(mdir);
	return rc;
}
