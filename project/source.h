/* Where a project's files are read from: the work tree, the git index, or
 * any commit (through libgit2's object database). The project loader and
 * every check see the three the same way. */
#ifndef CAIRN_SOURCE_H
#define CAIRN_SOURCE_H

#include <git2.h>
#include <stddef.h>

#include "../lib/buf.h"
#include "gitindex.h"

enum source_kind { SOURCE_WORKTREE, SOURCE_INDEX, SOURCE_COMMIT };

enum entry_type { ENTRY_FILE, ENTRY_DIR, ENTRY_SYMLINK, ENTRY_SUBMODULE, ENTRY_OTHER };

struct source_entry {
	char *path;             /* relative to the project root, '/'-separated */
	enum entry_type type;
	long long size;         /* -1 when not known before reading */
	git_oid oid;            /* blob id; valid when has_oid */
	int has_oid;
	int ignored;            /* work tree: a file git ignores and does not track,
				 * so no commit holds it */
	char *filter;           /* work tree: the filter driver whose clean command
				 * git runs on this file when it adds it (libgit2
				 * cannot), or NULL */
};

struct source {
	enum source_kind kind;
	char *label;            /* "work tree", "index", "commit 1a2b3c4 (v1.2)" */
	char *root;             /* work tree: the project directory on disk */
	git_repository *repo;   /* NULL for a work tree outside git */
	char *prefix;           /* the project's path inside the repository, "" or "dir/" */
	git_tree *tree;         /* SOURCE_COMMIT: the project's tree */
	git_commit *commit;     /* SOURCE_COMMIT */
	/* SOURCE_INDEX: the entries in the index's order (by path, then
	 * stage), read by cairn (project/gitindex.c) or, with core.ignorecase
	 * or in a form cairn does not read, by libgit2 (index) */
	struct gitindex gix;
	git_index *index;
	char *index_path;       /* SOURCE_WORKTREE: the index git would read, NULL: the repository's */
	int gix_loaded;         /* SOURCE_WORKTREE: gix holds that index */
};

/* repo may be NULL for the work tree. prefix: the project directory relative
 * to the repository's top ("" when they are the same). */
/* In a sparse checkout (core.sparseCheckout), the index at index_path
 * (NULL: the repository's) stands in for the files git left out. */
int source_open_worktree(struct source **out, const char *root, git_repository *repo,
			 const char *prefix, const char *index_path);
/* index_path: the index file to read (git hands a hook a temporary one in
 * GIT_INDEX_FILE); NULL for the repository's own. */
int source_open_index(struct source **out, git_repository *repo, const char *prefix,
		      const char *index_path);
/* rev: anything git rev-parse accepts that peels to a commit. */
int source_open_commit(struct source **out, git_repository *repo, const char *prefix,
		       const char *rev);
void source_free(struct source *s);

/* Every entry below dir (relative to the project root, no trailing '/'),
 * recursively, sorted by path. Directories are listed only for the work
 * tree; git stores none. Returns 0, or -1 with the error set. A missing dir
 * gives an empty list. */
int source_walk(struct source *s, const char *dir, struct source_entry **out, size_t *n);
void source_entries_free(struct source_entry *e, size_t n);

/* SOURCE_INDEX: the stage-0 entry for path (in the repository, prefix
 * included), or NULL. */
const struct index_entry *source_index_get(const struct source *s, const char *path);

/* Reads one file; 1 when it does not exist, 0 on success, -1 on error
 * (including a file over cap bytes: the error says so). */
int source_read(struct source *s, const char *path, size_t cap, struct buf *out);

#endif
