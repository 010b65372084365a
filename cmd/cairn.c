/* cairn: the compiler side. Reads migrations from git, checks them, builds
 * sealed bundles. One file per verb; this table lists them. */
#include <git2.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>
#include <yaml.h>
#include <zlib.h>

#include "../lib/heap.h"
#include "../verify/archive.h"
#include "cairn.h"
#include "verify.h"

const char *progname = "cairn";

static const struct cmd *const cairn_commands[] = {
	&cmd_init_desc,
	&cmd_new_desc,
	&cmd_list_desc,
	&cmd_check_desc,
	&cmd_lint_desc,
	&cmd_hooks_desc,
	&cmd_keygen_desc,
	&cmd_build_desc,
	&cmd_sign_desc,
	&cmd_strip_desc,
	&cmd_inspect_desc,
	&cmd_promote_desc,
	&cmd_override_desc,
	&cmd_verify_desc,
	&cmd_import_desc,
	NULL,
};

static void print_version(void)
{
	printf("cairn %s\n", CAIRN_VERSION);
	printf("libgit2 %s, %s, zlib %s, %s, libyaml %s\n", libgit2_version(),
	       breader_libarchive_version(), zlibVersion(), OpenSSL_version(OPENSSL_VERSION),
	       yaml_get_version_string());
}

static void print_usage(FILE *out)
{
	fprintf(out,
		"usage: cairn [-C DIR] COMMAND [ARGS]\n"
		"       cairn --version\n"
		"       cairn help COMMAND\n"
		"\n"
		"Checks database migrations against git history and builds signed bundles.\n"
		"\n"
		"Commands:\n");
	print_command_list(cairn_commands, out);
	fprintf(out,
		"\n"
		"Options:\n"
		"   -C DIR       run as if started in DIR\n"
		"   -h, --help   show this help; 'cairn COMMAND --help' for a command's\n"
		"   --version    show the version and the linked libraries\n"
		"\n"
		"Exit codes are listed in cairn(1).\n");
}

int main(int argc, char **argv)
{
	int i = 1, rc;

	while (i < argc && argv[i][0] == '-') {
		if (!strcmp(argv[i], "--version")) {
			print_version();
			return EXIT_OK;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			print_usage(stdout);
			return EXIT_OK;
		} else if (!strcmp(argv[i], "-C") && i + 1 < argc) {
			opt_chdir = argv[i + 1];
			i += 2;
		} else {
			error_msg("unknown option '%s'", argv[i]);
			print_usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (i >= argc) {
		print_usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[i], "help")) {
		const struct cmd *c;

		if (i + 1 >= argc) {
			print_usage(stdout);
			return EXIT_OK;
		}
		c = cmd_lookup(cairn_commands, argv[i + 1]);
		if (!c) {
			error_msg("no help for '%s': not a cairn command", argv[i + 1]);
			return EXIT_USAGE;
		}
		print_help(c, stdout);
		return EXIT_OK;
	}
	heap_hugepages(0);
	git_libgit2_init();
	/* libgit2 caches no tree over 4 KiB by default, so every path looked up
	 * in a large migrations/ tree inflated that tree again from the pack:
	 * quadratic in the number of migrations. Trees are what we look up. */
	git_libgit2_opts(GIT_OPT_SET_CACHE_OBJECT_LIMIT, GIT_OBJECT_TREE, (size_t)64 << 20);
	/* ... but all of them together in 16 MiB, not libgit2's 256: the
	 * provenance walk reads each of 100,000 commits once, and the cache
	 * kept them all (cairn list: 395 MiB peak RSS, git log 212 MiB; now
	 * 130 MiB and less CPU). What is looked up again, the migrations/
	 * trees of the base and the release refs, fits many times over. */
	git_libgit2_opts(GIT_OPT_SET_CACHE_MAX_SIZE, (ssize_t)16 << 20);
	/* libgit2 re-hashes every object it reads (git itself does so only in
	 * fsck): on a 10,000-migration project that was a third of a push
	 * check. Objects come from the repository's own store, written by git
	 * (index-pack hashes every pushed object before the pre-receive hook
	 * runs), and the checks compare the ids that trees and the index record. */
	git_libgit2_opts(GIT_OPT_ENABLE_STRICT_HASH_VERIFICATION, 0);
	rc = cmd_dispatch(cairn_commands, argc - i, argv + i);
	git_libgit2_shutdown();
	return rc;
}
