/* A fleet's targets: the targets file, secrets behind references, shards. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/buf.h"
#include "../lib/error.h"
#include "../lib/util.h"
#include "../policy/config.h"
#include "targets.h"

void fleet_targets_release(struct fleet_targets *t)
{
	size_t i;

	if (!t)
		return;
	for (i = 0; i < t->n; i++) {
		free(t->items[i].name);
		free(t->items[i].value);
	}
	free(t->items);
	fleet_index_release(&t->by_name);
	memset(t, 0, sizeof(*t));
}

static int name_ok(const char *s, size_t len)
{
	size_t i;

	if (!len || len > FLEET_NAME_MAX || s[0] == '.' || s[0] == '-')
		return 0;
	for (i = 0; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("._-", s[i]))
			return 0;
	return 1;
}

/* The DSN part of a line: its kind and value, or -1 (error set). */
static int parse_dsn(const char *dsn, enum fleet_dsn_kind *kind, char **value)
{
	if (starts_with(dsn, "env:")) {
		if (!env_var_name_ok(dsn + 4)) {
			cairn_error_set("'env:' must name an environment variable (letters, digits, "
					"_), not '%s'", dsn + 4);
			return -1;
		}
		*kind = FLEET_DSN_ENV;
		*value = xstrdup(dsn + 4);
		return 0;
	}
	if (starts_with(dsn, "file:")) {
		if (!dsn[5]) {
			cairn_error_set("'file:' must name the file that holds the DSN");
			return -1;
		}
		*kind = FLEET_DSN_FILE;
		*value = xstrdup(dsn + 5);
		return 0;
	}
	if (!dsn_form_ok(dsn)) {
		cairn_error_set("'%s' is not a DSN: use sqlite:PATH, postgres://..., a libpq "
				"keyword string (host=... dbname=...), env:VARIABLE or file:PATH", dsn);
		return -1;
	}
	if (dsn_has_password(dsn)) {
		char *masked = dsn_mask(dsn);

		cairn_error_set("the DSN holds a password ('%s'); secrets never sit in a targets "
				"file: name them with env:VARIABLE or file:PATH, or use libpq's "
				"PGPASSFILE", masked);
		free(masked);
		return -1;
	}
	*kind = FLEET_DSN;
	*value = xstrdup(dsn);
	return 0;
}

static const char *name_at(const void *ctx, size_t pos)
{
	return ((const struct fleet_targets *)ctx)->items[pos].name;
}

static const struct fleet_target *find_name(const struct fleet_targets *t, const char *name)
{
	size_t i = fleet_index_find(&t->by_name, name, name_at, t);

	return i == (size_t)-1 ? NULL : &t->items[i];
}

/* One line, trimmed, not blank, not a comment. */
static int add_line(struct fleet_targets *t, const char *text)
{
	const char *sp = text + strcspn(text, " \t");
	const char *rest = sp + strspn(sp, " \t");
	char *name, *dsn;
	struct fleet_target nt;
	const struct fleet_target *dup;

	memset(&nt, 0, sizeof(nt));
	/* NAME DSN, unless the first word is already a DSN (or starts a
	 * keyword string, which holds spaces) */
	if (*rest && !memchr(text, '=', (size_t)(sp - text)) && !memchr(text, ':', (size_t)(sp - text))) {
		if (!name_ok(text, (size_t)(sp - text))) {
			cairn_error_set("bad target name '%.*s': letters, digits and . _ - only, at "
					"most %d bytes", (int)(sp - text), text, FLEET_NAME_MAX);
			return -1;
		}
		name = xstrndup(text, (size_t)(sp - text));
		dsn = xstrdup(rest);
	} else {
		name = NULL;
		dsn = xstrdup(text);
	}
	if (!strchr(dsn, '=') && strpbrk(dsn, " \t")) {
		cairn_error_set("expected 'NAME DSN' or a DSN, not '%s'", text);
		goto fail;
	}
	if (parse_dsn(dsn, &nt.kind, &nt.value) < 0)
		goto fail;
	nt.name = name ? name : xstrdup(dsn);
	name = NULL;
	if ((dup = find_name(t, nt.name))) {
		cairn_error_set("target '%s' is named twice (first on line %d)", nt.name, dup->line);
		free(nt.name);
		free(nt.value);
		goto fail;
	}
	if (t->n >= FLEET_TARGETS_MAX) {
		cairn_error_set("more than %d targets", FLEET_TARGETS_MAX);
		free(nt.name);
		free(nt.value);
		goto fail;
	}
	if (t->n == t->alloc) {
		t->alloc = t->alloc ? 2 * t->alloc : 64;
		t->items = xrealloc(t->items, t->alloc * sizeof(*t->items));
	}
	fleet_index_add(&t->by_name, nt.name, t->n);
	t->items[t->n++] = nt;
	free(dsn);
	return 0;
fail:
	free(name);
	free(dsn);
	return -1;
}

