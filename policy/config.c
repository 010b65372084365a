/* The applier's config: parsing, validation, key loading, the precedence
 * of flags, CAIRN_* variables, the file and defaults, and DSN masking.
 * This file: lifetime, diagnostics, parsing and loading; keys and times in
 * config-keys.c, DSNs in config-dsn.c, the effective lists and validation
 * in config-check.c, the merge in config-resolve.c. */
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
/* lifetime */

void keylist_release(struct policy_keylist *l)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		free(l->items[i].path);
		free(l->items[i].resolved);
		free(l->items[i].since);
	}
	free(l->items);
	memset(l, 0, sizeof(*l));
}

static void env_release(struct policy_env *e)
{
	free(e->name);
	free(e->db_value);
	free(e->db_written);
	while (e->nsqlite_ext)
		free(e->sqlite_ext[--e->nsqlite_ext]);
	free(e->sqlite_ext);
	keylist_release(&e->builders);
	keylist_release(&e->approvers);
	keylist_release(&e->receipts_from);
	keylist_release(&e->admins);
	keylist_release(&e->revoked);
	free(e->after);
	free(e->lag_query);
	free(e->lag_bytes_query);
	free(e->checkpoint_file);
	free(e->backup_dir);
	free(e->backup_command);
	free(e->hook_before);
	free(e->hook_after);
	free(e->hook_on_error);
	free(e->checkpoint_key);
	lint_policy_release(e);
	while (e->ntargets)
		free(e->targets[--e->ntargets].text);
	free(e->targets);
	memset(e, 0, sizeof(*e));
}

void policy_config_init(struct policy_config *c)
{
	memset(c, 0, sizeof(*c));
}

void policy_config_release(struct policy_config *c)
{
	size_t i;

	if (!c)
		return;
	free(c->path);
	free(c->dir);
	env_release(&c->defaults);
	for (i = 0; i < c->nenvs; i++)
		env_release(&c->envs[i]);
	free(c->envs);
	for (i = 0; i < c->ndiags; i++)
		free(c->diags[i].msg);
	free(c->diags);
	memset(c, 0, sizeof(*c));
}

/* ------------------------------------------------------------------ */
/* diagnostics */

void diag(struct policy_config *c, int warning, int line, int col, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;
	char msg[CAIRN_ERRMSG_MAX];

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap); /* a cut message is still a message */
	va_end(ap);
	if (line > 0)
		buf_printf(&b, "%s:%d:%d: %s: %s", c->path, line, col,
			   warning ? "warning" : "error", msg);
	else
		buf_printf(&b, "%s: %s: %s", c->path, warning ? "warning" : "error", msg);
	ALLOC_GROW(c->diags, c->ndiags + 1, c->diags_alloc);
	c->diags[c->ndiags].warning = warning;
	c->diags[c->ndiags].line = line;
	c->diags[c->ndiags].col = col;
	c->diags[c->ndiags].msg = buf_detach(&b, NULL);
	c->ndiags++;
	if (warning)
		c->warnings++;
	else
		c->errors++;
}

static void wrong_type(struct policy_config *c, const char *key, const struct ynode *v,
		       const char *expected)
{
	if (v->type == YNODE_SCALAR)
		diag(c, 0, v->line, v->col, "'%s' must be %s, not '%s'", key, expected, v->str);
	else
		diag(c, 0, v->line, v->col, "'%s' must be %s, not %s", key, expected,
		     ynode_type_name(v->type));
}

static void unknown_key(struct policy_config *c, const struct ynode *k, const char *where,
			const char *const *keys);

static const char *const pg_keys[] = { "statement_timeout", "lock_timeout", "lock_retry_budget",
				       "version", "privileged_role", NULL };

/* postgres: {privileged_role: refuse|warn} (pgguard15b): what a run does
 * when its role may hide writes from the books guard (a superuser, ...) */
static void parse_privileged(struct policy_config *c, struct policy_env *e,
			     const struct ynode *k, const struct ynode *x)
{
	if (x->type == YNODE_SCALAR && (!strcmp(x->str, "refuse") || !strcmp(x->str, "warn"))) {
		e->pg_privileged = !strcmp(x->str, "refuse") ? 2 : 1;
		e->pg_privileged_set = 1;
		e->pg_privileged_line = x->line;
	} else {
		wrong_type(c, k->str, x, "refuse or warn");
	}
}

