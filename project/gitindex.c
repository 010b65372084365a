#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/error.h"
#include "../lib/pool.h"
#include "../lib/util.h"
#include "gitindex.h"

#define MODE_DIR 0040000

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t be64(const unsigned char *p)
{
	return (uint64_t)be32(p) << 32 | be32(p + 4);
}

static int unknown(const char *why)
{
	cairn_error_set("cannot read the git index: %s", why);
	return 1;
}

/* git's varint (varint.c): 7 bits a byte, each continuation adding one. */
static int varint(const unsigned char **p, const unsigned char *end, size_t *out)
{
	const unsigned char *q = *p;
	uint64_t v;
	unsigned char c;

	if (q >= end)
		return -1;
	c = *q++;
	v = c & 127;
	while (c & 128) {
		if (q >= end || ++v > (UINT64_MAX >> 7))
			return -1;
		c = *q++;
		v = (v << 7) + (c & 127);
	}
	*p = q;
	*out = (size_t)v;
	return 0;
}

/* The bytes one EWAH bitmap takes (git's ewah_read_mmap): bit count,
 * word count, the 64-bit words, the last run-length word's position. */
static size_t ewah_size(const unsigned char *p, size_t len)
{
	size_t words;

	if (len < 12)
		return 0;
	words = be32(p + 4);
	if (words > (len - 12) / 8)
		return 0;
	return 12 + words * 8;
}

/* Calls fn for every set bit, in order: run-length words (bit 0 the run's
 * value, bits 1-32 its length in words, bits 33-63 the literal words that
 * follow), literal words least significant bit first. fn's -1 stops. */
static int ewah_each(const unsigned char *p, size_t len, int (*fn)(size_t, void *), void *ctx)
{
	size_t words = len >= 12 ? be32(p + 4) : 0, i = 0, pos = 0, k;
	const unsigned char *w = p + 8;

	while (i < words) {
		uint64_t rlw = be64(w + 8 * i++), lit;
		size_t run = (size_t)((rlw >> 1) & 0xffffffffu), nlit = (size_t)(rlw >> 33), j;

		if (rlw & 1) {
			for (k = 0; k < run * 64; k++)
				if (fn(pos + k, ctx) < 0)
					return -1;
		}
		pos += run * 64;
		for (j = 0; j < nlit; j++, pos += 64) {
			if (i >= words)
				return -1;
			lit = be64(w + 8 * i++);
			for (k = 0; lit && k < 64; k++, lit >>= 1)
				if ((lit & 1) && fn(pos + k, ctx) < 0)
					return -1;
		}
	}
	return 0;
}

static int read_link(struct gitindex *ix, const unsigned char *d, size_t sz)
{
	if (sz < GIT_OID_RAWSZ)
		return unknown("its link extension is too short");
	ix->split = 1;
	memcpy(ix->shared.id, d, GIT_OID_RAWSZ);
	d += GIT_OID_RAWSZ;
	sz -= GIT_OID_RAWSZ;
	if (!sz)
		return 0;
	ix->del = d;
	ix->del_len = ewah_size(d, sz);
	if (!ix->del_len)
		return unknown("its link extension has a damaged delete bitmap");
	ix->rep = d + ix->del_len;
	ix->rep_len = ewah_size(ix->rep, sz - ix->del_len);
	if (!ix->rep_len || ix->rep_len != sz - ix->del_len)
		return unknown("its link extension has a damaged replace bitmap");
	return 0;
}

static int read_extensions(struct gitindex *ix, size_t o, size_t end)
{
	const unsigned char *d = (const unsigned char *)ix->data.ptr;

	while (o + 8 <= end) {
		size_t sz = be32(d + o + 4);

		if (sz > end - o - 8)
			return unknown("an extension runs past the end of the file");
		if (!memcmp(d + o, "link", 4)) {
			if (read_link(ix, d + o + 8, sz))
				return 1;
		} else if (!memcmp(d + o, "sdir", 4)) {
			ix->sparse = 1;
		} else if (d[o] < 'A' || d[o] > 'Z') {
			/* lower case: git requires readers to understand it */
			return unknown("it has an extension this reader does not know");
		}
		o += 8 + sz;
	}
	return o == end ? 0 : unknown("it ends in the middle of an extension");
}

