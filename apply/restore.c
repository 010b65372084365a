/* cairn-apply restore (issue #20): the copy a run took before a
 * destructive migration brought back, only when it is the file the books
 * recorded: its audit row (action "backup") names the path, and the
 * file's sha256 must be the one that row holds, so a file swapped or
 * edited since is refused before anything is written. */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../lib/error.h"
#include "../lib/exitcodes.h"
#include "../lib/pgobject.h"
#include "../lib/sha256.h"
#include "../lib/tmpfile.h"
#include "../lib/util.h"
#include "engine.h"
#include "engine-int.h"

/* The recorded path of a backup row ("backup=PATH; ..."), malloc'ed, or
 * NULL when the row took none. */
static char *row_path(const struct audit_row *a)
{
	const char *end;

	if (strcmp(a->action, "backup") || strncmp(a->detail, "backup=", 7))
		return NULL;
	end = strstr(a->detail, "; sha256=");
	return end ? xstrndup(a->detail + 7, (size_t)(end - a->detail - 7)) : NULL;
}

/* The same file: the same name, or the same file once both are resolved. */
static int same_file(const char *recorded, const char *given)
{
	char a[PATH_MAX], b[PATH_MAX];

	if (!strcmp(recorded, given))
		return 1;
	return realpath(recorded, a) && realpath(given, b) && !strcmp(a, b);
}

/* The newest backup row naming path (NULL: none). */
static const struct audit_row *find_row(const struct audit_row *a, size_t n, const char *path)
{
	size_t i;

	for (i = n; i-- > 0;) {
		char *p = row_path(&a[i]);
		int same = p && same_file(p, path);

		free(p);
		if (same)
			return &a[i];
	}
	return NULL;
}

/* The file is the one the row recorded: its sha256. */
static int check_file(const struct audit_row *row, const char *path)
{
	const char *h = strstr(row->detail, "; sha256=");
	char hex[SHA256_HEX_LEN + 1];
	unsigned long long size;

	if (!h || strlen(h + 9) < SHA256_HEX_LEN) {
		cairn_error_set("audit row %lld names '%s' but no sha256", row->seq, path);
		return EXIT_REFUSED;
	}
	h += 9;
	if (sha256_file(path, hex, &size) < 0)
		return EXIT_ENVIRONMENT;
	if (strncmp(hex, h, SHA256_HEX_LEN)) {
		cairn_error_set("'%s' is not the backup cairn took: its sha256 is %s, but audit row "
				"%lld (backup before %s, %s) recorded %.64s; nothing was restored",
				path, hex, row->seq, row->version, row->at, h);
		return EXIT_REFUSED;
	}
	return EXIT_OK;
}

/* The restored books' highest applied version into r->current. */
static int restored_current(struct run *r)
{
	struct bk_row *rows = NULL;
	size_t n = 0, i;
	int exists = 0;

	if (read_rows(r->db, r->drv, &exists, &rows, &n))
		return -1;
	for (i = 0; i < n; i++)
		if (!strcmp(rows[i].state, BK_APPLIED) &&
		    (!r->current || version_cmp(rows[i].version, r->current) > 0))
			set_current(r, rows[i].version);
	bk_rows_free(rows, n);
	return 0;
}

/* Restored: a "restore" row appended to the chain the file brought back. */
static int record_restore(struct db *db, const struct driver *drv, const struct apply_opts *o,
			  const struct audit_row *row, const char *path, size_t nbefore,
			  struct restore_info *out)
{
	struct run r;
	char *detail = NULL;
	int rc = -1;

	memset(&r, 0, sizeof(r));
	if (run_init(&r, db, drv, o) || restored_current(&r))
		goto out;
	out->dropped = nbefore > (size_t)r.seq ? nbefore - (size_t)r.seq : 0;
	detail = xasprintf("restored=%s; sha256=%.64s; the backup taken before %s (audit row %lld, "
			   "%s); %zu audit row%s from after it went with the file", path,
			   strstr(row->detail, "; sha256=") + 9, row->version, row->seq, row->at,
			   out->dropped, out->dropped == 1 ? "" : "s");
	if (tx_begin(&r))
		goto out;
	if (audit_add(&r, "restore", row->version, row->bundle_id, r.current, detail, NULL) ||
	    tx_commit(&r)) {
		tx_rollback(&r);
		goto out;
	}
	out->current = r.current ? xstrdup(r.current) : NULL;
	rc = 0;
out:
	free(detail);
	run_release(&r);
	return rc;
}

