/* Throttling of a kind: batch migration (issue #22): migration.yaml's
 * batch: {size, pause, max_duration, max_replication_lag}, carried by the
 * signed manifest to the applier. 0 = unset, each on its own. */
#ifndef CAIRN_BATCH_H
#define CAIRN_BATCH_H

struct buf;

struct batch_throttle {
	unsigned long long size;        /* rows per batch the script may read */
	unsigned long long pause_ms;    /* sleep between batches */
	unsigned long long max_duration_ms; /* stop (resumable) after this long */
	unsigned long long max_lag_ms;  /* wait while a standby lags more (PostgreSQL) */
	unsigned long long max_lag_bytes; /* the same bound in bytes of WAL not replayed */
};

/* 1 when any key is set; 0 for NULL (a manifest entry with no batch:). */
static inline int batch_throttle_set(const struct batch_throttle *t)
{
	return t && (t->size || t->pause_ms || t->max_duration_ms || t->max_lag_ms ||
		     t->max_lag_bytes);
}

/* The keys set, for plan and inspect: "size 1000, pause 200ms,
 * max_replication_lag 16MiB" (text) or the manifest's keys as a JSON
 * object, {"size":1000,"pause_ms":200,...}. 0 or -1 (buffer cap). */
int batch_throttle_text(const struct batch_throttle *t, struct buf *out);
int batch_throttle_json(const struct batch_throttle *t, struct buf *out);

#endif
