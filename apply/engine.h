/* The apply engine: plans and runs migrations against any driver, keeps the
 * bookkeeping (cairn_migrations) and the audit chain (cairn_audit). It knows
 * databases only through drivers/driver.h and bundles only through the
 * apply_set it is handed (apply/load.c builds one from a verified bundle),
 * so it is tested in C without either.
 *
 * Functions return an exit code from lib/exitcodes.h (EXIT_OK, EXIT_FAILED,
 * EXIT_LOCKED, EXIT_STATE, EXIT_ENVIRONMENT, EXIT_USAGE, and EXIT_REFUSED for
 * a step's SQL that cannot be used) rather than 0/-1:
 * the engine is the one place that knows which of those a failure is. On
 * failure the error slot holds one line saying what failed; the caller adds
 * the state of the database (apply_result) and what to run next. The engine
 * never prints: everything the user sees goes through the event callback. */
#ifndef CAIRN_APPLY_ENGINE_H
#define CAIRN_APPLY_ENGINE_H

#include <stddef.h>

#include "../drivers/driver.h"
#include "set.h"

enum step_action {
	STEP_APPLY,        /* pending: runs */
	STEP_RESUME,       /* a batch migration interrupted earlier: resumes */
	STEP_APPLIED,      /* skipped: already applied with the same checksum */
	STEP_BASELINE,     /* skipped: at or below the baseline */
	STEP_OTHER_ENV,    /* skipped: environments: does not list this one */
	STEP_AFTER_TO,     /* skipped: after --to */
	STEP_DRIFT,        /* applied with another checksum: stops the run */
	STEP_BLOCKED,      /* a failed or in-progress row: needs repair */
};

struct plan_step {
	struct apply_mig *m;
	const struct bk_row *row; /* NULL when the database has none */
	enum step_action action;
};

struct plan {
	struct plan_step *steps;  /* one per migration of the set, in order */
	size_t n;
	size_t napply, ndrift, nblocked;
	const struct bk_row **missing; /* applied in the database, absent from the bundle */
	size_t nmissing;
	const struct bk_row **blocked; /* failed or in progress, and not a batch this set resumes */
	const char *baseline;     /* version of the baseline row, or NULL */
	char *current;            /* highest applied version, or NULL */
};

/* Builds the plan of set against rows (in any order) for env, up to and
 * including to (NULL: all). Returns EXIT_OK, or EXIT_USAGE when to is not a
 * version of the set. Reads no SQL. */
int plan_build(struct plan *out, const struct apply_set *set, const struct bk_row *rows,
	       size_t nrows, const char *env, const char *to);
void plan_release(struct plan *p);
const char *step_action_name(enum step_action a);

/* What the engine tells its caller as it goes. */
enum apply_event_type {
	EV_PLAN,        /* before anything runs: pending count in total */
	EV_START,       /* a migration starts */
	EV_BATCH,       /* a batch committed: batches, rows */
	EV_APPLIED,     /* a migration committed (or rolled back, for rollback) */
	EV_FAILED,      /* a migration failed: error */
	EV_SKIPPED,     /* a migration skipped: reason */
	EV_DRIFT,       /* checksum differs: checksum (bundle), row->checksum (database) */
	EV_MISSING,     /* applied version absent from the bundle */
	EV_BLOCKED,     /* failed/in-progress row */
	EV_DONE,        /* the run ended: count, duration */
};

struct apply_event {
	enum apply_event_type type;
	const char *action;       /* "apply", "rollback" */
	const char *version, *name, *environment, *bundle_id;
	const char *checksum;     /* the bundle's */
	const struct bk_row *row; /* the database's, when relevant */
	const char *error;        /* EV_FAILED: one line, with file:line when known */
	const char *reason;       /* EV_SKIPPED */
	size_t index, total;      /* 1-based position among the migrations that run */
	long long duration_ms;
	long long batches, rows;
};

typedef void (*apply_event_fn)(void *ctx, const struct apply_event *ev);

struct apply_opts {
	const char *env;
	const char *to;                  /* apply: --to VERSION */
	int atomic;
	unsigned long long lock_timeout_ms;
	const char *actor;               /* user@host; NULL: worked out */
	const char *evidence;            /* the policy's statements used (#7): added to
					  * every audit row's detail; NULL: none */
	apply_event_fn event;
	void *ctx;
};

/* What happened, for the caller's closing message. */
struct apply_result {
	size_t applied, skipped;
	char *from_version, *to_version; /* highest applied before and after (NULL: none) */
	char *failed_version;            /* the migration that stopped the run */
	int rolled_back;                 /* the failure left the database as it was */
	int needs_repair;                /* a row is failed or in progress */
	int partial;                     /* the failed step ran partly, outside a transaction */
};

void apply_result_release(struct apply_result *r);

/* Applies set to the open database. The SQL of every step that will run
 * is read and checked (apply_mig_read_sql) before the first one runs; when
 * one cannot be used, nothing runs and EXIT_REFUSED comes back with the
 * error "cannot read bundle 'PATH': ...", as if loading had refused it. */
int engine_apply(struct db *db, const struct driver *drv, const struct apply_set *set,
		 const struct apply_opts *o, struct apply_result *res);

/* Rolls back, newest first, every applied migration above to_version (when
 * set) or the last n. Needs no bundle: the down scripts come from the rows. */
int engine_rollback(struct db *db, const struct driver *drv, const char *to_version,
		    size_t last_n, const struct apply_opts *o, struct apply_result *res);

/* Marks an existing database as being at version: migrations at or below it
 * are taken as applied. Refused when migrations are already recorded. */
int engine_baseline(struct db *db, const struct driver *drv, const char *version,
		    const char *description, const struct apply_opts *o);

/* Clears a failed or in-progress row: mark_applied 1 (the operator finished
 * it by hand) or 0 (the operator undid it: rolled_back). */
int engine_repair(struct db *db, const struct driver *drv, const char *version,
		  int mark_applied, const struct apply_opts *o);

/* The audit chain (apply/audit.c). */
#define AUDIT_ZERO_HASH "0000000000000000000000000000000000000000000000000000000000000000"
/* Computes row->hash (replacing it) from the other fields and prev_hash. */
void audit_hash(struct audit_row *row);

struct audit_problem {
	long long seq;     /* the row where the chain breaks (0: the table as a whole) */
	char *message;
};

/* Checks a chain read in seq order and the bookkeeping rows' anchors.
 * Returns the number of problems found (0: intact), filling *out. */
size_t audit_verify(const struct audit_row *rows, size_t n, const struct bk_row *bk,
		    size_t nbk, struct audit_problem **out);
void audit_problems_free(struct audit_problem *p, size_t n);

/* Helpers shared with the verbs. */
char *engine_actor(void);                         /* "user@host" */
void engine_now(char out[32]);                    /* "2026-11-22T09:30:00Z" */
/* "file:line: " prefix for an error at byte offset in the script. */
void engine_error_where(const char *path, const char *sql, size_t len, long offset,
			char *out, size_t outlen);

#endif
