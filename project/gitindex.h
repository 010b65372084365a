/* git's index file, read by cairn itself: versions 2, 3 and 4, a split
 * index (its "link" extension and the shared index it names) and a sparse
 * index (directory entries, expanded from their trees). libgit2 1.5 reads
 * neither a split nor a sparse index, and its reading of the common case
 * costs a third of a pre-commit check on 10,000 migrations (an allocation
 * per entry, a path hash table, a SHA-1 over the whole file). The format:
 * git's Documentation/gitformat-index.txt. */
#ifndef CAIRN_GITINDEX_H
#define CAIRN_GITINDEX_H

#include <git2.h>
#include <stddef.h>

#include "../lib/buf.h"

struct pool_block;

/* One entry of the git index. */
struct index_entry {
	const char *path;       /* full path in the repository */
	unsigned int mode;
	int stage;              /* 0, or 1-3 for an unresolved merge */
	long long size;         /* as the index records it; -1 when not known */
	git_oid oid;
	int skip_worktree;      /* outside a sparse checkout: not in the work tree */
};

struct gitindex {
	struct index_entry *e;  /* by path, then stage, as git sorts them */
	size_t n;
	struct buf data;        /* the index file; v2/v3 paths point into it */
	struct pool_block *names; /* paths that are not in data (v4, split, sparse) */
	/* set by gitindex_parse from a "link" extension (a split index) */
	int split;
	git_oid shared;         /* the shared index's id; zero: none needed */
	const unsigned char *del, *rep; /* EWAH bitmaps inside data */
	size_t del_len, rep_len;
	int sparse;             /* holds directory entries (a sparse index) */
	struct gitindex *base;  /* a split index's shared index, once merged */
};

/* Parses ix->data (filled by the caller) into ix->e and ix->n, without
 * following a split or expanding a sparse index. 0, or -1 with the error
 * set (a damaged file, or one git would not read either). */
int gitindex_parse(struct gitindex *ix);

/* Reads the index at path: parses it, merges the shared index a split
 * index names (found in gitdir or beside path, where git looks) and
 * expands a sparse index's directories from repo's trees, those within
 * scope ("dir/", "" for all) or above it. 0, 1 when the
 * file is in a form this reader does not know (an unknown version or a
 * required extension it lacks: libgit2 may read it), or -1 with the error
 * set. */
int gitindex_load(struct gitindex *ix, git_repository *repo, const char *gitdir,
		  const char *path, const char *scope);
void gitindex_release(struct gitindex *ix);

#endif
