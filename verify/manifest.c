#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/callbacks.h"
#include "../lib/error.h"
#include "../lib/pool.h"
#include "../lib/sha256.h"
#include "../lib/util.h"
#include "../lib/yaml.h"
#include "archive.h"
#include "manifest.h"
#include "manifest-int.h"

/* ---- SHA256SUMS ---- */

/* Whether e's digest is the one hex (64 lower-case hex digits) spells. */
int sums_hex_eq(const struct sums_entry *e, const char *hex)
{
	char have[65];

	hex_encode(e->sha, 32, have);
	return !memcmp(have, hex, 64);
}

void sums_add(struct sums *s, const char *path, const char *hex)
{
	ALLOC_GROW(s->items, s->n + 1, s->alloc);
	s->items[s->n].path = xstrdup(path);
	(void)hex_decode(hex, 32, s->items[s->n].sha); /* the caller hashed it */
	s->n++;
}

void sums_from_files(struct sums *out, const char *manifest_hex,
		     const struct bundle_file *const *files, size_t n)
{
	static char manifest_path[] = "manifest.yaml";
	size_t i;

	memset(out, 0, sizeof(*out));
	out->items = xcalloc(n + 1, sizeof(*out->items));
	out->n = out->alloc = n + 1;
	out->borrowed = 1;
	out->items[0].path = manifest_path;
	/* the id is sha256_hex's; the files' digests were decoded by the parse */
	(void)hex_decode(manifest_hex, 32, out->items[0].sha);
	for (i = 0; i < n; i++) {
		out->items[i + 1].path = files[i]->member;
		memcpy(out->items[i + 1].sha, files[i]->sha, 32);
	}
}

static int cmp_sums(const void *a, const void *b)
{
	return strcmp(((const struct sums_entry *)a)->path, ((const struct sums_entry *)b)->path);
}

void sums_sort(struct sums *s)
{
	if (s->n)
		qsort(s->items, s->n, sizeof(*s->items), cmp_sums);
}

void sums_release(struct sums *s)
{
	size_t i;

	if (!s)
		return;
	if (s->pool) {
		free(s->pool); /* the entries are in it */
	} else {
		if (!s->borrowed)
			for (i = 0; i < s->n; i++)
				free(s->items[i].path);
		free(s->items);
	}
	memset(s, 0, sizeof(*s));
}

/* An entry and its path take at most the bytes of their line: a line is
 * at least 68 bytes (64 hex, two spaces, a path, a newline), its path
 * and NUL 66 fewer. So one block the text's size holds them all, the
 * entries from its start and the paths from its end, whatever the lines
 * turn out to be, and the two never meet. */
_Static_assert(sizeof(struct sums_entry) <= 66, "an entry outgrows its line");

static int sums_parser_fail(struct sums_parser *sp)
{
	sums_parser_abandon(sp);
	sp->failed = 1;
	return -1;
}

/* One line, its newline cut off: checked and added. */
static int sums_line(struct sums_parser *sp, const char *l, size_t ll)
{
	struct sums *out = sp->out;
	char *path;

	sp->line++;
	if (ll < 67 || hex_decode(l, 32, out->items[out->n].sha) < 0 || l[64] != ' ' ||
	    l[65] != ' ') {
		cairn_error_set("SHA256SUMS:%d: expected '<64 lower-case hex digits>  <path>'",
				sp->line);
		return -1;
	}
	sp->paths += ll - 66 + 1;
	path = out->pool + sp->size - sp->paths;
	memcpy(path, l + 66, ll - 66);
	path[ll - 66] = '\0';
	if (memchr(path, '\0', ll - 66) || !member_path_safe(path)) {
		cairn_error_set("SHA256SUMS:%d: unsafe path", sp->line);
		return -1;
	}
	if (out->n && strcmp(out->items[out->n - 1].path, path) >= 0) {
		cairn_error_set("SHA256SUMS:%d: '%s' %s", sp->line, path,
				strcmp(out->items[out->n - 1].path, path) ? "out of order" : "listed twice");
		return -1;
	}
	out->items[out->n++].path = path;
	return 0;
}

void sums_parser_init(struct sums_parser *sp, struct sums *out, size_t size)
{
	memset(sp, 0, sizeof(*sp));
	memset(out, 0, sizeof(*out));
	sp->out = out;
	sp->size = size;
	out->pool = xmalloc(size ? size : 1);
	mem_prefault(out->pool, size);
	out->items = (struct sums_entry *)(void *)out->pool;
	out->alloc = size / 68;
}

