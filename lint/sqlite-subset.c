/* check --staged's warm path (issue #18): the cached database's catalog,
 * and a database of only the part of it the next scripts can reach.
 *
 * Any statement on the whole replayed database makes SQLite parse every
 * CREATE in its schema (10,000 tables in bench/history.sh's repository:
 * 65 to 75 ms of CPU), whatever the statement names. So the cache also
 * keeps the schema as a catalog (each object's type, name, table, SQL,
 * and whether a table holds rows), and a warm run builds a fresh
 * in-memory database of the objects the scripts still to run can reach:
 *
 *  - every object whose name appears in them as a word, a quoted name or
 *    a string (pragma_table_info('t') names t in a string); more than
 *    needed is only slower, never different;
 *  - what those objects' SQL names in turn (foreign keys, view and
 *    trigger bodies), to the end;
 *  - each table's indexes and triggers (an INSERT fires them), and the
 *    objects whose SQL names a table the scripts name (a view or a
 *    foreign key over a table that is dropped or renamed);
 *  - with any ALTER, every view and trigger: SQLite checks the whole
 *    schema after RENAME and DROP COLUMN (whose COLUMN is optional), and
 *    a later SQLite may after more.
 *
 * Where that cannot give the same findings as the whole database, the
 * whole is loaded (the caller's fallback): a table that holds rows (or an
 * AUTOINCREMENT counter) among the objects reached, a virtual table or
 * statistics in the schema, and scripts that read the schema as a whole
 * (sqlite_schema, pragma table_list, foreign_key_check, integrity_check,
 * ANALYZE, REINDEX, PRAGMA foreign_keys: with it on, a delete cascades
 * into tables no script names). tests/t0925-lint-cache.sh compares the
 * findings of both on a corpus. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sqlite3.h>

#include "../lib/buf.h"
#include "../lib/error.h"
#include "../lib/util.h"
#include "lint-int.h"

/* Words that make the scripts read the schema as a whole. */
static const char *const whole_schema[] = {
	"sqlite_master", "sqlite_schema", "sqlite_temp_master", "sqlite_temp_schema",
	"sqlite_sequence", "sqlite_stat1", "sqlite_stat2", "sqlite_stat3", "sqlite_stat4",
	"sqlite_dbpage", "dbstat", "table_list", "pragma_table_list", "foreign_key_check",
	"pragma_foreign_key_check", "integrity_check", "pragma_integrity_check",
	"quick_check", "pragma_quick_check", "analyze", "reindex", "foreign_keys",
	"writable_schema", "schema_version", "optimize", "vacuum", NULL,
};

struct cat_obj {
	char type;        /* 't' table, 'i' index, 'v' view, 'r' trigger */
	char rows;        /* a table with rows or an AUTOINCREMENT counter */
	const char *name, *tbl, *sql;
	char *lname;      /* name, lower-cased */
	int want;         /* 1: reached; 2: named by the scripts */
	size_t next;      /* hash chain by name, +1 */
	size_t tnext;     /* hash chain by table, +1 */
};

struct catalog {
	struct cat_obj *o;
	size_t n, alloc;
	size_t *head;     /* hash heads by name, +1 */
	size_t *thead;    /* by tbl_name: a table's indexes and triggers */
	size_t nhead;
	size_t *todo;     /* objects reached, their SQL not read yet */
	size_t ntodo;
	int whole;        /* a virtual table or statistics: no subset */
};

/* ---- writing: the catalog of the database, after its bytes ---- */

static int put_field(struct buf *out, const unsigned char *s)
{
	return buf_put(out, s ? (const char *)s : "", (s ? strlen((const char *)s) : 0) + 1);
}

/* Whether the b-tree rooted at page root of the database image holds a
 * row: its root page is not an empty leaf. Read from the bytes, not asked
 * of SQLite: 10,000 queries (one per table) cost the cold run 4 s. */
static int tree_has_rows(const unsigned char *img, size_t size, long long root)
{
	size_t page = ((size_t)img[16] << 8) | img[17], at;

	if (page == 1)
		page = 65536;
	if (root < 1 || (size_t)root > size / page)
		return 1; /* cannot tell: count it as rows (the whole then) */
	at = ((size_t)root - 1) * page + (root == 1 ? 100 : 0);
	if (img[at] == 0x0d || img[at] == 0x0a) /* a leaf: its cell count */
		return img[at + 3] || img[at + 4];
	return 1; /* an interior page: rows below it */
}

