/* A bundle checked against an environment's policy, for the verbs that
 * take --env with the applier's config (cairn-apply verify, plan, apply;
 * cairn verify --config): trust from the config, the bundle opened and
 * authenticated, then the policy evaluated (policy/bundle.h) and every
 * refusal printed. */
#ifndef CAIRN_POLICY_CHECK_H
#define CAIRN_POLICY_CHECK_H

#include "../policy/bundle.h"
#include "config.h"

/* Opens path with the trust ac's environment gives and checks the policy
 * (needs: POLICY_OVERRIDE_* the operation needs; db_latest: the database's
 * highest applied version, NULL when not known yet). Prints the refusals
 * ("PROG: refusing 'B' for 'ENV': RULE: ...") and returns EXIT_REFUSED,
 * EXIT_ENVIRONMENT (unreadable), or 0. */
int policy_bundle_check(struct policy_bundle *pb, const struct apply_config *ac,
			const char *path, unsigned needs, const char *db_latest);
/* The same, opening the bundle with opts (apply: an unchanged file). */
int policy_bundle_check_opts(struct policy_bundle *pb, const struct apply_config *ac,
			     const char *path, unsigned needs, const char *db_latest,
			     const struct bundle_open_opts *opts);
/* Only the first half: the trust, the bundle opened and authenticated
 * (status evaluates the policy itself: a refusal is a note there). Prints
 * why it failed; an exit code. */
int policy_bundle_load(struct policy_bundle *pb, const struct apply_config *ac,
		       const char *path, const struct bundle_open_opts *opts);
/* Evaluates again, once the database's highest version is known. */
int policy_bundle_recheck(struct policy_bundle *pb, const struct apply_config *ac,
			  const char *path, unsigned needs, const char *db_latest);

#endif
