/* The fast path for the canonical manifest: the parser that knows only
 * the exact text manifest_format writes (see the comment below and
 * manifest.h). */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/callbacks.h"
#include "../lib/error.h"
#include "../lib/pool.h"
#include "../lib/util.h"
#include "../lib/yaml.h"
#include "archive.h"
#include "manifest.h"
#include "manifest-int.h"

/* ---- manifest.yaml: the fast path for the canonical form ----
 *
 * A manifest of 5,000 migrations is ~3 MB of YAML; libyaml's events and a
 * DOM of ~300,000 nodes were most of a nothing-pending apply. Every bundle
 * cairn builds holds the exact text manifest_format writes, so that text is
 * read straight into the structs by a parser that knows only that form
 * (format 1, and format 2: the same text with its callbacks block last). It
 * accepts only the bytes manifest_format would write for the structs it
 * fills: the writer's keys in the writer's order, its quoting (a string is
 * quoted exactly when yaml_plain_safe says so, and a plain one must start
 * with a letter or '_'), its escapes, printable ASCII only, numbers without
 * leading zeros; and only when every check manifest_parse_yaml makes passes
 * on the result (node cap, digits, names, safe paths, sorted files,
 * checksums, order). The writer's output reads back through libyaml as the
 * same structs, so both paths agree (the fuzz target and a unit test check
 * it: what the fast path accepts, manifest_parse_yaml accepts alike, and
 * writing it back gives the same bytes). Anything else, every hostile or
 * hand-written manifest included, goes through manifest_parse_yaml, which
 * also words every error. */

/* The fast path's strings and file lists go into the bundle's pool
 * (lib/pool.c): 5,000 migrations are ~45,000 of them, and a malloc each
 * (and a free each at the end) was ~16 % of parsing and releasing the
 * manifest (8.6 ms before, 7.2 ms after, warm). */
struct canon {
	const char *p, *end;
	size_t nodes;
	struct bundle *b;         /* whose strpool takes the strings */
	struct bundle_file *files; /* one migration's files, before the pool */
	size_t files_alloc;
	int format2;              /* "format: cairn-bundle/2" or /3: a callbacks block ends it */
	int empty;                /* "migrations: []" */
	int tail;                 /* the callbacks block is read: nothing may follow */
	/* SHA256SUMS, each file compared with as it is parsed (NULL: not):
	 * sums_at is the entry the next file must be; sums_differ, that one
	 * was not (bundle.c's cross_check then compares the lists and words
	 * what differs) */
	const struct sums *sums;
	size_t sums_at;
	int sums_differ;
	int format3;              /* "format: cairn-bundle/3": callback_waivers end it */
};

static int canon_lit(struct canon *c, const char *s, size_t n)
{
	if ((size_t)(c->end - c->p) < n || memcmp(c->p, s, n))
		return -1;
	c->p += n;
	return 0;
}

#define LIT(c, s) canon_lit((c), (s), sizeof(s) - 1)
#define PEEK(c, s) ((size_t)((c)->end - (c)->p) >= sizeof(s) - 1 && !memcmp((c)->p, (s), sizeof(s) - 1))

static int canon_plain_char(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '_' || ch == '-' || ch == '.' || ch == '/' || ch == '@' || ch == '+';
}

static int canon_hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	return -1;
}

/* A scalar as yaml_put_scalar writes it, ending before '\n' (flow == 0) or
 * before ',' or ']' (flow == 1). Only printable ASCII and the writer's
 * escapes; a plain scalar must start with a letter or '_' (the writer also
 * leaves '/', '@' unquoted at the start, which YAML reads differently or
 * not at all: those go to the general parser). */
