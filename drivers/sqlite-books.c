/* The SQLite driver's bookkeeping (sqlite.c): the cairn_migrations and
 * cairn_audit tables, read (and read ahead by the early open) and written
 * through cached statements. */
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../lib/buf.h"
#include "../lib/error.h"
#include "../lib/pool.h"
#include "../lib/util.h"
#include "driver.h"
#include "sqlite-private.h"

/* cairn_migrations is WITHOUT ROWID: one b-tree keyed by version instead of
 * a table plus an index, so each migration's commit writes one page fewer. */
static const char bk_schema[] =
	"CREATE TABLE IF NOT EXISTS cairn_migrations (\n"
	"  version TEXT PRIMARY KEY NOT NULL,\n"
	"  name TEXT NOT NULL,\n"
	"  checksum TEXT NOT NULL,\n"
	"  state TEXT NOT NULL CHECK (state IN ('pending','in_progress','applied','failed','rolled_back')),\n"
	"  bundle_id TEXT NOT NULL DEFAULT '',\n"
	"  environment TEXT NOT NULL DEFAULT '',\n"
	"  applied_at TEXT NOT NULL DEFAULT '',\n"
	"  applied_by TEXT NOT NULL DEFAULT '',\n"
	"  duration_ms INTEGER NOT NULL DEFAULT 0,\n"
	"  down_sql TEXT,\n"
	"  irreversible INTEGER NOT NULL DEFAULT 0,\n"
	"  transactional INTEGER NOT NULL DEFAULT 1,\n"
	"  kind TEXT NOT NULL DEFAULT 'schema',\n"
	"  batches INTEGER NOT NULL DEFAULT 0,\n"
	"  rows_changed INTEGER NOT NULL DEFAULT 0,\n"
	"  statement INTEGER NOT NULL DEFAULT -1,\n"
	"  error TEXT,\n"
	"  audit_hash TEXT NOT NULL DEFAULT ''\n"
	") WITHOUT ROWID;\n"
	"CREATE TABLE IF NOT EXISTS cairn_audit (\n"
	"  seq INTEGER PRIMARY KEY NOT NULL,\n"
	"  at TEXT NOT NULL,\n"
	"  actor TEXT NOT NULL,\n"
	"  action TEXT NOT NULL,\n"
	"  version TEXT NOT NULL,\n"
	"  from_version TEXT NOT NULL,\n"
	"  to_version TEXT NOT NULL,\n"
	"  bundle_id TEXT NOT NULL,\n"
	"  environment TEXT NOT NULL,\n"
	"  detail TEXT NOT NULL,\n"
	"  prev_hash TEXT NOT NULL,\n"
	"  hash TEXT NOT NULL\n"
	");\n";

/* Looked up in the schema SQLite already holds, not by scanning
 * sqlite_master (5,000 rows in a database with 5,000 tables). A view of
 * that name is an error here, so it does not count. */
static int table_exists(struct db *db, const char *name)
{
	return sqlite3_table_column_metadata(db->h, "main", name, NULL, NULL, NULL, NULL, NULL,
					     NULL) == SQLITE_OK;
}

int sqlite_bk_exists(struct db *db, int *exists)
{
	*exists = 0;
	if (!db->h)
		return 0;
	/* The schema this connection holds may predate another runner's
	 * first apply (it was read at open, before the lock): a statement
	 * that reads the schema table checks the file's schema cookie and
	 * reloads what changed, so a runner that waited for the lock plans
	 * from the tables as they are. */
	if (sqlite_simple(db, "SELECT 1 FROM sqlite_schema LIMIT 0"))
		return -1;
	*exists = table_exists(db, "cairn_migrations") && table_exists(db, "cairn_audit");
	return 0;
}

int sqlite_bk_ensure(struct db *db)
{
	int in_tx = !sqlite3_get_autocommit(db->h), rc;

	if (!in_tx && sqlite_simple(db, "BEGIN IMMEDIATE"))
		return -1;
	rc = sqlite_simple(db, bk_schema);
	if (!in_tx)
		rc = rc ? (sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL), -1)
			: sqlite_simple(db, "COMMIT");
	return rc;
}