/* The newest restore row that brought back path with the bytes it has
 * now: the database is that backup's already (a restore that finished,
 * or one killed after its one step, whose row came with the copy). The
 * error set, 1; 0 when none. */
static int restored_already(const struct audit_row *a, size_t n, const char *path)
{
	char hex[SHA256_HEX_LEN + 1];
	unsigned long long size;
	size_t i;

	if (sha256_file(path, hex, &size) < 0)
		return 0;
	for (i = n; i-- > 0;) {
		const char *d = a[i].detail, *h;
		char *p;
		int same;

		if (strcmp(a[i].action, "restore") || strncmp(d, "restored=", 9) ||
		    !(h = strstr(d, "; sha256=")) || strstr(d, "; tables="))
			continue;
		p = xstrndup(d + 9, (size_t)(h - d - 9));
		same = same_file(p, path) && !strncmp(h + 9, hex, SHA256_HEX_LEN);
		free(p);
		if (same) {
			cairn_error_set("'%s' was restored already: audit row %lld (%s) records it "
					"(its backup row went with the file); nothing was restored "
					"again ('cairn-apply status' shows the version)",
					path, a[i].seq, a[i].at);
			return 1;
		}
	}
	return 0;
}

/* The backup's bytes into tmp, a new file, fsynced. */
static int copy_file(const char *from, const char *tmp)
{
	char b[65536];
	int in = open(from, O_RDONLY | O_CLOEXEC), out = -1, rc = -1;
	ssize_t got = 0;

	if (in < 0 || (out = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0)
		goto out;
	while ((got = read(in, b, sizeof(b))) > 0) {
		ssize_t off = 0, w;

		for (; off < got; off += w)
			if ((w = write(out, b + off, (size_t)(got - off))) < 0)
				goto out;
	}
	rc = got < 0 || fsync(out) ? -1 : 0;
out:
	if (rc)
		cairn_error_set("cannot copy '%s' to '%s': %s; nothing was restored", from, tmp,
				strerror(errno));
	if (out >= 0 && close(out) && !rc) {
		cairn_error_set("cannot write '%s': %s; nothing was restored", tmp, strerror(errno));
		rc = -1;
	}
	if (in >= 0)
		close(in);
	return rc;
}

/* The private copy made ready: the backup's bytes, checked again against
 * the row (so the bytes restored are the ones checked), the restore row
 * appended to its chain and committed (SQLite syncs the commit), then
 * o->restore_prepared told (the checkpoint of that chain kept). */
static int prepare_copy(const struct driver *drv, const struct apply_opts *o,
			const struct audit_row *row, const char *path, const char *tmp,
			size_t nbefore, struct restore_info *out)
{
	struct db *copy = NULL;
	char *dsn;
	int rc;

	if (copy_file(path, tmp))
		return EXIT_ENVIRONMENT;
	if ((rc = check_file(row, tmp)) != EXIT_OK)
		return rc;
	dsn = xasprintf("%s:%s", drv->name, tmp);
	rc = drv->open(&copy, dsn, DRIVER_OPEN_EXISTING) ? EXIT_ENVIRONMENT : EXIT_OK;
	free(dsn);
	if (rc == EXIT_OK && record_restore(copy, drv, o, row, path, nbefore, out) < 0)
		rc = EXIT_ENVIRONMENT;
	if (rc != EXIT_OK) {
		cairn_error_set("cannot write the restore row into the copy '%s': %s; nothing was "
				"restored", tmp, cairn_error_last());
	} else if (o->restore_prepared && o->restore_prepared(o->prepared_ctx, copy)) {
		cairn_error_set("%s; nothing was restored", cairn_error_last());
		rc = EXIT_ENVIRONMENT;
	}
	drv->close(copy);
	return rc;
}

/* SQLite's way: the whole file, books included. A kill must not split
 * the copy from its restore row, so the row is written first, into a
 * private copy of the backup beside it (PATH.tmpPID, removed on a signal,
 * or by the next restore once this process is gone); then that copy's
 * pages replace the database's in one step of the online backup API, on
 * the run's connection under the run lock, through SQLite's rollback
 * journal: a kill during the step leaves a hot journal that the next
 * open rolls back. So the database is either untouched or the backup's
 * with its restore row (docs/design.md says why not a rename). */
/* The journals of copies left by restores killed outright (the copy
 * itself tmpfile_name removes): "PATH.tmpN-journal" whose copy is gone. */
static void drop_stale_journals(const char *path)
{
	char *pat = xasprintf("%s.tmp*-journal", path);
	glob_t g;
	size_t i;

	if (glob(pat, GLOB_NOSORT, NULL, &g) == 0) {
		for (i = 0; i < g.gl_pathc; i++) {
			char *copy = xstrndup(g.gl_pathv[i], strlen(g.gl_pathv[i]) - 8);

			if (access(copy, F_OK) && errno == ENOENT)
				unlink(g.gl_pathv[i]);
			free(copy);
		}
		globfree(&g);
	}
	free(pat);
}

static int restore_whole(struct db *db, const struct driver *drv, const struct apply_opts *o,
			 const struct audit_row *row, const char *path, size_t nbefore,
			 struct restore_info *out)
{
	char *tmp = tmpfile_name(path), *journal = xasprintf("%s-journal", tmp);
	int rc;

	drop_stale_journals(path);
	tmpfile_hold(tmp);
	rc = prepare_copy(drv, o, row, path, tmp, nbefore, out);
	if (rc == EXIT_OK && drv->restore_from(db, tmp) < 0) {
		free(out->current);
		out->current = NULL;
		rc = EXIT_ENVIRONMENT;
	}
	unlink(tmp);
	unlink(journal);
	tmpfile_drop(tmp);
	free(journal);
	free(tmp);
	return rc;
}

/* The recorded tables of a PostgreSQL backup row ("tables=a,b"), or "". */
static char *row_tables(const struct audit_row *a)
{
	const char *t = strstr(a->detail, "; tables="), *end;

	if (!t)
		return xstrdup("");
	t += 9;
	end = strstr(t, "; ");
	return end ? xstrndup(t, (size_t)(end - t)) : xstrdup(t);
}

/* A per-table dump (PostgreSQL) brings back only the tables the migration
 * touched, not the books: it is restored only when its migration is the
 * newest applied one (a later migration may have changed those tables
 * again), and that migration is then marked rolled back, in a transaction
 * of our own with a "restore" row anchored to it. */
static const struct bk_row *newest_applied(const struct bk_row *rows, size_t n)
{
	const struct bk_row *top = NULL;
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(rows[i].state, BK_APPLIED) &&
		    (!top || version_cmp(rows[i].version, top->version) > 0))
			top = &rows[i];
	return top;
}

