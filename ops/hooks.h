/* Host commands around an apply (issue #20): the environment's hooks:
 * {before, after, on_error}, run by /bin/sh with the run's facts in the
 * environment and a timeout. A library: the command's own output goes
 * where the applier's goes; nothing else is printed. */
#ifndef CAIRN_OPS_HOOKS_H
#define CAIRN_OPS_HOOKS_H

#include "../lib/buf.h"

#define HOOK_DEFAULT_TIMEOUT_MS (60ULL * 1000)

/* The run's facts, passed as CAIRN_HOOK, CAIRN_BUNDLE, CAIRN_BUNDLE_ID,
 * CAIRN_ENV, CAIRN_FROM_VERSION, CAIRN_TO_VERSION, CAIRN_OUTCOME,
 * CAIRN_PENDING, CAIRN_ERROR ("" for what is not known). */
struct hook_facts {
	const char *bundle, *bundle_id, *env, *from_version, *to_version, *outcome, *error;
	unsigned long pending;
};

/* How a hook's command ended, for the audit row (issue #20). */
struct hook_outcome {
	int exit_status;          /* -1: it did not exit (signal, timeout, not run) */
	int signal;               /* the signal that killed it, 0: none */
	int timed_out;            /* killed at the timeout */
	int interrupted;          /* SIGINT/SIGTERM/SIGHUP to the applier stopped it, 0: no */
	long long started_ms, duration_ms; /* monotonic clock */
	unsigned long long timeout_ms; /* the timeout it ran under */
};

/* Runs cmd as hook name ("before", "after", "on_error"); timeout_ms 0:
 * HOOK_DEFAULT_TIMEOUT_MS, after which its process group is killed.
 * Returns 0 when it exited 0; -1 with the error set (its exit status,
 * signal or timeout) otherwise. how (NULL: not wanted) says how it ended
 * either way. */
int hook_run(const char *name, const char *cmd, unsigned long long timeout_ms,
	     const struct hook_facts *f, struct hook_outcome *how);

/* "hook=NAME; outcome=exited 0; duration_ms=12; timeout_ms=60000" (or
 * "outcome=exited 3", "outcome=killed by signal 9", "outcome=timed out:
 * killed"), malloc'ed: what an audit row records of a hook's run. */
char *hook_outcome_detail(const char *name, const struct hook_outcome *how);

/* The same for any command: env holds NAME, VALUE pairs ending in NULL,
 * set in its environment; out (NULL: inherited) receives its stdout, the
 * first 64 KiB kept. what names it in errors ("the WHAT exited 3"). */
int hook_command(const char *what, const char *cmd, unsigned long long timeout_ms,
		 const char *const *env, struct buf *out);

#endif
