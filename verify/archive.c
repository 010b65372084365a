#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../lib/error.h"
#include "../lib/sha256.h"
#include "archive.h"

struct breader {
	struct archive *a;
	char *top;
	char *prev;        /* the previous member's name, for the order check */
	char name[BUNDLE_MAX_NAME + 1];
	unsigned long long size, done;
	int in_member;
};

const char *member_path_problem(const char *name)
{
	const char *c = name;

	if (!*name)
		return "an empty name";
	if (*name == '/')
		return "an absolute path";
	for (;;) {
		const char *slash = strchr(c, '/');
		size_t len = slash ? (size_t)(slash - c) : strlen(c);

		if (!len)
			return "an empty component";
		if (len == 1 && c[0] == '.')
			return "a '.' component";
		if (len == 2 && c[0] == '.' && c[1] == '.')
			return "a '..' component";
		if (!slash)
			break;
		c = slash + 1;
	}
	for (c = name; *c; c++) {
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			return "a control character";
		if (*c == '\\')
			return "a backslash";
	}
	return NULL;
}

int member_path_safe(const char *name)
{
	return member_path_problem(name) == NULL;
}

int member_rank(const char *name)
{
	if (!strcmp(name, "manifest.yaml"))
		return RANK_MANIFEST;
	if (!strcmp(name, "SHA256SUMS"))
		return RANK_SUMS;
	if (!strncmp(name, "signatures/", 11) && name[11] && !strchr(name + 11, '/'))
		return RANK_SIGNATURE;
	if (!strncmp(name, "approvals/", 10) && name[10] && !strchr(name + 10, '/'))
		return RANK_APPROVAL;
	if (!strncmp(name, "migrations/", 11) && strchr(name + 11, '/'))
		return RANK_MIGRATION;
	return -1;
}

int member_cmp(const char *a, const char *b)
{
	int ra = member_rank(a), rb = member_rank(b);

	if (ra != rb)
		return ra < rb ? -1 : 1;
	return strcmp(a, b);
}

int breader_open(struct breader **out, const char *path)
{
	struct breader *r = xcalloc(1, sizeof(*r));

	*out = NULL;
	r->a = archive_read_new();
	if (!r->a) {
		free(r);
		cairn_error_set("out of memory opening '%s'", path);
		return -1;
	}
	archive_read_support_filter_gzip(r->a);
	archive_read_support_format_tar(r->a);
	if (archive_read_open_filename(r->a, path, 1 << 16) != ARCHIVE_OK) {
		int e = archive_errno(r->a);

		if (e == ENOENT || e == EACCES || e == EISDIR || e == EPERM)
			cairn_error_set("cannot read '%s': %s", path, strerror(e));
		else
			cairn_error_set("not a bundle: %s (a bundle is a gzip-compressed tarball; "
					"truncated or damaged archive?)", archive_error_string(r->a));
		breader_free(r);
		return -1;
	}
	*out = r;
	return 0;
}

static int damaged(struct breader *r, const char *what)
{
	const char *e = archive_error_string(r->a);

	if (*r->name)
		cairn_error_set("member '%s': %s: %s (truncated or damaged archive)", r->name,
				what, e ? e : "unknown error");
	else
		cairn_error_set("%s: %s (truncated or damaged archive)", what, e ? e : "unknown error");
	return -1;
}

