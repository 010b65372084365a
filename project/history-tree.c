/* The git tree id of a migration as the checked source holds it (work
 * tree, index or commit), computed from blob ids, and git's tree order.
 * See history.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/evp.h>

#include "../lib/error.h"
#include "../lib/util.h"
#include "history.h"
#include "history-int.h"

/* ---- tree ids of a migration as the checked source holds it ---- */

/* git's tree order: a subtree sorts as if its name ended in '/'. */
int cmp_tent(const void *a, const void *b)
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

int tree_id(git_repository *repo, const char *prefix, struct migration *m,
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

/* git's tree order for two entry names, directories as if ending in '/' */
int cmp_tree_entries(const git_tree_entry *a, const git_tree_entry *b)
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
