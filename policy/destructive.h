/* The destructive statements of a bundle, found by the applier itself
 * (issue #18, destructive: {approvals: N} in cairn-apply.yaml): the signed
 * up scripts are read again here, on PostgreSQL's parser (libpg_query) and
 * on a SQLite token scan, and what the signed manifest says (destructive:
 * true, a waived destructive lint finding) is added to what the scan finds.
 * The builder's lint is not trusted to have flagged them: its rules' levels
 * come from the project's cairn.yaml, which the migration's author edits.
 * A library: never prints. */
#ifndef CAIRN_POLICY_DESTRUCTIVE_H
#define CAIRN_POLICY_DESTRUCTIVE_H

#include <stddef.h>

#include "../verify/bundle.h"

struct destructive_item {
	const char *migration;   /* the bundle's migration (directory name) */
	const char *version;
	char *rule;              /* "drop-table", "delete-all", "opaque-code"... */
	char *file;              /* "up.sql" */
	unsigned long long line; /* 1-based; 0 for the manifest's destructive: true */
	char *what;              /* how it was found: "DROP TABLE", "waived (comment)" */
};

struct destructive_list {
	struct destructive_item *items;
	size_t n, alloc;
};

enum destructive_dialect { DESTRUCTIVE_POSTGRES, DESTRUCTIVE_SQLITE };

/* Every rule the scan reports (besides the lint rules a waiver in the
 * manifest names), so none is reported that docs/lint.md does not
 * explain: tests/unit/test-destructive.c checks each has its row there. */
enum destructive_rule {
	DR_DROP_TABLE, DR_DROP_SCHEMA, DR_DROP_EXTENSION, DR_DROP_DATABASE, DR_DROP_CASCADE,
	DR_DROP_COLUMN, DR_COLUMN_TYPE, DR_DROP_NOT_NULL, DR_RENAME_COLUMN, DR_RENAME_TABLE,
	DR_TRUNCATE, DR_TRUNCATE_CASCADE, DR_DELETE_ALL, DR_UPDATE_ALL, DR_MERGE,
	DR_OPAQUE_CODE, DR_UNREADABLE, DR_DESTRUCTIVE,
	DESTRUCTIVE_NRULES
};
extern const char *const destructive_rules[DESTRUCTIVE_NRULES];

/* Appends the destructive statements of every migration of b: its up
 * script for each driver the bundle names (both when it names none), and
 * the manifest's flags; then those of the SQL callbacks an apply runs
 * (before_migrate ... on_error, not rollback's), as migration "callbacks",
 * version "", file the callback's name. Returns 0, or -1 with the error set when a script
 * cannot be read. */
int destructive_scan_bundle(struct destructive_list *out, struct bundle *b);
/* Appends those of one script (sql need not end in NUL; a NUL inside is
 * itself a finding: the text after it is what the scan cannot see). */
void destructive_scan_sql(struct destructive_list *out, const char *sql, size_t len,
			  enum destructive_dialect d, const char *migration, const char *version,
			  const char *file);
void destructive_list_release(struct destructive_list *l);

#endif
