/* cairn-apply adopt: another tool's history read and matched to a bundle
 * (adopt.h). One reader per tool turns its table into "applied" entries
 * (a version, the tool's checksum if it keeps one, the row for the audit);
 * the matcher then finds each in the bundle. The tools' tables, as each
 * documents or creates them:
 *   flyway         flyway_schema_history (installed_rank, version, type,
 *                  script, checksum: CRC32 of the file's lines, success)
 *   golang-migrate schema_migrations (version, dirty): the last version only
 *   dbmate         schema_migrations (version): one row per migration
 *   goose          goose_db_version (id, version_id, is_applied): a log
 *   sqitch         sqitch.changes (change_id, change, script_hash: SHA-1 of
 *                  the deploy script), PostgreSQL only
 *   pop            schema_migration (version)
 *   diesel         __diesel_schema_migrations (version)
 *   prisma         _prisma_migrations (migration_name, checksum: SHA-256
 *                  of migration.sql, finished_at, rolled_back_at) */
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "../lib/error.h"
#include "../lib/exitcodes.h"
#include "../lib/sha256.h"
#include "../lib/util.h"
#include "adopt.h"
#include "engine-int.h"

/* One migration the tool says it applied. */
struct entry {
	char *version;  /* NULL for sqitch: matched by position and name */
	char *name;     /* sqitch's change name */
	char *checksum; /* the tool's, NULL when it keeps none */
	char *source;   /* the row, for messages and the audit */
	int gone;       /* undone later in the tool's log */
	/* every version below counts as applied too: 1 golang-migrate (the
	 * version must be the bundle's), 2 a Flyway baseline (it need not) */
	int below;
};

struct reader {
	struct adopt_plan *p;
	struct entry *e;
	size_t n, alloc;
};

enum sum { SUM_NONE, SUM_FLYWAY_CRC32, SUM_SHA256, SUM_SHA1 };

struct tool {
	const char *name, *table, *pg_table; /* pg_table: NULL = table */
	const char *sql;
	int (*read)(struct reader *rd, const struct driver_rows *rows);
	enum sum sum;
};

static void problem(struct adopt_plan *p, const char *fmt, ...)
{
	va_list ap;
	char line[CAIRN_ERRMSG_MAX];
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	ALLOC_GROW(p->problems, p->nproblems + 1, p->aproblems);
	p->problems[p->nproblems++] = xstrdup(line); /* a cut line still says what */
}

static const char *cell(const struct driver_rows *r, size_t row, size_t col)
{
	return r->cells[row * r->ncols + col];
}

static const char *or_null(const char *s)
{
	return s ? s : "NULL";
}

static int truthy(const char *s)
{
	return s && (!strcmp(s, "t") || !strcmp(s, "1") || !strcmp(s, "true"));
}

static struct entry *entry_add(struct reader *rd, const char *version, const char *checksum,
			       char *source)
{
	struct entry *e;

	ALLOC_GROW(rd->e, rd->n + 1, rd->alloc);
	e = &rd->e[rd->n++];
	memset(e, 0, sizeof(*e));
	e->version = version ? xstrdup(version) : NULL;
	e->checksum = checksum ? xstrdup(checksum) : NULL;
	e->source = source;
	return e;
}

/* The tool's later row for the same version undoes the earlier ones. */
static void entry_undo(struct reader *rd, const char *version)
{
	size_t i;

	for (i = 0; i < rd->n; i++)
		if (rd->e[i].version && !version_cmp(rd->e[i].version, version))
			rd->e[i].gone = 1;
}

/* ---- the readers ----------------------------------------------------- */

