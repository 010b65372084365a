/* Running a fleet (issue #21): a process per target, at most P at once, in
 * a canary and then waves. The scheduler only starts processes and waits
 * for them; what a process does to its target is the caller's apply_one,
 * which 'fleet' makes the very code 'apply' runs (cmd/apply-run.h). Each
 * process opens its own connection, takes its own lock and writes its own
 * books, audit rows, checkpoint and receipt, as one 'apply' would.
 *
 * Signals: SIGINT and SIGTERM are held while fleet_run runs and taken by
 * it: no new target starts, the signal is passed once to each running
 * process (each in its own process group, so a terminal's ^C reaches them
 * through the fleet only, once), which stops as a single 'apply' stops,
 * and fleet_run returns once they all ended. Never prints, never exits. */
#ifndef CAIRN_FLEET_RUN_H
#define CAIRN_FLEET_RUN_H

#include <stddef.h>
#include <stdio.h>

struct fleet_outcome {
	int started, finished;
	int exit;            /* the process's exit code; 128 + N when signal N ended it */
	long long start_ms, duration_ms;
	char *from, *to;     /* versions before and after (NULL: none or not known) */
	char *error;         /* the first line the process wrote to stderr, no prefix */
};

enum fleet_event_type { FLEET_EV_START, FLEET_EV_END, FLEET_EV_TICK };

struct fleet_event {
	enum fleet_event_type type;
	size_t index;        /* the target (START, END) */
	const struct fleet_outcome *outcome;
	size_t total, done, failed, running;
	const char *phase;   /* "canary" or "wave" */
	size_t wave;         /* 1-based; 0 for the canary */
	long long elapsed_ms;
};

struct fleet_sched {
	size_t canary;       /* targets applied first, alone; any failure stops there */
	size_t wave;         /* targets per wave (0: wave_pct, else all) */
	unsigned wave_pct;   /* a wave as a percentage of the targets, rounded up */
	size_t parallel;     /* processes at once (at least 1) */
	size_t halt_on;      /* after this many failures start nothing new (0: never);
			      * exits 7 and 8 (waiting, stopped) are not failures */
	/* In the target's process: applies to target index; writes the
	 * versions before and after as two lines ("" for none) to result.
	 * Returns the process's exit code. */
	int (*apply_one)(void *ctx, size_t index, FILE *result);
	/* In the fleet's process, as targets start and end, and about once a
	 * second (TICK) while they run. */
	void (*event)(void *ctx, const struct fleet_event *ev);
	void *ctx;
};

enum fleet_stop { FLEET_RAN, FLEET_CANARY_FAILED, FLEET_HALTED, FLEET_INTERRUPTED };

struct fleet_summary {
	enum fleet_stop stop;
	int signal;          /* FLEET_INTERRUPTED: the signal */
	size_t started, failed;
	long long elapsed_ms;
};

/* Runs targets 0..n-1 (out has n entries, zeroed). Returns 0, or -1 when a
 * process could not be started (error set; targets running are waited for). */
int fleet_run(const struct fleet_sched *s, size_t n, struct fleet_outcome *out,
	      struct fleet_summary *sum);
void fleet_outcomes_release(struct fleet_outcome *o, size_t n);

long long fleet_now_ms(void);

/* --parallel when not given: 1, or for targets that are files on this
 * host (SQLite) twice the CPUs this process may run on, at most
 * FLEET_PARALLEL_FILES_MAX. */
#define FLEET_PARALLEL_FILES_MAX 16
size_t fleet_default_parallel(int local_files);

#endif
