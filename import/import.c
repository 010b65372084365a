/* The importer's core: the tool table, the helpers each reader builds
 * migrations with, the steps every tool shares (transaction wrappers,
 * non-transactional statements, placeholders, --skip), and writing. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/error.h"
#include "../lib/toolsum.h"
#include "../lib/util.h"
#include "import-int.h"

const char *const import_tools[] = {
	"golang-migrate", "dbmate", "flyway", "goose", "sqitch", "pop", "diesel", "prisma", NULL,
};

static const struct {
	const char *name;
	import_reader read;
	const char *dir; /* the tool's default directory */
} tools[] = {
	{ "golang-migrate", import_golang_migrate, "migrations" },
	{ "dbmate", import_dbmate, "db/migrations" },
	{ "flyway", import_flyway, "sql" },
	{ "goose", import_goose, "migrations" },
	{ "sqitch", import_sqitch, "." },
	{ "pop", import_pop, "migrations" },
	{ "diesel", import_diesel, "migrations" },
	{ "prisma", import_prisma, "prisma/migrations" },
};

static void report_v(struct import *im, const char *file, enum import_sev sev, const char *fmt,
		     va_list ap)
{
	struct import_report *r;
	char msg[CAIRN_ERRMSG_MAX];

	if (vsnprintf(msg, sizeof(msg), fmt, ap) >= (int)sizeof(msg))
		memcpy(msg + sizeof(msg) - 4, "...", 4);
	ALLOC_GROW(im->reports, im->nreports + 1, im->reports_alloc);
	r = &im->reports[im->nreports++];
	r->file = xstrdup(file);
	r->sev = sev;
	r->text = xstrdup(msg);
}

void import_report(struct import *im, const char *file, enum import_sev sev, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	report_v(im, file, sev, fmt, ap);
	va_end(ap);
}

void import_mig_report(struct import *im, struct import_mig *m, const char *file,
		       enum import_sev sev, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	report_v(im, file, sev, fmt, ap);
	va_end(ap);
	if (sev == IMPORT_ERROR && m)
		m->failed = 1;
}

void import_count(struct import *im, const char *kind, unsigned in, unsigned out)
{
	size_t i;

	for (i = 0; i < im->ncounts; i++)
		if (!strcmp(im->counts[i].kind, kind))
			break;
	if (i == im->ncounts) {
		ALLOC_GROW(im->counts, im->ncounts + 1, im->counts_alloc);
		im->counts[i].kind = xstrdup(kind);
		im->counts[i].in = im->counts[i].out = 0;
		im->ncounts++;
	}
	im->counts[i].in += in;
	im->counts[i].out += out;
}

struct import_mig *import_mig_get(struct import *im, const char *version, const char *slug,
				  const char *origin)
{
	struct import_mig *m;
	size_t i;

	for (i = 0; i < im->n; i++)
		if (!strcmp(im->migs[i]->version, version))
			return im->migs[i];
	m = xcalloc(1, sizeof(*m));
	m->version = xstrdup(version);
	m->slug = xstrdup(slug);
	m->origin = xstrdup(origin);
	m->transaction = 1;
	ALLOC_GROW(im->migs, im->n + 1, im->alloc);
	im->migs[im->n++] = m;
	return m;
}

const struct import_file *import_mig_find(const struct import_mig *m, const char *name)
{
	size_t i;

	for (i = 0; i < m->nfiles; i++)
		if (!strcmp(m->files[i].name, name))
			return &m->files[i];
	return NULL;
}

void import_mig_file(struct import *im, struct import_mig *m, const char *name, char *data,
		     size_t len, const char *origin)
{
	struct import_file *f;

	if (import_mig_find(m, name)) {
		import_mig_report(im, m, origin, IMPORT_ERROR,
				  "a second %s for version %s (the first came from %s); versions must be unique",
				  name, m->version, m->origin);
		free(data);
		return;
	}
	ALLOC_GROW(m->files, m->nfiles + 1, m->files_alloc);
	f = &m->files[m->nfiles++];
	f->name = xstrdup(name);
	f->data = data;
	f->len = len;
	f->origin = xstrdup(origin);
	f->kind = NULL;
}

