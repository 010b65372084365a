/* The applier's config (config.c) merged for one environment: flags over
 * CAIRN_* variables over the file over built-in defaults, and the
 * database's DSN. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "../lib/error.h"
#include "../lib/sha256.h"
#include "../lib/util.h"
#include "../lib/yaml.h"
#include "config-private.h"
#include "config.h"
/* ------------------------------------------------------------------ */
/* merging */

const char *policy_source_name(enum policy_source s)
{
	switch (s) {
	case POLICY_SRC_FLAG:
		return "flag";
	case POLICY_SRC_ENV:
		return "env";
	case POLICY_SRC_FILE:
		return "file";
	case POLICY_SRC_DEFAULT:
		break;
	}
	return "default";
}

static void setting(struct policy_setting *s, enum policy_source src, char *origin)
{
	s->source = src;
	free(s->origin);
	s->origin = origin;
}

static char *file_origin(const struct policy_config *c, int line, int col)
{
	return xasprintf("%s:%d:%d", c->path, line, col);
}

/* The environment: --env, else CAIRN_ENV; *out is its entry in c. */
static int resolve_env(struct policy_resolved *r, const struct policy_config *c,
		       const struct policy_inputs *in, const struct policy_env **out)
{
	const struct policy_env *e;
	const char *name;
	size_t i;

	if (in->flag_env && *in->flag_env) {
		name = in->flag_env;
		setting(&r->env_name_src, POLICY_SRC_FLAG, xstrdup("--env"));
	} else if (in->env_env && *in->env_env) {
		name = in->env_env;
		setting(&r->env_name_src, POLICY_SRC_ENV, xstrdup("CAIRN_ENV"));
	} else {
		struct buf m = BUF_INIT;

		buf_puts(&m, "no environment named: pass --env ENV or set CAIRN_ENV (");
		for (i = 0; i < c->nenvs; i++)
			buf_printf(&m, "%s'%s'", i ? ", " : "", c->envs[i].name);
		buf_printf(&m, " in '%s')", c->path);
		cairn_error_set("%s", buf_cstr(&m));
		buf_release(&m);
		return -1;
	}
	e = policy_config_env(c, name);
	if (!e) {
		struct buf m = BUF_INIT;

		policy_config_unknown_env(c, name, &m);
		cairn_error_set("%s", buf_cstr(&m));
		buf_release(&m);
		return -1;
	}
	r->env = e;
	r->env_name = xstrdup(e->name);
	*out = e;
	return 0;
}

static int resolve_db(struct policy_resolved *r, const struct policy_config *c,
		      const struct policy_inputs *in, const struct policy_env *e)
{
	/* database: --db, CAIRN_DB, the file */
	if (in->flag_db && *in->flag_db) {
		r->db_kind = POLICY_DB_DSN;
		r->db_value = xstrdup(in->flag_db);
		setting(&r->db_src, POLICY_SRC_FLAG, xstrdup("--db"));
	} else if (in->env_db && *in->env_db) {
		r->db_kind = POLICY_DB_DSN;
		r->db_value = xstrdup(in->env_db);
		setting(&r->db_src, POLICY_SRC_ENV, xstrdup("CAIRN_DB"));
	} else if (e->db_kind != POLICY_DB_NONE) {
		r->db_kind = e->db_kind;
		r->db_value = xstrdup(e->db_value);
		setting(&r->db_src, POLICY_SRC_FILE, file_origin(c, e->db_line, e->db_col));
	} else {
		r->db_kind = POLICY_DB_NONE;
		setting(&r->db_src, POLICY_SRC_DEFAULT, xstrdup("none"));
	}
	if (r->db_kind == POLICY_DB_DSN && r->db_src.source != POLICY_SRC_FILE &&
	    !dsn_form_ok(r->db_value)) {
		char *masked = dsn_mask(r->db_value);

		cairn_error_set("%s: '%s' is not a DSN: use sqlite:PATH, postgres://... or a "
				"libpq keyword string (host=... dbname=...)",
				r->db_src.origin, masked);
		free(masked);
		return -1;
	}
	return 0;
}