static int tables_check(const struct audit_row *row, const struct bk_row *rows, size_t n)
{
	const struct bk_row *top = newest_applied(rows, n);

	if (top && !strcmp(top->version, row->version) &&
	    (!top->kind || strcmp(top->kind, "baseline")))
		return EXIT_OK;
	cairn_error_set("the backup taken before %s holds only the tables that migration touched, "
			"so it is restored only while %s is the newest applied migration (the "
			"newest is %s): roll back the later ones first; nothing was restored",
			row->version, row->version, top ? top->version : "none");
	return EXIT_REFUSED;
}

/* One "KIND NAME" of the row's created= list: parsed at *p (moved past
 * it and its ", "), checked against the catalog now; a DROP for it put
 * first in drops (the newest object goes first) when it is there. */
static int created_item(struct db *db, const struct driver *drv, const char **p,
			struct buf *drops, struct buf *removed)
{
	const char *name, *kind = pg_object_kind(*p, &name);
	size_t len = kind ? pg_object_name_len(name) : 0;
	char *n, *sql, *there = NULL, *stmt;
	int rc;

	if (!len)
		return -1;
	n = xstrndup(name, len);
	sql = pg_object_exists_sql(kind, n);
	rc = drv->query_text(db, sql, &there);
	if (!rc && there && !strcmp(there, "t")) {
		stmt = xasprintf("DROP %s IF EXISTS %s;\n%s", kind, n, buf_cstr(drops));
		drops->len = 0;
		buf_puts(drops, stmt);
		free(stmt);
		buf_printf(removed, "%s%s %s", removed->len ? ", " : "", kind, n);
	}
	*p = name + len;
	if (!strncmp(*p, ", ", 2))
		*p += 2;
	free(there);
	free(sql);
	free(n);
	return rc < 0 ? -2 : 0;
}

