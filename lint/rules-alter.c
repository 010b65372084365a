/* ALTER TABLE, one subcommand at a time (rules-int.h). A table created
 * earlier in the same script is new and empty: no lock on it matters, so
 * only the rules about names and types apply to it. */
#include <stdlib.h>
#include <string.h>

#include "../lib/error.h"

#include "rules-int.h"

/* Functions PostgreSQL marks STABLE or IMMUTABLE that defaults commonly
 * call: a default of these is computed once, with no table rewrite (11+). */
static const char *const stable_functions[] = {
	"now", "transaction_timestamp", "statement_timestamp", "current_date",
	"lower", "upper", "btrim", "concat", "to_timestamp", "to_date", "to_char",
	"make_date", "make_interval", "json_build_object", "jsonb_build_object",
	"json_build_array", "jsonb_build_array", "length", NULL,
};

/* Could the default expression be volatile (so PostgreSQL rewrites the
 * table to store one value per row)? An unknown function counts as
 * volatile: the rule must not let one through. */
static int maybe_volatile(const PgQuery__Node *e)
{
	size_t i, k;

	if (!e)
		return 0;
	switch (e->node_case) {
	case PG_QUERY__NODE__NODE_A_CONST:
	case PG_QUERY__NODE__NODE_SQLVALUE_FUNCTION:
		return 0;
	case PG_QUERY__NODE__NODE_TYPE_CAST:
		return maybe_volatile(e->type_cast->arg);
	case PG_QUERY__NODE__NODE_A_EXPR:
		return maybe_volatile(e->a_expr->lexpr) || maybe_volatile(e->a_expr->rexpr);
	case PG_QUERY__NODE__NODE_FUNC_CALL: {
		const PgQuery__FuncCall *f = e->func_call;
		const char *name = f->n_funcname ? lint_name_of(f->funcname[f->n_funcname - 1]) : "";

		for (k = 0; stable_functions[k]; k++)
			if (!strcmp(name, stable_functions[k]))
				break;
		if (!stable_functions[k])
			return 1;
		for (i = 0; i < f->n_args; i++)
			if (maybe_volatile(f->args[i]))
				return 1;
		return 0;
	}
	default:
		return 1;
	}
}

static int serial_type(const PgQuery__ColumnDef *c)
{
	static const char *const serials[] = { "serial", "serial2", "serial4", "serial8",
					       "smallserial", "bigserial", NULL };
	const char *t = c->type_name && c->type_name->n_names
				? lint_name_of(c->type_name->names[c->type_name->n_names - 1]) : "";
	size_t i;

	for (i = 0; serials[i]; i++)
		if (!strcmp(t, serials[i]))
			return 1;
	return 0;
}

static int pg_before(const struct lint_state *s, int major)
{
	return s->in->cfg && s->in->cfg->pg_version && s->in->cfg->pg_version < major;
}

/* NOT VALID only helps when VALIDATE runs in another transaction: the
 * ADD's ACCESS EXCLUSIVE lock is held to the end of its transaction. */
static void remember_not_valid(struct lint_state *s, const PgQuery__Constraint *c)
{
	if (lint_outside_tx(s) || !c->conname || !*c->conname)
		return;
	ALLOC_GROW(s->not_valid, s->nnot_valid + 1, s->not_valid_alloc);
	s->not_valid[s->nnot_valid++] = xstrdup(c->conname);
}

/* CHECK (col IS NOT NULL) NOT VALID: once validated, it proves what SET
 * NOT NULL would scan for (issue #22's set_not_null generates this) */
static void remember_not_null_check(struct lint_state *s, const char *rel,
				    const PgQuery__Constraint *c)
{
	const PgQuery__NullTest *nt = c->raw_expr && c->raw_expr->node_case == PG_QUERY__NODE__NODE_NULL_TEST
					      ? c->raw_expr->null_test : NULL;
	const PgQuery__ColumnRef *cr = nt && nt->arg && nt->arg->node_case == PG_QUERY__NODE__NODE_COLUMN_REF
					       ? nt->arg->column_ref : NULL;

	if (!c->conname || !*c->conname || !nt ||
	    nt->nulltesttype != PG_QUERY__NULL_TEST_TYPE__IS_NOT_NULL || !cr || cr->n_fields != 1)
		return;
	ALLOC_GROW(s->nn_checks, s->nnn_checks + 1, s->nn_checks_alloc);
	s->nn_checks[s->nnn_checks++] =
		xasprintf("%s %s.%s", c->conname, rel, lint_name_of(cr->fields[0]));
}