/* postgres: {statement_timeout: 1h, lock_timeout: 10s, lock_retry_budget:
 * 5m, version: 15}: the timeouts a PostgreSQL migration runs under when its
 * migration.yaml sets none, how long a migration that timed out waiting
 * for a lock is tried again (issue #22); version, the major version the migrations were checked for, is
 * what preflight compares the server's with. */
static void parse_postgres(struct policy_config *c, struct policy_env *e, const struct ynode *v)
{
	size_t i;

	if (v->type != YNODE_MAP) {
		wrong_type(c, "postgres", v,
			   "a mapping (statement_timeout, lock_timeout, lock_retry_budget)");
		return;
	}
	for (i = 0; i < v->n; i++) {
		const struct ynode *k = ynode_key(v, i), *x = ynode_val(v, i);
		unsigned long long *ms = NULL, ver = 0;
		int *set = NULL;

		if (!strcmp(k->str, "statement_timeout"))
			ms = &e->pg_statement_timeout_ms, set = &e->pg_statement_timeout_set;
		else if (!strcmp(k->str, "lock_timeout"))
			ms = &e->pg_lock_timeout_ms, set = &e->pg_lock_timeout_set;
		else if (!strcmp(k->str, "lock_retry_budget"))
			ms = &e->pg_lock_retry_ms, set = &e->pg_lock_retry_set;
		else if (!strcmp(k->str, "privileged_role"))
			parse_privileged(c, e, k, x);
		else if (strcmp(k->str, "version"))
			unknown_key(c, k, "postgres", pg_keys);
		else if (ynode_uint(x, &ver) < 0 || !x->plain || ver < 9 || ver > 99)
			wrong_type(c, k->str, x, "a major version such as 15");
		else
			e->pg_version = (int)ver, e->pg_version_set = 1;
		if (!ms)
			continue;
		if (x->type != YNODE_SCALAR || parse_duration_ms(x->str, ms) < 0)
			wrong_type(c, k->str, x, "a duration such as 30s, 5m or 250ms");
		else
			*set = 1;
	}
}

/* SECTION: {KEY: on|off|true|false}, a mapping of one switch: *val, *set
 * and *line (when not NULL) set from it; the rest are diagnostics. */
static void parse_switch(struct policy_config *c, const struct ynode *v, const char *section,
			 const char *const keys[2], const char *what, int *val, int *set,
			 int *line)
{
	size_t i;

	if (v->type != YNODE_MAP) {
		wrong_type(c, section, v, what);
		return;
	}
	for (i = 0; i < v->n; i++) {
		const struct ynode *k = ynode_key(v, i), *x = ynode_val(v, i);

		if (strcmp(k->str, keys[0])) {
			unknown_key(c, k, section, keys);
		} else if (x->type == YNODE_SCALAR &&
			   (!strcmp(x->str, "on") || !strcmp(x->str, "true") ||
			    !strcmp(x->str, "off") || !strcmp(x->str, "false"))) {
			*val = !strcmp(x->str, "on") || !strcmp(x->str, "true");
			*set = 1;
			if (line)
				*line = x->line;
		} else {
			wrong_type(c, k->str, x, "on or off (true or false)");
		}
	}
}

static char *resolve_path(const struct policy_config *c, const char *p);
static int is_string(const struct ynode *v);

/* sqlite: {extensions: [PATH, ...]} (issue #19): loaded by the driver into
 * every connection before the migrations run; a PATH relative to the
 * config's directory, and a file missing here is a config error */
static void parse_sqlite_extensions(struct policy_config *c, struct policy_env *e,
				    const struct ynode *v)
{
	struct stat st;
	size_t i;

	if (v->type != YNODE_SEQ) {
		wrong_type(c, "extensions", v, "a list of shared library paths");
		return;
	}
	e->sqlite_ext_set = 1;
	for (i = 0; i < v->n; i++) {
		const struct ynode *x = v->items[i];
		char *path, *abs;

		if (!is_string(x) || !*x->str) {
			wrong_type(c, "extensions", x, "the path of a SQLite extension");
			continue;
		}
		path = resolve_path(c, x->str);
		if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
			diag(c, 0, x->line, x->col, "sqlite extension '%s' %s", path,
			     stat(path, &st) != 0 ? "does not exist" : "is not a file");
			free(path);
			continue;
		}
		/* absolute, so that the audit row names the file the applier loaded */
		abs = realpath(path, NULL);
		free(path);
		if (!abs) {
			diag(c, 0, x->line, x->col, "sqlite extension '%s': %s", x->str,
			     strerror(errno));
			continue;
		}
		e->sqlite_ext = xrealloc(e->sqlite_ext, (e->nsqlite_ext + 1) * sizeof(*e->sqlite_ext));
		e->sqlite_ext[e->nsqlite_ext++] = abs;
	}
}

