/* Unit tests for the SQLite driver's guard of cairn's books
 * (drivers/sqlite-exec.c): while a script runs, nothing of it may write,
 * alter or drop the books; the engine's own writes, before, after and
 * between a split script's statements (on_statement), go through. The
 * guard's authorizer is set once per connection and switched by state
 * (fleet21g): a script that changes no schema leaves the engine's kept
 * statements compiled (sqlite3_set_authorizer expired them all, so every
 * data migration's books rows were compiled again). */
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../drivers/driver.h"
#include "../../drivers/sqlite-private.h"
#include "../../lib/error.h"
#include "../../lib/util.h"
#include "unit.h"

static char dir[] = "/tmp/cairn-unit-sqlite-guard-XXXXXX";
static const struct driver *drv;

static int put(struct db *db, const char *version, int is_new)
{
	struct bk_row r;

	memset(&r, 0, sizeof(r));
	r.version = (char *)version;
	r.name = (char *)version;
	r.checksum = (char *)"sha256:00";
	r.state = (char *)BK_APPLIED;
	r.bundle_id = (char *)"sha256:feed";
	r.environment = (char *)"dev";
	r.applied_at = (char *)"2026-12-05T09:30:00Z";
	r.applied_by = (char *)"tester@unit";
	r.kind = (char *)"schema";
	r.transactional = 1;
	r.statement = -1;
	r.audit_hash = (char *)"h";
	r.is_new = is_new;
	return drv->bk_put(db, &r);
}

static int exec(struct db *db, const char *sql, struct driver_exec *x)
{
	return drv->exec(db, sql, strlen(sql), x);
}

/* How often the engine's kept writes of the books were compiled again. */
static int reprepares(struct db *db)
{
	sqlite3_stmt *kept[] = { db->put, db->put_new, db->put_state, db->append };
	size_t i;
	int n = 0;

	for (i = 0; i < sizeof(kept) / sizeof(kept[0]); i++)
		if (kept[i])
			n += sqlite3_stmt_status(kept[i], SQLITE_STMTSTATUS_REPREPARE, 0);
	return n;
}

static int state_of(struct db *db, const char *version, char *out, size_t len)
{
	sqlite3_stmt *st = NULL;
	int rc = -1;

	*out = 0;
	if (sqlite3_prepare_v2(db->h, "SELECT state FROM cairn_migrations WHERE version = ?1", -1,
			       &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, version, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		snprintf(out, len, "%s", (const char *)sqlite3_column_text(st, 0));
		rc = 0;
	}
	sqlite3_finalize(st);
	return rc;
}

struct split {
	struct db *db;
	int calls, put_rc;
};

/* The engine's on_statement: writes the books (the statement reached). */
static int reached(void *ctx, unsigned long index, size_t offset)
{
	struct split *s = ctx;

	s->calls++;
	s->put_rc |= put(s->db, "3", s->calls == 1);
	return 0;
}

int main(void)
{
	struct driver_exec x;
	struct split s;
	struct db *db = NULL;
	char *dsn, state[32];
	int before, i;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!mkdtemp(dir))
		return 1;
	drv = driver_by_name("sqlite");
	CHECK(drv != NULL);
	dsn = xasprintf("sqlite:%s/guard.db", dir);
	CHECK(drv->open(&db, dsn, 0) == 0 && db != NULL);
	free(dsn);
	if (!db)
		return unit_done();
	CHECK(drv->bk_ensure(db) == 0);

	/* A schema migration, then its row: the row's insert is compiled
	 * against the new schema. */
	memset(&x, 0, sizeof(x));
	CHECK(drv->begin(db) == 0 && exec(db, "CREATE TABLE d (x int);", &x) == 0);
	CHECK(put(db, "1", 1) == 0 && drv->commit(db) == 0);
	before = reprepares(db);

	/* A data migration and its row: nothing compiled again (before
	 * fleet21g: once, the guard's sqlite3_set_authorizer expired it). */
	memset(&x, 0, sizeof(x));
	CHECK(drv->begin(db) == 0 && exec(db, "INSERT INTO d VALUES (1);", &x) == 0);
	CHECK(put(db, "2", 1) == 0 && drv->commit(db) == 0);
	CHECK(reprepares(db) == before);

	/* The guard refuses a script's write of the books and says why; the
	 * engine's own write right after it goes through. */
	memset(&x, 0, sizeof(x));
	CHECK(drv->begin(db) == 0);
	CHECK(exec(db, "INSERT INTO d VALUES (2); DELETE FROM cairn_migrations;", &x) != 0);
	CHECK(strstr(x.err.message, "may not write, alter, drop or put a trigger on cairn's books") !=
	      NULL);
	CHECK(x.statements == 1);
	CHECK(put(db, "2", 0) == 0 && drv->commit(db) == 0);
	CHECK(state_of(db, "1", state, sizeof(state)) == 0 && !strcmp(state, BK_APPLIED));
	CHECK(db->guard == NULL);

	/* A split script (transaction: false): the engine writes the books
	 * between its statements, and the guard is back before the next one,
	 * which may not rewrite them. */
	memset(&x, 0, sizeof(x));
	memset(&s, 0, sizeof(s));
	s.db = db;
	x.flags = DRIVER_EXEC_SPLIT;
	x.on_statement = reached;
	x.ctx = &s;
	CHECK(exec(db, "INSERT INTO d VALUES (3); UPDATE cairn_migrations SET state = 'failed';",
		   &x) != 0);
	CHECK(s.calls == 2 && s.put_rc == 0);
	CHECK(x.statements == 1);
	CHECK(strstr(x.err.message, "cairn's books") != NULL);
	CHECK(state_of(db, "1", state, sizeof(state)) == 0 && !strcmp(state, BK_APPLIED));
	CHECK(state_of(db, "3", state, sizeof(state)) == 0 && !strcmp(state, BK_APPLIED));

	/* A temp table shadowing the books, a trigger on them (TEMP too): refused. */
	memset(&x, 0, sizeof(x));
	CHECK(drv->begin(db) == 0);
	CHECK(exec(db, "CREATE TEMP TABLE cairn_audit (x);", &x) != 0);
	CHECK(drv->rollback(db) == 0);
	memset(&x, 0, sizeof(x));
	CHECK(drv->begin(db) == 0);
	CHECK(exec(db, "CREATE TRIGGER t AFTER INSERT ON cairn_migrations BEGIN SELECT 1; END;",
		   &x) != 0);
	CHECK(drv->rollback(db) == 0);
	memset(&x, 0, sizeof(x));
	CHECK(drv->begin(db) == 0);
	CHECK(exec(db, "CREATE TEMP TRIGGER t AFTER INSERT ON main.cairn_audit BEGIN SELECT 1; END;",
		   &x) != 0);
	CHECK(drv->rollback(db) == 0);
	drv->close(db);

	/* the database and its kept journal, then the directory */
	for (i = 0; i < 2; i++) {
		char *f = xasprintf("%s/guard.db%s", dir, i ? "-journal" : "");

		unlink(f);
		free(f);
	}
	if (rmdir(dir) != 0)
		printf("# could not remove %s\n", dir);
	return unit_done();
}