static int read_flyway(struct reader *rd, const struct driver_rows *r)
{
	size_t i;

	for (i = 0; i < r->nrows; i++) {
		const char *rank = or_null(cell(r, i, 0)), *v = cell(r, i, 1);
		const char *type = or_null(cell(r, i, 2)), *script = or_null(cell(r, i, 3));

		if (!strcmp(type, "SCHEMA"))
			continue; /* flyway created the schema: nothing of the bundle's */
		if (!truthy(cell(r, i, 5))) {
			problem(rd->p, "flyway_schema_history installed_rank=%s: %s failed (success "
				"= false): fix the schema by hand and run 'flyway repair' first",
				rank, script);
			continue;
		}
		if (!v) {
			problem(rd->p, "flyway_schema_history installed_rank=%s: %s is a repeatable "
				"migration, which cairn does not have", rank, script);
			continue;
		}
		if (!strcmp(type, "UNDO_SQL") || !strcmp(type, "DELETE")) {
			entry_undo(rd, v);
			continue;
		}
		if (!strcmp(type, "BASELINE")) {
			/* flyway baseline: the schema up to v was there before Flyway */
			entry_add(rd, v, NULL,
				  xasprintf("flyway_schema_history installed_rank=%s type=BASELINE "
					    "version=%s", rank, v))->below = 2;
			continue;
		}
		if (strcmp(type, "SQL")) {
			problem(rd->p, "flyway_schema_history installed_rank=%s: %s is a %s "
				"migration, which cairn cannot hold", rank, script, type);
			continue;
		}
		entry_add(rd, v, cell(r, i, 4),
			  xasprintf("flyway_schema_history installed_rank=%s version=%s "
				    "script=%s checksum=%s", rank, v, script, or_null(cell(r, i, 4))));
	}
	return 0;
}

/* golang-migrate keeps one row: the last version it reached; every
 * migration up to it was applied, in order. */
static int read_golang_migrate(struct reader *rd, const struct driver_rows *r)
{
	if (!r->nrows)
		return 0;
	if (r->nrows > 1) {
		problem(rd->p, "schema_migrations holds %zu rows; golang-migrate keeps one",
			r->nrows);
		return 0;
	}
	if (truthy(cell(r, 0, 1))) {
		problem(rd->p, "schema_migrations version=%s dirty=true: golang-migrate stopped "
			"in the middle of %s; fix the schema by hand, then 'migrate force' the "
			"version it is really at", or_null(cell(r, 0, 0)), or_null(cell(r, 0, 0)));
		return 0;
	}
	entry_add(rd, or_null(cell(r, 0, 0)), NULL,
		  xasprintf("schema_migrations version=%s dirty=false", or_null(cell(r, 0, 0))));
	rd->e[0].below = 1;
	return 0;
}

/* dbmate, pop, diesel: one row per applied version. */
static int read_versions(struct reader *rd, const struct driver_rows *r, const char *table)
{
	size_t i;

	for (i = 0; i < r->nrows; i++)
		entry_add(rd, or_null(cell(r, i, 0)), NULL,
			  xasprintf("%s version=%s", table, or_null(cell(r, i, 0))));
	return 0;
}

static int read_dbmate(struct reader *rd, const struct driver_rows *r)
{
	return read_versions(rd, r, "schema_migrations");
}

static int read_pop(struct reader *rd, const struct driver_rows *r)
{
	return read_versions(rd, r, "schema_migration");
}

static int read_diesel(struct reader *rd, const struct driver_rows *r)
{
	return read_versions(rd, r, "__diesel_schema_migrations");
}

/* goose's table is a log: the last row of a version says whether it is
 * applied; version 0 is goose's own first row. */
static int read_goose(struct reader *rd, const struct driver_rows *r)
{
	size_t i;

	for (i = 0; i < r->nrows; i++) {
		const char *v = or_null(cell(r, i, 1));

		if (!version_cmp(v, "0"))
			continue;
		entry_undo(rd, v);
		if (truthy(cell(r, i, 2)))
			entry_add(rd, v, NULL, xasprintf("goose_db_version id=%s version_id=%s",
							 or_null(cell(r, i, 0)), v));
	}
	return 0;
}

static int read_sqitch(struct reader *rd, const struct driver_rows *r)
{
	size_t i;

	for (i = 0; i < r->nrows; i++) {
		struct entry *e = entry_add(rd, NULL, cell(r, i, 2),
					    xasprintf("sqitch.changes change_id=%s change=%s "
						      "script_hash=%s", or_null(cell(r, i, 0)),
						      or_null(cell(r, i, 1)),
						      or_null(cell(r, i, 2))));

		e->name = xstrdup(or_null(cell(r, i, 1)));
	}
	return 0;
}

static int read_prisma(struct reader *rd, const struct driver_rows *r)
{
	size_t i;

	for (i = 0; i < r->nrows; i++) {
		const char *name = or_null(cell(r, i, 1));
		size_t vl = strcspn(name, "_");
		char *v;

		if (cell(r, i, 4))
			continue; /* prisma migrate resolve --rolled-back: not applied */
		if (!cell(r, i, 3)) {
			problem(rd->p, "_prisma_migrations id=%s: %s failed or did not finish "
				"(finished_at is NULL): resolve it with 'prisma migrate resolve' "
				"first", or_null(cell(r, i, 0)), name);
			continue;
		}
		v = xstrndup(name, vl);
		entry_add(rd, v, cell(r, i, 2),
			  xasprintf("_prisma_migrations id=%s migration_name=%s checksum=%s",
				    or_null(cell(r, i, 0)), name, or_null(cell(r, i, 2))));
		free(v);
	}
	return 0;
}

