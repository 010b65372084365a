/* Compares lib/tar.c's headers with libarchive's, byte for byte: the proof
 * that bundles kept their bytes when cairn stopped linking libarchive
 * (docs/design.md, "The writer writes libarchive's bytes"). Not part of the
 * build, which has no libarchive; run it by hand where libarchive-dev is
 * installed, from the top of the tree:
 *
 *   cc -O1 -g -fsanitize=address,undefined -o /tmp/la-headers \
 *      tests/compat/libarchive-headers.c lib/tar.c lib/buf.c lib/error.c -larchive
 *   /tmp/la-headers [N]
 *
 * It writes each case's header through libarchive's pax_restricted writer
 * exactly as bundle/write.c used to (regular file, mode 0644, uid and gid
 * 0, no names, the given mtime and size) and through tar_format_file, and
 * prints the first differences. Cases: N random names (0 to 1,024 bytes,
 * slashes anywhere) with sizes and mtimes at every limit, then one or two
 * slashes at every place of names of 95 to 262 bytes. Expect, with
 * libarchive 3.6.2: "0 differ". */
#include <archive.h>
#include <archive_entry.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/buf.h"
#include "../../lib/error.h"
#include "../../lib/tar.h"

static unsigned char got[65536];
static size_t ngot;
static int stop;

/* Keeps what libarchive writes up to the end of the header, then fails
 * the write, so a 1 TiB member costs nothing. */
static la_ssize_t keep(struct archive *a, void *ctx, const void *b, size_t n)
{
	(void)a;
	(void)ctx;
	if (stop)
		return -1;
	if (n > sizeof(got) - ngot)
		n = sizeof(got) - ngot;
	memcpy(got + ngot, b, n);
	ngot += n;
	return (la_ssize_t)n;
}

static int la_header(const char *name, unsigned long long size, long long mtime)
{
	struct archive *a = archive_write_new();
	struct archive_entry *e = archive_entry_new();
	int rc;

	archive_write_set_format_pax_restricted(a);
	archive_write_set_bytes_per_block(a, 0);
	ngot = 0;
	stop = 0;
	archive_write_open(a, NULL, NULL, keep, NULL);
	archive_entry_set_pathname(e, name);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, (la_int64_t)size);
	archive_entry_set_mtime(e, (time_t)mtime, 0);
	archive_entry_set_uid(e, 0);
	archive_entry_set_gid(e, 0);
	rc = archive_write_header(a, e);
	archive_entry_free(e);
	stop = 1;
	archive_write_free(a);
	return rc;
}

static int bad, refused, n;

static void compare(const char *name, unsigned long long size, long long mtime)
{
	struct buf mine = BUF_INIT;
	int mrc;

	n++;
	if (la_header(name, size, mtime) != ARCHIVE_OK) {
		refused++;
		return;
	}
	mrc = tar_format_file(&mine, name, size, mtime);
	if (mrc < 0 || mine.len != ngot || memcmp(mine.ptr, got, ngot)) {
		if (bad++ < 5) {
			size_t i = 0;

			while (mrc == 0 && i < ngot && i < mine.len && (unsigned char)mine.ptr[i] == got[i])
				i++;
			printf("differ: '%s' (%zu bytes) size %llu mtime %lld: at byte %zu of %zu/%zu\n",
			       name, strlen(name), size, mtime, i, mine.len, ngot);
		}
	}
	buf_release(&mine);
}

static unsigned long long rnd(void)
{
	return ((unsigned long long)random() << 31) ^ (unsigned long long)random();
}

int main(int argc, char **argv)
{
	static const unsigned long long sizes[] = {
		0, 1, 511, 512, 513, 8589934591ULL, 8589934592ULL, 68719476735ULL,
		68719476736ULL, 1ULL << 40, 1ULL << 50,
	};
	static const long long mtimes[] = {
		0, 1, 1767323045, 0x7ffffffe, 0x7fffffff, 0x80000000LL, 8589934591LL,
		8589934592LL, -1, -1767323045, -(1LL << 40),
	};
	const char alpha[] = "abc/_-.x0123456789";
	int cases = argc > 1 ? atoi(argv[1]) : 100000, i, len, a, b;
	char name[1100];

	srandom(42);
	for (i = 0; i < cases; i++) {
		int k;

		len = 1 + (int)(rnd() % (i % 3 == 0 ? 1024 : 300));
		for (k = 0; k < len; k++)
			name[k] = alpha[rnd() % (rnd() % 4 ? 3 : sizeof(alpha) - 1)];
		name[len] = '\0';
		if (i % 5 == 0)
			for (k = 0; k < len; k++)
				if (name[k] == '/')
					name[k] = 'q';
		if (i % 7 == 0 && len > 20)
			for (k = 0; k < len; k++)
				name[k] = k % 37 == 36 ? '/' : 'n';
		compare(name, i % 4 ? rnd() % 100000 : sizes[rnd() % (sizeof(sizes) / sizeof(*sizes))],
			i % 4 ? 1767323045 : mtimes[rnd() % (sizeof(mtimes) / sizeof(*mtimes))]);
	}
	for (len = 95; len <= 262; len++)
		for (a = 0; a < len; a++)
			for (b = a; b < len; b += b < a + 3 ? 1 : 17) {
				memset(name, 'n', (size_t)len);
				name[len] = '\0';
				name[a] = '/';
				name[b] = '/';
				if ((a * 7 + b) % 11 == 0)
					name[len - 1] = '/';
				compare(name, 1, 1767323045);
			}
	printf("%d cases, %d differ, %d refused by libarchive (%s)\n", n, bad, refused,
	       archive_version_string());
	return bad != 0;
}