/* Whether rows are already in version order. They come in the order of
 * cairn_migrations' key, the text of version, which is version_cmp's
 * whenever versions have the same number of digits (timestamps, padded
 * sequences). Checking 5,000 rows costs 0.55 M instructions; sorting them
 * when they were in order cost 4.4 M (callgrind). */
static int rows_in_order(const struct bk_row *rows, size_t n)
{
	size_t i;

	for (i = 1; i < n; i++)
		if (version_cmp(rows[i - 1].version, rows[i].version) > 0)
			return 0;
	return 1;
}

/* The text columns first, in row_strings' order: asked for in this order
 * rather than the table's, SQLite spends 1.6 M fewer instructions stepping
 * 5,000 rows (callgrind; the same 18 columns). */
#define BK_TEXT_COLUMNS 12
static const char bk_select[] =
	"SELECT version, name, checksum, state, bundle_id, environment, applied_at, "
	"applied_by, kind, audit_hash, down_sql, error, "
	"duration_ms, irreversible, transactional, batches, rows_changed, statement "
	"FROM cairn_migrations";

/* The columns whose values most rows share with the row before them:
 * state, bundle_id, environment, applied_at (a run's migrations applied
 * in the same second), applied_by and kind (the row_strings indexes). At
 * 20,000 migrations applied by one bundle they are 2.4 MB of the rows'
 * 6.0 MB of strings, nearly all of it repeats (perf14h). */
#define BK_SHARED_COLUMNS 6
static const int bk_shared[BK_SHARED_COLUMNS] = { 3, 4, 5, 6, 7, 8 };

/* The value of each shared column kept last, in the connection's pool
 * (db->shared): a row whose value is the same points at it. */
struct shared_last {
	const char *value[BK_SHARED_COLUMNS];
	size_t len[BK_SHARED_COLUMNS];
};

/* text as a shared column's value: the last one kept when it is the
 * same, else a copy in the pool, kept as the last. */
static char *shared_value(struct db *db, struct shared_last *last, int k, const char *text,
			  size_t len)
{
	if (!last->value[k] || last->len[k] != len || memcmp(last->value[k], text, len)) {
		last->value[k] = pool_strndup(&db->shared, text, len);
		last->len[k] = len;
	}
	return (char *)last->value[k];
}

/* A row's strings, copied into one allocation (bk_row.strings) instead of
 * twelve, but for the shared columns, which point into the connection's
 * pool (shared_value) and live until it closes. NULL reads as "", except
 * in down_sql and error (the last two), which stay NULL. strlen, not
 * sqlite3_column_bytes: as many bytes as strdup copied, at half the cost
 * of another call into SQLite. */
static void row_strings(struct db *db, struct shared_last *last, sqlite3_stmt *st,
			struct bk_row *r)
{
	char **const field[BK_TEXT_COLUMNS] = {
		&r->version, &r->name, &r->checksum, &r->state, &r->bundle_id, &r->environment,
		&r->applied_at, &r->applied_by, &r->kind, &r->audit_hash, &r->down_sql, &r->error,
	};
	const char *text[BK_TEXT_COLUMNS];
	size_t len[BK_TEXT_COLUMNS], total = 0;
	int shared[BK_TEXT_COLUMNS] = { 0 };
	char *p;
	int i;

	for (i = 0; i < BK_SHARED_COLUMNS; i++)
		shared[bk_shared[i]] = i + 1;
	for (i = 0; i < BK_TEXT_COLUMNS; i++) {
		text[i] = (const char *)sqlite3_column_text(st, i);
		len[i] = text[i] ? strlen(text[i]) : 0;
		if (!shared[i])
			total += len[i] + 1;
	}
	p = r->strings = xmalloc(total);
	for (i = 0; i < BK_TEXT_COLUMNS; i++) {
		if (shared[i]) {
			*field[i] = shared_value(db, last, shared[i] - 1, text[i] ? text[i] : "",
						 len[i]);
			continue;
		}
		if (!text[i] && i >= BK_TEXT_COLUMNS - 2)
			continue;
		memcpy(p, text[i] ? text[i] : "", len[i]);
		p[len[i]] = '\0';
		*field[i] = p;
		p += len[i] + 1;
	}
}