int sums_parser_feed(struct sums_parser *sp, const char *data, size_t len)
{
	const char *end = data + len, *nl;

	if (sp->failed)
		return -1;
	if (len > sp->size - sp->fed) {
		cairn_error_set("SHA256SUMS: more than the %zu bytes its header gave", sp->size);
		return sums_parser_fail(sp);
	}
	sp->fed += len;
	if (sp->carry_len) {
		/* the rest of the line the last slice cut */
		size_t take;

		nl = memchr(data, '\n', len);
		take = nl ? (size_t)(nl - data) : len;
		ALLOC_GROW(sp->carry, sp->carry_len + take, sp->carry_alloc);
		memcpy(sp->carry + sp->carry_len, data, take);
		sp->carry_len += take;
		if (!nl)
			return 0;
		if (sums_line(sp, sp->carry, sp->carry_len) < 0)
			return sums_parser_fail(sp);
		sp->carry_len = 0;
		data = nl + 1;
	}
	while (data < end && (nl = memchr(data, '\n', (size_t)(end - data)))) {
		if (sums_line(sp, data, (size_t)(nl - data)) < 0)
			return sums_parser_fail(sp);
		data = nl + 1;
	}
	if (data < end) {
		ALLOC_GROW(sp->carry, (size_t)(end - data), sp->carry_alloc);
		memcpy(sp->carry, data, (size_t)(end - data));
		sp->carry_len = (size_t)(end - data);
	}
	return 0;
}

/* The paths moved down to follow the entries, and the block cut to them:
 * a fifth of the text at 20,000 migrations goes back to the heap. */
static void sums_compact(struct sums_parser *sp)
{
	struct sums *out = sp->out;
	size_t ib = out->n * sizeof(*out->items), from = sp->size - sp->paths, i;
	uintptr_t was = (uintptr_t)out->pool;
	char *block;

	for (i = 0; i < out->n; i++)
		out->items[i].path -= from - ib;
	memmove(out->pool + ib, out->pool + from, sp->paths);
	block = realloc(out->pool, ib + sp->paths ? ib + sp->paths : 1);
	if (block && block != out->pool) {
		/* moved (glibc cuts in place): the entries were copied with
		 * it, their paths still point into the old block */
		out->pool = block;
		out->items = (struct sums_entry *)(void *)block;
		for (i = 0; i < out->n; i++)
			out->items[i].path = block + ((uintptr_t)out->items[i].path - was);
	}
	out->alloc = out->n;
}

int sums_parser_finish(struct sums_parser *sp)
{
	if (sp->failed)
		return -1;
	if (sp->carry_len) {
		cairn_error_set("SHA256SUMS:%d: line does not end with a newline", sp->line + 1);
		return sums_parser_fail(sp);
	}
	sums_compact(sp);
	free(sp->carry);
	sp->carry = NULL;
	sp->carry_len = sp->carry_alloc = 0;
	return 0;
}

void sums_parser_abandon(struct sums_parser *sp)
{
	free(sp->carry);
	sp->carry = NULL;
	sp->carry_len = sp->carry_alloc = 0;
	if (sp->out)
		sums_release(sp->out);
}

/* The whole text as one slice: the same parser as the stream's. */
int sums_parse(struct sums *out, const char *data, size_t len)
{
	struct sums_parser sp;

	sums_parser_init(&sp, out, len);
	if (sums_parser_feed(&sp, data, len) < 0)
		return -1;
	return sums_parser_finish(&sp);
}

int sums_format(const struct sums *s, struct buf *out)
{
	char hex[65];
	size_t i;

	for (i = 0; i < s->n; i++) {
		hex_encode(s->items[i].sha, 32, hex);
		if (buf_put(out, hex, 64) < 0 || buf_put(out, "  ", 2) < 0 ||
		    buf_puts(out, s->items[i].path) < 0 || buf_putc(out, '\n') < 0)
			return -1;
	}
	return 0;
}

void migration_checksum(const struct bundle_file *files, size_t n, char out[7 + 65])
{
	struct sha256_ctx c;
	size_t i;

	memcpy(out, "sha256:", 7);
	if (sha256_init(&c) < 0) {
		out[7] = '\0';
		return;
	}
	for (i = 0; i < n; i++) {
		/* one line, one update, instead of one EVP call for each of
		 * its four pieces */
		char line[64 + 2 + 512 + 1];
		size_t nl = strlen(files[i].name);

		hex_encode(files[i].sha, 32, line);
		if (nl > 512) { /* longer than a manifest allows: hashed in pieces */
			sha256_update(&c, line, 64);
			sha256_update(&c, "  ", 2);
			sha256_update(&c, files[i].name, nl);
			sha256_update(&c, "\n", 1);
			continue;
		}
		line[64] = line[65] = ' ';
		memcpy(line + 66, files[i].name, nl);
		line[66 + nl] = '\n';
		sha256_update(&c, line, 66 + nl + 1);
	}
	if (sha256_final_hex(&c, out + 7) < 0)
		out[7] = '\0';
}