/* A version 4 path: strip bytes off the previous path, then a suffix. */
static const char *v4_path(struct gitindex *ix, const unsigned char **p, const unsigned char *end,
			   const char *prev, size_t *prev_len)
{
	const unsigned char *nul;
	size_t strip, slen;
	char *path;

	if (varint(p, end, &strip) < 0 || strip > *prev_len)
		return NULL;
	nul = memchr(*p, '\0', (size_t)(end - *p));
	if (!nul)
		return NULL;
	slen = (size_t)(nul - *p);
	path = pool_alloc(&ix->names, *prev_len - strip + slen + 1, 1);
	memcpy(path, prev, *prev_len - strip);
	memcpy(path + *prev_len - strip, *p, slen);
	*prev_len = *prev_len - strip + slen;
	path[*prev_len] = '\0';
	*p = nul + 1;
	return path;
}

int gitindex_parse(struct gitindex *ix)
{
	const unsigned char *d = (const unsigned char *)ix->data.ptr;
	size_t len = ix->data.len, end, o = 12, i, n, prev_len = 0;
	const char *prev = "";
	uint32_t version;

	if (len < 12 + GIT_OID_RAWSZ || memcmp(d, "DIRC", 4))
		return unknown("it does not start with an index header");
	version = be32(d + 4);
	n = be32(d + 8);
	end = len - GIT_OID_RAWSZ;
	if (version < 2 || version > 4)
		return unknown("its version is not 2, 3 or 4");
	if (n > (end - 12) / 63)
		return unknown("it claims more entries than it has room for");
	ix->e = xcalloc(n ? n : 1, sizeof(*ix->e));
	for (i = 0; i < n; i++) {
		struct index_entry *e = &ix->e[i];
		size_t fixed = 62;
		unsigned int flags;

		if (o + fixed > end)
			return unknown("it is truncated");
		flags = (unsigned int)d[o + 60] << 8 | d[o + 61];
		if (flags & 0x4000) { /* extended flags: version 3 and later */
			if (version < 3 || o + 64 > end)
				return unknown("an entry has extended flags it cannot have");
			fixed = 64;
			ix->e[i].skip_worktree = (d[o + 62] & 0x40) != 0;
		}
		e->mode = be32(d + o + 24);
		e->size = be32(d + o + 36);
		memcpy(e->oid.id, d + o + 40, GIT_OID_RAWSZ);
		e->stage = (int)((flags >> 12) & 3);
		if ((e->mode & 0170000) == MODE_DIR)
			ix->sparse = 1;
		if (version == 4) {
			const unsigned char *p = d + o + fixed;

			e->path = prev = v4_path(ix, &p, d + end, prev, &prev_len);
			if (!e->path)
				return unknown("a compressed path is damaged");
			o = (size_t)(p - d);
		} else {
			const unsigned char *nul = memchr(d + o + fixed, '\0', end - o - fixed);
			/* the path and 1 to 8 NULs pad the entry to a multiple of 8 */
			size_t elen;

			if (!nul)
				return unknown("a path is not terminated");
			elen = (fixed + (size_t)(nul - (d + o + fixed)) + 8) & ~(size_t)7;
			if (o + elen > end)
				return unknown("it is truncated");
			e->path = (const char *)d + o + fixed;
			o += elen;
		}
	}
	ix->n = n;
	return read_extensions(ix, o, end);
}

/* ---- a split index: the shared index, less deletions, with replacements,
 * plus the split index's own entries (git's split-index.c) ---- */

struct merge {
	struct index_entry *out;  /* the shared index's entries, replaced in place */
	size_t nbase, nsplit, next; /* next: the split entry the next replacement takes */
	const struct index_entry *split;
	unsigned char *dead;
	int bad;
};

