/* The SQL an operation: of migration.yaml expands into (issue #22),
 * written at build time into the migration's up.postgres.sql and
 * down.postgres.sql, so that the bundle signs it and plan shows it. Every
 * name is quoted; the expressions (using, down_using, check) are the
 * user's SQL, put in parentheses. */
#include <stdio.h>
#include <string.h>

#include "../lib/error.h"
#include "../lib/sha256.h"
#include "../lib/util.h"
#include "operation-int.h"

/* "schema"."table" or "table" */
static void put_table(struct buf *b, const char *table)
{
	const char *dot = strchr(table, '.');

	if (dot)
		buf_printf(b, "\"%.*s\".\"%s\"", (int)(dot - table), table, dot + 1);
	else
		buf_printf(b, "\"%s\"", table);
}

/* the table's name without its schema */
static const char *bare(const char *table)
{
	const char *dot = strchr(table, '.');

	return dot ? dot + 1 : table;
}

/* prefix + parts joined by '_', or prefix + 16 hex digits of their
 * sha256 when that is over PostgreSQL's 63 bytes (it would cut it). */
static void object_name(char out[64], const char *prefix, const char *a, const char *b,
			const char *c)
{
	char *full = xasprintf("%s%s_%s%s%s", prefix, a, b, c ? "_" : "", c ? c : "");
	char hex[65];
	int n;

	if (strlen(full) <= 63) {
		memcpy(out, full, strlen(full) + 1);
	} else {
		sha256_hex(full, strlen(full), hex);
		n = snprintf(out, 64, "%s%.16s", prefix, hex);
		if (n < 0 || n >= 64)
			out[0] = '\0';
	}
	free(full);
}

/* the schema-qualified function name: "s"."name" or "name" */
static void put_func(struct buf *b, const char *table, const char *name)
{
	const char *dot = strchr(table, '.');

	if (dot)
		buf_printf(b, "\"%.*s\".", (int)(dot - table), table);
	buf_printf(b, "\"%s\"", name);
}

/* old -> new for the backfill and the trigger: the column itself for a
 * rename, (using) for a type change; new -> old likewise */
static void put_conv(struct buf *b, const struct mig_op *op, int back)
{
	if (op->kind == OP_CHANGE_TYPE)
		buf_printf(b, "(%s)", back ? op->down_using : op->using_expr);
	else
		buf_printf(b, "\"%s\"", back ? op->to : op->column);
}

/* The trigger that keeps both columns in sync while both releases run: a
 * BEFORE row trigger only sets NEW, so it cannot fire itself again. A write
 * that sets one column (old release: the old one; new release: the new
 * one) gets the other computed; a write that sets both keeps both; an
 * UPDATE that sets the new column to what the old one converts to (the
 * backfill) leaves the old one alone. */
static void put_sync(struct buf *b, const struct mig_op *op, const char *fn)
{
	const char *o = op->column, *n = op->to;

	buf_puts(b, "CREATE FUNCTION ");
	put_func(b, op->table, fn);
	buf_puts(b, "() RETURNS trigger LANGUAGE plpgsql AS $cairn$\nDECLARE\n");
	/* the expressions name the columns: here they read these variables */
	buf_printf(b, "\t\"%s\" ", o);
	put_table(b, op->table);
	buf_printf(b, ".\"%s\"%%TYPE := NEW.\"%s\";\n\t\"%s\" ", o, o, n);
	put_table(b, op->table);
	buf_printf(b, ".\"%s\"%%TYPE := NEW.\"%s\";\nBEGIN\n", n, n);
	buf_printf(b, "\tIF TG_OP = 'INSERT' THEN\n\t\tIF NEW.\"%s\" IS NULL THEN\n\t\t\tNEW.\"%s\" := ",
		   n, n);
	put_conv(b, op, 0);
	buf_printf(b, ";\n\t\tELSIF NEW.\"%s\" IS NULL THEN\n\t\t\tNEW.\"%s\" := ", o, o);
	put_conv(b, op, 1);
	buf_printf(b, ";\n\t\tEND IF;\n\tELSIF NEW.\"%s\" IS DISTINCT FROM OLD.\"%s\" AND NEW.\"%s\" IS NOT DISTINCT FROM OLD.\"%s\" THEN\n\t\tNEW.\"%s\" := ",
		   o, o, n, n, n);
	put_conv(b, op, 0);
	buf_printf(b, ";\n\tELSIF NEW.\"%s\" IS DISTINCT FROM OLD.\"%s\" AND NEW.\"%s\" IS NOT DISTINCT FROM OLD.\"%s\"\n\t      AND NEW.\"%s\" IS DISTINCT FROM ",
		   n, n, o, o, n);
	put_conv(b, op, 0);
	buf_printf(b, " THEN\n\t\tNEW.\"%s\" := ", o);
	put_conv(b, op, 1);
	buf_puts(b, ";\n\tEND IF;\n\tRETURN NEW;\nEND\n$cairn$;\n");
	buf_printf(b, "CREATE TRIGGER \"%s\" BEFORE INSERT OR UPDATE ON ", fn);
	put_table(b, op->table);
	buf_puts(b, "\n\tFOR EACH ROW EXECUTE FUNCTION ");
	put_func(b, op->table, fn);
	buf_puts(b, "();\n");
}