struct import_file *import_take(struct import *im, struct import_mig *m, const char *rel,
				const char *name, const char *kind)
{
	struct buf b = BUF_INIT;
	size_t len, before = m->nfiles;
	char *data;

	import_count(im, kind, 1, 0);
	if (import_read_file(im, rel, &b) < 0) {
		import_mig_report(im, m, rel, IMPORT_ERROR, "%s", cairn_error_last());
		buf_release(&b);
		return NULL;
	}
	if (!b.ptr)
		buf_puts(&b, "");
	data = buf_detach(&b, &len);
	import_mig_file(im, m, name, data, len, rel);
	if (m->nfiles == before)
		return NULL;
	import_count(im, kind, 0, 1);
	strlist_push(&im->consumed, rel);
	m->files[m->nfiles - 1].kind = kind;
	return &m->files[m->nfiles - 1];
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int import_list(struct import *im, const char *sub, struct strlist *out)
{
	char *path = *sub ? path_join(im->dir, sub) : xstrdup(im->dir);
	DIR *d = opendir(path);
	struct dirent *e;

	if (!d) {
		cairn_error_set("cannot read '%s': %s", path, strerror(errno));
		free(path);
		return -1;
	}
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			strlist_push(out, e->d_name);
	closedir(d);
	free(path);
	if (out->n)
		qsort(out->items, out->n, sizeof(*out->items), cmp_str);
	return 0;
}

int import_read_file(struct import *im, const char *rel, struct buf *out)
{
	char *path = path_join(im->dir, rel);
	int r = read_file(path, IMPORT_MAX_FILE, out);

	free(path);
	return r;
}

int import_mig_notx(struct import_mig *m, const char *driver)
{
	if (!m->transaction)
		return 0;
	if (!driver) {
		m->transaction = 0;
		return 1;
	}
	if (strlist_has(&m->notx_drivers, driver))
		return 0;
	strlist_push(&m->notx_drivers, driver);
	return 1;
}

char *import_file_driver(const char *name)
{
	const char *a = strchr(name, '.'), *b = strrchr(name, '.');

	return a && b && a < b ? xstrndup(a + 1, (size_t)(b - a - 1)) : NULL;
}

char *import_slug(const char *name, size_t len)
{
	char *s = xmalloc(len + 2), *o = s;
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		if (isalnum(c) || c == '_' || c == '-')
			*o++ = (char)tolower(c);
		else if (o > s && o[-1] != '_')
			*o++ = '_';
	}
	while (o > s && o[-1] == '_')
		o--;
	if (o == s)
		*o++ = 'x';
	*o = '\0';
	return s;
}

int import_digits(const char *s, size_t len)
{
	return len > 0 && strspn(s, "0123456789") >= len;
}

/* Named by --skip: its version, its cairn name, or its source file. */
static int skipped(const struct import_opts *o, const struct import_mig *m)
{
	char *name;
	int hit;

	if (!o->skip)
		return 0;
	name = xasprintf("%s_%s", m->version, m->slug);
	hit = strlist_has(o->skip, m->version) || strlist_has(o->skip, name) ||
	      strlist_has(o->skip, m->origin);
	free(name);
	return hit;
}

/* up.sql, up.postgres.sql, down...: a script cairn runs. */
static int is_script(const char *name)
{
	return (starts_with(name, "up.") || starts_with(name, "down.")) && ends_with(name, ".sql");
}

/* A script that opens and commits its own transaction: cut the two
 * statements out with --strip-transaction-wrappers, else stop. 1 when cut. */
static int wrapper_step(struct import *im, const struct import_opts *o, struct import_mig *m,
			struct import_file *f)
{
	size_t bs, be, cs, ce;
	struct buf b = BUF_INIT;

