/* The Prometheus text exposition format: see prom.h. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "prom.h"

void prom_family(struct buf *out, const char *name, const char *type, const char *help)
{
	buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value: backslash, double quote and newline escaped. */
static void put_labels(struct buf *out, const struct prom_label *l, size_t n)
{
	const char *p;
	size_t i;

	if (!n)
		return;
	buf_putc(out, '{');
	for (i = 0; i < n; i++) {
		buf_printf(out, "%s%s=\"", i ? "," : "", l[i].name);
		for (p = l[i].value ? l[i].value : ""; *p; p++) {
			if (*p == '\\' || *p == '"')
				buf_printf(out, "\\%c", *p);
			else if (*p == '\n')
				buf_puts(out, "\\n");
			else
				buf_putc(out, *p);
		}
		buf_putc(out, '"');
	}
	buf_putc(out, '}');
}

static void put_sample(struct buf *out, const char *name, const struct prom_label *l, size_t n,
		       const char *fmt, va_list ap)
{
	char value[64];
	int len;

	len = vsnprintf(value, sizeof(value), fmt, ap);
	if (len < 0 || (size_t)len >= sizeof(value))
		memcpy(value, "NaN", 4); /* never: a number is shorter */
	buf_puts(out, name);
	put_labels(out, l, n);
	buf_printf(out, " %s\n", value);
}

void prom_sample(struct buf *out, const char *name, const struct prom_label *l, size_t n,
		 const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	put_sample(out, name, l, n, fmt, ap);
	va_end(ap);
}

void prom_gauge(struct buf *out, const char *name, const char *help, const struct prom_label *l,
		size_t n, const char *fmt, ...)
{
	va_list ap;

	prom_family(out, name, "gauge", help);
	va_start(ap, fmt);
	put_sample(out, name, l, n, fmt, ap);
	va_end(ap);
}

void prom_histogram_init(struct prom_histogram *h, const double *bounds, size_t nbounds)
{
	memset(h, 0, sizeof(*h));
	h->bounds = bounds;
	h->nbounds = nbounds < PROM_MAX_BUCKETS ? nbounds : PROM_MAX_BUCKETS;
}

void prom_histogram_observe(struct prom_histogram *h, double value)
{
	size_t i;

	for (i = 0; i < h->nbounds; i++)
		if (value <= h->bounds[i])
			h->bucket[i]++;
	h->count++;
	h->sum += value;
}

void prom_histogram_format(struct buf *out, const char *name, const struct prom_label *l,
			   size_t n, const struct prom_histogram *h)
{
	struct prom_label ll[16];
	struct buf metric = BUF_INIT;
	char le[32];
	size_t i, k = n < 15 ? n : 15;

	memcpy(ll, l, k * sizeof(*l));
	ll[k].name = "le";
	ll[k].value = le;
	buf_printf(&metric, "%s_bucket", name);
	for (i = 0; i <= h->nbounds; i++) {
		if (i < h->nbounds && snprintf(le, sizeof(le), "%g", h->bounds[i]) >= (int)sizeof(le))
			continue; /* never: %g of a double fits */
		if (i == h->nbounds)
			memcpy(le, "+Inf", 5);
		prom_sample(out, metric.ptr, ll, k + 1, "%llu",
			    i < h->nbounds ? h->bucket[i] : h->count);
	}
	buf_reset(&metric);
	buf_printf(&metric, "%s_sum", name);
	prom_sample(out, metric.ptr, l, k, "%.3f", h->sum);
	buf_reset(&metric);
	buf_printf(&metric, "%s_count", name);
	prom_sample(out, metric.ptr, l, k, "%llu", h->count);
	buf_release(&metric);
}