/* The names sqlite_sequence holds (an AUTOINCREMENT table's counter,
 * which outlives its rows), NUL-separated in out. */
static int seq_names(sqlite3 *db, struct buf *out)
{
	sqlite3_stmt *st = NULL;
	int r;

	if (sqlite3_prepare_v2(db, "SELECT name FROM main.sqlite_schema WHERE name = 'sqlite_sequence'",
			       -1, &st, NULL) != SQLITE_OK)
		return -1;
	r = sqlite3_step(st);
	sqlite3_finalize(st);
	if (r != SQLITE_ROW)
		return r == SQLITE_DONE ? 0 : -1;
	if (sqlite3_prepare_v2(db, "SELECT name FROM main.sqlite_sequence", -1, &st, NULL) != SQLITE_OK)
		return -1;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		const unsigned char *n = sqlite3_column_text(st, 0);

		if (put_field(out, n) < 0)
			break;
	}
	sqlite3_finalize(st);
	return r == SQLITE_DONE ? 0 : -1;
}

static int in_names(const struct buf *names, const char *name)
{
	size_t i = 0;

	while (i < names->len) {
		if (!strcasecmp(names->ptr + i, name))
			return 1;
		i += strlen(names->ptr + i) + 1;
	}
	return 0;
}

int sq_catalog_write(sqlite3 *db, const unsigned char *img, size_t size, struct buf *out)
{
	static const char q[] =
		"SELECT CASE type WHEN 'table' THEN 't' WHEN 'index' THEN 'i' WHEN 'view' THEN 'v' "
		"ELSE 'r' END, name, tbl_name, sql, type = 'table' AND sql LIKE 'CREATE VIRTUAL%', "
		"rootpage FROM main.sqlite_schema ORDER BY rowid";
	sqlite3_stmt *st = NULL;
	struct buf seq = BUF_INIT;
	int rc = -1, r;

	if (size < 100 || seq_names(db, &seq) < 0 ||
	    sqlite3_prepare_v2(db, q, -1, &st, NULL) != SQLITE_OK)
		goto out;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		const unsigned char *type = sqlite3_column_text(st, 0);
		const char *name = (const char *)sqlite3_column_text(st, 1);
		char flag = '0';

		if (!type || !name)
			goto out;
		if (sqlite3_column_int(st, 4) || !strncmp(name, "sqlite_stat", 11))
			flag = 'w'; /* the whole database, always */
		else if (*type == 't' && strcmp(name, "sqlite_sequence") &&
			 (tree_has_rows(img, size, sqlite3_column_int64(st, 5)) || in_names(&seq, name)))
			flag = '1';
		if (buf_putc(out, (char)*type) < 0 || buf_putc(out, flag) < 0 ||
		    put_field(out, (const unsigned char *)name) < 0 ||
		    put_field(out, sqlite3_column_text(st, 2)) < 0 ||
		    put_field(out, sqlite3_column_text(st, 3)) < 0)
			goto out;
	}
	rc = r == SQLITE_DONE ? 0 : -1;
out:
	if (rc < 0)
		cairn_error_set("cannot list the linter's database: %s", sqlite3_errmsg(db));
	buf_release(&seq);
	sqlite3_finalize(st);
	return rc;
}

/* ---- reading ---- */

static size_t hash_name(const char *s, size_t n)
{
	size_t h = 5381;

	for (; n; n--, s++)
		h = h * 33 + (unsigned char)tolower((unsigned char)*s);
	return h;
}

static char *lower_dup(const char *s, size_t n)
{
	char *l = xcalloc(n + 1, 1);
	size_t i;

	for (i = 0; i < n; i++)
		l[i] = (char)tolower((unsigned char)s[i]);
	l[n] = '\0';
	return l;
}

