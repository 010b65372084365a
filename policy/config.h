/* The applier's config (cairn-apply.yaml): per environment, the database
 * and the trust policy (builders, approvers and their quorum, the previous
 * environment, receipt keys, admins, revoked keys), plus the precedence of
 * flags over CAIRN_* variables over the file over built-in defaults.
 *
 * Linked into both programs (cairn verify --config reads it too); no
 * signing code and no libgit2 here. Loading reads the public key files the
 * config names (PEM SubjectPublicKeyInfo, Ed25519) and computes their key
 * ids; it never reads a secret (dsn_env, dsn_file) except through
 * policy_database_dsn(), which the applier calls when it connects. */
#ifndef CAIRN_POLICY_CONFIG_H
#define CAIRN_POLICY_CONFIG_H

#include <stddef.h>

#include "../lib/buf.h"

#define POLICY_CONFIG_FILE "cairn-apply.yaml"
#define POLICY_CONFIG_ENV "CAIRN_APPLY_CONFIG"
#define POLICY_DEFAULT_LOCK_TIMEOUT_MS 15000ULL
/* Issue #22: a PostgreSQL migration's statements wait this long for a lock
 * (postgres: {lock_timeout}) before the transaction is rolled back and run
 * again, for as long as attempts start within the retry budget
 * (postgres: {lock_retry_budget}; 0: no retry). */
#define POLICY_DEFAULT_PG_LOCK_TIMEOUT_MS 2000ULL
#define POLICY_DEFAULT_PG_LOCK_RETRY_MS 60000ULL
#define POLICY_CONFIG_MAX_SIZE (1U << 20)
#define POLICY_KEY_MAX_SIZE (64U << 10)
#define POLICY_KEY_ID_LEN 16

/* A public key the config names. */
struct policy_key {
	char *path;        /* as written in the config */
	char *resolved;    /* against the config's directory */
	char key_id[POLICY_KEY_ID_LEN + 1]; /* first 16 hex digits of sha256(raw) */
	unsigned char raw[32];              /* the raw Ed25519 public key */
	int loaded;        /* raw and key_id are set */
	int line, col;
	/* revoked: signatures made at or after since stop counting */
	char *since;       /* as written ("2026-11-01T00:00:00Z"); NULL = always */
	long long since_epoch;
};

struct policy_keylist {
	struct policy_key *items;
	size_t n, alloc;
	int set;           /* written in the file (for the environment or defaults) */
	int line, col;     /* of the value, when set */
};

enum policy_db_kind { POLICY_DB_NONE, POLICY_DB_DSN, POLICY_DB_DSN_ENV, POLICY_DB_DSN_FILE };

struct policy_env {
	char *name;
	int line, col;
	enum policy_db_kind db_kind;
	char *db_value;    /* the DSN, the variable's name, or the file (resolved) */
	char *db_written;  /* as written, for messages */
	int db_line, db_col;
	struct policy_keylist builders, approvers, receipts_from, admins, revoked;
	unsigned long long approvals; /* m of the approvers */
	int approvals_set, approvals_line, approvals_col;
	char *after;       /* an environment whose approval must be on the bundle */
	int after_line, after_col;
	unsigned long long lock_timeout_ms;
	int lock_timeout_set, lock_timeout_line, lock_timeout_col;
	/* postgres: {statement_timeout, lock_timeout}: the session's timeouts
	 * for migrations that set none (0: the server's own setting) */
	unsigned long long pg_statement_timeout_ms, pg_lock_timeout_ms, pg_lock_retry_ms;
	int pg_statement_timeout_set, pg_lock_timeout_set, pg_lock_retry_set;
	/* replication_lag_query (issue #22): reads a standby's lag in ms before
	 * each batch of a migration with batch: max_replication_lag */
	char *lag_query;
	char *lag_bytes_query; /* replication_lag_bytes_query: the same in bytes */
	/* postgres: {version: N}: the major version the migrations were
	 * checked for (preflight compares the server's with it) */
	int pg_version, pg_version_set;
	/* postgres: {privileged_role: warn|refuse}: 1 warn, 2 refuse */
	int pg_privileged, pg_privileged_set, pg_privileged_line;
	/* sqlite: {foreign_keys: on|off}: added to a sqlite: DSN that does not
	 * set it (the DSN's own option wins) */
	int sqlite_fk, sqlite_fk_set;
	/* sqlite: {extensions: [PATH, ...]} (issue #19): resolved against the
	 * config's directory, each checked to exist when the config is read */
	char **sqlite_ext;
	size_t nsqlite_ext;
	int sqlite_ext_set;
	/* an approval lasts at most this long after it was signed, and one
	 * without expires exactly this long (POLICY_MAX_APPROVAL_AGE_MS when
	 * neither the environment nor defaults set it) */
	unsigned long long max_approval_age_ms;
	int max_approval_age_set;
	/* checkpoint: {file: PATH, key: PATH}: where apply appends a signed
	 * checkpoint of the audit chain's head, and the key that signs it
	 * (NULL: the receipt key); both resolved against the config's directory */
	char *checkpoint_file, *checkpoint_key;
	/* targets: a fleet's databases, as lines of a targets file (read by
	 * fleet/targets.h when 'fleet' runs without --targets) */
	struct policy_target_line {
		char *text;
		int line;
	} *targets;
	size_t ntargets;
	/* backup: off | {dir: PATH} (issue #20): the copy taken before a
	 * destructive migration; dir resolved (NULL: beside the database) */
	int backup_off, backup_set;
	char *backup_dir;
	/* backup: {command: CMD, timeout: D}: the environment's own command
	 * (a PITR snapshot...) instead of cairn's copy; 0: the hooks' default */
	char *backup_command;
	unsigned long long backup_timeout_ms;
	/* hooks: {before, after, on_error, timeout} (issue #20): shell commands
	 * run around an apply (NULL: none); timeout 0: the default */
	char *hook_before, *hook_after, *hook_on_error;
	unsigned long long hook_timeout_ms;
	int hooks_set;
	/* lint: {refuse_waived: [RULE...]} (issue #18): a bundle whose manifest
	 * records a waived finding of one of these rules is refused here. The
	 * rules by cairn's id (a Squawk name is turned into it); "all": any */
	char **refuse_waived;
	size_t nrefuse_waived;
	int refuse_waived_set, refuse_waived_line;
	/* destructive: {approvals: N} (issue #18): a bundle with a destructive
	 * migration still to run here needs N approvals instead of the
	 * ordinary count (policy/destructive.c says which are destructive) */
	unsigned long long destructive_approvals;
	int destructive_set, destructive_line, destructive_col;
	/* rollback: {require_bundle: BOOL} (issue #15); unset: see
	 * policy_resolved.rollback_require_bundle */
	int rollback_bundle, rollback_bundle_set, rollback_bundle_line;
};

