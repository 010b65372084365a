/* bundle_open's last step (bundle.c): the manifest's files against
 * SHA256SUMS and the members read, once the parse is done; and the
 * manifest's files in SHA256SUMS's order, for it and for an unchanged
 * file's reader that reads on (bundle_resume). */
#include <stdlib.h>
#include <string.h>

#include "../lib/error.h"
#include "../lib/util.h"
#include "bundle-int.h"
#include "bundle.h"
#include "manifest.h"

static int cmp_file_member(const void *a, const void *b)
{
	return strcmp((*(const struct bundle_file *const *)a)->member,
		      (*(const struct bundle_file *const *)b)->member);
}

/* Step 3: the manifest agrees with SHA256SUMS, and both with what was read.
 * SHA256SUMS was parsed strictly (sums_parse: sorted, unique, one spelling
 * per line), so what it lists, entry by entry, is all there is to compare:
 * equal lists mean the file is the one the manifest's files give. The
 * manifest's files come in its order, which is the paths' sorted order
 * whenever the directory names sort as the versions do (cairn's own
 * bundles): then they are compared as they come, else through a sorted
 * copy of pointers. The members read are in SHA256SUMS's order (entry
 * i + 1 is member i), so their sizes are checked in the same pass. */
/* The manifest's files (the migrations', then the callbacks'), in
 * SHA256SUMS's order: as they come when the directory names sort as the
 * versions do (cairn's own bundles), else through a sorted copy. */
const struct bundle_file **bundle_files_sums_order(const struct bundle *b, size_t *out_n)
{
	const struct bundle_file **files;
	size_t i, j, n = 0;
	int sorted = 1;

	for (i = 0; i < b->nmigs; i++)
		n += b->migs[i].nfiles;
	files = xcalloc(n + b->ncallbacks + 1, sizeof(*files));
	n = 0;
	for (i = 0; i < b->nmigs; i++) {
		for (j = 0; j < b->migs[i].nfiles; j++) {
			files[n] = &b->migs[i].files[j];
			if (n && sorted && strcmp(files[n - 1]->member, files[n]->member) >= 0)
				sorted = 0;
			n++;
		}
	}
	/* the callbacks (format 2): members like the migrations', listed in
	 * SHA256SUMS after them */
	for (i = 0; i < b->ncallbacks; i++) {
		files[n] = &b->callbacks[i];
		if (n && sorted && strcmp(files[n - 1]->member, files[n]->member) >= 0)
			sorted = 0;
		n++;
	}
	if (!sorted)
		qsort(files, n, sizeof(*files), cmp_file_member);
	*out_n = n;
	return files;
}

/* The manifest's next file in SHA256SUMS's order when the parse found
 * the two equal (sums_matched): the migrations' files as they come, then
 * the callbacks'. *at counts them from 0; NULL after the last. */
static const struct bundle_file *file_in_order(const struct bundle *b, size_t *mig, size_t *at)
{
	size_t i = *at;

	for (; *mig < b->nmigs; (*mig)++, i = 0) {
		if (i < b->migs[*mig].nfiles) {
			*at = i + 1;
			return &b->migs[*mig].files[i];
		}
	}
	if (i < b->ncallbacks) {
		*at = i + 1;
		return &b->callbacks[i];
	}
	return NULL;
}

/* Once cross_check found SHA256SUMS equal, entry by entry, to the
 * manifest's files (paths and hashes), SHA256SUMS says nothing the
 * manifest does not: an apply (drop_manifest_bytes) frees it, 2.9 MB at
 * 20,000 migrations (issue #14). The members read so far take their
 * names from the manifest's strings instead; an unchanged file's reader,
 * paused before the first member, has it made again from the manifest
 * by bundle_resume (bundle_sums_remake) before it reads on. The parse
 * may have freed it already (bundle-parse.c: sums_drop_equal): then
 * there is nothing left here to free. files: the
 * manifest's files in SHA256SUMS's order, or NULL when the parse found
 * them in that order (file_in_order). */
static void sums_drop(struct bundle *b, const struct bundle_file **files, size_t n)
{
	struct bundle_priv *p = b->priv;
	size_t i, mig = 0, at = 0;

	if (p->sums.n != n + 1)
		return;
	for (i = 0; i < p->nmembers; i++)
		p->members[i].name = files ? files[i]->member : file_in_order(b, &mig, &at)->member;
	sums_release(&p->sums);
	p->sums_dropped = 1;
}

void bundle_sums_remake(struct bundle *b)
{
	struct bundle_priv *p = b->priv;
	const struct bundle_file **files;
	size_t n;

	files = bundle_files_sums_order(b, &n);
	sums_from_files(&p->sums, b->id + 7, files, n);
	free(files);
	p->sums_dropped = 0;
}

/* cross_check when the parse found the lists equal: the sizes of the
 * members read (every one, unless the reader paused before them). */
static int sizes_check(struct bundle *b, int drop)
{
	struct bundle_priv *p = b->priv;
	const struct bundle_file *f;
	size_t i = 0, mig = 0, at = 0;

	for (; (f = file_in_order(b, &mig, &at)); i++) {
		if (!p->paused && (i >= p->nmembers || p->members[i].size != f->size)) {
			cairn_error_set("member '%s': size differs from manifest.yaml's", f->member);
			return -1;
		}
	}
	if (drop)
		sums_drop(b, NULL, i);
	return 0;
}

int bundle_cross_check(struct bundle *b, const char *top, int drop)
{
	struct bundle_priv *p = b->priv;
	const struct bundle_file **files;
	size_t i, n;
	int rc = -1;

	if (strcmp(b->name, top)) {
		cairn_error_set("member 'manifest.yaml': names the bundle '%s', but its top directory is '%s'",
				b->name, top);
		return -1;
	}
	if (p->sums_matched)
		return sizes_check(b, drop);
	files = bundle_files_sums_order(b, &n);
	/* entry 0 is manifest.yaml, checked when it was read; "manifest.yaml"
	 * sorts before every "migrations/" path */
	for (i = 0; i < n || i + 1 < p->sums.n; i++) {
		const struct sums_entry *have = i + 1 < p->sums.n ? &p->sums.items[i + 1] : NULL;
		int c = !have ? -1 : i >= n ? 1 : strcmp(files[i]->member, have->path);

		if (c < 0) {
			cairn_error_set("member 'SHA256SUMS': does not list '%s', which manifest.yaml lists",
					files[i]->member);
			goto out;
		}
		if (c > 0) {
			cairn_error_set("member 'SHA256SUMS': lists '%s', which manifest.yaml does not",
					have->path);
			goto out;
		}
		if (memcmp(have->sha, files[i]->sha, sizeof(have->sha))) {
			cairn_error_set("member 'SHA256SUMS': the sha256 of '%s' differs from manifest.yaml's",
					files[i]->member);
			goto out;
		}
		/* sizes: every member as large as the manifest says (once read) */
		if (!p->paused && (i >= p->nmembers || p->members[i].size != files[i]->size)) {
			cairn_error_set("member '%s': size differs from manifest.yaml's", files[i]->member);
			goto out;
		}
	}
	if (drop)
		sums_drop(b, files, n);
	rc = 0;
out:
	free(files);
	return rc;
}