/* The catalog's records; -1 when they are not whole. */
static int catalog_parse(struct catalog *c, const char *p, size_t len)
{
	const char *end = p + len;
	size_t i;

	while (p < end) {
		struct cat_obj *o;
		const char *f[3];
		int k;

		if (end - p < 2 || !strchr("tivr", p[0]) || !strchr("01w", p[1]))
			return -1;
		ALLOC_GROW(c->o, c->n + 1, c->alloc);
		o = &c->o[c->n++];
		memset(o, 0, sizeof(*o));
		o->type = p[0];
		o->rows = p[1] == '1';
		c->whole |= p[1] == 'w';
		p += 2;
		for (k = 0; k < 3; k++) {
			const char *z = memchr(p, '\0', (size_t)(end - p));

			if (!z)
				return -1;
			f[k] = p;
			p = z + 1;
		}
		o->name = f[0];
		o->tbl = f[1];
		o->sql = f[2];
		o->lname = lower_dup(o->name, strlen(o->name));
	}
	c->nhead = c->n * 2 + 1;
	c->head = xcalloc(c->nhead, sizeof(*c->head));
	c->thead = xcalloc(c->nhead, sizeof(*c->thead));
	c->todo = xcalloc(c->n + 1, sizeof(*c->todo));
	for (i = 0; i < c->n; i++) {
		size_t h = hash_name(c->o[i].lname, strlen(c->o[i].lname)) % c->nhead;

		c->o[i].next = c->head[h];
		c->head[h] = i + 1;
		h = hash_name(c->o[i].tbl, strlen(c->o[i].tbl)) % c->nhead;
		c->o[i].tnext = c->thead[h];
		c->thead[h] = i + 1;
	}
	return 0;
}

static void catalog_release(struct catalog *c)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		free(c->o[i].lname);
	free(c->o);
	free(c->head);
	free(c->thead);
	free(c->todo);
}

/* Calls fn for each object named s[0..n) (any case). */
static void each_named(struct catalog *c, const char *s, size_t n,
		       void (*fn)(struct catalog *, size_t, void *), void *arg)
{
	size_t i;

	if (!c->nhead)
		return;
	for (i = c->head[hash_name(s, n) % c->nhead]; i; i = c->o[i - 1].next) {
		const char *l = c->o[i - 1].lname;
		size_t k;

		if (strlen(l) != n)
			continue;
		for (k = 0; k < n && l[k] == tolower((unsigned char)s[k]); k++)
			;
		if (k == n)
			fn(c, i - 1, arg);
	}
}

/* Calls fn on each word, quoted name and string of sql: what could name
 * an object. Comments are skipped. */
static void each_word(const char *sql, size_t len, void (*fn)(const char *, size_t, void *),
		      void *arg)
{
	size_t i = 0;

	while (i < len) {
		unsigned char ch = (unsigned char)sql[i];

		if (ch == '-' && i + 1 < len && sql[i + 1] == '-') {
			while (i < len && sql[i] != '\n')
				i++;
		} else if (ch == '/' && i + 1 < len && sql[i + 1] == '*') {
			for (i += 2; i + 1 < len && !(sql[i] == '*' && sql[i + 1] == '/'); i++)
				;
			i += 2;
		} else if (ch == '\'' || ch == '"' || ch == '`' || ch == '[') {
			char close = ch == '[' ? ']' : (char)ch;
			struct buf w = BUF_INIT;

			for (i++; i < len; i++) {
				if (sql[i] == close) {
					if (close != ']' && i + 1 < len && sql[i + 1] == close) {
						buf_putc(&w, close);
						i++;
						continue;
					}
					break;
				}
				buf_putc(&w, sql[i]);
			}
			i++;
			fn(buf_cstr(&w), w.len, arg);
			buf_release(&w);
		} else if (isalnum(ch) || ch == '_' || ch == '$' || ch >= 0x80) {
			size_t s = i;

			while (i < len && (isalnum((unsigned char)sql[i]) || sql[i] == '_' ||
					   sql[i] == '$' || (unsigned char)sql[i] >= 0x80))
				i++;
			fn(sql + s, i - s, arg);
		} else
			i++;
	}
}

struct walk {
	struct catalog *c;
	int level;       /* what a named object becomes: 1 reached, 2 named */
	int whole;       /* the scripts read the whole schema */
	int alter;       /* ALTER: every view and trigger */
};

static void mark(struct catalog *c, size_t i, void *arg)
{
	struct walk *w = arg;

	if (!c->o[i].want)
		c->todo[c->ntodo++] = i;
	if (c->o[i].want < w->level)
		c->o[i].want = w->level;
}

static int word_is(const char *s, size_t n, const char *w)
{
	return strlen(w) == n && !strncasecmp(s, w, n);
}