static int replace_one(size_t pos, void *vm)
{
	struct merge *m = vm;
	const char *path;

	if (pos >= m->nbase || m->next >= m->nsplit || m->split[m->next].path[0]) {
		m->bad = 1;
		return -1;
	}
	path = m->out[pos].path;
	m->out[pos] = m->split[m->next++];
	m->out[pos].path = path;
	return 0;
}

static int delete_one(size_t pos, void *vm)
{
	struct merge *m = vm;

	if (pos >= m->nbase) {
		m->bad = 1;
		return -1;
	}
	m->dead[pos] = 1;
	return 0;
}

static int cmp_entry(const struct index_entry *x, const struct index_entry *y)
{
	int c = strcmp(x->path, y->path);

	return c ? c : x->stage - y->stage;
}

/* Both lists are sorted, as every index file is; for one path and stage
 * the split index's entry wins, as git's add_index_entry replaces. */
static struct index_entry *merge_sorted(const struct index_entry *a, size_t na,
					const unsigned char *dead, const struct index_entry *b,
					size_t nb, size_t *n)
{
	struct index_entry *out = xcalloc(na + nb ? na + nb : 1, sizeof(*out));
	size_t i = 0, j = 0, k = 0;

	while (i < na || j < nb) {
		int c;

		if (i < na && dead[i]) {
			i++;
			continue;
		}
		c = i >= na ? 1 : j >= nb ? -1 : cmp_entry(&a[i], &b[j]);
		if (c < 0) {
			out[k++] = a[i++];
		} else {
			if (!c)
				i++;
			out[k++] = b[j++];
		}
	}
	*n = k;
	return out;
}

static int read_parse(struct gitindex *ix, const char *path)
{
	int r = read_file(path, 0, &ix->data);

	if (r < 0)
		return -1;
	return gitindex_parse(ix);
}

/* Where git looks for a split index's shared index: the repository's
 * directory (git_path), then beside the index itself. */
static int load_shared(struct gitindex *base, const struct gitindex *ix, const char *gitdir,
		       const char *path)
{
	char hex[GIT_OID_HEXSZ + 1], *name, *dir, *slash, *p;
	int r;

	git_oid_tostr(hex, sizeof(hex), &ix->shared);
	name = xasprintf("sharedindex.%s", hex);
	p = path_join(gitdir, name);
	if (!path_exists(p)) {
		free(p);
		dir = xstrdup(path);
		slash = strrchr(dir, '/');
		if (slash)
			slash[1] = '\0';
		p = slash ? path_join(dir, name) : xstrdup(name);
		free(dir);
	}
	free(name);
	r = read_parse(base, p);
	if (r < 0)
		cairn_error_set("cannot read the shared index '%s' of the split index '%s': %s", p,
				path, cairn_error_last());
	else if (r == 0 && (base->split || base->sparse))
		r = unknown("a shared index is itself split or sparse");
	free(p);
	return r;
}

static int merge_split(struct gitindex *ix, const char *gitdir, const char *path)
{
	struct gitindex *base = xcalloc(1, sizeof(*base));
	struct merge m;
	size_t i;
	int rc;

	memset(&m, 0, sizeof(m));
	rc = load_shared(base, ix, gitdir, path);
	if (rc)
		goto out;
	m.nbase = base->n;
	m.out = base->e;
	m.split = ix->e;
	m.nsplit = ix->n;
	m.dead = xcalloc(m.nbase ? m.nbase : 1, 1);
	if ((ix->rep && ewah_each(ix->rep, ix->rep_len, replace_one, &m) < 0) ||
	    (ix->del && ewah_each(ix->del, ix->del_len, delete_one, &m) < 0) || m.bad) {
		rc = unknown("its link extension names entries the shared index lacks");
		goto out;
	}
	for (i = m.next; i < m.nsplit; i++)
		if (!m.split[i].path[0]) {
			rc = unknown("an entry of a split index has no path");
			goto out;
		}
	ix->e = merge_sorted(m.out, m.nbase, m.dead, m.split + m.next, m.nsplit - m.next, &ix->n);
	free((void *)m.split);
	rc = 0;
out:
	free(m.dead);
	/* base's data and names stay: the merged entries point into them */
	base->n = 0;
	ix->base = base;
	return rc;
}

