/* What rules.c and rules-alter.c share; private to lint/. */
#ifndef CAIRN_LINT_RULES_INT_H
#define CAIRN_LINT_RULES_INT_H

#include "lint-int.h"

/* Neither cairn nor the script holds a transaction open here. */
int lint_outside_tx(const struct lint_state *s);
/* A String node's text, or "". */
const char *lint_name_of(const PgQuery__Node *n);
void lint_column_type(struct lint_state *s, const PgQuery__ColumnDef *c);
/* lock-timeout and statement-timeout, once per script. */
void lint_strong_lock(struct lint_state *s, const char *lock);
void lint_alter_table(struct lint_state *s, const PgQuery__AlterTableStmt *a);

#endif
