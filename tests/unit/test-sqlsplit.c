/* Unit tests: the PostgreSQL statement split (PostgreSQL's parser through
 * libpg_query, lib/sqlsplit.c) and error-position mapping: the cases the
 * lexer it replaced (drivers/pgsplit.c) was tested with, and what is not SQL. */
#include <stdlib.h>
#include <string.h>

#include "../../lib/sqlsplit.h"
#include "../../lib/buf.h"
#include "../../lib/error.h"
#include "unit.h"

/* "LINE:TEXT" for every statement, joined by " | "; or "ERR:message". */
static char *split(const char *sql)
{
	struct sqlsplit s = SQLSPLIT_INIT;
	struct buf b = BUF_INIT;
	size_t i;

	if (sqlsplit_pg(&s, sql, strlen(sql)) < 0) {
		buf_printf(&b, "ERR:%s", cairn_error_last());
	} else {
		for (i = 0; i < s.n; i++)
			buf_printf(&b, "%s%d:%.*s", i ? " | " : "", s.stmts[i].line,
				   (int)s.stmts[i].len, sql + s.stmts[i].offset);
	}
	sqlsplit_release(&s);
	if (!b.ptr)
		buf_puts(&b, "");
	return buf_detach(&b, NULL);
}

#define SPLIT(sql, want)                                                       \
	do {                                                                   \
		char *got_ = split(sql);                                       \
		CHECK_STR(got_, want);                                         \
		free(got_);                                                    \
	} while (0)

static void test_basics(void)
{
	SPLIT("", "");
	SPLIT("   \n\t ", "");
	SPLIT(";;;", "");
	SPLIT("select 1", "1:select 1");
	SPLIT("select 1;", "1:select 1");
	SPLIT("select 1; select 2;", "1:select 1 | 1:select 2");
	SPLIT("select 1;\nselect 2\n;\n\nselect 3", "1:select 1 | 2:select 2 | 5:select 3");
	SPLIT("\n\n  create table t (a int,\n b int);\n", "3:create table t (a int,\n b int)");
}

static void test_comments(void)
{
	SPLIT("-- only a comment\n", "");
	SPLIT("-- c; not a statement\nselect 1; -- trailing; comment\n",
	      "2:select 1");
	SPLIT("select 1 -- a ; b\n, 2;", "1:select 1 -- a ; b\n, 2");
	SPLIT("/* a; b */ select 1;", "1:select 1");
	SPLIT("/* outer /* inner; */ still; comment */ select 1; select 2",
	      "1:select 1 | 1:select 2");
	SPLIT("select 1 /* ; */ + 1;", "1:select 1 /* ; */ + 1");
	SPLIT("select 2 - -1;", "1:select 2 - -1");
	SPLIT("select 2 */ 1;", "1:select 2 */ 1");
	/* what the parser refuses goes whole, for the server to report */
	SPLIT("/* unterminated /* nested */ select 1;", "1:/* unterminated /* nested */ select 1;");
	SPLIT("select 1;\n\n/*\n", "1:select 1;\n\n/*\n");
	SPLIT("select 1; -- no newline at the end", "1:select 1");
}

static void test_strings(void)
{
	SPLIT("select 'a;b'; select 2", "1:select 'a;b' | 1:select 2");
	SPLIT("select 'it''s; fine';", "1:select 'it''s; fine'");
	SPLIT("select '';select ''''", "1:select '' | 1:select ''''");
	/* standard_conforming_strings: a backslash is an ordinary character */
	SPLIT("select 'a\\'; select 2", "1:select 'a\\' | 1:select 2");
	/* E'' strings: backslash escapes the quote */
	SPLIT("select E'a\\'; b'; select 2", "1:select E'a\\'; b' | 1:select 2");
	SPLIT("select e'\\\\'; select 2", "1:select e'\\\\' | 1:select 2");
	SPLIT("select E'x''; y'; select 2", "1:select E'x''; y' | 1:select 2");
	/* an identifier ending in e is not an E prefix */
	SPLIT("select name'a\\'; select 2", "1:select name'a\\' | 1:select 2");
	SPLIT("select U&'d\\0061t; a'; select 2", "1:select U&'d\\0061t; a' | 1:select 2");
	SPLIT("select B'101', X'1F';", "1:select B'101', X'1F'");
	SPLIT("select 'multi\nline;\nstring';\nselect 2;", "1:select 'multi\nline;\nstring' | 4:select 2");
	SPLIT("select 'open;\n", "1:select 'open;\n");
	SPLIT("select\n\nE'open\\';", "1:select\n\nE'open\\';");
	SPLIT("select '-- not a comment'; select '/* nor this'",
	      "1:select '-- not a comment' | 1:select '/* nor this'");
}

static void test_identifiers(void)
{
	SPLIT("create table \"a;b\" (\"x\"\"; y\" int); select 1",
	      "1:create table \"a;b\" (\"x\"\"; y\" int) | 1:select 1");
	SPLIT("select \"it's\" from t; select 2", "1:select \"it's\" from t | 1:select 2");
	SPLIT("select \"open;", "1:select \"open;");
	SPLIT("select \"é;\" ;", "1:select \"é;\"");
}

