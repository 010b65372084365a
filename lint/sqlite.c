/* SQLite scripts checked by SQLite itself (lint.h): each statement is
 * prepared on an in-memory database that has replayed the earlier
 * migrations, looked at through the authorizer (which tells what the
 * statement does to which table) and the catalog (which columns, which
 * foreign keys), then run there so the next statement sees its effect.
 *
 * The database is a sandbox for SQL read from a repository: it is in
 * memory, ATTACH is refused (no file is ever opened), VACUUM (which could
 * write a file with INTO) is never run, extensions stay off, and every
 * statement has a budget of virtual-machine steps and the heap a limit. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>
#include <zlib.h>

#include "../lib/error.h"
#include "../lib/sqlsplit.h"
#include "../lib/util.h"
#include "lint-int.h"

/* Steps of SQLite's virtual machine one statement may take (a recursive
 * CTE that never ends is stopped here): a few seconds of work. */
#define SQ_STEP_BUDGET (16LL << 20)
#define SQ_PROGRESS_EVERY 1000
#define SQ_HEAP_LIMIT (512LL << 20)

struct lint_sqlite {
	sqlite3 *db;
	int history_known;  /* every earlier migration replayed in order */
	int history_broken; /* and one of them was refused somewhere */
	int replaying;      /* inside lint_sqlite_replay */
	int loading;        /* inside sqlite3_deserialize (lint_sqlite_load) */
	int not_kept;       /* a replayed script set a PRAGMA: the bytes lack it */
	long long steps;
	/* what the authorizer saw while the current statement was prepared */
	int action;         /* SQLITE_ALTER_TABLE, SQLITE_DROP_TABLE, ... (first one) */
	char table[256];
	char pragma[64], pragma_arg[64];
	int attach, has_pragma;
	struct sq_tables *tables; /* where tables' schema entries are (sqlite-strict.c) */
};

/* ---- the database ---- */

static int progress(void *p)
{
	struct lint_sqlite *q = p;

	q->steps += SQ_PROGRESS_EVERY;
	return q->steps > SQ_STEP_BUDGET;
}

static void keep_name(char *dst, size_t size, const char *src)
{
	if (!src)
		src = "";
	if ((size_t)snprintf(dst, size, "%s", src) >= size)
		dst[size - 1] = '\0'; /* a longer name is only compared, never used */
}

static int authorize(void *p, int action, const char *a, const char *b, const char *db,
		     const char *trigger)
{
	struct lint_sqlite *q = p;

	(void)db;
	if (trigger)
		return SQLITE_OK;
	switch (action) {
	case SQLITE_ATTACH:
	case SQLITE_DETACH:
		if (q->loading)
			return SQLITE_OK; /* sqlite3_deserialize's own, on memory */
		q->attach = 1;
		return SQLITE_DENY; /* no file is ever opened */
	case SQLITE_PRAGMA:
		if (q->replaying && b)
			q->not_kept = 1; /* connection state, not in the file */
		if (!q->has_pragma) {
			q->has_pragma = 1;
			keep_name(q->pragma, sizeof(q->pragma), a);
			keep_name(q->pragma_arg, sizeof(q->pragma_arg), b);
		}
		return SQLITE_OK;
	case SQLITE_ALTER_TABLE:
		a = b; /* ALTER TABLE: (database, table) */
		/* fall through */
	case SQLITE_CREATE_TABLE:
	case SQLITE_DROP_TABLE:
	case SQLITE_CREATE_INDEX:
		if (!q->action) {
			q->action = action;
			keep_name(q->table, sizeof(q->table), a);
		}
		return SQLITE_OK;
	default:
		return SQLITE_OK;
	}
}

