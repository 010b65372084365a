/* The Prometheus text exposition format (version 0.0.4), written once for
 * every metrics file cairn-apply writes: fleet --metrics, apply and
 * preflight --metrics-file (node_exporter's textfile collector), status
 * --format prometheus. A family header, samples with escaped label values,
 * and histograms with cumulative buckets. */
#ifndef CAIRN_PROM_H
#define CAIRN_PROM_H

#include <stddef.h>

#include "buf.h"

#define PROM_MAX_BUCKETS 12

struct prom_label {
	const char *name, *value;   /* value NULL: written as "" */
};

/* "# HELP name help" and "# TYPE name type" (gauge, counter, histogram). */
void prom_family(struct buf *out, const char *name, const char *type, const char *help);
/* name{l1="v1",...} value, the value written by fmt; n 0: no braces. */
void prom_sample(struct buf *out, const char *name, const struct prom_label *l, size_t n,
		 const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* A gauge of one sample: its family header, then name{labels} value. */
void prom_gauge(struct buf *out, const char *name, const char *help, const struct prom_label *l,
		size_t n, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

struct prom_histogram {
	const double *bounds;       /* upper bounds in seconds, ascending */
	size_t nbounds;             /* at most PROM_MAX_BUCKETS */
	unsigned long long bucket[PROM_MAX_BUCKETS]; /* observations <= bounds[i] */
	unsigned long long count;
	double sum;
};

void prom_histogram_init(struct prom_histogram *h, const double *bounds, size_t nbounds);
void prom_histogram_observe(struct prom_histogram *h, double value);
/* name_bucket{...,le="B"} for each bound and +Inf, name_sum and name_count
 * (the family header is the caller's). */
void prom_histogram_format(struct buf *out, const char *name, const struct prom_label *l,
			   size_t n, const struct prom_histogram *h);

#endif