/* ---- manifest.yaml: writing ---- */

static int put_kv(struct buf *b, const char *indent, const char *key, const char *value)
{
	if (buf_printf(b, "%s%s: ", indent, key) < 0 || yaml_put_scalar(b, value ? value : "") < 0)
		return -1;
	return buf_putc(b, '\n');
}

static int put_list(struct buf *b, const char *indent, const char *key, char **items, size_t n)
{
	size_t i;

	if (buf_printf(b, "%s%s: [", indent, key) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		if ((i && buf_puts(b, ", ") < 0) || yaml_put_scalar(b, items[i]) < 0)
			return -1;
	}
	return buf_puts(b, "]\n");
}

static const char *yesno(int v)
{
	return v ? "true" : "false";
}

/* batch: {...} (issue #22), only the keys set and only when one is, so a
 * bundle without throttling keeps the bytes (and id) it always had. */
static int put_throttle(struct buf *out, const struct batch_throttle *t)
{
	if (!batch_throttle_set(t))
		return 0;
	return buf_puts(out, "    batch:\n") < 0 ||
	       (t->size && buf_printf(out, "      size: %llu\n", t->size) < 0) ||
	       (t->pause_ms && buf_printf(out, "      pause_ms: %llu\n", t->pause_ms) < 0) ||
	       (t->max_duration_ms &&
		buf_printf(out, "      max_duration_ms: %llu\n", t->max_duration_ms) < 0) ||
	       (t->max_lag_ms &&
		buf_printf(out, "      max_replication_lag_ms: %llu\n", t->max_lag_ms) < 0) ||
	       (t->max_lag_bytes &&
		buf_printf(out, "      max_replication_lag_bytes: %llu\n", t->max_lag_bytes) < 0)
		       ? -1 : 0;
}

int manifest_format(const struct bundle *b, struct buf *out)
{
	size_t i, j;

	if (buf_puts(out, b->ncallback_waivers ? "format: " MANIFEST_FORMAT_CB_WAIVERS "\n"
			  : b->ncallbacks	  ? "format: " MANIFEST_FORMAT_CALLBACKS "\n"
						  : "format: " MANIFEST_FORMAT "\n") < 0 ||
	    put_kv(out, "", "name", b->name) < 0 || put_kv(out, "", "project", b->project) < 0 ||
	    buf_puts(out, "source:\n") < 0 ||
	    put_kv(out, "  ", "repository", b->source_repo) < 0 ||
	    put_kv(out, "  ", "commit", b->source_commit) < 0 ||
	    put_kv(out, "  ", "tree", b->source_tree) < 0 ||
	    put_kv(out, "  ", "path", b->source_path) < 0 ||
	    put_kv(out, "  ", "ref", b->source_ref) < 0 || buf_puts(out, "build:\n") < 0 ||
	    put_kv(out, "  ", "time", b->build_time) < 0 ||
	    put_kv(out, "  ", "tool", b->tool_version) < 0 ||
	    put_list(out, "", "drivers", b->drivers, b->ndrivers) < 0 ||
	    buf_printf(out, "limits:\n  max_file_size: %llu\n  max_data_size: %llu\n",
		       b->max_file_size, b->max_data_size) < 0 ||
	    buf_puts(out, b->nmigs ? "migrations:\n" : "migrations: []\n") < 0)
		return -1;
	for (i = 0; i < b->nmigs; i++) {
		const struct bundle_migration *m = &b->migs[i];

		if (put_kv(out, "  - ", "version", m->version) < 0 ||
		    put_kv(out, "    ", "name", m->name) < 0 ||
		    put_kv(out, "    ", "description", m->description) < 0 ||
		    put_list(out, "    ", "requires", m->requires, m->nrequires) < 0 ||
		    buf_printf(out, "    transaction: %s\n", yesno(m->transaction)) < 0 ||
		    (m->nno_transaction &&
		     put_list(out, "    ", "no_transaction", m->no_transaction, m->nno_transaction) < 0) ||
		    buf_printf(out, "    irreversible: %s\n    destructive: %s\n"
			       "    kind: %s\n", yesno(m->irreversible),
			       yesno(m->destructive), m->batch ? "batch" : "schema") < 0 ||
		    (m->contract && buf_puts(out, "    phase: contract\n") < 0) ||
		    put_list(out, "    ", "environments", m->environments, m->nenvironments) < 0 ||
		    buf_printf(out, "    timeout_ms: %llu\n    lock_timeout_ms: %llu\n", m->timeout_ms,
			       m->lock_timeout_ms) < 0 ||
		    put_throttle(out, m->throttle) < 0 ||
		    put_kv(out, "    ", "checksum", m->checksum) < 0)
			return -1;
		if (m->prov_commit || m->prov_author || m->prov_date) {
			if (buf_puts(out, "    provenance:\n") < 0 ||
			    (m->prov_commit && put_kv(out, "      ", "commit", m->prov_commit) < 0) ||
			    (m->prov_author && put_kv(out, "      ", "author", m->prov_author) < 0) ||
			    (m->prov_date && put_kv(out, "      ", "date", m->prov_date) < 0))
				return -1;
		}
		if (buf_puts(out, m->nfiles ? "    files:\n" : "    files: []\n") < 0)
			return -1;
		for (j = 0; j < m->nfiles; j++) {
			char hex[65];

			if (put_kv(out, "      - ", "name", m->files[j].name) < 0 ||
			    buf_printf(out, "        sha256: %s\n        size: %llu\n",
				       bundle_file_hex(&m->files[j], hex), m->files[j].size) < 0)
				return -1;
		}
		if (manifest_waivers_format(m, out) < 0)
			return -1;
	}
	/* format 2 only: the SQL callbacks, after the migrations */
	if (b->ncallbacks && buf_puts(out, "callbacks:\n") < 0)
		return -1;
	for (i = 0; i < b->ncallbacks; i++) {
		char hex[65];

		if (put_kv(out, "  - ", "name", b->callbacks[i].name) < 0 ||
		    buf_printf(out, "    sha256: %s\n    size: %llu\n",
			       bundle_file_hex(&b->callbacks[i], hex), b->callbacks[i].size) < 0)
			return -1;
	}
	/* format 3 only: what the callbacks waived, last */
	return manifest_callback_waivers_format(b, out);
}

