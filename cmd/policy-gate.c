#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../apply/load.h"
#include "../bundle/append.h"
#include "../drivers/driver.h"
#include "../lib/buf.h"
#include "../lib/error.h"
#include "../lib/util.h"
#include "../receipt/receipt.h"
#include "../verify/keys.h"
#include "policy-gate.h"
#include "verify.h"

static void extension_note(const struct policy_resolved *r, char **out);

int apply_policy_begin(struct apply_policy *ap, const struct cmd *c, const char *config,
		       const char **env, const char **dsn, const char *lock_flag,
		       unsigned long long *lock_ms, size_t nkeys)
{
	struct apply_config_flags f;
	int rc;

	memset(ap, 0, sizeof(*ap));
	if (nkeys && config)
		return usage_error(c, "--key and --config are exclusive: the config's builders "
				   "are the trusted keys");
	if (nkeys)
		return 0;
	/* no config anywhere: nothing is trusted but --key, and without one
	 * the bundle is refused (apply_ctx_load_bundle says how to trust) */
	if (!config && !(getenv(POLICY_CONFIG_ENV) && *getenv(POLICY_CONFIG_ENV)) &&
	    !path_exists(POLICY_CONFIG_FILE))
		return 0;
	ap->active = 1;
	memset(&f, 0, sizeof(f));
	f.config = config;
	f.env = *env;
	f.db = *dsn;
	f.lock_timeout = lock_flag;
	rc = apply_config_open(&ap->ac, c, &f);
	if (rc)
		return rc;
	/* every later sqlite open loads them, before the migrations run,
	 * through the descriptors opened and hashed here */
	if (driver_sqlite_set_extensions((const char *const *)ap->ac.env.sqlite_extensions,
					 ap->ac.env.nsqlite_extensions) < 0) {
		error_msg("cannot read a SQLite extension: %s", cairn_error_last());
		return EXIT_ENVIRONMENT;
	}
	extension_note(&ap->ac.env, &ap->ext_note);
	*env = ap->ac.env.env_name;
	if (policy_database_dsn(&ap->ac.env, &ap->dsn) < 0) {
		if (ap->ac.env.db_kind == POLICY_DB_NONE)
			return usage_error(c, "%s", cairn_error_last());
		error_msg("%s", cairn_error_last());
		return EXIT_ENVIRONMENT;
	}
	*dsn = ap->dsn;
	if (lock_ms)
		*lock_ms = ap->ac.env.lock_timeout_ms;
	return 0;
}

int apply_policy_begin_books(struct apply_policy *ap, const struct cmd *c, const char *config,
			     const char **env, const char **dsn, const char *lock_flag,
			     unsigned long long *lock_ms)
{
	const char *var = getenv("CAIRN_ENV");

	if (!*env && var && *var)
		*env = var;
	return apply_policy_begin(ap, c, config, env, dsn, lock_flag, lock_ms, 0);
}

int apply_policy_load_bundle(struct apply_policy *ap, struct apply_ctx *c, const char *path,
			     unsigned needs, const char *const *keys, size_t nkeys,
			     struct apply_set *set)
{
	struct bundle_open_opts o;
	int rc;

	if (!ap->active) {
		/* --key: a developer's own database, no environment to ask */
		rc = apply_ctx_load_bundle(c, path, keys, nkeys, set);
		set->contract_approved = 1;
		return rc;
	}
	memset(set, 0, sizeof(*set));
	memset(&o, 0, sizeof(o));
	if (c->early && c->sql_when_run) {
		o.known_file = apply_ctx_known_file;
		o.known_ctx = c;
	}
	/* as in --key mode: a receipt opens its own copy (apply_policy_receipt),
	 * so the manifest's bytes need not be held through the run */
	o.drop_manifest_bytes = 1;
	/* the destructive rule waits for the database's applied versions:
	 * apply_policy_check_db evaluates again before anything runs */
	rc = policy_bundle_load(&ap->pb, &ap->ac, path, &o);
	if (!rc) {
		ap->pb.defer_destructive = 1;
		rc = policy_bundle_recheck(&ap->pb, &ap->ac, path, needs, NULL);
	}
	if (!rc && apply_set_load(set, ap->pb.b, c->drv->name,
				  c->sql_when_run ? 0 : APPLY_LOAD_SQL) < 0) {
		error_msg("cannot read bundle '%s': %s", path, cairn_error_last());
		rc = EXIT_REFUSED;
	}
	if (!rc)
		set->contract_approved = ap->pb.v.contract;
	if (rc) {
		if (c->json)
			apply_ctx_json_error(c, rc, "refused by the environment's policy", "unchanged",
					     NULL);
		error_msg("the database is unchanged");
	}
	return rc;
}