/* The objects the backup's migration created that exist now, as DROP
 * statements (newest first) into drops: EXIT_OK, or EXIT_REFUSED with the
 * error set when the row cannot say what it created. */
static int created_drops(struct db *db, const struct driver *drv, const struct audit_row *row,
			 struct buf *drops, struct buf *removed)
{
	const char *c = strstr(row->detail, "; created="), *end;
	int rc = 0;

	if (!c) {
		cairn_error_set("the backup taken before %s (audit row %lld) does not record what "
				"the migration created (a cairn-apply before ops20d took it), so "
				"restore cannot make the database what it was; nothing was restored "
				"(bring the tables back with the row's restore: command and drop "
				"what the migration created by hand)", row->version, row->seq);
		return EXIT_REFUSED;
	}
	c += 10;
	if (!strncmp(c, "unknown: ", 9)) {
		end = strstr(c, "; destructive: ");
		cairn_error_set("the backup taken before %s (audit row %lld) cannot say what the "
				"migration created (%.*s), so restore cannot make the database what "
				"it was; nothing was restored", row->version, row->seq,
				(int)(end ? (size_t)(end - c - 9) : strlen(c + 9)), c + 9);
		return EXIT_REFUSED;
	}
	if (!strncmp(c, "(none)", 6))
		return EXIT_OK;
	while (!rc && *c && strncmp(c, "; ", 2))
		rc = created_item(db, drv, &c, drops, removed);
	if (rc == -2)
		return EXIT_ENVIRONMENT;
	if (rc) {
		cairn_error_set("audit row %lld: its created= list does not read; nothing was "
				"restored", row->seq);
		return EXIT_REFUSED;
	}
	return EXIT_OK;
}

/* The dumped tables back, what the migration created dropped, the
 * migration marked rolled back with a "restore" row anchored to it: one
 * transaction, so a failure anywhere leaves the database and the books as
 * they were. */
static int restore_tables_tx(struct db *db, const struct driver *drv, const struct apply_opts *o,
			     const struct audit_row *row, const char *path, const struct bk_row *rows,
			     size_t n, const char *drops, struct restore_info *out)
{
	const struct bk_row *top = newest_applied(rows, n);
	struct driver_exec x;
	struct bk_row mark;
	struct run r;
	size_t i;
	char *detail = NULL;
	int rc = EXIT_FAILED;

	memset(&r, 0, sizeof(r));
	memset(&x, 0, sizeof(x));
	mark = *top;
	mark.state = BK_ROLLED_BACK;
	mark.audit_hash = NULL;
	if (run_init(&r, db, drv, o) || tx_begin(&r)) {
		rc = EXIT_ENVIRONMENT;
		goto out;
	}
	for (i = 0; i < n; i++)
		if (&rows[i] != top && !strcmp(rows[i].state, BK_APPLIED) &&
		    (!r.current || version_cmp(rows[i].version, r.current) > 0))
			set_current(&r, rows[i].version);
	out->tables = row_tables(row);
	detail = xasprintf("restored=%s; sha256=%.64s; tables=%s; removed=%s; the backup taken "
			   "before %s (audit row %lld, %s); applied -> rolled_back", path,
			   strstr(row->detail, "; sha256=") + 9, out->tables,
			   out->removed ? out->removed : "(none)", row->version, row->seq, row->at);
	if (*drops && drv->exec(db, drops, strlen(drops), &x)) {
		cairn_error_set("removing what %s created failed: %s", row->version,
				x.err.message[0] ? x.err.message : cairn_error_last());
		goto fail;
	}
	if (drv->restore_in_tx(db, path) < 0)
		goto fail;
	if (audit_add(&r, "restore", top->version, top->bundle_id, r.current, detail, &mark) ||
	    drv->bk_put(db, &mark) || tx_commit(&r)) {
		rc = EXIT_ENVIRONMENT;
		goto fail;
	}
	out->current = r.current ? xstrdup(r.current) : NULL;
	rc = EXIT_OK;
	goto out;
fail:
	tx_rollback(&r);
	cairn_error_set("%s; nothing was restored: the transaction rolled back",
			cairn_error_last());
out:
	free(mark.audit_hash);
	free(detail);
	run_release(&r);
	return rc;
}