/* ---- manifest.yaml: parsing ---- */

static int bad(const struct ynode *n, const char *what)
{
	cairn_error_set("manifest.yaml:%d:%d: %s", n ? n->line : 0, n ? n->col : 0, what);
	return -1;
}

/* Every key of map must be one of keys. */
static int only_keys(const struct ynode *map, const char *const *keys)
{
	size_t i, j;

	for (i = 0; i < map->n; i++) {
		const struct ynode *k = ynode_key(map, i);

		for (j = 0; keys[j]; j++)
			if (k->type == YNODE_SCALAR && !strcmp(k->str, keys[j]))
				break;
		if (!keys[j]) {
			cairn_error_set("manifest.yaml:%d:%d: unknown key '%s'", k->line, k->col,
					k->type == YNODE_SCALAR ? k->str : "?");
			return -1;
		}
	}
	return 0;
}

static int get_str(const struct ynode *map, const char *key, int optional, char **out)
{
	const struct ynode *v = ynode_get(map, key);

	*out = NULL;
	if (!v) {
		if (optional)
			return 0;
		cairn_error_set("manifest.yaml:%d:%d: '%s' is missing", map->line, map->col, key);
		return -1;
	}
	if (v->type != YNODE_SCALAR || memchr(v->str, '\0', v->len)) {
		cairn_error_set("manifest.yaml:%d:%d: '%s' must be a string", v->line, v->col, key);
		return -1;
	}
	*out = xstrdup(v->str);
	return 0;
}

static int get_bool(const struct ynode *map, const char *key, unsigned char *out)
{
	const struct ynode *v = ynode_get(map, key);
	int on = 0;

	if (v && ynode_bool(v, &on) == 0)
		*out = (unsigned char)on;
	else {
		cairn_error_set("manifest.yaml:%d:%d: '%s' must be true or false",
				v ? v->line : map->line, v ? v->col : map->col, key);
		return -1;
	}
	return 0;
}

static int get_uint(const struct ynode *map, const char *key, unsigned long long *out)
{
	const struct ynode *v = ynode_get(map, key);

	if (!v || ynode_uint(v, out) < 0) {
		cairn_error_set("manifest.yaml:%d:%d: '%s' must be a whole number",
				v ? v->line : map->line, v ? v->col : map->col, key);
		return -1;
	}
	return 0;
}