static int resolve_lock_timeout(struct policy_resolved *r, const struct policy_config *c,
				const struct policy_inputs *in, const struct policy_env *e)
{
	const struct policy_env *d = &c->defaults;

	/* lock timeout: --lock-timeout, CAIRN_LOCK_TIMEOUT, environment, defaults, built-in */
	if (in->flag_lock_timeout && *in->flag_lock_timeout) {
		if (parse_duration_ms(in->flag_lock_timeout, &r->lock_timeout_ms) < 0) {
			cairn_error_set("--lock-timeout must be a duration such as 30s, 5m or 250ms, "
					"not '%s'", in->flag_lock_timeout);
			return -1;
		}
		setting(&r->lock_timeout_src, POLICY_SRC_FLAG, xstrdup("--lock-timeout"));
	} else if (in->env_lock_timeout && *in->env_lock_timeout) {
		if (parse_duration_ms(in->env_lock_timeout, &r->lock_timeout_ms) < 0) {
			cairn_error_set("CAIRN_LOCK_TIMEOUT must be a duration such as 30s, 5m or "
					"250ms, not '%s'; fix or unset it", in->env_lock_timeout);
			return -1;
		}
		setting(&r->lock_timeout_src, POLICY_SRC_ENV, xstrdup("CAIRN_LOCK_TIMEOUT"));
	} else if (e->lock_timeout_set) {
		r->lock_timeout_ms = e->lock_timeout_ms;
		setting(&r->lock_timeout_src, POLICY_SRC_FILE,
			file_origin(c, e->lock_timeout_line, e->lock_timeout_col));
	} else if (d->lock_timeout_set) {
		r->lock_timeout_ms = d->lock_timeout_ms;
		setting(&r->lock_timeout_src, POLICY_SRC_FILE,
			file_origin(c, d->lock_timeout_line, d->lock_timeout_col));
	} else {
		r->lock_timeout_ms = POLICY_DEFAULT_LOCK_TIMEOUT_MS;
		setting(&r->lock_timeout_src, POLICY_SRC_DEFAULT, xstrdup("built-in"));
	}
	return 0;
}

static void resolve_trust(struct policy_resolved *r, const struct policy_config *c,
			  const struct policy_env *e)
{
	const struct policy_env *d = &c->defaults;
	size_t i;

	/* the trust policy: from the file only, never from flags or variables */
	r->builders = eff_list(&e->builders, &d->builders);
	r->approvers = eff_list(&e->approvers, &d->approvers);
	r->receipts_from = eff_list(&e->receipts_from, &d->receipts_from);
	r->admins = eff_list(&e->admins, &d->admins);
	for (i = 0; i < d->revoked.n + e->revoked.n; i++) {
		const struct policy_key *k = i < d->revoked.n ? &d->revoked.items[i]
							       : &e->revoked.items[i - d->revoked.n];
		struct policy_key *copy;

		ALLOC_GROW(r->revoked.items, r->revoked.n + 1, r->revoked.alloc);
		copy = &r->revoked.items[r->revoked.n++];
		*copy = *k;
		copy->path = xstrdup(k->path);
		copy->resolved = xstrdup(k->resolved);
		copy->since = k->since ? xstrdup(k->since) : NULL;
	}
	r->revoked.set = d->revoked.set || e->revoked.set;
	{
		int line, col;

		effective_approvals(c, e, &r->approvals, &line, &col);
		if (line > 0)
			setting(&r->approvals_src, POLICY_SRC_FILE, file_origin(c, line, col));
		else
			setting(&r->approvals_src, POLICY_SRC_DEFAULT,
				xstrdup(r->approvers->n ? "one of the approvers" : "built-in"));
	}
}

/* rollback: {require_bundle:}: the environment's, else defaults', else
 * required where the environment's policy asks for approvals or an
 * 'after' environment (docs/design.md, "Rollback and the bundle"). */