#define POLICY_MAX_APPROVAL_AGE_MS (30ULL * 24 * 3600 * 1000) /* 30 days */
/* How far ahead of this host's clock a statement's time may be. */
#define POLICY_CLOCK_SKEW_S 300

/* One diagnostic: "PATH:LINE:COL: error: message". */
struct policy_diag {
	char *msg;
	int warning;
	int line, col; /* 0 when about the whole file */
};

struct policy_config {
	char *path;        /* as given */
	char *dir;         /* the directory relative paths resolve against */
	struct policy_env defaults; /* `defaults:` (name "defaults", no database) */
	struct policy_env *envs;
	size_t nenvs, envs_alloc;
	struct policy_diag *diags;
	size_t ndiags, diags_alloc;
	size_t errors, warnings;
};

/* Do not read key files (the fuzz target: a config may name any path). */
#define POLICY_CONFIG_NO_KEYS 1

void policy_config_init(struct policy_config *c);
void policy_config_release(struct policy_config *c);

/* Parses a config held in memory; path names it in messages and dir is
 * where relative paths resolve. Every problem becomes a diagnostic; returns
 * -1 (error set to the first one) when there is any error, else 0. */
int policy_config_parse(struct policy_config *c, const char *data, size_t len,
			const char *path, const char *dir, int flags);
/* Reads and parses the file at path. */
int policy_config_load(struct policy_config *c, const char *path, int flags);

/* Which file to read: --config, else $CAIRN_APPLY_CONFIG, else
 * ./cairn-apply.yaml. *source is "flag", "env" or "default". */
const char *policy_config_path(const char *flag, const char *env_value, const char **source);

const struct policy_env *policy_config_env(const struct policy_config *c, const char *name);
/* A one-line message for an unknown environment, with a suggestion. */
void policy_config_unknown_env(const struct policy_config *c, const char *name,
			       struct buf *msg);

/* The effective settings of an environment: its own, else defaults'.
 * which: "builders", "approvers", "receipts_from", "admins". */
const struct policy_keylist *policy_env_list(const struct policy_config *c,
					     const struct policy_env *e, const char *which);
unsigned long long policy_env_approvals(const struct policy_config *c,
					const struct policy_env *e);
/* destructive: {approvals:} of the environment, else of defaults; 0 when
 * neither sets it (destructive migrations need the ordinary count). */
unsigned long long policy_env_destructive_approvals(const struct policy_config *c,
						   const struct policy_env *e);

/* Where a merged value came from. */
enum policy_source { POLICY_SRC_DEFAULT, POLICY_SRC_FILE, POLICY_SRC_ENV, POLICY_SRC_FLAG };
const char *policy_source_name(enum policy_source s);

/* What the command line and the CAIRN_* variables said (NULL = not said). */
struct policy_inputs {
	const char *flag_env, *flag_db, *flag_lock_timeout;
	const char *env_env, *env_db, *env_lock_timeout; /* CAIRN_ENV, CAIRN_DB, CAIRN_LOCK_TIMEOUT */
};

struct policy_setting {
	enum policy_source source;
	char *origin;      /* "--db", "CAIRN_DB", "cairn-apply.yaml:12:17", "built-in" */
};