/* PostgreSQL's way: refused before anything is written unless the
 * backup's migration is the newest applied one and its row says what
 * it created; then one transaction. */
static int restore_tables(struct db *db, const struct driver *drv, const struct apply_opts *o,
			  const struct audit_row *row, const char *path, const struct bk_row *rows,
			  size_t n, struct restore_info *out)
{
	struct buf drops = BUF_INIT, removed = BUF_INIT;
	int rc = tables_check(row, rows, n);

	if (rc == EXIT_OK && !drv->query_text) {
		cairn_error_set("the %s driver cannot read its catalog; nothing was restored",
				drv->name);
		rc = EXIT_FAILED;
	}
	if (rc == EXIT_OK)
		rc = created_drops(db, drv, row, &drops, &removed);
	if (rc == EXIT_OK) {
		out->removed = removed.len ? buf_detach(&removed, NULL) : NULL;
		rc = restore_tables_tx(db, drv, o, row, path, rows, n, buf_cstr(&drops), out);
	}
	buf_release(&drops);
	buf_release(&removed);
	return rc;
}

int engine_restore(struct db *db, const struct driver *drv, const char *path,
		   const struct apply_opts *o, struct restore_info *out)
{
	struct books_guard guard;
	struct bk_row *rows = NULL;
	struct audit_row *a = NULL;
	const struct audit_row *row;
	size_t nrows = 0, na = 0;
	int exists = 0, rc;

	memset(out, 0, sizeof(*out));
	memset(&guard, 0, sizeof(guard));
	if ((rc = take_lock(db, drv, o)) != EXIT_OK)
		return rc;
	if (read_rows(db, drv, &exists, &rows, &nrows) ||
	    (exists && drv->audit_read(db, 0, &a, &na))) {
		rc = EXIT_ENVIRONMENT;
		goto out;
	}
	rc = books_guard(&guard, db, drv, o, rows, nrows, exists, "restore");
	if (rc != EXIT_OK)
		goto out;
	if (!(row = find_row(a, na, path)) && restored_already(a, na, path)) {
		/* a restore killed after its step left its copy (and maybe the
		 * copy's journal) beside the backup: removed, the database not */
		free(tmpfile_name(path));
		drop_stale_journals(path);
		rc = EXIT_REFUSED;
		goto out;
	}
	if (!row) {
		cairn_error_set("no audit row records '%s' as a backup cairn took: nothing was "
				"restored ('cairn-apply history' lists the backup rows)", path);
		rc = EXIT_REFUSED;
		goto out;
	}
	if ((rc = check_file(row, path)) != EXIT_OK)
		goto out;
	out->version = xstrdup(row->version);
	out->seq = row->seq;
	out->tables_only = drv->dump_tables != NULL && drv->restore_in_tx != NULL;
	if (!out->tables_only && !drv->restore_from) {
		cairn_error_set("the %s driver restores no file: the audit row's restore: command "
				"brings the dumped tables back (docs/runbooks/restore-from-backup.md)",
				drv->name);
		rc = EXIT_FAILED;
		goto out;
	}
	if (out->tables_only) {
		rc = restore_tables(db, drv, &guard.opts, row, path, rows, nrows, out);
		goto out;
	}
	rc = restore_whole(db, drv, &guard.opts, row, path, na, out);
out:
	unlock_keeping_error(db, drv, &rc);
	books_guard_release(&guard);
	audit_rows_free(a, na);
	bk_rows_free(rows, nrows);
	return rc;
}

void restore_info_release(struct restore_info *r)
{
	if (!r)
		return;
	free(r->version);
	free(r->current);
	free(r->tables);
	free(r->removed);
	memset(r, 0, sizeof(*r));
}