/* sqlite: {foreign_keys: on|off, extensions: [PATH, ...]} */
static void parse_sqlite(struct policy_config *c, struct policy_env *e, const struct ynode *v)
{
	static const char *const keys[] = { "foreign_keys", "extensions", NULL };
	struct ynode sub;
	size_t i;

	if (v->type != YNODE_MAP) {
		wrong_type(c, "sqlite", v, "a mapping (foreign_keys, extensions)");
		return;
	}
	for (i = 0; i < v->n; i++) {
		const struct ynode *k = ynode_key(v, i);

		if (!strcmp(k->str, "extensions")) {
			parse_sqlite_extensions(c, e, ynode_val(v, i));
			continue;
		}
		/* one pair at a time through parse_switch */
		memset(&sub, 0, sizeof(sub));
		sub.type = YNODE_MAP;
		sub.line = v->line;
		sub.col = v->col;
		sub.items = (struct ynode **)v->items + 2 * i;
		sub.n = 1;
		parse_switch(c, &sub, "sqlite", keys, "a mapping (foreign_keys, extensions)",
			     &e->sqlite_fk, &e->sqlite_fk_set, NULL);
	}
}

/* rollback: {require_bundle: true|false} (issue #15): whether a rollback
 * must be given the bundle that applied the migrations, so that a stored
 * down script runs only when its signed manifest vouches for it */
static void parse_rollback(struct policy_config *c, struct policy_env *e, const struct ynode *v)
{
	static const char *const keys[] = { "require_bundle", NULL };

	parse_switch(c, v, "rollback", keys, "a mapping {require_bundle: true|false}",
		     &e->rollback_bundle, &e->rollback_bundle_set, &e->rollback_bundle_line);
}

static void unknown_key(struct policy_config *c, const struct ynode *k, const char *where,
			const char *const *keys)
{
	const char *hint = did_you_mean(k->str, keys);
	struct buf known = BUF_INIT;
	size_t i;

	if (hint) {
		diag(c, 0, k->line, k->col, "unknown key '%s' in %s; did you mean '%s'?", k->str,
		     where, hint);
		return;
	}
	for (i = 0; keys[i]; i++)
		buf_printf(&known, "%s%s", i ? ", " : "", keys[i]);
	diag(c, 0, k->line, k->col, "unknown key '%s' in %s (known keys: %s)", k->str, where,
	     buf_cstr(&known));
	buf_release(&known);
}

/* ------------------------------------------------------------------ */
/* parsing */

static const char *const top_keys[] = { "environments", "defaults", NULL };
static const char *const env_keys[] = {
	"database", "builders", "approvers", "approvals", "after", "receipts_from",
	"admins", "revoked", "lock_timeout", "postgres", "sqlite", "max_approval_age", "checkpoint",
	"targets", "backup", "hooks", "lint", "rollback", "replication_lag_query", "destructive",
	"replication_lag_bytes_query", NULL,
};
static const char *const default_keys[] = {
	"builders", "approvers", "approvals", "receipts_from", "admins", "revoked",
	"lock_timeout", "postgres", "sqlite", "max_approval_age", "checkpoint", "backup", "hooks",
	"lint", "rollback", "replication_lag_query", "destructive",
	"replication_lag_bytes_query", NULL,
};
static const char *const db_keys[] = { "dsn", "dsn_env", "dsn_file", NULL };
static const char *const revoked_keys[] = { "key", "since", NULL };

static char *resolve_path(const struct policy_config *c, const char *p)
{
	if (p[0] == '/' || !c->dir || !*c->dir || !strcmp(c->dir, "."))
		return xstrdup(p);
	return path_join(c->dir, p);
}

static int is_string(const struct ynode *v)
{
	return v->type == YNODE_SCALAR && v->len && !ynode_is_null(v);
}

