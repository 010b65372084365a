/* PostgreSQL: the backup before a destructive migration (issue #20):
 * pg_dump of the tables it touches, schema and data, in pg_dump's custom
 * format (pg_restore brings it back). pg_dump connects as the run does:
 * the options libpq used for this connection (PQconninfo), the password
 * passed in PGPASSWORD, never on a command line others can read. */
#include <errno.h>
#include <signal.h>
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

/* Runs tool with args (NULL-terminated, after the tool's name) and
 * --dbname=<this connection's options> last, the password in PGPASSWORD:
 * 0 when it exited 0, else -1 with the error set (what: "of DB to 'PATH'"). */
static int run_tool(struct db *db, const char *tool, const char *const *args, const char *what)
{
	struct buf ci = BUF_INIT;
	char *password = NULL, *dbarg;
	const char **argv;
	size_t i, n = 0;
	int status = 0, rc = -1;
	pid_t pid;

	while (args[n])
		n++;
	argv = xcalloc(n + 3, sizeof(*argv));
	conn_options(db, &ci, &password);
	dbarg = xasprintf("--dbname=%s", buf_cstr(&ci));
	argv[0] = tool;
	for (i = 0; i < n; i++)
		argv[i + 1] = args[i];
	argv[n + 1] = dbarg;
	pid = fork();
	if (pid == 0) {
		signal(SIGPIPE, SIG_DFL); /* cairn-apply ignores it (cairn-apply.c) */
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
		cairn_error_set("%s %s failed (%s %d)", tool, what,
				WIFEXITED(status) ? "exit status" : "signal",
				WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	else
		rc = 0;
	if (password) {
		memset(password, 0, strlen(password));
		free(password);
	}
	free(dbarg);
	free(argv);
	buf_release(&ci);
	return rc;
}

static const char *tool_named(const char *env, const char *dflt)
{
	return getenv(env) && *getenv(env) ? getenv(env) : dflt;
}

int pg_dump_tables(struct db *db, const char *const *tables, size_t n, const char *path)
{
	const char **args = xcalloc(2 * n + 3, sizeof(*args));
	char *file = xasprintf("--file=%s", path), *what = xasprintf("of %s to '%s'", db->display, path);
	size_t i, k = 0;
	int rc;

	args[k++] = "--format=custom";
	args[k++] = file;
	for (i = 0; i < n; i++) {
		args[k++] = "--table";
		args[k++] = tables[i];
	}
	rc = run_tool(db, tool_named("CAIRN_PG_DUMP", "pg_dump"), args, what);
	if (rc)
		unlink(path);
	free(file);
	free(what);
	free(args);
	return rc;
}

/* The dumped tables brought back in pg_restore's one transaction: each
 * dropped (--clean, --if-exists) and created again with its data, or, on
 * the first error, none of it (--single-transaction, --exit-on-error). */
int pg_restore_tables(struct db *db, const char *path)
{
	const char *args[] = { "--clean", "--if-exists", "--single-transaction",
			       "--exit-on-error", path, NULL };
	char *what = xasprintf("of '%s' into %s", path, db->display);
	int rc = run_tool(db, tool_named("CAIRN_PG_RESTORE", "pg_restore"), args, what);

	free(what);
	return rc;
}
