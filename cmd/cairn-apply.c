/* cairn-apply: the applier. Verifies a bundle, checks the environment's
 * policy, applies it. Links no libgit2 and holds no signing code. */
#include <openssl/crypto.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <yaml.h>
#include <zlib.h>

#include "../lib/error.h"
#include "../lib/heap.h"
#include "../verify/archive.h"
#include "config.h"
#include "cairn-apply.h"
#include "verify.h"

const char *progname = "cairn-apply";

static const struct cmd *const apply_commands[] = {
	&cmd_apply_verify_desc,
	&cmd_config_desc,
	&cmd_plan_desc,
	&cmd_preflight_desc,
	&cmd_apply_desc,
	&cmd_status_desc,
	&cmd_rollback_desc,
	&cmd_history_desc,
	&cmd_baseline_desc,
	&cmd_repair_desc,
	&cmd_adopt_desc,
	&cmd_restore_desc,
	&cmd_fleet_desc,
	&cmd_fleet_merge_desc,
	&cmd_report_desc,
	NULL,
};

/* Each driver names its client library; the PostgreSQL driver loads libpq
 * for this (a run loads it only when it opens a PostgreSQL database). */
static void print_version(void)
{
	const struct driver *const *d;
	char lib[CAIRN_ERRMSG_MAX + 64];

	printf("cairn-apply %s\n", CAIRN_VERSION);
	printf("%s, zlib %s, %s, libyaml %s", breader_libarchive_version(), zlibVersion(),
	       OpenSSL_version(OPENSSL_VERSION), yaml_get_version_string());
	for (d = driver_list(); *d; d++) {
		(*d)->library_version(lib, sizeof(lib));
		printf(", %s", lib);
	}
	printf("\n");
}

static void print_usage(FILE *out)
{
	fprintf(out,
		"usage: cairn-apply COMMAND [ARGS]\n"
		"       cairn-apply --version\n"
		"       cairn-apply help COMMAND\n"
		"\n"
		"Verifies a cairn bundle, checks the environment's policy, and applies it.\n"
		"\n"
		"Commands:\n");
	print_command_list(apply_commands, out);
	fprintf(out,
		"\n"
		"Options:\n"
		"   -h, --help   show this help; 'cairn-apply COMMAND --help' for a command's\n"
		"   --version    show the version and the libraries it uses\n"
		"\n"
		"Exit codes are listed in cairn-apply(1).\n");
}

int main(int argc, char **argv)
{
	heap_hugepages(HEAP_ONE_ARENA | HEAP_HUGE_FIRST_ONLY);
	/* A closed output pipe (the pager or tee went with a closed ssh
	 * session) must not kill a run between a statement and its books:
	 * writes fail with EPIPE instead, and the run finishes. The commands
	 * the applier starts get the default back (ops/hooks.c, pg-backup.c). */
	signal(SIGPIPE, SIG_IGN);
	if (argc < 2) {
		print_usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--version")) {
		print_version();
		return EXIT_OK;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		print_usage(stdout);
		return EXIT_OK;
	}
	if (argv[1][0] == '-') {
		error_msg("unknown option '%s'", argv[1]);
		print_usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "help")) {
		const struct cmd *c;

		if (argc < 3) {
			print_usage(stdout);
			return EXIT_OK;
		}
		c = cmd_lookup(apply_commands, argv[2]);
		if (!c) {
			error_msg("no help for '%s': not a cairn-apply command", argv[2]);
			return EXIT_USAGE;
		}
		print_help(c, stdout);
		return EXIT_OK;
	}
	return cmd_dispatch(apply_commands, argc - 1, argv + 1);
}