static void test_dollar_quotes(void)
{
	SPLIT("create function f() returns int as $$ select 1; $$ language sql; select 2",
	      "1:create function f() returns int as $$ select 1; $$ language sql | 1:select 2");
	SPLIT("do $body$ begin perform 1; raise notice '$$'; end $body$; select 2",
	      "1:do $body$ begin perform 1; raise notice '$$'; end $body$ | 1:select 2");
	/* a different tag does not close; $$ nests inside $a$ */
	SPLIT("select $a$ $$ ; $b$ ; $a$; select 2", "1:select $a$ $$ ; $b$ ; $a$ | 1:select 2");
	/* tags are case-sensitive */
	SPLIT("select $T$ ; $t$ ; $T$;", "1:select $T$ ; $t$ ; $T$");
	/* a quote inside a dollar quote is just a character */
	SPLIT("select $$it's; \"x$$; select 2", "1:select $$it's; \"x$$ | 1:select 2");
	/* $1 is a parameter, not a quote; $ inside an identifier neither */
	SPLIT("prepare p as select $1; select a$b$ from t; select 3",
	      "1:prepare p as select $1 | 1:select a$b$ from t | 1:select 3");
	/* a tag cannot start with a digit */
	SPLIT("select $1$; select 2", "1:select $1$; select 2");
	SPLIT("select $tag$ open;\n", "1:select $tag$ open;\n");
	SPLIT("select $é$;$é$;", "1:select $é$;$é$");
	SPLIT("select 1;\n$$", "1:select 1;\n$$");
	SPLIT("select $$a$$$$b$$;", "1:select $$a$$$$b$$;");
	SPLIT("select 1$$x;$$;", "1:select 1$$x;$$;");
}

static void test_parens_and_atomic(void)
{
	/* psql does not end a statement inside parentheses */
	SPLIT("create rule r as on insert to t do also (insert into a values (1); insert into b "
	      "values (2)); select 1",
	      "1:create rule r as on insert to t do also (insert into a values (1); insert into b "
	      "values (2)) | 1:select 1");
	SPLIT("select ((1); select 2", "1:select ((1); select 2");
	SPLIT("select 1); select 2", "1:select 1); select 2");
	/* SQL-standard function bodies (PG 14+) */
	SPLIT("create function f() returns int language sql\nbegin atomic\n  select 1;\n  select "
	      "case when true then 2 end;\nend;\nselect 3;",
	      "1:create function f() returns int language sql\nbegin atomic\n  select 1;\n  "
	      "select case when true then 2 end;\nend | 6:select 3");
	SPLIT("CREATE OR REPLACE PROCEDURE p() BEGIN ATOMIC insert into t values (1); END; "
	      "select 2",
	      "1:CREATE OR REPLACE PROCEDURE p() BEGIN ATOMIC insert into t values (1); END | "
	      "1:select 2");
	/* outside CREATE FUNCTION, BEGIN is a transaction statement */
	SPLIT("begin; select 1; end;", "1:begin | 1:select 1 | 1:end");
	SPLIT("create table begin_end (begin int); select 1",
	      "1:create table begin_end (begin int) | 1:select 1");
}

static void test_nasty(void)
{
	SPLIT("create index concurrently i on t (a);\n-- next\nvacuum t;",
	      "1:create index concurrently i on t (a) | 3:vacuum t");
	SPLIT("select 1\r\n;\r\nselect 2\r\n", "1:select 1 | 3:select 2");
	SPLIT("select 'a' -- comment 'with quote\n;select 2",
	      "1:select 'a' -- comment 'with quote | 2:select 2");
	SPLIT("select /* 'quote in comment */ 1; select 2", "1:select /* 'quote in comment */ 1 | 1:select 2");
	SPLIT("select '/*'; select '*/'", "1:select '/*' | 1:select '*/'");
	SPLIT("select $$--$$; select 2", "1:select $$--$$ | 1:select 2");
	SPLIT("select E'\\\\'';'", "1:select E'\\\\'';'");
	SPLIT("select E'\\", "1:select E'\\");
	SPLIT("select $", "1:select $");
	SPLIT("$", "1:$");
	SPLIT("select 1 -", "1:select 1 -");
	SPLIT("-", "1:-");
	SPLIT("/", "1:/");
	SPLIT("/*", "1:/*");
	SPLIT("'", "1:'");
	SPLIT("E'", "1:E'");
	SPLIT("\"", "1:\"");
}

/* What the parser refuses is never split by guesswork (libpg_query's
 * scanner split drops "SELEC 2"), and what is psql's, not SQL, is refused. */