static void resolve_rollback(struct policy_resolved *r, const struct policy_config *c,
			     const struct policy_env *e)
{
	const struct policy_env *set = e->rollback_bundle_set ? e
				       : c->defaults.rollback_bundle_set ? &c->defaults : NULL;

	if (set) {
		r->rollback_require_bundle = set->rollback_bundle;
		r->rollback_require_src = xasprintf("%s:%d", c->path, set->rollback_bundle_line);
	} else {
		r->rollback_require_bundle = r->approvals > 0 || e->after;
		r->rollback_require_src = xstrdup(e->after ? "the default where an 'after' "
						  "environment is required"
						  : "the default where approvals are required");
	}
}

/* postgres: {privileged_role:} (attack15h): refuse by default where the
 * environment asks more than a build, as rollback's require_bundle does:
 * a role that can hide writes from the books guard must not run what
 * approvers signed off, nor what a receipt will vouch for to the next
 * environment; warn elsewhere (a developer's database as the server's
 * first role). */
static void resolve_privileged(struct policy_resolved *r, const struct policy_config *c,
			       const struct policy_env *e)
{
	const struct policy_env *set = e->pg_privileged_set ? e
				       : c->defaults.pg_privileged_set ? &c->defaults : NULL;

	if (set) {
		r->pg_privileged_refuse = set->pg_privileged == 2;
		r->pg_privileged_set = 1;
		r->pg_privileged_src = xasprintf("%s:%d", c->path, set->pg_privileged_line);
		return;
	}
	r->pg_privileged_refuse = r->approvals > 0 || e->after || r->receipts_from->n > 0;
	r->pg_privileged_src = xstrdup(
		r->approvals > 0 ? "the default where approvals are required"
		: e->after ? "the default where an 'after' environment is required"
		: r->receipts_from->n > 0 ? "the default where receipts are required"
		: "the default where the policy asks only for a build");
}

int policy_resolve(struct policy_resolved *r, const struct policy_config *c,
		   const struct policy_inputs *in, int *usage)
{
	const struct policy_env *e = NULL;

	memset(r, 0, sizeof(*r));
	*usage = 0;
	if (resolve_env(r, c, in, &e) < 0 || resolve_db(r, c, in, e) < 0 ||
	    resolve_lock_timeout(r, c, in, e) < 0)
		goto fail;
	resolve_trust(r, c, e);
	r->pg_statement_timeout_ms = e->pg_statement_timeout_set ? e->pg_statement_timeout_ms
								  : c->defaults.pg_statement_timeout_ms;
	r->pg_lock_timeout_ms = e->pg_lock_timeout_set ? e->pg_lock_timeout_ms
						       : c->defaults.pg_lock_timeout_ms;
	r->pg_retry_lock_timeout_ms = e->pg_lock_timeout_set || c->defaults.pg_lock_timeout_set
				      ? r->pg_lock_timeout_ms : POLICY_DEFAULT_PG_LOCK_TIMEOUT_MS;
	r->pg_lock_retry_ms = e->pg_lock_retry_set ? e->pg_lock_retry_ms
			      : c->defaults.pg_lock_retry_set ? c->defaults.pg_lock_retry_ms
			      : POLICY_DEFAULT_PG_LOCK_RETRY_MS;
	r->replication_lag_query = e->lag_query ? e->lag_query : c->defaults.lag_query;
	r->replication_lag_bytes_query =
		e->lag_bytes_query ? e->lag_bytes_query : c->defaults.lag_bytes_query;
	r->pg_version = e->pg_version_set ? e->pg_version : c->defaults.pg_version;
	r->backup_off = e->backup_set ? e->backup_off : c->defaults.backup_off;
	r->backup_dir = e->backup_set ? e->backup_dir : c->defaults.backup_dir;
	r->backup_command = e->backup_set ? e->backup_command : c->defaults.backup_command;
	r->backup_timeout_ms = e->backup_set ? e->backup_timeout_ms : c->defaults.backup_timeout_ms;
	r->hooks = e->hooks_set ? e : c->defaults.hooks_set ? &c->defaults : NULL;
	r->sqlite_foreign_keys = e->sqlite_fk_set ? 1 + e->sqlite_fk
			       : c->defaults.sqlite_fk_set ? 1 + c->defaults.sqlite_fk : 0;
	r->sqlite_extensions = e->sqlite_ext_set ? e->sqlite_ext : c->defaults.sqlite_ext;
	r->nsqlite_extensions = e->sqlite_ext_set ? e->nsqlite_ext : c->defaults.nsqlite_ext;
	resolve_rollback(r, c, e);
	resolve_privileged(r, c, e);
	return 0;
fail:
	*usage = 1;
	policy_resolved_release(r);
	return -1;
}