int apply_policy_check_db(struct apply_policy *ap, struct apply_ctx *c, const char *path,
			  unsigned needs)
{
	struct bk_row *rows = NULL;
	size_t n = 0, i, ndone = 0;
	const char *latest = NULL, **done;
	int exists = 0, rc = 0;

	if (!ap->active)
		return 0;
	if (c->drv->bk_exists(c->db, &exists) || (exists && c->drv->bk_read(c->db, &rows, &n))) {
		error_msg("cannot read the bookkeeping: %s", cairn_error_last());
		return EXIT_ENVIRONMENT;
	}
	done = xcalloc(n + 1, sizeof(*done));
	for (i = 0; i < n; i++)
		if (!strcmp(rows[i].state, BK_APPLIED)) {
			done[ndone++] = rows[i].version;
			if (!latest || version_cmp(rows[i].version, latest) > 0)
				latest = rows[i].version;
		}
	policy_bundle_set_applied(&ap->pb, done, ndone);
	free(done);
	if (!(latest && ap->pb.latest && version_cmp(latest, ap->pb.latest) > 0))
		latest = NULL;
	/* destructive: {approvals:} counts the migrations still to run */
	if (latest || policy_env_destructive_approvals(&ap->ac.config, ap->ac.env.env)) {
		rc = policy_bundle_recheck(&ap->pb, &ap->ac, path, needs, latest);
		if (rc) {
			if (c->json)
				apply_ctx_json_error(c, rc, "refused by the environment's policy",
						     "unchanged", NULL);
			error_msg("the database is unchanged");
		}
	}
	bk_rows_free(rows, n);
	return rc;
}

/* The policy's evidence and the SQLite extensions loaded, for every audit
 * row's detail (under the audit chain's hash). */
void apply_policy_note_db(struct apply_policy *ap, const struct apply_ctx *c)
{
	char *note;

	if (ap->db_noted || !c->drv || !c->db || strcmp(c->drv->name, "postgres"))
		return;
	ap->db_noted = 1;
	note = xasprintf("%s%sconnected=%s", ap->ext_note ? ap->ext_note : "",
			 ap->ext_note ? "; " : "", c->drv->display_name(c->db));
	free(ap->ext_note);
	ap->ext_note = note;
}

int apply_policy_role_refuse(const struct apply_policy *ap, int signs_receipt,
			     const char **why)
{
	const struct policy_resolved *r = &ap->ac.env;

	*why = r->pg_privileged_refuse || !ap->active ? r->pg_privileged_src
		: "the default for a run that signs a receipt";
	return ap->active && (r->pg_privileged_refuse || (!r->pg_privileged_set && signs_receipt));
}

const char *apply_policy_evidence(struct apply_policy *ap)
{
	const char *ev = ap->active ? ap->pb.evidence : NULL;

	if (!ap->ext_note)
		return ev;
	free(ap->evidence);
	ap->evidence = xasprintf("%s%s%s", ev ? ev : "", ev && *ev ? "; " : "", ap->ext_note);
	return ap->evidence;
}

/* "sqlite_extensions=PATH sha256:HEX, PATH sha256:HEX" of the extensions
 * the environment names, hashed when the driver opened them (NULL: none). */
static void extension_note(const struct policy_resolved *r, char **out)
{
	struct buf b = BUF_INIT;
	size_t i;

	*out = NULL;
	for (i = 0; i < r->nsqlite_extensions; i++)
		buf_printf(&b, "%s%s sha256:%s", i ? ", " : "sqlite_extensions=",
			   r->sqlite_extensions[i], driver_sqlite_extension_sha256(i));
	if (b.len)
		*out = buf_detach(&b, NULL);
}

int apply_policy_receipt(struct apply_policy *ap, struct apply_ctx *c, const char *path,
			 const char *env, const struct receipt_key *key, const char *checkpoint)
{
	const struct bundle *verified = ap->active ? ap->pb.b : NULL;
	struct bundle *b = NULL;
	struct bundle_open_opts o;
	struct receipt_req r;
	struct stmt_pair pair;
	char now[32];
	int rc = EXIT_ENVIRONMENT;

	memset(&pair, 0, sizeof(pair));
	/* the loader dropped the manifest's bytes (--key mode freed the whole
	 * bundle): the receipt is appended through a copy of its own, which
	 * must be the bundle that was verified and applied */
	memset(&o, 0, sizeof(o));
	o.untrusted = 1;
	if (bundle_open_opts(&b, path, NULL, &o) < 0) {
		error_msg("cannot add a receipt to '%s': %s", path, cairn_error_last());
		return bundle_error_exit(path);
	}
	if (verified && strcmp(b->id, verified->id)) {
		error_msg("the migrations are applied, but no receipt was added: '%s' is no longer "
			  "the bundle that was verified (%s, now %s); put that bundle back and run "
			  "the same apply again: nothing is pending then, and it adds the receipt",
			  path, verified->id, b->id);
		goto out;
	}
	engine_now(now);
	memset(&r, 0, sizeof(r));
	r.key = key;
	r.bundle_id = b->id;
	r.environment = env;
	r.database = c->drv->display_name(c->db);
	r.time = now;
	r.checkpoint = checkpoint;
	if (receipt_sign(&r, &pair) < 0) {
		error_msg("the migrations are applied, but no receipt was signed: %s",
			  cairn_error_last());
		goto out;
	}
	if (bundle_append_statements(b, path, &pair, 1) < 0) {
		error_msg("the migrations are applied, but the receipt could not be added to "
			  "'%s': %s", path, cairn_error_last());
		goto out;
	}
	free(ap->receipt);
	ap->receipt = xasprintf("%s.yaml", pair.base);
	if (!c->json)
		fprintf(stderr, "cairn-apply: receipt for '%s' added to '%s': %s\n", env, path,
			ap->receipt);
	rc = 0;
out:
	stmt_pair_release(&pair);
	bundle_free(b);
	return rc;
}