static void key_add(struct policy_config *c, struct policy_keylist *l, const char *key,
		    const struct ynode *v, const char *since, const struct ynode *since_node,
		    int flags)
{
	struct policy_key *k;
	size_t i;

	ALLOC_GROW(l->items, l->n + 1, l->alloc);
	k = &l->items[l->n];
	memset(k, 0, sizeof(*k));
	k->path = xstrdup(v->str);
	k->resolved = resolve_path(c, v->str);
	k->line = v->line;
	k->col = v->col;
	if (since) {
		if (parse_rfc3339(since, &k->since_epoch) < 0)
			diag(c, 0, since_node->line, since_node->col,
			     "'since' must be a UTC time such as 2026-11-01T00:00:00Z, not '%s'",
			     since);
		k->since = xstrdup(since);
	}
	l->n++;
	if (flags & POLICY_CONFIG_NO_KEYS)
		return;
	if (policy_key_load(k, k->resolved) < 0) {
		diag(c, 0, v->line, v->col, "in '%s': %s", key, cairn_error_last());
		return;
	}
	for (i = 0; i + 1 < l->n; i++) {
		if (l->items[i].loaded && !strcmp(l->items[i].key_id, k->key_id)) {
			diag(c, 1, v->line, v->col,
			     "'%s' names key %s twice (line %d and here); it counts once", key,
			     k->key_id, l->items[i].line);
			break;
		}
	}
}

static void parse_keylist(struct policy_config *c, struct policy_keylist *l, const char *key,
			  const struct ynode *v, int flags)
{
	size_t i;

	l->set = 1;
	l->line = v->line;
	l->col = v->col;
	if (ynode_is_null(v))
		return; /* "builders:" with nothing: an explicit empty list */
	if (v->type != YNODE_SEQ) {
		wrong_type(c, key, v, "a list of public key files");
		return;
	}
	for (i = 0; i < v->n; i++) {
		const struct ynode *it = v->items[i];

		if (!is_string(it)) {
			wrong_type(c, key, it, "a list of public key files");
			continue;
		}
		key_add(c, l, key, it, NULL, NULL, flags);
	}
}

static void parse_revoked(struct policy_config *c, struct policy_keylist *l,
			  const struct ynode *v, int flags)
{
	size_t i, j;

	l->set = 1;
	l->line = v->line;
	l->col = v->col;
	if (ynode_is_null(v))
		return;
	if (v->type != YNODE_SEQ) {
		wrong_type(c, "revoked", v, "a list of key files or {key: FILE, since: TIME}");
		return;
	}
	for (i = 0; i < v->n; i++) {
		const struct ynode *it = v->items[i], *key = NULL, *since = NULL;

		if (is_string(it)) {
			key_add(c, l, "revoked", it, NULL, NULL, flags);
			continue;
		}
		if (it->type != YNODE_MAP) {
			wrong_type(c, "revoked", it, "a list of key files or {key: FILE, since: TIME}");
			continue;
		}
		for (j = 0; j < it->n; j++) {
			const struct ynode *k = ynode_key(it, j), *val = ynode_val(it, j);

			if (!strcmp(k->str, "key"))
				key = val;
			else if (!strcmp(k->str, "since"))
				since = val;
			else
				unknown_key(c, k, "a revoked key", revoked_keys);
		}
		if (!key) {
			diag(c, 0, it->line, it->col, "a revoked entry needs 'key: FILE'");
			continue;
		}
		if (!is_string(key)) {
			wrong_type(c, "key", key, "a public key file");
			continue;
		}
		if (since && !is_string(since)) {
			wrong_type(c, "since", since, "a UTC time such as 2026-11-01T00:00:00Z");
			continue;
		}
		key_add(c, l, "revoked", key, since ? since->str : NULL, since, flags);
	}
}

