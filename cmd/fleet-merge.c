/* cairn-apply fleet-merge: the result files of a fleet's shards, joined. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "../fleet/result.h"
#include "../fleet/targets.h"
#include "../lib/buf.h"
#include "../lib/error.h"
#include "../lib/util.h"
#include "cairn-apply.h"

const struct cmd cmd_fleet_merge_desc = {
	"fleet-merge", cmd_fleet_merge,
	"join the result files of a fleet's shards into one",
	"cairn-apply fleet-merge RESULT... [-o FILE]",
	"Reads the JSON-line result files of 'cairn-apply fleet' (one per shard, or\n"
	"a run and its resumes) and writes one line per target: its last line wins,\n"
	"in the order targets first appear. Then prints a summary to stderr.\n"
	"\n"
	"Options:\n"
	"   -o, --output FILE  write the merged lines to FILE (default: stdout)\n"
	"\n"
	"Exit status: 0 every target applied or current, 1 a target failed or was\n"
	"not started, 2 usage or a line that is not a fleet result (FILE:LINE),\n"
	"6 a file cannot be read or written.\n",
};

int cmd_fleet_merge(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	struct fleet_results rs;
	struct buf b = BUF_INIT, out = BUF_INIT;
	const char *output = NULL;
	size_t i, bad = 0, waiting = 0, stopped = 0;
	int c, rc = EXIT_OK;

	memset(&rs, 0, sizeof(rs));
	while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
		if (c == 'o')
			output = optarg;
		else
			return usage_error(&cmd_fleet_merge_desc, "unknown option '%s'", argv[optind - 1]);
	}
	if (optind >= argc)
		return usage_error(&cmd_fleet_merge_desc, "missing RESULT");
	for (; optind < argc; optind++) {
		buf_release(&b);
		buf_init(&b, FLEET_FILE_MAX);
		if (read_file(argv[optind], FLEET_FILE_MAX, &b) < 0) {
			error_msg("cannot read '%s': %s", argv[optind], cairn_error_last());
			rc = EXIT_ENVIRONMENT;
			goto out;
		}
		if (fleet_results_parse(&rs, buf_cstr(&b), b.len, argv[optind]) < 0) {
			error_msg("%s", cairn_error_last());
			rc = EXIT_USAGE;
			goto out;
		}
	}
	for (i = 0; i < rs.n; i++) {
		fleet_result_format(&out, &rs.items[i]);
		if (!strcmp(rs.items[i].outcome, "waiting"))
			waiting++;
		else if (!strcmp(rs.items[i].outcome, "stopped"))
			stopped++;
		else if (!fleet_outcome_ok(rs.items[i].outcome))
			bad++;
	}
	if (output ? write_file_atomic(output, out.ptr ? out.ptr : "", out.len, 0644) < 0
		   : (fwrite(out.ptr ? out.ptr : "", 1, out.len, stdout) != out.len || fflush(stdout))) {
		error_msg("cannot write '%s': %s", output ? output : "stdout", cairn_error_last());
		rc = EXIT_ENVIRONMENT;
		goto out;
	}
	buf_reset(&b);
	fleet_expected_counts(&b, waiting, stopped);
	fprintf(stderr, "%s: fleet-merge: %zu target%s: %zu applied or current, %s%zu failed or not "
		"started\n", progname, rs.n, rs.n == 1 ? "" : "s", rs.n - bad - waiting - stopped,
		buf_cstr(&b), bad);
	rc = fleet_exit_code(bad, 0, waiting, stopped);
out:
	buf_release(&b);
	buf_release(&out);
	fleet_results_release(&rs);
	return rc;
}