int fleet_targets_add_line(struct fleet_targets *t, const char *text, const char *origin,
			   int line)
{
	char *s = xstrdup(text), *p = s, *e;
	int rc = 0;

	while (*p == ' ' || *p == '\t')
		p++;
	e = p + strlen(p);
	while (e > p && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	if (*p && *p != '#') {
		size_t before = t->n;

		rc = add_line(t, p);
		if (rc == 0)
			t->items[before].line = line;
	}
	if (rc < 0) {
		char *msg = xstrdup(cairn_error_last());

		cairn_error_set("%s:%d: %s", origin, line, msg);
		free(msg);
	}
	free(s);
	return rc;
}

int fleet_targets_parse(struct fleet_targets *t, const char *data, size_t len,
			const char *origin)
{
	size_t off = 0;
	int line = 0;

	while (off < len) {
		const char *nl = memchr(data + off, '\n', len - off);
		size_t l = nl ? (size_t)(nl - (data + off)) : len - off, i;
		char *text;

		line++;
		if (l > FLEET_LINE_MAX) {
			cairn_error_set("%s:%d: line longer than %d bytes", origin, line, FLEET_LINE_MAX);
			return -1;
		}
		for (i = 0; i < l; i++) {
			unsigned char ch = (unsigned char)data[off + i];

			if ((ch < 0x20 && ch != '\t' && ch != '\r') || ch == 0x7f) {
				cairn_error_set("%s:%d: control character 0x%02x", origin, line, ch);
				return -1;
			}
		}
		text = xstrndup(data + off, l);
		if (fleet_targets_add_line(t, text, origin, line) < 0) {
			free(text);
			return -1;
		}
		free(text);
		off += l + (nl ? 1 : 0);
	}
	return 0;
}

int fleet_target_dsn(const struct fleet_target *t, char **out)
{
	struct buf b = BUF_INIT;
	const char *v;

	*out = NULL;
	switch (t->kind) {
	case FLEET_DSN:
		*out = xstrdup(t->value);
		return 0;
	case FLEET_DSN_ENV:
		v = getenv(t->value);
		if (!v || !*v) {
			cairn_error_set("target '%s': the environment variable '%s' is not set",
					t->name, t->value);
			return -1;
		}
		*out = xstrdup(v);
		return 0;
	case FLEET_DSN_FILE:
		if (read_file(t->value, 64U << 10, &b) < 0) {
			char *msg = xstrdup(cairn_error_last());

			cairn_error_set("target '%s': cannot read the DSN from '%s': %s", t->name,
					t->value, msg);
			free(msg);
			buf_release(&b);
			return -1;
		}
		b.len = strcspn(buf_cstr(&b), "\r\n");
		b.ptr[b.len] = '\0';
		if (!b.len) {
			cairn_error_set("target '%s': '%s' holds no DSN", t->name, t->value);
			buf_release(&b);
			return -1;
		}
		*out = buf_detach(&b, NULL);
		return 0;
	}
	return -1;
}

unsigned fleet_shard_of(const char *name, unsigned n)
{
	return n ? (unsigned)(fleet_name_hash(name) % n) : 0;
}

int fleet_shard_parse(const char *s, unsigned *i, unsigned *n)
{
	char *end;
	unsigned long a, b;

	if (!isdigit((unsigned char)*s))
		goto bad;
	a = strtoul(s, &end, 10);
	if (*end != '/' || !isdigit((unsigned char)end[1]))
		goto bad;
	b = strtoul(end + 1, &end, 10);
	if (*end || b == 0 || b > 65536 || a >= b)
		goto bad;
	*i = (unsigned)a;
	*n = (unsigned)b;
	return 0;
bad:
	cairn_error_set("--shard must be I/N with 0 <= I < N <= 65536 (the first shard is 0/N), "
			"not '%s'", s);
	return -1;
}

void fleet_targets_shard(struct fleet_targets *t, unsigned i, unsigned n)
{
	size_t r, w = 0;

	for (r = 0; r < t->n; r++) {
		if (fleet_shard_of(t->items[r].name, n) == i) {
			t->items[w++] = t->items[r];
		} else {
			free(t->items[r].name);
			free(t->items[r].value);
		}
	}
	t->n = w;
	/* the positions moved: index them again */
	fleet_index_release(&t->by_name);
	for (r = 0; r < t->n; r++)
		fleet_index_add(&t->by_name, t->items[r].name, r);
}