static void parse_database(struct policy_config *c, struct policy_env *e, const struct ynode *v)
{
	const struct ynode *which = NULL, *val = NULL;
	size_t i;

	if (v->type != YNODE_MAP) {
		wrong_type(c, "database", v, "a mapping with one of dsn, dsn_env, dsn_file");
		return;
	}
	for (i = 0; i < v->n; i++) {
		const struct ynode *k = ynode_key(v, i);

		if (strcmp(k->str, "dsn") && strcmp(k->str, "dsn_env") && strcmp(k->str, "dsn_file")) {
			unknown_key(c, k, "database", db_keys);
			continue;
		}
		if (which) {
			diag(c, 0, k->line, k->col,
			     "database has both '%s' (line %d) and '%s'; give exactly one of dsn, "
			     "dsn_env, dsn_file", which->str, which->line, k->str);
			return;
		}
		which = k;
		val = ynode_val(v, i);
	}
	if (!which) {
		if (v->n == 0)
			diag(c, 0, v->line, v->col,
			     "database needs one of dsn, dsn_env, dsn_file");
		return;
	}
	if (!is_string(val)) {
		wrong_type(c, which->str, val, "a string");
		return;
	}
	e->db_line = val->line;
	e->db_col = val->col;
	e->db_written = xstrdup(val->str);
	if (!strcmp(which->str, "dsn")) {
		if (!dsn_form_ok(val->str)) {
			diag(c, 0, val->line, val->col,
			     "'dsn' must be sqlite:PATH, postgres://... or a libpq keyword string "
			     "(host=... dbname=...)");
			return;
		}
		if (dsn_has_password(val->str)) {
			char *masked = dsn_mask(val->str);

			diag(c, 0, val->line, val->col,
			     "'dsn' holds a password ('%s'); secrets never sit in the config: name "
			     "them with dsn_env or dsn_file, or use libpq's PGPASSFILE", masked);
			free(masked);
			return;
		}
		e->db_kind = POLICY_DB_DSN;
		if (starts_with(val->str, "sqlite:") && val->str[7] != '/' &&
		    strcmp(val->str, "sqlite::memory:")) {
			char *p = resolve_path(c, val->str + 7);

			e->db_value = xasprintf("sqlite:%s", p);
			free(p);
		} else {
			e->db_value = xstrdup(val->str);
		}
	} else if (!strcmp(which->str, "dsn_env")) {
		if (!env_var_name_ok(val->str)) {
			diag(c, 0, val->line, val->col,
			     "'dsn_env' must name an environment variable (letters, digits, _), not '%s'",
			     val->str);
			return;
		}
		e->db_kind = POLICY_DB_DSN_ENV;
		e->db_value = xstrdup(val->str);
	} else {
		e->db_kind = POLICY_DB_DSN_FILE;
		e->db_value = resolve_path(c, val->str);
	}
}

static const char *const checkpoint_keys[] = { "file", "key", NULL };

/* checkpoint: {file: PATH, key: PATH} */
static void parse_checkpoint(struct policy_config *c, struct policy_env *e, const struct ynode *v)
{
	size_t i;

	if (v->type != YNODE_MAP) {
		wrong_type(c, "checkpoint", v, "a mapping {file: PATH, key: PATH}");
		return;
	}
	for (i = 0; i < v->n; i++) {
		const struct ynode *k = ynode_key(v, i), *val = ynode_val(v, i);
		char **slot = !strcmp(k->str, "file") ? &e->checkpoint_file
			      : !strcmp(k->str, "key") ? &e->checkpoint_key : NULL;

		if (!slot) {
			unknown_key(c, k, "checkpoint", checkpoint_keys);
			continue;
		}
		if (!is_string(val)) {
			wrong_type(c, k->str, val, "a path");
			continue;
		}
		free(*slot);
		*slot = resolve_path(c, val->str);
	}
	if (!e->checkpoint_file)
		diag(c, 0, v->line, v->col, "checkpoint needs 'file' (where checkpoints go)");
}

/* targets: [LINE...]: a fleet's targets, each a line of a targets file
 * (fleet/targets.h reads them: 'NAME DSN' or a DSN) */
static void parse_targets(struct policy_config *c, struct policy_env *e, const struct ynode *v)
{
	size_t i;

	if (v->type != YNODE_SEQ) {
		wrong_type(c, "targets", v, "a list of 'NAME DSN' (or DSN) lines");
		return;
	}
	e->targets = xcalloc(v->n ? v->n : 1, sizeof(*e->targets));
	for (i = 0; i < v->n; i++) {
		const struct ynode *it = v->items[i];

		if (!is_string(it)) {
			wrong_type(c, "targets", it, "a list of 'NAME DSN' (or DSN) lines");
			continue;
		}
		e->targets[e->ntargets].text = xstrdup(it->str);
		e->targets[e->ntargets++].line = it->line;
	}
}

/* backup: off, or backup: {dir: PATH} (issue #20): where the copy taken
 * before a destructive migration goes (default: beside the database); or
 * {command: CMD, timeout: D}: the environment's own command instead. */
