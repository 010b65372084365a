/* PostgreSQL: the backup before a destructive migration (issue #20):
 * pg_dump of the tables it touches, schema and data, in pg_dump's custom
 * format (pg_restore brings it back). pg_dump connects as the run does:
 * the options libpq used for this connection (PQconninfo), the password
 * passed in PGPASSWORD, never on a command line others can read. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../lib/buf.h"
#include "../lib/error.h"
#include "driver.h"
#include "pg-private.h"
#include "pq-load.h"

/* keyword='value' pairs of the connection, the password apart. */
static void conn_options(struct db *db, struct buf *ci, char **password)
{
	PQconninfoOption *opts = pq.conninfo(db->conn), *o;
	const char *v;

	*password = NULL;
	for (o = opts; o && o->keyword; o++) {
		if (!o->val || !*o->val)
			continue;
		if (!strcmp(o->keyword, "password")) {
			*password = xstrdup(o->val);
			continue;
		}
		buf_printf(ci, "%s%s='", ci->len ? " " : "", o->keyword);
		for (v = o->val; *v; v++) {
			if (*v == '\'' || *v == '\\')
				buf_putc(ci, '\\');
			buf_putc(ci, *v);
		}
		buf_putc(ci, '\'');
	}
	if (opts)
		pq.conninfoFree(opts);
}

int pg_dump_tables(struct db *db, const char *const *tables, size_t n, const char *path)
{
	const char *tool = getenv("CAIRN_PG_DUMP") && *getenv("CAIRN_PG_DUMP")
				   ? getenv("CAIRN_PG_DUMP") : "pg_dump";
	struct buf ci = BUF_INIT;
	char *password = NULL, *file = xasprintf("--file=%s", path), *dbarg;
	const char **argv = xcalloc(2 * n + 6, sizeof(*argv));
	size_t i, k = 0;
	int status = 0, rc = -1;
	pid_t pid;

	conn_options(db, &ci, &password);
	dbarg = xasprintf("--dbname=%s", buf_cstr(&ci));
	argv[k++] = tool;
	argv[k++] = "--format=custom";
	argv[k++] = file;
	for (i = 0; i < n; i++) {
		argv[k++] = "--table";
		argv[k++] = tables[i];
	}
	argv[k++] = dbarg;
	argv[k] = NULL;
	pid = fork();
	if (pid == 0) {
		if (password)
			setenv("PGPASSWORD", password, 1);
		execvp(tool, (char *const *)argv);
		_exit(127);
	}
	if (pid < 0)
		cairn_error_set("cannot run %s: %s", tool, strerror(errno));
	else if (waitpid(pid, &status, 0) < 0)
		cairn_error_set("cannot wait for %s: %s", tool, strerror(errno));
	else if (!WIFEXITED(status) || WEXITSTATUS(status))
		cairn_error_set("%s of %s to '%s' failed (%s %d)", tool, db->display, path,
				WIFEXITED(status) ? "exit status" : "signal",
				WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	else
		rc = 0;
	if (rc)
		unlink(path);
	if (password) {
		memset(password, 0, strlen(password));
		free(password);
	}
	free(file);
	free(dbarg);
	free(argv);
	buf_release(&ci);
	return rc;
}