static const struct tool tools[] = {
	{ "flyway", "flyway_schema_history", NULL,
	  "SELECT installed_rank, version, type, script, checksum, success "
	  "FROM flyway_schema_history ORDER BY installed_rank", read_flyway, SUM_FLYWAY_CRC32 },
	{ "golang-migrate", "schema_migrations", NULL,
	  "SELECT version, dirty FROM schema_migrations", read_golang_migrate, SUM_NONE },
	{ "dbmate", "schema_migrations", NULL,
	  "SELECT version FROM schema_migrations ORDER BY version", read_dbmate, SUM_NONE },
	{ "goose", "goose_db_version", NULL,
	  "SELECT id, version_id, is_applied FROM goose_db_version ORDER BY id", read_goose,
	  SUM_NONE },
	{ "sqitch", "sqitch.changes", "sqitch.changes",
	  "SELECT change_id, change, script_hash FROM sqitch.changes "
	  "ORDER BY committed_at, change_id", read_sqitch, SUM_SHA1 },
	{ "pop", "schema_migration", NULL,
	  "SELECT version FROM schema_migration ORDER BY version", read_pop, SUM_NONE },
	{ "diesel", "__diesel_schema_migrations", NULL,
	  "SELECT version FROM __diesel_schema_migrations ORDER BY version", read_diesel,
	  SUM_NONE },
	{ "prisma", "_prisma_migrations", NULL,
	  "SELECT id, migration_name, checksum, finished_at, rolled_back_at "
	  "FROM _prisma_migrations ORDER BY started_at, migration_name", read_prisma, SUM_SHA256 },
};

#define NTOOLS (sizeof(tools) / sizeof(tools[0]))

const char *adopt_tool_names(void)
{
	return "flyway, golang-migrate, dbmate, goose, sqitch, pop, diesel, prisma";
}

static const struct tool *tool_find(const char *name)
{
	size_t i;

	for (i = 0; i < NTOOLS; i++)
		if (!strcmp(tools[i].name, name))
			return &tools[i];
	return NULL;
}

int adopt_tool_known(const char *tool)
{
	return tool_find(tool) != NULL;
}

/* ---- checksums of the bundle's scripts, as each tool computes them ---- */

/* Flyway: CRC32 over the file's lines without their line ends (and
 * without a byte order mark), as a signed 32-bit integer. */
static char *flyway_crc32(const char *s, size_t len)
{
	uLong crc = crc32(0L, Z_NULL, 0);
	size_t i = 0, start;

	if (len >= 3 && !memcmp(s, "\xef\xbb\xbf", 3))
		i = 3;
	while (i < len) {
		start = i;
		while (i < len && s[i] != '\n' && s[i] != '\r')
			i++;
		crc = crc32(crc, (const Bytef *)s + start, (uInt)(i - start));
		while (i < len && (s[i] == '\n' || s[i] == '\r'))
			i++;
	}
	return xasprintf("%d", (int)(int32_t)(uint32_t)crc);
}

static char *script_sum(enum sum kind, const struct apply_mig *m)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char hex[2 * EVP_MAX_MD_SIZE + 1];
	const char *up = m->up ? m->up : "";
	size_t len = m->up ? m->up_len : 0;

	switch (kind) {
	case SUM_FLYWAY_CRC32:
		return flyway_crc32(up, len);
	case SUM_SHA256:
		if (sha256_hex(up, len, hex))
			return NULL;
		return xstrdup(hex);
	case SUM_SHA1:
		if (!EVP_Digest(up, len, md, &mdlen, EVP_sha1(), NULL))
			return NULL;
		hex_encode(md, mdlen, hex);
		return xstrdup(hex);
	default:
		return NULL;
	}
}

/* ---- matching -------------------------------------------------------- */

/* sqitch: the migration's name is VERSION_SLUG, the slug made from the
 * change's name by cairn import (lower case, other characters as '_'). */
