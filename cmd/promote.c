/* cairn promote: an approval statement for a bundle and an environment; and
 * (statement_add, shared with cairn override) writing a signed statement
 * into the bundle. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../bundle/append.h"
#include "../bundle/build.h"
#include "../lib/error.h"
#include "../lib/util.h"
#include "../policy/policy.h"
#include "../verify/statement.h"
#include "cairn.h"
#include "promote.h"
#include "verify.h"

const struct cmd cmd_promote_desc = {
	"promote", cmd_promote,
	"approve a bundle for an environment (a signed approval statement)",
	"cairn promote BUNDLE --to ENV --key KEY [--contract] [--comment TEXT] [--expires DATE] [--ticket ID] [-o FILE]",
	"Checks BUNDLE's integrity, then adds an approval statement for its bundle\n"
	"id and ENV, signed by the private key KEY, under approvals/ inside the\n"
	"tarball: the one file carries its approvals to the applier. cairn-apply\n"
	"counts it when KEY's public half is among ENV's approvers. Approving\n"
	"again with the same key replaces the earlier approval.\n"
	"\n"
	"With --contract the statement is a contract statement instead: the\n"
	"release before this bundle is retired in ENV, so the bundle's migrations\n"
	"with phase: contract may run there. Without one, cairn-apply applies the\n"
	"expand migrations and stops before the first contract one (exit 7).\n"
	"\n"
	"Options:\n"
	"   --to ENV                the environment approved\n"
	"   --key KEY               the approver's private key\n"
	"   --contract              sign a contract statement (the old release is retired)\n"
	"   --comment TEXT          why, for the audit trail\n"
	"   --expires DATE          the approval stops counting then: a UTC time\n"
	"                           (2026-12-01T00:00:00Z), a date, or a duration (72h, 7d)\n"
	"   --ticket ID             a change ticket, for the audit trail\n"
	"   --signer NAME           the name in the statement (default: KEY's file name)\n"
	"   --passphrase-file FILE  the key's passphrase (else $CAIRN_KEY_PASSPHRASE,\n"
	"                           else the terminal)\n"
	"   -o, --output FILE       write FILE instead of replacing BUNDLE\n",
};

/* "2026-12-01T00:00:00Z", "2026-12-01", "72h", "7d" -> canonical UTC. */
static int parse_expires(const char *s, char out[21])
{
	long long t;
	unsigned long long ms;
	size_t len = strlen(s);

	if (parse_rfc3339(s, &t) == 0) {
		iso_time(t, out);
		return 0;
	}
	if (len > 1 && s[len - 1] == 'd') {
		char *num = xstrndup(s, len - 1);
		int ok = parse_duration_ms(num, &ms) == 0 && !strchr(num, 'm') && !strchr(num, 's') &&
			 !strchr(num, 'h');

		free(num);
		if (!ok)
			return -1;
		ms *= 86400ULL; /* "7" seconds times 86400 = 7 days in ms */
	} else if (parse_duration_ms(s, &ms) < 0 || !strpbrk(s, "smh")) {
		return -1;
	}
	iso_time((long long)time(NULL) + (long long)(ms / 1000), out);
	return 0;
}

static int env_name_valid(const char *s)
{
	const char *p;

	if (!*s || *s == '.' || *s == '-' || strlen(s) > 64)
		return 0;
	for (p = s; *p; p++)
		if (!(*p >= 'a' && *p <= 'z') && !(*p >= 'A' && *p <= 'Z') &&
		    !(*p >= '0' && *p <= '9') && *p != '_' && *p != '-' && *p != '.')
			return 0;
	return 1;
}

