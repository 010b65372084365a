/* What adopt.c (the tools' readers, the verb) and adopt-match.c (their
 * rows matched to the bundle) share. Private to those two. */
#ifndef CAIRN_APPLY_ADOPT_INT_H
#define CAIRN_APPLY_ADOPT_INT_H

#include <stddef.h>

#include "../lib/toolsum.h"
#include "adopt.h"

/* One row of the tool's history. */
struct adopt_entry {
	char *version;  /* NULL for sqitch: matched by position and name */
	char *name;     /* sqitch's change name */
	char *checksum; /* the tool's, NULL when it keeps none */
	char *source;   /* the row, for messages and the audit */
	size_t pos;     /* its place in the tool's log */
	int undo;       /* the tool undid this version here (Flyway undo, goose down) */
	int gone;       /* undone later in the tool's log */
	/* every version below counts as applied too: 1 golang-migrate (the
	 * version must be the bundle's), 2 a Flyway baseline (it need not) */
	int below;
};

struct adopt_reader {
	struct adopt_plan *p;
	const char *table; /* the history table as named, for the rows' sources */
	struct adopt_entry *e;
	size_t n, alloc;
};

void adopt_problem(struct adopt_plan *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Marks gone every entry that a later undo entry of its version undoes:
 * one sort, not a scan per row. */
void adopt_settle_undos(struct adopt_reader *rd);

/* Marks in taken[] (set->n) the bundle's migrations the live entries name,
 * with the row each came from in source[]; every difference becomes a
 * problem of p. O(n log n) in the rows and the bundle's migrations. */
void adopt_match(struct adopt_plan *p, const char *tool, enum toolsum sum,
		 const struct apply_set *set, struct adopt_reader *rd, char *taken, char **source);

#endif