static int get_list(const struct ynode *map, const char *key, char ***out, size_t *n)
{
	const struct ynode *v = ynode_get(map, key);
	size_t i;

	*out = NULL;
	*n = 0;
	if (!v || v->type != YNODE_SEQ) {
		cairn_error_set("manifest.yaml:%d:%d: '%s' must be a list of strings",
				v ? v->line : map->line, v ? v->col : map->col, key);
		return -1;
	}
	*out = xcalloc(v->n ? v->n : 1, sizeof(char *));
	for (i = 0; i < v->n; i++) {
		const struct ynode *it = v->items[i];

		if (it->type != YNODE_SCALAR || !it->len || memchr(it->str, '\0', it->len)) {
			cairn_error_set("manifest.yaml:%d:%d: '%s' must be a list of strings",
					it->line, it->col, key);
			return -1;
		}
		(*out)[(*n)++] = xstrdup(it->str);
	}
	return 0;
}

int digits_only(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return 0;
	return 1;
}

static int parse_file(struct bundle_migration *m, const struct ynode *n, struct bundle_file *f)
{
	static const char *const keys[] = { "name", "sha256", "size", NULL };
	char *hex = NULL;

	if (n->type != YNODE_MAP)
		return bad(n, "a file entry must be a mapping (name, sha256, size)");
	if (only_keys(n, keys) < 0 || get_str(n, "name", 0, &f->name) < 0 ||
	    get_str(n, "sha256", 0, &hex) < 0 || get_uint(n, "size", &f->size) < 0)
		goto fail;
	if (!member_path_safe(f->name) || strlen(f->name) > 512) {
		bad(n, "file name is not a safe relative path");
		goto fail;
	}
	/* 64 lower-case hex digits, decoded: what the other parser accepts */
	if (strlen(hex) != 64 || hex_decode(hex, 32, f->sha) < 0) {
		bad(ynode_get(n, "sha256"), "'sha256' must be 64 lower-case hex digits");
		goto fail;
	}
	f->member = xasprintf("migrations/%s/%s", m->name, f->name);
	free(hex);
	return 0;
fail:
	free(hex);
	return -1;
}

/* batch: {size, pause_ms, max_duration_ms, max_replication_lag_ms,
 * max_replication_lag_bytes}: each
 * optional but not 0 (the writer leaves an unset one out), at least one,
 * and only on a kind: batch migration. */
static int parse_throttle(struct bundle_migration *m, const struct ynode *n)
{
	static const char *const keys[] = { "size", "pause_ms", "max_duration_ms",
					    "max_replication_lag_ms", "max_replication_lag_bytes",
					    NULL };
	struct batch_throttle t = { 0 };
	unsigned long long *outs[] = { &t.size, &t.pause_ms, &t.max_duration_ms, &t.max_lag_ms,
				       &t.max_lag_bytes };
	size_t i;

	if (!n)
		return 0;
	if (!m->batch)
		return bad(n, "'batch' throttles a kind: batch migration only");
	if (n->type != YNODE_MAP || !n->n)
		return bad(n, "'batch' must be a mapping with one key or more");
	if (only_keys(n, keys) < 0)
		return -1;
	for (i = 0; keys[i]; i++) {
		if (!ynode_get(n, keys[i]))
			continue;
		if (get_uint(n, keys[i], outs[i]) < 0)
			return -1;
		if (!*outs[i])
			return bad(ynode_get(n, keys[i]), "a 'batch' key is left out when 0");
	}
	m->throttle = xmalloc(sizeof(t)); /* this path's strings are malloc'd too */
	*m->throttle = t;
	return 0;
}

