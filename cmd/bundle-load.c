/* Opening a bundle for the verbs that read one (apply, plan, status):
 * verification first, then the migrations (and, but for apply, this
 * driver's SQL) into an apply_set. */
#include <stdlib.h>
#include <string.h>

#include "../apply/load.h"
#include "../lib/error.h"
#include "../lib/util.h"
#include "../verify/bundle.h"
#include "cairn-apply.h"

int apply_ctx_load_bundle(struct apply_ctx *c, const char *path, const char *const *keys,
			  size_t nkeys, struct apply_set *set)
{
	struct trust *t = NULL;
	struct bundle *b = NULL;
	size_t i;
	int rc = EXIT_OK;
	char *msg = NULL;

	memset(set, 0, sizeof(*set));
	if (!path_exists(path)) {
		msg = xasprintf("cannot read bundle '%s': no such file", path);
		rc = EXIT_ENVIRONMENT;
		goto out;
	}
	if (nkeys) {
		t = trust_new();
		for (i = 0; i < nkeys; i++) {
			if (trust_add_builder_key(t, keys[i])) {
				msg = xasprintf("cannot use key '%s': %s", keys[i], cairn_error_last());
				rc = EXIT_ENVIRONMENT;
				goto out;
			}
		}
	}
	if (bundle_open(&b, path, t)) {
		msg = xasprintf("refusing bundle '%s': %s%s", path, cairn_error_last(),
				nkeys ? "" : " (no builder key is trusted: pass --key PUB, or name "
				"the applier's config with --config FILE)");
		rc = EXIT_REFUSED;
		goto out;
	}
	if (apply_set_load(set, b, c->drv->name, c->sql_when_run ? 0 : APPLY_LOAD_SQL)) {
		msg = xasprintf("cannot read bundle '%s': %s", path, cairn_error_last());
		rc = EXIT_REFUSED;
		goto out;
	}
	set->owns_bundle = 1;
	b = NULL; /* the set owns it now */
out:
	if (msg) {
		if (c->json)
			apply_ctx_json_error(c, rc, msg, "unchanged", NULL);
		error_msg("%s", msg);
		if (c->json == 0)
			error_msg("the database is unchanged");
	}
	free(msg);
	bundle_free(b);
	trust_free(t);
	return rc;
}
