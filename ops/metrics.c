/* Metrics of an apply run and of a preflight: see metrics.h. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../lib/error.h"
#include "../lib/exitcodes.h"
#include "../lib/util.h"
#include "metrics.h"

#define METRICS_FILE_CAP (1u << 20)

static const char *const outcomes[] = { "success", "failed", "refused", "locked",
					"needs-operator", "error", "waiting", "interrupted",
					"stopped" };
#define NOUTCOMES (sizeof(outcomes) / sizeof(*outcomes))

/* seconds: the upper bounds of the per-migration histogram */
static const double bounds[] = { 0.01, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600 };

static long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void run_metrics_init(struct run_metrics *m, const char *env, const char *bundle)
{
	memset(m, 0, sizeof(*m));
	m->env = env;
	m->bundle = bundle;
	m->lock_wait_ms = -1;
	m->start_ms = mono_ms();
	prom_histogram_init(&m->per_migration, bounds, sizeof(bounds) / sizeof(*bounds));
}

void run_metrics_release(struct run_metrics *m)
{
	if (!m)
		return;
	free(m->rows);
	m->rows = NULL;
	m->nrows = m->rows_alloc = 0;
}

static void rows_changed(struct run_metrics *m, const struct apply_event *ev)
{
	size_t i;

	for (i = 0; i < m->nrows; i++)
		if (!strcmp(m->rows[i].version, ev->version))
			break;
	if (i == m->nrows) {
		ALLOC_GROW(m->rows, m->nrows + 1, m->rows_alloc);
		m->rows[i].version = ev->version;
		m->rows[i].name = ev->name;
		m->nrows++;
	}
	m->rows[i].rows = ev->rows; /* the migration's total so far */
}

void run_metrics_event(struct run_metrics *m, const struct apply_event *ev)
{
	if (ev->action && strcmp(ev->action, "apply"))
		return;
	switch (ev->type) {
	case EV_PLAN:
		m->planned = m->books_read = 1;
		m->pending += ev->total;
		break;
	case EV_APPLIED:
		m->applied++;
		if (m->pending)
			m->pending--;
		prom_histogram_observe(&m->per_migration, (double)ev->duration_ms / 1000.0);
		break;
	case EV_SKIPPED:
		/* still to run in this environment: after --to, or waiting for a
		 * contract statement */
		if (ev->reason && (!strcmp(ev->reason, "after --to") || strstr(ev->reason, "contract")))
			m->pending++;
		break;
	case EV_BATCH:
		if (ev->version)
			rows_changed(m, ev);
		break;
	case EV_DRIFT:
		m->drifted++;
		m->books_read = 1;
		break;
	case EV_MISSING:
	case EV_BLOCKED:
	case EV_DONE:
		m->books_read = 1;
		break;
	default:
		break;
	}
}

const char *run_metrics_outcome(int code, int signal)
{
	if (signal)
		return "interrupted";
	switch (code) {
	case EXIT_OK: return "success";
	case EXIT_FAILED: return "failed";
	case EXIT_REFUSED: return "refused";
	case EXIT_LOCKED: return "locked";
	case EXIT_STATE: return "needs-operator";
	case EXIT_CONTRACT: return "waiting";
	case EXIT_BUDGET: return "stopped";
	default: return "error";
	}
}

/* The value the previous file holds for the sample name{l}: its line, as
 * this writer would format it, matched up to the value. Only a finite,
 * non-negative number counts. */
static int carried(const char *prev, const char *name, const struct prom_label *l, size_t n,
		   double *out)
{
	struct buf key = BUF_INIT;
	const char *p;
	int found = 0;

	if (!prev)
		return 0;
	prom_sample(&key, name, l, n, "%s", "");
	key.ptr[--key.len] = '\0'; /* "name{...} " */
	for (p = prev; p && *p && !found; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		char *end;
		double v;

		if (strncmp(p, key.ptr, key.len))
			continue;
		v = strtod(p + key.len, &end);
		if (end != p + key.len && isfinite(v) && v >= 0) {
			*out = v;
			found = 1;
		}
	}
	buf_release(&key);
	return found;
}

static unsigned long long carried_count(const char *prev, const char *name,
					const struct prom_label *l, size_t n)
{
	double v = 0;

	return carried(prev, name, l, n, &v) && v < 1e18 ? (unsigned long long)v : 0;
}

/* The counters, the last success and the pending work the previous run
 * of this environment left in the file. */
