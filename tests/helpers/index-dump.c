/* Test helper: prints the index cairn reads (project/gitindex.c) as
 * 'git ls-files -s' prints git's: "MODE OID STAGE\tPATH", so t0145 can
 * compare the two over every form of index file.
 *   index-dump [INDEX]      (default: the index git would use here) */
#include <stdio.h>
#include <string.h>

#include "../../lib/error.h"
#include "../../project/gitenv.h"
#include "../../project/gitindex.h"

int main(int argc, char **argv)
{
	struct gitenv env;
	struct gitindex ix;
	char hex[GIT_OID_HEXSZ + 1];
	size_t i;
	int r, rc = 1;

	git_libgit2_init();
	memset(&ix, 0, sizeof(ix));
	if (gitenv_open(&env, ".") != 0) {
		fprintf(stderr, "index-dump: %s\n", cairn_error_last());
		goto out;
	}
	r = gitindex_load(&ix, env.repo, git_repository_path(env.repo),
			  argc > 1 ? argv[1] : env.index_path, "");
	if (r) {
		fprintf(stderr, "index-dump: %s (%d)\n", cairn_error_last(), r);
		goto out;
	}
	for (i = 0; i < ix.n; i++) {
		git_oid_tostr(hex, sizeof(hex), &ix.e[i].oid);
		printf("%06o %s %d\t%s\n", ix.e[i].mode, hex, ix.e[i].stage, ix.e[i].path);
	}
	rc = 0;
out:
	gitindex_release(&ix);
	gitenv_release(&env);
	git_libgit2_shutdown();
	return rc;
}