static void test_not_sql(void)
{
	SPLIT("SELECT 1; SELEC 2; SELECT 3;", "1:SELECT 1; SELEC 2; SELECT 3;");
	SPLIT("select 1;\n\\connect other\nselect 2;",
	      "ERR:line 2: '\\connect' is a psql meta-command, not SQL: cairn sends each statement "
	      "to the server, without psql; write it in SQL (\\i: make it a migration of its own; "
	      "\\set: a literal)");
	SPLIT("  \\set ON_ERROR_STOP on\nselect 1;",
	      "ERR:line 1: '\\set' is a psql meta-command, not SQL: cairn sends each statement "
	      "to the server, without psql; write it in SQL (\\i: make it a migration of its own; "
	      "\\set: a literal)");
	SPLIT("create table t (a int, b text);\nCOPY t (a, b) FROM stdin;\n1\tx\n\\.\nselect 1;",
	      "ERR:line 2: COPY ... FROM STDIN with its rows inline is psql's format, not SQL: put "
	      "the rows in the migration's data/ directory and load them with COPY ... FROM "
	      "'data/FILE'");
	/* a COPY from a data member, and one from STDIN with no rows, are SQL */
	SPLIT("COPY t FROM 'data/t.csv' (FORMAT csv); COPY t FROM STDIN;",
	      "1:COPY t FROM 'data/t.csv' (FORMAT csv) | 1:COPY t FROM STDIN");
	/* a backslash inside a string or a dollar quote is no meta-command */
	SPLIT("select '\n\\x';\ndo $$ begin\n\\q\nend $$;",
	      "1:select '\n\\x' | 3:do $$ begin\n\\q\nend $$");
}

static void test_nul_and_offsets(void)
{
	struct sqlsplit s = SQLSPLIT_INIT;
	const char sql[] = "select 1;\0select 2;";

	CHECK(sqlsplit_pg(&s, sql, sizeof(sql) - 1) < 0);
	CHECK(strstr(cairn_error_last(), "NUL") != NULL);
	CHECK(s.n == 0);
	sqlsplit_release(&s);
	sqlsplit_release(NULL);

	CHECK(sqlsplit_pg(&s, "  select;\n  table t ;", 21) == 0);
	CHECK(s.n == 2);
	CHECK(s.stmts[0].offset == 2 && s.stmts[0].len == 6 && s.stmts[0].line == 1);
	CHECK(s.stmts[1].offset == 12 && s.stmts[1].len == 7 && s.stmts[1].line == 2);
	sqlsplit_release(&s);
}

static void test_locate(void)
{
	/* "é" is two bytes but one character: the server counts characters */
	const char *sql = "-- header\nselect 'é';\nselect\n  nosuchcol, 'ü' from t;\n";
	struct sqlsplit s = SQLSPLIT_INIT;
	int line = 0, col = 0;
	long pos;
	const char *stmt;

	CHECK(sqlsplit_pg(&s, sql, strlen(sql)) == 0);
	CHECK(s.n == 2);
	stmt = sql + s.stmts[1].offset;
	CHECK(!strncmp(stmt, "select\n  nosuchcol", 18));
	/* position of nosuchcol in the second statement: 10 (1-based) */
	CHECK(sqlsplit_locate(sql, strlen(sql), s.stmts[1].offset, s.stmts[1].len, 10, &line, &col) == 0);
	CHECK(line == 4 && col == 3);
	/* the same error reported against the whole file sent at once:
	 * "-- header\n" is 10 characters, "select 'é';\n" 12 characters */
	pos = 10 + 12 + 7 + 3;
	CHECK(sqlsplit_locate(sql, strlen(sql), 0, strlen(sql), pos, &line, &col) == 0);
	CHECK(line == 4 && col == 3);
	/* a character after a multibyte one on the same line */
	CHECK(sqlsplit_locate(sql, strlen(sql), 0, strlen(sql), 10 + 10, &line, &col) == 0);
	CHECK(line == 2 && col == 10);
	/* one past the end: "syntax error at end of input" */
	CHECK(sqlsplit_locate(sql, strlen(sql), s.stmts[0].offset, s.stmts[0].len, 11, &line, &col) == 0);
	CHECK(line == 2 && col == 11);
	CHECK(sqlsplit_locate(sql, strlen(sql), s.stmts[0].offset, s.stmts[0].len, 12, &line, &col) < 0);
	CHECK(sqlsplit_locate(sql, strlen(sql), 0, strlen(sql), 0, &line, &col) < 0);
	CHECK(sqlsplit_locate(sql, strlen(sql), 0, strlen(sql), -5, &line, &col) < 0);
	CHECK(sqlsplit_locate(sql, strlen(sql), strlen(sql), 1, 1, &line, &col) < 0);
	CHECK(sqlsplit_locate(sql, strlen(sql), 1, strlen(sql), 1, &line, &col) < 0);
	sqlsplit_release(&s);
}

int main(void)
{
	test_basics();
	test_comments();
	test_strings();
	test_identifiers();
	test_dollar_quotes();
	test_parens_and_atomic();
	test_nasty();
	test_not_sql();
	test_nul_and_offsets();
	test_locate();
	return unit_done();
}
