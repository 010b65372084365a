/* Unit tests for the SQLite driver's reading of cairn_migrations: bk_read
 * returns every column verbatim and in version order, whether it reads the
 * rows itself or hands over those the early open prefetched, and each row
 * owns its strings (bk_row.strings) until bk_rows_free, but for the values
 * it shares with the row read before it (state, bundle, environment,
 * applied_at, applied_by, kind), which the connection keeps once. */
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "../../drivers/driver.h"
#include "../../lib/error.h"
#include "../../lib/util.h"
#include "unit.h"

static char dir[] = "/tmp/cairn-unit-sqlite-rows-XXXXXX";
static const struct driver *drv;

static struct db *open_db(unsigned flags)
{
	struct db *db = NULL;
	char *dsn = xasprintf("sqlite:%s/rows.db", dir);

	if (drv->open(&db, dsn, flags))
		db = NULL;
	free(dsn);
	return db;
}

static void raw(const char *sql)
{
	char *path = xasprintf("%s/rows.db", dir);
	sqlite3 *h = NULL;

	if (sqlite3_open(path, &h) == SQLITE_OK)
		CHECK(sqlite3_exec(h, sql, NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(h);
	free(path);
}

/* Version 9 has every optional column set and no down script; the others
 * have a down script, no error, and the columns' defaults. */
static int put(struct db *db, const char *version)
{
	int nine = !strcmp(version, "9");
	char *name = xasprintf("%s_m", version), *hash = xasprintf("h%s", version);
	struct bk_row r;
	int rc;

	memset(&r, 0, sizeof(r));
	r.version = (char *)version;
	r.name = name;
	r.checksum = (char *)"sha256:00";
	r.state = (char *)(nine ? BK_FAILED : BK_APPLIED);
	r.bundle_id = (char *)"sha256:feed";
	r.environment = (char *)(nine ? "" : "dev");
	r.applied_at = (char *)(nine ? "" : "2026-11-22T09:30:00Z");
	r.applied_by = (char *)"tester@unit";
	r.duration_ms = nine ? 5 : 0;
	r.down_sql = nine ? NULL : (char *)"DROP TABLE t;";
	r.irreversible = nine;
	r.transactional = !nine;
	r.kind = (char *)(nine ? "batch" : "schema");
	r.batches = nine ? 3 : 0;
	r.rows_changed = nine ? 7 : 0;
	r.statement = nine ? 2 : -1;
	r.error = nine ? (char *)"boom" : NULL;
	r.audit_hash = hash;
	r.is_new = 1;
	rc = drv->bk_put(db, &r);
	free(name);
	free(hash);
	return rc;
}

static void check_row(const struct bk_row *r, const char *version)
{
	int nine = !strcmp(version, "9");
	char *name = xasprintf("%s_m", version), *hash = xasprintf("h%s", version);

	CHECK(r->strings != NULL);
	CHECK_STR(r->version, version);
	CHECK_STR(r->name, name);
	CHECK_STR(r->checksum, "sha256:00");
	CHECK_STR(r->state, nine ? BK_FAILED : BK_APPLIED);
	CHECK_STR(r->bundle_id, "sha256:feed");
	CHECK_STR(r->environment, nine ? "" : "dev");
	CHECK_STR(r->applied_at, nine ? "" : "2026-11-22T09:30:00Z");
	CHECK_STR(r->applied_by, "tester@unit");
	CHECK(r->duration_ms == (nine ? 5 : 0));
	if (nine)
		CHECK(r->down_sql == NULL);
	else
		CHECK_STR(r->down_sql, "DROP TABLE t;");
	CHECK(r->irreversible == nine);
	CHECK(r->transactional == !nine);
	CHECK_STR(r->kind, nine ? "batch" : "schema");
	CHECK(r->batches == (nine ? 3 : 0));
	CHECK(r->rows_changed == (nine ? 7 : 0));
	CHECK(r->statement == (nine ? 2 : -1));
	if (nine)
		CHECK_STR(r->error, "boom");
	else
		CHECK(r->error == NULL);
	CHECK_STR(r->audit_hash, hash);
	free(name);
	free(hash);
}

/* The table's key order is "0002", "10", "9"; version order puts 9 first. */
static void check_rows(struct db *db)
{
	struct bk_row *rows = NULL;
	size_t n = 0;

	CHECK(drv->bk_read(db, &rows, &n) == 0 && n == 3);
	if (n == 3) {
		check_row(&rows[0], "0002");
		check_row(&rows[1], "9");
		check_row(&rows[2], "10");
		/* read in key order: "10" right after "0002", with the same values
		 * ("9", after them, has others) */
		CHECK(rows[2].state == rows[0].state && rows[2].bundle_id == rows[0].bundle_id);
		CHECK(rows[2].environment == rows[0].environment);
		CHECK(rows[2].applied_at == rows[0].applied_at);
		CHECK(rows[2].applied_by == rows[0].applied_by && rows[2].kind == rows[0].kind);
		/* not inside either row's own strings */
		CHECK(rows[0].state < rows[0].strings || rows[0].state > rows[0].audit_hash);
	}
	bk_rows_free(rows, n);
}

/* The prefetch reads through a small page cache: the connection's own
 * size is back afterwards. */
static void check_cache_size(struct db *db)
{
	char *path = xasprintf("%s/rows.db", dir), *sql;
	sqlite3 *h = NULL;
	sqlite3_stmt *st = NULL;
	long long fresh = 0;
	struct driver_error err;
	int truth = 0;

	if (sqlite3_open(path, &h) == SQLITE_OK &&
	    sqlite3_prepare_v2(h, "PRAGMA cache_size", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		fresh = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(h);
	sql = xasprintf("SELECT cache_size = %lld FROM pragma_cache_size", fresh);
	CHECK(fresh != 0 && fresh != 16);
	CHECK(drv->query_truth(db, sql, strlen(sql), &truth, &err) == 0 && truth);
	free(sql);
	free(path);
}

/* The guard's scan of cairn_audit goes through a cache of a few pages
 * (perf14j): asked from inside the scan's callback. */
struct scan_seen {
	struct db *db;
	size_t rows;
	int small;
};

static int scan_cb(void *ctx, const struct audit_row *r)
{
	static const char sql[] = "SELECT cache_size = 16 FROM pragma_cache_size";
	struct scan_seen *s = ctx;
	struct driver_error err;
	int truth = 0;

	(void)r;
	if (!s->rows++)
		s->small = drv->query_truth(s->db, sql, strlen(sql), &truth, &err) == 0 && truth;
	return 0;
}

static void check_audit_scan(struct db *db)
{
	struct scan_seen s = { db, 0, 0 };
	struct audit_row a;

	memset(&a, 0, sizeof(a));
	a.seq = 1;
	a.at = a.actor = a.action = a.version = a.from_version = a.to_version = (char *)"";
	a.bundle_id = a.environment = a.detail = a.prev_hash = a.hash = (char *)"";
	CHECK(drv->audit_append(db, &a) == 0);
	CHECK(drv->audit_scan(db, scan_cb, &s) == 0);
	CHECK(s.rows == 1 && s.small);
	check_cache_size(db);
}

/* More rows than BK_COUNT_FROM (8,192): the array sized once to the
 * count; every row read, in version order, whether read by bk_read or
 * prefetched. */
static void check_many(void)
{
	struct bk_row *rows = NULL;
	struct db *db;
	size_t n = 0, i, j;

	raw("WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < 9000) "
	    "INSERT INTO cairn_migrations (version, name, checksum, state, audit_hash) "
	    "SELECT printf('1%05d', i), 'm', 'sha256:00', 'applied', 'h' FROM k");
	for (i = 0; i < 2; i++) {
		int sorted = 1;

		db = open_db(i ? DRIVER_OPEN_PREFETCH : 0);
		CHECK(db != NULL && drv->bk_read(db, &rows, &n) == 0 && n == 9003);
		for (j = 1; j < n; j++)
			sorted &= strtoull(rows[j - 1].version, NULL, 10) <
				  strtoull(rows[j].version, NULL, 10);
		CHECK(sorted);
		CHECK_STR(n == 9003 ? rows[n - 1].version : NULL, "109000");
		CHECK_STR(n == 9003 ? rows[5000].name : NULL, "m");
		bk_rows_free(rows, n);
		drv->close(db);
	}
}

int main(void)
{
	struct bk_row *rows = NULL;
	struct db *db;
	size_t n = 0;
	char *cmd;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!mkdtemp(dir))
		return 1;
	drv = driver_by_name("sqlite");
	CHECK(drv != NULL);

	/* Read by bk_read itself. */
	db = open_db(0);
	CHECK(db != NULL && drv->bk_ensure(db) == 0);
	CHECK(put(db, "10") == 0 && put(db, "9") == 0 && put(db, "0002") == 0);
	check_rows(db);
	drv->close(db);

	/* Prefetched by the early open and handed over. */
	db = open_db(DRIVER_OPEN_PREFETCH);
	CHECK(db != NULL);
	check_rows(db);
	check_cache_size(db);
	drv->close(db);

	/* Prefetched, then changed by another connection: bk_read reads again. */
	db = open_db(DRIVER_OPEN_PREFETCH);
	CHECK(db != NULL);
	raw("UPDATE cairn_migrations SET state = 'rolled_back' WHERE version = '10'");
	CHECK(drv->bk_read(db, &rows, &n) == 0 && n == 3);
	CHECK_STR(n == 3 ? rows[2].state : NULL, BK_ROLLED_BACK);
	bk_rows_free(rows, n);
	drv->close(db);

	/* Briefs (rss14o). "0002", "10", "9" come in key order, not version
	 * order: no briefs, the caller reads whole rows (which bk_read sorts). */
	{
		struct bk_briefs bs;
		struct db *d2 = open_db(0);

		db = open_db(DRIVER_OPEN_PREFETCH | DRIVER_OPEN_BRIEF);
		CHECK(db != NULL && d2 != NULL && drv->bk_brief_read(db, &bs) == 1 && bs.n == 0);
		drv->close(db);
		/* in order: prefetched and handed over, field for field the briefs
		 * of the whole rows */
		raw("UPDATE cairn_migrations SET version = '09' WHERE version = '9'");
		db = open_db(DRIVER_OPEN_PREFETCH | DRIVER_OPEN_BRIEF);
		CHECK(db != NULL && drv->bk_brief_read(db, &bs) == 0 && bs.n == 3);
		CHECK_STR(bs.n == 3 ? bs.b[2].version : NULL, "10");
		CHECK(bs.n == 3 && (bs.b[2].flags & BK_BRIEF_HASH_ODD) && (bs.b[2].flags & BK_BRIEF_CK_ODD));
		/* "sha256:00" is no digest: a brief cannot hold it (rss14p:
		 * INEXACT), so it matches no row, not even its own */
		CHECK(bs.n == 3 && (bs.b[2].flags & BK_BRIEF_INEXACT));
		CHECK(drv->bk_read(d2, &rows, &n) == 0 && n == 3 && !bk_briefs_match(&bs, rows, n));
		bk_briefs_release(&bs);
		bk_rows_free(rows, n);
		drv->close(db);
		/* written as cairn-apply writes them: field for field the briefs
		 * of the whole rows */
		raw("UPDATE cairn_migrations SET checksum = 'sha256:' || lower(hex(zeroblob(32))), "
		    "audit_hash = lower(hex(zeroblob(32)))");
		db = open_db(DRIVER_OPEN_PREFETCH | DRIVER_OPEN_BRIEF);
		CHECK(db != NULL && drv->bk_brief_read(db, &bs) == 0 && bs.n == 3);
		CHECK(bs.n == 3 && !(bs.b[2].flags & (BK_BRIEF_INEXACT | BK_BRIEF_HASH_ODD)));
		CHECK(drv->bk_read(d2, &rows, &n) == 0 && bk_briefs_match(&bs, rows, n));
		bk_briefs_release(&bs);
		bk_rows_free(rows, n);
		drv->close(db);
		/* changed after the prefetch: read again */
		db = open_db(DRIVER_OPEN_PREFETCH | DRIVER_OPEN_BRIEF);
		raw("UPDATE cairn_migrations SET name = 'renamed' WHERE version = '09'");
		CHECK(db != NULL && drv->bk_brief_read(db, &bs) == 0 && bs.n == 3);
		CHECK(drv->bk_read(d2, &rows, &n) == 0 && n == 3 && !strcmp(rows[1].name, "renamed"));
		CHECK(bk_briefs_match(&bs, rows, n));
		bk_rows_free(rows, n);
		/* and a name changed after the briefs no longer matches them */
		raw("UPDATE cairn_migrations SET name = '9_m' WHERE version = '09'");
		CHECK(drv->bk_read(d2, &rows, &n) == 0 && n == 3 && !bk_briefs_match(&bs, rows, n));
		bk_briefs_release(&bs);
		bk_rows_free(rows, n);
		drv->close(db);
		drv->close(d2);
		raw("UPDATE cairn_migrations SET version = '9' WHERE version = '09'");
		raw("UPDATE cairn_migrations SET checksum = 'sha256:00', audit_hash = 'h' || version");
	}

	/* Prefetched rows nobody takes are freed with the connection. */
	db = open_db(DRIVER_OPEN_PREFETCH | DRIVER_OPEN_READONLY);
	CHECK(db != NULL);
	drv->close(db);

	db = open_db(0);
	CHECK(db != NULL);
	check_audit_scan(db);
	drv->close(db);

	check_many();

	cmd = xasprintf("rm -rf '%s'", dir);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", dir);
	free(cmd);
	return unit_done();
}
