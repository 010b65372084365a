/* The engine's input: a set of migrations ready to apply, with each one's
 * SQL for one driver. apply/load.c builds one from a verified bundle; the
 * C unit tests build one by hand. Kept apart from engine.h so that loading a
 * set does not depend on the engine that runs it. */
#ifndef CAIRN_APPLY_SET_H
#define CAIRN_APPLY_SET_H

#include <stddef.h>

#include "../lib/batch.h"
#include "../lib/callbacks.h"

/* A migration ready to apply: the bundle's metadata and this driver's SQL. */
struct bundle;
struct bundle_migration;

/* A migration's SQL for the set's driver and what is known of it: only
 * for migrations whose SQL is read (the steps that run or are rolled back,
 * or every one with APPLY_LOAD_SQL). Apart from apply_mig so that the set,
 * one apply_mig a migration applied ones included, does not carry 72 bytes
 * of NULLs for each migration that will not run (issue #14). */
struct apply_sql {
	/* NUL-terminated; down/verify NULL when absent. A set loaded from a
	 * bundle may leave up NULL until the SQL is read (apply/load.h:
	 * apply_mig_read_sql); engine_apply reads it for every step that runs
	 * before the first one runs. Owned by the set. */
	char *up, *down, *verify;
	size_t up_len, down_len, verify_len;
	const char *verify_path;   /* its verify script, as up_path; NULL: none (or not read) */
	char *up_path;             /* "migrations/<dir>/up.sql" (or up.DRIVER.sql), for messages;
				    * set with up */
	/* Why up needs a backup before it runs (NULL: it does not), a pure
	 * function of up and destructive that parses the script; kept by
	 * backup_classify (ops/backup.h) once per fleet before the targets'
	 * processes fork, so a fleet parses each script once, not once per
	 * target. backup_why_known 0: not computed (each step computes it). */
	char *backup_why;
	unsigned char backup_why_known;
};

struct apply_mig {
	char *version, *name, *checksum, *description;
	/* The bundle the migration came from, for its data files (COPY ... FROM
	 * 'data/NAME' on PostgreSQL, streamed with bundle_stream) and its SQL;
	 * NULL when the set was not loaded from a bundle. Owned by the apply_set. */
	struct bundle *bundle;
	const struct bundle_migration *bm;
	/* Its SQL, NULL until some is read or set: read it through
	 * apply_mig_sql, write it through apply_mig_sql_fill. Owned by the set. */
	struct apply_sql *sql;
	char **environments;       /* empty: every environment */
	size_t nenvironments;
	unsigned long long timeout_ms, lock_timeout_ms;
	/* kind: batch's batch: keys (issue #22), the manifest entry's (which
	 * the set never outlives); NULL: none set. Read its keys through
	 * apply_mig_throttle (batch_throttle_set takes NULL). A pointer, not
	 * a copy: 40 bytes a migration at 20,000 that a nothing-pending apply
	 * holds for nothing (issue #14). */
	const struct batch_throttle *throttle;
	/* 0 or 1 each; a byte, not an int: the set is one of these a
	 * migration, applied ones included (issue #14) */
	unsigned char transaction, irreversible, batch;
	unsigned char contract;    /* phase: contract: runs only with a contract approval */
	unsigned char destructive; /* migration.yaml acknowledged a destructive statement */
};

/* The set holds one apply_mig a migration, applied ones included: 20,000
 * of them in a nothing-pending apply at 20,000 migrations. 168 bytes before
 * the SQL moved to struct apply_sql (issue #14); a field added here costs
 * that many bytes times every migration of the bundle. */
_Static_assert(sizeof(void *) != 8 || sizeof(struct apply_mig) <= 104,
	       "struct apply_mig grew: one per migration, applied ones included (issue #14)");

/* The migration's SQL; every field 0 (no script read) when it has none. */
static inline const struct apply_sql *apply_mig_sql(const struct apply_mig *m)
{
	static const struct apply_sql none;

	return m->sql ? m->sql : &none;
}

/* m's SQL to write, allocated zeroed on first use (apply/set.c). */
struct apply_sql *apply_mig_sql_fill(struct apply_mig *m);

/* The migration's batch: keys; every one 0 when it has none. */
static inline const struct batch_throttle *apply_mig_throttle(const struct apply_mig *m)
{
	static const struct batch_throttle none;

	return m->throttle ? m->throttle : &none;
}

/* A SQL callback of the bundle for the set's driver (issue #20): the
 * driver's variant (NAME.DRIVER.sql) when there is one, else NAME.sql. */
struct apply_callback {
	const char *path;          /* "migrations/callbacks/before_each.sql"; NULL: none */
	char sha256[65];           /* the signed manifest's, hex */
	char *sql;                 /* NUL-terminated, owned by the set */
	size_t len;
};

struct apply_set {
	char *bundle_id;           /* "sha256:..." */
	char *bundle_name;         /* "shop-1.4" */
	char *bundle_path;
	struct apply_mig *migs;    /* in apply order */
	size_t n;
	struct bundle *bundle;     /* kept open for data files and SQL not read yet */
	int owns_bundle;           /* 1: freed with the set; 0: borrowed (the policy
				    * context keeps the bundle it checked) */
	const char *driver;        /* whose SQL variants apply_mig_read_sql reads */
	/* 1: each migration's version, name, checksum, description, up_path and
	 * environments point into the bundle's manifest (apply_set_load), which
	 * outlives the set; only the SQL is the set's to free. 0: a set built
	 * by hand owns every string. */
	int borrows_bundle;
	/* 1: the environment's policy allows contract migrations (a signed
	 * contract statement for it); 0: plan_build makes them and every step
	 * after them wait (STEP_CONTRACT_WAITS) */
	int contract_approved;
	/* the bundle's callbacks for driver, by kind (lib/callbacks.h) */
	struct apply_callback callbacks[CB_COUNT];
};

void apply_set_release(struct apply_set *s);

#endif
