#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "../bundle/build.h"
#include "../lib/error.h"
#include "../lib/util.h"
#include "cairn.h"
#include "passphrase.h"

#include "../project/history.h"

const struct cmd cmd_build_desc = {
	"build", cmd_build,
	"build a reproducible, signed bundle from a commit",
	"cairn build [--ref REV] [-o FILE] [--sign KEY]... [--signer NAME] [--passphrase-file FILE]",
	"Reads the migrations from the git object database at REV (default HEAD;\n"
	"never the work tree), runs every check and refuses to build when one\n"
	"fails, then writes NAME-VERSION.tar.gz: manifest.yaml, SHA256SUMS, the\n"
	"migrations byte for byte, and a signed build statement per --sign key.\n"
	"VERSION is the highest migration version. The same commit gives the same\n"
	"bytes, on any machine, at any time. Prints the file's path; the bundle id\n"
	"(sha256 of manifest.yaml) goes to stderr and 'cairn inspect' shows it.\n"
	"The format is described in cairn-bundle(5).\n"
	"\n"
	"Options:\n"
	"   --ref REV               build from commit REV (a branch, tag or commit id)\n"
	"   -o, --output FILE       write FILE instead of NAME-VERSION.tar.gz\n"
	"   --sign KEY              sign with private key KEY (repeatable)\n"
	"   --signer NAME           the signer's name in the statement (default: KEY's\n"
	"                           file name without .key)\n"
	"   --passphrase-file FILE  the keys' passphrase (else $CAIRN_KEY_PASSPHRASE,\n"
	"                           else the terminal)\n",
};

/* The remote's URL without credentials: scheme://user:secret@host/x ->
 * scheme://host/x. */
static char *clean_url(const char *url)
{
	const char *scheme = strstr(url, "://"), *at, *slash;

	if (!scheme)
		return xstrdup(url);
	at = strchr(scheme + 3, '@');
	slash = strchr(scheme + 3, '/');
	if (!at || (slash && at > slash))
		return xstrdup(url);
	return xasprintf("%.*s%s", (int)(scheme + 3 - url), url, at + 1);
}

char *signer_name_of(const char *key_path, const char *given)
{
	const char *base = strrchr(key_path, '/');
	size_t len;

	if (given)
		return xstrdup(given);
	base = base ? base + 1 : key_path;
	len = strlen(base);
	if (ends_with(base, ".key"))
		len -= 4;
	return len ? xstrndup(base, len) : xstrdup("unknown");
}

int load_signers(char **paths, size_t n, const char *signer, const char *pass_file,
		 struct build_signer **out)
{
	struct build_signer *s = xcalloc(n ? n : 1, sizeof(*s));
	size_t i;
	int rc;

	*out = s;
	for (i = 0; i < n; i++) {
		rc = passphrase_load_key(&s[i].key, paths[i], pass_file);
		if (rc)
			return rc;
		s[i].signer = signer_name_of(paths[i], signer);
	}
	return 0;
}

void free_signers(struct build_signer *s, size_t n)
{
	size_t i;

	for (i = 0; s && i < n; i++) {
		seckey_free(s[i].key);
		free((char *)s[i].signer);
	}
	free(s);
}

/* Opens the project and runs every rule as 'cairn check --ref REV' (and
 * plain 'cairn check' on HEAD) runs them, then each migration's
 * provenance (m->prov_*), which the manifest records. */
static int build_check(struct project_ctx *ctx, const char *rev)
{
	struct history hist;
	struct buf out = BUF_INIT;
	int rc;

	memset(&hist, 0, sizeof(hist));
	rc = project_ctx_open(ctx, 1);
	/* the manifest's provenance would depend on the clone's depth too */
	if (!rc)
		rc = project_ctx_refuse_shallow(ctx, "build");
	if (!rc)
		rc = project_ctx_load(ctx, 0, rev);
	if (!rc)
		rc = project_ctx_refuse_partial(ctx);
	if (rc)
		goto out;
	if (project_ctx_check_commit(ctx, rev, &hist) < 0 ||
	    history_provenance(ctx->proj, ctx->repo, git_commit_id(ctx->src->commit)) < 0) {
		error_msg("cannot build from %s: %s", ctx->src->label, cairn_error_last());
		rc = EXIT_ENVIRONMENT;
		goto out;
	}
	if (ctx->findings.n) {
		findings_sort(&ctx->findings);
		findings_format_text(&ctx->findings, &out);
		fputs(buf_cstr(&out), stderr);
	}
	if (ctx->findings.errors) {
		error_msg("cannot build from %s: %zu error%s (run 'cairn check --ref %s')",
			  ctx->src->label, ctx->findings.errors,
			  ctx->findings.errors == 1 ? "" : "s", rev);
		rc = EXIT_FAILED;
	}
out:
	history_release(&hist);
	buf_release(&out);
	return rc;
}