int apply_policy_overrides(const struct apply_policy *ap, unsigned which)
{
	return ap->active && (ap->pb.v.overrides & which) == which;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

char *apply_policy_builders(const struct apply_policy *ap, const char *const *keys, size_t nkeys)
{
	const struct policy_keylist *l = ap->active ? ap->ac.env.builders : NULL;
	size_t n = l ? l->n : nkeys, i, k = 0;
	char **ids = xcalloc(n ? n : 1, sizeof(*ids));
	struct buf out = BUF_INIT;

	for (i = 0; i < n; i++) {
		struct pubkey *pk = NULL;

		if (l)
			ids[k++] = xstrdup(l->items[i].key_id);
		else if (pubkey_load(&pk, keys[i]) == 0)
			ids[k++] = xstrdup(pk->id);
		pubkey_free(pk);
	}
	qsort(ids, k, sizeof(*ids), cmp_str);
	for (i = 0; i < k; i++)
		if (!i || strcmp(ids[i], ids[i - 1]))
			buf_printf(&out, "%s%s", out.len ? "," : "", ids[i]);
	/* freed after: each is compared with the one before it */
	for (i = 0; i < k; i++)
		free(ids[i]);
	free(ids);
	return buf_detach(&out, NULL);
}

/* 1 when the policy revokes key id for a statement made at time t
 * (seconds since the epoch): revoked with no 'since', or since at or before
 * t, as the policy's own check counts statements (policy_revoked). */
static int revoked_at(const struct apply_policy *ap, const char *id, long long t)
{
	return ap->active && ap->ac.env.env &&
	       policy_revoked(&ap->ac.config, ap->ac.env.env, id, t) != NULL;
}

char *apply_policy_signers(const struct apply_policy *ap, const struct apply_set *set)
{
	const struct bundle *b = ap->active ? ap->pb.b : set->bundle;
	struct buf out = BUF_INIT;
	size_t i;

	if (!b)
		return NULL;
	for (i = 0; i < b->nstatements; i++) {
		const struct bundle_statement *s = &b->statements[i];
		long long t;

		/* a build signature made at or after its key's revocation counts
		 * for nothing; one made before it still counts */
		if (s->type && !strcmp(s->type, "build") && s->valid && s->trusted &&
		    (!ap->active || (parse_rfc3339(s->time, &t) == 0 && !revoked_at(ap, s->key_id, t))))
			buf_printf(&out, "%s%s", out.len ? "," : "", s->key_id);
	}
	return out.len ? buf_detach(&out, NULL) : xstrdup("");
}

char *apply_policy_revoked(const struct apply_policy *ap)
{
	struct buf out = BUF_INIT;
	long long now = (long long)time(NULL);
	size_t i;

	/* the keys whose revocation is in effect now: a revocation dated in the
	 * future (since after now) does not yet rotate the database's trust */
	for (i = 0; ap->active && i < ap->ac.env.revoked.n; i++) {
		const struct policy_key *k = &ap->ac.env.revoked.items[i];

		if (*k->key_id && (!k->since || now >= k->since_epoch))
			buf_printf(&out, "%s%s", out.len ? "," : "", k->key_id);
	}
	return out.len ? buf_detach(&out, NULL) : xstrdup("");
}

void apply_policy_release(struct apply_policy *ap)
{
	if (!ap)
		return;
	policy_bundle_release(&ap->pb);
	if (ap->active)
		apply_config_release(&ap->ac);
	if (ap->dsn) {
		memset(ap->dsn, 0, strlen(ap->dsn));
		free(ap->dsn);
	}
	free(ap->receipt);
	free(ap->ext_note);
	free(ap->evidence);
	memset(ap, 0, sizeof(*ap));
}

void apply_policy_backup(struct backup_ctx *b, const struct apply_policy *ap,
			 struct apply_ctx *c, const char *env, const char *bundle_id)
{
	memset(b, 0, sizeof(*b));
	b->drv = c->drv;
	b->db = c->db;
	b->off = ap->active && ap->ac.env.backup_off;
	b->dir = ap->active ? ap->ac.env.backup_dir : NULL;
	b->command = ap->active ? ap->ac.env.backup_command : NULL;
	b->timeout_ms = ap->active ? ap->ac.env.backup_timeout_ms : 0;
	b->env = env;
	b->bundle_id = bundle_id;
}
