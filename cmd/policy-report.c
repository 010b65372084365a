/* The policy's verdict on a bundle (policy/bundle.h) turned into output:
 * every refusal printed, and an exit code. */
#include <stddef.h>
#include <string.h>

#include "../lib/error.h"
#include "../lib/util.h"
#include "cmd.h"
#include "policy-report.h"

static int evaluate(struct policy_bundle *pb, const struct apply_config *ac, const char *path,
		    unsigned needs, const char *db_latest)
{
	size_t i;

	if (policy_bundle_evaluate(pb, &ac->config, ac->env.env_name, needs, db_latest) < 0) {
		error_msg("%s", cairn_error_last());
		return EXIT_USAGE;
	}
	if (!pb->v.ok) {
		for (i = 0; i < pb->v.nreasons; i++)
			error_msg("refusing '%s' for '%s': %s: %s", path, ac->env.env_name,
				  pb->v.reasons[i].rule, pb->v.reasons[i].message);
		for (i = 0; i < pb->v.nignored; i++)
			error_msg("note: %s", pb->v.ignored[i]);
		return EXIT_REFUSED;
	}
	return 0;
}

int policy_bundle_check(struct policy_bundle *pb, const struct apply_config *ac,
			const char *path, unsigned needs, const char *db_latest)
{
	return policy_bundle_check_opts(pb, ac, path, needs, db_latest, NULL);
}

int policy_bundle_check_opts(struct policy_bundle *pb, const struct apply_config *ac,
			     const char *path, unsigned needs, const char *db_latest,
			     const struct bundle_open_opts *opts)
{
	int rc = policy_bundle_load(pb, ac, path, opts);

	return rc ? rc : evaluate(pb, ac, path, needs, db_latest);
}

int policy_bundle_load(struct policy_bundle *pb, const struct apply_config *ac,
		       const char *path, const struct bundle_open_opts *opts)
{
	memset(pb, 0, sizeof(*pb));
	if (policy_bundle_trust(pb, &ac->config, ac->env.env) < 0) {
		error_msg("%s", cairn_error_last());
		return EXIT_ENVIRONMENT;
	}
	if (!path_exists(path)) {
		error_msg("cannot read bundle '%s': no such file", path);
		return EXIT_ENVIRONMENT;
	}
	if (policy_bundle_open(pb, path, opts) < 0) {
		error_msg("refusing '%s' for '%s': build: %s", path, ac->env.env_name,
			  cairn_error_last());
		return bundle_error_exit(path);
	}
	return 0;
}

int policy_bundle_recheck(struct policy_bundle *pb, const struct apply_config *ac,
			  const char *path, unsigned needs, const char *db_latest)
{
	return evaluate(pb, ac, path, needs, db_latest);
}