static int parse_migration(struct bundle *b, size_t idx, const struct ynode *n)
{
	static const char *const keys[] = {
		"version", "name", "description", "requires", "transaction", "no_transaction",
		"irreversible",
		"destructive", "kind", "phase", "environments", "timeout_ms", "lock_timeout_ms",
		"batch", "checksum", "provenance", "files", "waivers", NULL,
	};
	static const char *const prov_keys[] = { "commit", "author", "date", NULL };
	struct bundle_migration *m = &b->migs[idx];
	const struct ynode *files, *prov, *kind, *phase;
	char want[7 + 65];
	size_t i;

	if (n->type != YNODE_MAP)
		return bad(n, "a migration entry must be a mapping");
	if (only_keys(n, keys) < 0 || get_str(n, "version", 0, &m->version) < 0 ||
	    get_str(n, "name", 0, &m->name) < 0 || get_str(n, "description", 0, &m->description) < 0 ||
	    get_list(n, "requires", &m->requires, &m->nrequires) < 0 ||
	    get_bool(n, "transaction", &m->transaction) < 0 ||
	    get_bool(n, "irreversible", &m->irreversible) < 0 ||
	    get_bool(n, "destructive", &m->destructive) < 0 ||
	    get_list(n, "environments", &m->environments, &m->nenvironments) < 0 ||
	    (ynode_get(n, "no_transaction") &&
	     get_list(n, "no_transaction", &m->no_transaction, &m->nno_transaction) < 0) ||
	    get_uint(n, "timeout_ms", &m->timeout_ms) < 0 ||
	    get_uint(n, "lock_timeout_ms", &m->lock_timeout_ms) < 0 ||
	    get_str(n, "checksum", 0, &m->checksum) < 0)
		return -1;
	kind = ynode_get(n, "kind");
	if (!kind || kind->type != YNODE_SCALAR ||
	    (strcmp(kind->str, "schema") && strcmp(kind->str, "batch")))
		return bad(kind ? kind : n, "'kind' must be schema or batch");
	m->batch = !strcmp(kind->str, "batch");
	phase = ynode_get(n, "phase");
	if (phase && (phase->type != YNODE_SCALAR || strcmp(phase->str, "contract")))
		return bad(phase, "'phase' must be contract (expand is written as no phase)");
	m->contract = phase != NULL;
	if (parse_throttle(m, ynode_get(n, "batch")) < 0)
		return -1;
	if (!digits_only(m->version) || strlen(m->version) > 32)
		return bad(ynode_get(n, "version"), "'version' must be digits");
	if (strncmp(m->name, m->version, strlen(m->version)) || m->name[strlen(m->version)] != '_' ||
	    !member_path_safe(m->name) || strchr(m->name, '/') || strlen(m->name) > 255)
		return bad(ynode_get(n, "name"), "'name' must be the migration's directory, VERSION_slug");
	prov = ynode_get(n, "provenance");
	if (prov) {
		if (prov->type != YNODE_MAP)
			return bad(prov, "'provenance' must be a mapping (commit, author, date)");
		if (only_keys(prov, prov_keys) < 0 || get_str(prov, "commit", 1, &m->prov_commit) < 0 ||
		    get_str(prov, "author", 1, &m->prov_author) < 0 ||
		    get_str(prov, "date", 1, &m->prov_date) < 0)
			return -1;
	}
	files = ynode_get(n, "files");
	if (!files || files->type != YNODE_SEQ)
		return bad(files ? files : n, "'files' must be a list");
	m->files = xcalloc(files->n ? files->n : 1, sizeof(*m->files));
	for (i = 0; i < files->n; i++) {
		if (parse_file(m, files->items[i], &m->files[i]) < 0) {
			m->nfiles = i + 1;
			return -1;
		}
		m->nfiles = i + 1;
		if (i && strcmp(m->files[i - 1].name, m->files[i].name) >= 0)
			return bad(files->items[i], "files must be sorted by name, each listed once");
	}
	migration_checksum(m->files, m->nfiles, want);
	if (strcmp(want, m->checksum))
		return bad(ynode_get(n, "checksum"),
			   "'checksum' does not match the migration's files");
	if (ynode_get(n, "waivers") && manifest_waivers_yaml(m, ynode_get(n, "waivers")) < 0)
		return -1;
	return 0;
}

struct name_at {
	const char *name;
	size_t at;
};

static int cmp_name_at(const void *a, const void *b)
{
	return strcmp(((const struct name_at *)a)->name, ((const struct name_at *)b)->name);
}

/* Names are unique, and what a migration requires is listed before it (the
 * list is in apply order). Sorted, so thousands of migrations stay cheap. */
int check_order(const struct bundle *b, const struct ynode *migs)
{
	struct name_at *idx = xcalloc(b->nmigs ? b->nmigs : 1, sizeof(*idx));
	size_t i, j;
	int rc = -1;

	for (i = 0; i < b->nmigs; i++) {
		idx[i].name = b->migs[i].name;
		idx[i].at = i;
	}
	/* cairn's own bundles list names in sorted order already (they start
	 * with the version): then the sort is a pass of comparisons */
	for (i = 1; i < b->nmigs && strcmp(idx[i - 1].name, idx[i].name) < 0; i++)
		;
	if (i < b->nmigs)
		qsort(idx, b->nmigs, sizeof(*idx), cmp_name_at);
	for (i = 1; i < b->nmigs; i++) {
		if (!strcmp(idx[i - 1].name, idx[i].name)) {
			size_t later = idx[i].at > idx[i - 1].at ? idx[i].at : idx[i - 1].at;

			bad(migs ? ynode_get(migs->items[later], "name") : NULL, "migration listed twice");
			goto out;
		}
	}
	for (i = 0; i < b->nmigs; i++) {
		for (j = 0; j < b->migs[i].nrequires; j++) {
			struct name_at key = { b->migs[i].requires[j], 0 };
			const struct name_at *hit = bsearch(&key, idx, b->nmigs, sizeof(*idx), cmp_name_at);

			if (!hit || hit->at >= i) {
				bad(migs ? ynode_get(migs->items[i], "requires") : NULL,
				    "requires a migration that is not listed before it");
				goto out;
			}
		}
	}
	rc = 0;
out:
	free(idx);
	return rc;
}