static void parse_backup(struct policy_config *c, struct policy_env *e, const struct ynode *v)
{
	static const char *const keys[] = { "dir", "command", "timeout", NULL };
	size_t i;

	if (v->type == YNODE_SCALAR && (!strcmp(v->str, "off") || !strcmp(v->str, "false"))) {
		e->backup_off = 1;
		e->backup_set = 1;
		return;
	}
	if (v->type != YNODE_MAP) {
		wrong_type(c, "backup", v, "off, or a mapping {dir: PATH} or {command: CMD}");
		return;
	}
	for (i = 0; i < v->n; i++) {
		const struct ynode *k = ynode_key(v, i), *val = ynode_val(v, i);

		if (!strcmp(k->str, "command")) {
			if (!is_string(val) || !*val->str) {
				wrong_type(c, k->str, val, "a shell command");
			} else {
				free(e->backup_command);
				e->backup_command = xstrdup(val->str);
				e->backup_set = 1;
			}
		} else if (!strcmp(k->str, "timeout")) {
			if (val->type != YNODE_SCALAR ||
			    parse_duration_ms(val->str, &e->backup_timeout_ms) < 0 ||
			    !e->backup_timeout_ms)
				wrong_type(c, k->str, val, "a duration such as 30s or 5m");
		} else if (strcmp(k->str, "dir")) {
			unknown_key(c, k, "backup", keys);
		} else if (!is_string(val)) {
			wrong_type(c, k->str, val, "a path");
		} else {
			free(e->backup_dir);
			e->backup_dir = resolve_path(c, val->str);
			e->backup_set = 1;
		}
	}
}

/* hooks: {before: CMD, after: CMD, on_error: CMD, timeout: D} (issue
 * #20): host commands around an apply. */
static void parse_hooks(struct policy_config *c, struct policy_env *e, const struct ynode *v)
{
	static const char *const keys[] = { "before", "after", "on_error", "timeout", NULL };
	size_t i;

	if (v->type != YNODE_MAP) {
		wrong_type(c, "hooks", v, "a mapping {before: CMD, after: CMD, on_error: CMD}");
		return;
	}
	e->hooks_set = 1;
	for (i = 0; i < v->n; i++) {
		const struct ynode *k = ynode_key(v, i), *val = ynode_val(v, i);
		char **slot = !strcmp(k->str, "before") ? &e->hook_before
			      : !strcmp(k->str, "after") ? &e->hook_after
			      : !strcmp(k->str, "on_error") ? &e->hook_on_error : NULL;

		if (!strcmp(k->str, "timeout")) {
			if (val->type != YNODE_SCALAR || parse_duration_ms(val->str, &e->hook_timeout_ms) < 0 ||
			    !e->hook_timeout_ms)
				wrong_type(c, k->str, val, "a duration such as 30s or 5m");
		} else if (!slot) {
			unknown_key(c, k, "hooks", keys);
		} else if (!is_string(val)) {
			wrong_type(c, k->str, val, "a shell command");
		} else {
			free(*slot);
			*slot = xstrdup(val->str);
		}
	}
}

static int env_name_ok(const char *s)
{
	if (!*s || *s == '.' || *s == '-' || strlen(s) > 64)
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-' && *s != '.')
			return 0;
	return 1;
}

