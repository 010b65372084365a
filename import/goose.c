/* goose: {version}_{name}.sql with "-- +goose Up" / "-- +goose Down"
 * sections; "-- +goose StatementBegin/End" bracket statements holding
 * semicolons (cairn's splitter reads quotes itself, so the markers go);
 * "-- +goose NO TRANSACTION" runs the file outside a transaction. Go
 * migrations (.go) and environment substitution cannot be mapped. */
#include <string.h>

#include "../lib/error.h"
#include "../lib/util.h"
#include "import-int.h"

/* "-- +goose WORD..." at line [s, e): the text after "+goose ", or NULL. */
static const char *annotation(const char *s, const char *e)
{
	if (e - s < 9 || strncmp(s, "-- +goose", 9))
		return NULL;
	s += 9;
	while (s < e && (*s == ' ' || *s == '\t'))
		s++;
	return s;
}

static int word_is(const char *a, const char *e, const char *w)
{
	size_t l = strlen(w);

	return (size_t)(e - a) >= l && !strncasecmp(a, w, l);
}

static void convert(struct import *im, struct import_mig *m, const char *rel, const char *data,
		    size_t len)
{
	struct buf sec[2] = { BUF_INIT, BUF_INIT };
	const char *s = data, *end = data + len;
	int cur = -1, seen[2] = { 0, 0 };
	size_t k;

	while (s < end) {
		const char *eol = memchr(s, '\n', (size_t)(end - s)), *a;

		eol = eol ? eol + 1 : end;
		if ((a = annotation(s, eol))) {
			if (word_is(a, eol, "Up"))
				cur = 0, seen[0] = 1;
			else if (word_is(a, eol, "Down"))
				cur = 1, seen[1] = 1;
			else if (word_is(a, eol, "NO TRANSACTION")) {
				if (m->transaction)
					import_count(im, "NO TRANSACTION annotations", 1, 1);
				m->transaction = 0;
				import_report(im, rel, IMPORT_MAPPED, "NO TRANSACTION: transaction: false");
			} else if (word_is(a, eol, "StatementBegin") || word_is(a, eol, "StatementEnd"))
				import_count(im, "StatementBegin/End markers (dropped: cairn reads quotes)", 1, 1);
			else
				import_mig_report(im, m, rel, IMPORT_ERROR,
						  "line '%.*s': goose annotation cairn cannot map (environment substitution has no cairn equivalent)",
						  (int)(eol - s - (eol[-1] == '\n')), s);
		} else if (cur >= 0) {
			buf_put(&sec[cur], s, (size_t)(eol - s));
		}
		s = eol;
	}
	if (!seen[0])
		import_mig_report(im, m, rel, IMPORT_ERROR, "no '-- +goose Up' annotation");
	for (k = 0; k < 2; k++) {
		size_t l;
		char *d;

		if (!seen[k])
			continue;
		import_count(im, k ? "down sections" : "up sections", 1, 1);
		if (!sec[k].ptr)
			buf_puts(&sec[k], "");
		d = buf_detach(&sec[k], &l);
		import_mig_file(im, m, k ? "down.sql" : "up.sql", d, l, rel);
	}
}

int import_goose(struct import *im)
{
	struct strlist names = { NULL, 0, 0 };
	size_t i;

	if (import_list(im, "", &names) < 0)
		return -1;
	for (i = 0; i < names.n; i++) {
		const char *n = names.items[i], *us = strchr(n, '_'), *dot = strrchr(n, '.');
		size_t vlen = us ? (size_t)(us - n) : 0;
		struct buf b = BUF_INIT;
		char *version, *slug;
		struct import_mig *m;

		if (!us || !dot || dot < us || !import_digits(n, vlen) ||
		    (strcmp(dot, ".sql") && strcmp(dot, ".go"))) {
			import_report(im, n, IMPORT_NOTE, "not a goose migration ({version}_{name}.sql); left alone");
			continue;
		}
		version = xstrndup(n, vlen);
		slug = import_slug(us + 1, (size_t)(dot - us - 1));
		m = import_mig_get(im, version, slug, n);
		if (!strcmp(dot, ".go")) {
			import_count(im, "Go migrations", 1, 0);
			import_mig_report(im, m, n, IMPORT_ERROR,
					  "a Go migration: cairn runs SQL only; rewrite it as SQL, or --skip %s",
					  version);
		} else if (import_read_file(im, n, &b) < 0) {
			import_mig_report(im, m, n, IMPORT_ERROR, "%s", cairn_error_last());
		} else {
			import_count(im, "migration files", 1, 1);
			convert(im, m, n, b.ptr ? b.ptr : "", b.len);
			strlist_push(&im->consumed, n);
		}
		buf_release(&b);
		free(version);
		free(slug);
	}
	strlist_release(&names);
	return 0;
}
