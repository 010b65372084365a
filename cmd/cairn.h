/* cairn's verbs and what they share: opening the project through git. */
#ifndef CAIRN_CAIRN_H
#define CAIRN_CAIRN_H

#include <git2.h>

#include "../project/project.h"
#include "cmd.h"

/* Set by the global -C option. */
extern const char *opt_chdir;

struct project_ctx {
	char *root;           /* the directory holding cairn.yaml */
	git_repository *repo; /* NULL when the project is not in git */
	char *prefix;         /* the project's path inside the repository */
	char *index_path;     /* the index git would read here (GIT_INDEX_FILE) */
	struct source *src;
	struct project *proj;
	struct findings findings;
};

/* Finds cairn.yaml from the current directory upwards and opens its git
 * repository (needed unless allow_no_git) as git would there, honouring
 * GIT_DIR, GIT_WORK_TREE, GIT_INDEX_FILE and the rest (project/gitenv.h). Prints its own errors and
 * returns an exit code, or 0. */
/* The nearest directory at or above the current one that holds cairn.yaml
 * (the caller frees it), or NULL; with top (a real path), only one inside
 * top: the search stops there (a work tree's top). */
char *project_find_root(const char *top);
int project_ctx_open(struct project_ctx *c, int need_git);
/* Loads the project from the work tree, the index (staged) or rev. */
int project_ctx_load(struct project_ctx *c, int staged, const char *rev);
/* The checks 'cairn build' runs on c (loaded from commit rev) before it
 * builds: the static rules, then the history rules against a commit's
 * default base (on a release ref, its first parent). One function, so
 * that plain 'cairn check' runs exactly these on HEAD. Opens h (the
 * caller releases it); 0, or -1 with the error set. */
struct history;
int project_ctx_check_commit(struct project_ctx *c, const char *rev, struct history *h);
/* A shallow clone cannot be checked against its history: prints why and
 * the fetch that makes it whole, and returns EXIT_ENVIRONMENT; 0 when the
 * repository is whole (or there is none). what: "build", "check"... */
int project_ctx_refuse_shallow(const struct project_ctx *c, const char *what);
/* A clone (it has a remote) where no release ref exists although
 * release_refs names a branch in full (refs/heads/main): a single-branch
 * CI clone, where every migration would count as new. Prints why and the
 * fetch that brings the release refs, returns EXIT_ENVIRONMENT; else 0.
 * Needs c->proj (its release_refs). */
int project_ctx_refuse_partial(const struct project_ctx *c);
void project_ctx_release(struct project_ctx *c);

const char *libgit2_version(void);

#define CAIRN_VERB(name) int cmd_##name(int argc, char **argv); \
	extern const struct cmd cmd_##name##_desc
CAIRN_VERB(init);
CAIRN_VERB(new);
CAIRN_VERB(list);
CAIRN_VERB(check);
CAIRN_VERB(hooks);
CAIRN_VERB(keygen);
CAIRN_VERB(build);
CAIRN_VERB(sign);
CAIRN_VERB(strip);
CAIRN_VERB(inspect);
CAIRN_VERB(promote);
CAIRN_VERB(override);
CAIRN_VERB(import);
CAIRN_VERB(lint);

/* cmd/build.c: private keys named on the command line, loaded with their
 * passphrase (cmd/passphrase.c). */
struct build_signer;
char *signer_name_of(const char *key_path, const char *given);
int load_signers(char **paths, size_t n, const char *signer, const char *pass_file,
		 struct build_signer **out);
void free_signers(struct build_signer *s, size_t n);

#endif