static void parse_env(struct policy_config *c, struct policy_env *e, const struct ynode *map,
		      int is_defaults, int flags)
{
	const char *const *keys = is_defaults ? default_keys : env_keys;
	const char *where = is_defaults ? "defaults" : e->name;
	size_t i;

	if (ynode_is_null(map))
		return;
	if (map->type != YNODE_MAP) {
		diag(c, 0, map->line, map->col, "'%s' must be a mapping of settings, not %s%s%s",
		     where, map->type == YNODE_SCALAR ? "'" : "",
		     map->type == YNODE_SCALAR ? map->str : ynode_type_name(map->type),
		     map->type == YNODE_SCALAR ? "'" : "");
		return;
	}
	for (i = 0; i < map->n; i++) {
		const struct ynode *k = ynode_key(map, i), *v = ynode_val(map, i);
		size_t j;
		int known = 0;

		for (j = 0; keys[j]; j++)
			if (!strcmp(k->str, keys[j]))
				known = 1;
		if (!known) {
			struct buf w = BUF_INIT;

			buf_printf(&w, is_defaults ? "%s" : "environment '%s'", where);
			if (is_defaults && (!strcmp(k->str, "database") || !strcmp(k->str, "after")))
				diag(c, 0, k->line, k->col,
				     "'%s' belongs to one environment, not to defaults", k->str);
			else
				unknown_key(c, k, buf_cstr(&w), keys);
			buf_release(&w);
			continue;
		}
		if (!strcmp(k->str, "database")) {
			parse_database(c, e, v);
		} else if (!strcmp(k->str, "builders")) {
			parse_keylist(c, &e->builders, k->str, v, flags);
		} else if (!strcmp(k->str, "approvers")) {
			parse_keylist(c, &e->approvers, k->str, v, flags);
		} else if (!strcmp(k->str, "receipts_from")) {
			parse_keylist(c, &e->receipts_from, k->str, v, flags);
		} else if (!strcmp(k->str, "admins")) {
			parse_keylist(c, &e->admins, k->str, v, flags);
		} else if (!strcmp(k->str, "revoked")) {
			parse_revoked(c, &e->revoked, v, flags);
		} else if (!strcmp(k->str, "approvals")) {
			if (ynode_uint(v, &e->approvals) < 0 || !v->plain || e->approvals > 1000) {
				wrong_type(c, k->str, v, "a whole number (how many approvers must sign)");
				continue;
			}
			e->approvals_set = 1;
			e->approvals_line = v->line;
			e->approvals_col = v->col;
		} else if (!strcmp(k->str, "after")) {
			if (!is_string(v)) {
				wrong_type(c, k->str, v, "the name of an environment");
				continue;
			}
			e->after = xstrdup(v->str);
			e->after_line = v->line;
			e->after_col = v->col;
		} else if (!strcmp(k->str, "replication_lag_query")) {
			if (!is_string(v) || !*v->str) {
				wrong_type(c, k->str, v, "a query returning the lag in ms");
				continue;
			}
			free(e->lag_query);
			e->lag_query = xstrdup(v->str);
		} else if (!strcmp(k->str, "replication_lag_bytes_query")) {
			if (!is_string(v) || !*v->str) {
				wrong_type(c, k->str, v, "a query returning the lag in bytes");
				continue;
			}
			free(e->lag_bytes_query);
			e->lag_bytes_query = xstrdup(v->str);
		} else if (!strcmp(k->str, "postgres")) {
			parse_postgres(c, e, v);
		} else if (!strcmp(k->str, "sqlite")) {
			parse_sqlite(c, e, v);
		} else if (!strcmp(k->str, "lock_timeout")) {
			if (v->type != YNODE_SCALAR || parse_duration_ms(v->str, &e->lock_timeout_ms) < 0) {
				wrong_type(c, k->str, v, "a duration such as 30s, 5m or 250ms");
				continue;
			}
			e->lock_timeout_set = 1;
			e->lock_timeout_line = v->line;
			e->lock_timeout_col = v->col;
		} else if (!strcmp(k->str, "max_approval_age")) {
			if (v->type != YNODE_SCALAR ||
			    parse_duration_ms(v->str, &e->max_approval_age_ms) < 0 ||
			    !e->max_approval_age_ms) {
				wrong_type(c, k->str, v, "a duration such as 7d, 72h or 30m");
				continue;
			}
			e->max_approval_age_set = 1;
		} else if (!strcmp(k->str, "checkpoint")) {
			parse_checkpoint(c, e, v);
		} else if (!strcmp(k->str, "targets")) {
			parse_targets(c, e, v);
		} else if (!strcmp(k->str, "backup")) {
			parse_backup(c, e, v);
		} else if (!strcmp(k->str, "hooks")) {
			parse_hooks(c, e, v);
		} else if (!strcmp(k->str, "lint")) {
			parse_lint(c, e, v);
		} else if (!strcmp(k->str, "destructive")) {
			parse_destructive(c, e, v);
		} else if (!strcmp(k->str, "rollback")) {
			parse_rollback(c, e, v);
		}
	}
}

