/* `cairn verify` and `cairn-apply verify`: one implementation (verify/),
 * one verb file, linked into both programs. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../lib/error.h"
#include "../lib/util.h"
#include "../verify/bundle.h"
#include "cmd.h"
#include "verify.h"

const struct cmd cmd_verify_desc = {
	"verify", cmd_verify,
	"check a bundle's integrity and its build signature",
	"cairn verify BUNDLE [--key PUB]...",
	"Checks BUNDLE as cairn-apply does, with the same code: the build\n"
	"signature first (by one of the --key public keys), then every member's\n"
	"sha256 against SHA256SUMS and manifest.yaml while reading it, and only\n"
	"then the manifest's contents. Refusals exit 3 and name the member and the\n"
	"rule. Without --key only the integrity is checked, and the signatures are\n"
	"listed as valid or not: nothing says who built the bundle.\n"
	"\n"
	"Options:\n"
	"   --key PUB    trust builds signed by public key PUB (repeatable)\n",
};

const struct cmd cmd_apply_verify_desc = {
	"verify", cmd_apply_verify,
	"check a bundle's integrity and its build signature",
	"cairn-apply verify BUNDLE --key PUB...",
	"Checks BUNDLE before anything is applied: a build signature by one of the\n"
	"--key public keys over a statement naming the manifest's sha256, then\n"
	"every member's sha256 while reading it, and only then the manifest's\n"
	"contents. A bundle that fails is refused with exit 3 and a message naming\n"
	"the member and the rule. Nothing is written.\n"
	"\n"
	"Options:\n"
	"   --key PUB    trust builds signed by public key PUB (repeatable; required)\n",
};

int bundle_error_exit(const char *path)
{
	struct stat st;

	/* a file we cannot read at all is the environment; anything read and
	 * found wrong is a refusal */
	if (stat(path, &st) < 0 || !S_ISREG(st.st_mode) || access(path, R_OK) < 0)
		return EXIT_ENVIRONMENT;
	return EXIT_REFUSED;
}

int load_trust(const struct cmd *c, char **keys, size_t n, struct trust **out)
{
	size_t i;

	*out = trust_new();
	for (i = 0; i < n; i++) {
		if (trust_add_builder_key(*out, keys[i]) < 0) {
			error_msg("cannot use key '%s': %s", keys[i], cairn_error_last());
			return EXIT_ENVIRONMENT;
		}
	}
	(void)c;
	return 0;
}

static int verify_main(const struct cmd *desc, int argc, char **argv, int need_key)
{
	static const struct option opts[] = {
		{ "key", required_argument, NULL, 'k' },
		{ NULL, 0, NULL, 0 },
	};
	struct trust *trust = NULL;
	struct bundle *b = NULL;
	struct bundle_open_opts o;
	char **keys = NULL;
	size_t nkeys = 0, alloc = 0, i, nfiles = 0;
	const char *path;
	int c, rc;

	memset(&o, 0, sizeof(o));
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'k':
			ALLOC_GROW(keys, nkeys + 1, alloc);
			keys[nkeys++] = optarg;
			break;
		default:
			free(keys);
			return usage_error(desc, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind + 1 != argc) {
		free(keys);
		if (optind < argc)
			return usage_error(desc, "unexpected argument '%s'", argv[optind + 1]);
		return usage_error(desc, "missing BUNDLE");
	}
	path = argv[optind];
	if (need_key && !nkeys) {
		free(keys);
		return usage_error(desc, "which builds do you trust? pass --key PUB");
	}
	rc = load_trust(desc, keys, nkeys, &trust);
	if (rc)
		goto out;
	o.untrusted = !nkeys;
	if (bundle_open_opts(&b, path, trust, &o) < 0) {
		error_msg("cannot verify '%s': %s", path, cairn_error_last());
		rc = bundle_error_exit(path);
		goto out;
	}
	for (i = 0; i < b->nmigs; i++)
		nfiles += b->migs[i].nfiles;
	printf("%s: ok: %s, %zu migration%s, %zu file%s\n", path, b->id, b->nmigs,
	       b->nmigs == 1 ? "" : "s", nfiles, nfiles == 1 ? "" : "s");
	for (i = 0; i < b->nstatements; i++) {
		const struct bundle_statement *s = &b->statements[i];

		printf("%s: %s by %s (%s): %s\n", s->member, s->type, s->key_id,
		       s->signer ? s->signer : "?",
		       !s->valid ? (s->problem ? s->problem : "not valid")
		       : s->trusted ? "valid, trusted" : nkeys ? "valid, key not trusted"
		       : "valid signature, key not checked");
	}
	if (!nkeys)
		warning_msg("no --key given: '%s' is intact, but nothing says who built it", path);
	rc = EXIT_OK;
out:
	bundle_free(b);
	trust_free(trust);
	free(keys);
	return rc;
}

int cmd_verify(int argc, char **argv)
{
	return verify_main(&cmd_verify_desc, argc, argv, 0);
}

int cmd_apply_verify(int argc, char **argv)
{
	return verify_main(&cmd_apply_verify_desc, argc, argv, 1);
}