static void carry_over(struct run_metrics *m, const char *prev)
{
	struct prom_label l[2] = { { "env", m->env }, { NULL, NULL } };
	struct prom_histogram *h = &m->per_migration;
	char le[32];
	double v;
	size_t i;

	l[1].name = "outcome";
	for (i = 0; i < NOUTCOMES; i++) {
		l[1].value = outcomes[i];
		m->runs_before[i] = carried_count(prev, "cairn_apply_runs_total", l, 2);
	}
	m->applied_before = carried_count(prev, "cairn_apply_migrations_applied_total", l, 1);
	l[1].name = "le";
	l[1].value = le;
	for (i = 0; i <= h->nbounds; i++) {
		if (i == h->nbounds)
			memcpy(le, "+Inf", 5);
		else if (snprintf(le, sizeof(le), "%g", h->bounds[i]) >= (int)sizeof(le))
			continue;
		v = (double)carried_count(prev, "cairn_apply_migration_duration_seconds_bucket", l, 2);
		if (i < h->nbounds)
			h->bucket[i] += (unsigned long long)v;
	}
	h->count += carried_count(prev, "cairn_apply_migration_duration_seconds_count", l, 1);
	if (carried(prev, "cairn_apply_migration_duration_seconds_sum", l, 1, &v))
		h->sum += v;
	if (carried(prev, "cairn_apply_last_success_timestamp_seconds", l, 1, &v))
		m->last_success = (long long)v;
	if (carried(prev, "cairn_apply_pending_since_timestamp_seconds", l, 1, &v))
		m->pending_since = (long long)v;
	if (!m->planned && carried(prev, "cairn_apply_pending_migrations", l, 1, &v)) {
		m->planned = 1; /* not known from this run: the last known */
		m->pending = (size_t)v;
	}
	if (!m->books_read && carried(prev, "cairn_apply_drifted_migrations", l, 1, &v)) {
		m->books_read = 1;
		m->drifted = (size_t)v;
	}
}

static void format_counters(struct buf *out, const struct run_metrics *m,
			    struct prom_label *l)
{
	size_t i;

	prom_family(out, "cairn_apply_runs_total", "counter", "Apply runs, by outcome.");
	l[1].name = "outcome";
	for (i = 0; i < NOUTCOMES; i++) {
		l[1].value = outcomes[i];
		prom_sample(out, "cairn_apply_runs_total", l, 2, "%llu",
			    m->runs_before[i] + !strcmp(m->outcome, outcomes[i]));
	}
	prom_family(out, "cairn_apply_migrations_applied_total", "counter",
		    "Migrations applied by cairn-apply apply.");
	prom_sample(out, "cairn_apply_migrations_applied_total", l, 1, "%llu",
		    m->applied_before + m->applied);
	prom_family(out, "cairn_apply_migration_duration_seconds", "histogram",
		    "Time to apply one migration.");
	prom_histogram_format(out, "cairn_apply_migration_duration_seconds", l, 1,
			      &m->per_migration);
}

static void format_run(struct buf *out, const struct run_metrics *m, struct prom_label *l)
{
	struct prom_label info[5] = {
		{ "env", m->env }, { "bundle", m->bundle }, { "outcome", m->outcome },
		{ "from_version", m->from_version }, { "to_version", m->to_version },
	};
	size_t i;

	prom_gauge(out, "cairn_apply_last_run_info",
		   "The last apply run: its bundle, outcome and versions.",
		   info, 5, "1");
	prom_gauge(out, "cairn_apply_last_run_success",
		   "1 when the last apply run succeeded, else 0.",
		   l, 1, "%d", !strcmp(m->outcome, "success"));
	prom_gauge(out, "cairn_apply_last_run_timestamp_seconds", "When the last apply run ended.",
		   l, 1, "%lld", m->end_unix);
	if (m->last_success) {
		prom_gauge(out, "cairn_apply_last_success_timestamp_seconds",
			   "When the last successful apply run ended.",
			   l, 1, "%lld", m->last_success);
	}
	prom_gauge(out, "cairn_apply_run_duration_seconds", "Wall time of the last apply run.",
		   l, 1, "%.3f", (double)(mono_ms() - m->start_ms) / 1000.0);
	if (m->lock_wait_ms >= 0) {
		prom_gauge(out, "cairn_apply_lock_wait_seconds",
			   "Time the last apply run waited for the run lock.",
			   l, 1, "%.3f", (double)m->lock_wait_ms / 1000.0);
	}
	prom_gauge(out, "cairn_apply_lock_retries",
		   "Migrations of the last run rolled back on a lock timeout and run again "
		   "(PostgreSQL lock-safe DDL).",
		   l, 1, "%lu", m->lock_retries);
	prom_gauge(out, "cairn_apply_lock_retry_wait_seconds",
		   "Time the last run spent in attempts that timed out on a lock, and in the "
		   "pauses between them.",
		   l, 1, "%.3f", (double)m->lock_retry_wait_ms / 1000.0);
	prom_gauge(out, "cairn_apply_batch_lag_waits",
		   "Waits of throttled batch migrations for a lagging standby in the last run.",
		   l, 1, "%lu", m->lag_waits);
	prom_gauge(out, "cairn_apply_batch_lag_wait_seconds",
		   "Time throttled batch migrations waited for a standby in the last run.",
		   l, 1, "%.3f", (double)m->lag_wait_ms / 1000.0);
	prom_gauge(out, "cairn_apply_batch_rows_per_second",
		   "Rows per second of the last batch migration of the last run.",
		   l, 1, "%lld", m->batch_rows_per_s);
	if (m->planned) {
		prom_gauge(out, "cairn_apply_pending_migrations",
			   "Migrations of the last bundle not yet applied in this environment.",
			   l, 1, "%zu", m->pending);
	}
	if (m->planned && m->pending) {
		prom_gauge(out, "cairn_apply_pending_since_timestamp_seconds",
			   "Since when migrations have been pending here.",
			   l, 1, "%lld", m->pending_since);
	}
	if (m->books_read) {
		prom_gauge(out, "cairn_apply_drifted_migrations",
			   "Applied migrations whose checksum differs from the bundle's.",
			   l, 1, "%zu", m->drifted);
	}
	if (!m->nrows)
		return;
	prom_family(out, "cairn_apply_migration_rows_changed", "gauge",
		    "Rows changed by a batch migration of the last run.");
	for (i = 0; i < m->nrows; i++) {
		struct prom_label r[3] = { { "env", m->env }, { "version", m->rows[i].version },
					   { "migration", m->rows[i].name } };

		prom_sample(out, "cairn_apply_migration_rows_changed", r, 3, "%lld", m->rows[i].rows);
	}
}