	if (!sql_wrapped(f->data, f->len, import_file_dialect(f->name), &bs, &be, &cs, &ce))
		return 0;
	if (!o->strip_wrappers) {
		import_mig_report(im, m, f->origin, IMPORT_ERROR,
				  "%s of %s_%s wraps itself in BEGIN ... COMMIT, which cannot run inside cairn's own transaction; rerun with --strip-transaction-wrappers to remove the two statements, or --skip %s",
				  f->name, m->version, m->slug, m->version);
		return 0;
	}
	buf_put(&b, f->data, bs);
	buf_put(&b, f->data + be, cs - be);
	buf_put(&b, f->data + ce, f->len - ce);
	free(f->data);
	f->data = buf_detach(&b, &f->len);
	import_count(im, "transaction wrappers (BEGIN/COMMIT)", 1, 0);
	return 1;
}

/* The wrappers are cut from the scripts of m that had them (cut[j]). A
 * migration the tool marked non-transactional (dbmate's transaction:false,
 * goose's NO TRANSACTION) only so that its scripts could open their own
 * transaction, every script wrapped, is transactional again: cairn's
 * transaction gives the all-or-nothing the wrappers gave. Otherwise it stays
 * as marked, and the report says the statements then commit one by one. */
static void wrapper_report(struct import *im, struct import_mig *m, const unsigned char *cut)
{
	size_t j, scripts = 0, wrapped = 0;

	for (j = 0; j < m->nfiles; j++)
		if (is_script(m->files[j].name)) {
			scripts++;
			wrapped += cut[j];
		}
	if (!wrapped)
		return;
	if (!m->transaction && !m->notx_drivers.n && wrapped == scripts) {
		m->transaction = 1;
		import_report(im, m->origin, IMPORT_MAPPED,
			      "every script wrapped itself in BEGIN ... COMMIT, the reason it was marked non-transactional: runs in cairn's transaction (no transaction: false)");
	}
	for (j = 0; j < m->nfiles; j++) {
		const struct import_file *f = &m->files[j];
		char *drv;

		if (!cut[j])
			continue;
		drv = import_file_driver(f->name);
		if (m->transaction && !(drv && strlist_has(&m->notx_drivers, drv)))
			import_report(im, f->origin, IMPORT_MAPPED,
				      "%s: its own BEGIN and COMMIT removed (--strip-transaction-wrappers); cairn runs it in a transaction",
				      f->name);
		else
			import_report(im, f->origin, IMPORT_NOTE,
				      "%s: its own BEGIN and COMMIT removed (--strip-transaction-wrappers), and the migration stays non-transactional as the tool marked it: its statements commit one by one, so a failure part way leaves the earlier ones applied; split it, or --skip %s",
				      f->name, m->version);
		free(drv);
	}
}

/* The tool's checksum of the up script as the tool read it, before any
 * step here rewrites it: what its history table holds (adopt). */
static void original_sum(struct import *im, struct import_mig *m)
{
	enum toolsum kind = toolsum_of(im->tool);
	size_t j;

	for (j = 0; kind != TOOLSUM_NONE && j < m->nfiles; j++) {
		const struct import_file *f = &m->files[j];

		if (strcmp(f->name, "up.sql"))
			continue;
		m->orig_sum = toolsum(kind, f->data, f->len);
		m->orig_file = xstrdup(f->origin);
		return;
	}
}

/* A migration left out: its files do not go out. */
static void uncount(struct import *im, const struct import_mig *m)
{
	size_t j, k;

	for (j = 0; j < m->nfiles; j++)
		for (k = 0; m->files[j].kind && k < im->ncounts; k++)
			if (!strcmp(im->counts[k].kind, m->files[j].kind) && im->counts[k].out)
				im->counts[k].out--;
}

