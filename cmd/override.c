/* cairn override: an admin's override statement for a bundle and an
 * environment, allowing what the policy otherwise refuses. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/buf.h"
#include "../lib/error.h"
#include "../policy/policy.h"
#include "cairn.h"
#include "promote.h"

const struct cmd cmd_override_desc = {
	"override", cmd_override,
	"allow what the policy refuses (a signed override statement, for admins)",
	"cairn override BUNDLE --env ENV --key KEY --allow OP... [--comment TEXT] [--expires DATE] [--ticket ID] [-o FILE]",
	"Adds an override statement for BUNDLE's id and ENV, signed by KEY, under\n"
	"approvals/ inside the tarball. cairn-apply honours it when KEY's public half\n"
	"is among ENV's admins. OP (repeatable) is one of:\n"
	"   older-bundle   apply a bundle older than what the database already has\n"
	"   no-receipt     apply without a receipt from a receipts_from key\n"
	"   repair         mark a failed or in-progress migration applied or rolled back\n"
	"   force          reserved: the applier cannot force past a failed or\n"
	"                  in-progress migration yet (use repair)\n"
	"   identity       move a database to ENV (or to BUNDLE's project): it\n"
	"                  belongs to another environment or project\n"
	"\n"
	"Options:\n"
	"   --env ENV               the environment\n"
	"   --key KEY               an admin's private key\n"
	"   --allow OP              what it allows (repeatable)\n"
	"   --comment TEXT          why, for the audit trail\n"
	"   --expires DATE          stops counting then (UTC time, date, or 72h, 7d)\n"
	"   --ticket ID             a change ticket\n"
	"   --signer NAME           the name in the statement (default: KEY's file name)\n"
	"   --passphrase-file FILE  the key's passphrase\n"
	"   -o, --output FILE       write FILE instead of replacing BUNDLE\n",
};

int cmd_override(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "env", required_argument, NULL, 't' },
		STATEMENT_ADD_OPTIONS,
		{ "allow", required_argument, NULL, 'a' },
		{ NULL, 0, NULL, 0 },
	};
	struct statement_add_req r;
	struct buf allow = BUF_INIT;
	int c, rc;

	memset(&r, 0, sizeof(r));
	r.type = "override";
	while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
		switch (c) {
		case 'a':
			if (!policy_override_bit(optarg)) {
				buf_release(&allow);
				return usage_error(&cmd_override_desc, "--allow takes older-bundle, "
						   "no-receipt, repair, force or identity, not '%s'", optarg);
			}
			buf_printf(&allow, "%s%s", allow.len ? "," : "", optarg);
			break;
		default:
			if ((rc = statement_add_take(&r, &cmd_override_desc, c, argv))) {
				buf_release(&allow);
				return rc;
			}
		}
	}
	if (optind + 1 != argc)
		rc = usage_error(&cmd_override_desc, optind < argc ? "unexpected argument '%s'"
				 : "missing BUNDLE", optind < argc ? argv[optind + 1] : "");
	else if (!r.env)
		rc = usage_error(&cmd_override_desc, "missing --env ENV");
	else if (!r.key)
		rc = usage_error(&cmd_override_desc, "missing --key KEY (an admin's private key)");
	else if (!allow.len)
		rc = usage_error(&cmd_override_desc, "missing --allow OP (what the override allows)");
	else {
		r.path = argv[optind];
		r.allow = buf_cstr(&allow);
		rc = statement_add(&cmd_override_desc, &r);
	}
	buf_release(&allow);
	return rc;
}
