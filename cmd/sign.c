#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "../bundle/build.h"
#include "../lib/error.h"
#include "cairn.h"
#include "verify.h"

const struct cmd cmd_sign_desc = {
	"sign", cmd_sign,
	"add a build signature to a bundle",
	"cairn sign BUNDLE --key KEY [--signer NAME] [--passphrase-file FILE] [-o FILE]",
	"Checks BUNDLE's integrity, then adds a build statement signed by the\n"
	"private key KEY and rewrites the tarball (reproducibly: 'cairn build\n"
	"--sign KEY' gives the same bytes). The manifest does not change, so the\n"
	"bundle id does not either. Signing again with the same key changes\n"
	"nothing.\n"
	"\n"
	"Options:\n"
	"   --key KEY               the private key (repeatable)\n"
	"   --signer NAME           the signer's name in the statement (default: KEY's\n"
	"                           file name without .key)\n"
	"   --passphrase-file FILE  the key's passphrase (else $CAIRN_KEY_PASSPHRASE,\n"
	"                           else the terminal)\n"
	"   -o, --output FILE       write FILE instead of replacing BUNDLE\n",
};

int cmd_sign(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "key", required_argument, NULL, 'k' },
		{ "signer", required_argument, NULL, 'n' },
		{ "passphrase-file", required_argument, NULL, 'p' },
		{ "output", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	struct build_signer *signers = NULL;
	struct bundle *b = NULL;
	struct bundle_open_opts o;
	char **keys = NULL;
	size_t nkeys = 0, alloc = 0, i;
	const char *signer = NULL, *pass_file = NULL, *output = NULL, *path;
	int c, rc;

	memset(&o, 0, sizeof(o));
	while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
		switch (c) {
		case 'k':
			ALLOC_GROW(keys, nkeys + 1, alloc);
			keys[nkeys++] = optarg;
			break;
		case 'n':
			signer = optarg;
			break;
		case 'p':
			pass_file = optarg;
			break;
		case 'o':
			output = optarg;
			break;
		default:
			free(keys);
			return usage_error(&cmd_sign_desc, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind + 1 != argc || !nkeys) {
		free(keys);
		if (optind + 1 < argc)
			return usage_error(&cmd_sign_desc, "unexpected argument '%s'", argv[optind + 1]);
		return usage_error(&cmd_sign_desc, optind == argc ? "missing BUNDLE"
						   : "missing --key KEY (the private key to sign with)");
	}
	path = argv[optind];
	rc = load_signers(keys, nkeys, signer, pass_file, &signers);
	if (rc)
		goto out;
	o.untrusted = 1;
	if (bundle_open_opts(&b, path, NULL, &o) < 0) {
		error_msg("cannot sign '%s': %s", path, cairn_error_last());
		rc = bundle_error_exit(path);
		goto out;
	}
	if (bundle_sign(b, output ? output : path, signers, nkeys) < 0) {
		error_msg("cannot sign '%s': %s", path, cairn_error_last());
		rc = EXIT_ENVIRONMENT;
		goto out;
	}
	printf("%s\n", output ? output : path);
	for (i = 0; i < nkeys; i++)
		fprintf(stderr, "cairn: signed %s with key %s (%s)\n", b->id, signers[i].key->pub->id,
			signers[i].signer);
	rc = EXIT_OK;
out:
	bundle_free(b);
	free_signers(signers, nkeys);
	free(keys);
	return rc;
}
