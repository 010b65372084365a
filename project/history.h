/* Rules against git history: what a release ref or the base holds is
 * released, and released migrations are never edited, renamed or deleted;
 * new migrations come after every released one; two branches never add the
 * same version. And provenance: the commit that introduced each migration.
 *
 * Everything here compares git object ids (the tree id of migrations/, of
 * each migration directory, of each file) and reads contents only where an
 * id differs. */
#ifndef CAIRN_HISTORY_H
#define CAIRN_HISTORY_H

#include <git2.h>

#include "project.h"

struct history_snap;
struct stat_cache;

struct history_ref {
	char *name;         /* "refs/tags/v1.0" */
	git_oid commit;     /* the commit it peels to */
	git_time_t time;    /* that commit's committer time */
	int pattern;        /* index of the release_refs pattern it matched */
	struct history_snap *snap; /* loaded on demand */
};

struct history {
	git_repository *repo;     /* borrowed */
	char *mdir;               /* the migrations directory inside the repository */
	struct history_ref *refs; /* release refs that exist, oldest commit first */
	size_t nrefs;
	int has_base;
	git_oid base;
	char *base_how;           /* why this base: "merge base of HEAD and refs/heads/main" */
	int has_tip;
	git_oid tip;              /* the commit the checked tree is, or grows from (HEAD) */
	int skip_same;            /* mark migrations identical to the base's (content rules skip them) */
	char *tip_ref;            /* the branch HEAD is on, when it is a release ref itself */
	struct stat_cache *stat_cache; /* the index's stat data, for work-tree files */
	struct history_snap *base_snap;
};

/* The release_refs patterns in effect: the configured ones, or by default
 * the default branch (refs/heads/main, else refs/heads/master) and
 * refs/tags/v*. Fills pats (the caller releases it). */
void history_release_patterns(git_repository *repo, const struct config *cfg,
			      struct strlist *pats);
/* For a clone in which no release ref exists: the first pattern of pats
 * that none of its remotes' fetch settings could have brought here (a
 * single-branch clone's refspec, remote.R.tagopt = --no-tags), so that an
 * empty match says nothing about the server. NULL when every pattern could
 * have been fetched. *fix gets the commands that make remote (the clone's
 * own) fetch it, for a next: line (the caller frees it). */
const char *history_unfetched_pattern(git_repository *repo, const struct strlist *pats,
				      const char *remote, char **fix);
/* 1 when refname matches one of the release patterns. */
int history_is_release_ref(const struct strlist *pats, const char *refname);

/* Finds the release refs that exist (skipping exclude, may be NULL). prefix:
 * the project's directory in the repository ("" or "dir/"). */
int history_open(struct history *h, git_repository *repo, const struct config *cfg,
		 const char *prefix, const char *exclude);
void history_release(struct history *h);

/* The checked tree is the commit tip (is_commit), or grows from it (a work
 * tree or index on top of HEAD; tip NULL for an unborn branch). */
void history_set_tip(struct history *h, const git_oid *tip);
/* --base REV: everything reachable from REV counts as released. */
int history_set_base(struct history *h, const char *rev);
/* The default base: the merge base of the tip with the first release ref
 * that exists (the release ref the tip is on, tip_ref, when it is one). When the checked tree is a commit already in that ref, its
 * first parent, so the commit is checked as the change it made. Leaves no
 * base (and says why in base_how) when there is nothing to compare with. */
int history_default_base(struct history *h, int is_commit, const char *tip_name);

/* The history rules on p (read from the work tree, the index or a commit)
 * against the base and the release refs: released-edited,
 * released-renamed, released-deleted, version-collision, out-of-order. */
int history_check(struct history *h, struct project *p, struct findings *f);

/* A release ref is being deleted (pre-receive): an error for every
 * migration it holds that no other release ref holds. */
int history_check_deletion(struct history *h, const char *refname, const git_oid *old,
			   struct findings *f);

/* Fills prov_commit, prov_author and prov_date of every migration in p
 * that is in tip's tree, from the commit that introduced it (the newest
 * commit reachable from tip whose parents all lack the directory).
 * Migrations not in tip keep NULL. */
int history_provenance(struct project *p, git_repository *repo, const git_oid *tip);

/* The git tree id of the migration directory's files as they are in p
 * (regular files taken as mode 100644). 0, or -1 when a file has no blob
 * id and none can be computed. */
int history_migration_tree_id(git_repository *repo, const char *prefix,
			      struct migration *m, git_oid *out);

#endif
