/* A fleet's result file (issue #21): JSON lines, one per target, appended
 * as each target ends, so a run killed halfway leaves what it finished:
 *
 *   {"target":"eu-1","dsn":"sqlite:eu-1.db","from":"0002","to":"0003",
 *    "outcome":"applied","exit":0,"duration_ms":41,"error":null,
 *    "bundle":"sha256:...","env":"prod","shard":"0/4","time":"2026-..."}
 *
 * outcome: applied (migrations ran), current (nothing to apply), failed
 * (exit names the code 'apply' gave it: 1, 3, 4, 5, 6...), interrupted
 * (SIGINT/SIGTERM), not-started (canary failed, --halt-on reached, or the
 * fleet was interrupted first), and two expected states that are not
 * failures of the database (not counted by --canary or --halt-on, retried
 * by --resume): waiting (exit 7: applied up to a contract migration that
 * waits for its contract statement) and stopped (exit 8: a batch migration
 * stopped at its time budget; the next apply resumes it). A target's last line wins: --resume
 * appends, and fleet-merge joins the files of several shards. */
#ifndef CAIRN_FLEET_RESULT_H
#define CAIRN_FLEET_RESULT_H

#include <stddef.h>

#include "../lib/buf.h"
#include "index.h"

struct fleet_result {
	char *target, *dsn, *from, *to, *outcome, *error, *bundle, *env, *shard, *time;
	int exit;
	long long duration_ms;
};

struct fleet_results {
	struct fleet_result *items;
	size_t n, alloc;
	struct fleet_index by_target;
};

/* 1 when the outcome needs no retry (applied, current). */
int fleet_outcome_ok(const char *outcome);
/* The outcome of an exit code: NULL for 0, "waiting" (7), "stopped" (8),
 * "interrupted" (above 128), else "failed". */
const char *fleet_outcome_of_exit(int exit);
/* The exit code of a fleet (or fleet-merge) with these counts: 1 when a
 * target failed or never started, else 7 when one waits, 8 when one
 * stopped, else 0. */
int fleet_exit_code(size_t failed, size_t not_started, size_t waiting, size_t stopped);
/* Appends "W waiting, S stopped, " to a summary, each only when not 0, so
 * that a fleet without them keeps its words. */
void fleet_expected_counts(struct buf *out, size_t waiting, size_t stopped);

/* Appends r as one JSON line, newline included. */
void fleet_result_format(struct buf *out, const struct fleet_result *r);

void fleet_result_release(struct fleet_result *r);
void fleet_results_release(struct fleet_results *rs);

/* Reads JSON lines from data into rs; a target seen again replaces its
 * earlier line in place (the last line wins). Blank lines are skipped.
 * Returns 0, or -1 with the error "ORIGIN:LINE: message". */
int fleet_results_parse(struct fleet_results *rs, const char *data, size_t len,
			const char *origin);
/* The entry of target, or NULL. */
const struct fleet_result *fleet_results_find(const struct fleet_results *rs,
					      const char *target);

#endif
