/* cairn-apply's verbs and what they share: opening the database named by
 * --db, turning engine events into human or JSON output, and the closing
 * message that says what state the database is in and what to run next. */
#ifndef CAIRN_CAIRN_APPLY_H
#define CAIRN_CAIRN_APPLY_H

#include <pthread.h>
#include <signal.h>

#include "../apply/engine.h"
#include "../drivers/driver.h"
#include "cmd.h"

struct early_open;
struct run_metrics;

struct checkpoint;

struct apply_ctx {
	const struct cmd *cmd;
	const struct driver *drv;
	struct db *db;
	const char *dsn;
	int json;          /* --log-format json / --format json */
	int tty;           /* stdout is a terminal: progress in place */
	int progress_open; /* a progress line waits for its end */
	long long last_batch_print;
	long long last_flush;  /* not a terminal: when stdout was last flushed */
	/* apply: loading the bundle reads no SQL; engine_apply reads that of
	 * the steps that run. 0 (plan, status): all of it at load. */
	int sql_when_run;
	/* apply: the database opening beside the verification, asked whether
	 * the bundle file is one verified and applied here before
	 * (apply_ctx_load_bundle); NULL: not asked. */
	struct early_open *early;
	/* The newest checkpoint of this database in the checkpoint file, its
	 * signature checked (checkpoint_check_before), for the engine to
	 * compare with the chain under its lock (apply_opts.checkpoint);
	 * NULL: none. Freed by apply_ctx_close. */
	struct checkpoint *checkpoint;
	/* apply --metrics-file: the engine's events are counted there too;
	 * NULL: no metrics */
	struct run_metrics *metrics;
};

/* Opens --db with the driver's open flags (DRIVER_OPEN_READONLY,
 * DRIVER_OPEN_EXISTING); prints the error and returns an exit code, or 0. */
int apply_ctx_open(struct apply_ctx *c, const struct cmd *cmd, const char *dsn, unsigned flags,
		   int json);
/* Opening the database on a second thread while the bundle is verified on
 * the first, where the driver says that is harmless (driver.h, open_early):
 * with thousands of tables, SQLite's reading of the schema costs as much as
 * the verification. Nothing is read from the bundle, and nothing is written
 * to the database, before the bundle is verified; a refused bundle drops
 * the connection unused. */
struct early_open {
	const struct driver *drv;
	const char *dsn;
	unsigned flags;
	struct db *db;
	int rc, started, joined;
	pthread_t thread;
};
/* Waits for the early open and returns its connection, which stays in e
 * (NULL when it was not started or failed). */
struct db *early_open_wait(struct early_open *e);
/* Starts the open when drv allows it; otherwise does nothing. */
void early_open_start(struct early_open *e, const struct driver *drv, const char *dsn,
		      int readonly);
/* Waits for it and closes what it opened. */
void early_open_drop(struct early_open *e);
/* apply_ctx_open, taking the early connection when it opened (its failure
 * is forgotten: this opens again, and reports what that open says). */
int apply_ctx_open_early(struct apply_ctx *c, const struct cmd *cmd, struct early_open *e,
			 const char *dsn, int readonly, int json);
void apply_ctx_close(struct apply_ctx *c);
/* For apply's bundle_open: the known_file callback (verify/bundle.h), ctx
 * the struct apply_ctx, answered from the early connection's books. */
int apply_ctx_known_file(void *ctx, const char *sha256_hex);
/* After a successful apply: records in the books the sha256 of the bundle
 * file it verified whole, under the run lock. A speed-up for the next
 * apply of the same file only: what fails here is not reported. */
void apply_ctx_record_file(struct apply_ctx *c, const struct apply_set *set,
			   unsigned long long lock_ms);
/* The engine's event callback (ctx is the struct apply_ctx). */
void apply_ctx_event(void *ctx, const struct apply_event *ev);
/* JSON mode: one {"event":"error",...} object for a failure. */
void apply_ctx_json_error(struct apply_ctx *c, int code, const char *message, const char *state,
			  const char *next);
/* Prints message, state and next step (human: three lines on stderr). */
/* The options that name the database in a next: hint the operator can
 * paste: --db 'DSN' (quoted for the shell, its password masked) when --db
 * named it, else --env ENV [--config FILE], which find it the same way
 * again. Caller frees. */
char *apply_target_args(const char *db_flag, const char *dsn, const char *env, const char *config);

/* apply_ctx_fail with the last error, "the database is unchanged", and
 * when see_status, the status command for target (apply_target_args). */
