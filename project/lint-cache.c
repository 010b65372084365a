/* check --staged's cache of the SQLite linter's replayed database (issue
 * #18): the in-memory database after migrations 1..k, kept in a file
 * under the git directory, keyed by what the replay read. The key of
 * prefix k is the sha256 of a line naming the cache's format, the cairn
 * version, SQLite's source id and max_file_size, then for each migration
 * 1..k its directory, the path and the blob id of its SQLite up script,
 * each ended by a NUL (no part holds one): one list, one hash. An edited,
 * added, removed or reordered earlier migration changes the key of every
 * prefix that holds it, so such a file is never found again.
 *
 * A file: "cairn-lint-cache 2 KEY CRC32 K\n" (K: the prefix, 10 digits),
 * then lint_sqlite_save's bytes, whose CRC-32 (8 hex digits) the line
 * holds. Format 1 chained one SHA-256 per migration (the key of k over the
 * key of k - 1) to have every prefix's key at once; the line now names its
 * k, so only the k of the few files there are hashed. Anything else (short,
 * damaged, another key) is ignored: the replay runs from the start. The
 * checksum finds damage, not a forger: whoever can write the file can
 * write a matching sum of any kind (format 1 held a SHA-256 of the 11 MB
 * file of the 10,000-migration benchmark: ~7 ms of CPU with the CPU's SHA
 * instructions, where zlib's CRC-32 takes ~2 ms). The key, which decides
 * what the file stands for, stays a SHA-256. 'cairn build' never comes
 * here (it always replays: the bundle is the trust boundary). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>
#include <zlib.h>

#include "../lib/error.h"
#include "../lib/sha256.h"
#include "../lib/util.h"
#include "project.h"

#define LC_FORMAT "3"
#define LC_KEEP 2                      /* files kept: the newest ones */
#define LC_MAX_SIZE ((size_t)256 << 20) /* a larger file is not read */
#define LC_TRY 4                       /* files tried, from the longest prefix */
#define LC_SUBSET_MAX 64               /* scripts after the prefix, at most, for a subset */
#define LC_HEAD_LEN (sizeof("cairn-lint-cache " LC_FORMAT " ") - 1 + 64 + 1 + 8 + 1 + 10 + 1)

/* The body's CRC-32 as 8 hex digits (zlib's crc32_z takes any length). */
static void body_sum(const void *data, size_t len, char out[9])
{
	uLong crc = crc32_z(0L, Z_NULL, 0);

	crc = crc32_z(crc, (const Bytef *)data, len);
	hex_encode((const unsigned char[4]){ (unsigned char)(crc >> 24), (unsigned char)(crc >> 16),
					     (unsigned char)(crc >> 8), (unsigned char)crc }, 4, out);
	out[8] = '\0';
}

/* What the replay of m reads: its SQLite up script's path and blob id (or
 * content hash, where the source has no blob id), "-" when none. */
static int mig_id(struct project *p, const struct migration *m, char **path, char id[65])
{
	const struct mig_file *mf = project_sqlite_up(p, m);
	struct buf b = BUF_INIT;
	int r;

	*path = NULL;
	if (!mf) {
		memcpy(id, "-", 2);
		return 0;
	}
	*path = mf->path;
	if (mf->has_oid) {
		git_oid_tostr(id, 65, &mf->oid);
		return 0;
	}
	r = source_read(p->src, mf->path, p->cfg.max_file_size, &b);
	if (r == 0 && sha256_hex(b.ptr, b.len, id) < 0)
		r = -2;
	else if (r != 0)
		memcpy(id, "unread", 7); /* missing or over the cap: not replayed */
	buf_release(&b);
	return r == -2 ? -1 : 0;
}

/* The key of prefix k (see the top): one streaming SHA-256, fed in
 * pieces of about 4 KiB (an update per migration cost more than the
 * hashing on the 10,000-migration benchmark). */
