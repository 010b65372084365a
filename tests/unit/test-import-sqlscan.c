/* The importer's SQL scan: self-made transaction wrappers and statements
 * that cannot run in a transaction, past quotes and comments. */
#include <string.h>

#include "../../import/import-int.h"
#include "unit.h"

static int wrapped(const char *s)
{
	size_t a, b, c, d;

	return sql_wrapped(s, strlen(s), &a, &b, &c, &d);
}

/* What is left once the wrapper is cut out, as --strip-transaction-wrappers does. */
static void check_strip(const char *s, const char *want)
{
	size_t a, b, c, d;
	char out[256];
	size_t n = 0;

	if (!sql_wrapped(s, strlen(s), &a, &b, &c, &d)) {
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
	CHECK(wrapped("BEGIN IMMEDIATE; SELECT 1; COMMIT"));
	CHECK(!wrapped("CREATE TABLE t (id int);"));
	CHECK(!wrapped("BEGIN;"));
	CHECK(!wrapped("BEGIN; SELECT 1;"));
	/* a trigger's BEGIN ... END is not a wrapper */
	CHECK(!wrapped("CREATE TRIGGER x AFTER INSERT ON t BEGIN SELECT 1; END;"));
	/* a BEGIN inside a string, a comment or a dollar quote is not one either */
	CHECK(!wrapped("SELECT 'BEGIN;'; SELECT 1; COMMIT;"));
	CHECK(!wrapped("/* BEGIN; */ SELECT 1; COMMIT;"));
	CHECK(!wrapped("DO $$ BEGIN; $$; COMMIT;"));
	check_strip("BEGIN;\nCREATE TABLE t (note text DEFAULT 'a;b');\nCOMMIT;\n",
		    "\nCREATE TABLE t (note text DEFAULT 'a;b');\n\n");

	CHECK_STR(sql_notx_statement("CREATE INDEX CONCURRENTLY i ON t (x);", 37), "CONCURRENTLY");
	CHECK(sql_notx_statement("VACUUM ANALYZE t;", 17) != NULL);
	CHECK(!sql_notx_statement("CREATE INDEX i ON t (x);", 24));
	CHECK(!sql_notx_statement("-- CONCURRENTLY later\nSELECT 'VACUUM';", 39));
	CHECK(!sql_notx_statement("CREATE FUNCTION f() RETURNS void AS $b$ VACUUM $b$ LANGUAGE sql;", 64));
	CHECK(!sql_notx_statement("SELECT \"concurrently\" FROM t;", 29));

	CHECK(sql_only_comments("-- a\n/* b /* nested */ */\n  \n", 28));
	CHECK(!sql_only_comments("-- a\nSELECT 1;", 14));
	return unit_done();
}
