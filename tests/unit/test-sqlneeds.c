/* ops/sqlneeds.c: what a PostgreSQL script needs from its role, which
 * tables it touches, and its first destructive statement. */
#include <stdlib.h>
#include <string.h>

#include "../../lib/buf.h"
#include "../../ops/sqlneeds.h"
#include "unit.h"

/* "KIND schema.name line creates" per need, one per line. */
static char *describe(const char *sql)
{
	static char out[4096];
	struct sql_needs n;
	size_t i, len = 0;

	memset(&n, 0, sizeof(n));
	out[0] = '\0';
	if (sql_needs_scan(&n, sql) < 0)
		return NULL;
	for (i = 0; i < n.n && len < sizeof(out); i++)
		len += (size_t)snprintf(out + len, sizeof(out) - len, "%s%s %s.%s %d%s%s",
					i ? "\n" : "", sql_need_kind_name(n.items[i].kind),
					n.items[i].schema ? n.items[i].schema : "-",
					n.items[i].name ? n.items[i].name : "-", n.items[i].line,
					n.items[i].creates ? " creates" : "",
					n.items[i].missing_ok ? " if-exists" : "");
	sql_needs_release(&n);
	return out;
}

static void test_needs(void)
{
	CHECK_STR(describe("CREATE TABLE app.t (id int);"),
		  "CREATE on schema app.- 1\nownership of app.t 1 creates");
	CHECK_STR(describe("\n\nALTER TABLE users ADD COLUMN x int;"),
		  "ownership of -.users 3");
	CHECK_STR(describe("DROP TABLE IF EXISTS a, s.b;"),
		  "ownership of -.a 1 if-exists\nownership of s.b 1 if-exists");
	CHECK_STR(describe("CREATE INDEX i ON t (x);\nTRUNCATE t;"),
		  "ownership of -.t 1\nTRUNCATE on -.t 2");
	CHECK_STR(describe("INSERT INTO t VALUES (1); UPDATE t SET x = 1 WHERE y; DELETE FROM t;"),
		  "INSERT on -.t 1\nUPDATE on -.t 1\nDELETE on -.t 1");
	CHECK_STR(describe("CREATE SCHEMA s; CREATE EXTENSION pgcrypto;"),
		  "CREATE on the database -.s 1 creates\n"
		  "CREATE on the database (extension) -.pgcrypto 1");
	CHECK_STR(describe("SELECT 1;"), "");
	CHECK(describe("CREATE TABLE (;") == NULL);
}

static void test_tables(void)
{
	struct sql_needs n;
	char **t = NULL;
	size_t k, i;

	memset(&n, 0, sizeof(n));
	CHECK(sql_needs_scan(&n, "CREATE TABLE new (id int); CREATE INDEX ON new (id);"
			     "INSERT INTO new VALUES (1); ALTER TABLE \"Old\" ADD x int;"
			     "UPDATE s.t SET x = 1 WHERE x = 2; DELETE FROM \"Old\";") == 0);
	k = sql_needs_tables(&n, &t);
	CHECK(k == 2);
	CHECK_STR(k > 0 ? t[0] : NULL, "\"Old\"");
	CHECK_STR(k > 1 ? t[1] : NULL, "\"s\".\"t\"");
	for (i = 0; i < k; i++)
		free(t[i]);
	free(t);
	sql_needs_release(&n);
}