/* Writes the bundle of the checked commit and says what it holds. */
static int build_write(struct project_ctx *ctx, const char *output,
		       struct build_signer *signers, size_t nkeys)
{
	struct build_req req;
	struct build_result res;
	char commit[GIT_OID_HEXSZ + 1], tree[GIT_OID_HEXSZ + 1];
	char *url = NULL;
	size_t i;
	int rc = EXIT_OK;

	memset(&req, 0, sizeof(req));
	memset(&res, 0, sizeof(res));
	git_oid_tostr(commit, sizeof(commit), git_commit_id(ctx->src->commit));
	git_oid_tostr(tree, sizeof(tree), git_commit_tree_id(ctx->src->commit));
	/* Nothing from the clone: its remote's URL differs per clone (a
	 * path, file://, https, ssh), and which ref named the commit is the
	 * builder's choice, so one commit would build several bundles. The
	 * repository is what the committed cairn.yaml says; the ref stays
	 * empty (the key remains for readers of earlier bundles). */
	if (ctx->proj->cfg.repository)
		url = clean_url(ctx->proj->cfg.repository);
	req.proj = ctx->proj;
	req.repo_url = url ? url : "";
	req.commit = commit;
	req.tree = tree;
	req.ref = "";
	req.commit_time = (long long)git_commit_time(ctx->src->commit);
	req.output = output;
	req.signers = signers;
	req.nsigners = nkeys;
	if (bundle_build(&req, &res) < 0) {
		error_msg("cannot build from %s: %s", ctx->src->label, cairn_error_last());
		rc = strstr(cairn_error_last(), "cannot write") ? EXIT_ENVIRONMENT : EXIT_FAILED;
		goto out;
	}
	printf("%s\n", res.path);
	fprintf(stderr, "cairn: built '%s' from %s: %zu migration%s, %zu file%s, bundle id %s",
		res.path, ctx->src->label, res.nmigs, res.nmigs == 1 ? "" : "s", res.nfiles,
		res.nfiles == 1 ? "" : "s", res.id);
	for (i = 0; i < nkeys; i++)
		fprintf(stderr, "%s%s", i ? ", " : ", signed by ", signers[i].key->pub->id);
	fprintf(stderr, "%s\n", nkeys ? "" : ", unsigned (sign it with 'cairn sign')");
out:
	build_result_release(&res);
	free(url);
	return rc;
}

int cmd_build(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "ref", required_argument, NULL, 'r' },
		{ "output", required_argument, NULL, 'o' },
		{ "sign", required_argument, NULL, 's' },
		{ "signer", required_argument, NULL, 'n' },
		{ "passphrase-file", required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	struct project_ctx ctx;
	struct build_signer *signers = NULL;
	char **keys = NULL;
	size_t nkeys = 0, keys_alloc = 0;
	const char *rev = "HEAD", *output = NULL, *signer = NULL, *pass_file = NULL;
	int c, rc;

	memset(&ctx, 0, sizeof(ctx));
	while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			rev = optarg;
			break;
		case 'o':
			output = optarg;
			break;
		case 's':
			ALLOC_GROW(keys, nkeys + 1, keys_alloc);
			keys[nkeys++] = optarg;
			break;
		case 'n':
			signer = optarg;
			break;
		case 'p':
			pass_file = optarg;
			break;
		default:
			free(keys);
			return usage_error(&cmd_build_desc, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc) {
		free(keys);
		return usage_error(&cmd_build_desc, "unexpected argument '%s'", argv[optind]);
	}
	/* What build reads is sealed and signed: unlike the checks (cmd/cairn.c
	 * turns this off for speed), every object is re-hashed as it is read,
	 * so a damaged object store fails the build instead of being signed. */
	git_libgit2_opts(GIT_OPT_ENABLE_STRICT_HASH_VERIFICATION, 1);
	/* keys first: a wrong passphrase should not cost a whole check */
	rc = load_signers(keys, nkeys, signer, pass_file, &signers);
	if (!rc)
		rc = build_check(&ctx, rev);
	if (!rc)
		rc = build_write(&ctx, output, signers, nkeys);
	free_signers(signers, nkeys);
	free(keys);
	project_ctx_release(&ctx);
	return rc;
}