static int key_of(struct project *p, size_t k, unsigned char out[32])
{
	char base[256];
	int n = snprintf(base, sizeof(base), "cairn-lint-cache %s\n%s\n%s\n%llu\n", LC_FORMAT,
			 CAIRN_VERSION, lint_sqlite_id(), p->cfg.max_file_size);
	struct sha256_ctx x = { NULL };
	struct buf in = BUF_INIT;
	size_t i;
	int rc = -1;

	if (n < 0 || (size_t)n >= sizeof(base) || sha256_init(&x) < 0)
		return -1;
	if (buf_put(&in, base, (size_t)n + 1) < 0)
		goto out;
	for (i = 0; i < k && i < p->n; i++) {
		char id[65], *path;

		if (mig_id(p, p->migs[i], &path, id) < 0 ||
		    buf_put(&in, p->migs[i]->dir, strlen(p->migs[i]->dir) + 1) < 0 ||
		    buf_put(&in, path ? path : "-", strlen(path ? path : "-") + 1) < 0 ||
		    buf_put(&in, id, strlen(id) + 1) < 0)
			goto out;
		if (in.len >= 4096) {
			if (sha256_update(&x, in.ptr, in.len) < 0)
				goto out;
			buf_reset(&in);
		}
	}
	if (i < k || sha256_update(&x, in.ptr, in.len) < 0)
		goto out;
	rc = sha256_final_raw(&x, out); /* gives the context back */
	x.md = NULL;
out:
	sha256_release(&x);
	buf_release(&in);
	return rc;
}

static char *entry_path(const struct project *p, const unsigned char key[32])
{
	char hex[65];

	hex_encode(key, 32, hex);
	hex[64] = '\0';
	return xasprintf("%s/%s.db", p->lint_cache_dir, hex);
}

/* The names in the cache directory that look like entries. */
static size_t list_entries(const char *dir, char ***out)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **names = NULL;
	size_t n = 0, alloc = 0;

	*out = NULL;
	if (!d)
		return 0;
	while ((e = readdir(d)))
		if (strlen(e->d_name) == 67 && ends_with(e->d_name, ".db")) {
			ALLOC_GROW(names, n + 1, alloc);
			names[n++] = xstrdup(e->d_name);
		}
	closedir(d);
	*out = names;
	return n;
}

