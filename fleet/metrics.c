/* Prometheus metrics of a fleet run, in the text exposition format. */
#include <string.h>

#include "metrics.h"

/* seconds: the upper bounds of the per-target histogram */
static const double bounds[FLEET_METRICS_BUCKETS] = { 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60 };

void fleet_metrics_observe(struct fleet_metrics *m, long long duration_ms)
{
	double s = (double)duration_ms / 1000.0;
	size_t i;

	for (i = 0; i < FLEET_METRICS_BUCKETS; i++)
		if (s <= bounds[i])
			m->bucket[i]++;
	m->count++;
	m->sum_s += s;
}

void fleet_metrics_outcome(struct fleet_metrics *m, const char *outcome)
{
	if (!strcmp(outcome, "applied"))
		m->applied++;
	else if (!strcmp(outcome, "current"))
		m->current++;
	else if (!strcmp(outcome, "interrupted"))
		m->interrupted++;
	else if (!strcmp(outcome, "not-started"))
		m->not_started++;
	else
		m->failed++;
}

/* A label value: backslash, double quote and newline escaped. */
static void put_label(struct buf *out, const char *name, const char *v, int comma)
{
	const char *p;

	buf_printf(out, "%s%s=\"", comma ? "," : "", name);
	for (p = v ? v : ""; *p; p++) {
		if (*p == '\\' || *p == '"')
			buf_printf(out, "\\%c", *p);
		else if (*p == '\n')
			buf_puts(out, "\\n");
		else
			buf_putc(out, *p);
	}
	buf_putc(out, '"');
}

static void put_labels(struct buf *out, const struct fleet_metrics *m)
{
	put_label(out, "env", m->env, 0);
	put_label(out, "bundle", m->bundle, 1);
	put_label(out, "shard", m->shard ? m->shard : "", 1);
}

static void put_outcome(struct buf *out, const struct fleet_metrics *m, const char *outcome,
			size_t n)
{
	buf_puts(out, "cairn_fleet_targets{");
	put_labels(out, m);
	put_label(out, "outcome", outcome, 1);
	buf_printf(out, "} %zu\n", n);
}

void fleet_metrics_format(struct buf *out, const struct fleet_metrics *m)
{
	size_t i;

	buf_puts(out, "# HELP cairn_fleet_targets Targets of the last fleet run, by outcome.\n"
		      "# TYPE cairn_fleet_targets gauge\n");
	put_outcome(out, m, "applied", m->applied);
	put_outcome(out, m, "current", m->current);
	put_outcome(out, m, "failed", m->failed);
	put_outcome(out, m, "interrupted", m->interrupted);
	put_outcome(out, m, "not-started", m->not_started);
	buf_puts(out, "# HELP cairn_fleet_duration_seconds Wall time of the last fleet run.\n"
		      "# TYPE cairn_fleet_duration_seconds gauge\ncairn_fleet_duration_seconds{");
	put_labels(out, m);
	buf_printf(out, "} %.3f\n", (double)m->duration_ms / 1000.0);
	buf_puts(out, "# HELP cairn_fleet_last_run_timestamp_seconds When the last fleet run ended.\n"
		      "# TYPE cairn_fleet_last_run_timestamp_seconds gauge\n"
		      "cairn_fleet_last_run_timestamp_seconds{");
	put_labels(out, m);
	buf_printf(out, "} %lld\n", m->end_unix);
	buf_puts(out, "# HELP cairn_fleet_target_duration_seconds Time to apply the bundle to one "
		      "target.\n# TYPE cairn_fleet_target_duration_seconds histogram\n");
	for (i = 0; i <= FLEET_METRICS_BUCKETS; i++) {
		buf_puts(out, "cairn_fleet_target_duration_seconds_bucket{");
		put_labels(out, m);
		if (i < FLEET_METRICS_BUCKETS)
			buf_printf(out, ",le=\"%g\"} %llu\n", bounds[i], m->bucket[i]);
		else
			buf_printf(out, ",le=\"+Inf\"} %llu\n", m->count);
	}
	buf_puts(out, "cairn_fleet_target_duration_seconds_sum{");
	put_labels(out, m);
	buf_printf(out, "} %.3f\ncairn_fleet_target_duration_seconds_count{", m->sum_s);
	put_labels(out, m);
	buf_printf(out, "} %llu\n", m->count);
}
