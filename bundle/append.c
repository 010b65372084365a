#include <stdlib.h>
#include <string.h>

#include "../lib/error.h"
#include "../lib/util.h"
#include "../verify/archive.h"
#include "../policy/config.h"
#include "append.h"
#include "write.h"

void stmt_pair_release(struct stmt_pair *p)
{
	if (!p)
		return;
	free(p->base);
	buf_release(&p->yaml);
	buf_release(&p->sig);
	memset(p, 0, sizeof(*p));
}

struct member {
	char *name;
	const struct buf *data;
};

static int cmp_member(const void *a, const void *b)
{
	return member_cmp(((const struct member *)a)->name, ((const struct member *)b)->name);
}

static int write_chunk(void *ctx, const void *data, size_t len)
{
	return bwriter_write(ctx, data, len);
}

/* Is base one of the new pairs (which then replace the old)? */
static int replaced(const char *member, const struct stmt_pair *pairs, size_t n)
{
	size_t i, l;

	for (i = 0; i < n; i++) {
		l = strlen(pairs[i].base);
		if (!strncmp(member, pairs[i].base, l) &&
		    (!strcmp(member + l, ".yaml") || !strcmp(member + l, ".sig")))
			return 1;
	}
	return 0;
}

/* The bundle rewritten with pairs added and the statements signed by
 * drop_key (when set) left out. */
static int rewrite(struct bundle *b, const char *out_path, const struct stmt_pair *pairs,
		   size_t n, const char *drop_key, size_t *dropped)
{
	struct member *ms = NULL;
	const struct bundle_file **files = NULL;
	struct bwriter *w = NULL;
	size_t nm = 0, alloc = 0, nf = 0, i;
	long long mtime;
	int rc = -1;

	if (parse_rfc3339(b->build_time, &mtime) < 0) {
		cairn_error_set("member 'manifest.yaml': build time '%s' is not a UTC time",
				b->build_time ? b->build_time : "");
		return -1;
	}
	for (i = 0; i < b->nstatements; i++) {
		const struct buf *y, *s;
		const char *member = b->statements[i].member;

		if (replaced(member, pairs, n))
			continue;
		if (drop_key && b->statements[i].key_id && !strcmp(b->statements[i].key_id, drop_key)) {
			(*dropped)++;
			continue;
		}
		if (bundle_statement_bytes(b, i, &y, &s) < 0) {
			cairn_error_set("cannot read statement '%s' again", member);
			goto out;
		}
		ALLOC_GROW(ms, nm + 2, alloc);
		ms[nm].name = xstrdup(member);
		ms[nm++].data = y;
		ms[nm].name = xasprintf("%.*s.sig", (int)(strlen(member) - 5), member);
		ms[nm++].data = s;
	}
	for (i = 0; i < n; i++) {
		ALLOC_GROW(ms, nm + 2, alloc);
		ms[nm].name = xasprintf("%s.yaml", pairs[i].base);
		ms[nm++].data = &pairs[i].yaml;
		ms[nm].name = xasprintf("%s.sig", pairs[i].base);
		ms[nm++].data = &pairs[i].sig;
	}
	if (nm)
		qsort(ms, nm, sizeof(*ms), cmp_member);
	files = bundle_files_sorted(b, &nf);

	if (bwriter_open(&w, out_path, b->name, mtime) < 0)
		goto out;
	if (bwriter_add(w, "manifest.yaml", bundle_manifest_bytes(b)->ptr,
			bundle_manifest_bytes(b)->len) < 0 ||
	    bwriter_add(w, "SHA256SUMS", bundle_sums_bytes(b)->ptr, bundle_sums_bytes(b)->len) < 0)
		goto out;
	for (i = 0; i < nm; i++)
		if (bwriter_add(w, ms[i].name, ms[i].data->ptr ? ms[i].data->ptr : "",
				ms[i].data->len) < 0)
			goto out;
	for (i = 0; i < nf; i++)
		if (bwriter_begin(w, files[i]->member, files[i]->size) < 0 ||
		    bundle_stream(b, files[i], write_chunk, w) < 0)
			goto out;
	if (bwriter_commit(w) < 0)
		goto out;
	rc = 0;
out:
	bwriter_free(w);
	for (i = 0; i < nm; i++)
		free(ms[i].name);
	free(ms);
	free(files);
	return rc;
}

int bundle_append_statements(struct bundle *b, const char *out_path,
			     const struct stmt_pair *pairs, size_t n)
{
	return rewrite(b, out_path, pairs, n, NULL, NULL);
}

int bundle_strip_statements(struct bundle *b, const char *out_path, const char *key_id,
			    size_t *removed)
{
	*removed = 0;
	return rewrite(b, out_path, NULL, 0, key_id, removed);
}
