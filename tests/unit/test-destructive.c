/* Unit tests for the applier's own scan of destructive statements
 * (policy/destructive.c): what counts, on PostgreSQL's parser and on the
 * SQLite token scan, and what hides nothing (comments, strings, scoped
 * DELETEs, trigger events). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/lint-rules.h"
#include "../../policy/destructive.h"
#include "unit.h"

/* "rule@line rule@line" of what sql holds, in dialect d. */
static char *scan(const char *sql, enum destructive_dialect d)
{
	struct destructive_list l = { NULL, 0, 0 };
	static char out[1024];
	size_t i, o = 0;

	destructive_scan_sql(&l, sql, strlen(sql), d, "m", "1", "up.sql");
	out[0] = 0;
	for (i = 0; i < l.n && o < sizeof(out) - 64; i++)
		o += (size_t)snprintf(out + o, sizeof(out) - o, "%s%s@%llu", i ? " " : "",
				      l.items[i].rule, l.items[i].line);
	destructive_list_release(&l);
	return out;
}

#define PG DESTRUCTIVE_POSTGRES
#define SQ DESTRUCTIVE_SQLITE

static void test_pg(void)
{
	CHECK_STR(scan("CREATE TABLE t (id int);\nINSERT INTO t VALUES (1);", PG), "");
	CHECK_STR(scan("-- DROP TABLE t;\n/* TRUNCATE t; */ SELECT 'DELETE FROM t';", PG), "");
	CHECK_STR(scan("SELECT 1;\n\n-- why\nDROP TABLE t;", PG), "drop-table@4");
	CHECK_STR(scan("ALTER TABLE t DROP COLUMN a, ALTER COLUMN b TYPE bigint;", PG),
		  "drop-column@1 column-type@1");
	CHECK_STR(scan("ALTER TABLE t ALTER COLUMN b DROP NOT NULL;", PG), "drop-not-null@1");
	CHECK_STR(scan("ALTER TABLE t RENAME COLUMN a TO b;\nALTER TABLE t RENAME TO u;", PG),
		  "rename-column@1 rename-table@2");
	CHECK_STR(scan("TRUNCATE t;\nTRUNCATE u CASCADE;", PG), "truncate@1 truncate-cascade@2");
	CHECK_STR(scan("DELETE FROM t WHERE id = 1;\nUPDATE t SET a = 1 WHERE id = 2;", PG), "");
	CHECK_STR(scan("DELETE FROM t;\nUPDATE t SET a = 1;", PG), "delete-all@1 update-all@2");
	/* inside a data-modifying WITH, EXPLAIN ANALYZE or PREPARE */
	CHECK_STR(scan("WITH d AS (DELETE FROM t RETURNING id) SELECT count(*) FROM d;", PG),
		  "delete-all@1");
	CHECK_STR(scan("INSERT INTO log WITH d AS (UPDATE t SET a = 0 RETURNING id) SELECT id FROM d;", PG),
		  "update-all@1");
	CHECK_STR(scan("EXPLAIN ANALYZE DELETE FROM t;", PG), "delete-all@1");
	CHECK_STR(scan("PREPARE p AS DELETE FROM t;\nEXECUTE p;", PG), "delete-all@1");
	/* code the applier cannot read through */
	CHECK_STR(scan("DO $$ BEGIN EXECUTE 'DROP TABLE t'; END $$;", PG), "opaque-code@1");
	CHECK_STR(scan("CREATE FUNCTION f() RETURNS void LANGUAGE sql AS 'DELETE FROM t';\nSELECT f();", PG),
		  "opaque-code@1");
	CHECK_STR(scan("CALL p();", PG), "opaque-code@1");
	CHECK_STR(scan("DROP SCHEMA s CASCADE;\nDROP TYPE e CASCADE;\nDROP INDEX i;", PG),
		  "drop-schema@1 drop-cascade@2");
	CHECK_STR(scan("DROP DATABASE d;", PG), "drop-database@1");
	CHECK_STR(scan("MERGE INTO t USING u ON t.id = u.id WHEN MATCHED THEN DELETE;", PG), "merge@1");
	/* what the parser refuses, and a NUL that would hide the rest */
	CHECK_STR(scan("SELECT 1;\nDROP TABLEE t;", PG), "unreadable@2");
	{
		static const char nul[] = "SELECT 1;\n\0DROP TABLE t;";
		struct destructive_list l = { NULL, 0, 0 };

		destructive_scan_sql(&l, nul, sizeof(nul) - 1, PG, "m", "1", "up.sql");
		CHECK(l.n == 1 && !strcmp(l.items[0].rule, "unreadable") && l.items[0].line == 2);
		destructive_list_release(&l);
	}
}

