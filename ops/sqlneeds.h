/* What a PostgreSQL script needs from the role that runs it and which
 * tables it touches, read from libpg_query's parse tree (issue #20,
 * preflight). Pure: no database, no output. */
#ifndef CAIRN_OPS_SQLNEEDS_H
#define CAIRN_OPS_SQLNEEDS_H

#include <stddef.h>

enum sql_need_kind {
	NEED_SCHEMA_CREATE,  /* CREATE on schema (table, index's table's schema, view...) */
	NEED_TABLE_OWNER,    /* ALTER, DROP, CREATE INDEX ON, RENAME need the owner; with
			      * creates: the statement makes the relation (nothing to check) */
	NEED_TABLE_TRUNCATE,
	NEED_DB_CREATE,      /* CREATE SCHEMA: CREATE on the database (creates: the schema) */
	NEED_EXTENSION,      /* CREATE EXTENSION not installed yet: CREATE on the database */
	NEED_TABLE_INSERT,
	NEED_TABLE_UPDATE,
	NEED_TABLE_DELETE,
};

struct sql_need {
	enum sql_need_kind kind;
	char *schema;        /* NULL: the search path's (current_schema()) */
	char *name;          /* table, schema or extension; NULL for a schema need */
	char *what;          /* the statement kind, for messages ("ALTER TABLE") */
	int line;            /* 1-based line of the statement in the script */
	int missing_ok;      /* IF EXISTS: a relation that is not there is no failure */
	int creates;         /* the statement creates name (later needs on it are met) */
};

struct sql_needs {
	struct sql_need *items;
	size_t n, alloc;
};

/* Adds the needs of script (NUL-terminated) to out. Returns 0, or -1 with
 * the error set when the script does not parse. */
int sql_needs_scan(struct sql_needs *out, const char *script);
void sql_needs_release(struct sql_needs *n);
/* 1 when an earlier need of n (index < upto) of this kind creates
 * schema.name (a table: NEED_TABLE_OWNER; a schema: NEED_DB_CREATE, NULL
 * schema). */
int sql_needs_created(const struct sql_needs *n, size_t upto, enum sql_need_kind kind,
		      const char *schema, const char *name);
const char *sql_need_kind_name(enum sql_need_kind k);

/* "schema"."name" (or "name"): the relation as to_regclass and pg_dump's
 * --table read it exactly. Malloc'ed. */
char *sql_need_relname(const struct sql_need *n);
/* 1 when need i is met by an earlier statement of the same needs (what
 * the run itself creates). */
int sql_needs_met(const struct sql_needs *all, size_t i);
/* The relations the needs touch that the run does not create itself,
 * each once (sql_need_relname), into *out (malloc'ed, caller frees each). */
size_t sql_needs_tables(const struct sql_needs *all, char ***out);

/* The first destructive statement of script (the lint's: DROP TABLE or
 * SCHEMA, DROP COLUMN, ALTER COLUMN TYPE, TRUNCATE, DELETE or UPDATE
 * without WHERE): 1 with *what ("line 3: DROP COLUMN", malloc'ed), 0 when
 * none, -1 when the script does not parse (error set). */
int sql_destructive(const char *script, char **what);

/* What a script creates (ops20d: restore removes it), in the order of
 * its statements: kind is the word DROP takes ("TABLE", "MATERIALIZED
 * VIEW", "SEQUENCE", "TYPE", "DOMAIN", "FUNCTION", "PROCEDURE",
 * "SCHEMA", "EXTENSION", static); schema NULL: unqualified (SCHEMA and
 * EXTENSION never have one); may_exist: IF NOT EXISTS or OR REPLACE, so
 * the object may be there before the script runs. Indexes are not listed:
 * each lives on a table the script created (dropped with it) or touched
 * (dumped, and created again by pg_restore without it). */
struct sql_created_obj {
	const char *kind;
	char *schema, *name;
	int line, may_exist;
};

struct sql_created {
	struct sql_created_obj *items;
	size_t n, alloc;
	char *unknown; /* the first statement restore cannot follow: "line 3: do_stmt" */
};

/* Scans script into out: 0; 1 when a statement's effects are not known
 * (out->unknown says which: DO, CALL, DROP of a function...); -1 when it
 * does not parse (error set).
 * sql_created_release in every case. */
int sql_created_scan(struct sql_created *out, const char *script);
void sql_created_release(struct sql_created *c);
/* "schema"."name", or "name" with schema NULL: SQL, malloc'ed. */
char *sql_created_name(const struct sql_created_obj *o, const char *schema);

#endif