static int sqitch_name_matches(const char *mig, const char *change)
{
	const char *s = strchr(mig, '_');

	if (!s)
		return 0;
	for (s++; *change; change++) {
		unsigned char c = (unsigned char)*change;

		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-') {
			if (*s++ != (char)c)
				return 0;
		} else if (c >= 'A' && c <= 'Z') {
			if (*s++ != (char)(c - 'A' + 'a'))
				return 0;
		} else if (*s == '_') {
			s++;
		}
	}
	return *s == '\0';
}

/* The Flyway version a migration's name keeps ("10203_v1-2-3_add_x"
 * keeps 1-2-3: cairn import's mapping of a dotted project), or NULL. */
static const char *flyway_tag(const char *name, size_t *len)
{
	const char *t = strchr(name, '_');

	if (!t || t[1] != 'v')
		return NULL;
	t += 2;
	*len = strspn(t, "0123456789-");
	if (!*len || (t[*len] && t[*len] != '_'))
		return NULL;
	return t;
}

/* The next number of a version's parts (separated by . _ or -), leading
 * zeros skipped; "" at the end. Trailing parts of 0 count as none, as in
 * Flyway (1.0 is 1). */
static const char *next_part(const char **p, const char *end, size_t *len)
{
	const char *s;

	while (*p < end && (**p == '.' || **p == '_' || **p == '-'))
		(*p)++;
	while (*p + 1 < end && **p == '0' && (*p)[1] >= '0' && (*p)[1] <= '9')
		(*p)++;
	s = *p;
	while (*p < end && **p >= '0' && **p <= '9')
		(*p)++;
	*len = (size_t)(*p - s);
	if (*len == 1 && *s == '0') {
		const char *q = *p;

		while (q < end && (*q == '0' || *q == '.' || *q == '_' || *q == '-'))
			q++;
		if (q == end)
			*len = 0;
	}
	return s;
}

/* Flyway's order: part by part, as numbers; -1, 0 or 1. */
static int flyway_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	const char *ae = a + alen, *be = b + blen, *x, *y;
	size_t xl, yl;
	int c;

	do {
		x = next_part(&a, ae, &xl);
		y = next_part(&b, be, &yl);
		if (!xl || !yl) /* a missing part is 0 */
			c = xl ? 1 : yl ? -1 : 0;
		else if (xl != yl)
			c = xl < yl ? -1 : 1;
		else
			c = memcmp(x, y, xl);
		if (c)
			return c < 0 ? -1 : 1;
	} while (xl && yl);
	return 0;
}

/* Flyway: where every migration's name keeps a Flyway version (a dotted
 * project), the match is by that version; otherwise by cairn's. */
static long find_flyway(const struct apply_set *set, const char *v)
{
	size_t i, tl;
	long hit = -1;
	const char *tag;

	for (i = 0; i < set->n; i++) {
		if (!(tag = flyway_tag(set->migs[i].name, &tl)))
			return -2;
		if (hit < 0 && !flyway_cmp(tag, tl, v, strlen(v)))
			hit = (long)i;
	}
	return set->n ? hit : -2;
}

static long find_version(const struct apply_set *set, const char *v, const struct tool *t)
{
	size_t i;
	long hit = t->sum == SUM_FLYWAY_CRC32 ? find_flyway(set, v) : -2;

	if (hit != -2)
		return hit;
	for (i = 0; i < set->n; i++)
		if (!version_cmp(set->migs[i].version, v))
			return (long)i;
	return -1;
}

static void check_sum(struct adopt_plan *p, const struct tool *t, const struct entry *e,
		      const struct apply_mig *m)
{
	char *sum;

	if (t->sum == SUM_NONE || !e->checksum)
		return;
	sum = script_sum(t->sum, m);
	if (!sum || strcmp(sum, e->checksum))
		problem(p, "%s: the checksum differs from %s's (%s computes %s from the bundle's "
			"%s): the script %s applied is not the bundle's", e->source, m->name,
			t->name, sum ? sum : "nothing", m->up_path ? m->up_path : "up script",
			t->name);
	free(sum);
}

/* Migration m's version is at or below v (below only, when strict), in
 * Flyway's order where the names keep Flyway's versions; -1 when v cannot
 * be compared with cairn's digits. */
static int at_or_below(const struct apply_set *set, const struct apply_mig *m, const char *v,
		       const struct tool *t, int strict)
{
	const char *tag;
	size_t tl;
	int c;

	if (t->sum == SUM_FLYWAY_CRC32 && find_flyway(set, v) != -2) {
		tag = flyway_tag(m->name, &tl);
		c = flyway_cmp(tag, tl, v, strlen(v));
	} else if (strspn(v, "0123456789") == strlen(v)) {
		c = version_cmp(m->version, v);
	} else {
		return -1;
	}
	return strict ? c < 0 : c <= 0;
}

