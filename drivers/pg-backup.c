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

/* Runs tool with args (NULL-terminated, after the tool's name) and, when
 * connect, --dbname=<this connection's options> last, the password in
 * PGPASSWORD: 0 when it exited 0, else -1 with the error set (what: "of DB
 * to 'PATH'"). */
static int run_tool(struct db *db, const char *tool, const char *const *args, const char *what,
		    int connect)
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
	if (connect)
		conn_options(db, &ci, &password);
	dbarg = xasprintf("--dbname=%s", buf_cstr(&ci));
	argv[0] = tool;
	for (i = 0; i < n; i++)
		argv[i + 1] = args[i];
	argv[n + 1] = connect ? dbarg : NULL;
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
	rc = run_tool(db, tool_named("CAIRN_PG_DUMP", "pg_dump"), args, what, 1);
	if (rc)
		unlink(path);
	free(file);
	free(what);
	free(args);
	return rc;
}

/* One chunk of the script's SQL (several statements) sent at once. */
static int send_sql(struct db *db, struct buf *sql, const char *path)
{
	char *what;
	int rc;

	if (!sql->len)
		return 0;
	what = xasprintf("restoring '%s'", path);
	rc = pg_simple_exec(db, db->conn, buf_cstr(sql), what);
	free(what);
	sql->len = 0;
	return rc;
}

/* A "COPY ... FROM stdin;" line of pg_restore's script. */
static int copy_line(const char *line, size_t n)
{
	static const char tail[] = " FROM stdin;\n";

	return n > 5 + sizeof(tail) - 1 && !strncmp(line, "COPY ", 5) &&
	       !strcmp(line + n - (sizeof(tail) - 1), tail);
}

static int copy_begin(struct db *db, const char *line, const char *path)
{
	PGresult *r = pq.exec(db->conn, line);
	int ok = r && pq.resultStatus(r) == PGRES_COPY_IN;

	if (!ok)
		cairn_error_set("restoring '%s' on '%s' failed: %s", path, db->display,
				r ? pq.resultErrorMessage(r) : pq.errorMessage(db->conn));
	pq.clear(r);
	return ok ? 0 : -1;
}

static int copy_end(struct db *db, const char *why, const char *path)
{
	PGresult *r;
	int ok = pq.putCopyEnd(db->conn, why) == 1;

	while ((r = pq.getResult(db->conn))) {
		if (pq.resultStatus(r) != PGRES_COMMAND_OK) {
			if (ok)
				cairn_error_set("restoring '%s' on '%s' failed: %s", path,
						db->display, pq.resultErrorMessage(r));
			ok = 0;
		}
		pq.clear(r);
	}
	return ok ? 0 : -1;
}

/* The script pg_restore wrote, run on this connection: its SQL as it
 * comes, each COPY fed the lines up to "\."; psql's meta-commands
 * (\restrict, \unrestrict of newer pg_restore) skipped. */
static int run_script(struct db *db, FILE *f, const char *path)
{
	struct buf sql = BUF_INIT;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int rc = 0, in_copy = 0;

	while (!rc && (n = getline(&line, &cap, f)) > 0) {
		if (in_copy) {
			if (!strcmp(line, "\\.\n")) {
				in_copy = 0;
				rc = copy_end(db, NULL, path);
			} else if (pq.putCopyData(db->conn, line, (int)n) != 1) {
				pg_set_conn_error(db, db->conn, "restoring a table's rows");
				copy_end(db, "cairn: cannot send the rows", path);
				rc = -1;
			}
		} else if (line[0] == '\\') {
			continue;
		} else if (copy_line(line, (size_t)n)) {
			rc = send_sql(db, &sql, path) || copy_begin(db, line, path);
			in_copy = !rc;
		} else {
			buf_put(&sql, line, (size_t)n);
		}
	}
	if (!rc && in_copy) {
		cairn_error_set("'%s': pg_restore's script ends inside a COPY", path);
		copy_end(db, "cairn: the script ended inside a COPY", path);
		rc = -1;
	}
	if (!rc)
		rc = send_sql(db, &sql, path);
	/* pg_restore's script sets search_path and more for the session */
	if (!rc)
		rc = pg_simple_exec(db, db->conn, "RESET ALL", "resetting the session");
	free(line);
	buf_release(&sql);
	return rc;
}

int pg_restore_tables_in_tx(struct db *db, const char *path)
{
	char tmp[] = "/tmp/cairn-restore-XXXXXX";
	char *file = NULL, *what = xasprintf("of '%s' (its script)", path);
	const char *args[] = { "--clean", "--if-exists", "--exit-on-error", NULL, path, NULL };
	FILE *f = NULL;
	int fd = mkstemp(tmp), rc = -1;

	if (fd < 0) {
		cairn_error_set("cannot make a temporary file: %s", strerror(errno));
		goto out;
	}
	close(fd);
	file = xasprintf("--file=%s", tmp);
	args[3] = file;
	if (run_tool(db, tool_named("CAIRN_PG_RESTORE", "pg_restore"), args, what, 0) < 0)
		goto out;
	if (!(f = fopen(tmp, "r"))) {
		cairn_error_set("cannot read '%s': %s", tmp, strerror(errno));
		goto out;
	}
	rc = run_script(db, f, path);
out:
	if (f)
		fclose(f);
	if (fd >= 0)
		unlink(tmp);
	free(file);
	free(what);
	return rc;
}
