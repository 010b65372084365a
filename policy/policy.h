/* The trust policy, evaluated: given the statements a bundle carries (their
 * signatures already checked), the applier's config and the target
 * environment, decide whether the bundle may run there, and say why not.
 *
 * Pure: no files, no clock, no database. The caller passes the time and what
 * the database already holds; the verdict lists every rule that failed, each
 * naming the statement, and the statements that were used (for the audit
 * row). */
#ifndef CAIRN_POLICY_H
#define CAIRN_POLICY_H

#include <stddef.h>

#include "config.h"

/* One signed statement, as the verifier read it. */
struct policy_stmt {
	const char *name;        /* the member or file, for messages */
	const char *type;        /* build | approval | contract | receipt | override */
	const char *bundle;      /* the bundle id it names */
	const char *environment; /* NULL for build */
	const char *key_id;      /* of the key that signed it */
	const char *signer;      /* a person's or a machine's name, for messages */
	const char *time;        /* RFC 3339, when it was signed */
	const char *expires;     /* approval, override: optional */
	const char *database;    /* receipt: the database's identifier */
	const char *const *allow; /* override: the operations it allows */
	size_t nallow;
	int valid;               /* the signature checks against key_id's key */
	const char *problem;     /* why not valid, when the verifier said */
	const unsigned char *raw; /* the 32-byte key it names, or NULL: when set, a
				   * config key counts only if its bytes match too */
};

/* Operations only an admin's override statement allows. */
#define POLICY_OVERRIDE_OLDER_BUNDLE 0x1 /* "older-bundle": apply a bundle older than the database */
#define POLICY_OVERRIDE_NO_RECEIPT   0x2 /* "no-receipt": waive receipts_from */
#define POLICY_OVERRIDE_REPAIR       0x4 /* "repair": mark a row applied or rolled back */
#define POLICY_OVERRIDE_FORCE        0x8 /* "force": run past a failed or in-progress row */
#define POLICY_OVERRIDE_IDENTITY    0x10 /* "identity": move a database to another
					   * environment or project */

/* The override names as they appear in `allow:`; NULL-terminated. */
extern const char *const policy_override_names[];
/* The bit for an override name, or 0. */
unsigned policy_override_bit(const char *name);

struct policy_request {
	const char *bundle_id;       /* "sha256:..." */
	const char *environment;
	long long now;               /* seconds since the epoch */
	/* rollback protection: the bundle's highest version and the database's
	 * highest applied one (NULL when it has none or it is not known) */
	const char *bundle_latest, *db_latest;
	unsigned needs;              /* POLICY_OVERRIDE_* the operation needs */
	int approvals;               /* 1: check builders, approvals, after, receipts */
	/* destructive: {approvals: N} (issue #18): N when a destructive
	 * migration waits to run (0: none, or the environment asks nothing
	 * more), and what they are, for the message */
	unsigned long long destructive_approvals;
	const char *destructive_what;
};

struct policy_reason {
	char *rule;                  /* "approvals", "after", "receipt", ... */
	char *message;               /* names the statement(s) and the way out */
};

struct policy_verdict {
	int ok;
	struct policy_reason *reasons; /* why not, in rule order */
	size_t nreasons, reasons_alloc;
	char **notes;                  /* statements that did not count, and why */
	size_t nnotes, notes_alloc;
	const struct policy_stmt **used; /* build, approvals, receipts, overrides used */
	size_t nused, used_alloc;
	unsigned overrides;            /* POLICY_OVERRIDE_* granted by an admin */
	int contract;                  /* a contract statement for the environment by
					* one of its approvers: contract migrations may run */
	char **ignored;                /* statements that count for nothing (a revoked
				        * key's), for the audit row; also in notes */
	size_t nignored, ignored_alloc;
	size_t approvals;              /* approvals that counted for the environment
					* (distinct, fresh, unrevoked approvers) */
};

/* Evaluates. Returns 0 with the verdict filled (ok or not), or -1 with the
 * error set when the inputs are unusable (an unknown environment). */
int policy_check(struct policy_verdict *out, const struct policy_config *c,
		 const struct policy_stmt *st, size_t n, const struct policy_request *req);
void policy_verdict_release(struct policy_verdict *v);
/* Adds a refusal by a rule policy_check does not know (the bundle's
 * contents: bundle.c's lint-waiver). */
void policy_verdict_refuse(struct policy_verdict *v, const char *rule, const char *message);

/* The revocation that covers a signature by key_id made at time t, or NULL. */
const struct policy_key *policy_revoked(const struct policy_config *c, const struct policy_env *e,
					const char *key_id, long long t);

#endif
