/* Findings shared by the parsers of cairn.yaml and migration.yaml: an
 * unknown key (with a did-you-mean), a value of the wrong type, a list of
 * strings, a YAML syntax error. */
#include <stddef.h>
#include "../lib/error.h"
#include "../lib/util.h"
#include "../lib/yaml.h"
#include "yaml-keys.h"

void unknown_key(struct findings *f, const char *path, const struct ynode *k,
			const char *const *keys)
{
	const char *hint = did_you_mean(k->str, keys);

	if (hint)
		findings_add(f, SEV_ERROR, path, k->line, k->col, "unknown-key",
			     "unknown key '%s'; did you mean '%s'?", k->str, hint);
	else
		findings_add(f, SEV_ERROR, path, k->line, k->col, "unknown-key",
			     "unknown key '%s' (known keys are listed in cairn(1))", k->str);
}

void wrong_type(struct findings *f, const char *path, const char *key,
		       const struct ynode *v, const char *expected)
{
	findings_add(f, SEV_ERROR, path, v->line, v->col, "bad-value",
		     "'%s' must be %s, not %s%s%s%s", key, expected,
		     v->type == YNODE_SCALAR ? "'" : "",
		     v->type == YNODE_SCALAR ? v->str : ynode_type_name(v->type),
		     v->type == YNODE_SCALAR ? "'" : "", "");
}

/* A list of strings; a single string is taken as a list of one. */
int string_list(struct strlist *out, int **lines, struct findings *f, const char *path,
		       const char *key, const struct ynode *v)
{
	size_t i;

	if (v->type == YNODE_SCALAR && !ynode_is_null(v)) {
		strlist_push(out, v->str);
		if (lines) {
			*lines = xrealloc(*lines, sizeof(int));
			(*lines)[0] = v->line;
		}
		return 0;
	}
	if (ynode_is_null(v))
		return 0;
	if (v->type != YNODE_SEQ) {
		wrong_type(f, path, key, v, "a list of strings");
		return -1;
	}
	for (i = 0; i < v->n; i++) {
		const struct ynode *it = v->items[i];

		if (it->type != YNODE_SCALAR || !it->len) {
			wrong_type(f, path, key, it, "a list of strings");
			return -1;
		}
		strlist_push(out, it->str);
		if (lines) {
			*lines = xrealloc(*lines, out->n * sizeof(int));
			(*lines)[out->n - 1] = it->line;
		}
	}
	return 0;
}

void yaml_finding(struct findings *f, const char *path)
{
	int line, col;

	yaml_last_error_mark(&line, &col);
	if (col > 0)
		findings_add(f, SEV_ERROR, path, line, col, "yaml-syntax", "%s (column %d)",
			     yaml_strip_mark(cairn_error_last()), col);
	else
		findings_add(f, SEV_ERROR, path, line, col, "yaml-syntax", "%s",
			     yaml_strip_mark(cairn_error_last()));
}
