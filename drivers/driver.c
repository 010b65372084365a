/* The driver registry: every driver the applier knows, found by DSN or name. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/error.h"
#include "../lib/util.h"
#include "driver.h"

extern const struct driver driver_sqlite;
extern const struct driver driver_postgres;

/* A new driver adds one line here (and its source to DRIVER_SRC). */
static const struct driver *const drivers[] = {
	&driver_sqlite,
	&driver_postgres,
	NULL,
};

const struct driver *const *driver_list(void)
{
	return drivers;
}

const struct driver *driver_by_name(const char *name)
{
	size_t i;

	for (i = 0; drivers[i]; i++)
		if (!strcmp(drivers[i]->name, name))
			return drivers[i];
	return NULL;
}

const struct driver *driver_for_dsn(const char *dsn)
{
	size_t i;

	for (i = 0; drivers[i]; i++)
		if (drivers[i]->accepts(dsn))
			return drivers[i];
	/* Never echo the DSN: it may hold a password. */
	cairn_error_set("unsupported database: expected sqlite:PATH, postgres://..., "
			"postgresql://... or a libpq keyword string");
	return NULL;
}

void bk_row_release(struct bk_row *r)
{
	if (!r)
		return;
	if (r->strings) {
		free(r->strings);
	} else {
		free(r->version);
		free(r->name);
		free(r->checksum);
		free(r->state);
		free(r->bundle_id);
		free(r->environment);
		free(r->applied_at);
		free(r->applied_by);
		free(r->down_sql);
		free(r->kind);
		free(r->error);
		free(r->audit_hash);
	}
	memset(r, 0, sizeof(*r));
}

static int cmp_bk_row(const void *a, const void *b)
{
	return version_cmp(((const struct bk_row *)a)->version, ((const struct bk_row *)b)->version);
}

void bk_rows_sort(struct bk_row *rows, size_t n)
{
	if (n > 1)
		qsort(rows, n, sizeof(*rows), cmp_bk_row);
}

void bk_rows_free(struct bk_row *rows, size_t n)
{
	size_t i;

	for (i = 0; rows && i < n; i++)
		bk_row_release(&rows[i]);
	free(rows);
}

void audit_row_release(struct audit_row *r)
{
	if (!r)
		return;
	if (r->strings) {
		free(r->strings);
		memset(r, 0, sizeof(*r));
		return;
	}
	free(r->at);
	free(r->actor);
	free(r->action);
	free(r->version);
	free(r->from_version);
	free(r->to_version);
	free(r->bundle_id);
	free(r->environment);
	free(r->detail);
	free(r->prev_hash);
	free(r->hash);
	memset(r, 0, sizeof(*r));
}

void audit_rows_free(struct audit_row *rows, size_t n)
{
	size_t i;

	for (i = 0; rows && i < n; i++)
		audit_row_release(&rows[i]);
	free(rows);
}

void driver_error_format(const struct driver_error *e, char *buf, size_t len)
{
	int n;

	n = snprintf(buf, len, "%s%s%s", e->code[0] ? e->code : "", e->code[0] ? ": " : "",
		     e->message[0] ? e->message : "unknown error");
	if (n < 0 || (size_t)n >= len)
		return; /* cut: the message is still one readable line */
	if (e->detail[0] || e->hint[0])
		snprintf(buf + n, len - (size_t)n, " (%s%s%s)", e->detail,
			 e->detail[0] && e->hint[0] ? "; hint: " : (e->hint[0] ? "hint: " : ""),
			 e->hint);
}

void driver_rows_release(struct driver_rows *r)
{
	size_t i;

	if (!r)
		return;
	for (i = 0; r->cells && i < r->nrows * r->ncols; i++)
		free(r->cells[i]);
	free(r->cells);
	memset(r, 0, sizeof(*r));
}
