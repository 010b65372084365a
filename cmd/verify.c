/* `cairn verify` and `cairn-apply verify`: one implementation (verify/),
 * one verb file, linked into both programs. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/error.h"
#include "../lib/util.h"
#include "../verify/bundle.h"
#include "cmd.h"
#include "policy-report.h"
#include "verify.h"

const struct cmd cmd_verify_desc = {
	"verify", cmd_verify,
	"check a bundle's integrity and its build signature",
	"cairn verify BUNDLE [--key PUB]... [--config FILE --env ENV]",
	"Checks BUNDLE as cairn-apply does, with the same code: the build\n"
	"signature first (by one of the --key public keys), then every member's\n"
	"sha256 against SHA256SUMS and manifest.yaml while reading it, and only\n"
	"then the manifest's contents. Refusals exit 3 and name the member and the\n"
	"rule. Without --key only the integrity is checked, and the signatures are\n"
	"listed as valid or not: nothing says who built the bundle.\n"
	"\n"
	"Options:\n"
	"   --key PUB      trust builds signed by public key PUB (repeatable)\n"
	"   --env ENV      check ENV's policy from the applier's config instead: its\n"
	"                  builders, approvals, 'after', receipts (see cairn-apply(1))\n"
	"   --config FILE  the applier's config (else $CAIRN_APPLY_CONFIG, else\n"
	"                  ./cairn-apply.yaml)\n",
};

const struct cmd cmd_apply_verify_desc = {
	"verify", cmd_apply_verify,
	"check a bundle's integrity and its build signature",
	"cairn-apply verify BUNDLE (--env ENV [--config FILE] | --key PUB...)",
	"Checks BUNDLE before anything is applied: a build signature by a trusted\n"
	"key over a statement naming the manifest's sha256, then every member's\n"
	"sha256 while reading it, and only then the manifest's contents. With\n"
	"--env, the trusted keys and the rest of the policy come from ENV's entry\n"
	"in the applier's config: builders, m approvals by distinct approvers,\n"
	"the 'after' environment's approvals, a receipt from a receipts_from key,\n"
	"no revoked key, no expired approval, no statement for another bundle.\n"
	"A bundle that fails is refused with exit 3 and a message naming the rule\n"
	"and the member. Nothing is written.\n"
	"\n"
	"Options:\n"
	"   --env ENV      check ENV's policy (else $CAIRN_ENV)\n"
	"   --config FILE  the applier's config (else $CAIRN_APPLY_CONFIG, else\n"
	"                  ./cairn-apply.yaml)\n"
	"   --key PUB      trust builds signed by public key PUB instead (repeatable;\n"
	"                  no policy: integrity and the build signature only)\n",
};

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

/* --env: the environment's policy from the applier's config decides. */
static int verify_policy(const struct cmd *desc, const char *path,
			 const struct apply_config_flags *flags)
{
	struct apply_config ac;
	struct policy_bundle pb;
	size_t i;
	int rc;

	memset(&pb, 0, sizeof(pb));
	rc = apply_config_open(&ac, desc, flags);
	if (rc)
		goto out;
	rc = policy_bundle_check(&pb, &ac, path, 0, NULL);
	if (rc)
		goto out;
	printf("%s: ok for '%s': %s, %zu migration%s\n", path, ac.env.env_name, pb.b->id,
	       pb.b->nmigs, pb.b->nmigs == 1 ? "" : "s");
	for (i = 0; i < pb.v.nused; i++)
		printf("%s: %s by %s (%s): counts\n", pb.v.used[i]->name, pb.v.used[i]->type,
		       pb.v.used[i]->key_id, pb.v.used[i]->signer ? pb.v.used[i]->signer : "?");
	for (i = 0; i < pb.v.nnotes; i++)
		printf("note: %s\n", pb.v.notes[i]);
out:
	policy_bundle_release(&pb);
	apply_config_release(&ac);
	return rc;
}

static int verify_main(const struct cmd *desc, int argc, char **argv, int need_key)
{
	static const struct option opts[] = {
		{ "key", required_argument, NULL, 'k' },
		{ "env", required_argument, NULL, 'e' },
		{ "config", required_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 },
	};
	struct apply_config_flags flags;
	struct trust *trust = NULL;
	struct bundle *b = NULL;
	struct bundle_open_opts o;
	char **keys = NULL;
	size_t nkeys = 0, alloc = 0, i, nfiles = 0;
	const char *path;
	int c, rc;

	memset(&o, 0, sizeof(o));
	memset(&flags, 0, sizeof(flags));
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'k':
			ALLOC_GROW(keys, nkeys + 1, alloc);
			keys[nkeys++] = optarg;
			break;
		case 'e':
			flags.env = optarg;
			break;
		case 'c':
			flags.config = optarg;
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
	if (nkeys && (flags.env || flags.config)) {
		free(keys);
		return usage_error(desc, "--key and --env/--config are exclusive: the config's "
				   "builders are the trusted keys");
	}
	if (flags.env || flags.config || (need_key && !nkeys && getenv("CAIRN_ENV"))) {
		free(keys);
		return verify_policy(desc, path, &flags);
	}
	if (need_key && !nkeys) {
		free(keys);
		return usage_error(desc, "which builds do you trust? pass --key PUB, or "
				   "--env ENV (the applier's config decides)");
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
