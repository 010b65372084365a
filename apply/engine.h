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

#include <signal.h>
#include <stddef.h>

#include "../drivers/driver.h"
#include "set.h"

struct checkpoint;

enum step_action {
	STEP_APPLY,        /* pending: runs */
	STEP_RESUME,       /* a batch migration interrupted earlier: resumes */
	STEP_APPLIED,      /* skipped: already applied with the same checksum */
	STEP_BASELINE,     /* skipped: at or below the baseline */
	STEP_OTHER_ENV,    /* skipped: environments: does not list this one */
	STEP_AFTER_TO,     /* skipped: after --to */
	STEP_DRIFT,        /* applied with another checksum: stops the run */
	STEP_BLOCKED,      /* a failed or in-progress row: needs repair */
	STEP_CONTRACT_WAITS, /* pending, but a contract migration at or before it
			      * waits for a contract statement (set->contract_approved) */
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
	size_t nwaiting;          /* STEP_CONTRACT_WAITS steps */
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
	EV_LOCK_RETRY,  /* a migration's transaction timed out waiting for a lock and
			 * was rolled back (issue #22): attempt, error, blockers;
			 * duration_ms: the pause before the next attempt */
	EV_LAG_WAIT,    /* a throttled batch migration waits for a standby (issue
			 * #22): lag_ms read, batches so far, duration_ms: the wait */
	EV_BATCH_STOP,  /* a batch migration stopped at its time budget (max_duration),
			 * resumable: batches, rows, rows_per_s */
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
	unsigned attempt;         /* EV_LOCK_RETRY: the attempt that timed out (1-based) */
	const char *blockers;     /* EV_LOCK_RETRY: sessions holding the locks, one a
				   * line; NULL: not known */
	long long lag_ms;         /* EV_LAG_WAIT: the standby's lag read, over
				   * max_replication_lag in ms; else 0 and */
	long long lag_bytes;      /* the lag in bytes, over the bound in bytes */
	long long rows_per_s;     /* EV_BATCH, EV_BATCH_STOP: rows changed per second
				   * by this run of the migration */
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
	/* The database's identity (apply/books.h), checked under the lock
	 * before anything is done and recorded on first use: env above, and
	 * project (the bundle's; NULL when there is none: rollback, repair,
	 * baseline) and builders (trusted key ids, comma-separated, sorted).
	 * identity_override: an admin's override allows moving the database
	 * to env/project. */
	const char *project;
	const char *builders;
	int identity_override;
	/* 1: the run is under an applier's config (its environment's policy);
	 * recorded in the identity ("policy=1") by the first such run. A
	 * database so recorded is written by no run without a config (--db and
	 * --key alone), whatever the verb (apply, rollback, repair, baseline,
	 * adopt, restore, fleet): the identity records that a policy governs the
	 * database, not what it says (rollback: {require_bundle:}, approvals,
	 * overrides), so only the config can say what the run must meet. */
	int policy;
	/* apply: the ids of the keys whose valid, trusted build signatures the
	 * bundle carries, and of the keys the policy revokes (comma-separated;
	 * NULL: none). A bundle signed by none of the builders the database's
	 * identity trusts is refused unless each of those is revoked (a
	 * rotation) or identity_override. */
	const char *signers;
	const char *revoked;
	apply_event_fn event;
	void *ctx;
	/* The signal (SIGINT, SIGTERM) that asked the run to stop, set by the
	 * caller's handler, which also cancels the running statement; NULL or
	 * 0: none. Checked before each step and statement. */
	volatile sig_atomic_t *interrupted;
	/* the timeouts of a migration whose migration.yaml sets none (the
	 * environment's postgres: settings); 0: the driver's default */
	unsigned long long statement_timeout_ms, migration_lock_timeout_ms;
	/* Issue #20: called under the run lock before a step runs, outside any
	 * transaction (--atomic: for every step, before the one transaction
	 * begins). Returns 0 with *detail (malloc'ed) to record as a "backup"
	 * audit row, or NULL when it took none; non-zero stops the run before
	 * the step (nothing of it ran), the error set. NULL: no hook. */
	int (*before_step)(void *ctx, const struct apply_mig *m, char **detail);
	void *before_ctx;
	/* Issue #22, lock-safe DDL: a transactional migration whose statement
	 * timed out waiting for a lock (driver_error.lock_timeout) is rolled
	 * back, so it holds nothing while it waits, and run again after a
	 * pause (backoff with jitter, apply/retry.c) for as long as attempts
	 * start within lock_retry_budget_ms of the first; 0: no retry.
	 * lock_blockers, when set, names the sessions holding locks on the
	 * tables m touches (*out one line each, malloc'ed; NULL: none seen),
	 * asked after each timeout for the log and the audit row. */
	unsigned long long lock_retry_budget_ms;
	/* the lock_timeout of a migration that is retried (above) whose
	 * migration.yaml sets none; 0: migration_lock_timeout_ms. Others
	 * (transaction: false, batches, --atomic) are not retried, and a short
	 * timeout would only fail them: they keep migration_lock_timeout_ms. */
	unsigned long long retry_lock_timeout_ms;
	/* Issue #22, throttled batches: the query that reads a standby's
	 * replication lag in ms (one row, one number) before each batch of a
	 * migration with batch: max_replication_lag; the applier config's
	 * replication_lag_query. NULL: pg_stat_replication's replay_lag on
	 * PostgreSQL, none on SQLite. */
	const char *lag_query;
	/* the same for a bound in bytes (replication_lag_bytes_query); NULL:
	 * pg_wal_lsn_diff of pg_stat_replication's replay_lsn */
	const char *lag_bytes_query;
	int (*lock_blockers)(void *ctx, const struct apply_mig *m, char **out);
	void *blockers_ctx;
	/* The newest checkpoint of this database kept outside it (its
	 * signature checked by the caller when the file was read), compared
	 * with the chain's head by books_guard under the run lock, with the
	 * other checks of the books, so nothing can change the books between
	 * the comparison and the lock; NULL: none. */
	const struct checkpoint *checkpoint;
	/* rollback: the migrations of a verified bundle (rollback --bundle);
	 * every stored down script to run must have the sha256 its signed
	 * manifest records for that migration (this driver's down file), or
	 * nothing runs (EXIT_STATE naming the migration and both hashes).
	 * NULL: no bundle given; the facts and the checkpoint check only. */
	const struct apply_set *manifest;
	/* restore of a whole file (SQLite): called with the prepared copy
	 * open, its restore row committed, before its pages replace the
	 * database's, so the caller can keep (fsynced) the checkpoint of the
	 * chain the step will leave (cmd/restore.c). Non-zero: nothing is
	 * restored, the error set. NULL: none. */
	int (*restore_prepared)(void *ctx, struct db *copy);
	void *prepared_ctx;
};