void apply_ctx_fail_unchanged(struct apply_ctx *c, int code, int see_status, const char *target);

/* SIGINT/SIGTERM during a run (db-ctx.c): the signal caught, 0 if none. */
extern volatile sig_atomic_t apply_interrupted;
/* Catches SIGINT and SIGTERM for c's run: the first cancels the running
 * statement and sets apply_interrupted (pass &apply_interrupted in
 * apply_opts.interrupted); a second one has its default effect. */
void apply_ctx_catch_signals(struct apply_ctx *c);
void apply_ctx_release_signals(void);
/* The closing message of an interrupted run ("interrupted by SIGTERM:
 * WHAT"); returns the exit code, 128 + the signal, as a shell reports it. */
int apply_ctx_interrupt_exit(struct apply_ctx *c, const char *what);
/* For baseline and repair, which change only the books, in one
 * transaction: the closing message once SIGINT/SIGTERM came during the
 * verb, given the engine's rc (EXIT_OK: what was recorded stays), and the
 * exit code, 128 + the signal. */
int apply_ctx_interrupt_books(struct apply_ctx *c, int rc, const char *what);

void apply_ctx_fail(struct apply_ctx *c, int code, const char *message, const char *state,
		    const char *next);
/* Verifies the bundle at path against the builder keys (--key), then loads
 * its migrations with c->drv's SQL into set (see sql_when_run). Prints the
 * refusal and returns EXIT_REFUSED (forged, unsigned, untrusted),
 * EXIT_ENVIRONMENT (unreadable), or 0. */
int apply_ctx_load_bundle(struct apply_ctx *c, const char *path, const char *const *keys,
			  size_t nkeys, struct apply_set *set);
/* Prints the plan of set against the database (plan, apply --dry-run);
 * returns the exit code (EXIT_STATE when apply would stop). */
struct apply_policy;
/* ap (NULL: none) says the environment's backups and hooks, shown too. */
int plan_show(struct apply_ctx *c, const struct apply_set *set, const char *env, const char *to,
	      const struct apply_policy *ap);
/* Parses a --lock-timeout value; prints the usage error. */
int parse_lock_timeout(const struct cmd *c, const char *arg, unsigned long long *ms);
/* Parses --log-format/--format: text or json. */
int parse_log_format(const struct cmd *c, const char *arg, int *json);

/* preflight (cmd/preflight.c): the plan and the checks on the open
 * database added to p (ops/preflight.h); the report printed (text, or one
 * JSON object with c->json). */
struct preflight;
struct apply_policy;
/* ap (the policy, or --key mode) gives the server version to compare and
 * the role check; signs_receipt as apply_policy_role_refuse. */
void preflight_db(struct apply_ctx *c, const struct apply_set *set, const char *env,
		  const char *to, const struct apply_policy *ap, int signs_receipt,
		  struct preflight *p);
void preflight_print(struct apply_ctx *c, const struct apply_set *set, const char *env,
		     const struct preflight *p);
/* apply --preflight: the checks on the open database after the bundle was
 * verified; prints the report, and on a failure what state the database is
 * in. Returns the exit code (0: go on). */
int preflight_gate(struct apply_ctx *c, const struct apply_policy *ap,
		   const struct apply_set *set, const char *env, const char *to,
		   int signs_receipt);

/* The audit trail as JSON (cmd/trail.c): 'history --format json', and
 * each target's trail of 'fleet --trail-dir'. */
struct buf;
struct trail_json {
	const char *database;       /* the DSN as shown: no secret */
	const char *target;         /* the fleet target's name, or NULL */
	const struct audit_row *rows;
	size_t nrows;
	int verify;                 /* add "intact" and "problems" */
	const struct audit_problem *problems;
	size_t nproblems;
};
void trail_json(struct buf *b, const struct trail_json *t);
/* Reads c's audit trail and writes its JSON to path (atomically). Returns
 * 0, or -1 with the error set. */
int trail_write(struct apply_ctx *c, const char *path, const char *target);

#define APPLY_VERB(name) int cmd_##name(int argc, char **argv); \
	extern const struct cmd cmd_##name##_desc
APPLY_VERB(apply);
APPLY_VERB(plan);
APPLY_VERB(status);
APPLY_VERB(rollback);
APPLY_VERB(history);
APPLY_VERB(baseline);
APPLY_VERB(restore);
APPLY_VERB(repair);
APPLY_VERB(adopt);
APPLY_VERB(fleet);
APPLY_VERB(fleet_merge);
APPLY_VERB(report);
APPLY_VERB(preflight);

#endif