static void validated(struct lint_state *s, const char *conname)
{
	size_t i, n = strlen(conname);

	for (i = 0; i < s->nnn_checks; i++) {
		if (strncmp(s->nn_checks[i], conname, n) || s->nn_checks[i][n] != ' ')
			continue;
		ALLOC_GROW(s->nn_proved, s->nnn_proved + 1, s->nn_proved_alloc);
		s->nn_proved[s->nnn_proved++] = xstrdup(s->nn_checks[i] + n + 1);
	}
}

static int not_null_proved(const struct lint_state *s, const char *rel, const char *col)
{
	char *key = xasprintf("%s.%s", rel, col);
	int r = !pg_before(s, 12) && lint_names_has(s->nn_proved, s->nnn_proved, key);

	free(key);
	return r;
}

/* A constraint added by ALTER TABLE ... ADD CONSTRAINT, or inline on ADD
 * COLUMN (inline: UNIQUE, PRIMARY KEY and REFERENCES only). */
static void add_constraint(struct lint_state *s, const char *rel, const PgQuery__Constraint *c,
			   int inline_col)
{
	int loc = c->location >= 0 ? c->location : -1;

	switch (c->contype) {
	case PG_QUERY__CONSTR_TYPE__CONSTR_CHECK:
		if (c->skip_validation && !inline_col)
			remember_not_null_check(s, rel, c);
		if (c->skip_validation)
			remember_not_valid(s, c);
		else if (!inline_col)
			lint_report(s, LR_CONSTRAINT_NOT_VALID, -1,
				    "ADD CONSTRAINT ... CHECK scans all of %s under an ACCESS EXCLUSIVE lock, blocking reads and writes; add it NOT VALID, then VALIDATE CONSTRAINT in a later statement (SHARE UPDATE EXCLUSIVE: writes go on)",
				    rel);
		break;
	case PG_QUERY__CONSTR_TYPE__CONSTR_FOREIGN:
		if (c->skip_validation) {
			remember_not_valid(s, c);
			break;
		}
		if (!inline_col)
			lint_report(s, LR_CONSTRAINT_NOT_VALID, -1,
				    "ADD CONSTRAINT ... FOREIGN KEY checks every row of %s while it holds its lock; add it NOT VALID, then VALIDATE CONSTRAINT in a later statement",
				    rel);
		lint_report(s, LR_FOREIGN_KEY, loc,
			    "a foreign key takes SHARE ROW EXCLUSIVE locks on %s and on %s, blocking writes to both while every row is checked; add it NOT VALID, then VALIDATE CONSTRAINT in a later statement or migration",
			    rel, c->pktable ? c->pktable->relname : "the referenced table");
		break;
	case PG_QUERY__CONSTR_TYPE__CONSTR_UNIQUE:
		if (!c->indexname || !*c->indexname)
			lint_report(s, LR_UNIQUE_CONSTRAINT, loc,
				    "a UNIQUE constraint builds its index under an ACCESS EXCLUSIVE lock on %s, blocking reads and writes; CREATE UNIQUE INDEX CONCURRENTLY first, then ADD CONSTRAINT ... UNIQUE USING INDEX",
				    rel);
		break;
	case PG_QUERY__CONSTR_TYPE__CONSTR_PRIMARY:
		if (!c->indexname || !*c->indexname)
			lint_report(s, LR_PRIMARY_KEY, loc,
				    "a primary key builds its index under an ACCESS EXCLUSIVE lock on %s, blocking reads and writes; CREATE UNIQUE INDEX CONCURRENTLY first, then ADD CONSTRAINT ... PRIMARY KEY USING INDEX",
				    rel);
		break;
	default:
		break;
	}
}

