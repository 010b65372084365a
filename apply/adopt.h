/* cairn-apply adopt (issue #19): takes over another migration tool's
 * bookkeeping. Reads which migrations that tool applied from its history
 * table (never writing to it), matches each to a migration of the bundle
 * by version, and by checksum where the tool keeps one, and records the
 * matched ones as applied in cairn's books, with one "adopt" audit row
 * each naming the tool, its table and the row, in one transaction under
 * the run lock. Their SQL is never run. */
#ifndef CAIRN_APPLY_ADOPT_H
#define CAIRN_APPLY_ADOPT_H

#include <stddef.h>

#include "engine.h"

/* One migration of the bundle that the tool applied. */
struct adopt_item {
	const struct apply_mig *m;
	char *source;      /* the tool's row: "flyway_schema_history installed_rank=2 ..." */
};

struct adopt_plan {
	const char *tool;  /* "flyway", ... (static) */
	char *table;       /* the history table read, as named (--registry) */
	struct adopt_item *items; /* in the bundle's order */
	size_t n, alloc;
	char **problems;   /* each difference, one line: adopt refuses when any */
	size_t nproblems, aproblems;
	size_t pending;    /* migrations of the bundle the tool did not apply */
};

/* "flyway, golang-migrate, ...": the tools adopt reads. */
const char *adopt_tool_names(void);
/* 1 when tool is one of them. */
int adopt_tool_known(const char *tool);

/* NULL when tool's history table may be named by --registry R; else why
 * not (a fixed name: diesel, prisma; an empty name or a control character). */
const char *adopt_registry_refused(const char *tool, const char *registry);

/* registry: the tool's table renamed as the tool allows (NULL: its own
 * name): TABLE, or SCHEMA.TABLE on PostgreSQL, quoted as identifiers.
 * For sqitch: on PostgreSQL the registry's schema; on SQLite its
 * registry, a file of its own beside the database: its name or path as
 * sqitch's --registry takes it (NULL: "sqitch", so prod.db's is sqitch.db
 * beside it), attached as schema "sqitch" for the read (only SELECTs run
 * on it) and detached after.
 * Reads tool's history on db and matches it to set's migrations into out
 * (which the caller releases). Returns EXIT_OK with out->nproblems set
 * (the caller decides), EXIT_STATE when the tool's table is not there,
 * EXIT_ENVIRONMENT when it cannot be read, EXIT_USAGE for an unknown tool;
 * the error slot says why. Reads only: no lock, no transaction. */
int adopt_read(struct adopt_plan *out, struct db *db, const struct driver *drv,
	       const struct apply_set *set, const char *tool, const char *registry);
void adopt_plan_release(struct adopt_plan *p);

/* The verb: under the run lock, checks cairn's books (intact, this
 * identity, no migration recorded yet), reads and matches the tool's
 * history (adopt_read), and unless dry_run or a difference was found,
 * writes the matched migrations as applied. out holds the plan either way.
 * EXIT_STATE when the tool's history differs from the bundle (out->problems)
 * or cairn already keeps books here. */
int engine_adopt(struct db *db, const struct driver *drv, const struct apply_set *set,
		 const char *tool, const char *registry, int dry_run, const struct apply_opts *o,
		 struct adopt_plan *out);

#endif