static void put_drop_sync(struct buf *b, const struct mig_op *op, const char *fn)
{
	buf_printf(b, "DROP TRIGGER IF EXISTS \"%s\" ON ", fn);
	put_table(b, op->table);
	buf_puts(b, ";\nDROP FUNCTION IF EXISTS ");
	put_func(b, op->table, fn);
	buf_puts(b, "();\n");
}

static void put_alter(struct buf *b, const char *table)
{
	buf_puts(b, "ALTER TABLE ");
	put_table(b, table);
	buf_putc(b, ' ');
}

/* rename_column and change_type: the new column beside the old one */
static void two_column_sql(const struct mig_op *op, enum op_step step, struct buf *up,
			   struct buf *down)
{
	char fn[64];
	const char *oldtype = op->from_type ? op->from_type : op->type;

	object_name(fn, "cairn_sync_", bare(op->table), op->column, op->to);
	if (step == OP_STEP_EXPAND) {
		put_alter(up, op->table);
		buf_printf(up, "ADD COLUMN \"%s\" %s;\n", op->to, op->type);
		put_sync(up, op, fn);
		put_drop_sync(down, op, fn);
		put_alter(down, op->table);
		buf_printf(down, "DROP COLUMN IF EXISTS \"%s\";\n", op->to);
	} else if (step == OP_STEP_BACKFILL) {
		/* one batch: up to cairn.batch_size rows the trigger has not
		 * filled; a row whose value converts to NULL is left, so the
		 * batches end */
		buf_puts(up, "UPDATE ");
		put_table(up, op->table);
		buf_printf(up, " SET \"%s\" = ", op->to);
		put_conv(up, op, 0);
		buf_puts(up, "\nWHERE ctid = ANY (ARRAY(SELECT ctid FROM ");
		put_table(up, op->table);
		buf_printf(up, "\n\tWHERE \"%s\" IS NULL AND \"%s\" IS NOT NULL", op->to, op->column);
		if (op->kind == OP_CHANGE_TYPE) {
			buf_puts(up, " AND ");
			put_conv(up, op, 0);
			buf_puts(up, " IS NOT NULL");
		}
		buf_puts(up, "\n\tLIMIT coalesce(nullif(current_setting('cairn.batch_size', true), '')::int, 1000)\n\tFOR UPDATE));\n");
		buf_printf(down, "-- nothing to undo: the values stay in \"%s\" until the expand step's down drops it\n",
			   op->to);
	} else {
		put_drop_sync(up, op, fn);
		put_alter(up, op->table);
		buf_printf(up, "DROP COLUMN \"%s\";\n", op->column);
		/* back to the expand step's shape: the old column filled from
		 * the new one before the trigger exists, so it converts nothing
		 * back again */
		put_alter(down, op->table);
		buf_printf(down, "ADD COLUMN \"%s\" %s;\nUPDATE ", op->column, oldtype);
		put_table(down, op->table);
		buf_printf(down, " SET \"%s\" = ", op->column);
		put_conv(down, op, 1);
		buf_puts(down, ";\n");
		put_sync(down, op, fn);
	}
}

static void put_columns(struct buf *b, const struct strlist *l)
{
	size_t i;

	buf_putc(b, '(');
	for (i = 0; i < l->n; i++)
		buf_printf(b, "%s\"%s\"", i ? ", " : "", l->items[i]);
	buf_putc(b, ')');
}

/* name:, or PostgreSQL's own default: table_col1_col2_SUFFIX */
static int constraint_name(char out[64], const struct mig_op *op, const char *suffix,
			   struct findings *f, const char *path)
{
	struct buf b = BUF_INIT;
	size_t i;
	int rc = 0;

