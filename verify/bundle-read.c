/* A verified bundle's members handed out: text kept after its check, or
 * read again from the file (data/ members, text past BUNDLE_TEXT_KEEP) and
 * hashed again against the signed manifest before any byte is given. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/error.h"
#include "../lib/sha256.h"
#include "../lib/util.h"
#include "archive.h"
#include "bundle-int.h"
#include "bundle.h"

const struct bundle_file *bundle_migration_file(const struct bundle_migration *m,
						const char *role, const char *driver)
{
	const struct bundle_file *generic = NULL;
	size_t i, rl = strlen(role);

	for (i = 0; i < m->nfiles; i++) {
		const char *n = m->files[i].name;

		if (strncmp(n, role, rl) || n[rl] != '.')
			continue;
		if (!strcmp(n + rl + 1, "sql"))
			generic = &m->files[i];
		else if (driver && !strncmp(n + rl + 1, driver, strlen(driver)) &&
			 !strcmp(n + rl + 1 + strlen(driver), ".sql"))
			return &m->files[i];
	}
	return generic;
}

static struct kept *find_member(struct bundle_priv *p, const char *name)
{
	size_t lo = 0, hi = p->nmembers;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(p->members[mid].name, name);

		if (!c)
			return &p->members[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

struct stream_to_buf {
	struct buf *out;
};

static int put_chunk(void *ctx, const void *data, size_t len)
{
	return buf_put(((struct stream_to_buf *)ctx)->out, data, len);
}

/* The member's kept state, the bundle read on to its end first when it
 * was opened as an unchanged file. NULL with the error set. */
static struct kept *member_of(struct bundle *b, const struct bundle_file *f)
{
	struct bundle_priv *p = b->priv;
	struct kept *k;

	if (p->broken) {
		cairn_error_set("%s", p->broken);
		return NULL;
	}
	if (bundle_resume(b) < 0)
		return NULL;
	k = find_member(p, f->member);
	if (!k)
		cairn_error_set("member '%s': not in the bundle", f->member);
	return k;
}

int bundle_read(struct bundle *b, const struct bundle_file *f, struct buf *out)
{
	struct kept *k = member_of(b, f);
	struct stream_to_buf ctx = { out };

	if (!k)
		return -1;
	if (!k->is_data && !k->streamed)
		return buf_put(out, k->data ? k->data : "", k->len);
	return bundle_stream(b, f, put_chunk, &ctx);
}

int bundle_member_has_nul(struct bundle *b, const struct bundle_file *f)
{
	struct kept *k = member_of(b, f);

	return k ? k->has_nul : -1;
}

/* A reader at member f, its header read: the kept cursor when f comes
 * after the member it last gave, else a new one from the start. */
static int seek_member(struct bundle *b, const struct bundle_file *f, struct breader **out)
{
	struct bundle_priv *p = b->priv;
	struct breader *r = NULL;
	struct bmember m;
	int n;

	if (p->cursor && p->cursor_after && strcmp(f->member, p->cursor_after) > 0) {
		r = p->cursor;
	} else {
		breader_free(p->cursor);
		if (breader_open(&r, b->path) < 0) {
			p->cursor = NULL;
			return -1;
		}
	}
	p->cursor = NULL;
	while ((n = breader_next(r, &m)) > 0 && strcmp(m.name, f->member))
		;
	if (n <= 0) {
		if (!n)
			cairn_error_set("member '%s': gone from '%s' since it was verified", f->member,
					b->path);
		breader_free(r);
		return -1;
	}
	*out = r;
	return 0;
}

int bundle_stream(struct bundle *b, const struct bundle_file *f,
		  int (*cb)(void *ctx, const void *data, size_t len), void *ctx)
{
	struct kept *k = member_of(b, f);
	struct bundle_priv *p = b->priv;
	struct breader *r = NULL;
	struct sha256_ctx c = { NULL };
	unsigned long long total = 0;
	char hex[65], want[65];
	int rc = -1, n;

	if (!k)
		return -1;
	if (!k->is_data && !k->streamed) {
		const char *d = k->data ? k->data : "";
		size_t off = 0;

		do {
			size_t len = k->len - off > 65536 ? 65536 : k->len - off;

			if (cb(ctx, d + off, len)) {
				cairn_error_set("member '%s': reading stopped", f->member);
				return -1;
			}
			off += len;
		} while (off < k->len);
		return 0;
	}
	/* a data file, or text not kept: read it again, and hash it again,
	 * since the file on disk may have changed since bundle_open */
	if (seek_member(b, f, &r) < 0 || sha256_init(&c) < 0)
		goto out;
	for (;;) {
		const void *d;
		size_t len;

		n = breader_data(r, &d, &len);
		if (n < 0)
			goto out;
		if (!n)
			break;
		total += len;
		sha256_update(&c, d, len);
		if (cb(ctx, d, len)) {
			cairn_error_set("member '%s': reading stopped", f->member);
			goto out;
		}
	}
	if (sha256_final_hex(&c, hex) < 0)
		goto out;
	if (total != f->size || strcmp(hex, bundle_file_hex(f, want))) {
		cairn_error_set("member '%s': changed since it was verified (sha256 differs)", f->member);
		goto out;
	}
	/* the reader stays where this member ended, for the next one */
	free(p->cursor_after);
	p->cursor_after = xstrdup(f->member);
	p->cursor = r;
	r = NULL;
	rc = 0;
out:
	sha256_release(&c);
	breader_free(r);
	return rc;
}

const struct buf *bundle_manifest_bytes(const struct bundle *b)
{
	return &((struct bundle_priv *)b->priv)->manifest;
}

const struct buf *bundle_sums_bytes(const struct bundle *b)
{
	return &((struct bundle_priv *)b->priv)->sums_raw;
}

int bundle_statement_bytes(const struct bundle *b, size_t i, const struct buf **yaml,
			   const struct buf **sig)
{
	struct bundle_priv *p = b->priv;

	if (i >= p->npairs)
		return -1;
	*yaml = &p->pairs[i].yaml;
	*sig = &p->pairs[i].sig;
	return 0;
}

/* the members' sorted order is SHA256SUMS's (bundle-cross.c) */
const struct bundle_file **bundle_files_sorted(const struct bundle *b, size_t *n)
{
	return bundle_files_sums_order(b, n);
}