static int canon_scalar(struct canon *c, int flow, char **out)
{
	const char *p = c->p;
	char *s, *w;

	*out = NULL;
	if (p < c->end && *p == '"') {
		const char *q = ++p;
		size_t n = 0;

		/* first pass: validate and measure */
		while (q < c->end && *q != '"') {
			unsigned char ch = (unsigned char)*q;

			if (ch == '\\') {
				if (q + 1 >= c->end)
					return -1;
				switch (q[1]) {
				case '"': case '\\': case 'n': case 't': case 'r':
					q += 2;
					break;
				case 'x': {
					int hi, lo, v;

					if (q + 3 >= c->end || (hi = canon_hexval(q[2])) < 0 ||
					    (lo = canon_hexval(q[3])) < 0)
						return -1;
					v = hi * 16 + lo;
					if (!v || (v >= 0x20 && v != 0x7f) || v == '\n' || v == '\t' || v == '\r')
						return -1;
					q += 4;
					break;
				}
				default:
					return -1;
				}
			} else if (ch < 0x20 || ch >= 0x7f) {
				return -1;
			} else {
				q++;
			}
			n++;
		}
		if (q >= c->end)
			return -1;
		s = w = pool_alloc(&c->b->strpool, n + 1, 1);
		while (p < q) {
			if (*p != '\\') {
				*w++ = *p++;
				continue;
			}
			switch (p[1]) {
			case 'n': *w++ = '\n'; p += 2; break;
			case 't': *w++ = '\t'; p += 2; break;
			case 'r': *w++ = '\r'; p += 2; break;
			case 'x': *w++ = (char)(canon_hexval(p[2]) * 16 + canon_hexval(p[3])); p += 4; break;
			default: *w++ = p[1]; p += 2; break;
			}
		}
		*w = '\0';
		c->p = q + 1;
		if (yaml_plain_safe(s)) /* the writer leaves it unquoted */
			return -1;
	} else {
		const char *q = p;

		if (q >= c->end || !((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') || *q == '_'))
			return -1;
		while (q < c->end && canon_plain_char((unsigned char)*q))
			q++;
		s = pool_strndup(&c->b->strpool, p, (size_t)(q - p));
		c->p = q;
		if (!yaml_plain_safe(s)) /* the writer quotes it (true, null...) */
			return -1;
	}
	if (c->p >= c->end || (flow ? (*c->p != ',' && *c->p != ']') : *c->p != '\n'))
		return -1;
	*out = s;
	return 0;
}

/* indent key: scalar\n */
static int canon_kv(struct canon *c, const char *indent_key, size_t n, char **out)
{
	*out = NULL;
	if (canon_lit(c, indent_key, n) < 0 || canon_scalar(c, 0, out) < 0)
		return -1;
	c->p++; /* the '\n' canon_scalar saw */
	c->nodes += 2;
	return 0;
}

#define KV(c, s, out) canon_kv((c), (s), sizeof(s) - 1, (out))

/* canon_kv, but a value equal to prev (the previous migration's) is not
 * copied again: *out is prev. A project's migrations mostly share their
 * provenance's commit, author and date (88 bytes a migration, 1.8 MB at
 * 20,000; issue #14). */
static int canon_kv_shared(struct canon *c, const char *indent_key, size_t n, const char *prev,
			   char **out)
{
	struct pool_mark mark;

	pool_mark(&c->b->strpool, &mark);
	if (canon_kv(c, indent_key, n, out) < 0)
		return -1;
	if (prev && !strcmp(prev, *out)) {
		pool_rewind(&c->b->strpool, &mark);
		*out = (char *)prev;
	}
	return 0;
}

#define KV_SHARED(c, s, prev, out) canon_kv_shared((c), (s), sizeof(s) - 1, (prev), (out))

/* indent key: [a, b]\n with non-empty items */
static int canon_list(struct canon *c, const char *indent_key, size_t n, char ***out, size_t *count)
{
	size_t alloc = 0;

	*out = NULL;
	*count = 0;
	if (canon_lit(c, indent_key, n) < 0)
		return -1;
	c->nodes += 2;
	if (!LIT(c, "]\n"))
		return 0;
	for (;;) {
		char *it;

		if (canon_scalar(c, 1, &it) < 0)
			return -1;
		ALLOC_GROW(*out, *count + 1, alloc);
		(*out)[(*count)++] = it;
		c->nodes++;
		if (!*it)
			return -1;
		if (!LIT(c, "]\n"))
			return 0;
		if (LIT(c, ", ") < 0)
			return -1;
	}
}

#define LIST(c, s, out, n) canon_list((c), (s), sizeof(s) - 1, (out), (n))

static int canon_uint(struct canon *c, unsigned long long *out)
{
	unsigned long long v = 0;
	const char *p = c->p;

	if (p >= c->end || *p < '0' || *p > '9' || (*p == '0' && p + 1 < c->end && p[1] >= '0' && p[1] <= '9'))
		return -1;
	for (; p < c->end && *p >= '0' && *p <= '9'; p++) {
		if (v > (~0ULL - (unsigned)(*p - '0')) / 10)
			return -1;
		v = v * 10 + (unsigned)(*p - '0');
	}
	c->p = p;
	c->nodes += 2;
	*out = v;
	return 0;
}

static int canon_bool(struct canon *c, unsigned char *out)
{
	c->nodes += 2;
	if (!LIT(c, "true")) {
		*out = 1;
		return 0;
	}
	if (!LIT(c, "false")) {
		*out = 0;
		return 0;
	}
	return -1;
}

/* A file entry (name, sha256, size) at the given indents; its member is
 * migrations/DIR/NAME, DIR being m's name (or "callbacks"). */
static int canon_file(struct canon *c, const char *name_lit, const char *sha_lit,
		      const char *size_lit, const struct bundle_migration *m, struct bundle_file *f)
{
	struct pool_mark mark;
	char name[513];
	size_t dl, nl;

	c->nodes++;
	pool_mark(&c->b->strpool, &mark);
	if (canon_kv(c, name_lit, strlen(name_lit), &f->name) < 0 ||
	    canon_lit(c, sha_lit, strlen(sha_lit)) < 0 ||
	    c->end - c->p < 65 || c->p[64] != '\n' ||
	    hex_decode(c->p, 32, f->sha) < 0) /* 64 lower-case hex digits, decoded */
		return -1;
	c->p += 65;
	c->nodes += 2;
	if (canon_lit(c, size_lit, strlen(size_lit)) < 0 || canon_uint(c, &f->size) < 0 ||
	    LIT(c, "\n") < 0)
		return -1;
	if (!member_path_safe(f->name) || (nl = strlen(f->name)) > 512)
		return -1;
	/* the name is the member's last part: kept there, not copied twice */
	memcpy(name, f->name, nl + 1);
	pool_rewind(&c->b->strpool, &mark);
	dl = strlen(m->name);
	f->member = pool_alloc(&c->b->strpool, 11 + dl + 1 + nl + 1, 1);
	memcpy(f->member, "migrations/", 11);
	memcpy(f->member + 11, m->name, dl);
	f->member[11 + dl] = '/';
	memcpy(f->member + 12 + dl, name, nl + 1);
	f->name = f->member + 12 + dl;
	if (c->sums && !c->sums_differ) {
		const struct sums_entry *e =
			c->sums_at < c->sums->n ? &c->sums->items[c->sums_at] : NULL;

		if (e && !strcmp(e->path, f->member) && !memcmp(e->sha, f->sha, sizeof(f->sha)))
			c->sums_at++;
		else
			c->sums_differ = 1;
	}
	return 0;
}

/* waivers: as waivers_put writes them (manifest-waivers.c): head, then
 * entries at indent ind ("    " in a migration, "" for callback_waivers). */
static int canon_waivers(struct canon *c, struct bundle_migration *m, const char *head,
			 const char *ind)
{
	static const char *const keys[] = { "rule", "file", "line", "via", "reason" };
	static const char *const fmts[] = { "%s  - rule: ", "%s    file: ", "%s    line: ",
					    "%s    via: ", "%s    reason: " };
	char lits[5][32];
	size_t alloc = 0, k;

	for (k = 0; k < 5; k++)
		if (snprintf(lits[k], sizeof(lits[k]), fmts[k], ind) >= (int)sizeof(lits[k]))
			return -1;
	if (canon_lit(c, head, strlen(head)) < 0)
		return -1;
	c->nodes += 2;
	do {
		struct bundle_waiver *w;

		ALLOC_GROW(m->waivers, m->nwaivers + 1, alloc);
		w = &m->waivers[m->nwaivers++];
		memset(w, 0, sizeof(*w));
		c->nodes++;
		for (k = 0; k < 5; k++) {
			size_t n = strlen(lits[k]);
			char *v;

			if (k == 4 && ((size_t)(c->end - c->p) < n || memcmp(c->p, lits[k], n)))
				break;
			if (k == 2) { /* line: a number, which canon_scalar takes for no string */
				unsigned long long line;
				char num[24];

				if (canon_lit(c, lits[k], n) < 0 || canon_uint(c, &line) < 0 ||
				    LIT(c, "\n") < 0 || snprintf(num, sizeof(num), "%llu", line) >= (int)sizeof(num) ||
				    manifest_waiver_set(w, "line", num, strlen(num), NULL) < 0)
					return -1;
				continue;
			}
			if (canon_kv(c, lits[k], n, &v) < 0 ||
			    manifest_waiver_set(w, keys[k], v, strlen(v), &c->b->strpool) < 0)
				return -1;
		}
		if (manifest_waiver_done(m, w) < 0)
			return -1;
	} while ((size_t)(c->end - c->p) >= strlen(lits[0]) && !memcmp(c->p, lits[0], strlen(lits[0])));
	return 0;
}

/* batch: (issue #22): the keys set, in the writer's order, none 0, one at
 * least, on a kind: batch migration only (as parse_throttle checks). */
static int canon_throttle(struct canon *c, struct bundle_migration *m)
{
	static const char *const lits[] = { "      size: ", "      pause_ms: ",
					    "      max_duration_ms: ",
					    "      max_replication_lag_ms: ",
					    "      max_replication_lag_bytes: " };
	struct batch_throttle t = { 0 };
	unsigned long long *outs[] = { &t.size, &t.pause_ms, &t.max_duration_ms, &t.max_lag_ms,
				       &t.max_lag_bytes };
	size_t i;

	if (!m->batch || LIT(c, "    batch:\n") < 0)
		return -1;
	c->nodes += 2;
	for (i = 0; i < sizeof(lits) / sizeof(lits[0]); i++) {
		size_t n = strlen(lits[i]);

		if ((size_t)(c->end - c->p) < n || memcmp(c->p, lits[i], n))
			continue;
		c->nodes += 2;
		if (canon_lit(c, lits[i], n) < 0 || canon_uint(c, outs[i]) < 0 || !*outs[i] ||
		    LIT(c, "\n") < 0)
			return -1;
	}
	if (!batch_throttle_set(&t))
		return -1;
	m->throttle = pool_alloc(&c->b->strpool, sizeof(t), _Alignof(struct batch_throttle));
	*m->throttle = t;
	return 0;
}

static int canon_migration(struct canon *c, struct bundle_migration *m)
{
	char want[7 + 65];
	size_t vl;

	m->transaction = 1;
	c->nodes++;
	if (KV(c, "  - version: ", &m->version) < 0 || KV(c, "    name: ", &m->name) < 0 ||
	    KV(c, "    description: ", &m->description) < 0 ||
	    LIST(c, "    requires: [", &m->requires, &m->nrequires) < 0 ||
	    LIT(c, "    transaction: ") < 0 || canon_bool(c, &m->transaction) < 0 ||
	    LIT(c, "\n") < 0 ||
	    (PEEK(c, "    no_transaction: [") &&
	     LIST(c, "    no_transaction: [", &m->no_transaction, &m->nno_transaction) < 0) ||
	    LIT(c, "    irreversible: ") < 0 || canon_bool(c, &m->irreversible) < 0 ||
	    LIT(c, "\n    destructive: ") < 0 || canon_bool(c, &m->destructive) < 0 ||
	    LIT(c, "\n    kind: ") < 0)
		return -1;
	c->nodes += 2;
	if (!LIT(c, "batch\n"))
		m->batch = 1;
	else if (LIT(c, "schema\n") < 0)
		return -1;
	if (!LIT(c, "    phase: contract\n")) {
		c->nodes += 2;
		m->contract = 1;
	}
	if (LIST(c, "    environments: [", &m->environments, &m->nenvironments) < 0 ||
	    LIT(c, "    timeout_ms: ") < 0 || canon_uint(c, &m->timeout_ms) < 0 ||
	    LIT(c, "\n    lock_timeout_ms: ") < 0 || canon_uint(c, &m->lock_timeout_ms) < 0 ||
	    LIT(c, "\n") < 0 || (PEEK(c, "    batch:\n") && canon_throttle(c, m) < 0) ||
	    KV(c, "    checksum: ", &m->checksum) < 0)
		return -1;
	if (!LIT(c, "    provenance:\n")) {
		c->nodes += 2;
		if (!PEEK(c, "      commit: ") && !PEEK(c, "      author: ") && !PEEK(c, "      date: "))
			return -1; /* the writer leaves out an empty one */
		const struct bundle_migration *prev = m > c->b->migs ? m - 1 : NULL;

		if ((PEEK(c, "      commit: ") &&
		     KV_SHARED(c, "      commit: ", prev ? prev->prov_commit : NULL, &m->prov_commit) < 0) ||
		    (PEEK(c, "      author: ") &&
		     KV_SHARED(c, "      author: ", prev ? prev->prov_author : NULL, &m->prov_author) < 0) ||
		    (PEEK(c, "      date: ") &&
		     KV_SHARED(c, "      date: ", prev ? prev->prov_date : NULL, &m->prov_date) < 0))
			return -1;
	}
	c->nodes += 2;
	if (LIT(c, "    files: []\n") < 0) {
		size_t n = 0;

		if (LIT(c, "    files:\n") < 0)
			return -1;
		/* into the parser's array, then into the pool at their number */
		do {
			ALLOC_GROW(c->files, n + 1, c->files_alloc);
			memset(&c->files[n], 0, sizeof(*c->files));
			n++;
			if (canon_file(c, "      - name: ", "        sha256: ", "        size: ", m,
				       &c->files[n - 1]) < 0)
				return -1;
			if (n > 1 && strcmp(c->files[n - 2].name, c->files[n - 1].name) >= 0)
				return -1;
		} while (PEEK(c, "      - name: "));
		m->files = pool_alloc(&c->b->strpool, n * sizeof(*m->files), sizeof(max_align_t));
		memcpy(m->files, c->files, n * sizeof(*m->files));
		m->nfiles = n;
	} else {
		m->files = pool_alloc(&c->b->strpool, sizeof(*m->files), sizeof(max_align_t));
		memset(m->files, 0, sizeof(*m->files));
	}
	if (PEEK(c, "    waivers:\n") && canon_waivers(c, m, "    waivers:\n", "    ") < 0)
		return -1;
	/* the checks manifest_parse_yaml makes */
	vl = strlen(m->version);
	if (!digits_only(m->version) || vl > 32 || strncmp(m->name, m->version, vl) ||
	    m->name[vl] != '_' || !member_path_safe(m->name) || strchr(m->name, '/') ||
	    strlen(m->name) > 255)
		return -1;
	migration_checksum(m->files, m->nfiles, want);
	if (strcmp(want, m->checksum))
		return -1;
	return 0;
}

/* Everything before the first migration: the keys up to "migrations:\n"
 * (*empty = 0) or "migrations: []\n" (*empty = 1). */
static int canon_header(struct canon *c, int *empty)
{
	struct bundle *b = c->b;

	if (!LIT(c, "format: " MANIFEST_FORMAT_CB_WAIVERS "\n"))
		c->format2 = c->format3 = 1;
	else if (!LIT(c, "format: " MANIFEST_FORMAT_CALLBACKS "\n"))
		c->format2 = 1;
	else if (LIT(c, "format: " MANIFEST_FORMAT "\n") < 0)
		return -1;
	c->nodes += 2;
	if (KV(c, "name: ", &b->name) < 0 || KV(c, "project: ", &b->project) < 0 ||
	    LIT(c, "source:\n") < 0)
		return -1;
	c->nodes += 2;
	if (KV(c, "  repository: ", &b->source_repo) < 0 || KV(c, "  commit: ", &b->source_commit) < 0 ||
	    KV(c, "  tree: ", &b->source_tree) < 0 || KV(c, "  path: ", &b->source_path) < 0 ||
	    KV(c, "  ref: ", &b->source_ref) < 0 || LIT(c, "build:\n") < 0)
		return -1;
	c->nodes += 2;
	if (KV(c, "  time: ", &b->build_time) < 0 || KV(c, "  tool: ", &b->tool_version) < 0 ||
	    LIST(c, "drivers: [", &b->drivers, &b->ndrivers) < 0 ||
	    LIT(c, "limits:\n  max_file_size: ") < 0 || canon_uint(c, &b->max_file_size) < 0 ||
	    LIT(c, "\n  max_data_size: ") < 0 || canon_uint(c, &b->max_data_size) < 0 ||
	    LIT(c, "\n") < 0)
		return -1;
	c->nodes += 2 + 2;
	*empty = c->empty = !LIT(c, "migrations: []\n");
	return *empty ? 0 : LIT(c, "migrations:\n");
}

/* callbacks: (format 2 only) as manifest_format writes it after the
 * migrations: one entry at least, each a file of migrations/callbacks/
 * with a callback's name, sorted, each once (as parse_callbacks checks).
 * The strings go into the pool, the array is malloc'd (manifest_release). */
static int canon_callbacks(struct canon *c)
{
	struct bundle *b = c->b;
	struct bundle_migration dir;
	const char *driver;
	size_t alloc = 0;
	int rc;

	if (!c->format2 || c->tail || LIT(c, "callbacks:\n") < 0)
		return -1;
	c->tail = 1;
	c->nodes += 2;
	memset(&dir, 0, sizeof(dir));
	dir.name = CALLBACK_DIR;
	do {
		struct bundle_file *f;

		ALLOC_GROW(b->callbacks, b->ncallbacks + 1, alloc);
		f = &b->callbacks[b->ncallbacks++];
		memset(f, 0, sizeof(*f));
		if (canon_file(c, "  - name: ", "    sha256: ", "    size: ", &dir, f) < 0 ||
		    callback_parse(f->name, &driver) < 0 ||
		    (b->ncallbacks > 1 && strcmp(b->callbacks[b->ncallbacks - 2].name, f->name) >= 0))
			return -1;
	} while (PEEK(c, "  - name: "));
	/* format 3: what the callbacks waived, last (manifest-waivers.c) */
	if (PEEK(c, "callback_waivers:\n")) {
		manifest_callback_dir(b, &dir);
		rc = c->format3 ? canon_waivers(c, &dir, "callback_waivers:\n", "") : -1;
		b->callback_waivers = dir.waivers;
		b->ncallback_waivers = dir.nwaivers;
		if (rc < 0)
			return -1;
	}
	return c->format3 == (b->ncallback_waivers > 0) ? 0 : -1;
}

/* The migrations from c->p to c->end, which holds whole ones only, and
 * the callbacks block if it is there (format 2: after the last one). */
static int canon_migrations(struct canon *c, size_t *alloc)
{
	struct bundle *b = c->b;

	while (c->p < c->end) {
		if (PEEK(c, "callbacks:\n")) {
			if (canon_callbacks(c) < 0)
				return -1;
			continue;
		}
		if (c->tail || c->empty)
			return -1;
		ALLOC_GROW(b->migs, b->nmigs + 1, *alloc);
		memset(&b->migs[b->nmigs], 0, sizeof(*b->migs));
		b->nmigs++;
		if (canon_migration(c, &b->migs[b->nmigs - 1]) < 0)
			return -1;
	}
	return 0;
}

/* Once every byte is read: "migrations:" lists one at least, the node
 * cap, the order. */
static int canon_finish(struct canon *c, int empty, size_t alloc)
{
	struct bundle *b = c->b;

	if (empty) {
		free(b->migs); /* the room made for the pieces parser */
		b->migs = xcalloc(1, sizeof(*b->migs));
	}
	else if (!b->nmigs)
		return -1;
	else
		ALLOC_SHRINK(b->migs, b->nmigs, alloc);
	if (c->format2 != c->tail || c->nodes > MANIFEST_MAX_NODES || check_order(b, NULL) < 0)
		return -1;
	return 0;
}

int manifest_parse_canonical(struct bundle *b, const char *data, size_t len)
{
	struct canon c = { data, data + len, 1, b, NULL, 0, 0, 0, 0, NULL, 1, 0, 0 };
	size_t alloc = 0;
	int empty = 0, rc = -1;

	if (canon_header(&c, &empty) < 0 || canon_migrations(&c, &alloc) < 0 ||
	    canon_finish(&c, empty, alloc) < 0)
		goto out;
	rc = 0;
out:
	free(c.files);
	return rc;
}

#define MIG_START "\n  - version: "

/* Where the last migration that begins in [from, end) begins (the line
 * after a "\n  - version: "), or NULL. Inside a migration no line starts
 * so (a scalar never holds a raw newline), so what comes before it is
 * whole migrations. */
static const char *last_mig_start(const char *from, const char *end)
{
	size_t n = (size_t)(end - from);
	const char *q;

	while (n && (q = memrchr(from, '\n', n))) {
		if ((size_t)(end - q) >= sizeof(MIG_START) - 1 &&
		    !memcmp(q, MIG_START, sizeof(MIG_START) - 1))
			return q + 1;
		n = (size_t)(q - from);
	}
	return NULL;
}

/* The pieces parser's state: the window of what is not parsed yet. */
struct window {
	struct buf w;
	size_t seen;      /* bytes of w searched for a migration start */
	size_t total;     /* bytes taken in */
	size_t alloc;     /* b->migs's room */
	int head, empty;  /* the header parsed; "migrations: []" */
};

/* Takes d[0, n) into the window (n == 0 with at_end: the text's end) and
 * parses the whole migrations it then holds. */
static int window_take(struct canon *c, struct window *x, const char *d, size_t n, int at_end)
{
	const char *cut;
	size_t keep;

	if (!at_end) {
		x->total += n;
		if (x->total > MANIFEST_MAX_SIZE || buf_put(&x->w, d, n) < 0)
			return -1;
		/* what was searched before holds no start but near its end */
		cut = last_mig_start(x->w.ptr + (x->seen > sizeof(MIG_START) ? x->seen - sizeof(MIG_START) : 0),
				     x->w.ptr + x->w.len);
		x->seen = x->w.len;
		if (!cut)
			return 0; /* no whole migration yet */
	} else {
		/* no piece at all: the window has no buffer (NULL + 0 is UB) */
		cut = x->w.ptr ? x->w.ptr + x->w.len : NULL;
	}
	c->p = x->w.ptr;
	c->end = cut;
	if (!x->head && canon_header(c, &x->empty) < 0)
		return -1;
	x->head = 1;
	if ((x->empty && !at_end) || canon_migrations(c, &x->alloc) < 0)
		return -1;
	keep = (size_t)(x->w.ptr + x->w.len - cut);
	memmove(x->w.ptr, cut, keep);
	x->w.len = keep;
	x->seen = 0;
	return 0;
}

/* The window takes a piece this much at a time: it stays small and is
 * used again, instead of growing to a piece's size (a page fault a page). */
#define WINDOW_SLICE (64U << 10)
/* Not less than this many bytes of text a migration: the migrations' array
 * is made this large at once (pages never touched cost nothing), not grown
 * by copies. */
#define MIG_MIN_TEXT 256

/* The same parse over the manifest's bytes in pieces: a window holds what
 * is not parsed yet, cut after its last whole migration; each piece may be
 * dropped once the next is asked for, so the raw text and what is parsed
 * from it are not held whole together. It accepts exactly what
 * manifest_parse_canonical accepts over the pieces joined: the same
 * functions parse the same migrations, cut where a migration begins.
 * size_hint: the text's length if known (else 0), for the array's room. */
int manifest_parse_canonical_pieces(struct bundle *b, manifest_piece_fn next, void *ctx,
				    size_t size_hint)
{
	return manifest_parse_canonical_sums(b, next, ctx, size_hint, NULL, NULL);
}

int manifest_parse_canonical_sums(struct bundle *b, manifest_piece_fn next, void *ctx,
				  size_t size_hint, const struct sums *sums, int *matched)
{
	struct canon c = { NULL, NULL, 1, b, NULL, 0, 0, 0, 0, sums, 1, 0, 0 };
	struct window x;
	const char *d;
	size_t len, off;
	int rc = -1;

	memset(&x, 0, sizeof(x));
	buf_init(&x.w, (size_t)MANIFEST_MAX_SIZE);
	if (size_hint && size_hint <= MANIFEST_MAX_SIZE) {
		x.alloc = size_hint / MIG_MIN_TEXT + 1;
		b->migs = xmalloc(x.alloc * sizeof(*b->migs));
	}
	while ((d = next(ctx, &len)))
		for (off = 0; off < len; off += WINDOW_SLICE)
			if (window_take(&c, &x, d + off,
					len - off < WINDOW_SLICE ? len - off : WINDOW_SLICE, 0) < 0)
				goto out;
	if (window_take(&c, &x, NULL, 0, 1) < 0 || canon_finish(&c, x.empty, x.alloc) < 0)
		goto out;
	/* entry 0 is manifest.yaml; every other entry was a file, in order */
	if (matched)
		*matched = sums && !c.sums_differ && c.sums_at == sums->n;
	rc = 0;
out:
	buf_release(&x.w);
	free(c.files);
	return rc;
}