/* Marks in taken[] the migrations of the bundle below e's version. */
static void take_below(struct adopt_plan *p, const struct tool *t, const struct apply_set *set,
		       const struct entry *e, char *taken, char **source)
{
	size_t j;
	int b;

	for (j = 0; j < set->n; j++) {
		if (taken[j])
			continue;
		if ((b = at_or_below(set, &set->migs[j], e->version, t, e->below == 1)) < 0) {
			problem(p, "%s: version %s cannot be placed among the bundle's versions",
				e->source, e->version);
			return;
		}
		if (b) {
			taken[j] = 1;
			source[j] = xasprintf("%s (%s version %s)", e->source,
					      e->below == 1 ? "below" : "at or below the baseline",
					      e->version);
		}
	}
}

/* Marks in taken[] the migrations of the bundle that the entries name. */
static void match(struct adopt_plan *p, const struct tool *t, const struct apply_set *set,
		  struct reader *rd, char *taken, char **source)
{
	size_t i, k = 0;
	long at;

	for (i = 0; i < rd->n; i++) {
		struct entry *e = &rd->e[i];

		if (e->gone)
			continue;
		if (!e->version) { /* sqitch: the plan's order */
			while (k < set->n && taken[k])
				k++;
			if (k >= set->n || !sqitch_name_matches(set->migs[k].name, e->name)) {
				problem(p, "%s: the bundle has no migration for this change at "
					"position %zu (found %s)", e->source, k + 1,
					k < set->n ? set->migs[k].name : "none");
				continue;
			}
			at = (long)k;
		} else if (e->below == 2) { /* a baseline: no migration of its own needed */
			take_below(p, t, set, e, taken, source);
			continue;
		} else if ((at = find_version(set, e->version, t)) < 0) {
			problem(p, "%s: %s applied version %s, which the bundle does not have",
				e->source, t->name, e->version);
			continue;
		}
		check_sum(p, t, e, &set->migs[at]);
		if (!taken[at]) {
			taken[at] = 1;
			source[at] = xstrdup(e->source);
		}
		if (e->below)
			take_below(p, t, set, e, taken, source);
	}
}

static int table_exists(struct db *db, const struct driver *drv, const struct tool *t,
			int *exists)
{
	struct driver_rows r;
	char *sql;
	int rc;

	if (!strcmp(drv->name, "postgres"))
		sql = xasprintf("SELECT to_regclass('%s') IS NOT NULL",
				t->pg_table ? t->pg_table : t->table);
	else if (t->pg_table)
		sql = NULL; /* sqitch keeps a SQLite registry in a file of its own */
	else
		sql = xasprintf("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND "
				"name = '%s'", t->table);
	*exists = 0;
	if (!sql)
		return 0;
	rc = drv->query_rows(db, sql, &r);
	free(sql);
	if (rc)
		return -1;
	*exists = r.nrows == 1 && r.ncols == 1 && cell(&r, 0, 0) &&
		  (truthy(cell(&r, 0, 0)) || atoi(cell(&r, 0, 0)) > 0);
	driver_rows_release(&r);
	return 0;
}

