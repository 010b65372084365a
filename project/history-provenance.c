/* Provenance: the commit that introduced each migration, found by walking
 * the commits reachable from the tip. See history.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../lib/error.h"
#include "../lib/util.h"
#include "history.h"
#include "history-int.h"

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

/* Drops from pend the migrations that the tip c does not hold: only those
 * have an introducing commit to find. */
static int drop_not_in_tip(git_repository *repo, const git_commit *c, const char *mdir,
			   struct pending *pend, size_t n, size_t *left)
{
	git_tree *t = NULL;
	git_oid id;
	size_t i;
	int r = commit_subtree_id(repo, c, mdir, &id);

	if (r < 0)
		return -1;
	if (r == 0 && git_tree_lookup(&t, repo, &id) < 0)
		return git_fail("cannot read a tree");
	for (i = 0; i < n; i++) {
		const git_tree_entry *te = t ? git_tree_entry_byname(t, pend[i].name) : NULL;

		if (!te || git_tree_entry_type(te) != GIT_OBJECT_TREE) {
			pend[i].m = NULL;
			(*left)--;
		}
	}
	git_tree_free(t);
	return 0;
}

/* 1 when a parent of c has the same migrations/ tree mt; 0 when none has,
 * with pt the first parent's tree id (first_have 0 when it has none); -1 on
 * error. */
static int parents_same(git_repository *repo, const git_commit *c, const char *mdir,
			const git_oid *mt, git_oid *pt, int *first_have)
{
	git_commit *parent = NULL;
	git_oid id;
	unsigned np = git_commit_parentcount(c), j;
	int same = 0;

	for (j = 0; j < np && !same; j++) {
		int ph;

		git_commit_free(parent);
		parent = NULL;
		if (git_commit_parent(&parent, c, j) < 0) {
			git_fail("cannot read a parent commit");
			same = -1;
			break;
		}
		ph = commit_subtree_id(repo, parent, mdir, j == 0 ? pt : &id);
		if (ph < 0) {
			same = -1;
			break;
		}
		if (j == 0)
			*first_have = ph == 0;
		if (ph == 0 && git_oid_equal(j == 0 ? pt : &id, mt))
			same = 1;
	}
	git_commit_free(parent);
	return same;
}

int history_provenance(struct project *p, git_repository *repo, const git_oid *tip)
{
	const char *prefix = p->src && p->src->prefix ? p->src->prefix : "";
	char *mdir = xasprintf("%s%s", prefix, p->cfg.migrations_dir);
	struct pending *pend = xcalloc(p->n ? p->n : 1, sizeof(*pend));
	struct raw_cache raw = { NULL, { NULL, NULL }, 0 };
	struct rlist lm = { NULL, 0, 0 }, lt = { NULL, 0, 0 };
	struct cwalk w;
	git_commit *c = NULL;
	size_t i, left = p->n;
	int rc = -1;

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
	if (drop_not_in_tip(repo, c, mdir, pend, p->n, &left) < 0)
		goto out;
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
		unsigned np;
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
			int same, first_have = 1;

			same = parents_same(repo, c, mdir, &mt, &pt, &first_have);
			if (same < 0)
				goto out;
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
