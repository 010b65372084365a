#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/error.h"
#include "findings.h"

void findings_add(struct findings *f, enum severity sev, const char *path, int line,
		  int col, const char *rule, const char *fmt, ...)
{
	struct finding *x;
	va_list ap;
	int n;

	ALLOC_GROW(f->items, f->n + 1, f->alloc);
	x = &f->items[f->n++];
	x->path = xstrdup(path ? path : "");
	x->line = line;
	x->col = col;
	x->sev = sev;
	x->rule = rule;
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	x->msg = xmalloc(n < 0 ? 1 : (size_t)n + 1);
	va_start(ap, fmt);
	(void)vsnprintf(x->msg, n < 0 ? 1 : (size_t)n + 1, fmt, ap);
	va_end(ap);
	if (sev == SEV_ERROR)
		f->errors++;
	else
		f->warnings++;
}

void findings_release(struct findings *f)
{
	size_t i;

	if (!f)
		return;
	for (i = 0; i < f->n; i++) {
		free(f->items[i].path);
		free(f->items[i].msg);
	}
	free(f->items);
	memset(f, 0, sizeof(*f));
}

static int cmp_finding(const struct finding *a, const struct finding *b)
{
	int c = strcmp(a->path, b->path);

	if (c)
		return c;
	return a->line - b->line;
}

void findings_sort(struct findings *f)
{
	size_t i, j;

	/* insertion sort: stable, and the lists are short */
	for (i = 1; i < f->n; i++) {
		struct finding t = f->items[i];

		for (j = i; j > 0 && cmp_finding(&f->items[j - 1], &t) > 0; j--)
			f->items[j] = f->items[j - 1];
		f->items[j] = t;
	}
}

static const char *sev_name(enum severity s)
{
	return s == SEV_ERROR ? "error" : "warning";
}

int findings_format_text(const struct findings *f, struct buf *out)
{
	size_t i;

	for (i = 0; i < f->n; i++) {
		const struct finding *x = &f->items[i];
		int rc;

		if (x->line > 0)
			rc = buf_printf(out, "%s:%d: %s: %s: %s\n", x->path, x->line,
					sev_name(x->sev), x->rule, x->msg);
		else
			rc = buf_printf(out, "%s: %s: %s: %s\n", x->path,
					sev_name(x->sev), x->rule, x->msg);
		if (rc < 0)
			return -1;
	}
	return 0;
}

int findings_format_json(const struct findings *f, const char *extra_json, struct buf *out)
{
	size_t i;

	buf_printf(out, "{\"errors\":%zu,\"warnings\":%zu,", f->errors, f->warnings);
	if (extra_json)
		buf_printf(out, "%s,", extra_json);
	buf_puts(out, "\"findings\":[");
	for (i = 0; i < f->n; i++) {
		const struct finding *x = &f->items[i];

		buf_puts(out, i ? ",{\"path\":" : "{\"path\":");
		buf_put_json_string(out, x->path);
		if (x->line > 0)
			buf_printf(out, ",\"line\":%d", x->line);
		else
			buf_puts(out, ",\"line\":null");
		if (x->col > 0)
			buf_printf(out, ",\"column\":%d", x->col);
		buf_printf(out, ",\"severity\":\"%s\",\"rule\":", sev_name(x->sev));
		buf_put_json_string(out, x->rule);
		buf_puts(out, ",\"message\":");
		buf_put_json_string(out, x->msg);
		buf_putc(out, '}');
	}
	return buf_puts(out, "]}\n");
}

int findings_has_rule(const struct findings *f, const char *rule)
{
	size_t i;

	for (i = 0; i < f->n; i++)
		if (!strcmp(f->items[i].rule, rule))
			return 1;
	return 0;
}