int adopt_read(struct adopt_plan *out, struct db *db, const struct driver *drv,
	       const struct apply_set *set, const char *tool)
{
	const struct tool *t = tool_find(tool);
	struct driver_rows rows;
	struct reader rd;
	char *taken = NULL, **source = NULL;
	size_t i;
	int exists = 0, rc = EXIT_ENVIRONMENT;

	memset(out, 0, sizeof(*out));
	memset(&rd, 0, sizeof(rd));
	memset(&rows, 0, sizeof(rows));
	if (!t) {
		cairn_error_set("unknown tool '%s': adopt reads %s", tool, adopt_tool_names());
		return EXIT_USAGE;
	}
	out->tool = t->name;
	out->table = t->table;
	rd.p = out;
	if (!drv->query_rows) {
		cairn_error_set("the %s driver cannot read another tool's tables", drv->name);
		return EXIT_ENVIRONMENT;
	}
	if (table_exists(db, drv, t, &exists))
		goto out;
	if (!exists) {
		cairn_error_set("no %s history on '%s': table %s not found%s", t->name,
				drv->display_name(db), t->table,
				t->pg_table && strcmp(drv->name, "postgres")
					? " (sqitch keeps a SQLite registry in a file of its own)"
					: "");
		rc = EXIT_STATE;
		goto out;
	}
	if (drv->query_rows(db, t->sql, &rows) || t->read(&rd, &rows))
		goto out;
	taken = xcalloc(set->n + 1, 1);
	source = xcalloc(set->n + 1, sizeof(*source));
	match(out, t, set, &rd, taken, source);
	for (i = 0; i < set->n; i++) {
		if (!taken[i]) {
			out->pending++;
			continue;
		}
		ALLOC_GROW(out->items, out->n + 1, out->alloc);
		out->items[out->n].m = &set->migs[i];
		out->items[out->n++].source = source[i];
		source[i] = NULL;
	}
	rc = EXIT_OK;
out:
	for (i = 0; source && i < set->n; i++)
		free(source[i]);
	free(source);
	free(taken);
	for (i = 0; i < rd.n; i++) {
		free(rd.e[i].version);
		free(rd.e[i].name);
		free(rd.e[i].checksum);
		free(rd.e[i].source);
	}
	free(rd.e);
	driver_rows_release(&rows);
	return rc;
}

void adopt_plan_release(struct adopt_plan *p)
{
	size_t i;

	if (!p)
		return;
	for (i = 0; i < p->n; i++)
		free(p->items[i].source);
	free(p->items);
	for (i = 0; i < p->nproblems; i++)
		free(p->problems[i]);
	free(p->problems);
	memset(p, 0, sizeof(*p));
}

/* The matched migrations as applied, one transaction: a row and an
 * "adopt" audit row each, the audit naming the tool's row. */
static int adopt_write(struct run *r, const struct apply_set *set, const struct adopt_plan *p)
{
	struct bk_row row;
	size_t i;
	char *detail;

	memset(&row, 0, sizeof(row));
	if (tx_begin(r))
		return -1;
	for (i = 0; i < p->n; i++) {
		const struct apply_mig *m = p->items[i].m;

		fill_row(&row, m, set, r, BK_APPLIED);
		row.is_new = 1;
		detail = xasprintf("adopted from %s: %s; its SQL was not run by cairn", p->tool,
				   p->items[i].source);
		if (audit_add(r, "adopt", m->version, set->bundle_id, m->version, detail, &row) ||
		    r->drv->bk_put(r->db, &row)) {
			free(detail);
			bk_row_release(&row);
			tx_rollback(r);
			return -1;
		}
		free(detail);
		set_current(r, m->version);
	}
	bk_row_release(&row);
	return tx_commit(r);
}

int engine_adopt(struct db *db, const struct driver *drv, const struct apply_set *set,
		 const char *tool, int dry_run, const struct apply_opts *o,
		 struct adopt_plan *out)
{
	struct run r;
	struct books_guard guard;
	int exists = 0, rc;

	memset(&r, 0, sizeof(r));
	memset(&guard, 0, sizeof(guard));
	memset(out, 0, sizeof(*out));
	if (!adopt_tool_known(tool)) {
		cairn_error_set("unknown tool '%s': adopt reads %s", tool, adopt_tool_names());
		return EXIT_USAGE;
	}
	if ((rc = take_lock(db, drv, o)) != EXIT_OK)
		return rc;
	rc = books_unmanaged(&guard, db, drv, o, "adopt",
			     "adopt only takes over a database cairn has not managed", &exists);
	if (rc != EXIT_OK)
		goto out;
	rc = adopt_read(out, db, drv, set, tool);
	if (rc != EXIT_OK)
		goto out;
	if (out->nproblems) {
		cairn_error_set("%s's history on '%s' differs from bundle '%s' in %zu place%s; "
				"nothing was adopted", out->tool, drv->display_name(db),
				set->bundle_name ? set->bundle_name : "", out->nproblems,
				out->nproblems == 1 ? "" : "s");
		rc = EXIT_STATE;
		goto out;
	}
	if (dry_run)
		goto out;
	if ((!exists && drv->bk_ensure(db)) || run_init(&r, db, drv, o) ||
	    record_identity(&r, guard.record) || adopt_write(&r, set, out)) {
		rc = EXIT_ENVIRONMENT;
		goto out;
	}
out:
	if (drv->unlock(db) && rc == EXIT_OK)
		rc = EXIT_ENVIRONMENT;
	books_guard_release(&guard);
	if (r.db)
		run_release(&r);
	return rc;
}