int statement_add(const struct cmd *desc, const struct statement_add_req *r)
{
	struct build_signer *signers = NULL;
	struct bundle *b = NULL;
	struct bundle_open_opts o;
	struct statement st;
	struct stmt_pair pair;
	char now[21], expires[21], pub_b64[48], sig[SIG_B64_LEN + 1];
	char *key = (char *)r->key;
	int rc;

	memset(&pair, 0, sizeof(pair));
	memset(&o, 0, sizeof(o));
	if (!env_name_valid(r->env))
		return usage_error(desc, "'%s' is not an environment name (letters, digits, '_', "
				   "'-', '.')", r->env);
	iso_time((long long)time(NULL), now);
	if (r->expires) {
		if (parse_expires(r->expires, expires) < 0)
			return usage_error(desc, "--expires must be a UTC time (2026-12-01T00:00:00Z), "
					   "a date or a duration (72h, 7d), not '%s'", r->expires);
		if (strcmp(expires, now) <= 0)
			return usage_error(desc, "--expires %s is already past (now: %s)", expires, now);
	}
	rc = load_signers(&key, 1, r->signer, r->pass_file, &signers);
	if (rc)
		goto out;
	o.untrusted = 1;
	if (bundle_open_opts(&b, r->path, NULL, &o) < 0) {
		error_msg("cannot %s '%s': %s", desc->name, r->path, cairn_error_last());
		rc = bundle_error_exit(r->path);
		goto out;
	}
	memset(&st, 0, sizeof(st));
	base64_encode(signers[0].key->pub->raw, KEY_RAW_LEN, pub_b64);
	st.type = (char *)r->type;
	st.bundle = b->id;
	st.environment = (char *)r->env;
	st.signer = (char *)signers[0].signer;
	st.key = signers[0].key->pub->id;
	st.public_key = pub_b64;
	st.time = now;
	st.expires = r->expires ? expires : NULL;
	st.comment = (char *)r->comment;
	st.ticket = (char *)r->ticket;
	st.allow = (char *)r->allow;
	if (statement_format(&st, &pair.yaml) < 0 ||
	    seckey_sign(signers[0].key, pair.yaml.ptr, pair.yaml.len, sig) < 0 ||
	    buf_printf(&pair.sig, "%s\n", sig) < 0) {
		error_msg("cannot sign the %s: %s", r->type, cairn_error_last());
		rc = EXIT_FAILED;
		goto out;
	}
	pair.base = statement_member_base(r->type, r->env, st.key);
	if (bundle_append_statements(b, r->output ? r->output : r->path, &pair, 1) < 0) {
		error_msg("cannot write '%s': %s", r->output ? r->output : r->path, cairn_error_last());
		rc = EXIT_ENVIRONMENT;
		goto out;
	}
	printf("%s\n", r->output ? r->output : r->path);
	fprintf(stderr, "cairn: %s %s for '%s' by key %s (%s): %s.yaml%s%s\n",
		!strcmp(r->type, "approval")	 ? "approved"
		: !strcmp(r->type, "contract") ? "contract migrations approved in"
					       : "override", b->id, r->env, st.key,
		st.signer, pair.base, r->expires ? ", expires " : "", r->expires ? expires : "");
	rc = EXIT_OK;
out:
	stmt_pair_release(&pair);
	bundle_free(b);
	free_signers(signers, signers ? 1 : 0);
	return rc;
}

int statement_add_take(struct statement_add_req *r, const struct cmd *desc, int opt,
		       char **argv)
{
	switch (opt) {
	case 't': r->env = optarg; break;
	case 'k': r->key = optarg; break;
	case 'c': r->comment = optarg; break;
	case 'e': r->expires = optarg; break;
	case 'T': r->ticket = optarg; break;
	case 'n': r->signer = optarg; break;
	case 'p': r->pass_file = optarg; break;
	case 'o': r->output = optarg; break;
	default:
		if (optopt)
			return usage_error(desc, "option '%s' needs a value", argv[optind - 1]);
		return usage_error(desc, "unknown option '%s'", argv[optind - 1]);
	}
	return EXIT_OK;
}

int cmd_promote(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "to", required_argument, NULL, 't' },
		STATEMENT_ADD_OPTIONS,
		{ "contract", no_argument, NULL, 'C' },
		{ NULL, 0, NULL, 0 },
	};
	struct statement_add_req r;
	int c, rc;

	memset(&r, 0, sizeof(r));
	r.type = "approval";
	while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
		if (c == 'C')
			r.type = "contract";
		else if ((rc = statement_add_take(&r, &cmd_promote_desc, c, argv)))
			return rc;
	}
	if (optind + 1 != argc)
		return usage_error(&cmd_promote_desc, optind < argc ? "unexpected argument '%s'"
				   : "missing BUNDLE", optind < argc ? argv[optind + 1] : "");
	if (!r.env)
		return usage_error(&cmd_promote_desc, "missing --to ENV (the environment approved)");
	if (!r.key)
		return usage_error(&cmd_promote_desc, "missing --key KEY (the approver's private key)");
	r.path = argv[optind];
	return statement_add(&cmd_promote_desc, &r);
}