/* Books of more rows than this have their array sized once, to the count
 * of rows, rather than doubled on: each doubling copied the array and left
 * the old one free, and at 20,000 rows those (5 MB, written once each)
 * stayed resident through the bundle's verification, which the early
 * open's read runs beside (perf14j: VmHWM when the parse ends 40.4 ->
 * 36.3 MB). Below it the count (a walk of the table, +1.7 M instructions
 * at 5,000 rows) would cost more than the copies. */
#define BK_COUNT_FROM 8192

/* The number of rows, or 0: a size for the array, nothing more (a row
 * written in between is still read, and the array shrunk to the rows read). */
static size_t rows_counted(struct db *db)
{
	sqlite3_stmt *st = NULL;
	long long n = 0;

	if (sqlite3_prepare_v2(db->h, "SELECT count(*) FROM cairn_migrations", -1, &st,
			       NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n > 0 ? (size_t)n : 0;
}

/* The rows as they are now, in version order. */
static int read_all_rows(struct db *db, struct bk_row **out, size_t *n)
{
	struct bk_row *rows = NULL;
	struct shared_last last;
	size_t nr = 0, alloc = 0;
	sqlite3_stmt *st = NULL;
	int rc;

	memset(&last, 0, sizeof(last));

	*out = NULL;
	*n = 0;
	rc = sqlite3_prepare_v2(db->h, bk_select, -1, &st, NULL);
	while (rc == SQLITE_OK || rc == SQLITE_ROW) {
		if ((rc = sqlite3_step(st)) != SQLITE_ROW)
			break;
		struct bk_row *r;

		if (nr == alloc && alloc == BK_COUNT_FROM) {
			size_t want = rows_counted(db);

			if (want > nr) {
				rows = xrealloc(rows, want * sizeof(*rows));
				alloc = want;
			}
		}
		ALLOC_GROW(rows, nr + 1, alloc);
		r = &rows[nr++];
		memset(r, 0, sizeof(*r));
		row_strings(db, &last, st, r);
		r->duration_ms = sqlite3_column_int64(st, 12);
		r->irreversible = sqlite3_column_int(st, 13);
		r->transactional = sqlite3_column_int(st, 14);
		r->batches = sqlite3_column_int64(st, 15);
		r->rows_changed = sqlite3_column_int64(st, 16);
		r->statement = sqlite3_column_int64(st, 17);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		cairn_error_set("cannot read cairn_migrations in '%s': %s", db->path,
				sqlite3_errmsg(db->h));
		bk_rows_free(rows, nr);
		return -1;
	}
	/* sorted here, not by the query: an ORDER BY made SQLite copy every
	 * row, down script and all, through its sorter */
	ALLOC_SHRINK(rows, nr, alloc);
	if (!rows_in_order(rows, nr))
		bk_rows_sort(rows, nr);
	*out = rows;
	*n = nr;
	return 0;
}

/* The rows as briefs (rss14o), in read_all_rows' order: 0; 1 when that
 * order is not version order, which only a sort of the whole rows gives
 * (bk_rows_sort), so the caller reads those; -1 with the error set. Each
 * row is seen through SQLite's own column text for as long as its brief
 * takes to make (bk_briefs_add), nothing of it copied but its version and
 * name (rss14p; the rest is kept compact, driver.h). */
static int read_all_briefs(struct db *db, struct bk_briefs *bs)
{
	sqlite3_stmt *st = NULL;
	size_t i;
	int rc;

	memset(bs, 0, sizeof(*bs));
	rc = sqlite3_prepare_v2(db->h, bk_select, -1, &st, NULL);
	while (rc == SQLITE_OK || rc == SQLITE_ROW) {
		char *text[BK_TEXT_COLUMNS];
		struct bk_row r;
		int k;

		if ((rc = sqlite3_step(st)) != SQLITE_ROW)
			break;
		if (bs->n == bs->alloc && bs->alloc == BK_COUNT_FROM) {
			size_t want = rows_counted(db);

			if (want > bs->n) {
				bs->b = xrealloc(bs->b, want * sizeof(*bs->b));
				/* every one is filled: mapped in at once */
				mem_prefault(bs->b + bs->n, (want - bs->n) * sizeof(*bs->b));
				bs->alloc = want;
			}
		}
		for (k = 0; k < BK_TEXT_COLUMNS; k++) {
			text[k] = (char *)sqlite3_column_text(st, k);
			if (!text[k] && k < BK_TEXT_COLUMNS - 2)
				text[k] = "";
		}
		memset(&r, 0, sizeof(r));
		r.version = text[0], r.name = text[1], r.checksum = text[2], r.state = text[3];
		r.bundle_id = text[4], r.environment = text[5], r.kind = text[8];
		r.audit_hash = text[9], r.down_sql = text[10];
		r.irreversible = sqlite3_column_int(st, 13);
		r.transactional = sqlite3_column_int(st, 14);
		bk_briefs_add(bs, &r);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		cairn_error_set("cannot read cairn_migrations in '%s': %s", db->path,
				sqlite3_errmsg(db->h));
		bk_briefs_release(bs);
		return -1;
	}
	bk_briefs_finish(bs);
	for (i = 1; i < bs->n; i++)
		if (version_cmp(bs->b[i - 1].version, bs->b[i].version) > 0) {
			bk_briefs_release(bs);
			return 1;
		}
	return 0;
}

/* Where the file stands, as far as the bookkeeping rows go: another
 * connection's commits move PRAGMA data_version (and only those do); this
 * connection's own row writes, committed or not, move its total_changes,
 * and its own DDL (a dropped or recreated table) moves schema_version. */
static int rows_stamp(struct db *db, long long stamp[3])
{
	static const char *const pragmas[2] = { "PRAGMA data_version", "PRAGMA schema_version" };
	size_t i;

	for (i = 0; i < 2; i++) {
		sqlite3_stmt *st = sqlite_pragma_row(db, pragmas[i]);

		if (!st)
			return -1;
		stamp[i] = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	stamp[2] = sqlite3_total_changes64(db->h);
	return 0;
}

/* The page cache shrunk to a few pages for a read that visits each page
 * once (sqlite_prefetch_rows, sqlite_audit_scan, below); restore is the
 * pragma that sets it back. 1 when shrunk. Never inside a transaction,
 * whose changed pages a small cache would spill to the file early. */
static int cache_small(struct db *db, char restore[64])
{
	sqlite3_stmt *st;
	int small = 0;

	if (!sqlite3_get_autocommit(db->h))
		return 0;
	st = sqlite_pragma_row(db, "PRAGMA cache_size");
	if (st && (size_t)snprintf(restore, 64, "PRAGMA cache_size=%lld",
				   (long long)sqlite3_column_int64(st, 0)) < 64)
		small = sqlite3_exec(db->h, "PRAGMA cache_size=16", NULL, NULL, NULL) == SQLITE_OK;
	sqlite3_finalize(st);
	return small;
}

/* On the early-open thread, while the bundle is verified: the bookkeeping
 * rows, read in one read transaction together with the stamp they belong
 * to (reading 5,000 rows, down scripts and all, is ~6 ms that a
 * nothing-pending apply would otherwise spend after verification).
 * sqlite_bk_read takes them only if the stamp has not moved by then, that
 * is if nobody, this connection included, has changed the file in
 * between: the rows are then exactly what it would read. Any failure here
 * only means no prefetch; bk_read reads and reports for itself.
 *
 * The read goes through a page cache of a few pages, and the connection's
 * own size is set back afterwards. Each page of cairn_migrations is read
 * once, in key order, so keeping them (SQLite's default cache is 2 MB)
 * only costs: a new buffer a page, which on this thread's malloc arena
 * grows the heap a page or two at a time, an mprotect and a page fault
 * each. A small cache reuses a few buffers, and frees those the schema
 * read filled for the rows' strings to reuse: at 5,000 rows, 285 mprotect
 * calls instead of 726 and 496 page faults instead of 971 (perf). */
void sqlite_prefetch_rows(struct db *db, int brief)
{
	char restore[64];
	int exists = 0, small = cache_small(db, restore);

	if (sqlite3_exec(db->h, "BEGIN", NULL, NULL, NULL) == SQLITE_OK) {
		if (rows_stamp(db, db->pre_stamp) == 0 && sqlite_bk_exists(db, &exists) == 0 &&
		    exists)
			db->have_pre = brief ? (read_all_briefs(db, &db->pre_briefs) == 0 ? 2 : 0)
					     : (read_all_rows(db, &db->pre_rows, &db->pre_n) == 0);
		sqlite3_exec(db->h, "COMMIT", NULL, NULL, NULL);
	}
	if (small)
		sqlite3_exec(db->h, restore, NULL, NULL, NULL);
	cairn_error_clear();
}

/* What the early open read, taken once: 1 (rows) or 2 (briefs) when the
 * stamp has not moved since, what it read then handed to the caller's
 * *rows and *n, or *bs; 0 when nothing is taken, whatever was read freed. */
static int take_prefetched(struct db *db, struct bk_row **rows, size_t *n, struct bk_briefs *bs)
{
	long long now[3];
	int kind = db->have_pre, fresh;

	if (!kind)
		return 0;
	fresh = rows_stamp(db, now) == 0 && !memcmp(now, db->pre_stamp, sizeof(now));
	db->have_pre = 0;
	if (fresh && kind == 1 && rows) {
		*rows = db->pre_rows;
		*n = db->pre_n;
	} else if (fresh && kind == 2 && bs) {
		*bs = db->pre_briefs;
	} else {
		bk_rows_free(db->pre_rows, db->pre_n);
		bk_briefs_release(&db->pre_briefs);
		kind = 0;
	}
	db->pre_rows = NULL;
	db->pre_n = 0;
	memset(&db->pre_briefs, 0, sizeof(db->pre_briefs));
	return kind;
}

int sqlite_bk_read(struct db *db, struct bk_row **out, size_t *n)
{
	int exists;

	*out = NULL;
	*n = 0;
	if (take_prefetched(db, out, n, NULL))
		return 0;
	if (sqlite_bk_exists(db, &exists))
		return -1;
	if (!exists)
		return 0;
	return read_all_rows(db, out, n);
}

/* The stamp kept is the one read with the briefs: the prefetch's (taken in
 * its read transaction, and found unmoved when they were taken), else
 * one taken before the read, so a commit during the read moves it too. */
int sqlite_bk_brief_read(struct db *db, struct bk_briefs *out)
{
	int exists;

	memset(out, 0, sizeof(*out));
	db->have_brief_stamp = 0;
	if (take_prefetched(db, NULL, NULL, out)) {
		memcpy(db->brief_stamp, db->pre_stamp, sizeof(db->brief_stamp));
		db->have_brief_stamp = 1;
		return 0;
	}
	if (sqlite_bk_exists(db, &exists))
		return -1;
	if (!exists)
		return 0;
	db->have_brief_stamp = rows_stamp(db, db->brief_stamp) == 0;
	return read_all_briefs(db, out);
}

int sqlite_bk_same_since_brief(struct db *db)
{
	long long now[3];

	return db->have_brief_stamp && rows_stamp(db, now) == 0 &&
	       !memcmp(now, db->brief_stamp, sizeof(now));
}

static void bind_str(sqlite3_stmt *st, int i, const char *s)
{
	sqlite3_bind_text(st, i, s ? s : "", -1, SQLITE_STATIC);
}

/* NULL stays NULL (down_sql, error). */
static void bind_opt(sqlite3_stmt *st, int i, const char *s)
{
	if (s)
		sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

static int write_error(struct db *db, const char *table)
{
	if (sqlite_was_replaced(db))
		return -1;
	cairn_error_set("cannot write %s in '%s': %s", table, db->path, sqlite3_errmsg(db->h));
	return -1;
}

/* The bookkeeping writes are prepared once a connection and kept: SQLite
 * prepares a kept statement again by itself when the schema changed. */
static int prepare_write(struct db *db, sqlite3_stmt **cached, const char *sql,
			 const char *table)
{
	if (!*cached &&
	    sqlite3_prepare_v3(db->h, sql, -1, SQLITE_PREPARE_PERSISTENT, cached, NULL) != SQLITE_OK)
		return write_error(db, table);
	return 0;
}

/* Runs a bound write and readies it for the next one. */
static int run_write(struct db *db, sqlite3_stmt *st, const char *table)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE ? 0 : write_error(db, table);
}

/* Every CREATE TABLE expires the kept bookkeeping writes, so each migration
 * prepares them again, and SQLite's preparing costs most where it looks up
 * column names: 19.5 us for the plain INSERT of 18 named columns, 11.4 us
 * for the same with positional VALUES, 25 us for an insert-or-replace (a
 * prepare loop, SQLite 3.40). So the writes name no columns when the
 * tables' columns are exactly the ones bk_ensure creates, in its order
 * (checked once a connection against the lists below, which the named form
 * is written from), and a row the engine knows is new is a plain INSERT. */
static const char *const mig_columns[] = {
	"version", "name", "checksum", "state", "bundle_id", "environment", "applied_at",
	"applied_by", "duration_ms", "down_sql", "irreversible", "transactional", "kind",
	"batches", "rows_changed", "statement", "error", "audit_hash",
};
static const char *const audit_columns[] = {
	"seq", "at", "actor", "action", "version", "from_version", "to_version", "bundle_id",
	"environment", "detail", "prev_hash", "hash",
};
#define NCOLS(a) (sizeof(a) / sizeof(*(a)))

/* 1 when table has exactly these columns, in this order. */
static int columns_are(struct db *db, const char *table, const char *const *cols, size_t n)
{
	sqlite3_stmt *st;
	size_t i = 0;
	int same = 1;

	if (sqlite3_prepare_v2(db->h, "SELECT name FROM pragma_table_info(?1)", -1, &st, NULL) !=
	    SQLITE_OK)
		return 0;
	sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);

		if (i >= n || !name || strcmp(name, cols[i]))
			same = 0;
		i++;
	}
	sqlite3_finalize(st);
	return same && i == n;
}

static int positional(struct db *db)
{
	if (!db->layout_known) {
		db->layout_known = 1;
		db->positional =
			columns_are(db, "cairn_migrations", mig_columns, NCOLS(mig_columns)) &&
			columns_are(db, "cairn_audit", audit_columns, NCOLS(audit_columns));
	}
	return db->positional;
}

/* "VERB INTO table [(c1, ...)] VALUES (?1, ...)": cols named unless the
 * table's layout is known to be ours. */
static int prepare_insert(struct db *db, sqlite3_stmt **cached, const char *verb,
			  const char *table, const char *const *cols, size_t n)
{
	struct buf sql = BUF_INIT;
	size_t i;
	int rc;

	if (*cached)
		return 0;
	buf_printf(&sql, "%s INTO %s ", verb, table);
	for (i = 0; !positional(db) && i < n; i++)
		buf_printf(&sql, "%s%s%s", i ? ", " : "(", cols[i], i + 1 < n ? "" : ") ");
	for (i = 0; i < n; i++)
		buf_printf(&sql, "%s?%zu%s", i ? ", " : "VALUES (", i + 1, i + 1 < n ? "" : ")");
	rc = prepare_write(db, cached, sql.ptr, table);
	buf_release(&sql);
	return rc;
}

/* A rollback changes a row's state and when and by whom, nothing else: an
 * UPDATE of those columns costs SQLite 7 % less than writing the whole row
 * again (a rollback of 1,000, callgrind). 1 when it updated the row, 0 when
 * there was none (the caller then writes the whole row), -1 on error. */
static int put_state(struct db *db, const struct bk_row *r)
{
	sqlite3_stmt *st;

	if (prepare_write(db, &db->put_state,
			  "UPDATE cairn_migrations SET state = ?2, environment = ?3, "
			  "applied_at = ?4, applied_by = ?5, duration_ms = ?6, error = ?7, "
			  "audit_hash = ?8 WHERE version = ?1",
			  "cairn_migrations") < 0)
		return -1;
	st = db->put_state;
	bind_str(st, 1, r->version);
	bind_str(st, 2, r->state);
	bind_str(st, 3, r->environment);
	bind_str(st, 4, r->applied_at);
	bind_str(st, 5, r->applied_by);
	sqlite3_bind_int64(st, 6, r->duration_ms);
	bind_opt(st, 7, r->error);
	bind_str(st, 8, r->audit_hash);
	if (run_write(db, st, "cairn_migrations") < 0)
		return -1;
	return sqlite3_changes(db->h) > 0;
}

int sqlite_bk_put(struct db *db, const struct bk_row *r)
{
	sqlite3_stmt **cached = r->is_new ? &db->put_new : &db->put;
	sqlite3_stmt *st;
	int rc;

	if (r->state_only && !r->is_new && (rc = put_state(db, r)) != 0)
		return rc < 0 ? -1 : 0;
	if (prepare_insert(db, cached, r->is_new ? "INSERT" : "INSERT OR REPLACE",
			   "cairn_migrations", mig_columns, NCOLS(mig_columns)) < 0)
		return -1;
	st = *cached;
	bind_str(st, 1, r->version);
	bind_str(st, 2, r->name);
	bind_str(st, 3, r->checksum);
	bind_str(st, 4, r->state);
	bind_str(st, 5, r->bundle_id);
	bind_str(st, 6, r->environment);
	bind_str(st, 7, r->applied_at);
	bind_str(st, 8, r->applied_by);
	sqlite3_bind_int64(st, 9, r->duration_ms);
	bind_opt(st, 10, r->down_sql);
	sqlite3_bind_int(st, 11, r->irreversible);
	sqlite3_bind_int(st, 12, r->transactional);
	bind_str(st, 13, r->kind ? r->kind : "schema");
	sqlite3_bind_int64(st, 14, r->batches);
	sqlite3_bind_int64(st, 15, r->rows_changed);
	sqlite3_bind_int64(st, 16, r->statement);
	bind_opt(st, 17, r->error);
	bind_str(st, 18, r->audit_hash);
	return run_write(db, st, "cairn_migrations");
}

int sqlite_audit_append(struct db *db, const struct audit_row *r)
{
	sqlite3_stmt *st;

	if (prepare_insert(db, &db->append, "INSERT", "cairn_audit", audit_columns,
			   NCOLS(audit_columns)) < 0)
		return -1;
	st = db->append;
	sqlite3_bind_int64(st, 1, r->seq);
	bind_str(st, 2, r->at);
	bind_str(st, 3, r->actor);
	bind_str(st, 4, r->action);
	bind_str(st, 5, r->version);
	bind_str(st, 6, r->from_version);
	bind_str(st, 7, r->to_version);
	bind_str(st, 8, r->bundle_id);
	bind_str(st, 9, r->environment);
	bind_str(st, 10, r->detail);
	bind_str(st, 11, r->prev_hash);
	bind_str(st, 12, r->hash);
	return run_write(db, st, "cairn_audit");
}

/* An audit row's eleven strings in one allocation (audit_row.strings):
 * every run reads the whole chain, 11 mallocs a row were 55,000 at 5,000
 * migrations. NULL reads as "". */
static void audit_row_strings(sqlite3_stmt *st, struct audit_row *r)
{
	char **const field[11] = {
		&r->at, &r->actor, &r->action, &r->version, &r->from_version, &r->to_version,
		&r->bundle_id, &r->environment, &r->detail, &r->prev_hash, &r->hash,
	};
	const char *text[11];
	size_t len[11], total = 0;
	char *p;
	int i;

	memset(r, 0, sizeof(*r));
	r->seq = sqlite3_column_int64(st, 0);
	for (i = 0; i < 11; i++) {
		text[i] = (const char *)sqlite3_column_text(st, i + 1);
		len[i] = text[i] ? strlen(text[i]) : 0;
		total += len[i] + 1;
	}
	p = r->strings = xmalloc(total);
	for (i = 0; i < 11; i++) {
		memcpy(p, text[i] ? text[i] : "", len[i]);
		p[len[i]] = '\0';
		*field[i] = p;
		p += len[i] + 1;
	}
}

int sqlite_audit_scan(struct db *db, int (*cb)(void *ctx, const struct audit_row *r), void *ctx)
{
	sqlite3_stmt *st = NULL;
	struct audit_row r;
	char restore[64];
	int exists, rc, i, small;

	if (sqlite_bk_exists(db, &exists))
		return -1;
	if (!exists)
		return 0;
	small = cache_small(db, restore);
	rc = sqlite3_prepare_v2(db->h, "SELECT seq, at, actor, action, version, from_version, "
				"to_version, bundle_id, environment, detail, prev_hash, hash "
				"FROM cairn_audit ORDER BY seq", -1, &st, NULL);
	while (rc == SQLITE_OK || rc == SQLITE_ROW) {
		char *text[11];

		if ((rc = sqlite3_step(st)) != SQLITE_ROW)
			break;
		for (i = 0; i < 11; i++) {
			text[i] = (char *)sqlite3_column_text(st, i + 1);
			if (!text[i])
				text[i] = (char *)"";
		}
		memset(&r, 0, sizeof(r));
		r.seq = sqlite3_column_int64(st, 0);
		r.at = text[0];
		r.actor = text[1];
		r.action = text[2];
		r.version = text[3];
		r.from_version = text[4];
		r.to_version = text[5];
		r.bundle_id = text[6];
		r.environment = text[7];
		r.detail = text[8];
		r.prev_hash = text[9];
		r.hash = text[10];
		if (cb(ctx, &r)) {
			rc = SQLITE_DONE;
			break;
		}
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		cairn_error_set("cannot read cairn_audit in '%s': %s", db->path, sqlite3_errmsg(db->h));
		if (small)
			sqlite3_exec(db->h, restore, NULL, NULL, NULL);
		return -1;
	}
	if (small)
		sqlite3_exec(db->h, restore, NULL, NULL, NULL);
	return 0;
}

int sqlite_audit_read(struct db *db, int last_only, struct audit_row **out, size_t *n)
{
	struct audit_row *rows = NULL;
	size_t nr = 0, alloc = 0;
	sqlite3_stmt *st = NULL;
	int exists, rc;

	*out = NULL;
	*n = 0;
	if (sqlite_bk_exists(db, &exists))
		return -1;
	if (!exists)
		return 0;
	rc = sqlite3_prepare_v2(db->h,
				last_only ? "SELECT seq, at, actor, action, version, from_version, "
					    "to_version, bundle_id, environment, detail, prev_hash, hash "
					    "FROM cairn_audit ORDER BY seq DESC LIMIT 1"
					  : "SELECT seq, at, actor, action, version, from_version, "
					    "to_version, bundle_id, environment, detail, prev_hash, hash "
					    "FROM cairn_audit ORDER BY seq",
				-1, &st, NULL);
	while (rc == SQLITE_OK || rc == SQLITE_ROW) {
		if ((rc = sqlite3_step(st)) != SQLITE_ROW)
			break;
		struct audit_row *r;

		ALLOC_GROW(rows, nr + 1, alloc);
		r = &rows[nr++];
		audit_row_strings(st, r);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		cairn_error_set("cannot read cairn_audit in '%s': %s", db->path, sqlite3_errmsg(db->h));
		audit_rows_free(rows, nr);
		return -1;
	}
	*out = rows;
	*n = nr;
	return 0;
}
