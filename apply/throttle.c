/* Throttled backfills (issue #22): a kind: batch migration's batch:
 * {size, pause, max_duration, max_replication_lag} from its signed
 * manifest. The pause and the lag waits sleep in slices, so SIGINT and
 * SIGTERM stop the run between batches, the row left in_progress with
 * the batches it committed (resumed by the next apply). The lag is read
 * before each batch: the environment's replication_lag_query when the
 * applier's config sets one (trusted as the config is: the applier's
 * own file), else on PostgreSQL the largest replay_lag of
 * pg_stat_replication (a bound in bytes: the environment's
 * replication_lag_bytes_query, else the most WAL a standby has not
 * replayed, pg_wal_lsn_diff of its replay_lsn); SQLite has no standby, and without a query the
 * bound is not checked there. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/error.h"
#include "../lib/util.h"
#include "engine.h"
#include "engine-int.h"

#define LAG_POLL_MS 1000LL /* between two reads of the lag while it is high */

static const char pg_lag_query[] =
	"SELECT COALESCE(max((EXTRACT(epoch FROM replay_lag) * 1000)::bigint), 0) "
	"FROM pg_stat_replication";
/* WAL written on the primary and not yet replayed by the slowest standby */
static const char pg_lag_bytes_query[] =
	"SELECT COALESCE(max(pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)), 0)::bigint "
	"FROM pg_stat_replication";

int batch_set_size(struct run *r, const struct apply_mig *m, char **err)
{
	const struct batch_throttle *t = apply_mig_throttle(m);
	struct driver_exec x;
	char sql[256];
	int n;

	if (!t->size)
		return 0;
	if (!strcmp(r->drv->name, "postgres"))
		n = snprintf(sql, sizeof(sql), "SELECT set_config('cairn.batch_size', '%llu', true)",
			     t->size);
	else
		n = snprintf(sql, sizeof(sql),
			     "CREATE TEMP TABLE IF NOT EXISTS cairn_batch (size integer NOT NULL);"
			     "DELETE FROM temp.cairn_batch;"
			     "INSERT INTO temp.cairn_batch (size) VALUES (%llu);",
			     t->size);
	if (n < 0 || (size_t)n >= sizeof(sql)) {
		*err = xstrdup("batch size: query too long");
		return -1;
	}
	memset(&x, 0, sizeof(x));
	if (r->drv->exec(r->db, sql, (size_t)n, &x)) {
		*err = xasprintf("cannot set the batch size: %s",
				 x.err.message[0] ? x.err.message : cairn_error_last());
		return -1;
	}
	return 0;
}

int batch_budget_spent(const struct apply_mig *m, long long t0)
{
	const struct batch_throttle *t = apply_mig_throttle(m);

	return t->max_duration_ms && now_ms() - t0 >= (long long)t->max_duration_ms;
}

/* The standby's lag in ms (bytes: 0) or in bytes of WAL (bytes: 1): 0
 * with *lag set, 1 when there is no query to ask (SQLite without one), -1
 * on error (*err set). */
static int read_lag(struct run *r, int bytes, long long *lag, char **err)
{
	const char *q = bytes ? r->o->lag_bytes_query : r->o->lag_query;
	const char *unit = bytes ? "bytes" : "ms";
	char *text = NULL, *end = NULL;

	if (!q || !*q) {
		if (strcmp(r->drv->name, "postgres") || !r->drv->query_text)
			return 1;
		q = bytes ? pg_lag_bytes_query : pg_lag_query;
	}
	if (r->drv->query_text(r->db, q, &text)) {
		*err = xasprintf("cannot read the replication lag: %s", cairn_error_last());
		return -1;
	}
	*lag = text ? strtoll(text, &end, 10) : 0;
	if (text && (end == text || *end)) {
		*err = xasprintf("the replication lag query returned '%s', not a number of %s",
				 text, unit);
		free(text);
		return -1;
	}
	free(text);
	return 0;
}

/* Whether a bound is passed: 1 with ev's lag_ms or lag_bytes set, 0 when
 * within the bounds set (or nothing to ask), -1 on error. */
static int lag_over(struct run *r, const struct apply_mig *m, struct apply_event *ev,
		    char **err)
{
	const struct batch_throttle *t = apply_mig_throttle(m);
	const unsigned long long bound[] = { t->max_lag_ms, t->max_lag_bytes };
	long long *seen[] = { &ev->lag_ms, &ev->lag_bytes };
	int bytes;

	for (bytes = 0; bytes < 2; bytes++) {
		long long lag = 0;
		int rc;

		if (!bound[bytes])
			continue;
		rc = read_lag(r, bytes, &lag, err);
		if (rc < 0)
			return -1;
		if (!rc && lag > (long long)bound[bytes]) {
			*seen[bytes] = lag;
			return 1;
		}
	}
	return 0;
}

/* Waits while the lag is above the bound: each wait an EV_LAG_WAIT event
 * and counted in res. */
static int wait_lag(struct run *r, const struct apply_set *set, const struct apply_mig *m,
		    long long n, long long t0, struct apply_result *res, char **err)
{
	for (;;) {
		struct apply_event ev;
		long long w0;
		int rc;

		ev_init(&ev, EV_LAG_WAIT, m, set);
		rc = lag_over(r, m, &ev, err);
		if (rc <= 0)
			return rc;
		if (batch_budget_spent(m, t0))
			return BATCH_BUDGET;
		ev.batches = n - 1;
		ev.duration_ms = LAG_POLL_MS;
		emit(r, &ev);
		res->lag_waits++;
		w0 = now_ms();
		rc = pause_ms(r->o, LAG_POLL_MS);
		res->lag_wait_ms += now_ms() - w0;
		if (rc)
			return BATCH_INTERRUPTED;
	}
}

int batch_before(struct run *r, const struct apply_set *set, const struct apply_mig *m,
		 long long n, long long t0, struct apply_result *res, char **err)
{
	const struct batch_throttle *t = apply_mig_throttle(m);

	if (n > 1 && t->pause_ms && pause_ms(r->o, (long long)t->pause_ms))
		return BATCH_INTERRUPTED;
	if (r->o->interrupted && *r->o->interrupted)
		return BATCH_INTERRUPTED;
	if (n > 1 && batch_budget_spent(m, t0))
		return BATCH_BUDGET;
	if (t->max_lag_ms || t->max_lag_bytes)
		return wait_lag(r, set, m, n, t0, res, err);
	return 0;
}