/* callbacks: formats 2 and 3 have a non-empty list, format 1 none; each
 * entry a file (name, sha256, size) of migrations/callbacks/ with a
 * callback's name (lib/callbacks.h), sorted, each once. callback_waivers:
 * format 3 has a non-empty list, the others none. */
static int parse_callbacks(struct bundle *b, const struct ynode *root, int format)
{
	const struct ynode *cbs = ynode_get(root, "callbacks");
	const struct ynode *cbw = ynode_get(root, "callback_waivers");
	int format2 = format >= 2;
	struct bundle_migration dir;
	const char *driver;
	size_t i;

	if (format != 3 && cbw)
		return bad(cbw, "'callback_waivers' needs format " MANIFEST_FORMAT_CB_WAIVERS);
	if (!format2 && !cbs)
		return 0;
	if (!format2)
		return bad(cbs, "'callbacks' needs format " MANIFEST_FORMAT_CALLBACKS);
	if (!cbs || cbs->type != YNODE_SEQ || !cbs->n)
		return bad(cbs ? cbs : root, "format " MANIFEST_FORMAT_CALLBACKS " lists its "
			   "'callbacks': a non-empty list");
	memset(&dir, 0, sizeof(dir));
	dir.name = CALLBACK_DIR;
	b->callbacks = xcalloc(cbs->n, sizeof(*b->callbacks));
	for (i = 0; i < cbs->n; i++) {
		b->ncallbacks = i + 1;
		if (parse_file(&dir, cbs->items[i], &b->callbacks[i]) < 0)
			return -1;
		if (callback_parse(b->callbacks[i].name, &driver) < 0)
			return bad(cbs->items[i], "not a callback's name (before_migrate, before_each, "
				   "after_each, after_migrate, on_error, before_rollback, "
				   "before_each_rollback, after_each_rollback, after_rollback; .sql "
				   "or .DRIVER.sql; a newer cairn made this bundle?)");
		if (i && strcmp(b->callbacks[i - 1].name, b->callbacks[i].name) >= 0)
			return bad(cbs->items[i], "callbacks must be sorted by name, each listed once");
	}
	if (format == 3 && !cbw)
		return bad(root, "format " MANIFEST_FORMAT_CB_WAIVERS " lists its "
			   "'callback_waivers': a non-empty list");
	return cbw ? manifest_callback_waivers_yaml(b, cbw) : 0;
}