static void test_sqlite(void)
{
	CHECK_STR(scan("CREATE TABLE t (id integer, p integer REFERENCES q ON DELETE CASCADE ON UPDATE SET NULL);", SQ), "");
	CHECK_STR(scan("-- DROP TABLE t;\nCREATE TABLE u (note text DEFAULT 'DELETE FROM t', \"delete\" int);", SQ), "");
	CHECK_STR(scan("SELECT 1;\n/* a */ DROP TABLE t;", SQ), "drop-table@2");
	CHECK_STR(scan("DROP VIEW v; DROP INDEX i; DROP TRIGGER g;", SQ), "");
	CHECK_STR(scan("ALTER TABLE t DROP COLUMN a;\nALTER TABLE t RENAME COLUMN a TO b;\nALTER TABLE t RENAME TO u;\nALTER TABLE t ADD COLUMN c int;", SQ),
		  "drop-column@1 rename-column@2 rename-table@3");
	CHECK_STR(scan("DELETE FROM t WHERE id = 1;\nUPDATE t SET a = (SELECT b FROM u WHERE u.id = t.id) WHERE id = 2;", SQ), "");
	CHECK_STR(scan("DELETE FROM t;\nUPDATE t SET a = (SELECT b FROM u WHERE u.id = 1);", SQ),
		  "delete-all@1 update-all@2");
	CHECK_STR(scan("WITH x AS (SELECT id FROM u WHERE 1) DELETE FROM t;", SQ), "delete-all@1");
	CHECK_STR(scan("INSERT INTO t VALUES (1) ON CONFLICT (id) DO UPDATE SET a = 2;", SQ), "");
	/* a trigger's event is no statement; its body's statements are */
	CHECK_STR(scan("CREATE TRIGGER g AFTER DELETE ON t BEGIN DELETE FROM u WHERE id = old.id; END;", SQ), "");
	CHECK_STR(scan("CREATE TRIGGER g AFTER UPDATE OF a ON t BEGIN INSERT INTO l VALUES (1); DELETE FROM u; END;\nSELECT 1;", SQ),
		  "delete-all@1");
	CHECK_STR(scan("PRAGMA writable_schema = 1;", SQ), "opaque-code@1");
}

/* docs/lint.md, read from tests/ (run-tests.sh) or the top directory. */
static char *read_doc(void)
{
	static const char *const paths[] = { "../docs/lint.md", "docs/lint.md", NULL };
	FILE *f = NULL;
	char *text = NULL;
	size_t i, n = 0;

	for (i = 0; paths[i] && !f; i++)
		f = fopen(paths[i], "rb");
	if (!f)
		return NULL;
	while (!ferror(f) && !feof(f)) {
		char *t = realloc(text, n + 65536 + 1);

		if (!t)
			break;
		text = t;
		n += fread(text + n, 1, 65536, f);
		text[n] = 0;
	}
	fclose(f);
	return text;
}

static int has_row(const char *doc, const char *id)
{
	char row[128];
	int w = snprintf(row, sizeof(row), "\n| `%s` |", id);

	return w > 0 && (size_t)w < sizeof(row) && strstr(doc, row);
}

/* Every rule id either program can report has its row in docs/lint.md's
 * tables (a rule added to the code and not to the docs fails here): the
 * linter's (lib/lint-rules.c) and the applier's destructive scan's. */
static void test_documented(void)
{
	char *doc = read_doc();
	size_t i;

	CHECK(doc != NULL);
	if (!doc)
		return;
	for (i = 0; i < LINT_NRULES; i++)
		if (!has_row(doc, lint_rules[i].id)) {
			fprintf(stderr, "# lint rule '%s' has no row in docs/lint.md\n", lint_rules[i].id);
			CHECK(!"a lint rule without its docs/lint.md row");
		}
	for (i = 0; i < DESTRUCTIVE_NRULES; i++) {
		CHECK(destructive_rules[i] != NULL);
		if (destructive_rules[i] && !has_row(doc, destructive_rules[i])) {
			fprintf(stderr, "# destructive rule '%s' has no row in docs/lint.md\n",
				destructive_rules[i]);
			CHECK(!"a destructive rule without its docs/lint.md row");
		}
	}
	free(doc);
}

int main(void)
{
	test_pg();
	test_sqlite();
	test_documented();
	return unit_done();
}
