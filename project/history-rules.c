/* The history rules: released migrations are never edited, renamed or
 * deleted, new ones come after every released one, two branches never add
 * the same version. See history.h and docs/design.md, "History rules". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../lib/callbacks.h"
#include "../lib/error.h"
#include "../lib/util.h"
#include "history.h"
#include "history-int.h"

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
 * base's lacks, or callbacks other than the base's; both trees are in
 * git's order, so one merge walk over them answers without building a
 * snapshot. */
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
		/* callbacks the base does not hold as they are there (ops20e) */
		if (!strcmp(git_tree_entry_name(ea), CALLBACK_DIR)) {
			rc = !(b < nb && cmp == 0 &&
			       git_oid_equal(git_tree_entry_id(ea),
					     git_tree_entry_id(git_tree_entry_byindex(B->tree, b))));
			continue;
		}
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

/* ---- the callbacks (ops20d) ---- */

/* The blob id of callback mf as the checked source holds it: git's, or
 * the work tree's file hashed as git add would (its filters). */
static int callback_oid(struct hcheck *x, const struct mig_file *mf, git_oid *out)
{
	char *path;
	int rc;

	if (mf->has_oid) {
		*out = mf->oid;
		return 0;
	}
	path = xasprintf("%s%s", x->prefix, mf->path);
	rc = git_repository_hashfile(out, x->h->repo, path, GIT_OBJECT_BLOB, NULL);
	free(path);
	return rc < 0 ? git_fail("hashing a callback") : 0;
}

/* The callbacks/ tree of a snapshot's migrations/ tree (NULL: none). */
static int callbacks_tree(struct hcheck *x, const struct history_snap *s, git_tree **out)
{
	git_tree_entry *te = NULL;
	int rc = 0;

	*out = NULL;
	if (s && s->tree && git_tree_entry_bypath(&te, s->tree, CALLBACK_DIR) == 0 &&
	    git_tree_entry_type(te) == GIT_OBJECT_TREE &&
	    git_tree_lookup(out, x->h->repo, git_tree_entry_id(te)) < 0)
		rc = git_fail("reading a release's callbacks");
	git_tree_entry_free(te);
	return rc;
}

/* A callback whose text is not the base's (edited, or new since it) that
 * a release ref which moved on since the base holds with another text:
 * released there, so it must not change (ops20e), as a migration such a
 * ref holds must be identical (check_new). */
static int check_callbacks_moved(struct hcheck *x, git_tree *base_cbs)
{
	const struct project *p = x->p;
	size_t i, k;
	char hex[13];

	for (k = 0; k < x->h->nrefs; k++) {
		git_tree *cbs = NULL;

		if (!x->moved[k])
			continue;
		if (callbacks_tree(x, x->moved[k], &cbs) < 0)
			return -1;
		for (i = 0; cbs && i < p->ncallbacks; i++) {
			const struct mig_file *mf = &p->callbacks[i];
			const git_tree_entry *r = git_tree_entry_byname(cbs, mf->name);
			const git_tree_entry *b = base_cbs ? git_tree_entry_byname(base_cbs, mf->name)
							   : NULL;
			git_oid have;

			if (!r)
				continue;
			if (callback_oid(x, mf, &have) < 0) {
				git_tree_free(cbs);
				return -1;
			}
			if (git_oid_equal(&have, git_tree_entry_id(r)) ||
			    (b && git_oid_equal(&have, git_tree_entry_id(b))))
				continue;
			short_id(hex, &x->h->refs[k].commit);
			findings_add(x->f, SEV_ERROR, mf->path, 0, 0, "released-edited",
				     "callback '%s' was released in %s (commit %s) with another "
				     "text and must not change: bundles built from it ran that "
				     "text; restore it with 'git checkout %s -- %s%s'",
				     mf->name, x->h->refs[k].name, hex, hex, x->prefix, mf->path);
		}
		git_tree_free(cbs);
	}
	return 0;
}

/* A callback the base holds is released (the base is a release ref, or
 * what the branch will merge into): it must not change; one the base
 * does not hold, or one it holds and the source no longer does, is
 * reported; so is one a release ref that moved on holds with another
 * text. */
static int check_callbacks(struct hcheck *x)
{
	git_tree_entry *te = NULL;
	git_tree *cbs = NULL;
	const struct project *p = x->p;
	size_t i, k, n;
	int rc = -1;

	if (x->B && x->B->tree &&
	    git_tree_entry_bypath(&te, x->B->tree, CALLBACK_DIR) == 0 &&
	    git_tree_entry_type(te) == GIT_OBJECT_TREE &&
	    git_tree_lookup(&cbs, x->h->repo, git_tree_entry_id(te)) < 0) {
		git_fail("reading the base's callbacks");
		goto out;
	}
	n = cbs ? git_tree_entrycount(cbs) : 0;
	for (k = 0; k < n; k++) {
		const git_tree_entry *b = git_tree_entry_byindex(cbs, k);
		const char *name = git_tree_entry_name(b);
		const struct mig_file *mf = NULL;
		git_oid have;

		for (i = 0; i < p->ncallbacks && !mf; i++)
			if (!strcmp(p->callbacks[i].name, name))
				mf = &p->callbacks[i];
		if (!mf) {
			char *gone = xasprintf("%s/%s/%s", x->mdir, CALLBACK_DIR, name);

			findings_add(x->f, SEV_WARNING, gone, 0, 0, "callback-deleted",
				     "callback '%s' of the base (commit %s) is deleted: bundles built "
				     "from here no longer run it", name, x->base_hex);
			free(gone);
			continue;
		}
		if (callback_oid(x, mf, &have) < 0)
			goto out;
		if (git_oid_equal(&have, git_tree_entry_id(b)))
			continue;
		findings_add(x->f, SEV_ERROR, mf->path, 0, 0, "released-edited",
			     "callback '%s' was released (the base, commit %s, holds another text) "
			     "and must not change: bundles built from it ran that text; restore it "
			     "with 'git checkout %s -- %s%s', and ship a new text as a deletion in "
			     "one release and the new file after it (both reported)", name,
			     x->base_hex, x->base_hex, x->prefix, mf->path);
	}
	for (i = 0; x->B && i < p->ncallbacks; i++)
		if (!cbs || !git_tree_entry_byname(cbs, p->callbacks[i].name))
			findings_add(x->f, SEV_WARNING, p->callbacks[i].path, 0, 0, "callback-added",
				     "callback '%s' is new since the base (commit %s): bundles built "
				     "from here run it", p->callbacks[i].name, x->base_hex);
	rc = check_callbacks_moved(x, cbs);
out:
	git_tree_free(cbs);
	git_tree_entry_free(te);
	return rc;
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
	    check_gone(&x) < 0 || load_moved_on(&x) < 0 || check_callbacks(&x) < 0)
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
