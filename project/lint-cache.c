/* check --staged's cache of the SQLite linter's replayed database (issue
 * #18): the in-memory database after migrations 1..k, kept in a file
 * under the git directory, keyed by what the replay read. The key of
 * prefix k is sha256(key of k - 1, migration k's directory, the path and
 * blob id of its SQLite up script); the key of the empty prefix names the
 * cairn version, SQLite's source id, the cache's format and max_file_size.
 * An edited, added, removed or reordered earlier migration changes the key
 * of every prefix that holds it, so such a file is never found again.
 *
 * A file: "cairn-lint-cache 1 KEY SHA256\n", then lint_sqlite_save's bytes,
 * whose sha256 the line holds. Anything else (short, damaged, another key)
 * is ignored: the replay runs from the start. 'cairn build' never comes
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

#include "../lib/error.h"
#include "../lib/sha256.h"
#include "../lib/util.h"
#include "project.h"

#define LC_FORMAT "1"
#define LC_KEEP 2                      /* files kept: the newest ones */
#define LC_MAX_SIZE ((size_t)256 << 20) /* a larger file is not read */
#define LC_HEAD_LEN (sizeof("cairn-lint-cache " LC_FORMAT " ") - 1 + 64 + 1 + 64 + 1)

struct lint_cache_keys {
	unsigned char (*key)[32]; /* key[k]: migrations 0..k-1 replayed */
	size_t n;
};

static int key_step(unsigned char out[32], const unsigned char prev[32], const char *a,
		    const char *b, const char *c)
{
	struct sha256_ctx x;
	int rc = 0;

	if (sha256_init(&x) < 0)
		return -1;
	if (sha256_update(&x, prev, 32) < 0 || sha256_update(&x, a, strlen(a) + 1) < 0 ||
	    sha256_update(&x, b, strlen(b) + 1) < 0 || sha256_update(&x, c, strlen(c) + 1) < 0 ||
	    sha256_final_raw(&x, out) < 0)
		rc = -1;
	sha256_release(&x);
	return rc;
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

static int keys_compute(struct project *p, size_t upto, struct lint_cache_keys *k)
{
	char base[256];
	size_t i;
	int n = snprintf(base, sizeof(base), "cairn-lint-cache %s\n%s\n%s\n%llu\n", LC_FORMAT,
			 CAIRN_VERSION, lint_sqlite_id(), p->cfg.max_file_size);
	unsigned char zero[32] = { 0 };

	if (n < 0 || (size_t)n >= sizeof(base))
		return -1;
	k->key = xcalloc(upto + 1, sizeof(*k->key));
	k->n = upto + 1;
	if (key_step(k->key[0], zero, base, "", "") < 0)
		return -1;
	for (i = 0; i < upto; i++) {
		char id[65], *path;

		if (mig_id(p, p->migs[i], &path, id) < 0 ||
		    key_step(k->key[i + 1], k->key[i], p->migs[i]->dir, path ? path : "-", id) < 0)
			return -1;
	}
	return 0;
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
static int load_entry(struct project *p, const unsigned char key[32])
{
	char *path = entry_path(p, key), head[LC_HEAD_LEN + 1], want[LC_HEAD_LEN + 1];
	char hex[65], sum[65];
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
	if (read_full(fd, head, LC_HEAD_LEN) < 0 || !(data = lint_sqlite_buffer(len)) ||
	    read_full(fd, data, len) < 0 || sha256_hex(data, len, sum) < 0)
		goto out;
	head[LC_HEAD_LEN] = '\0';
	if (snprintf(want, sizeof(want), "cairn-lint-cache " LC_FORMAT " %s %s\n", hex, sum) !=
	    (int)LC_HEAD_LEN || strcmp(head, want))
		goto out;
	rc = lint_sqlite_load(p->lint_db, data, len);
	data = NULL; /* taken */
	if (rc == 0)
		(void)utimes(path, NULL); /* the newest: kept when others are pruned */
out:
	lint_sqlite_buffer_free(data);
	if (fd >= 0)
		close(fd);
	free(path);
	return rc;
}

size_t lint_cache_load(struct project *p, size_t upto)
{
	struct lint_cache_keys k = { NULL, 0 };
	char **names;
	size_t n = list_entries(p->lint_cache_dir, &names), i, j, got = 0;

	p->lint_cache_used = 0;
	if (!n || keys_compute(p, upto, &k) < 0)
		goto out;
	for (i = upto; i > 0 && !got; i--) {
		char hex[65];

		hex_encode(k.key[i], 32, hex);
		hex[64] = '\0';
		for (j = 0; j < n; j++)
			if (!strncmp(names[j], hex, 64))
				break;
		if (j == n)
			continue;
		if (load_entry(p, k.key[i]) == 0) {
			got = i;
			break;
		}
		/* a bad file: start again on a fresh database */
		lint_sqlite_free(p->lint_db);
		p->lint_db = NULL;
		if (lint_sqlite_open(&p->lint_db, 1) < 0)
			break;
	}
out:
	p->lint_cache_used = got;
	free(k.key);
	free_names(names, n);
	return got;
}

/* Removes all but the LC_KEEP newest entries. */
static void prune(const char *dir)
{
	char **names;
	size_t n = list_entries(dir, &names), i;
	time_t *mt = xcalloc(n + 1, sizeof(*mt));

	for (i = 0; i < n; i++) {
		char *path = xasprintf("%s/%s", dir, names[i]);
		struct stat st;

		mt[i] = stat(path, &st) == 0 ? st.st_mtime : 0;
		free(path);
	}
	while (n > LC_KEEP) {
		size_t old = 0;
		char *path;

		for (i = 1; i < n; i++)
			if (mt[i] < mt[old])
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
	struct lint_cache_keys k = { NULL, 0 };
	struct buf b = BUF_INIT;
	char hex[65], sum[65], head[LC_HEAD_LEN + 1], *path = NULL;
	int rc = -1;

	if (keys_compute(p, upto, &k) < 0)
		goto out;
	hex_encode(k.key[upto], 32, hex);
	hex[64] = '\0';
	/* room for the line, filled once the bytes' sum is known */
	if (buf_printf(&b, "%*s", (int)LC_HEAD_LEN, "") < 0 || lint_sqlite_save(p->lint_db, &b) < 0 ||
	    sha256_hex(b.ptr + LC_HEAD_LEN, b.len - LC_HEAD_LEN, sum) < 0)
		goto out;
	if (snprintf(head, sizeof(head), "cairn-lint-cache " LC_FORMAT " %s %s\n", hex, sum) !=
	    (int)LC_HEAD_LEN)
		goto out;
	memcpy(b.ptr, head, LC_HEAD_LEN);
	if (mkdir_p(p->lint_cache_dir, 0777) < 0)
		goto out;
	path = entry_path(p, k.key[upto]);
	if (write_file_atomic(path, b.ptr, b.len, 0666) < 0)
		goto out;
	prune(p->lint_cache_dir);
	rc = 0;
out:
	free(path);
	free(k.key);
	buf_release(&b);
	return rc;
}