int breader_next(struct breader *r, struct bmember *m)
{
	struct archive_entry *e;
	const char *path, *shown, *slash, *rest;
	unsigned int type;
	int rc;

	memset(m, 0, sizeof(*m));
	/* skip what the caller left of the previous member, so its bytes are
	 * still read (and a damaged tail still noticed) */
	if (r->in_member) {
		const void *d;
		size_t len;
		int k;

		while ((k = breader_data(r, &d, &len)) > 0)
			;
		if (k < 0)
			return -1;
	}
	rc = archive_read_next_header(r->a, &e);
	if (rc == ARCHIVE_EOF) {
		if (!r->top) {
			cairn_error_set("not a bundle: the archive is empty");
			return -1;
		}
		*r->name = '\0';
		return 0;
	}
	if (rc != ARCHIVE_OK) {
		*r->name = '\0';
		if (rc == ARCHIVE_WARN)
			return damaged(r, "unexpected tar header");
		return damaged(r, r->prev ? "cannot read the next member" : "not a gzip-compressed tarball");
	}
	if (archive_filter_code(r->a, 0) != ARCHIVE_FILTER_GZIP) {
		cairn_error_set("not a bundle: not a gzip-compressed tarball");
		return -1;
	}
	path = archive_entry_pathname(e);
	if (!path || !*path) {
		cairn_error_set("member without a name");
		return -1;
	}
	if (strlen(path) > BUNDLE_MAX_NAME) {
		cairn_error_set("member '%.60s...': name longer than %d bytes", path, BUNDLE_MAX_NAME);
		return -1;
	}
	/* messages name a member inside the top directory, as SHA256SUMS does */
	shown = path;
	if (r->top && !strncmp(path, r->top, strlen(r->top)) && path[strlen(r->top)] == '/' &&
	    path[strlen(r->top) + 1])
		shown = path + strlen(r->top) + 1;
	type = archive_entry_filetype(e);
	if (archive_entry_hardlink(e)) {
		cairn_error_set("member '%s': hard link (a bundle holds regular files only)", shown);
		return -1;
	}
	if (type == AE_IFLNK || archive_entry_symlink(e)) {
		cairn_error_set("member '%s': symbolic link (a bundle holds regular files only)", shown);
		return -1;
	}
	if (type == AE_IFCHR || type == AE_IFBLK || type == AE_IFIFO || type == AE_IFSOCK) {
		cairn_error_set("member '%s': device or special file (a bundle holds regular files only)",
				shown);
		return -1;
	}
	if (type == AE_IFDIR) {
		cairn_error_set("member '%s': directory entry (a bundle holds regular files only)", shown);
		return -1;
	}
	if (type != AE_IFREG || !archive_entry_size_is_set(e) || archive_entry_size(e) < 0 ||
	    archive_entry_sparse_count(e) > 0) {
		cairn_error_set("member '%s': not a plain regular file", shown);
		return -1;
	}
	if (*path == '/') {
		cairn_error_set("member '%s': absolute path (a bundle's members are relative)", shown);
		return -1;
	}
	if (!member_path_safe(path)) {
		cairn_error_set("member '%s': unsafe path: %s", shown, member_path_problem(path));
		return -1;
	}
	slash = strchr(path, '/');
	if (!slash) {
		cairn_error_set("member '%s': outside the bundle's top directory", path);
		return -1;
	}
	if (!r->top) {
		r->top = xstrndup(path, (size_t)(slash - path));
	} else if ((size_t)(slash - path) != strlen(r->top) ||
		   strncmp(path, r->top, (size_t)(slash - path))) {
		cairn_error_set("member '%s': outside the top directory '%s/'", path, r->top);
		return -1;
	}
	rest = slash + 1;
	memcpy(r->name, rest, strlen(rest) + 1);
	m->rank = member_rank(rest);
	if (m->rank < 0) {
		cairn_error_set("member '%s': not part of a bundle (a bundle holds manifest.yaml, "
				"SHA256SUMS, signatures/, approvals/ and migrations/<dir>/)", rest);
		return -1;
	}
	if (r->prev) {
		int c = member_cmp(r->prev, rest);

		if (c == 0) {
			cairn_error_set("member '%s': duplicate member name", rest);
			return -1;
		}
		if (c > 0) {
			cairn_error_set("member '%s': out of order after '%s' (members are sorted: "
					"manifest.yaml, SHA256SUMS, signatures/, approvals/, migrations/)",
					rest, r->prev);
			return -1;
		}
	}
	free(r->prev);
	r->prev = xstrdup(rest);
	r->size = (unsigned long long)archive_entry_size(e);
	r->done = 0;
	r->in_member = 1;
	m->name = r->name;
	m->size = r->size;
	return 1;
}

int breader_data(struct breader *r, const void **data, size_t *len)
{
	la_int64_t off;
	int rc;

	if (!r->in_member)
		return 0;
	rc = archive_read_data_block(r->a, data, len, &off);
	if (rc == ARCHIVE_EOF) {
		r->in_member = 0;
		if (r->done != r->size) {
			cairn_error_set("member '%s': %llu bytes, its header says %llu (truncated archive)",
					r->name, r->done, r->size);
			return -1;
		}
		return 0;
	}
	if (rc != ARCHIVE_OK)
		return damaged(r, "cannot read its data");
	if (off < 0 || (unsigned long long)off != r->done) {
		cairn_error_set("member '%s': data with holes (sparse files are not allowed)", r->name);
		return -1;
	}
	r->done += *len;
	if (r->done > r->size) {
		cairn_error_set("member '%s': more data than its header says", r->name);
		return -1;
	}
	return 1;
}

int breader_slurp(struct breader *r, struct buf *out, char *hex)
{
	struct sha256_ctx c = { NULL };
	const void *d;
	size_t len;
	int k, rc = -1;

	if (hex && sha256_init(&c) < 0)
		return -1;
	while ((k = breader_data(r, &d, &len)) > 0) {
		if (buf_put(out, d, len) < 0) {
			cairn_error_set("member '%s': over the size cap", r->name);
			goto out;
		}
		if (hex && sha256_update(&c, d, len) < 0)
			goto out;
	}
	if (k < 0)
		goto out;
	if (!out->ptr)
		buf_put(out, "", 0);
	if (hex && sha256_final_hex(&c, hex) < 0)
		goto out;
	rc = 0;
out:
	sha256_release(&c);
	return rc;
}

const char *breader_top(const struct breader *r)
{
	return r->top;
}

void breader_free(struct breader *r)
{
	if (!r)
		return;
	archive_read_free(r->a);
	free(r->top);
	free(r->prev);
	free(r);
}