int run_metrics_write(struct run_metrics *m, const char *path, int code, int signal)
{
	struct buf prev = BUF_INIT, out = BUF_INIT;
	struct prom_label l[2] = { { "env", m->env }, { NULL, NULL } };
	int rc;

	errno = 0;
	if (read_file(path, METRICS_FILE_CAP, &prev) < 0)
		buf_release(&prev); /* none yet (or unreadable): counting starts again */
	m->outcome = run_metrics_outcome(code, signal);
	m->end_unix = (long long)time(NULL);
	carry_over(m, prev.len ? prev.ptr : NULL);
	if (!strcmp(m->outcome, "success"))
		m->last_success = m->end_unix;
	if (!m->pending)
		m->pending_since = 0;
	else if (!m->pending_since)
		m->pending_since = m->end_unix;
	format_counters(&out, m, l);
	format_run(&out, m, l);
	rc = write_file_atomic(path, out.ptr, out.len, 0644);
	buf_release(&prev);
	buf_release(&out);
	return rc;
}

static int is_judged(enum pf_status s)
{
	return s == PF_PASS || s == PF_FAIL || s == PF_WARN; /* a warning passed */
}

/* A check may have several lines (one per migration): one sample per id,
 * at its first judged line (passed, with a warning or not, or failed; not
 * information). */
static int judged(const struct preflight *p, size_t i, const char *id)
{
	size_t j;

	if (!is_judged(p->checks[i].status))
		return 0;
	for (j = 0; j < i; j++)
		if (!strcmp(p->checks[j].id, id) && is_judged(p->checks[j].status))
			return 0;
	return 1;
}

static int check_failed(const struct preflight *p, const char *id)
{
	size_t j;

	for (j = 0; j < p->n; j++)
		if (!strcmp(p->checks[j].id, id) && p->checks[j].status == PF_FAIL)
			return 1;
	return 0;
}

int preflight_metrics_write(const struct preflight *p, const char *env, const char *path)
{
	struct buf out = BUF_INIT;
	struct prom_label l[2] = { { "env", env }, { "check", NULL } };
	size_t i;
	int rc;

	prom_family(&out, "cairn_preflight_check_passed", "gauge",
		    "1 when the check passed in the last preflight, 0 when it failed.");
	for (i = 0; i < p->n; i++) {
		if (!judged(p, i, p->checks[i].id))
			continue;
		l[1].value = p->checks[i].id;
		prom_sample(&out, "cairn_preflight_check_passed", l, 2, "%d",
			    !check_failed(p, p->checks[i].id));
	}
	prom_gauge(&out, "cairn_preflight_passed",
		   "1 when every check of the last preflight passed.",
		   l, 1, "%d", preflight_exit(p) == EXIT_OK);
	prom_gauge(&out, "cairn_preflight_last_run_timestamp_seconds",
		   "When the last preflight ran.",
		   l, 1, "%lld", (long long)time(NULL));
	rc = write_file_atomic(path, out.ptr, out.len, 0644);
	buf_release(&out);
	return rc;
}