int policy_config_parse(struct policy_config *c, const char *data, size_t len, const char *path,
			const char *dir, int flags)
{
	struct ynode *root = NULL;
	const struct ynode *envs = NULL;
	size_t i;

	free(c->path);
	free(c->dir);
	c->path = xstrdup(path);
	c->dir = xstrdup(dir ? dir : ".");
	if (yaml_load(&root, data, len, path) < 0) {
		int line, col;

		yaml_last_error_mark(&line, &col);
		diag(c, 0, line, col, "%s", yaml_strip_mark(cairn_error_last()));
		goto out;
	}
	if (!root) {
		diag(c, 0, 0, 0, "the config is empty; it needs 'environments:' with at least one "
				 "environment (see cairn-apply(1))");
		goto out;
	}
	if (root->type != YNODE_MAP) {
		diag(c, 0, root->line, root->col,
		     "expected a mapping with 'environments:', found %s",
		     ynode_type_name(root->type));
		goto out;
	}
	c->defaults.name = xstrdup("defaults");
	for (i = 0; i < root->n; i++) {
		const struct ynode *k = ynode_key(root, i), *v = ynode_val(root, i);

		if (!strcmp(k->str, "environments"))
			envs = v;
		else if (!strcmp(k->str, "defaults"))
			parse_env(c, &c->defaults, v, 1, flags);
		else
			unknown_key(c, k, "the config", top_keys);
	}
	if (!envs || ynode_is_null(envs) || (envs->type == YNODE_MAP && !envs->n)) {
		diag(c, 0, envs ? envs->line : root->line, envs ? envs->col : root->col,
		     "no environments: add 'environments:' with at least one entry such as "
		     "'dev: {database: {dsn: \"sqlite:dev.db\"}, builders: [keys/ci.pub]}'");
		goto out;
	}
	if (envs->type != YNODE_MAP) {
		wrong_type(c, "environments", envs, "a mapping of environment names to settings");
		goto out;
	}
	for (i = 0; i < envs->n; i++) {
		const struct ynode *k = ynode_key(envs, i), *v = ynode_val(envs, i);
		struct policy_env *e;

		if (!env_name_ok(k->str)) {
			diag(c, 0, k->line, k->col,
			     "environment name '%s' must be letters, digits, '_', '-' or '.', "
			     "at most 64, not starting with '.' or '-'", k->str);
			continue;
		}
		ALLOC_GROW(c->envs, c->nenvs + 1, c->envs_alloc);
		e = &c->envs[c->nenvs++];
		memset(e, 0, sizeof(*e));
		e->name = xstrdup(k->str);
		e->line = k->line;
		e->col = k->col;
		parse_env(c, e, v, 0, flags);
	}
	validate(c, flags);
out:
	ynode_free(root);
	sort_diags(c);
	if (c->errors) {
		size_t j;

		for (j = 0; j < c->ndiags; j++) {
			if (!c->diags[j].warning) {
				cairn_error_set("%s", c->diags[j].msg);
				break;
			}
		}
		return -1;
	}
	return 0;
}

int policy_config_load(struct policy_config *c, const char *path, int flags)
{
	struct buf data = BUF_INIT;
	char *dir, *slash;
	int rc;

	buf_init(&data, POLICY_CONFIG_MAX_SIZE);
	if (read_file(path, POLICY_CONFIG_MAX_SIZE, &data) < 0) {
		buf_release(&data);
		return -1;
	}
	dir = xstrdup(path);
	slash = strrchr(dir, '/');
	if (!slash) {
		free(dir);
		dir = xstrdup(".");
	} else if (slash == dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	rc = policy_config_parse(c, data.ptr, data.len, path, dir, flags);
	free(dir);
	buf_release(&data);
	return rc;
}

const char *policy_config_path(const char *flag, const char *env_value, const char **source)
{
	if (flag && *flag) {
		*source = "flag";
		return flag;
	}
	if (env_value && *env_value) {
		*source = "env";
		return env_value;
	}
	*source = "default";
	return POLICY_CONFIG_FILE;
}

const struct policy_env *policy_config_env(const struct policy_config *c, const char *name)
{
	size_t i;

	if (!name)
		return NULL;
	for (i = 0; i < c->nenvs; i++)
		if (!strcmp(c->envs[i].name, name))
			return &c->envs[i];
	return NULL;
}

void policy_config_unknown_env(const struct policy_config *c, const char *name, struct buf *msg)
{
	const char **names = xcalloc(c->nenvs + 1, sizeof(*names));
	const char *hint;
	size_t i;

	for (i = 0; i < c->nenvs; i++)
		names[i] = c->envs[i].name;
	hint = did_you_mean(name, names);
	buf_printf(msg, "environment '%s' is not in '%s'", name, c->path);
	if (hint) {
		buf_printf(msg, "; did you mean '%s'?", hint);
	} else {
		buf_puts(msg, " (it has ");
		for (i = 0; i < c->nenvs; i++)
			buf_printf(msg, "%s'%s'", i ? ", " : "", c->envs[i].name);
		buf_puts(msg, ")");
	}
	free(names);
}