static void test_destructive(void)
{
	static const struct {
		const char *sql, *want;
	} cases[] = {
		{ "ALTER TABLE t ADD COLUMN x int;", NULL },
		{ "\nALTER TABLE t DROP COLUMN x;", "line 2: DROP COLUMN" },
		{ "ALTER TABLE t ALTER COLUMN x TYPE bigint;", "line 1: ALTER COLUMN TYPE" },
		{ "DROP TABLE t;", "line 1: DROP TABLE" },
		{ "DROP INDEX i;", NULL },
		{ "TRUNCATE t;", "line 1: TRUNCATE" },
		{ "DELETE FROM t WHERE id = 1;", NULL },
		{ "DELETE FROM t;", "line 1: DELETE without WHERE" },
		{ "UPDATE t SET x = 1;", "line 1: UPDATE without WHERE" },
		{ "DROP SCHEMA s CASCADE;", "line 1: DROP SCHEMA" },
	};
	size_t i;
	char *what;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = sql_destructive(cases[i].sql, &what);

		if (cases[i].want) {
			CHECK(rc == 1);
			CHECK_STR(what, cases[i].want);
		} else {
			CHECK(rc == 0 && what == NULL);
		}
		free(what);
	}
	CHECK(sql_destructive("ALTER TABLE (;", &what) == -1 && what == NULL);
}

/* What a script creates, for restore (ops20d): "KIND schema.name
 * may_exist" lines, or "unknown: WHY". */
static char *created(const char *sql)
{
	struct sql_created c;
	struct buf b = BUF_INIT;
	size_t i;
	int rc = sql_created_scan(&c, sql);

	if (rc > 0)
		buf_printf(&b, "unknown: %s", c.unknown);
	else if (rc < 0)
		buf_puts(&b, "parse error");
	for (i = 0; rc == 0 && i < c.n; i++)
		buf_printf(&b, "%s%s %s.%s%s", i ? "\n" : "", c.items[i].kind,
			   c.items[i].schema ? c.items[i].schema : "-", c.items[i].name,
			   c.items[i].may_exist ? " may-exist" : "");
	sql_created_release(&c);
	return buf_detach(&b, NULL);
}

static void test_created(void)
{
	static const struct {
		const char *sql, *want;
	} cases[] = {
		{ "ALTER TABLE users DROP COLUMN note;\nCREATE TABLE notes (id serial);\n"
		  "CREATE INDEX n_i ON notes (id);\nCREATE VIEW app.v AS SELECT 1;\n"
		  "CREATE SEQUENCE s;\nCREATE TYPE mood AS ENUM ('a');\n"
		  "CREATE OR REPLACE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1';\n"
		  "CREATE MATERIALIZED VIEW mv AS SELECT 1;\nCREATE DOMAIN d AS int;\n"
		  "CREATE SCHEMA IF NOT EXISTS x;\nCREATE EXTENSION hstore;\n"
		  "INSERT INTO notes DEFAULT VALUES;",
		  "TABLE -.notes\nVIEW app.v\nSEQUENCE -.s\nTYPE -.mood\n"
		  "FUNCTION -.f may-exist\nMATERIALIZED VIEW -.mv\nDOMAIN -.d\n"
		  "SCHEMA -.x may-exist\nEXTENSION -.hstore" },
		{ "CREATE TABLE t (x int);\nCREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW "
		  "EXECUTE FUNCTION f();\nALTER TABLE old RENAME TO newer;", "TABLE -.t\nTABLE -.newer" },
		{ "CREATE TABLE t (x int);\nDO $$ BEGIN NULL; END $$;", "unknown: line 2: do_stmt" },
		{ "CREATE TRIGGER tr BEFORE INSERT ON other FOR EACH ROW EXECUTE FUNCTION f();",
		  "unknown: line 1: create_trig_stmt" },
		{ "DROP FUNCTION f();", "unknown: line 1: drop_stmt" },
		{ "CALL p();", "unknown: line 1: call_stmt" },
		{ "CREATE VIEW v AS SELECT 1;\nCREATE OR REPLACE VIEW v AS SELECT 2;", "VIEW -.v" },
		{ "CREATE TABLE (", "parse error" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		char *got = created(cases[i].sql);

		CHECK_STR(got, cases[i].want);
		free(got);
	}
}

int main(void)
{
	test_needs();
	test_tables();
	test_created();
	test_destructive();
	return unit_done();
}