/* What happened, for the caller's closing message. */
struct apply_result {
	size_t applied, skipped;
	char *from_version, *to_version; /* highest applied before and after (NULL: none) */
	char *failed_version;            /* the migration that stopped the run */
	int rolled_back;                 /* the failure left the database as it was */
	int needs_repair;                /* a row is failed or in progress */
	int partial;                     /* the failed step ran partly, outside a transaction */
	int tx_ended;                    /* ... or committed part of its work itself */
	size_t waiting;                  /* pending steps left waiting for a contract statement */
	char *waiting_version;           /* the first of them: the contract migration */
	int lock_tried;                  /* the run lock was asked for (issue #20 metrics) */
	long long lock_wait_ms;          /* ... and this long waited for, got or not */
	unsigned long lock_retries;      /* issue #22: transactions rolled back on a lock
					  * timeout and run again (or given up on) */
	long long lock_retry_wait_ms;    /* time spent in those attempts and pauses */
	/* issue #22, throttled batches: the batch migration that stopped the
	 * run at its time budget (EXIT_BUDGET; NULL: none), its progress, and
	 * the waits for a lagging standby */
	char *stopped_version;
	long long stopped_batches, stopped_rows, rows_per_s;
	unsigned long lag_waits;
	long long lag_wait_ms;
	int between_batches;             /* SIGINT/SIGTERM stopped failed_version (a batch
					  * migration) in a pause or a wait, no batch running */
	int between_steps;               /* rollback: a signal came before failed_version's
					  * step, none running; it stays applied */
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

/* Drift accepted (apply/accept.c): the applied migration version records
 * the checksum set's bundle has for it (its file was re-released), with an
 * audit row "repair" naming the old and new checksums, the bundle and
 * reason. EXIT_FAILED when it is not applied, not drifted, or not in set. */
int engine_accept_checksum(struct db *db, const struct driver *drv, const struct apply_set *set,
			   const char *version, const char *reason, const struct apply_opts *o);

/* Restore (apply/restore.c, issue #20): under the run lock, with the books
 * checked, the backup at path is brought back when an audit row (action
 * "backup") records it and the file's sha256 is that row's (else
 * EXIT_REFUSED, nothing written); the driver's restore_from replaces the
 * database (SQLite; EXIT_FAILED for a driver without one), and a
 * "restore" row is appended to the chain the file brought back. A driver
 * with dump_tables and restore_in_tx (PostgreSQL) restores only the dumped
 * tables, on this connection in one transaction: refused
 * (EXIT_REFUSED) unless the backup's migration is the newest applied one,
 * which is then marked rolled back with a "restore" row. */
struct restore_info {
	char *version;        /* the migration the backup was taken before */
	long long seq;        /* its backup audit row */
	char *current;        /* the highest applied version after (NULL: none) */
	size_t dropped;       /* audit rows after the backup, gone with the file */
	/* a per-table dump (PostgreSQL): the tables came back, not the books;
	 * the migration is marked rolled back, the chain extended */
	int tables_only;
	char *tables;         /* the dumped tables, comma-separated */
	char *removed;        /* tables_only: what the migration created, dropped in
			       * the restore's transaction ("TABLE \"public\".\"t\", ..."),
			       * NULL: nothing */
};
int engine_restore(struct db *db, const struct driver *drv, const char *path,
		   const struct apply_opts *o, struct restore_info *out);
void restore_info_release(struct restore_info *r);
/* An audit row of action (detail; version "", to_version the newest
 * applied) appended outside a run (apply/note.c, issue #20: the after and
 * on_error hooks): under the run lock, the chain and identity checked as
 * a run checks them. *written 0 when the database has no books (nothing
 * is created for a note). An exit code. */
int engine_note(struct db *db, const struct driver *drv, const char *action,
		const char *bundle_id, const char *detail, const struct apply_opts *o,
		int *written);

/* The audit chain (apply/audit.c). */
#define AUDIT_ZERO_HASH "0000000000000000000000000000000000000000000000000000000000000000"
/* Computes row->hash (replacing it) from the other fields and prev_hash. */
void audit_hash(struct audit_row *row);
/* The row's hash into hex, "" when hashing failed. */
void audit_hash_hex(const struct audit_row *r, char hex[65]);
/* The row's hash as 32 bytes: 0, or -1 when hashing failed. */
int audit_hash_raw(const struct audit_row *r, unsigned char raw[32]);

struct audit_problem {
	long long seq;     /* the row where the chain breaks (0: the table as a whole) */
	char *message;
};

/* The chain's problems at r, the i-th row (from 0) in seq order, whose
 * predecessor hashes to prev (AUDIT_ZERO_HASH for the first): its
 * sequence number, its link, its hash; appended to *p (ALLOC_GROW). */
void audit_check_row(const struct audit_row *r, size_t i, const char *prev,
		     struct audit_problem **p, size_t *np, size_t *alloc);
/* The same for a caller that parsed r->hash already (hexdigest_parse):
 * stored is its digest, or NULL when it did not parse. */
void audit_check_parsed(const struct audit_row *r, size_t i, const char *prev,
			const unsigned char *stored, struct audit_problem **p, size_t *np,
			size_t *alloc);
/* What is wrong with a bookkeeping row's anchor (found: an audit row has
 * its hash), or NULL. */
char *audit_anchor_problem(const struct bk_row *bk, int found);

/* Checks a chain read in seq order and the bookkeeping rows' anchors.
 * Returns the number of problems found (0: intact), filling *out. */
size_t audit_verify(const struct audit_row *rows, size_t n, const struct bk_row *bk,
		    size_t nbk, struct audit_problem **out);
void audit_problems_free(struct audit_problem *p, size_t n);
/* The rows of a chain indexed by hash (lib/hexindex.h), to find a row by
 * its hash (an anchor: bk_row.audit_hash): audit_find returns the first
 * row whose hash is that text, or NULL. hexindex_release frees the index. */
struct hexindex;
void audit_index(struct hexindex *ix, const struct audit_row *rows, size_t n);
const struct audit_row *audit_find(const struct hexindex *ix, const struct audit_row *rows,
				   const char *hash);

/* Helpers shared with the verbs. */
char *engine_actor(void);                         /* "user@host" */
void engine_now(char out[32]);                    /* "2026-11-22T09:30:00Z" */
/* "file:line: " prefix for an error at byte offset in the script. */
void engine_error_where(const char *path, const char *sql, size_t len, long offset,
			char *out, size_t outlen);

/* The books' integrity and identity (apply/books.c). What the books say about themselves (issue #15): every fact of a
 * cairn_migrations row that the engine acts on is written into the audit
 * row that changed it (the row's anchor, bk_row.audit_hash), so the hash
 * chain covers it, and the database's identity (project, environment,
 * trusted builder key ids) is an audit row of its own. The engine reads the
 * whole chain under the run lock and checks it before it acts.
 *
 * No table or column changed for this: the facts end the anchor's detail
 * as " facts{...}", and an identity is an audit row whose action is
 * "identity". A row whose anchor predates this (no facts) is checked by
 * the chain and its anchor only. */
#define BOOKS_IDENTITY_ACTION "identity"

/* " facts{state=...;checksum=...;down=sha256:<hex>|none;bundle=...;env=...;
 * name=...;kind=...;irreversible=0|1;transactional=0|1}", malloc'ed. */
char *books_facts(const struct bk_row *r);

/* The chain is intact, every row names an audit row that exists, and each
 * row's facts equal those its anchor recorded. Returns 0, or -1 with the
 * error set to one line naming the first row at fault and what differs. */
int books_check(const struct audit_row *a, size_t na, const struct bk_row *rows, size_t nrows);

/* Every problem, for history --verify: audit_verify's, then each row whose
 * facts differ from its anchor's. Returns how many (filling *out). */
size_t books_problems(const struct audit_row *a, size_t na, const struct bk_row *rows,
		      size_t nrows, struct audit_problem **out);

struct db_identity {
	char *project;      /* "" when not known (a database first used by rollback) */
	char *environment;
	char *builders;     /* key ids, comma-separated, sorted; "" when none */
	int policy;         /* 1: "policy=1": the database is under a config's policy */
	long long seq;      /* of the audit row that recorded it; 0: none */
};

/* The newest identity in the chain (seq 0 when none). */
void books_identity(const struct audit_row *a, size_t na, struct db_identity *out);
void db_identity_release(struct db_identity *id);
/* The database's id, malloc'ed: the "id=" its oldest identity row holds
 * (32 random hex digits, drawn by its first run), else that row's hash
 * (books from before ids), else the first row's hash; NULL with no rows.
 * It is fixed by the database's first run and kept when an override moves
 * it, so a history or status JSON of the database can be told from
 * another's and joined to it (report). */
char *books_database_id(const struct audit_row *a, size_t na);
/* An identity row's detail: "project=P; environment=E; builders=K1,K2"
 * (then "; policy=1" when recorded under a config's policy). */
char *books_identity_detail(const char *project, const char *environment, const char *builders);

/* What the engine does with the books under the run lock, before it acts:
 * reads the whole chain, checks it and every row against it (EXIT_STATE),
 * and compares the identity the run claims (o->env, o->project) with the
 * database's (EXIT_REFUSED, unless o->identity_override). what names the
 * operation for the message ("apply to", "roll back", ...). On EXIT_OK,
 * g->record is the detail of an identity row to append (first use, books
 * from before identities, a moved database, new builders), or NULL. */
struct books_guard {
	struct audit_row *a;       /* NULL once checked (rows read whole) or never (scanned) */
	size_t na;                 /* audit rows in the chain */
	struct db_identity id;     /* the newest identity row's */
	char *record;
	/* A run that names no environment (rollback, repair, baseline without
	 * --env) acts as the database's recorded one: opts is the run's options
	 * with env set to it, for the rows and audit rows the run writes. */
	char *env;
	struct apply_opts opts;
};

int books_guard(struct books_guard *g, struct db *db, const struct driver *drv,
		const struct apply_opts *o, const struct bk_row *rows, size_t nrows, int exists,
		const char *what);
/* books_guard over the rows compact (rss14o, rss14p): the same checks,
 * each row's facts compared piece by piece with those its anchor recorded
 * (struct bk_brief keeps them exactly), on a database whose
 * books exist and a driver with audit_scan. EXIT_OK exactly when
 * books_guard on the whole rows they were read from would return it; any
 * other code only means: guard the whole rows, whose messages are the ones
 * to show (books_plan). */
int books_guard_brief(struct books_guard *g, struct db *db, const struct driver *drv,
		      const struct apply_opts *o, const struct bk_briefs *bs, const char *what);
void books_guard_release(struct books_guard *g);

#endif