static void add_column(struct lint_state *s, const char *rel, const PgQuery__AlterTableCmd *cmd)
{
	const PgQuery__ColumnDef *c = cmd->def && cmd->def->node_case == PG_QUERY__NODE__NODE_COLUMN_DEF
					      ? cmd->def->column_def : NULL;
	const PgQuery__Node *dflt = NULL;
	int not_null = 0, generated = 0, identity = 0;
	size_t i;

	if (!c)
		return;
	lint_column_type(s, c);
	if (!cmd->missing_ok && lint_outside_tx(s))
		lint_report(s, LR_NOT_RERUNNABLE, -1,
			    "ADD COLUMN %s without IF NOT EXISTS in a migration that runs outside a transaction: if a later statement fails, a second run fails here; write ADD COLUMN IF NOT EXISTS",
			    c->colname);
	dflt = c->raw_default;
	not_null = c->is_not_null;
	for (i = 0; i < c->n_constraints; i++) {
		const PgQuery__Constraint *k = c->constraints[i]->node_case == PG_QUERY__NODE__NODE_CONSTRAINT
						       ? c->constraints[i]->constraint : NULL;

		if (!k)
			continue;
		if (k->contype == PG_QUERY__CONSTR_TYPE__CONSTR_NOTNULL)
			not_null = 1;
		else if (k->contype == PG_QUERY__CONSTR_TYPE__CONSTR_DEFAULT)
			dflt = k->raw_expr;
		else if (k->contype == PG_QUERY__CONSTR_TYPE__CONSTR_GENERATED)
			generated = 1;
		else if (k->contype == PG_QUERY__CONSTR_TYPE__CONSTR_IDENTITY)
			identity = 1;
		else
			add_constraint(s, rel, k, 1);
	}
	if (generated)
		lint_report(s, LR_VOLATILE_DEFAULT, c->location,
			    "ADD COLUMN %s ... GENERATED ALWAYS AS ... STORED rewrites all of %s under an ACCESS EXCLUSIVE lock, blocking reads and writes; add a plain column, fill it in batches, and keep it current with a trigger",
			    c->colname, rel);
	else if (dflt && pg_before(s, 11))
		lint_report(s, LR_VOLATILE_DEFAULT, c->location,
			    "ADD COLUMN %s with a DEFAULT rewrites all of %s under an ACCESS EXCLUSIVE lock before PostgreSQL 11 (postgres: version in cairn.yaml); add the column without a default, set the default, then fill old rows in batches",
			    c->colname, rel);
	else if (dflt && maybe_volatile(dflt))
		lint_report(s, LR_VOLATILE_DEFAULT, c->location,
			    "ADD COLUMN %s with a volatile DEFAULT rewrites all of %s under an ACCESS EXCLUSIVE lock, blocking reads and writes; add the column without a default (or with a constant one), set the default, then fill old rows in batches",
			    c->colname, rel);
	else if (serial_type(c) || identity)
		lint_report(s, LR_VOLATILE_DEFAULT, c->location,
			    "ADD COLUMN %s as %s fills every existing row from a sequence, rewriting %s under an ACCESS EXCLUSIVE lock; add a nullable bigint, fill it in batches, then attach the sequence",
			    c->colname, identity ? "an identity column" : "serial", rel);
	if (not_null && !dflt && !generated && !identity && !serial_type(c))
		lint_report(s, LR_REQUIRED_COLUMN, c->location,
			    "ADD COLUMN %s NOT NULL without a default fails on a table that has rows, and breaks the running release's INSERTs that do not name it; add a DEFAULT, or add it nullable and SET NOT NULL once it is filled",
			    c->colname);
}

/* One subcommand on an existing table. */
static void alter_cmd(struct lint_state *s, const char *rel, const PgQuery__AlterTableCmd *cmd)
{
	switch (cmd->subtype) {
	case PG_QUERY__ALTER_TABLE_TYPE__AT_AddColumn:
		add_column(s, rel, cmd);
		break;
	case PG_QUERY__ALTER_TABLE_TYPE__AT_AddConstraint:
		if (cmd->def && cmd->def->node_case == PG_QUERY__NODE__NODE_CONSTRAINT)
			add_constraint(s, rel, cmd->def->constraint, 0);
		break;
	case PG_QUERY__ALTER_TABLE_TYPE__AT_ValidateConstraint:
		validated(s, cmd->name);
		if (!lint_outside_tx(s) && lint_names_has(s->not_valid, s->nnot_valid, cmd->name))
			lint_report(s, LR_CONSTRAINT_NOT_VALID, -1,
				    "VALIDATE CONSTRAINT %s in the transaction that added it NOT VALID: the ADD's ACCESS EXCLUSIVE lock on %s is still held, so the scan blocks reads and writes after all; validate in a later migration",
				    cmd->name, rel);
		break;
	case PG_QUERY__ALTER_TABLE_TYPE__AT_AlterColumnType:
		lint_report(s, LR_COLUMN_TYPE, -1,
			    "ALTER COLUMN %s TYPE takes an ACCESS EXCLUSIVE lock on %s and, unless the types are binary compatible, rewrites the table and its indexes, blocking reads and writes; add a column of the new type, fill it in batches, switch clients, then drop the old one",
			    cmd->name, rel);
		break;
	case PG_QUERY__ALTER_TABLE_TYPE__AT_SetNotNull:
		if (not_null_proved(s, rel, cmd->name))
			break;
		lint_report(s, LR_SET_NOT_NULL, -1,
			    pg_before(s, 12)
				    ? "SET NOT NULL on %s.%s scans the whole table under an ACCESS EXCLUSIVE lock, blocking reads and writes; before PostgreSQL 12 a CHECK (%s IS NOT NULL) NOT VALID, then VALIDATE, is the safe form"
				    : "SET NOT NULL on %s.%s scans the whole table under an ACCESS EXCLUSIVE lock, blocking reads and writes; first ADD CONSTRAINT ... CHECK (%s IS NOT NULL) NOT VALID and VALIDATE it, then SET NOT NULL skips the scan (12+)",
			    rel, cmd->name, cmd->name);
		break;
	case PG_QUERY__ALTER_TABLE_TYPE__AT_DropNotNull:
		lint_report(s, LR_DROP_NOT_NULL, -1,
			    "DROP NOT NULL on %s.%s: clients of the running release that expect a value get NULLs; make the readers cope first, then drop it",
			    rel, cmd->name);
		break;
	case PG_QUERY__ALTER_TABLE_TYPE__AT_DropColumn:
		lint_report(s, LR_DROP_COLUMN, -1,
			    "DROP COLUMN %s takes an ACCESS EXCLUSIVE lock on %s, and clients of the running release that read it break at once; stop reading and writing it in a release first (expand/contract), then drop it",
			    cmd->name, rel);
		break;
	case PG_QUERY__ALTER_TABLE_TYPE__AT_DetachPartition: {
		const PgQuery__PartitionCmd *pc = cmd->def && cmd->def->node_case == PG_QUERY__NODE__NODE_PARTITION_CMD
							  ? cmd->def->partition_cmd : NULL;

		if (pc && pc->concurrent && !lint_outside_tx(s))
			lint_report(s, LR_CONCURRENT_IN_TRANSACTION, -1,
				    "DETACH PARTITION ... CONCURRENTLY cannot run inside a transaction block, and this migration runs in one; set transaction: false in migration.yaml");
		else if (pc && !pc->concurrent && !pg_before(s, 14))
			lint_report(s, LR_DETACH_NOT_CONCURRENT, -1,
				    "DETACH PARTITION takes an ACCESS EXCLUSIVE lock on %s, blocking reads and writes on every partition; use DETACH PARTITION ... CONCURRENTLY (14+) in a migration with transaction: false",
				    rel);
		break;
	}
	default:
		break;
	}
}