/* The merged settings for one environment. */
struct policy_resolved {
	const struct policy_env *env; /* the trust policy: from the file only */
	char *env_name;
	struct policy_setting env_name_src;
	enum policy_db_kind db_kind;  /* POLICY_DB_DSN when a flag or CAIRN_DB names it */
	char *db_value;
	struct policy_setting db_src;
	unsigned long long lock_timeout_ms;
	struct policy_setting lock_timeout_src;
	/* postgres: the environment's, else the defaults', else 0 (none) for
	 * statement_timeout, POLICY_DEFAULT_PG_* for lock_timeout and
	 * lock_retry_budget (issue #22) */
	unsigned long long pg_statement_timeout_ms, pg_lock_timeout_ms, pg_lock_retry_ms;
	/* lock_timeout for the migrations that are retried: pg_lock_timeout_ms
	 * when set, else POLICY_DEFAULT_PG_LOCK_TIMEOUT_MS */
	unsigned long long pg_retry_lock_timeout_ms;
	const char *replication_lag_query; /* the environment's, else the defaults'; NULL */
	const char *replication_lag_bytes_query; /* the same, for a bound in bytes */
	int pg_version;          /* postgres: {version:}, else the defaults'; 0: not set */
	/* postgres: {privileged_role: refuse}, the environment's, else the
	 * defaults'; else refuse where the environment asks more than a build
	 * (approvals, receipts_from, an 'after' environment), warn (0)
	 * elsewhere (attack15h). pg_privileged_set: the config set it (an
	 * apply signing a receipt then keeps warn); pg_privileged_src says
	 * where the value came from ("cairn-apply.yaml:12", "the default where
	 * approvals are required") */
	int pg_privileged_refuse, pg_privileged_set;
	char *pg_privileged_src;
	int backup_off;          /* backup: off (the environment's, else the defaults') */
	const char *backup_dir;  /* backup: {dir:}; NULL: beside the database */
	const char *backup_command; /* backup: {command:}; NULL: cairn's own copy */
	unsigned long long backup_timeout_ms;
	const struct policy_env *hooks; /* whose hooks: apply (the environment's, else
					 * the defaults'); NULL: none */
	int sqlite_foreign_keys; /* sqlite: the environment's, else the defaults': 0 unset
				  * (zeroed memory), 1 off, 2 on */
	/* sqlite: {extensions:}: the environment's list when it sets one (even
	 * empty), else the defaults' (the lists are not merged) */
	char *const *sqlite_extensions;
	size_t nsqlite_extensions;
	/* the effective lists and quorum (environment, else defaults) */
	const struct policy_keylist *builders, *approvers, *receipts_from, *admins;
	struct policy_keylist revoked; /* defaults' and the environment's together */
	unsigned long long approvals;
	struct policy_setting approvals_src;
	/* rollback needs --bundle (issue #15): rollback: {require_bundle:} of
	 * the environment, else of defaults, else 1 when the environment asks
	 * for approvals or names an 'after' environment (what runs there was
	 * vetted, so an unvouched down script must not) and 0 otherwise;
	 * rollback_require_src says which ("cairn-apply.yaml:12", "default") */
	int rollback_require_bundle;
	char *rollback_require_src;
};

/* Merges for the environment named by the inputs (flag, else CAIRN_ENV).
 * Returns 0; -1 with the error set when no environment is named, it is not
 * in the config, or a flag or variable holds a bad value (*usage is 1 then:
 * the caller's fault, not the config's). */
int policy_resolve(struct policy_resolved *out, const struct policy_config *c,
		   const struct policy_inputs *in, int *usage);
void policy_resolved_release(struct policy_resolved *r);

/* The database's DSN, secrets included: reads the variable or the file.
 * For the driver only; never print it (use dsn_mask). */
int policy_database_dsn(const struct policy_resolved *r, char **out);

/* A copy of dsn with its password replaced by "****" (URI user:password@,
 * a password= query parameter, or a keyword string's password=...). */
char *dsn_mask(const char *dsn);
/* 1 when dsn carries a password. */
int dsn_has_password(const char *dsn);
/* 1 when dsn has one of the forms a DSN takes: sqlite:PATH, postgres://...,
 * postgresql://... or a libpq keyword string (config, --db, fleet targets). */
int dsn_form_ok(const char *dsn);
/* 1 when s can name an environment variable (dsn_env): letters, digits, _. */
int env_var_name_ok(const char *s);

/* Loads a PEM Ed25519 public key: raw bytes and key id. */
int policy_key_load(struct policy_key *k, const char *path);
/* Key id of a raw 32-byte Ed25519 public key. */
void policy_key_id(const unsigned char raw[32], char out[POLICY_KEY_ID_LEN + 1]);
/* Finds a key id in a list; NULL when absent. */
const struct policy_key *policy_keylist_find(const struct policy_keylist *l, const char *key_id);

/* Parses an RFC 3339 UTC time ("2026-11-01T00:00:00Z", also with a
 * "+00:00" or other numeric offset, or a bare date "2026-11-01") into
 * seconds since the epoch. */
int parse_rfc3339(const char *s, long long *out);

#endif
