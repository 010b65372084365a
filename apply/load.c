/* From a verified bundle to an apply_set: the migrations in the bundle's
 * order, each with this driver's up, down and verify SQL (the driver's
 * variant when the bundle has one). The bundle was authenticated by
 * bundle_open before any of this is read. */
#include <stdlib.h>
#include <string.h>

#include "../lib/error.h"
#include "../lib/util.h"
#include "../verify/bundle.h"
#include "load.h"

/* Member bytes as a C string; SQL with a NUL inside is refused. */
static int read_sql(struct bundle *b, const struct bundle_file *f, char **out, size_t *len)
{
	struct buf buf = BUF_INIT;

	*out = NULL;
	*len = 0;
	if (!f)
		return 0;
	if (bundle_read(b, f, &buf))
		return -1;
	if (buf.len && memchr(buf.ptr, '\0', buf.len)) {
		cairn_error_set("%s: contains a NUL byte: not SQL text", f->member);
		buf_release(&buf);
		return -1;
	}
	*out = buf.ptr ? buf_detach(&buf, len) : xstrdup("");
	return 0;
}

int apply_set_load(struct apply_set *out, struct bundle *b, const char *driver)
{
	size_t i, j;

	memset(out, 0, sizeof(*out));
	out->bundle_id = xstrdup(b->id);
	out->bundle_name = xstrdup(b->name ? b->name : "");
	out->bundle_path = xstrdup(b->path ? b->path : "");
	out->migs = xcalloc(b->nmigs ? b->nmigs : 1, sizeof(*out->migs));
	for (i = 0; i < b->nmigs; i++) {
		const struct bundle_migration *bm = &b->migs[i];
		struct apply_mig *m = &out->migs[i];
		const struct bundle_file *up = bundle_migration_file(bm, "up", driver);

		out->n = i + 1;
		m->version = xstrdup(bm->version);
		m->name = xstrdup(bm->name);
		m->checksum = xstrdup(bm->checksum);
		m->description = xstrdup(bm->description ? bm->description : "");
		m->transaction = bm->transaction;
		m->irreversible = bm->irreversible;
		m->batch = bm->batch;
		m->timeout_ms = bm->timeout_ms;
		m->lock_timeout_ms = bm->lock_timeout_ms;
		m->environments = xcalloc(bm->nenvironments ? bm->nenvironments : 1, sizeof(char *));
		for (j = 0; j < bm->nenvironments; j++)
			m->environments[j] = xstrdup(bm->environments[j]);
		m->nenvironments = bm->nenvironments;
		if (!up) {
			cairn_error_set("migration %s has no up script for %s", bm->name, driver);
			goto fail;
		}
		m->up_path = xstrdup(up->member);
		if (read_sql(b, up, &m->up, &m->up_len) ||
		    read_sql(b, bundle_migration_file(bm, "down", driver), &m->down, &m->down_len) ||
		    read_sql(b, bundle_migration_file(bm, "verify", driver), &m->verify,
			     &m->verify_len))
			goto fail;
	}
	/* the set keeps the bundle open: data files are streamed from it at
	 * apply time, never held whole in memory. It borrows it: the caller
	 * hands it over by setting owns_bundle. */
	out->bundle = b;
	out->owns_bundle = 0;
	for (i = 0; i < out->n; i++) {
		out->migs[i].bundle = b;
		out->migs[i].bm = &b->migs[i];
	}
	return 0;
fail:
	apply_set_release(out);
	return -1;
}
