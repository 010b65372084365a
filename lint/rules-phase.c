/* The phase rule (issue #22): in an expand migration (migration.yaml's
 * phase, expand by default), a statement that the running release cannot
 * live with is an error. Such statements belong in a contract migration,
 * which cairn-apply runs only once the environment has a signed contract
 * statement ("the old release is retired"). The rule cannot be waived by
 * cairn:allow or lint: {allow:}: the phase is what the applier's gate reads,
 * so a waiver would be a way past it. */
#include <string.h>

#include "rules-int.h"

static const char fix[] =
	"this migration's phase is expand (the default), which must leave the running release working; move the statement to a migration with phase: contract in its migration.yaml, applied once the old release is retired (cairn promote BUNDLE --to ENV --contract)";

static void incompatible(struct lint_state *s, int loc, const char *what, const char *rel)
{
	lint_report(s, LR_CONTRACT_ONLY, loc, "%s on %s breaks the release still running; %s", what,
		    rel && *rel ? rel : "an existing table", fix);
}

/* The last name of a DROP's object, a List of String nodes. */
static const char *object_relname(const PgQuery__Node *o)
{
	if (o && o->node_case == PG_QUERY__NODE__NODE_LIST && o->list->n_items)
		return lint_name_of(o->list->items[o->list->n_items - 1]);
	return "";
}

static void phase_drop(struct lint_state *s, const PgQuery__DropStmt *d)
{
	size_t i;

	if (d->remove_type != PG_QUERY__OBJECT_TYPE__OBJECT_TABLE &&
	    d->remove_type != PG_QUERY__OBJECT_TYPE__OBJECT_VIEW)
		return;
	for (i = 0; i < d->n_objects; i++) {
		const char *rel = object_relname(d->objects[i]);

		if (lint_names_has(s->created, s->ncreated, rel))
			continue;
		incompatible(s, -1, d->remove_type == PG_QUERY__OBJECT_TYPE__OBJECT_VIEW
					    ? "DROP VIEW" : "DROP TABLE", rel);
	}
}

static void phase_rename(struct lint_state *s, const PgQuery__RenameStmt *r)
{
	const char *rel = r->relation ? r->relation->relname : "";

	if (lint_is_new_table(s, r->relation))
		return;
	if (r->rename_type == PG_QUERY__OBJECT_TYPE__OBJECT_COLUMN)
		incompatible(s, -1, "RENAME COLUMN", rel);
	else if (r->rename_type == PG_QUERY__OBJECT_TYPE__OBJECT_TABLE ||
		 r->rename_type == PG_QUERY__OBJECT_TYPE__OBJECT_VIEW)
		incompatible(s, -1, "RENAME TO", rel);
}

/* ADD COLUMN ... NOT NULL with no default: the old release's INSERTs,
 * which do not name the column, fail. */
static int required_column(const PgQuery__AlterTableCmd *cmd)
{
	const PgQuery__ColumnDef *c = cmd->def && cmd->def->node_case == PG_QUERY__NODE__NODE_COLUMN_DEF
					      ? cmd->def->column_def : NULL;
	int not_null, dflt;
	size_t i;

	if (!c)
		return 0;
	not_null = c->is_not_null;
	dflt = c->raw_default != NULL;
	for (i = 0; i < c->n_constraints; i++) {
		const PgQuery__Node *k = c->constraints[i];

		if (k->node_case != PG_QUERY__NODE__NODE_CONSTRAINT)
			continue;
		switch (k->constraint->contype) {
		case PG_QUERY__CONSTR_TYPE__CONSTR_NOTNULL:
			not_null = 1;
			break;
		case PG_QUERY__CONSTR_TYPE__CONSTR_DEFAULT:
		case PG_QUERY__CONSTR_TYPE__CONSTR_GENERATED:
		case PG_QUERY__CONSTR_TYPE__CONSTR_IDENTITY:
			dflt = 1;
			break;
		default:
			break;
		}
	}
	return not_null && !dflt;
}

/* A constraint that refuses rows the old release may still write. */
static const char *narrowing(const PgQuery__AlterTableCmd *cmd)
{
	if (!cmd->def || cmd->def->node_case != PG_QUERY__NODE__NODE_CONSTRAINT)
		return NULL;
	switch (cmd->def->constraint->contype) {
	case PG_QUERY__CONSTR_TYPE__CONSTR_CHECK:
		return "ADD CONSTRAINT ... CHECK";
	case PG_QUERY__CONSTR_TYPE__CONSTR_FOREIGN:
		return "ADD CONSTRAINT ... FOREIGN KEY";
	case PG_QUERY__CONSTR_TYPE__CONSTR_UNIQUE:
		return "ADD CONSTRAINT ... UNIQUE";
	case PG_QUERY__CONSTR_TYPE__CONSTR_PRIMARY:
		return "ADD CONSTRAINT ... PRIMARY KEY";
	case PG_QUERY__CONSTR_TYPE__CONSTR_EXCLUSION:
		return "ADD CONSTRAINT ... EXCLUDE";
	default:
		return NULL;
	}
}

static void phase_alter(struct lint_state *s, const PgQuery__AlterTableStmt *a)
{
	const char *rel = a->relation ? a->relation->relname : "";
	size_t i;

	if (lint_is_new_table(s, a->relation) || a->objtype != PG_QUERY__OBJECT_TYPE__OBJECT_TABLE)
		return;
	for (i = 0; i < a->n_cmds; i++) {
		const PgQuery__AlterTableCmd *cmd = a->cmds[i]->node_case == PG_QUERY__NODE__NODE_ALTER_TABLE_CMD
							    ? a->cmds[i]->alter_table_cmd : NULL;
		const char *what = NULL;

		if (!cmd)
			continue;
		switch (cmd->subtype) {
		case PG_QUERY__ALTER_TABLE_TYPE__AT_DropColumn:
			what = "DROP COLUMN";
			break;
		case PG_QUERY__ALTER_TABLE_TYPE__AT_AlterColumnType:
			what = "ALTER COLUMN ... TYPE";
			break;
		case PG_QUERY__ALTER_TABLE_TYPE__AT_SetNotNull:
			what = "SET NOT NULL";
			break;
		case PG_QUERY__ALTER_TABLE_TYPE__AT_AddColumn:
			if (required_column(cmd))
				what = "ADD COLUMN ... NOT NULL without a default";
			break;
		case PG_QUERY__ALTER_TABLE_TYPE__AT_AddConstraint:
			what = narrowing(cmd);
			break;
		default:
			break;
		}
		if (what)
			incompatible(s, -1, what, rel);
	}
}

void lint_phase_stmt(struct lint_state *s, const PgQuery__Node *n)
{
	if (s->in->phase != LINT_PHASE_EXPAND)
		return;
	switch (n->node_case) {
	case PG_QUERY__NODE__NODE_DROP_STMT:
		phase_drop(s, n->drop_stmt);
		break;
	case PG_QUERY__NODE__NODE_RENAME_STMT:
		phase_rename(s, n->rename_stmt);
		break;
	case PG_QUERY__NODE__NODE_ALTER_TABLE_STMT:
		phase_alter(s, n->alter_table_stmt);
		break;
	default:
		break;
	}
}
