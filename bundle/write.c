#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../lib/error.h"
#include "write.h"

struct bwriter {
	struct archive *a;
	char *path, *tmp, *top;
	long long mtime;
	int committed, open;
};

static int ar_fail(struct bwriter *w, const char *what)
{
	cairn_error_set("cannot write '%s': %s: %s", w->path, what, archive_error_string(w->a));
	return -1;
}

int bwriter_open(struct bwriter **out, const char *path, const char *top, long long mtime)
{
	struct bwriter *w = xcalloc(1, sizeof(*w));

	*out = NULL;
	w->path = xstrdup(path);
	w->tmp = xasprintf("%s.tmp%ld", path, (long)getpid());
	w->top = xstrdup(top);
	w->mtime = mtime;
	w->a = archive_write_new();
	if (!w->a) {
		cairn_error_set("out of memory");
		bwriter_free(w);
		return -1;
	}
	/* gzip:!timestamp leaves the gzip header's MTIME zero; libarchive
	 * writes no file name there */
	if (archive_write_set_format_pax_restricted(w->a) != ARCHIVE_OK ||
	    archive_write_add_filter_gzip(w->a) != ARCHIVE_OK ||
	    archive_write_set_filter_option(w->a, "gzip", "timestamp", NULL) != ARCHIVE_OK) {
		ar_fail(w, "cannot set up the gzip-compressed tar writer");
		bwriter_free(w);
		return -1;
	}
	if (archive_write_open_filename(w->a, w->tmp) != ARCHIVE_OK) {
		cairn_error_set("cannot write '%s': %s", w->tmp, archive_error_string(w->a));
		bwriter_free(w);
		return -1;
	}
	w->open = 1;
	*out = w;
	return 0;
}

int bwriter_begin(struct bwriter *w, const char *name, unsigned long long size)
{
	struct archive_entry *e = archive_entry_new();
	char *full = xasprintf("%s/%s", w->top, name);
	int rc;

	archive_entry_set_pathname(e, full);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, (la_int64_t)size);
	archive_entry_set_mtime(e, (time_t)w->mtime, 0);
	archive_entry_set_uid(e, 0);
	archive_entry_set_gid(e, 0);
	rc = archive_write_header(w->a, e);
	archive_entry_free(e);
	free(full);
	if (rc != ARCHIVE_OK)
		return ar_fail(w, name);
	return 0;
}

int bwriter_write(struct bwriter *w, const void *data, size_t len)
{
	const char *p = data;

	while (len) {
		la_ssize_t n = archive_write_data(w->a, p, len);

		if (n <= 0)
			return ar_fail(w, "writing data");
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int bwriter_add(struct bwriter *w, const char *name, const void *data, size_t len)
{
	if (bwriter_begin(w, name, len) < 0)
		return -1;
	return bwriter_write(w, data, len);
}

int bwriter_commit(struct bwriter *w)
{
	w->open = 0;
	if (archive_write_close(w->a) != ARCHIVE_OK)
		return ar_fail(w, "finishing the archive");
	if (rename(w->tmp, w->path) < 0) {
		cairn_error_set("cannot write '%s': %s", w->path, strerror(errno));
		return -1;
	}
	w->committed = 1;
	return 0;
}

void bwriter_free(struct bwriter *w)
{
	if (!w)
		return;
	if (w->a) {
		if (w->open)
			archive_write_close(w->a);
		archive_write_free(w->a);
	}
	if (!w->committed && w->tmp)
		unlink(w->tmp);
	free(w->path);
	free(w->tmp);
	free(w->top);
	free(w);
}