/* The steps every tool shares, once its reader has built the migrations. */
static void import_finish(struct import *im, const struct import_opts *o)
{
	size_t i, j;

	for (i = 0; i < im->n; i++) {
		struct import_mig *m = im->migs[i];
		int has_down = 0, has_up = 0;
		unsigned char *cut;

		if (skipped(o, m)) {
			m->skipped = 1;
			import_report(im, m->origin, IMPORT_NOTE, "skipped (--skip): not imported");
			uncount(im, m);
			continue;
		}
		original_sum(im, m);
		cut = xcalloc(m->nfiles + 1, 1);
		for (j = 0; j < m->nfiles; j++)
			if (is_script(m->files[j].name))
				cut[j] = (unsigned char)wrapper_step(im, o, m, &m->files[j]);
		wrapper_report(im, m, cut);
		free(cut);
		for (j = 0; j < m->nfiles; j++) {
			struct import_file *f = &m->files[j];
			char w[40];

			if (!is_script(f->name))
				continue;
			has_up |= starts_with(f->name, "up.");
			has_down |= starts_with(f->name, "down.");
			if (sql_notx_statement(f->data, f->len, import_file_dialect(f->name), w)) {
				char *drv = import_file_driver(f->name);

				if (import_mig_notx(m, drv))
					import_report(im, f->origin, IMPORT_MAPPED,
						      "%s holds %s, which cannot run in a transaction: transaction: %s%s%s",
						      f->name, w, drv ? "{" : "false", drv ? drv : "",
						      drv ? ": false}" : "");
				free(drv);
			}
		}
		if (m->failed)
			continue; /* its error says why; the rest would only repeat it */
		if (!has_up)
			import_mig_report(im, m, m->origin, IMPORT_ERROR,
					  "no up script for version %s", m->version);
		for (j = 0; j < m->nfiles && !m->noop; j++) {
			const struct import_file *f = &m->files[j];

			if (starts_with(f->name, "up.") && sql_only_comments(f->data, f->len)) {
				m->noop = 1;
				import_count(im, "empty placeholders (noop: true)", 1, 1);
				import_report(im, f->origin, IMPORT_MAPPED,
					      "%s is empty or comments only: noop: true", f->name);
			}
		}
		for (j = 0; j < m->nfiles && !m->noop && !m->irreversible; j++) {
			struct import_file *f = &m->files[j];

			if (strcmp(f->name, "down.sql") || !sql_only_comments(f->data, f->len))
				continue;
			/* an empty down changes nothing: say so instead */
			import_report(im, f->origin, IMPORT_MAPPED,
				      "down.sql is empty or comments only: not written, irreversible: true");
			import_count(im, "empty down scripts (irreversible: true)", 1, 1);
			free(f->name);
			free(f->data);
			free(f->origin);
			memmove(f, f + 1, (m->nfiles - j - 1) * sizeof(*f));
			m->nfiles--;
			m->irreversible = 1;
			has_down = 0;
		}
		if (!has_down && !m->irreversible) {
			m->irreversible = 1;
			import_count(im, "migrations without a down (irreversible: true)", 1, 1);
		}
	}
	for (i = 0; i < im->n; i++)
		if (im->migs[i]->failed && !im->migs[i]->skipped) {
			im->errors++;
			uncount(im, im->migs[i]);
		}
}

int import_read(struct import **out, const struct import_opts *o)
{
	struct import *im;
	size_t t;

	*out = NULL;
	for (t = 0; t < sizeof(tools) / sizeof(tools[0]); t++)
		if (!strcmp(tools[t].name, o->from))
			break;
	if (t == sizeof(tools) / sizeof(tools[0])) {
		const char *hint = did_you_mean(o->from, import_tools);

		cairn_error_set("unknown tool '%s'%s%s%s", o->from, hint ? "; did you mean '" : "",
				hint ? hint : " (known: golang-migrate, dbmate, flyway, goose, sqitch, pop, diesel, prisma)",
				hint ? "'?" : "");
		return -1;
	}
	im = xcalloc(1, sizeof(*im));
	im->tool = tools[t].name;
	im->skip = o->skip;
	if (o->dir)
		im->dir = xstrdup(o->dir);
	else if (tools[t].read == import_flyway && (im->dir = import_flyway_dir()))
		; /* flyway.conf's or flyway.toml's first filesystem: location */
	else
		im->dir = xstrdup(tools[t].dir);
	if (!is_dir(im->dir)) {
		cairn_error_set("no directory '%s' to import from (%s's default is %s; name another as DIR)",
				im->dir, im->tool, tools[t].dir);
		import_free(im);
		return -1;
	}
	if (tools[t].read(im) < 0) {
		import_free(im);
		return -1;
	}
	import_finish(im, o);
	*out = im;
	return 0;
}
