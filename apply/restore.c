/* cairn-apply restore (issue #20): the copy a run took before a
 * destructive migration brought back, only when it is the file the books
 * recorded: its audit row (action "backup") names the path, and the
 * file's sha256 must be the one that row holds, so a file swapped or
 * edited since is refused before anything is written. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/error.h"
#include "../lib/exitcodes.h"
#include "../lib/sha256.h"
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

static int record_tables(struct db *db, const struct driver *drv, const struct apply_opts *o,
			 const struct audit_row *row, const char *path, const struct bk_row *rows,
			 size_t n, struct restore_info *out)
{
	const struct bk_row *top = newest_applied(rows, n), *t;
	struct bk_row mark;
	struct run r;
	size_t i;
	char *detail = NULL;
	int rc = -1;

	memset(&r, 0, sizeof(r));
	if (run_init(&r, db, drv, o))
		goto out;
	for (i = 0; i < n; i++)
		if (&rows[i] != top && !strcmp(rows[i].state, BK_APPLIED) &&
		    (!r.current || version_cmp(rows[i].version, r.current) > 0))
			set_current(&r, rows[i].version);
	t = top;
	mark = *t;
	mark.state = BK_ROLLED_BACK;
	mark.audit_hash = NULL;
	out->tables = row_tables(row);
	detail = xasprintf("restored=%s; sha256=%.64s; tables=%s; the backup taken before %s (audit "
			   "row %lld, %s); applied -> rolled_back; objects the migration created "
			   "are not in the dump and stay", path, strstr(row->detail, "; sha256=") + 9,
			   out->tables, row->version, row->seq, row->at);
	rc = put_row_tx(&r, &mark, "restore", t->bundle_id, r.current, detail);
	free(mark.audit_hash);
	if (!rc)
		out->current = r.current ? xstrdup(r.current) : NULL;
out:
	free(detail);
	run_release(&r);
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
	if (!(row = find_row(a, na, path))) {
		cairn_error_set("no audit row records '%s' as a backup cairn took: nothing was "
				"restored ('cairn-apply history' lists the backup rows)", path);
		rc = EXIT_REFUSED;
		goto out;
	}
	if ((rc = check_file(row, path)) != EXIT_OK)
		goto out;
	out->version = xstrdup(row->version);
	out->seq = row->seq;
	if (!drv->restore_from) {
		cairn_error_set("the %s driver restores no file: the audit row's restore: command "
				"brings the dumped tables back (docs/runbooks/restore-from-backup.md)",
				drv->name);
		rc = EXIT_FAILED;
		goto out;
	}
	out->tables_only = drv->dump_tables != NULL;
	if (out->tables_only && (rc = tables_check(row, rows, nrows)) != EXIT_OK)
		goto out;
	if (drv->restore_from(db, path) < 0) {
		rc = EXIT_ENVIRONMENT;
		goto out;
	}
	/* from here the database (or the dumped tables) is the backup's; the
	 * books say so */
	if (out->tables_only ? record_tables(db, drv, &guard.opts, row, path, rows, nrows, out) < 0
			     : record_restore(db, drv, &guard.opts, row, path, na, out) < 0) {
		out->restored_unrecorded = 1;
		rc = EXIT_ENVIRONMENT;
	}
out:
	if (drv->unlock(db) && rc == EXIT_OK)
		rc = EXIT_ENVIRONMENT;
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
	memset(r, 0, sizeof(*r));
}
