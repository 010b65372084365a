/* The policy's verdict on a bundle (policy/bundle.h) turned into output:
 * every refusal printed, and an exit code. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../lib/error.h"
#include "../lib/util.h"
#include "cmd.h"
#include "policy-report.h"

/* "next: cairn promote B --to ENV --key K" for each approver of the
 * environment whose approval the verdict did not use: K is the private key
 * beside the approver's public one, as cairn keygen names them
 * (keys/bob.pub, keys/bob.key), so the line runs where the approver keeps
 * it. */
static void next_promote(const struct policy_bundle *pb, const struct apply_config *ac,
			 const char *path)
{
	const struct policy_keylist *l = policy_env_list(&ac->config, ac->env.env, "approvers");
	char *qb = shell_quote(path), *qe = shell_quote(ac->env.env_name);
	size_t i, j;

	for (i = 0; l && i < l->n; i++) {
		const struct policy_key *k = &l->items[i];
		size_t len = strlen(k->resolved);
		char *key, *qk;
		int used = 0;

		for (j = 0; j < pb->v.nused; j++)
			used |= pb->v.used[j]->key_id && !strcmp(pb->v.used[j]->key_id, k->key_id) &&
				!strcmp(pb->v.used[j]->type, "approval");
		/* one revoked now could sign no approval that counts */
		if (used || policy_revoked(&ac->config, ac->env.env, k->key_id, (long long)time(NULL)))
			continue;
		if (len > 4 && !strcmp(k->resolved + len - 4, ".pub"))
			key = xasprintf("%.*s.key", (int)(len - 4), k->resolved);
		else
			key = xasprintf("%s", "KEY");
		qk = shell_quote(key);
		error_msg("next: cairn promote %s --to %s --key %s", qb, qe, qk);
		free(qk);
		free(key);
	}
	free(qb);
	free(qe);
}

static int evaluate(struct policy_bundle *pb, const struct apply_config *ac, const char *path,
		    unsigned needs, const char *db_latest)
{
	size_t i;
	int destructive = 0;

	if (policy_bundle_evaluate(pb, &ac->config, ac->env.env_name, needs, db_latest) < 0) {
		error_msg("%s", cairn_error_last());
		return EXIT_USAGE;
	}
	if (!pb->v.ok) {
		for (i = 0; i < pb->v.nreasons; i++) {
			error_msg("refusing '%s' for '%s': %s: %s", path, ac->env.env_name,
				  pb->v.reasons[i].rule, pb->v.reasons[i].message);
			destructive |= !strcmp(pb->v.reasons[i].rule, "destructive");
		}
		for (i = 0; i < pb->v.nignored; i++)
			error_msg("note: %s", pb->v.ignored[i]);
		if (destructive)
			next_promote(pb, ac, path);
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
