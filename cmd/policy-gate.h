/* The applier's verbs (plan, apply) under the trust policy: without --key,
 * the environment's entry in the applier's config names the database, the
 * lock timeout and the keys, and the bundle must meet the policy before the
 * database is touched. With --key (no config), only the build signature is
 * checked: the mode for a developer's own database. */
#ifndef CAIRN_APPLY_POLICY_H
#define CAIRN_APPLY_POLICY_H

#include "../ops/backup.h"
#include "cairn-apply.h"
#include "policy-report.h"

struct apply_policy {
	int active;                 /* the config's policy decides */
	struct apply_config ac;
	struct policy_bundle pb;
	char *dsn;                  /* the resolved DSN (a secret: never printed) */
	char *receipt;              /* the member of the receipt added, if any */
	/* what every audit row of the run carries about the database opened:
	 * "sqlite_extensions=PATH sha256:HEX, ..." (issue #19), then on
	 * PostgreSQL "connected=postgres USER@HOST:PORT/DB", the server libpq
	 * reached once PGHOST, PGDATABASE... filled what the DSN left out
	 * (attack15h); NULL: nothing */
	char *ext_note;
	int db_noted;               /* apply_policy_note_db added its part */
	char *evidence;             /* what apply_policy_evidence returned last */
};

/* Picks the mode (policy when --config, $CAIRN_APPLY_CONFIG or
 * ./cairn-apply.yaml names a config and no --key is given) and resolves env, dsn and the lock timeout (flags beat
 * CAIRN_* beat the file beat defaults). lock_flag is --lock-timeout as
 * given (NULL: not given); *lock_ms is set in policy mode. Prints; returns
 * an exit code or 0. */
int apply_policy_begin(struct apply_policy *ap, const struct cmd *c, const char *config,
		       const char **env, const char **dsn, const char *lock_flag,
		       unsigned long long *lock_ms, size_t nkeys);
/* The verbs that change the books without a bundle (rollback, repair,
 * baseline): the environment is --env, else $CAIRN_ENV, so that leaving
 * out the flag is no way around the database's identity; with a config
 * anywhere (policy mode) one must be named, and its entry gives the
 * database unless --db does. Then as apply_policy_begin. */
int apply_policy_begin_books(struct apply_policy *ap, const struct cmd *c, const char *config,
			     const char **env, const char **dsn, const char *lock_flag,
			     unsigned long long *lock_ms);
/* Verifies the bundle (and, in policy mode, the policy for needs) and loads
 * its migrations into set. */
int apply_policy_load_bundle(struct apply_policy *ap, struct apply_ctx *c, const char *path,
			     unsigned needs, const char *const *keys, size_t nkeys,
			     struct apply_set *set);
/* Rollback protection once the database is open: a bundle older than what
 * it already has is refused unless an admin's override allows it. */
int apply_policy_check_db(struct apply_policy *ap, struct apply_ctx *c, const char *path,
			  unsigned needs);
/* Once c's database is open: on PostgreSQL, where libpq connected (user,
 * host, port, database, as PQuser/PQhost/PQport/PQdb say) added to
 * ext_note, so that every audit row of the run records the server a DSN
 * leaving them out reached through the PG* variables. Once per run. */
void apply_policy_note_db(struct apply_policy *ap, const struct apply_ctx *c);
/* The run's role check (apply/role.h) as the policy sets it: 1 when a
 * privileged role is refused (postgres: {privileged_role: refuse}, or its
 * default; with signs_receipt, an apply that signs a receipt, refuse unless
 * the config says warn), *why what chose that (for the message). */
int apply_policy_role_refuse(const struct apply_policy *ap, int signs_receipt,
			     const char **why);
/* The statements used, for the audit rows (NULL outside policy mode). */
const char *apply_policy_evidence(struct apply_policy *ap);
/* After a successful apply: a receipt signed by key (unlocked before the
 * run), carrying checkpoint (the run's checkpoint line by key, or NULL),
 * added to the bundle at path. Prints; returns an exit code or 0. */
struct receipt_key;
int apply_policy_receipt(struct apply_policy *ap, struct apply_ctx *c, const char *path,
			 const char *env, const struct receipt_key *key, const char *checkpoint);
/* 1 when an admin's override on the bundle grants all of the
 * POLICY_OVERRIDE_* bits in which (policy mode only). */
int apply_policy_overrides(const struct apply_policy *ap, unsigned which);
/* The builder key ids the run trusts (the environment's builders, else the
 * --key files), sorted, comma-separated, malloc'ed: recorded in the
 * database's identity. */
char *apply_policy_builders(const struct apply_policy *ap, const char *const *keys, size_t nkeys);
/* The ids of the keys whose valid, trusted (and, in policy mode, not
 * revoked) build signatures the bundle carries, and the ids the policy
 * revokes: comma-separated, malloc'ed ("" when none; the signers NULL when
 * there is no bundle to ask). For the identity's builders check. */
char *apply_policy_signers(const struct apply_policy *ap, const struct apply_set *set);
char *apply_policy_revoked(const struct apply_policy *ap);
void apply_policy_release(struct apply_policy *ap);

/* The backup before a destructive migration (ops/backup.h) as the
 * environment configures it (backup: off | {dir:} | {command:}), for c's
 * database: apply takes it, plan says it. Borrows from ap and c. */
void apply_policy_backup(struct backup_ctx *b, const struct apply_policy *ap,
			 struct apply_ctx *c, const char *env, const char *bundle_id);

#endif
