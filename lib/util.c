#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "util.h"

int read_file(const char *path, size_t cap, struct buf *out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	char chunk[65536];
	int rc = -1;

	if (fd < 0) {
		cairn_error_set("cannot open '%s': %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0) {
		cairn_error_set("cannot stat '%s': %s", path, strerror(errno));
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		cairn_error_set("cannot read '%s': is a directory", path);
		goto out;
	}
	if (cap && (unsigned long long)st.st_size > cap) {
		cairn_error_set("'%s' is %lld bytes, over the limit of %zu", path,
				(long long)st.st_size, cap);
		goto out;
	}
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			cairn_error_set("cannot read '%s': %s", path, strerror(errno));
			goto out;
		}
		if (!n)
			break;
		if (cap && out->len + (size_t)n > cap) {
			cairn_error_set("'%s' is over the limit of %zu bytes", path, cap);
			goto out;
		}
		if (buf_put(out, chunk, (size_t)n) < 0)
			goto out;
	}
	if (!out->ptr)
		buf_put(out, "", 0);
	rc = 0;
out:
	close(fd);
	return rc;
}

static int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int write_file_new(const char *path, const void *data, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);

	if (fd < 0) {
		cairn_error_set("cannot create '%s': %s", path, strerror(errno));
		return -1;
	}
	if (write_all(fd, data, len) < 0 || fsync(fd) < 0) {
		cairn_error_set("cannot write '%s': %s", path, strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	if (close(fd) < 0) {
		cairn_error_set("cannot write '%s': %s", path, strerror(errno));
		unlink(path);
		return -1;
	}
	return 0;
}

int path_is_special(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0 && !S_ISREG(st.st_mode);
}

/* Writes data into path as it is (a device, a FIFO, a symlink followed),
 * without the temporary file and rename that would replace it. */
static int write_through(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOCTTY);

	if (fd < 0) {
		cairn_error_set("cannot write '%s': %s", path, strerror(errno));
		return -1;
	}
	if (write_all(fd, data, len) < 0) {
		cairn_error_set("cannot write '%s': %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if (close(fd) < 0) {
		cairn_error_set("cannot write '%s': %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

int file_copy_into(const char *from, const char *path)
{
	struct buf b = BUF_INIT;
	int rc;

	if (read_file(from, 0, &b) < 0)
		return -1;
	rc = write_through(path, b.ptr ? b.ptr : "", b.len);
	buf_release(&b);
	return rc;
}

int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
	char *tmp;
	int rc = -1;

	if (path_is_special(path))
		return write_through(path, data, len);
	tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
	unlink(tmp);
	if (write_file_new(tmp, data, len, mode) < 0)
		goto out;
	if (rename(tmp, path) < 0) {
		cairn_error_set("cannot rename '%s' to '%s': %s", tmp, path, strerror(errno));
		unlink(tmp);
		goto out;
	}
	rc = 0;
out:
	free(tmp);
	return rc;
}

int mkdir_p(const char *path, mode_t mode)
{
	char *p = xstrdup(path), *s;
	int rc = -1;

	for (s = p + 1; ; s++) {
		char c = *s;

		if (c != '/' && c != '\0')
			continue;
		*s = '\0';
		if (mkdir(p, mode) < 0 && errno != EEXIST) {
			cairn_error_set("cannot create directory '%s': %s", p, strerror(errno));
			goto out;
		}
		*s = c;
		if (!c)
			break;
	}
	if (!is_dir(path)) {
		cairn_error_set("cannot create directory '%s': a file is in the way", path);
		goto out;
	}
	rc = 0;
out:
	free(p);
	return rc;
}

char *path_join(const char *a, const char *b)
{
	size_t la = strlen(a);

	if (!la || !strcmp(a, "."))
		return xstrdup(b);
	if (a[la - 1] == '/')
		return xasprintf("%s%s", a, b);
	return xasprintf("%s/%s", a, b);
}

int path_exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

int is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Length of the UTF-8 sequence at s (1..4) when it is valid and not a C1
 * control, else 0. */
static size_t printable_seq(const unsigned char *s, size_t left)
{
	size_t bad, n;

	if (s[0] >= 0x20 && s[0] < 0x7f)
		return 1;
	if (s[0] < 0xc2 || s[0] > 0xf4)
		return 0;
	if (s[0] == 0xc2 && left > 1 && s[1] < 0xa0)
		return 0; /* U+0080..U+009F: 8-bit CSI, OSC... */
	n = s[0] < 0xe0 ? 2 : s[0] < 0xf0 ? 3 : 4;
	if (n > left || utf8_check((const char *)s, n, &bad))
		return 0;
	return n;
}

char *text_escape_controls(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len, i, n;
	struct buf out = BUF_INIT;

	if (!s)
		return NULL;
	len = strlen(s);
	for (i = 0; i < len; i += n)
		if (!(n = printable_seq(p + i, len - i)))
			break;
	if (i == len)
		return NULL;
	for (i = 0; i < len; i += n) {
		n = printable_seq(p + i, len - i);
		if (n) {
			buf_put(&out, s + i, n);
		} else {
			buf_printf(&out, "\\x%02x", p[i]);
			n = 1;
		}
	}
	return buf_detach(&out, NULL);
}

int utf8_check(const char *data, size_t len, size_t *bad)
{
	const unsigned char *s = (const unsigned char *)data;
	size_t i = 0;

	while (i < len) {
		unsigned char c = s[i];
		size_t n, k;
		unsigned int cp;

		if (c < 0x80) {
			i++;
			continue;
		} else if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			cp = c & 0x07;
		} else {
			goto fail;
		}
		for (k = 1; k <= n; k++) {
			if (i + k >= len || (s[i + k] & 0xc0) != 0x80)
				goto fail;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		/* overlong forms, surrogates, beyond U+10FFFF */
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
			goto fail;
		i += n + 1;
	}
	return 0;
fail:
	if (bad)
		*bad = i;
	return -1;
}

int line_of_offset(const char *data, size_t len, size_t off)
{
	int line = 1;
	size_t i;

	for (i = 0; i < off && i < len; i++)
		if (data[i] == '\n')
			line++;
	return line;
}

size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j;
	size_t *row = xmalloc((lb + 1) * sizeof(*row)), res;

	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; i <= la; i++) {
		size_t prev = row[0];

		row[0] = i;
		for (j = 1; j <= lb; j++) {
			size_t cur = row[j];
			size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
			size_t best = prev + cost;

			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			prev = cur;
		}
	}
	res = row[lb];
	free(row);
	return res;
}

const char *did_you_mean(const char *word, const char *const *candidates)
{
	const char *best = NULL;
	size_t best_d = (size_t)-1, limit = strlen(word) / 3 + 1;

	if (limit > 3)
		limit = 3;
	for (; *candidates; candidates++) {
		size_t d = edit_distance(word, *candidates);

		if (d < best_d) {
			best_d = d;
			best = *candidates;
		}
	}
	return best_d <= limit ? best : NULL;
}

/* parse_size's and parse_duration_ms's number: the digits s starts with
 * (no sign, no space) into *v, *end after them; 0, or -1 on overflow. */
static int unit_number(const char *s, unsigned long long *v, char **end)
{
	errno = 0;
	if (!*s || *s < '0' || *s > '9')
		return -1;
	*v = strtoull(s, end, 10);
	return errno ? -1 : 0;
}

/* v units of mult into *out: 0, or -1 on overflow. */
static int unit_times(unsigned long long v, unsigned long long mult, unsigned long long *out)
{
	if (v > ULLONG_MAX / mult)
		return -1;
	*out = v * mult;
	return 0;
}

int parse_size(const char *s, unsigned long long *out)
{
	char *end;
	unsigned long long v, mult = 1;

	if (unit_number(s, &v, &end))
		return -1;
	while (*end == ' ')
		end++;
	if (!*end || !strcasecmp(end, "b"))
		mult = 1;
	else if (!strcasecmp(end, "k") || !strcasecmp(end, "kb") || !strcasecmp(end, "kib"))
		mult = 1ULL << 10;
	else if (!strcasecmp(end, "m") || !strcasecmp(end, "mb") || !strcasecmp(end, "mib"))
		mult = 1ULL << 20;
	else if (!strcasecmp(end, "g") || !strcasecmp(end, "gb") || !strcasecmp(end, "gib"))
		mult = 1ULL << 30;
	else
		return -1;
	return unit_times(v, mult, out);
}

int parse_duration_ms(const char *s, unsigned long long *out)
{
	char *end;
	unsigned long long v, mult;

	if (unit_number(s, &v, &end))
		return -1;
	if (!*end || !strcmp(end, "s"))
		mult = 1000;
	else if (!strcmp(end, "ms"))
		mult = 1;
	else if (!strcmp(end, "m") || !strcmp(end, "min"))
		mult = 60000;
	else if (!strcmp(end, "h"))
		mult = 3600000;
	else if (!strcmp(end, "d"))
		mult = 86400000;
	else
		return -1;
	return unit_times(v, mult, out);
}

int version_cmp(const char *a, const char *b)
{
	size_t la, lb;
	int c;

	while (*a == '0' && a[1])
		a++;
	while (*b == '0' && b[1])
		b++;
	la = strlen(a);
	lb = strlen(b);
	if (la != lb && strspn(a, "0123456789") == la && strspn(b, "0123456789") == lb)
		return la < lb ? -1 : 1;
	c = strcmp(a, b);
	return c < 0 ? -1 : c > 0;
}

size_t str_hash(const char *s)
{
	size_t h = 2166136261u;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h;
}

int starts_with(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

int ends_with(const char *s, const char *suffix)
{
	size_t ls = strlen(s), lx = strlen(suffix);

	return ls >= lx && !memcmp(s + ls - lx, suffix, lx);
}

void mem_prefault(void *p, size_t len)
{
#ifdef MADV_POPULATE_WRITE
	long page = sysconf(_SC_PAGESIZE);
	uintptr_t start, end;

	if (page <= 0 || len < 256 * 1024)
		return;
	start = ((uintptr_t)p + (uintptr_t)page - 1) & ~((uintptr_t)page - 1);
	end = ((uintptr_t)p + len) & ~((uintptr_t)page - 1);
	if (end > start)
		(void)madvise((void *)start, end - start, MADV_POPULATE_WRITE);
#else
	(void)p;
	(void)len;
#endif
}

void *xcalloc_prefaulted(size_t n, size_t size)
{
	void *p;

	if (size && n > SIZE_MAX / size)
		return xcalloc(n, size); /* which says it cannot */
	p = xmalloc(n * size);
	mem_prefault(p, n * size);
	memset(p, 0, n * size);
	return p;
}

char *shell_quote(const char *s)
{
	static const char safe[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				   "0123456789_@%+=:,./-";
	struct buf b = BUF_INIT;

	if (*s && strspn(s, safe) == strlen(s))
		return xstrdup(s);
	buf_putc(&b, '"');
	for (; *s; s++) {
		if (strchr("$`\"\\", *s))
			buf_putc(&b, '\\');
		buf_putc(&b, *s);
	}
	buf_putc(&b, '"');
	return buf_detach(&b, NULL);
}

const char *stop_signal_name(int sig)
{
	return sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : sig == SIGHUP ? "SIGHUP"
											: "a signal";
}
