/* Opening a bundle for the verbs that read one (apply, plan, status):
 * verification first, then the migrations (and, but for apply, this
 * driver's SQL) into an apply_set; and for apply, the bundle files it
 * verified whole, recorded in the books. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../apply/load.h"
#include "../lib/error.h"
#include "../lib/heap.h"
#include "../lib/thread.h"
#include "../lib/util.h"
#include "../verify/bundle.h"
#include "cairn-apply.h"

/* The --key files, loaded on a thread of their own while the bundle's
 * head is inflated: the first key is OpenSSL's first use (its config,
 * its providers, the key type's methods: ~5 M instructions, 2 to 5 ms
 * of the main thread before the bundle was opened), and the reader needs
 * the keys only to authenticate the statements (trust_ready). */
struct key_load {
	struct trust *t;
	const char *const *keys;
	size_t nkeys, failed; /* the key that could not be used; nkeys: none */
	char err[CAIRN_ERRMSG_MAX];
	pthread_t thread;
	int started;
};

static void *key_load_run(void *arg)
{
	struct key_load *kl = arg;
	size_t i;

	for (i = 0; i < kl->nkeys; i++)
		if (trust_add_builder_key(kl->t, kl->keys[i])) {
			kl->failed = i;
			snprintf(kl->err, sizeof(kl->err), "%s", cairn_error_last());
			break;
		}
	return NULL;
}

/* Joined (once); 0 when every key is in, else -1 with the error set. */
static int key_load_wait(void *ctx)
{
	struct key_load *kl = ctx;

	if (kl->started) {
		pthread_join(kl->thread, NULL);
		kl->started = 0;
	}
	if (kl->failed == kl->nkeys)
		return 0;
	cairn_error_set("cannot use key '%s': %s", kl->keys[kl->failed], kl->err);
	return -1;
}

int apply_ctx_load_bundle(struct apply_ctx *c, const char *path, const char *const *keys,
			  size_t nkeys, struct apply_set *set)
{
	struct key_load kl = { .keys = keys, .nkeys = nkeys, .failed = nkeys };
	struct bundle *b = NULL;
	struct bundle_open_opts o;
	int rc = EXIT_OK;
	char *msg = NULL;

	memset(set, 0, sizeof(*set));
	memset(&o, 0, sizeof(o));
	if (!path_exists(path)) {
		msg = xasprintf("cannot read bundle '%s': no such file", path);
		rc = EXIT_ENVIRONMENT;
		goto out;
	}
	if (nkeys) {
		kl.t = trust_new();
		kl.started = thread_start_apart(&kl.thread, key_load_run, &kl) == 0;
		if (!kl.started)
			key_load_run(&kl);
		o.trust_ready = key_load_wait;
		o.trust_ctx = &kl;
	}
	if (c->early && c->sql_when_run) {
		o.known_file = apply_ctx_known_file;
		o.known_ctx = c;
	}
	/* this bundle is never written again: a receipt opens its own
	 * (apply_policy_receipt) */
	o.drop_manifest_bytes = 1;
	if (bundle_open_opts(&b, path, kl.t, &o)) {
		/* a key that cannot be used is named first, as when the keys
		 * were loaded before the bundle was opened */
		if (nkeys && key_load_wait(&kl) < 0) {
			msg = xstrdup(cairn_error_last());
			rc = EXIT_ENVIRONMENT;
			goto out;
		}
		msg = xasprintf("refusing bundle '%s': %s%s", path, cairn_error_last(),
				nkeys ? "" : " (no builder key is trusted: pass --key PUB, or name "
				"the applier's config with --config FILE)");
		rc = EXIT_REFUSED;
		goto out;
	}
	heap_give_back();
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
	if (kl.started)
		(void)key_load_wait(&kl);
	trust_free(kl.t);
	return rc;
}

int apply_ctx_known_file(void *ctx, const char *sha256_hex)
{
	struct apply_ctx *c = ctx;
	struct db *db;

	/* only a connection that already exists: PostgreSQL is never opened
	 * before the bundle is verified (no trace of a refused bundle) */
	if (!c->early || !c->drv->bundle_file_known || !(db = early_open_wait(c->early)))
		return 0;
	return c->drv->bundle_file_known(db, sha256_hex) > 0;
}

void apply_ctx_record_file(struct apply_ctx *c, const struct apply_set *set,
			   unsigned long long lock_ms)
{
	const struct bundle *b = set->bundle;
	struct timespec ts;
	struct tm tm;
	char at[32];

	if (!b || !*b->file_sha256 || bundle_members_checked_before(b) ||
	    !c->drv->bundle_file_record || !c->db)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	if (!strftime(at, sizeof(at), "%Y-%m-%dT%H:%M:%SZ", &tm))
		return;
	if (c->drv->lock(c->db, lock_ms))
		return;
	(void)c->drv->bundle_file_record(c->db, b->file_sha256, b->id, at);
	(void)c->drv->unlock(c->db);
}
