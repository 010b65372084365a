/* What operation.c and operation-sql.c share (issue #22); private to them. */
#ifndef CAIRN_OPERATION_INT_H
#define CAIRN_OPERATION_INT_H

#include <stddef.h>

#include "../lib/buf.h"
#include "project.h"

/* lock_timeout of an operation migration whose migration.yaml sets none */
#define OP_LOCK_TIMEOUT_MS 2000

/* The step of its operation a migration is, from its phase and kind. */
enum op_step { OP_STEP_EXPAND, OP_STEP_BACKFILL, OP_STEP_CONTRACT };

/* Writes step's up and down scripts for op; -1 with a finding under path
 * (at the operation's line) when it cannot. */
int op_sql(const struct mig_op *op, enum op_step step, struct buf *up, struct buf *down,
	   struct findings *f, const char *path);
int op_ident_ok(const char *s, size_t len);
int strlist_find_static(const char *const *list, const char *s);

#endif