static void free_names(char **names, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

static int read_full(int fd, void *p, size_t n)
{
	char *c = p;

	while (n > 0) {
		ssize_t r = read(fd, c, n > ((size_t)1 << 30) ? (size_t)1 << 30 : n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		c += r;
		n -= (size_t)r;
	}
	return 0;
}

/* Reads the entry for key into p->lint_db; 0 on success. The database's
 * bytes go straight into the buffer SQLite then owns (41 MB on the
 * 10,000-table benchmark: one copy less is ~20 ms less). */
/* The prefix a file's header line names (its k), from the name's key;
 * 0 when the file cannot be read or its line is not a header for it. */
static size_t entry_prefix(const struct project *p, const char *name)
{
	char *path = xasprintf("%s/%s", p->lint_cache_dir, name), head[LC_HEAD_LEN + 1];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t k = 0, i;

	free(path);
	if (fd < 0)
		return 0;
	if (read_full(fd, head, LC_HEAD_LEN) == 0 &&
	    !memcmp(head, "cairn-lint-cache " LC_FORMAT " ", LC_HEAD_LEN - 85) &&
	    !memcmp(head + LC_HEAD_LEN - 85, name, 64) && head[LC_HEAD_LEN - 1] == '\n') {
		for (i = LC_HEAD_LEN - 11; i < LC_HEAD_LEN - 1; i++) {
			if (head[i] < '0' || head[i] > '9') {
				k = 0;
				break;
			}
			k = k * 10 + (size_t)(head[i] - '0');
		}
	}
	close(fd);
	return k;
}

/* The subset of the entry open on fd (lint_sqlite_load_subset): its
 * catalog read from the end of the file, the database's bytes not read
 * at all. head: the file's line, checked but for the whole body's CRC-32,
 * which covers the database (the catalog has its own). 1 when built, 0
 * when the whole database is needed, -1 on a bad file. */
static int load_subset(struct project *p, int fd, const char *head, const char *hex, size_t k,
		       size_t len, const struct buf *scripts)
{
	size_t tail = lint_sqlite_tail_size(), n;
	char want[LC_HEAD_LEN + 1], *cat = NULL;
	long long clen;
	int rc = -1;

	if (snprintf(want, sizeof(want), "cairn-lint-cache " LC_FORMAT " %s %s %010zu\n", hex,
		     "00000000", k) != (int)LC_HEAD_LEN ||
	    memcmp(head, want, LC_HEAD_LEN - 20) || memcmp(head + LC_HEAD_LEN - 12, want + LC_HEAD_LEN - 12, 12))
		return -1;
	if (len < tail)
		return -1;
	cat = xcalloc(tail + 1, 1);
	if (pread(fd, cat, tail, (off_t)(LC_HEAD_LEN + len - tail)) != (ssize_t)tail ||
	    (clen = lint_sqlite_catalog_size(cat)) < 0 || (size_t)clen > len - tail)
		goto out;
	n = (size_t)clen + tail;
	free(cat);
	cat = xcalloc(n + 1, 1);
	if (lseek(fd, (off_t)(LC_HEAD_LEN + len - n), SEEK_SET) < 0 || read_full(fd, cat, n) < 0)
		goto out;
	rc = lint_sqlite_load_subset(p->lint_db, cat, n, buf_cstr(scripts), scripts->len);
out:
	free(cat);
	return rc;
}

/* Reads the entry for key (prefix k) into p->lint_db; 0 on success. The
 * database's bytes go straight into the buffer SQLite then owns (41 MB on
 * the 10,000-table benchmark: one copy less is ~20 ms less). */
static int load_entry(struct project *p, const unsigned char key[32], size_t k,
		      const struct buf *scripts)
{
	char *path = entry_path(p, key), head[LC_HEAD_LEN + 1], want[LC_HEAD_LEN + 1];
	char hex[65], sum[9];
	void *data = NULL;
	size_t len = 0;
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc = -1;

	hex_encode(key, 32, hex);
	hex[64] = '\0';
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    (unsigned long long)st.st_size > LC_MAX_SIZE || (size_t)st.st_size < LC_HEAD_LEN)
		goto out;
	len = (size_t)st.st_size - LC_HEAD_LEN;
	if (read_full(fd, head, LC_HEAD_LEN) < 0)
		goto out;
	if (scripts) {
		rc = load_subset(p, fd, head, hex, k, len, scripts);
		if (rc != 0)
			goto out; /* 1: done; -1: a bad file */
		rc = -1;
	}
	if (lseek(fd, LC_HEAD_LEN, SEEK_SET) < 0 || !(data = lint_sqlite_buffer(len)) ||
	    read_full(fd, data, len) < 0)
		goto out;
	body_sum(data, len, sum);
	head[LC_HEAD_LEN] = '\0';
	if (snprintf(want, sizeof(want), "cairn-lint-cache " LC_FORMAT " %s %s %010zu\n", hex, sum,
		     k) != (int)LC_HEAD_LEN || strcmp(head, want))
		goto out;
	rc = lint_sqlite_load(p->lint_db, data, len);
	data = NULL; /* taken */
out:
	if (rc > 0) {
		p->lint_cache_subset = 1; /* only what the scripts reach */
		rc = 0;
	}
	if (rc == 0)
		(void)utimes(path, NULL); /* the newest: kept when others are pruned */
	lint_sqlite_buffer_free(data);
	if (fd >= 0)
		close(fd);
	free(path);
	return rc;
}

struct lc_candidate {
	size_t k;
	const char *name;
};

static int by_prefix_desc(const void *a, const void *b)
{
	const struct lc_candidate *x = a, *y = b;

	return x->k < y->k ? 1 : x->k > y->k ? -1 : 0;
}

/* The SQLite up scripts of the migrations from upto on, which run on the
 * loaded database (linted or replayed): what a subset of it must hold
 * (lint_sqlite_load_subset). 0, or -1 when they cannot all be read or are
 * too many: the whole database is loaded then. */
static int scripts_after(struct project *p, size_t upto, struct buf *out)
{
	size_t i;

	if (p->n - upto > LC_SUBSET_MAX)
		return -1;
	for (i = upto; i < p->n; i++) {
		const struct mig_file *mf = project_sqlite_up(p, p->migs[i]);

		struct buf b = BUF_INIT;
		int r = mf ? source_read(p->src, mf->path, p->cfg.max_file_size, &b) : 1;

		if (r < 0 || (r == 0 && (buf_put(out, b.ptr, b.len) < 0 || buf_putc(out, '\n') < 0))) {
			buf_release(&b);
			return -1;
		}
		buf_release(&b);
	}
	return 0;
}

size_t lint_cache_load(struct project *p, size_t upto)
{
	char **names;
	size_t n = list_entries(p->lint_cache_dir, &names), i, nc = 0, got = 0;
	struct lc_candidate *c = xcalloc(n + 1, sizeof(*c));

	struct buf scripts = BUF_INIT;
	int have_scripts = scripts_after(p, upto, &scripts) == 0;

	p->lint_cache_used = 0;
	for (i = 0; i < n; i++) {
		size_t k = entry_prefix(p, names[i]);

		if (k && k <= upto) {
			c[nc].k = k;
			c[nc++].name = names[i];
		}
	}
	qsort(c, nc, sizeof(*c), by_prefix_desc);
	/* the longest prefixes first; a file whose name is not the key of
	 * its k as this project computes it is another history's */
	for (i = 0; i < nc && i < LC_TRY && !got; i++) {
		unsigned char key[32];
		char hex[65];

		if (key_of(p, c[i].k, key) < 0)
			break;
		hex_encode(key, 32, hex);
		if (strncmp(c[i].name, hex, 64))
			continue;
		if (load_entry(p, key, c[i].k, c[i].k == upto && have_scripts ? &scripts : NULL) == 0) {
			got = c[i].k;
			break;
		}
		/* a bad file: start again on a fresh database */
		lint_sqlite_free(p->lint_db);
		p->lint_db = NULL;
		if (lint_sqlite_open(&p->lint_db, 1) < 0)
			break;
	}
	p->lint_cache_used = got;
	buf_release(&scripts);
	free(c);
	free_names(names, n);
	return got;
}

/* Removes all but the LC_KEEP newest entries. */
static void prune(const char *dir)
{
	char **names;
	size_t n = list_entries(dir, &names), i;
	/* to the nanosecond: runs a second apart are the common case, and a
	 * tie in whole seconds pruned the entry just used or just stored */
	struct timespec *mt = xcalloc(n + 1, sizeof(*mt));

	for (i = 0; i < n; i++) {
		char *path = xasprintf("%s/%s", dir, names[i]);
		struct stat st;

		if (stat(path, &st) == 0)
			mt[i] = st.st_mtim;
		free(path);
	}
	while (n > LC_KEEP) {
		size_t old = 0;
		char *path;

		for (i = 1; i < n; i++)
			if (mt[i].tv_sec < mt[old].tv_sec ||
			    (mt[i].tv_sec == mt[old].tv_sec && mt[i].tv_nsec < mt[old].tv_nsec))
				old = i;
		path = xasprintf("%s/%s", dir, names[old]);
		unlink(path);
		free(path);
		free(names[old]);
		names[old] = names[n - 1];
		mt[old] = mt[n - 1];
		n--;
	}
	free(mt);
	free_names(names, n);
}

int lint_cache_store(struct project *p, size_t upto)
{
	unsigned char key[32];
	struct buf b = BUF_INIT;
	char hex[65], sum[9], head[LC_HEAD_LEN + 1], *path = NULL;
	int rc = -1;

	if (key_of(p, upto, key) < 0)
		goto out;
	hex_encode(key, 32, hex);
	hex[64] = '\0';
	/* room for the line, filled once the bytes' sum is known */
	if (buf_printf(&b, "%*s", (int)LC_HEAD_LEN, "") < 0 || lint_sqlite_save(p->lint_db, &b) < 0)
		goto out;
	body_sum(b.ptr + LC_HEAD_LEN, b.len - LC_HEAD_LEN, sum);
	if (snprintf(head, sizeof(head), "cairn-lint-cache " LC_FORMAT " %s %s %010zu\n", hex, sum,
		     upto) != (int)LC_HEAD_LEN)
		goto out;
	memcpy(b.ptr, head, LC_HEAD_LEN);
	if (mkdir_p(p->lint_cache_dir, 0777) < 0)
		goto out;
	path = entry_path(p, key);
	if (write_file_atomic(path, b.ptr, b.len, 0666) < 0)
		goto out;
	prune(p->lint_cache_dir);
	rc = 0;
out:
	free(path);
	buf_release(&b);
	return rc;
}
