#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "../bundle/keys.h"
#include "../lib/error.h"
#include "../lib/util.h"
#include "cairn.h"
#include "passphrase.h"

const struct cmd cmd_keygen_desc = {
	"keygen", cmd_keygen,
	"make an Ed25519 key pair for signing bundles",
	"cairn keygen [--passphrase-file FILE | --no-passphrase] NAME",
	"Writes NAME.key (the private key: PEM PKCS#8, mode 0600, encrypted with a\n"
	"passphrase) and NAME.pub (the public key, PEM), and prints the key id: the\n"
	"first 16 hex digits of the sha256 of the raw public key. An existing key is\n"
	"never overwritten.\n"
	"\n"
	"The passphrase comes from --passphrase-file, else $CAIRN_KEY_PASSPHRASE,\n"
	"else the terminal (asked twice); never from a command-line value.\n"
	"\n"
	"Options:\n"
	"   --passphrase-file FILE  read the passphrase from the first line of FILE\n"
	"   --no-passphrase         leave the private key unencrypted (CI secrets stores)\n",
};

int cmd_keygen(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "passphrase-file", required_argument, NULL, 'p' },
		{ "no-passphrase", no_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	const char *pass_file = NULL, *name;
	struct buf pass = BUF_INIT;
	char id[KEY_ID_LEN + 1];
	int plain = 0, c, rc;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			pass_file = optarg;
			break;
		case 'n':
			plain = 1;
			break;
		default:
			return usage_error(&cmd_keygen_desc, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind + 1 != argc)
		return usage_error(&cmd_keygen_desc, optind < argc ? "unexpected argument '%s'"
								  : "missing NAME%s",
				   optind < argc ? argv[optind + 1] : "");
	if (plain && pass_file)
		return usage_error(&cmd_keygen_desc, "--no-passphrase and --passphrase-file cannot be "
				   "used together");
	name = argv[optind];
	if (!*name || ends_with(name, "/"))
		return usage_error(&cmd_keygen_desc, "NAME must name a file, such as keys/ci");
	if (!plain) {
		char *what = xasprintf("the new key '%s.key'", name);

		rc = passphrase_get(pass_file, what, 1, &pass);
		free(what);
		if (rc)
			return rc;
	}
	rc = keygen_write(name, plain ? NULL : pass.ptr, pass.len, id);
	passphrase_wipe(&pass);
	if (rc < 0) {
		error_msg("%s", cairn_error_last());
		return EXIT_ENVIRONMENT;
	}
	printf("%s\n", id);
	fprintf(stderr, "cairn: wrote '%s.key' (private%s, mode 0600) and '%s.pub' (key id %s)\n",
		name, plain ? ", not encrypted" : ", encrypted", name, id);
	return EXIT_OK;
}
