/* Where a project's files are read from: the work tree, the git index, or
 * any commit (through libgit2's object database). The project loader and
 * every check see the three the same way. */
#ifndef CAIRN_SOURCE_H
#define CAIRN_SOURCE_H

#include <git2.h>
#include <stddef.h>

#include "../lib/buf.h"

enum source_kind { SOURCE_WORKTREE, SOURCE_INDEX, SOURCE_COMMIT };

enum entry_type { ENTRY_FILE, ENTRY_DIR, ENTRY_SYMLINK, ENTRY_SUBMODULE, ENTRY_OTHER };

struct source_entry {
	char *path;             /* relative to the project root, '/'-separated */
	enum entry_type type;
	long long size;         /* -1 when not known before reading */
	git_oid oid;            /* blob id; valid when has_oid */
	int has_oid;
};

/* One entry of the git index. */
struct index_entry {
	const char *path;       /* full path in the repository */
	unsigned int mode;
	int stage;              /* 0, or 1-3 for an unresolved merge */
	long long size;
	git_oid oid;
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
	 * stage), pointing into ixdata (the index file, which cairn parses
	 * itself in the common formats) or into index (libgit2's reading) */
	struct index_entry *ix;
	size_t nix;
	struct buf ixdata;
	git_index *index;
};

/* repo may be NULL for the work tree. prefix: the project directory relative
 * to the repository's top ("" when they are the same). */
int source_open_worktree(struct source **out, const char *root, git_repository *repo,
			 const char *prefix);
int source_open_index(struct source **out, git_repository *repo, const char *prefix);
/* rev: anything git rev-parse accepts that peels to a commit. */
int source_open_commit(struct source **out, git_repository *repo, const char *prefix,
		       const char *rev);
/* Parses s->ixdata (git's index file, versions 2 and 3) into s->ix and
 * s->nix: 0, or 1 when libgit2 must read it instead (another version, a
 * split or sparse index, a damaged file). Exposed for its fuzz target. */
int source_index_parse(struct source *s);
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
