/* Metrics of an apply run and of a preflight (issue #20), for
 * node_exporter's textfile collector: collected from the engine's events,
 * written in the text exposition format through lib/prom.c (the writer
 * fleet --metrics uses). A textfile is replaced whole on each run, so the
 * counters (runs by outcome, migrations applied, the per-migration
 * duration histogram), the last success and the time pending work was
 * first seen are carried over from the file the previous run left for
 * the same environment. A library: never prints, never exits. */
#ifndef CAIRN_OPS_METRICS_H
#define CAIRN_OPS_METRICS_H

#include <stddef.h>

#include "../apply/engine.h"
#include "../lib/buf.h"
#include "../lib/prom.h"
#include "preflight.h"

struct rows_changed {
	const char *version, *name;  /* the set's, borrowed */
	long long rows;
};

struct run_metrics {
	const char *env, *bundle;    /* labels (borrowed) */
	const char *outcome;         /* run_metrics_outcome's word */
	const char *from_version, *to_version;
	int planned;                 /* the engine read the books: pending is known */
	int books_read;              /* ... and drifted too */
	size_t applied, pending, drifted;
	long long lock_wait_ms;      /* -1: the run never asked for the lock */
	unsigned long lock_retries;  /* issue #22: migrations run again after a lock timeout */
	long long lock_retry_wait_ms; /* ... and the time those attempts and pauses took */
	unsigned long lag_waits;     /* issue #22: waits of throttled batches for a standby */
	long long lag_wait_ms;       /* ... and their time */
	long long batch_rows_per_s;  /* rows per second of the last batch migration run */
	long long start_ms, end_unix; /* monotonic start; wall-clock end */
	struct prom_histogram per_migration;  /* seconds per migration applied */
	struct rows_changed *rows;   /* batch migrations of this run */
	size_t nrows, rows_alloc;
	/* carried over from the previous file */
	unsigned long long runs_before[9], applied_before;
	long long last_success, pending_since;
};

void run_metrics_init(struct run_metrics *m, const char *env, const char *bundle);
void run_metrics_release(struct run_metrics *m);
/* Counts what the engine said (apply_opts.event's events). */
void run_metrics_event(struct run_metrics *m, const struct apply_event *ev);
/* The outcome of an apply that exited with code: success, failed,
 * refused, locked, needs-operator, error, waiting (a contract
 * statement), interrupted (signal). */
const char *run_metrics_outcome(int code, int signal);
/* Ends the run (outcome, now) and writes PATH atomically, carrying the
 * counters over from what PATH held. 0, or -1 with the error set. */
int run_metrics_write(struct run_metrics *m, const char *path, int code, int signal);

/* preflight --metrics-file: each check passed (1) or not (0), the whole
 * verdict, and when it ran; replaces PATH. 0, or -1 with the error set. */
int preflight_metrics_write(const struct preflight *p, const char *env, const char *path);

#endif
