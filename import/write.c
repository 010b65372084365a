/* Writing an import: cairn's directories, migration.yaml from the flags,
 * and the converted source files taken out of cairn's migrations/ (where
 * cairn check would refuse them as stray SQL files). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../lib/error.h"
#include "../lib/sha256.h"
#include "../lib/util.h"
#include "../lib/yaml.h"
#include "import-int.h"

static int wanted(const struct import_mig *m)
{
	return !m->skipped && !m->failed;
}

/* imported: the original file and the tool's checksum of it, with the
 * SHA-256 of the up.sql written from it: adopt accepts the tool's checksum
 * for the bundle's up.sql only while up.sql is still what import wrote. */
static void meta_imported(struct buf *b, const struct import *im, const struct import_mig *m)
{
	const struct import_file *up = import_mig_find(m, "up.sql");
	char hex[SHA256_HEX_LEN + 1];

	if (!m->orig_sum || !up || sha256_hex(up->data, up->len, hex))
		return;
	buf_printf(b, "imported:\n  from: %s\n  file: ", im->tool);
	yaml_put_scalar(b, m->orig_file);
	buf_puts(b, "\n  checksum: ");
	yaml_put_scalar(b, m->orig_sum);
	buf_printf(b, "\n  up_sha256: %s\n", hex);
}

static void meta_text(struct buf *b, const struct import *im, const struct import_mig *m)
{
	size_t i;

	buf_printf(b, "# imported from %s: %s\n", im->tool, m->origin);
	meta_imported(b, im, m);
	if (m->description) {
		buf_puts(b, "description: ");
		yaml_put_scalar(b, m->description);
		buf_puts(b, "\n");
	}
	if (m->requires.n) {
		buf_puts(b, "requires:\n");
		for (i = 0; i < m->requires.n; i++) {
			buf_puts(b, "  - ");
			yaml_put_scalar(b, m->requires.items[i]);
			buf_puts(b, "\n");
		}
	}
	if (!m->transaction) {
		buf_puts(b, "transaction: false\n");
	} else if (m->notx_drivers.n) {
		buf_puts(b, "transaction:\n");
		for (i = 0; i < m->notx_drivers.n; i++)
			buf_printf(b, "  %s: false\n", m->notx_drivers.items[i]);
	}
	if (m->irreversible)
		buf_puts(b, "irreversible: true\n");
	if (m->noop)
		buf_puts(b, "noop: true\n");
}

/* in_place: the directory is the tool's own, converted where it is
 * (diesel's 00000000000000_diesel_initial_setup): files are replaced. */
static int put(const char *dir, const char *name, const char *data, size_t len, int in_place,
	       struct strlist *written)
{
	char *p = path_join(dir, name);
	int r = in_place ? write_file_atomic(p, data, len, 0666) : write_file_new(p, data, len, 0666);

	strlist_push(written, p);
	free(p);
	return r;
}

static int write_mig(const struct import *im, const struct import_mig *m, const char *dir,
		     int in_place, struct strlist *written)
{
	struct buf meta = BUF_INIT;
	size_t i;
	int rc = -1;

	if (mkdir_p(dir, 0777) < 0)
		goto out;
	strlist_push(written, dir);
	for (i = 0; i < m->nfiles; i++)
		if (put(dir, m->files[i].name, m->files[i].data, m->files[i].len, in_place,
			written) < 0)
			goto out;
	meta_text(&meta, im, m);
	if (put(dir, "migration.yaml", meta.ptr, meta.len, in_place, written) < 0)
		goto out;
	rc = 0;
out:
	buf_release(&meta);
	return rc;
}

/* The tool's files, once converted, leave cairn's migrations/ (git keeps
 * them in history); anywhere else they stay for the user to remove. */
static void remove_sources(const struct import *im, const char *migrations_dir,
			   const struct strlist *written)
{
	char a[PATH_MAX], b[PATH_MAX];
	size_t i;

	if (!realpath(im->dir, a) || !realpath(migrations_dir, b) || strcmp(a, b))
		return;
	for (i = 0; i < im->consumed.n; i++) {
		/* the same directory: named as the written paths are */
		char *p = path_join(migrations_dir, im->consumed.items[i]);

		if (strlist_has(written, p))
			; /* converted in place */
		else if (is_dir(p))
			rmdir(p); /* empty once its files are gone */
		else
			unlink(p);
		free(p);
	}
}

int import_write(const struct import *im, const char *migrations_dir)
{
	size_t i;
	char **dirs = xcalloc(im->n + 1, sizeof(*dirs));
	int *in_place = xcalloc(im->n + 1, sizeof(*in_place));
	struct strlist written = { NULL, 0, 0 };
	char src[PATH_MAX], dst[PATH_MAX];
	int same = realpath(im->dir, src) && realpath(migrations_dir, dst) && !strcmp(src, dst);
	int rc = -1;

	for (i = 0; i < im->n; i++) {
		const struct import_mig *m = im->migs[i];
		char *name;

		if (!wanted(m))
			continue;
		name = xasprintf("%s_%s", m->version, m->slug);
		dirs[i] = path_join(migrations_dir, name);
		free(name);
		in_place[i] = same && strlist_has(&im->consumed, dirs[i] + strlen(migrations_dir) + 1);
		if (path_exists(dirs[i]) && !in_place[i]) {
			cairn_error_set("'%s' exists already; nothing was written (remove it, or --skip %s)",
					dirs[i], m->version);
			goto out;
		}
	}
	for (i = 0; i < im->n; i++)
		if (dirs[i] && write_mig(im, im->migs[i], dirs[i], in_place[i], &written) < 0)
			goto out;
	remove_sources(im, migrations_dir, &written);
	rc = 0;
out:
	for (i = 0; i < im->n; i++)
		free(dirs[i]);
	free(dirs);
	free(in_place);
	strlist_release(&written);
	return rc;
}

void import_free(struct import *im)
{
	size_t i, j;

	if (!im)
		return;
	for (i = 0; i < im->n; i++) {
		struct import_mig *m = im->migs[i];

		for (j = 0; j < m->nfiles; j++) {
			free(m->files[j].name);
			free(m->files[j].data);
			free(m->files[j].origin);
		}
		free(m->files);
		free(m->version);
		free(m->slug);
		free(m->origin);
		free(m->description);
		free(m->orig_sum);
		free(m->orig_file);
		strlist_release(&m->requires);
		strlist_release(&m->notx_drivers);
		free(m);
	}
	free(im->migs);
	for (i = 0; i < im->nreports; i++) {
		free(im->reports[i].file);
		free(im->reports[i].text);
	}
	free(im->reports);
	for (i = 0; i < im->ncounts; i++)
		free(im->counts[i].kind);
	free(im->counts);
	strlist_release(&im->consumed);
	free(im->dir);
	free(im);
}
