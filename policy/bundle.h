/* A bundle checked against an environment's policy: the trust the
 * environment's entry in the applier's config gives, the bundle opened and
 * authenticated with it, its statements turned into policy input and the
 * policy evaluated (policy.h). Never prints: the verdict lists every
 * refusal, and cmd/policy-report.c turns it into output. */
#ifndef CAIRN_POLICY_BUNDLE_H
#define CAIRN_POLICY_BUNDLE_H

#include <stddef.h>

#include "../verify/bundle.h"
#include "config.h"
#include "destructive.h"
#include "policy.h"

struct policy_bundle {
	struct trust *trust;
	struct bundle *b;
	struct policy_stmt *st;
	size_t nst;
	char ***allow;          /* per statement, the split 'allow' list */
	unsigned char (*raw)[32];
	char *latest;           /* the bundle's highest version */
	struct policy_verdict v;
	char *evidence;         /* the statements used, for the audit trail */
	/* destructive: {approvals:} (issue #18): the destructive statements
	 * of the bundle (scanned once, when an environment asks), and the
	 * migrations the database has applied, which wait for nothing */
	struct destructive_list dx;
	int dx_scanned;
	char **applied;         /* NULL: not known yet, every migration counts */
	size_t napplied;
	int defer_destructive;  /* the caller evaluates again with applied set
				 * before anything runs: the first evaluation
				 * leaves the destructive rule out */
};

/* pb->trust from e's keys in c: builders, approvers (and those of the
 * 'after' environment), receipts_from, admins. Returns 0, or -1 with the
 * error set ("cannot use key 'PATH': why"). */
int policy_bundle_trust(struct policy_bundle *pb, const struct policy_config *c,
			const struct policy_env *e);
/* Opens path with pb->trust (and opts, which may be NULL: bundle_open's
 * defaults) and turns its statements into policy input. Returns 0, or -1
 * with bundle_open's error set. */
int policy_bundle_open(struct policy_bundle *pb, const char *path,
		       const struct bundle_open_opts *opts);
/* Evaluates the policy for environment (needs: POLICY_OVERRIDE_* the
 * operation needs; db_latest: the database's highest applied version, NULL
 * when not known yet). Returns 0 with pb->v filled (and, when it is ok,
 * pb->evidence), or -1 with the error set when the inputs are unusable. */
int policy_bundle_evaluate(struct policy_bundle *pb, const struct policy_config *c,
			   const char *environment, unsigned needs, const char *db_latest);
/* The database's applied versions (copied; n 0 with versions NULL: none
 * applied), for the next evaluation: a destructive migration already
 * applied waits for nothing. */
void policy_bundle_set_applied(struct policy_bundle *pb, const char *const *versions, size_t n);
/* The destructive statements of migrations not applied yet (the items of
 * pb->dx, in order), the environment asking for them; 0 with *out empty
 * when none or when the environment asks nothing more. -1 with the error
 * set when a script cannot be read. */
int policy_bundle_destructive(struct policy_bundle *pb, const struct policy_config *c,
			      const char *environment, const struct destructive_item ***out,
			      size_t *n);
void policy_bundle_release(struct policy_bundle *pb);

#endif
