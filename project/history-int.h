/* What the parts of the history rules share (project/history*.c): the
 * snapshots of a commit's migrations/, git's tree order and tree ids, and
 * the libgit2 error helper. Private to project/history*.c. */
#ifndef CAIRN_HISTORY_INT_H
#define CAIRN_HISTORY_INT_H

#include <time.h>

#include <git2.h>

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

/* A tree entry for git's tree order (history-tree.c). */
struct tent {
	const char *name;
	size_t len;
	unsigned mode;
	git_oid oid;
};

/* history.c */
int git_fail(const char *what);
void short_id(char out[13], const git_oid *id);
/* The version of a migration directory name, or NULL when it is not one. */
char *dir_version(const char *name);
void snap_free(struct history_snap *s);
/* The id of path's tree in commit c; 1 when there is none, -1 on error. */
int commit_subtree_id(git_repository *repo, const git_commit *c, const char *path,
		      git_oid *out);
int snap_load(struct history *h, const git_oid *commit, struct history_snap **out);
const struct snap_ent *snap_find(const struct history_snap *s, const char *name);
const struct snap_ent *snap_find_version(const struct history_snap *s, const char *v,
					 const char *except);
const struct snap_ent *snap_max(const struct history_snap *s);

/* history-tree.c */
/* git's tree order: a subtree sorts as if its name ended in '/'. */
int cmp_tent(const void *a, const void *b);
/* git's tree order for two entry names, directories as if ending in '/' */
int cmp_tree_entries(const git_tree_entry *a, const git_tree_entry *b);
/* The tree id of m's files as the checked source holds them (sc: the
 * index's stat data for work-tree files, or NULL). */
int tree_id(git_repository *repo, const char *prefix, struct migration *m,
	    const struct stat_cache *sc, git_oid *out);

#endif