static int rerunnable_cmd(const PgQuery__AlterTableCmd *cmd)
{
	switch (cmd->subtype) {
	case PG_QUERY__ALTER_TABLE_TYPE__AT_AddColumn:     /* said by add_column */
	case PG_QUERY__ALTER_TABLE_TYPE__AT_DropColumn:
	case PG_QUERY__ALTER_TABLE_TYPE__AT_DropConstraint:
		return cmd->subtype == PG_QUERY__ALTER_TABLE_TYPE__AT_AddColumn || cmd->missing_ok;
	case PG_QUERY__ALTER_TABLE_TYPE__AT_SetNotNull:
	case PG_QUERY__ALTER_TABLE_TYPE__AT_DropNotNull:
	case PG_QUERY__ALTER_TABLE_TYPE__AT_ColumnDefault:
	case PG_QUERY__ALTER_TABLE_TYPE__AT_AlterColumnType:
	case PG_QUERY__ALTER_TABLE_TYPE__AT_ValidateConstraint:
		return 1; /* running them twice does the same */
	default:
		return 0;
	}
}

void lint_alter_table(struct lint_state *s, const PgQuery__AlterTableStmt *a)
{
	const char *rel = a->relation ? a->relation->relname : "";
	int is_new = lint_is_new_table(s, a->relation), strong = 0, validate_only = 1;
	size_t i;

	for (i = 0; i < a->n_cmds; i++) {
		const PgQuery__AlterTableCmd *cmd = a->cmds[i]->node_case == PG_QUERY__NODE__NODE_ALTER_TABLE_CMD
							    ? a->cmds[i]->alter_table_cmd : NULL;

		if (!cmd)
			continue;
		if (is_new) {
			if (cmd->subtype == PG_QUERY__ALTER_TABLE_TYPE__AT_AddColumn && cmd->def &&
			    cmd->def->node_case == PG_QUERY__NODE__NODE_COLUMN_DEF)
				lint_column_type(s, cmd->def->column_def);
			continue;
		}
		if (!rerunnable_cmd(cmd) && lint_outside_tx(s))
			lint_report(s, LR_NOT_RERUNNABLE, -1,
				    "this ALTER TABLE runs outside a transaction, and fails when run a second time after a later statement failed; move it to a migration that runs in a transaction, or make it conditional");
		alter_cmd(s, rel, cmd);
		strong = 1;
		if (cmd->subtype != PG_QUERY__ALTER_TABLE_TYPE__AT_ValidateConstraint)
			validate_only = 0;
	}
	/* VALIDATE CONSTRAINT alone takes SHARE UPDATE EXCLUSIVE: writes go on */
	if (strong && a->objtype == PG_QUERY__OBJECT_TYPE__OBJECT_TABLE)
		lint_strong_lock(s, validate_only ? "SHARE UPDATE EXCLUSIVE" : "ACCESS EXCLUSIVE");
}