void policy_resolved_release(struct policy_resolved *r)
{
	if (!r)
		return;
	free(r->rollback_require_src);
	free(r->pg_privileged_src);
	free(r->env_name);
	free(r->env_name_src.origin);
	free(r->db_value);
	free(r->db_src.origin);
	free(r->lock_timeout_src.origin);
	free(r->approvals_src.origin);
	keylist_release(&r->revoked);
	memset(r, 0, sizeof(*r));
}

static int database_dsn(const struct policy_resolved *r, char **out);

/* The environment's sqlite: {foreign_keys} as the DSN option, unless the
 * DSN sets it itself. */
int policy_database_dsn(const struct policy_resolved *r, char **out)
{
	char *dsn;

	if (database_dsn(r, out) < 0)
		return -1;
	dsn = *out;
	if (r->sqlite_foreign_keys && !strncmp(dsn, "sqlite:", 7) &&
	    !strstr(dsn, "foreign_keys=")) {
		*out = xasprintf("%s%sforeign_keys=%s", dsn, strchr(dsn, '?') ? "&" : "?",
				 r->sqlite_foreign_keys == 2 ? "on" : "off");
		free(dsn);
	}
	return 0;
}

static int database_dsn(const struct policy_resolved *r, char **out)
{
	struct buf b = BUF_INIT;
	struct stat st;
	const char *v;

	*out = NULL;
	switch (r->db_kind) {
	case POLICY_DB_NONE:
		cairn_error_set("environment '%s' names no database: pass --db DSN, set CAIRN_DB, "
				"or add 'database:' to it in the config", r->env_name);
		return -1;
	case POLICY_DB_DSN:
		*out = xstrdup(r->db_value);
		return 0;
	case POLICY_DB_DSN_ENV:
		v = getenv(r->db_value);
		if (!v || !*v) {
			cairn_error_set("the environment variable '%s' (dsn_env at %s) is not set; "
					"export it with the database's DSN, or pass --db",
					r->db_value, r->db_src.origin);
			return -1;
		}
		*out = xstrdup(v);
		return 0;
	case POLICY_DB_DSN_FILE:
		if (stat(r->db_value, &st) == 0 && (st.st_mode & S_IROTH)) {
			cairn_error_set("'%s' (dsn_file at %s) is readable by every user; run "
					"'chmod o-rwx %s'", r->db_value, r->db_src.origin, r->db_value);
			return -1;
		}
		buf_init(&b, 64 << 10);
		if (read_file(r->db_value, 64 << 10, &b) < 0) {
			char why[CAIRN_ERRMSG_MAX];

			(void)snprintf(why, sizeof(why), "%s", cairn_error_last());
			cairn_error_set("%s (dsn_file at %s); create it with the DSN on one line, "
					"mode 0600", why, r->db_src.origin);
			buf_release(&b);
			return -1;
		}
		while (b.len && isspace((unsigned char)b.ptr[b.len - 1]))
			b.ptr[--b.len] = '\0';
		if (!b.len || memchr(b.ptr, '\n', b.len)) {
			cairn_error_set("the DSN file '%s' (dsn_file at %s) must hold one line, the DSN",
					r->db_value, r->db_src.origin);
			OPENSSL_cleanse(b.ptr, b.alloc);
			buf_release(&b);
			return -1;
		}
		*out = xstrdup(b.ptr);
		OPENSSL_cleanse(b.ptr, b.alloc);
		buf_release(&b);
		return 0;
	}
	return -1;
}
