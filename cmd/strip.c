/* cairn strip: statements out of a bundle, by the key that signed them (a
 * revoked or rotated key's signatures and approvals). Needs no key: the
 * manifest, and so the bundle id, does not change, and what remains must
 * still meet the policy on its own. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../bundle/append.h"
#include "../lib/error.h"
#include "cairn.h"
#include "verify.h"

const struct cmd cmd_strip_desc = {
	"strip", cmd_strip,
	"remove the statements a key signed from a bundle",
	"cairn strip BUNDLE --key-id ID [-o FILE]",
	"Checks BUNDLE's integrity, then rewrites it without every statement\n"
	"(build signature, approval, receipt, override) whose key id is ID, and\n"
	"their signatures. The manifest does not change, so the bundle id does\n"
	"not either. Used when a key is rotated or revoked (docs/runbooks/\n"
	"key-rotation.md). Exit 1 when no statement has that key id.\n"
	"\n"
	"Options:\n"
	"   --key-id ID        the 16-hex-digit key id ('cairn inspect' lists them)\n"
	"   -o, --output FILE  write FILE instead of replacing BUNDLE\n",
};

int cmd_strip(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "key-id", required_argument, NULL, 'k' },
		{ "output", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	struct bundle *b = NULL;
	struct bundle_open_opts o;
	const char *key_id = NULL, *output = NULL, *path;
	size_t removed = 0, i;
	int c, rc;

	memset(&o, 0, sizeof(o));
	while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
		switch (c) {
		case 'k': key_id = optarg; break;
		case 'o': output = optarg; break;
		default:
			return usage_error(&cmd_strip_desc, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind == argc)
		return usage_error(&cmd_strip_desc, "missing BUNDLE");
	if (optind + 1 != argc)
		return usage_error(&cmd_strip_desc, "unexpected argument '%s'", argv[optind + 1]);
	if (!key_id)
		return usage_error(&cmd_strip_desc, "missing --key-id ID");
	if (strlen(key_id) != 16 || strspn(key_id, "0123456789abcdef") != 16)
		return usage_error(&cmd_strip_desc, "'%s' is not a key id (16 lower-case hex "
				   "digits)", key_id);
	path = argv[optind];
	o.untrusted = 1;
	if (bundle_open_opts(&b, path, NULL, &o) < 0) {
		error_msg("cannot strip '%s': %s", path, cairn_error_last());
		rc = bundle_error_exit(path);
		goto out;
	}
	for (i = 0; i < b->nstatements; i++)
		removed += b->statements[i].key_id && !strcmp(b->statements[i].key_id, key_id);
	if (!removed) {
		error_msg("'%s' holds no statement by key %s", path, key_id);
		rc = EXIT_FAILED;
		goto out;
	}
	if (bundle_strip_statements(b, output ? output : path, key_id, &removed) < 0) {
		error_msg("cannot strip '%s': %s", path, cairn_error_last());
		rc = EXIT_ENVIRONMENT;
		goto out;
	}
	printf("%s\n", output ? output : path);
	fprintf(stderr, "cairn: removed %zu statement%s by key %s from %s\n", removed,
		removed == 1 ? "" : "s", key_id, b->id);
	rc = EXIT_OK;
out:
	bundle_free(b);
	return rc;
}
