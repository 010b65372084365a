/* The importer's questions about SQL, through project/sqlcheck.c:
 * self-made transaction wrappers and statements that cannot run in a
 * transaction, past quotes and comments, in both dialects. */
#include <string.h>

#include "../../import/import-int.h"
#include "unit.h"

static int wrapped_in(const char *s, enum sql_dialect dialect)
{
	size_t a, b, c, d;

	return sql_wrapped(s, strlen(s), dialect, &a, &b, &c, &d);
}

/* the same answer from PostgreSQL's parser and from SQLite's lexer */
static int wrapped(const char *s)
{
	int pg = wrapped_in(s, SQL_POSTGRES), lite = wrapped_in(s, SQL_SQLITE);

	CHECK(pg == lite);
	return pg;
}

static const char *notx(const char *s, enum sql_dialect d)
{
	static char what[40];

	return sql_notx_statement(s, strlen(s), d, what) ? what : NULL;
}

/* What is left once the wrapper is cut out, as --strip-transaction-wrappers does. */
static void check_strip(const char *s, const char *want)
{
	size_t a, b, c, d;
	char out[256];
	size_t n = 0;

	if (!sql_wrapped(s, strlen(s), SQL_POSTGRES, &a, &b, &c, &d)) {
		CHECK_STR("(not wrapped)", want);
		return;
	}
	memcpy(out, s, a);
	n = a;
	memcpy(out + n, s + b, c - b);
	n += c - b;
	memcpy(out + n, s + d, strlen(s) - d);
	n += strlen(s) - d;
	out[n] = '\0';
	CHECK_STR(out, want);
}

int main(void)
{
	CHECK(wrapped("BEGIN;\nCREATE TABLE t (id int);\nCOMMIT;\n"));
	CHECK(wrapped("-- Deploy shop:users\n\nbegin transaction;\nCREATE TABLE t (id int);\nend;"));
	CHECK(wrapped("START TRANSACTION; SELECT 1; COMMIT WORK;"));
	CHECK(wrapped_in("BEGIN IMMEDIATE; SELECT 1; COMMIT", SQL_SQLITE));
	CHECK(!wrapped("CREATE TABLE t (id int);"));
	CHECK(!wrapped("BEGIN;"));
	CHECK(!wrapped("BEGIN; SELECT 1;"));
	/* a trigger's BEGIN ... END is not a wrapper */
	CHECK(!wrapped_in("CREATE TRIGGER x AFTER INSERT ON t BEGIN SELECT 1; END;", SQL_SQLITE));
	CHECK(!wrapped_in("CREATE TRIGGER x AFTER INSERT ON t BEGIN SELECT 1; END;", SQL_POSTGRES));
	/* a COMMIT in the middle: not a wrapper, the script ends transactions itself */
	CHECK(!wrapped("BEGIN; SELECT 1; COMMIT; BEGIN; SELECT 2; COMMIT;"));
	CHECK(!wrapped_in("BEGIN; SELECT 1; COMMIT AND CHAIN;", SQL_POSTGRES));
	/* a BEGIN inside a string, a comment or a dollar quote is not one either */
	CHECK(!wrapped("SELECT 'BEGIN;'; SELECT 1; COMMIT;"));
	CHECK(!wrapped("/* BEGIN; */ SELECT 1; COMMIT;"));
	CHECK(!wrapped_in("DO $$ BEGIN; $$; COMMIT;", SQL_POSTGRES));
	check_strip("BEGIN;\nCREATE TABLE t (note text DEFAULT 'a;b');\nCOMMIT;\n",
		    "\nCREATE TABLE t (note text DEFAULT 'a;b');\n\n");

	CHECK_STR(notx("CREATE INDEX CONCURRENTLY i ON t (x);", SQL_POSTGRES),
		  "CREATE INDEX CONCURRENTLY");
	CHECK_STR(notx("VACUUM ANALYZE t;", SQL_POSTGRES), "VACUUM");
	CHECK_STR(notx("VACUUM;", SQL_SQLITE), "VACUUM");
	CHECK(!notx("CREATE INDEX i ON t (x);", SQL_POSTGRES));
	CHECK(!notx("-- CONCURRENTLY later\nSELECT 'VACUUM';", SQL_POSTGRES));
	CHECK(!notx("CREATE FUNCTION f() RETURNS void AS $b$ VACUUM $b$ LANGUAGE sql;", SQL_POSTGRES));
	CHECK(!notx("SELECT \"concurrently\" FROM t;", SQL_POSTGRES));
	/* the parser knows a quoted name from the keyword */
	CHECK(!notx("CREATE INDEX \"concurrently\" ON t (x);", SQL_POSTGRES));
	CHECK_STR(notx("create index concurrently on t (x);", SQL_POSTGRES),
		  "CREATE INDEX CONCURRENTLY");

	CHECK(sql_only_comments("-- a\n/* b /* nested */ */\n  \n", 28));
	CHECK(!sql_only_comments("-- a\nSELECT 1;", 14));
	return unit_done();
}
