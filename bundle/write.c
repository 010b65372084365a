#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../lib/error.h"
#include "../lib/tmpfile.h"
#include "../lib/util.h"
#include "write.h"

/* libarchive writes the bundle: its pax_restricted tar (a pax header only
 * where ustar cannot say it) behind its gzip filter with the timestamp
 * off (a 10-byte header, no time, no name, OS 3), nothing padded after
 * the two zero records. Those are the bytes every bundle has had, so a
 * commit builds to the same bundle (t0220's golden bundle; design.md). */
struct bwriter {
	struct archive *a;
	char *path, *tmp, *top;
	long long mtime;
	int committed, open;
	int special;                 /* path is /dev/null, /dev/stdout, a FIFO ...: copied into */
	char *member;              /* the member being written, for messages */
	unsigned long long left;   /* bytes it still needs */
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
	w->special = path_is_special(path);
	if (w->special) {
		/* never renamed over (as root that would replace /dev/null with
		 * a file): built beside the other temporary files, then copied */
		const char *dir = getenv("TMPDIR");
		char *base = path_join(dir && *dir ? dir : "/tmp", "cairn-bundle");

		w->tmp = tmpfile_name(base);
		free(base);
	} else {
		w->tmp = tmpfile_name(path);
	}
	tmpfile_hold(w->tmp);
	w->top = xstrdup(top);
	w->mtime = mtime;
	w->a = archive_write_new();
	if (!w->a) {
		cairn_error_set("cannot write '%s': out of memory", path);
		goto bad;
	}
	/* gzip's timestamp option off leaves the header's MTIME zero;
	 * libarchive writes no file name there */
	if (archive_write_set_format_pax_restricted(w->a) != ARCHIVE_OK ||
	    archive_write_add_filter_gzip(w->a) != ARCHIVE_OK ||
	    archive_write_set_filter_option(w->a, "gzip", "timestamp", NULL) != ARCHIVE_OK ||
	    archive_write_set_bytes_in_last_block(w->a, 1) != ARCHIVE_OK) {
		ar_fail(w, "cannot set up libarchive's gzip-compressed tar writer");
		goto bad;
	}
	if (archive_write_open_filename(w->a, w->tmp) != ARCHIVE_OK) {
		cairn_error_set("cannot write '%s': %s", w->tmp, archive_error_string(w->a));
		goto bad;
	}
	w->open = 1;
	*out = w;
	return 0;
bad:
	bwriter_free(w);
	return -1;
}

static int member_short(struct bwriter *w)
{
	cairn_error_set("cannot write '%s': member '%s': %llu bytes short of its size", w->path,
			w->member, w->left);
	return -1;
}

/* A name libarchive cannot write as it is: empty, or not ASCII (in the C
 * locale its pax writer fails with "Can't translate pathname"). */
static int name_problem(const char *full)
{
	const unsigned char *p;

	for (p = (const unsigned char *)full; *p; p++)
		if (*p >= 0x80) {
			cairn_error_set("member '%s': a name that is not ASCII (a bundle's names are "
					"ASCII)", full);
			return -1;
		}
	return 0;
}

int bwriter_begin(struct bwriter *w, const char *name, unsigned long long size)
{
	struct archive_entry *e;
	char *full;
	int rc;

	/* libarchive pads a member written short with zeros, and drops what
	 * goes past its size: both are errors here */
	if (w->left)
		return member_short(w);
	if (!*name) {
		cairn_error_set("cannot write '%s': a member without a name", w->path);
		return -1;
	}
	free(w->member);
	w->member = xstrdup(name);
	full = xstrcat3(w->top, "/", name);
	if (name_problem(full) < 0) {
		cairn_error_set("cannot write '%s': %s", w->path, cairn_error_last());
		free(full);
		return -1;
	}
	e = archive_entry_new();
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
	w->left = size;
	return 0;
}

int bwriter_write(struct bwriter *w, const void *data, size_t len)
{
	const char *p = data;

	if (len > w->left) {
		cairn_error_set("cannot write '%s': member '%s': more data than its size",
				w->path, w->member ? w->member : "");
		return -1;
	}
	while (len) {
		la_ssize_t n = archive_write_data(w->a, p, len);

		if (n <= 0)
			return ar_fail(w, w->member);
		p += n;
		len -= (size_t)n;
		w->left -= (unsigned long long)n;
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
	if (w->left)
		return member_short(w);
	w->open = 0;
	if (archive_write_close(w->a) != ARCHIVE_OK)
		return ar_fail(w, "finishing the archive");
	if (w->special) {
		if (file_copy_into(w->tmp, w->path) < 0)
			return -1;
		unlink(w->tmp);
	} else if (rename(w->tmp, w->path) < 0) {
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
	tmpfile_drop(w->tmp);
	free(w->member);
	free(w->path);
	free(w->tmp);
	free(w->top);
	free(w);
}
