/* A migration's waivers: in manifest.yaml (issue #18): each lint finding
 * the migration waived, as the build's lint run saw it. Written last in
 * the migration's entry, only when there is one:
 *
 *     waivers:
 *       - rule: drop-table
 *         file: up.sql
 *         line: 3
 *         via: comment
 *         reason: the table is empty since v3.2
 *
 * Both manifest parsers (and a streaming one) read an entry through
 * manifest_waiver_set, one key at a time, then manifest_waiver_done.
 *
 * The SQL callbacks' waivers (format cairn-bundle/3) are the same entries
 * in a top-level list after callbacks:, each file naming a callback:
 *
 *     callback_waivers:
 *       - rule: drop-table
 *         file: after_migrate.sql
 *         line: 2
 *         via: comment
 *         reason: the staging table is rebuilt each run */
#include <stdlib.h>
#include <string.h>

#include "../lib/callbacks.h"
#include "../lib/error.h"
#include "../lib/util.h"
#include "../lib/yaml.h"
#include "archive.h"
#include "bundle-types.h"
#include "manifest-int.h"

#define WAIVER_REASON_MAX 512

static const char *const waiver_keys[] = { "rule", "file", "line", "via", "reason", NULL };

static int rule_name_ok(const char *s, size_t len)
{
	size_t i;

	if (!len || len > 64)
		return 0;
	for (i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return 0;
	return 1;
}

static int printable(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return 1;
}

static char *copy(const char *s, size_t len, struct pool_block **pool)
{
	return pool ? pool_strndup(pool, s, len) : xstrndup(s, len);
}

int manifest_waiver_set(struct bundle_waiver *w, const char *key, const char *value,
			size_t len, struct pool_block **pool)
{
	char **slot = NULL;

	if (strlen(value) != len)
		goto bad; /* a NUL inside */
	if (!strcmp(key, "line")) {
		unsigned long long v = 0;
		size_t i;

		if (!len || len > 9 || value[0] == '0')
			goto bad;
		for (i = 0; i < len; i++) {
			if (value[i] < '0' || value[i] > '9')
				goto bad;
			v = v * 10 + (unsigned)(value[i] - '0');
		}
		if (w->line)
			goto twice;
		w->line = v;
		return 0;
	}
	if (!strcmp(key, "rule") && rule_name_ok(value, len))
		slot = &w->rule;
	else if (!strcmp(key, "file") && len && len <= 512 && member_path_safe(value))
		slot = &w->file;
	else if (!strcmp(key, "via") &&
		 ((len == 7 && !memcmp(value, "comment", 7)) || (len == 5 && !memcmp(value, "allow", 5)) ||
		  (len == 11 && !memcmp(value, "destructive", 11))))
		slot = &w->via;
	else if (!strcmp(key, "reason") && len && len <= WAIVER_REASON_MAX && printable(value, len))
		slot = &w->reason;
	if (!slot) {
		size_t k;

		for (k = 0; waiver_keys[k] && strcmp(waiver_keys[k], key); k++)
			;
		if (!waiver_keys[k]) {
			cairn_error_set("manifest.yaml: unknown key '%s' in a waiver", key);
			return -1;
		}
		goto bad;
	}
	if (*slot)
		goto twice;
	*slot = copy(value, len, pool);
	return 0;
bad:
	cairn_error_set("manifest.yaml: a waiver's '%s' is not valid (rule: a rule id; file: the script; line: a number from 1; via: comment, allow or destructive; reason: one line of at most %d bytes)",
			key, WAIVER_REASON_MAX);
	return -1;
twice:
	cairn_error_set("manifest.yaml: a waiver's '%s' is given twice", key);
	return -1;
}

int manifest_waiver_done(const struct bundle_migration *m, const struct bundle_waiver *w)
{
	size_t i;

	if (!w->rule || !w->file || !w->line || !w->via) {
		cairn_error_set("manifest.yaml: a waiver of %s '%s' lacks rule, file, line or via",
				m->name && !strcmp(m->name, CALLBACK_DIR) ? "the" : "migration",
				m->name ? m->name : "?");
		return -1;
	}
	for (i = 0; i < m->nfiles; i++)
		if (!strcmp(m->files[i].name, w->file))
			return 0;
	if (m->name && !strcmp(m->name, CALLBACK_DIR)) {
		cairn_error_set("manifest.yaml: a callback's waiver names '%s', which is not one of the bundle's callbacks",
				w->file);
		return -1;
	}
	cairn_error_set("manifest.yaml: a waiver of migration '%s' names '%s', which is not one of its files",
			m->name ? m->name : "?", w->file);
	return -1;
}

int manifest_waivers_yaml(struct bundle_migration *m, const struct ynode *seq)
{
	size_t i, j;

	if (seq->type != YNODE_SEQ || !seq->n) {
		cairn_error_set("manifest.yaml:%d:%d: 'waivers' must be a list of mappings (rule, file, line, via, reason), left out when empty",
				seq->line, seq->col);
		return -1;
	}
	m->waivers = xcalloc(seq->n, sizeof(*m->waivers));
	for (i = 0; i < seq->n; i++) {
		const struct ynode *e = seq->items[i];

		m->nwaivers = i + 1;
		if (e->type != YNODE_MAP) {
			cairn_error_set("manifest.yaml:%d:%d: a waiver must be a mapping", e->line, e->col);
			return -1;
		}
		for (j = 0; j < e->n; j++) {
			const struct ynode *k = ynode_key(e, j), *v = ynode_val(e, j);

			if (k->type != YNODE_SCALAR || v->type != YNODE_SCALAR) {
				cairn_error_set("manifest.yaml:%d:%d: a waiver's keys and values are strings",
						k->line, k->col);
				return -1;
			}
			if (manifest_waiver_set(&m->waivers[i], k->str, v->str, v->len, NULL) < 0)
				return -1;
		}
		if (manifest_waiver_done(m, &m->waivers[i]) < 0)
			return -1;
	}
	return 0;
}

/* KEY: and its entries, the key at indent (a migration's "    ", the
 * top level's ""), each entry two spaces deeper. */
static int waivers_put(struct buf *out, const char *key, const char *ind,
		       const struct bundle_waiver *ws, size_t n)
{
	size_t i;

	if (!n)
		return 0;
	if (buf_printf(out, "%s%s:\n", ind, key) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		const struct bundle_waiver *w = &ws[i];

		if (buf_printf(out, "%s  - rule: ", ind) < 0 || yaml_put_scalar(out, w->rule) < 0 ||
		    buf_printf(out, "\n%s    file: ", ind) < 0 || yaml_put_scalar(out, w->file) < 0 ||
		    buf_printf(out, "\n%s    line: %llu\n%s    via: ", ind, w->line, ind) < 0 ||
		    yaml_put_scalar(out, w->via) < 0 || buf_putc(out, '\n') < 0 ||
		    (w->reason && (buf_printf(out, "%s    reason: ", ind) < 0 ||
				   yaml_put_scalar(out, w->reason) < 0 || buf_putc(out, '\n') < 0)))
			return -1;
	}
	return 0;
}

int manifest_waivers_format(const struct bundle_migration *m, struct buf *out)
{
	return waivers_put(out, "waivers", "    ", m->waivers, m->nwaivers);
}

int manifest_callback_waivers_format(const struct bundle *b, struct buf *out)
{
	return waivers_put(out, "callback_waivers", "", b->callback_waivers, b->ncallback_waivers);
}

void manifest_callback_dir(const struct bundle *b, struct bundle_migration *dir)
{
	memset(dir, 0, sizeof(*dir));
	dir->name = (char *)CALLBACK_DIR;
	dir->files = b->callbacks;
	dir->nfiles = b->ncallbacks;
}

int manifest_callback_waivers_yaml(struct bundle *b, const struct ynode *seq)
{
	struct bundle_migration dir;
	int rc;

	manifest_callback_dir(b, &dir);
	rc = manifest_waivers_yaml(&dir, seq);
	b->callback_waivers = dir.waivers;
	b->ncallback_waivers = dir.nwaivers;
	return rc;
}

void manifest_callback_waivers_release(struct bundle *b, int pooled)
{
	struct bundle_migration dir;

	manifest_callback_dir(b, &dir);
	dir.waivers = b->callback_waivers;
	dir.nwaivers = b->ncallback_waivers;
	manifest_waivers_release(&dir, pooled);
	b->callback_waivers = NULL;
	b->ncallback_waivers = 0;
}

void manifest_waivers_release(struct bundle_migration *m, int pooled)
{
	size_t i;

	if (!pooled)
		for (i = 0; i < m->nwaivers; i++) {
			free(m->waivers[i].rule);
			free(m->waivers[i].file);
			free(m->waivers[i].via);
			free(m->waivers[i].reason);
		}
	free(m->waivers);
	m->waivers = NULL;
	m->nwaivers = 0;
}
