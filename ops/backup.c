/* The backup before a destructive migration (backup.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../lib/error.h"
#include "../lib/sha256.h"
#include "../lib/util.h"
#include "backup.h"
#include "sqlneeds.h"

/* Why m needs a backup, malloc'ed; NULL when it does not. */
static char *destructive_why(const struct apply_mig *m)
{
	char *what = NULL;
	int rc;

	if (!m->up)
		return NULL;
	rc = sql_destructive(m->up, &what);
	if (rc > 0)
		return what;
	if (rc < 0)
		return xasprintf("the script does not parse as PostgreSQL SQL (%s): copied to be "
				 "safe", cairn_error_last());
	return m->destructive ? xstrdup("migration.yaml says destructive: true") : NULL;
}

static int file_sha256(const char *path, char hex[SHA256_HEX_LEN + 1], unsigned long long *size)
{
	struct sha256_ctx c;
	char chunk[65536];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc = -1;

	*size = 0;
	if (fd < 0 || sha256_init(&c) < 0) {
		cairn_error_set("cannot read the backup '%s': %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while ((n = read(fd, chunk, sizeof(chunk))) > 0) {
		sha256_update(&c, chunk, (size_t)n);
		*size += (unsigned long long)n;
	}
	if (n == 0 && sha256_final_hex(&c, hex) == 0)
		rc = 0;
	else
		cairn_error_set("cannot read the backup '%s': %s", path, strerror(errno));
	sha256_release(&c);
	close(fd);
	return rc;
}

/* DIR/<file name>.<version>.<UTC time>.backup */
static char *backup_path(const struct backup_ctx *b, const char *file, const char *version)
{
	const char *slash = strrchr(file, '/'), *base = slash ? slash + 1 : file;
	char stamp[32], *dir, *name, *path;
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	if (b->dir)
		dir = xstrdup(b->dir);
	else if (slash)
		dir = xstrndup(file, slash == file ? 1 : (size_t)(slash - file));
	else
		dir = xstrdup(".");
	name = xasprintf("%s.%s.%s.backup", base, version, stamp);
	path = path_join(dir, name);
	free(dir);
	free(name);
	return path;
}

int backup_before_step(void *ctx, const struct apply_mig *m, char **detail)
{
	struct backup_ctx *b = ctx;
	const char *file = b->drv->file_path ? b->drv->file_path(b->db) : NULL;
	char *why = destructive_why(m), *path = NULL, *qdb = NULL, *qpath = NULL;
	char hex[SHA256_HEX_LEN + 1];
	unsigned long long size;

	*detail = NULL;
	if (!why)
		return 0;
	if (b->off || !file) {
		*detail = xasprintf("backup=none (%s); destructive: %s",
				    b->off ? "backup: off" : "no file to copy", why);
		free(why);
		return 0;
	}
	if (b->dir && mkdir_p(b->dir, 0700) < 0) {
		free(why);
		return -1;
	}
	path = backup_path(b, file, m->version);
	if (b->drv->backup_to(b->db, path) < 0 || file_sha256(path, hex, &size) < 0) {
		free(why);
		free(path);
		return -1;
	}
	qdb = shell_quote(file);
	qpath = shell_quote(path);
	*detail = xasprintf("backup=%s; sha256=%s; bytes=%llu; destructive: %s; restore: "
			    "sqlite3 %s \".restore %s\"", path, hex, size, why, qdb, qpath);
	free(b->last);
	free(b->last_sha256);
	b->last = path;
	b->last_sha256 = xstrdup(hex);
	free(why);
	free(qdb);
	free(qpath);
	return 0;
}

void backup_ctx_release(struct backup_ctx *c)
{
	if (!c)
		return;
	free(c->last);
	free(c->last_sha256);
	c->last = c->last_sha256 = NULL;
}
