/* Prometheus metrics of a fleet run (issue #21), in the text exposition
 * format, for node_exporter's textfile collector or a Pushgateway: the
 * targets by outcome, the run's wall time, and a histogram of the time
 * per target. Constant memory whatever the number of targets. */
#ifndef CAIRN_FLEET_METRICS_H
#define CAIRN_FLEET_METRICS_H

#include <stddef.h>

#include "../lib/buf.h"
#include "../lib/prom.h"

struct fleet_metrics {
	const char *env, *bundle, *shard;   /* labels (shard NULL: none) */
	size_t applied, current, waiting, stopped, failed, interrupted, not_started;
	long long duration_ms;              /* the fleet's wall time */
	long long end_unix;                 /* when it ended (seconds since the epoch) */
	struct prom_histogram per_target; /* seconds per finished target */
};

/* Counts one finished target's time. */
void fleet_metrics_observe(struct fleet_metrics *m, long long duration_ms);
/* Adds one target's outcome (fleet/result.h's words). */
void fleet_metrics_outcome(struct fleet_metrics *m, const char *outcome);
/* The exposition text. */
void fleet_metrics_format(struct buf *out, const struct fleet_metrics *m);

#endif