/* ---- a sparse index: a directory entry stands for its tree ---- */

struct expand {
	struct gitindex *ix;
	struct index_entry *out;
	size_t n, alloc;
	const char *dir;  /* the directory entry's path, with its '/' */
};

static struct index_entry *expand_push(struct expand *x)
{
	ALLOC_GROW(x->out, x->n + 1, x->alloc);
	memset(&x->out[x->n], 0, sizeof(x->out[x->n]));
	return &x->out[x->n++];
}

static int expand_cb(const char *root, const git_tree_entry *te, void *vx)
{
	struct expand *x = vx;
	struct index_entry *e;
	size_t a, b, c;
	char *path;

	if (git_tree_entry_type(te) == GIT_OBJECT_TREE)
		return 0;
	a = strlen(x->dir);
	b = strlen(root);
	c = strlen(git_tree_entry_name(te));
	path = pool_alloc(&x->ix->names, a + b + c + 1, 1);
	memcpy(path, x->dir, a);
	memcpy(path + a, root, b);
	memcpy(path + a + b, git_tree_entry_name(te), c + 1);
	e = expand_push(x);
	e->path = path;
	e->mode = git_tree_entry_filemode(te);
	e->size = -1;
	e->skip_worktree = 1; /* what a sparse directory holds is not checked out */
	git_oid_cpy(&e->oid, git_tree_entry_id(te));
	return 0;
}

static int cmp_entry_q(const void *a, const void *b)
{
	return cmp_entry(a, b);
}

static int in_scope(const char *dir, const char *scope)
{
	return starts_with(dir, scope) || starts_with(scope, dir);
}

static int expand_sparse(struct gitindex *ix, git_repository *repo, const char *scope)
{
	struct expand x;
	size_t i;
	int rc = -1;

	memset(&x, 0, sizeof(x));
	x.ix = ix;
	for (i = 0; i < ix->n; i++) {
		const struct index_entry *e = &ix->e[i];
		git_tree *t = NULL;

		if ((e->mode & 0170000) != MODE_DIR || !in_scope(e->path, scope)) {
			*expand_push(&x) = *e;
			continue;
		}
		x.dir = e->path;
		if (git_tree_lookup(&t, repo, &e->oid) < 0 ||
		    git_tree_walk(t, GIT_TREEWALK_PRE, expand_cb, &x) < 0) {
			cairn_error_set("cannot expand the sparse index's directory '%s': %s", e->path,
					git_error_last() ? git_error_last()->message : "libgit2 error");
			git_tree_free(t);
			goto out;
		}
		git_tree_free(t);
	}
	/* a tree lists a name continuing with a byte below '/' after the
	 * directory it follows in the index: sort as git's index does */
	qsort(x.out, x.n, sizeof(*x.out), cmp_entry_q);
	free(ix->e);
	ix->e = x.out;
	ix->n = x.n;
	x.out = NULL;
	rc = 0;
out:
	free(x.out);
	return rc;
}

int gitindex_load(struct gitindex *ix, git_repository *repo, const char *gitdir,
		  const char *path, const char *scope)
{
	int r;

	/* no index file yet (a new repository): git reads it as empty */
	if (!path_exists(path))
		return 0;
	r = read_parse(ix, path);
	if (r)
		return r;
	if (ix->split && !git_oid_is_zero(&ix->shared) && (r = merge_split(ix, gitdir, path)))
		return r;
	if (ix->sparse || (ix->base && ix->base->sparse))
		return expand_sparse(ix, repo, scope);
	return 0;
}

void gitindex_release(struct gitindex *ix)
{
	if (!ix)
		return;
	if (ix->base) {
		gitindex_release(ix->base);
		free(ix->base);
	}
	free(ix->e);
	buf_release(&ix->data);
	pool_free(&ix->names);
	memset(ix, 0, sizeof(*ix));
}
