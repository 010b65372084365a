/* Prometheus metrics of a fleet run, in the text exposition format
 * (lib/prom.c writes it). */
#include <string.h>

#include "metrics.h"

/* seconds: the upper bounds of the per-target histogram */
static const double bounds[] = { 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60 };

/* The histogram, its bounds set on first use (the struct starts zeroed). */
static struct prom_histogram *per_target(struct fleet_metrics *m)
{
	if (!m->per_target.bounds)
		prom_histogram_init(&m->per_target, bounds, sizeof(bounds) / sizeof(*bounds));
	return &m->per_target;
}

void fleet_metrics_observe(struct fleet_metrics *m, long long duration_ms)
{
	prom_histogram_observe(per_target(m), (double)duration_ms / 1000.0);
}

void fleet_metrics_outcome(struct fleet_metrics *m, const char *outcome)
{
	if (!strcmp(outcome, "applied"))
		m->applied++;
	else if (!strcmp(outcome, "current"))
		m->current++;
	else if (!strcmp(outcome, "waiting"))
		m->waiting++;
	else if (!strcmp(outcome, "stopped"))
		m->stopped++;
	else if (!strcmp(outcome, "interrupted"))
		m->interrupted++;
	else if (!strcmp(outcome, "not-started"))
		m->not_started++;
	else
		m->failed++;
}

void fleet_metrics_format(struct buf *out, const struct fleet_metrics *m)
{
	struct prom_label l[4] = {
		{ "env", m->env }, { "bundle", m->bundle }, { "shard", m->shard }, { "outcome", NULL },
	};
	static const char *const outcomes[] = { "applied", "current", "waiting", "stopped",
						"failed", "interrupted", "not-started" };
	const size_t counts[] = { m->applied, m->current, m->waiting, m->stopped, m->failed,
				  m->interrupted, m->not_started };
	struct fleet_metrics copy = *m;
	size_t i;

	prom_family(out, "cairn_fleet_targets", "gauge", "Targets of the last fleet run, by outcome.");
	for (i = 0; i < sizeof(outcomes) / sizeof(*outcomes); i++) {
		l[3].value = outcomes[i];
		prom_sample(out, "cairn_fleet_targets", l, 4, "%zu", counts[i]);
	}
	prom_gauge(out, "cairn_fleet_duration_seconds", "Wall time of the last fleet run.",
		   l, 3, "%.3f", (double)m->duration_ms / 1000.0);
	prom_gauge(out, "cairn_fleet_last_run_timestamp_seconds", "When the last fleet run ended.",
		   l, 3, "%lld", m->end_unix);
	prom_family(out, "cairn_fleet_target_duration_seconds", "histogram",
		    "Time to apply the bundle to one target.");
	prom_histogram_format(out, "cairn_fleet_target_duration_seconds", l, 3, per_target(&copy));
}