int manifest_parse_yaml(struct bundle *b, const char *data, size_t len)
{
	static const char *const keys[] = {
		"format", "name", "project", "source", "build", "drivers", "limits", "migrations",
		"callbacks", "callback_waivers", NULL,
	};
	static const char *const source_keys[] = { "repository", "commit", "tree", "path", "ref", NULL };
	static const char *const build_keys[] = { "time", "tool", NULL };
	static const char *const limit_keys[] = { "max_file_size", "max_data_size", NULL };
	struct ynode *root = NULL;
	const struct ynode *src, *bld, *lim, *migs;
	char *format = NULL;
	size_t i;
	int rc = -1;

	if (len > MANIFEST_MAX_SIZE) {
		cairn_error_set("manifest.yaml: %zu bytes, over the cap", len);
		return -1;
	}
	if (yaml_load_max(&root, data, len, "manifest.yaml", MANIFEST_MAX_NODES) < 0)
		return -1;
	if (!root || root->type != YNODE_MAP) {
		bad(root, "the manifest must be a mapping");
		goto out;
	}
	/* the format before the keys: a newer format's new key is then
	 * refused as that format, which says what to do (upgrade) */
	if (get_str(root, "format", 0, &format) < 0)
		goto out;
	if (strcmp(format, MANIFEST_FORMAT) && strcmp(format, MANIFEST_FORMAT_CALLBACKS) &&
	    strcmp(format, MANIFEST_FORMAT_CB_WAIVERS)) {
		bad(ynode_get(root, "format"), "unknown bundle format (this cairn reads " MANIFEST_FORMAT
		    ", " MANIFEST_FORMAT_CALLBACKS " and " MANIFEST_FORMAT_CB_WAIVERS
		    "; a newer cairn made this bundle?)");
		goto out;
	}
	if (only_keys(root, keys) < 0)
		goto out;
	if (get_str(root, "name", 0, &b->name) < 0 || get_str(root, "project", 0, &b->project) < 0 ||
	    get_list(root, "drivers", &b->drivers, &b->ndrivers) < 0)
		goto out;
	src = ynode_get(root, "source");
	bld = ynode_get(root, "build");
	lim = ynode_get(root, "limits");
	if (!src || src->type != YNODE_MAP) {
		bad(src ? src : root, "'source' must be a mapping");
		goto out;
	}
	if (!bld || bld->type != YNODE_MAP) {
		bad(bld ? bld : root, "'build' must be a mapping");
		goto out;
	}
	if (!lim || lim->type != YNODE_MAP) {
		bad(lim ? lim : root, "'limits' must be a mapping");
		goto out;
	}
	if (only_keys(src, source_keys) < 0 || get_str(src, "repository", 0, &b->source_repo) < 0 ||
	    get_str(src, "commit", 0, &b->source_commit) < 0 ||
	    get_str(src, "tree", 0, &b->source_tree) < 0 ||
	    get_str(src, "path", 0, &b->source_path) < 0 || get_str(src, "ref", 0, &b->source_ref) < 0 ||
	    only_keys(bld, build_keys) < 0 || get_str(bld, "time", 0, &b->build_time) < 0 ||
	    get_str(bld, "tool", 0, &b->tool_version) < 0 || only_keys(lim, limit_keys) < 0 ||
	    get_uint(lim, "max_file_size", &b->max_file_size) < 0 ||
	    get_uint(lim, "max_data_size", &b->max_data_size) < 0)
		goto out;
	migs = ynode_get(root, "migrations");
	if (!migs || migs->type != YNODE_SEQ) {
		bad(migs ? migs : root, "'migrations' must be a list");
		goto out;
	}
	b->migs = xcalloc(migs->n ? migs->n : 1, sizeof(*b->migs));
	for (i = 0; i < migs->n; i++) {
		b->nmigs = i + 1;
		b->migs[i].transaction = 1;
		if (parse_migration(b, i, migs->items[i]) < 0)
			goto out;
	}
	if (check_order(b, migs) < 0 ||
	    parse_callbacks(b, root, !strcmp(format, MANIFEST_FORMAT_CB_WAIVERS)  ? 3
				     : !strcmp(format, MANIFEST_FORMAT_CALLBACKS) ? 2
										  : 1) < 0)
		goto out;
	rc = 0;
out:
	free(format);
	ynode_free(root);
	return rc;
}

int manifest_parse(struct bundle *b, const char *data, size_t len)
{
	if (len > MANIFEST_MAX_SIZE) {
		cairn_error_set("manifest.yaml: %zu bytes, over the cap", len);
		return -1;
	}
	if (!manifest_parse_canonical(b, data, len))
		return 0;
	manifest_release(b);
	return manifest_parse_yaml(b, data, len);
}

static void free_list(char **l, size_t n, int pooled)
{
	size_t i;

	if (!pooled)
		for (i = 0; i < n; i++)
			free(l[i]);
	free(l);
}

void manifest_release(struct bundle *b)
{
	int pooled = b->strpool != NULL;
	size_t i, j;

	for (i = 0; i < b->nmigs; i++) {
		struct bundle_migration *m = &b->migs[i];

		free_list(m->requires, m->nrequires, pooled);
		free_list(m->environments, m->nenvironments, pooled);
		free_list(m->no_transaction, m->nno_transaction, pooled);
		manifest_waivers_release(m, pooled);
		if (pooled)
			continue;
		free(m->version);
		free(m->name);
		free(m->description);
		free(m->checksum);
		free(m->prov_commit);
		free(m->prov_author);
		free(m->prov_date);
		free(m->throttle);
		for (j = 0; j < m->nfiles; j++) {
			free(m->files[j].name);
			free(m->files[j].member);
		}
		free(m->files);
	}
	free(b->migs);
	b->migs = NULL;
	b->nmigs = 0;
	manifest_callback_waivers_release(b, pooled);
	for (i = 0; !pooled && i < b->ncallbacks; i++) {
		free(b->callbacks[i].name);
		free(b->callbacks[i].member);
	}
	free(b->callbacks);
	b->callbacks = NULL;
	b->ncallbacks = 0;
	if (!pooled) {
		free(b->name);
		free(b->project);
		free(b->source_repo);
		free(b->source_commit);
		free(b->source_tree);
		free(b->source_path);
		free(b->source_ref);
		free(b->build_time);
		free(b->tool_version);
	}
	free_list(b->drivers, b->ndrivers, pooled);
	pool_free(&b->strpool);
	b->name = b->project = b->source_repo = b->source_commit = b->source_tree = NULL;
	b->source_path = b->source_ref = b->build_time = b->tool_version = NULL;
	b->drivers = NULL;
	b->ndrivers = 0;
}