static void script_word(const char *s, size_t n, void *arg)
{
	struct walk *w = arg;
	size_t i;

	for (i = 0; whole_schema[i]; i++)
		if (word_is(s, n, whole_schema[i]))
			w->whole = 1;
	/* any ALTER (RENAME and DROP COLUMN, whose COLUMN is optional,
	 * check the whole schema; a later SQLite may check more) */
	if (word_is(s, n, "alter"))
		w->alter = 1;
	each_named(w->c, s, n, mark, w);
}

static void obj_word(const char *s, size_t n, void *arg)
{
	struct walk *w = arg;

	each_named(w->c, s, n, mark, w);
}

/* A word of an object's SQL that names a table the scripts name: the
 * object depends on it. */
struct rev {
	struct catalog *c;
	int found;
};

static void rev_hit(struct catalog *c, size_t i, void *arg)
{
	struct rev *r = arg;

	if (c->o[i].want == 2 && c->o[i].type == 't')
		r->found = 1;
}

static void rev_word(const char *s, size_t n, void *arg)
{
	struct rev *r = arg;

	if (!r->found)
		each_named(r->c, s, n, rev_hit, r);
}

/* Marks what the named objects reach (see the top). */
static void close_over(struct catalog *c, struct walk *w)
{
	size_t i, j;

	w->level = 1;
	for (i = 0; i < c->n; i++) {
		struct rev r = { c, 0 };

		if (c->o[i].want || !*c->o[i].sql)
			continue;
		if (w->alter && (c->o[i].type == 'v' || c->o[i].type == 'r'))
			r.found = 1;
		/* a table names another only in a foreign key (a CHECK or a
		 * generated column cannot read another table), an index
		 * only its own table: the 10,000 plain tables of the
		 * benchmark are not read word by word */
		else if (c->o[i].type == 'v' || c->o[i].type == 'r' ||
			 (c->o[i].type == 't' && strcasestr(c->o[i].sql, "references")))
			each_word(c->o[i].sql, strlen(c->o[i].sql), rev_word, &r);
		if (r.found)
			mark(c, i, w);
	}
	while (c->ntodo) {
		struct cat_obj *o = &c->o[c->todo[--c->ntodo]];

		each_word(o->sql, strlen(o->sql), obj_word, w);
		/* an index's or trigger's table; a table's indexes and triggers */
		each_named(c, o->tbl, strlen(o->tbl), mark, w);
		if (o->type != 't')
			continue;
		for (j = c->thead[hash_name(o->lname, strlen(o->lname)) % c->nhead]; j;
		     j = c->o[j - 1].tnext)
			if (!strcasecmp(c->o[j - 1].tbl, o->name))
				mark(c, j - 1, w);
	}
}

/* Runs the SQL of the objects reached of one type, in the catalog's
 * order. */
static int create_all(sqlite3 *db, const struct catalog *c, char type)
{
	size_t i;

	for (i = 0; i < c->n; i++) {
		const struct cat_obj *o = &c->o[i];

		if (!o->want || o->type != type || !*o->sql)
			continue;
		if (sqlite3_exec(db, o->sql, NULL, NULL, NULL) != SQLITE_OK) {
			cairn_error_set("cannot create '%s' again: %s", o->name, sqlite3_errmsg(db));
			return -1;
		}
	}
	return 0;
}

int sq_subset_build(sqlite3 *db, const char *cat, size_t catlen, const char *scripts,
		    size_t slen)
{
	struct catalog c;
	struct walk w;
	size_t i;
	int rc = 0;

	memset(&c, 0, sizeof(c));
	memset(&w, 0, sizeof(w));
	if (catalog_parse(&c, cat, catlen) < 0) {
		cairn_error_set("the saved database's catalog is damaged");
		rc = -1;
		goto out;
	}
	if (c.whole)
		goto out;
	w.c = &c;
	w.level = 2;
	each_word(scripts, slen, script_word, &w);
	if (w.whole)
		goto out;
	close_over(&c, &w);
	for (i = 0; i < c.n; i++)
		if (c.o[i].want && c.o[i].rows)
			goto out;
	if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK ||
	    create_all(db, &c, 't') < 0 || create_all(db, &c, 'i') < 0 ||
	    create_all(db, &c, 'v') < 0 || create_all(db, &c, 'r') < 0 ||
	    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		(void)sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		rc = -1;
		goto out;
	}
	rc = 1;
out:
	catalog_release(&c);
	return rc;
}