	if (op->name) {
		memcpy(out, op->name, strlen(op->name) + 1);
		return 0;
	}
	buf_puts(&b, bare(op->table));
	for (i = 0; i < op->columns.n; i++)
		buf_printf(&b, "_%s", op->columns.items[i]);
	buf_printf(&b, "_%s", suffix);
	if (b.len > 63) {
		findings_add(f, SEV_ERROR, path, op->line, 0, "bad-operation",
			     "operation: %s: the constraint's default name '%s' is over 63 bytes; give it one with name:",
			     op->kind_name, buf_cstr(&b));
		rc = -1;
	} else {
		memcpy(out, b.ptr, b.len + 1);
	}
	buf_release(&b);
	return rc;
}

/* set_not_null, add_check, add_foreign_key, add_unique: one contract
 * migration outside a transaction, each statement its own, so the long
 * scan (VALIDATE, the index build) holds no lock that stops writes */
static int constraint_sql(const struct mig_op *op, struct buf *up, struct buf *down,
			  struct findings *f, const char *path)
{
	char name[64];
	const char *suffix = op->kind == OP_ADD_UNIQUE ? "key" : "fkey";

	if (op->kind == OP_SET_NOT_NULL)
		object_name(name, "cairn_nn_", bare(op->table), op->column, NULL);
	else if (constraint_name(name, op, suffix, f, path) < 0)
		return -1;
	/* outside a transaction a failed run leaves what its first statements
	 * did (a NOT VALID constraint, an invalid index): each run starts by
	 * dropping it, so that repair --mark-rolled-back and apply run again */
	if (op->kind == OP_ADD_UNIQUE) {
		buf_printf(up, "DROP INDEX CONCURRENTLY IF EXISTS ");
		put_func(up, op->table, name);
		buf_printf(up, ";\nCREATE UNIQUE INDEX CONCURRENTLY \"%s\" ON ", name);
		put_table(up, op->table);
		buf_putc(up, ' ');
		put_columns(up, &op->columns);
		buf_puts(up, ";\n");
		put_alter(up, op->table);
		buf_printf(up, "ADD CONSTRAINT \"%s\" UNIQUE USING INDEX \"%s\";\n", name, name);
	} else {
		put_alter(up, op->table);
		buf_printf(up, "DROP CONSTRAINT IF EXISTS \"%s\";\n", name);
		put_alter(up, op->table);
		buf_printf(up, "ADD CONSTRAINT \"%s\" ", name);
		if (op->kind == OP_SET_NOT_NULL) {
			buf_printf(up, "CHECK (\"%s\" IS NOT NULL)", op->column);
		} else if (op->kind == OP_ADD_CHECK) {
			buf_printf(up, "CHECK (%s)", op->check);
		} else {
			buf_puts(up, "FOREIGN KEY ");
			put_columns(up, &op->columns);
			buf_puts(up, " REFERENCES ");
			put_table(up, op->ref_table);
			buf_putc(up, ' ');
			put_columns(up, &op->ref_columns);
			if (op->on_delete)
				buf_printf(up, " ON DELETE %s", op->on_delete);
		}
		buf_puts(up, " NOT VALID;\n");
		put_alter(up, op->table);
		buf_printf(up, "VALIDATE CONSTRAINT \"%s\";\n", name);
	}
	if (op->kind == OP_SET_NOT_NULL) {
		/* from PostgreSQL 12 on, SET NOT NULL skips its scan when a
		 * valid CHECK (col IS NOT NULL) proves it */
		put_alter(up, op->table);
		buf_printf(up, "ALTER COLUMN \"%s\" SET NOT NULL;\n", op->column);
		put_alter(up, op->table);
		buf_printf(up, "DROP CONSTRAINT \"%s\";\n", name);
		put_alter(down, op->table);
		buf_printf(down, "ALTER COLUMN \"%s\" DROP NOT NULL;\n", op->column);
	} else {
		put_alter(down, op->table);
		buf_printf(down, "DROP CONSTRAINT IF EXISTS \"%s\";\n", name);
	}
	return 0;
}

int op_sql(const struct mig_op *op, enum op_step step, struct buf *up, struct buf *down,
	   struct findings *f, const char *path)
{
	static const char *const steps[] = { "expand", "backfill", "contract" };
	int i;

	for (i = 0; i < 2; i++)
		buf_printf(i ? down : up,
			   "-- generated by cairn build from operation: %s in migration.yaml (%s step%s)\n",
			   op->kind_name, steps[step], i ? ", its rollback" : "");
	if (op->kind == OP_RENAME_COLUMN || op->kind == OP_CHANGE_TYPE) {
		two_column_sql(op, step, up, down);
		return 0;
	}
	return constraint_sql(op, up, down, f, path);
}