int lint_sqlite_open(struct lint_sqlite **out, int history_known)
{
	struct lint_sqlite *q = xcalloc(1, sizeof(*q));

	*out = NULL;
	if (sqlite3_open_v2(":memory:", &q->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
			    SQLITE_OPEN_MEMORY, NULL) != SQLITE_OK) {
		cairn_error_set("cannot open an in-memory SQLite database: %s",
				q->db ? sqlite3_errmsg(q->db) : "out of memory");
		sqlite3_close(q->db);
		free(q);
		return -1;
	}
	sqlite3_hard_heap_limit64(SQ_HEAP_LIMIT);
	sqlite3_limit(q->db, SQLITE_LIMIT_ATTACHED, 0);
	sqlite3_db_config(q->db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, NULL);
	sqlite3_db_config(q->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	sqlite3_db_config(q->db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
	sqlite3_set_authorizer(q->db, authorize, q);
	sqlite3_progress_handler(q->db, SQ_PROGRESS_EVERY, progress, q);
	/* small pages: a table is a page at least, and check --staged's cache
	 * writes and reads them all (10,000 tables: 10 MB, not 41) */
	(void)sqlite3_exec(q->db, "PRAGMA page_size = 1024", NULL, NULL, NULL);
	q->history_known = history_known;
	*out = q;
	return 0;
}

void lint_sqlite_free(struct lint_sqlite *q)
{
	if (!q)
		return;
	sqlite3_close(q->db);
	sq_tables_free(q->tables);
	free(q);
}

/* Runs SQL of cairn's own (the authorizer still watches). */
static int sq_exec(struct lint_sqlite *q, const char *sql)
{
	q->steps = 0;
	return sqlite3_exec(q->db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

/* ---- the text around SQLite's answers ---- */

#define SQ_WORDS 8

struct sq_words {
	int n;
	size_t off[SQ_WORDS], end[SQ_WORDS];
	char up[SQ_WORDS][32]; /* a word in upper case; "" for other tokens */
};

/* The first tokens of text[i, len): words, quoted names, one-byte marks. */
static void sq_scan(struct sq_words *w, const char *s, size_t len, size_t i)
{
	memset(w, 0, sizeof(*w));
	while (w->n < SQ_WORDS && (i = sql_skip_blank(s, len, i, 0)) < len) {
		size_t b = i;
		int k = w->n++;

		if (isalpha((unsigned char)s[i]) || s[i] == '_') {
			size_t j;

			while (i < len && (isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == '$'))
				i++;
			for (j = 0; j < i - b && j < sizeof(w->up[k]) - 1; j++)
				w->up[k][j] = (char)toupper((unsigned char)s[b + j]);
		} else if (s[i] == '"' || s[i] == '`' || s[i] == '[' || s[i] == '\'') {
			/* a doubled quote is one quote inside the name or string
			 * ("q""x" is one token): split in two, ALTER TABLE "q""x"
			 * ADD ... lost its ADD and the rules on it */
			i = sql_skip_quoted(s, len, i, s[i] == '[' ? ']' : s[i]);
		} else {
			i++;
		}
		w->off[k] = b;
		w->end[k] = i;
	}
}

static int sq_is(const struct sq_words *w, int i, const char *word)
{
	return i < w->n && !strcmp(w->up[i], word);
}

/* The end of the statement that starts at i: where SQLite would say it is
 * complete (a trigger's body holds semicolons), else the end of the text. */
static size_t sq_stmt_end(const char *s, size_t len, size_t i)
{
	const char *semi = s + i;

	while ((semi = memchr(semi, ';', len - (size_t)(semi - s)))) {
		size_t n = (size_t)(semi - s) + 1 - i;
		char *stmt = xstrndup(s + i, n);
		int done = sqlite3_complete(stmt);

		free(stmt);
		if (done)
			return i + n;
		semi++;
	}
	return len;
}

/* Where ALTER TABLE's action starts: past ALTER TABLE [schema.]name. */
static int alter_action(const struct sq_words *w)
{
	if (!sq_is(w, 0, "ALTER") || !sq_is(w, 1, "TABLE"))
		return -1;
	return w->n > 4 && w->end[2] == w->off[3] && w->end[3] == w->off[4] &&
			       w->up[3][0] == '\0' && w->off[3] + 1 == w->end[3]
		       ? 5 /* schema . name */
		       : 3;
}

/* ---- the rules ---- */

struct sq_lint {
	struct lint_state s;
	struct lint_sqlite *q;
	char **created;     /* tables created in this script (they are empty) */
	size_t ncreated, created_alloc;
	int fk_off;         /* PRAGMA foreign_keys = OFF outside a transaction */
};

static int sq_in_tx(const struct sq_lint *L)
{
	return L->s.in->in_transaction || !sqlite3_get_autocommit(L->q->db);
}

static int sq_created(const struct sq_lint *L, const char *table)
{
	size_t i;

	for (i = 0; i < L->ncreated; i++)
		if (!strcasecmp(L->created[i], table))
			return 1;
	return 0;
}

static int version_lacks(const struct sq_lint *L, int since)
{
	int v = L->s.in->cfg ? L->s.in->cfg->sqlite_version : 0;

	return v > 0 && v < since;
}

/* A prepare that failed: a syntax error where SQLite points, an ALTER form
 * it lacks, or (on a known history) a table or column it does not have. */
static void prepare_failed(struct sq_lint *L, const struct sq_words *w, size_t from)
{
	const char *msg = sqlite3_errmsg(L->q->db);
	int off = sqlite3_error_offset(L->q->db);
	int loc = off >= 0 ? (int)(from + (size_t)off) : -1;
	int a = alter_action(w);
	int syntax = strstr(msg, "syntax error") || strstr(msg, "incomplete input") ||
		     strstr(msg, "unrecognized token");
	int known = L->q->history_known && !L->q->history_broken;

	L->q->history_broken = 1;
	if (L->q->attach) {
		/* refused by cairn's sandbox (no file is opened), not by SQLite */
		if (sq_in_tx(L))
			lint_report(&L->s, LR_SQLITE_NOT_IN_TX, -1,
				    "%s cannot run inside a transaction, and SQLite runs this migration in one; set transaction: {sqlite: false} in migration.yaml",
				    w->up[0]);
		return;
	}
	if (syntax && a > 0 && !sq_is(w, a, "ADD") && !sq_is(w, a, "RENAME") && !sq_is(w, a, "DROP"))
		syntax = 2;
	if (syntax && a > 0 && (sq_is(w, a, "ADD") || sq_is(w, a, "DROP")) &&
	    (sq_is(w, a + 1, "CONSTRAINT") || sq_is(w, a + 1, "PRIMARY") ||
	     sq_is(w, a + 1, "UNIQUE") || sq_is(w, a + 1, "FOREIGN") || sq_is(w, a + 1, "CHECK")))
		syntax = 2;
	if (syntax == 2)
		lint_report(&L->s, LR_SQLITE_ALTER, (int)w->off[a < w->n ? a : 0],
			    "SQLite's ALTER TABLE has only RENAME TO, RENAME COLUMN, ADD COLUMN and DROP COLUMN, not %s %s; rebuild the table instead: CREATE TABLE new_t (the new definition), INSERT INTO new_t SELECT ... FROM t, DROP TABLE t, ALTER TABLE new_t RENAME TO t (see sqlite.org/lang_altertable.html, the 12 steps)",
			    w->up[a < w->n ? a : 0], a + 1 < w->n ? w->up[a + 1] : "");
	else if (syntax)
		lint_report(&L->s, LR_SQLITE_SYNTAX, loc,
			    "SQLite's parser refuses the statement: %s; SQLite would refuse it too (PostgreSQL-only SQL belongs in up.postgres.sql)",
			    msg);
	else if (strstr(msg, "annot add a"))
		lint_report(&L->s, LR_SQLITE_ADD_COLUMN, -1,
			    "SQLite refuses this ADD COLUMN: %s; add the column without it, or rebuild the table (the 12 steps of sqlite.org/lang_altertable.html)",
			    msg);
	else if (strstr(msg, "annot drop"))
		lint_report(&L->s, LR_SQLITE_DROP_COLUMN, -1,
			    "SQLite refuses this DROP COLUMN: %s; drop what uses the column first, or rebuild the table without it",
			    msg);
	else if (known)
		lint_report(&L->s, LR_SQLITE_ERROR, -1,
			    "SQLite refuses the statement on the schema the earlier migrations build: %s",
			    msg);
}

/* What the authorizer saw for the statement, kept before cairn's own
 * queries run through it again. */
struct sq_info {
	int action, attach, has_pragma;
	char table[256], pragma[64], pragma_arg[64];
};

static void info_take(struct sq_info *i, struct lint_sqlite *q)
{
	i->action = q->action;
	i->attach = q->attach;
	i->has_pragma = q->has_pragma;
	memcpy(i->table, q->table, sizeof(i->table));
	memcpy(i->pragma, q->pragma, sizeof(i->pragma));
	memcpy(i->pragma_arg, q->pragma_arg, sizeof(i->pragma_arg));
	q->action = q->attach = q->has_pragma = 0;
	q->table[0] = q->pragma[0] = q->pragma_arg[0] = '\0';
}

/* One text column of the first row of sql with ?1 = arg, or NULL. */
static char *sq_query1(struct lint_sqlite *q, const char *sql, const char *arg, int col)
{
	sqlite3_stmt *st = NULL;
	char *r = NULL;

	q->steps = 0;
	if (sqlite3_prepare_v2(q->db, sql, -1, &st, NULL) != SQLITE_OK)
		goto out;
	sqlite3_bind_text(st, 1, arg, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, col))
		r = xstrdup((const char *)sqlite3_column_text(st, col));
out:
	sqlite3_finalize(st);
	return r;
}

/* ALTER TABLE t ADD COLUMN on a table that has rows: SQLite refuses a NOT
 * NULL column without a default, a non-constant default, a REFERENCES
 * column with a default, only once the table is not empty. Asked of SQLite
 * on a scratch table of one row, with the statement's own column text. */
static void add_column_on_rows(struct sq_lint *L, const struct sq_words *w, int a, size_t end)
{
	const char *t = L->s.text;
	int k = sq_is(w, a + 1, "COLUMN") ? a + 2 : a + 1;
	size_t d = k < w->n ? w->off[k] : end;
	char *sql, *err = NULL;

	while (end > d && (isspace((unsigned char)t[end - 1]) || t[end - 1] == ';'))
		end--;
	if (end <= d)
		return;
	if (sq_exec(L->q, "CREATE TEMP TABLE cairn_lint_rows(cairn_lint_x);"
			  "INSERT INTO cairn_lint_rows VALUES (NULL);PRAGMA foreign_keys = ON") < 0)
		return;
	sql = xasprintf("ALTER TABLE temp.cairn_lint_rows ADD COLUMN %.*s", (int)(end - d), t + d);
	L->q->steps = 0;
	if (sqlite3_exec(L->q->db, sql, NULL, NULL, &err) != SQLITE_OK && err &&
	    strstr(err, "annot add a"))
		lint_report(&L->s, LR_SQLITE_ADD_COLUMN, (int)d,
			    "SQLite refuses this ADD COLUMN once the table has a row: %s; give the column a constant DEFAULT, or add it nullable (and fill it) and rebuild the table with NOT NULL later",
			    err);
	sqlite3_free(err);
	free(sql);
	(void)sq_exec(L->q, "PRAGMA foreign_keys = OFF;DROP TABLE temp.cairn_lint_rows");
}

/* SQLite's affinity of a declared type (sqlite.org/datatype3.html 3.1). */
static const char *affinity(const char *type)
{
	char up[128];
	size_t i;

	for (i = 0; type[i] && i < sizeof(up) - 1; i++)
		up[i] = (char)toupper((unsigned char)type[i]);
	up[i] = '\0';
	if (strstr(up, "INT"))
		return "INTEGER";
	if (strstr(up, "CHAR") || strstr(up, "CLOB") || strstr(up, "TEXT"))
		return "TEXT";
	if (strstr(up, "BLOB") || !*up)
		return "BLOB";
	if (strstr(up, "REAL") || strstr(up, "FLOA") || strstr(up, "DOUB"))
		return "REAL";
	return "NUMERIC";
}

/* Is the type's name one that means what its affinity does? */
static int affinity_expected(const char *type, const char *aff)
{
	static const char *const integer[] = { "INT", "INTEGER", "TINYINT", "SMALLINT", "MEDIUMINT",
					       "BIGINT", "INT2", "INT4", "INT8", "UNSIGNED", NULL };
	static const char *const numeric[] = { "NUMERIC", "DECIMAL", "BOOLEAN", "BOOL", "DATE",
					       "DATETIME", "TIMESTAMP", "TIME", "NUMBER", "MONEY", NULL };
	const char *const *names = !strcmp(aff, "INTEGER") ? integer : !strcmp(aff, "NUMERIC") ? numeric : NULL;
	char word[32];
	size_t i;

	if (!names)
		return 1;
	for (i = 0; type[i] && i < sizeof(word) - 1 && (isalnum((unsigned char)type[i]) || type[i] == '_'); i++)
		word[i] = (char)toupper((unsigned char)type[i]);
	word[i] = '\0';
	for (i = 0; names[i]; i++)
		if (!strcmp(word, names[i]))
			return 1;
	return 0;
}

/* Is table STRICT? Asked only where the answer changes a finding. */
static int table_strict(struct sq_lint *L, const char *table, int created)
{
	L->q->steps = 0;
	return sq_table_strict(L->q->db, &L->q->tables, table, created);
}

/* One column's findings: its type's surprising affinity, what the
 * configured SQLite version lacks. *is_strict: -1 until asked. */
static void column_findings(struct sq_lint *L, const char *table, int created,
			    const char *name, const char *type, int hidden, int *is_strict)
{
	const char *aff = affinity(type);

	if ((hidden == 2 || hidden == 3) && version_lacks(L, 3031000))
		lint_report(&L->s, LR_SQLITE_VERSION, -1,
			    "column %s is a generated column, which SQLite has from 3.31 on, and sqlite: {version:} says an older one; compute it in a view or the application",
			    name);
	if (!affinity_expected(type, aff) && *is_strict < 0)
		*is_strict = table_strict(L, table, created);
	if (!affinity_expected(type, aff) && !*is_strict)
		lint_report(&L->s, LR_SQLITE_AFFINITY, -1,
			    "column %s is declared %s, which SQLite gives %s affinity%s; declare it %s",
			    name, type, aff,
			    !strcmp(aff, "NUMERIC")
				    ? ": text that looks like a number is stored as one ('007' becomes 7, '1e3' becomes 1000)"
				    : ": a value that looks like an integer is stored as one",
			    !strcmp(aff, "NUMERIC") ? "TEXT (or BLOB)" : "TEXT, REAL or BLOB");
}

/* Columns of table (only the last one: last_only; the table just made:
 * created) whose type surprises, and what the configured SQLite version
 * lacks. The PRAGMA is the one pragma_table_xinfo(table) runs inside
 * (its rows in cid order), without the virtual table around it. */
static void check_columns(struct sq_lint *L, const char *table, int last_only, int created)
{
	sqlite3_stmt *st = NULL;
	char *sql = sqlite3_mprintf("PRAGMA table_xinfo=%Q", table);
	char *last_name = NULL, *last_type = NULL;
	int is_strict = -1, last_hidden = 0; /* not asked yet */

	if (version_lacks(L, 3037000) && (is_strict = table_strict(L, table, created)))
		lint_report(&L->s, LR_SQLITE_VERSION, -1,
			    "%s is a STRICT table, which SQLite has from 3.37 on, and sqlite: {version:} says an older one; drop STRICT, or raise the version",
			    table);
	L->q->steps = 0;
	if (!sql || sqlite3_prepare_v2(L->q->db, sql, -1, &st, NULL) != SQLITE_OK)
		goto out;
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 1);
		const char *type = (const char *)sqlite3_column_text(st, 2);
		int hidden = sqlite3_column_int(st, 6);

		if (last_only) {
			free(last_name);
			free(last_type);
			last_name = name ? xstrdup(name) : NULL;
			last_type = type ? xstrdup(type) : NULL;
			last_hidden = hidden;
		} else if (name && type) {
			column_findings(L, table, created, name, type, hidden, &is_strict);
		}
	}
	if (last_name && last_type)
		column_findings(L, table, created, last_name, last_type, last_hidden, &is_strict);
out:
	free(last_name);
	free(last_type);
	sqlite3_finalize(st);
	sqlite3_free(sql);
}

static int pragma_is_off(const char *v)
{
	return !strcasecmp(v, "off") || !strcmp(v, "0") || !strcasecmp(v, "false") ||
	       !strcasecmp(v, "no");
}

/* Before the statement runs: what the transaction, the version and the
 * foreign keys make of it. Returns 0 when it is not to be run. */
static int before_run(struct sq_lint *L, const struct sq_info *i, const struct sq_words *w,
		      size_t end)
{
	int tx = sq_in_tx(L), a = alter_action(w);

	if (sq_is(w, 0, "VACUUM")) {
		if (tx && !L->s.in->vacuum_told)
			lint_report(&L->s, LR_SQLITE_NOT_IN_TX, -1,
				    "VACUUM cannot run inside a transaction, and SQLite runs this migration in one; set transaction: {sqlite: false} in migration.yaml, best in a migration of its own");
		return 0; /* VACUUM INTO would write a file; it changes no schema */
	}
	if (i->has_pragma && *i->pragma_arg) {
		if (tx && !strcasecmp(i->pragma, "foreign_keys"))
			lint_report(&L->s, LR_SQLITE_PRAGMA_IN_TX, -1,
				    "PRAGMA foreign_keys does nothing inside a transaction, where SQLite runs this migration; set it per connection (the DSN's sqlite:PATH?foreign_keys=on, or sqlite: {foreign_keys: on} in the applier's config), or set transaction: {sqlite: false}");
		else if (tx && !strcasecmp(i->pragma, "journal_mode"))
			lint_report(&L->s, LR_SQLITE_NOT_IN_TX, -1,
				    "PRAGMA journal_mode cannot change the journal inside a transaction (SQLite refuses or ignores it), and SQLite runs this migration in one; set it outside the migrations, or set transaction: {sqlite: false}");
		else if (!tx && !strcasecmp(i->pragma, "foreign_keys"))
			L->fk_off = pragma_is_off(i->pragma_arg);
	}
	if (a > 0 && sq_is(w, a, "DROP") && version_lacks(L, 3035000))
		lint_report(&L->s, LR_SQLITE_VERSION, (int)w->off[a],
			    "DROP COLUMN exists from SQLite 3.35 on, and sqlite: {version:} says an older one; rebuild the table without the column (the 12 steps of sqlite.org/lang_altertable.html)");
	if (a > 0 && sq_is(w, a, "RENAME") && !sq_is(w, a + 1, "TO") && version_lacks(L, 3025000))
		lint_report(&L->s, LR_SQLITE_VERSION, (int)w->off[a],
			    "RENAME COLUMN exists from SQLite 3.25 on, and sqlite: {version:} says an older one; rebuild the table with the new name");
	if (a > 0 && sq_is(w, a, "ADD") && i->action == SQLITE_ALTER_TABLE && !sq_created(L, i->table))
		add_column_on_rows(L, w, a, end);
	if (i->action == SQLITE_DROP_TABLE && !sq_created(L, i->table) && !(L->fk_off && !tx)) {
		char *child = sq_query1(L->q,
					"SELECT m.name FROM sqlite_schema m, pragma_foreign_key_list(m.name) f"
					" WHERE m.type = 'table' AND f.\"table\" = ?1 COLLATE NOCASE"
					" AND m.name <> ?1 COLLATE NOCASE LIMIT 1",
					i->table, 0);

		if (child)
			lint_report(&L->s, LR_SQLITE_DROP_REFERENCED, -1,
				    "table %s is referenced by %s's foreign key: where foreign keys are enforced, DROP TABLE first deletes every row (ON DELETE CASCADE empties %s, else the drop fails), and PRAGMA foreign_keys = OFF does nothing inside the migration's transaction; rebuild in a migration with transaction: {sqlite: false}: PRAGMA foreign_keys = OFF, BEGIN, the 12 steps, PRAGMA foreign_key_check, COMMIT, PRAGMA foreign_keys = ON",
				    i->table, child, child);
		free(child);
	}
	return 1;
}

/* Steps the statement to its end; on an error, what SQLite said. */
static int sq_run(struct lint_sqlite *q, sqlite3_stmt *st)
{
	int rc;

	q->steps = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		;
	return rc == SQLITE_DONE ? 0 : -1;
}

static void run_failed(struct sq_lint *L, const struct sq_words *w, int known)
{
	const char *msg = sqlite3_errmsg(L->q->db);
	int a = alter_action(w);

	L->q->history_broken = 1;
	if (sqlite3_errcode(L->q->db) == SQLITE_INTERRUPT)
		return; /* over the budget: cairn's limit, not SQLite's answer */
	if (a > 0 && sq_is(w, a, "ADD") && strstr(msg, "annot add a"))
		lint_report(&L->s, LR_SQLITE_ADD_COLUMN, -1,
			    "SQLite refuses this ADD COLUMN on the table's rows: %s; give the column a constant DEFAULT, or rebuild the table",
			    msg);
	else if (a > 0 && sq_is(w, a, "DROP"))
		lint_report(&L->s, LR_SQLITE_DROP_COLUMN, -1,
			    "SQLite refuses this DROP COLUMN: %s; drop the index, view, trigger or constraint that uses the column first, or rebuild the table without it",
			    msg);
	else if (known)
		lint_report(&L->s, LR_SQLITE_ERROR, -1,
			    "SQLite refuses the statement on the schema the earlier migrations build: %s",
			    msg);
}

static void check_stmt(struct sq_lint *L, sqlite3_stmt *st, const struct sq_words *w, size_t end)
{
	struct sq_info i;
	int a = alter_action(w), known = L->q->history_known && !L->q->history_broken;

	info_take(&i, L->q);
	if (!before_run(L, &i, w, end))
		return;
	if (sq_run(L->q, st) < 0) {
		run_failed(L, w, known);
		return;
	}
	if (i.action == SQLITE_CREATE_TABLE) {
		ALLOC_GROW(L->created, L->ncreated + 1, L->created_alloc);
		L->created[L->ncreated++] = xstrdup(i.table);
		check_columns(L, i.table, 0, 1);
	} else if (i.action == SQLITE_ALTER_TABLE && a > 0 && sq_is(w, a, "ADD")) {
		check_columns(L, i.table, 1, 0);
	} else if (i.action == SQLITE_ALTER_TABLE && a > 0 && sq_is(w, a, "RENAME") &&
		   sq_is(w, a + 1, "TO") && sq_created(L, i.table) && a + 2 < w->n) {
		/* the new name of a table created here is new too */
		ALLOC_GROW(L->created, L->ncreated + 1, L->created_alloc);
		L->created[L->ncreated++] = xstrndup(L->s.text + w->off[a + 2],
						     w->end[a + 2] - w->off[a + 2]);
	}
}

/* A table the script names that a database of unknown history lacks: a
 * stub with one column, so the statement can still be looked at. */
static int make_stub(struct lint_sqlite *q)
{
	const char *msg = sqlite3_errmsg(q->db);
	const char *name;
	char *sql;
	int r;

	if (q->history_known || strncmp(msg, "no such table: ", 15))
		return -1;
	name = msg + 15;
	if (!strncmp(name, "main.", 5))
		name += 5;
	sql = sqlite3_mprintf("CREATE TABLE \"%w\"(cairn_stub)", name);
	r = sql ? sq_exec(q, sql) : -1;
	sqlite3_free(sql);
	return r;
}

static sqlite3_stmt *sq_prepare(struct lint_sqlite *q, const char *text, size_t len, size_t start,
				size_t *end)
{
	sqlite3_stmt *st = NULL;
	const char *tail = NULL;
	int tries = 0, n = len - start > (size_t)1 << 30 ? 1 << 30 : (int)(len - start);

	for (;;) {
		q->action = q->attach = q->has_pragma = 0;
		q->steps = 0;
		if (sqlite3_prepare_v2(q->db, text + start, n, &st, &tail) == SQLITE_OK) {
			*end = tail ? (size_t)(tail - text) : len;
			return st;
		}
		if (++tries > 4 || make_stub(q) < 0)
			break;
	}
	*end = sq_stmt_end(text, len, start);
	return NULL;
}

void lint_sqlite(struct lint_result *out, struct lint_sqlite *q, const struct lint_input *in)
{
	struct sq_lint L;
	struct lint_sqlite *own = NULL;
	char *text = xmalloc(in->len + 1);
	size_t p = 0, start, end, i;

	memcpy(text, in->sql, in->len);
	text[in->len] = '\0';
	memset(&L, 0, sizeof(L));
	L.s.in = in;
	L.s.out = out;
	L.s.text = text;
	L.s.len = strlen(text);
	L.s.sqlite = 1;
	if (!q && lint_sqlite_open(&own, 0) < 0)
		goto out;
	L.q = q ? q : own;
	while ((start = sql_skip_blank(text, L.s.len, p, 0)) < L.s.len) {
		struct sq_words w;
		sqlite3_stmt *st;

		sq_scan(&w, text, L.s.len, start);
		st = sq_prepare(L.q, text, L.s.len, start, &end);
		if (end <= start && st) {
			sqlite3_finalize(st);
			break;
		}
		if (!st && end > start && sqlite3_errcode(L.q->db) == SQLITE_OK) {
			p = end; /* comments only */
			continue;
		}
		lint_stmt_begin(&L.s, p, end);
		if (st)
			check_stmt(&L, st, &w, end);
		else
			prepare_failed(&L, &w, start);
		sqlite3_finalize(st);
		lint_stmt_end(&L.s);
		p = end > p ? end : L.s.len;
	}
out:
	for (i = 0; i < L.ncreated; i++)
		free(L.created[i]);
	free(L.created);
	free(L.s.waivers);
	lint_sqlite_free(own);
	free(text);
}

void lint_sqlite_replay(struct lint_sqlite *q, const char *sql, size_t len)
{
	char *text = xstrndup(sql, len);
	size_t p = 0, end;

	len = strlen(text);
	q->replaying = 1;
	while ((p = sql_skip_blank(text, len, p, 0)) < len) {
		sqlite3_stmt *st = sq_prepare(q, text, len, p, &end);
		struct sq_words w;

		sq_scan(&w, text, len, p);
		if (!st && sqlite3_errcode(q->db) != SQLITE_OK)
			q->history_broken = 1;
		else if (st && !sq_is(&w, 0, "VACUUM") && sq_run(q, st) < 0)
			q->history_broken = 1;
		sqlite3_finalize(st);
		if (end <= p)
			break;
		p = end;
	}
	q->replaying = 0;
	free(text);
}

/* ---- the replayed database as bytes, for check's cache ---- */

/* After the database's bytes: its catalog (sqlite-subset.c), the
 * catalog's length, the format and the history_broken flag. */
#define SQ_SAVE_TAIL "\ncairn-lint-db 2 "
#define SQ_SAVE_TAIL_LEN (sizeof(SQ_SAVE_TAIL)) /* the text and the flag */
#define SQ_CAT_TAIL "\ncairn-lint-catalog "
#define SQ_CAT_TAIL_LEN (sizeof(SQ_CAT_TAIL) - 1 + 10 + 1 + 8) /* length, CRC-32 */

static unsigned long sq_crc32(const void *p, size_t n)
{
	return crc32_z(crc32_z(0L, Z_NULL, 0), (const Bytef *)p, n);
}

const char *lint_sqlite_id(void)
{
	return sqlite3_sourceid();
}

int lint_sqlite_save(struct lint_sqlite *q, struct buf *out)
{
	sqlite3_int64 size = 0;
	unsigned char *data;
	char *temp;
	int rc = -1;

	if (q->not_kept || !sqlite3_get_autocommit(q->db)) {
		cairn_error_set("the replay left state the database file does not hold (a PRAGMA, an open transaction)");
		return -1;
	}
	temp = sq_query1(q, "SELECT count(*) FROM temp.sqlite_schema", NULL, 0);
	if (!temp || strcmp(temp, "0")) {
		free(temp);
		cairn_error_set("the replay made temporary objects, which the database file does not hold");
		return -1;
	}
	free(temp);
	data = sqlite3_serialize(q->db, "main", &size, 0);
	if (!data) {
		cairn_error_set("SQLite cannot serialize the linter's database");
		return -1;
	}
	if (buf_put(out, data, (size_t)size) == 0) {
		size_t at = out->len;

		if (sq_catalog_write(q->db, data, (size_t)size, out) == 0 &&
		    buf_printf(out, SQ_CAT_TAIL "%010zu %08lx", out->len - at,
			       (unsigned long)sq_crc32(out->ptr + at, out->len - at)) == 0 &&
		    buf_puts(out, SQ_SAVE_TAIL) == 0 &&
		    buf_putc(out, q->history_broken ? 'b' : 'k') == 0)
			rc = 0;
	}
	sqlite3_free(data);
	return rc;
}

/* Room past the bytes for the database to grow into: when the staged
 * migration adds a page, SQLite's in-memory database would otherwise
 * reallocate the whole buffer (twice its size, copied and faulted in
 * again: 2,700 page faults and ~45 ms of CPU for the 11 MB of the
 * 10,000-table benchmark, more than the rest of the lint). Untouched
 * headroom costs address space, not memory. */
#define SQ_LOAD_HEADROOM(len) ((len) / 8 > ((size_t)1 << 20) ? (len) / 8 : ((size_t)1 << 20))

void *lint_sqlite_buffer(size_t len)
{
	void *p = len <= (size_t)SQ_HEAP_LIMIT / 2 ? sqlite3_malloc64(len + SQ_LOAD_HEADROOM(len))
						   : NULL;

	if (p)
		mem_prefault(p, len);
	return p;
}

void lint_sqlite_buffer_free(void *p)
{
	sqlite3_free(p);
}

/* What a database file's header says its size is (pages x page size). */
static size_t db_size_of(const unsigned char *h)
{
	size_t page = ((size_t)h[16] << 8) | h[17];
	size_t pages = ((size_t)h[28] << 24) | ((size_t)h[29] << 16) | ((size_t)h[30] << 8) | h[31];

	return (page == 1 ? 65536 : page) * pages;
}

/* The catalog's length and CRC-32, from the text before SQ_SAVE_TAIL at
 * end; -1 when it is not there. The caller checks the length fits. */
static long long catalog_len(const unsigned char *data, size_t end, unsigned long *crc)
{
	const unsigned char *t = data + end - SQ_CAT_TAIL_LEN;
	long long n = 0;
	size_t i;

	*crc = 0;
	if (end < SQ_CAT_TAIL_LEN || memcmp(t, SQ_CAT_TAIL, sizeof(SQ_CAT_TAIL) - 1) ||
	    t[SQ_CAT_TAIL_LEN - 9] != ' ')
		return -1;
	for (i = sizeof(SQ_CAT_TAIL) - 1; i < SQ_CAT_TAIL_LEN - 9; i++) {
		if (!isdigit(t[i]))
			return -1;
		n = n * 10 + (t[i] - '0');
	}
	for (i = SQ_CAT_TAIL_LEN - 8; i < SQ_CAT_TAIL_LEN; i++) {
		if (!isxdigit(t[i]) || isupper(t[i]))
			return -1;
		*crc = *crc * 16 + (unsigned long)(isdigit(t[i]) ? t[i] - '0' : t[i] - 'a' + 10);
	}
	return n;
}

size_t lint_sqlite_tail_size(void)
{
	return SQ_CAT_TAIL_LEN + SQ_SAVE_TAIL_LEN;
}

long long lint_sqlite_catalog_size(const void *tail)
{
	const unsigned char *t = tail;
	size_t end = SQ_CAT_TAIL_LEN;
	unsigned long crc;

	if (memcmp(t + end, SQ_SAVE_TAIL, SQ_SAVE_TAIL_LEN - 1))
		return -1;
	return catalog_len(t, end, &crc);
}

int lint_sqlite_load_subset(struct lint_sqlite *q, const void *bytes, size_t len,
			    const char *scripts, size_t slen)
{
	const unsigned char *data = bytes;
	size_t end = len - SQ_SAVE_TAIL_LEN;
	unsigned long crc = 0;
	long long clen = -1;
	char flag = 0;
	int rc;

	if (len >= lint_sqlite_tail_size() &&
	    !memcmp(data + end, SQ_SAVE_TAIL, SQ_SAVE_TAIL_LEN - 1))
		clen = catalog_len(data, end, &crc);
	if (clen >= 0)
		flag = (char)data[len - 1];
	if (clen < 0 || (size_t)clen != end - SQ_CAT_TAIL_LEN || (flag != 'b' && flag != 'k') ||
	    sq_crc32(data, (size_t)clen) != crc) {
		cairn_error_set("not a whole saved linter catalog");
		return -1;
	}
	q->loading = 1;
	rc = sq_subset_build(q->db, (const char *)data, (size_t)clen, scripts, slen);
	q->loading = 0;
	if (rc > 0)
		q->history_broken = flag == 'b';
	return rc;
}

int lint_sqlite_load(struct lint_sqlite *q, void *bytes, size_t len)
{
	unsigned char *data = bytes;
	size_t end = len - SQ_SAVE_TAIL_LEN, db = 0;
	unsigned long crc;
	long long clen = -1;
	char *n, flag = 0;
	int rc;

	if (len >= SQ_SAVE_TAIL_LEN + 512 && !memcmp(data + end, SQ_SAVE_TAIL, SQ_SAVE_TAIL_LEN - 1))
		clen = catalog_len(data, end, &crc);
	if (clen > (long long)(end - SQ_CAT_TAIL_LEN))
		clen = -1;
	if (clen >= 0) {
		db = end - SQ_CAT_TAIL_LEN - (size_t)clen;
		flag = (char)data[len - 1];
	}
	if (clen < 0 || (flag != 'b' && flag != 'k') || db < 512 ||
	    memcmp(data, "SQLite format 3", 16) || db_size_of(data) != db) {
		sqlite3_free(data);
		cairn_error_set("not a whole saved linter database");
		return -1;
	}
	q->history_broken = flag == 'b';
	/* SQLite owns data from here, even when it refuses it */
	q->loading = 1;
	/* the buffer's whole size (lint_sqlite_buffer's headroom) is room to
	 * grow in place; never less than the bytes given */
	rc = sqlite3_deserialize(q->db, "main", data, (sqlite3_int64)db,
				 (sqlite3_int64)(sqlite3_msize(data) > len ? sqlite3_msize(data) : len),
				 SQLITE_DESERIALIZE_FREEONCLOSE | SQLITE_DESERIALIZE_RESIZEABLE);
	q->loading = 0;
	if (rc != SQLITE_OK) {
		cairn_error_set("SQLite refuses the saved database: %s", sqlite3_errmsg(q->db));
		return -1;
	}
	/* the schema is read now: a damaged one is refused here, not later */
	n = sq_query1(q, "SELECT count(*) FROM sqlite_schema", NULL, 0);
	if (!n) {
		cairn_error_set("the saved database is damaged: %s", sqlite3_errmsg(q->db));
		return -1;
	}
	free(n);
	return 0;
}
