/* How plan and inspect show a batch migration's throttle (issue #22),
 * from the signed manifest's values, so both programs say it alike. */
#include "batch.h"
#include "buf.h"

static int put_ms(struct buf *out, const char *sep, const char *key, unsigned long long ms)
{
	if (ms % 3600000 == 0)
		return buf_printf(out, "%s%s %lluh", sep, key, ms / 3600000);
	if (ms % 60000 == 0)
		return buf_printf(out, "%s%s %llum", sep, key, ms / 60000);
	if (ms % 1000 == 0)
		return buf_printf(out, "%s%s %llus", sep, key, ms / 1000);
	return buf_printf(out, "%s%s %llums", sep, key, ms);
}

static int put_bytes(struct buf *out, const char *sep, const char *key, unsigned long long n)
{
	if (n % (1ULL << 30) == 0)
		return buf_printf(out, "%s%s %lluGiB", sep, key, n >> 30);
	if (n % (1ULL << 20) == 0)
		return buf_printf(out, "%s%s %lluMiB", sep, key, n >> 20);
	if (n % (1ULL << 10) == 0)
		return buf_printf(out, "%s%s %lluKiB", sep, key, n >> 10);
	return buf_printf(out, "%s%s %llu bytes", sep, key, n);
}

int batch_throttle_text(const struct batch_throttle *t, struct buf *out)
{
	/* kind: 0 a count, 1 a duration in ms, 2 bytes */
	static const char *const keys[] = { "size", "pause", "max_duration",
					    "max_replication_lag", "max_replication_lag" };
	static const int kinds[] = { 0, 1, 1, 1, 2 };
	const unsigned long long vals[] = { t->size, t->pause_ms, t->max_duration_ms,
					    t->max_lag_ms, t->max_lag_bytes };
	const char *sep = "";
	size_t i;
	int rc;

	for (i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		if (!vals[i])
			continue;
		rc = kinds[i] == 1 ? put_ms(out, sep, keys[i], vals[i])
		     : kinds[i] == 2 ? put_bytes(out, sep, keys[i], vals[i])
				     : buf_printf(out, "%s%s %llu", sep, keys[i], vals[i]);
		if (rc < 0)
			return -1;
		sep = ", ";
	}
	return 0;
}

int batch_throttle_json(const struct batch_throttle *t, struct buf *out)
{
	static const char *const keys[] = { "size", "pause_ms", "max_duration_ms",
					    "max_replication_lag_ms",
					    "max_replication_lag_bytes" };
	const unsigned long long vals[] = { t->size, t->pause_ms, t->max_duration_ms,
					    t->max_lag_ms, t->max_lag_bytes };
	const char *sep = "{";
	size_t i;

	for (i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		if (!vals[i])
			continue;
		if (buf_printf(out, "%s\"%s\":%llu", sep, keys[i], vals[i]) < 0)
			return -1;
		sep = ",";
	}
	return buf_puts(out, *sep == '{' ? "{}" : "}");
}
