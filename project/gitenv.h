/* Opening the repository as git itself would for a command run in the
 * same environment: a hook (where git points GIT_INDEX_FILE at a temporary
 * index for `commit -a`, `commit FILE`, `commit -p`, and sets GIT_DIR in a
 * linked worktree) or a shell. libgit2 1.5's GIT_REPOSITORY_OPEN_FROM_ENV
 * refuses GIT_WORK_TREE and GIT_COMMON_DIR, and resolves a relative
 * GIT_INDEX_FILE against the process's directory rather than the top of
 * the work tree as git does, so cairn reads the variables itself. */
#ifndef CAIRN_GITENV_H
#define CAIRN_GITENV_H

#include <git2.h>

struct gitenv {
	git_repository *repo;
	/* the index git would read: $GIT_INDEX_FILE made absolute, else the
	 * repository's own ($GIT_DIR/index); never NULL after gitenv_open */
	char *index_path;
	int index_from_env;  /* 1 when GIT_INDEX_FILE named it */
};

/* Opens the repository holding start (a directory), honouring GIT_DIR,
 * GIT_WORK_TREE, GIT_COMMON_DIR, GIT_INDEX_FILE, GIT_OBJECT_DIRECTORY,
 * GIT_ALTERNATE_OBJECT_DIRECTORIES and GIT_CEILING_DIRECTORIES. Returns 0,
 * 1 when there is no repository (nothing set), or -1 with the error set:
 * a variable git would honour and cairn cannot is an error, never ignored. */
int gitenv_open(struct gitenv *out, const char *start);
void gitenv_release(struct gitenv *e);

#endif
