/* What the import/ files share: one reader per tool, the helpers they
 * build migrations with, and the SQL scan. Private to import/. */
#ifndef CAIRN_IMPORT_INT_H
#define CAIRN_IMPORT_INT_H

#include "../lib/buf.h"
#include "../project/sqlcheck.h"
#include "import.h"

#define IMPORT_MAX_FILE (64u << 20)

typedef int (*import_reader)(struct import *im);

int import_golang_migrate(struct import *im);
int import_dbmate(struct import *im);
int import_flyway(struct import *im);
char *import_flyway_dir(void);
int import_goose(struct import *im);
int import_sqitch(struct import *im);
int import_pop(struct import *im);
int import_diesel(struct import *im);
int import_prisma(struct import *im);

void import_report(struct import *im, const char *file, enum import_sev sev, const char *fmt,
		   ...) __attribute__((format(printf, 4, 5)));
/* A report about migration m: an error marks it failed. */
void import_mig_report(struct import *im, struct import_mig *m, const char *file,
		       enum import_sev sev, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
void import_count(struct import *im, const char *kind, unsigned in, unsigned out);

/* Marks m non-transactional on driver (cairn's name), or on every driver
 * when driver is NULL; 1 when that changed anything. */
int import_mig_notx(struct import_mig *m, const char *driver);
/* The driver of a script named up.DRIVER.sql / down.DRIVER.sql, or NULL
 * (the generic up.sql / down.sql). */
char *import_file_driver(const char *name);

/* The migration with this version, made (with slug) when new. */
struct import_mig *import_mig_get(struct import *im, const char *version, const char *slug,
				  const char *origin);
/* Adds a file to m (taking data); a file of that name already there is an
 * error report. */
void import_mig_file(struct import *im, struct import_mig *m, const char *name, char *data,
		     size_t len, const char *origin);
const struct import_file *import_mig_find(const struct import_mig *m, const char *name);

/* The sorted names in im->dir/sub (sub may be ""); -1 with error set. */
int import_list(struct import *im, const char *sub, struct strlist *out);
/* Reads im->dir/rel; -1 (error set) on failure. */
int import_read_file(struct import *im, const char *rel, struct buf *out);
/* Reads im->dir/rel into a new file name of m, marks rel consumed, and
 * counts it under kind. Returns the file, or NULL (an error report). */
struct import_file *import_take(struct import *im, struct import_mig *m, const char *rel,
				const char *name, const char *kind);
/* A tool's name into a cairn slug: lower case, [a-z0-9_-], never empty. */
char *import_slug(const char *name, size_t len);
/* 1 when s is all digits. */
int import_digits(const char *s, size_t len);

/* The importer's questions about SQL (sqlscan.c), answered by
 * project/sqlcheck.c. import_file_dialect: SQLite for up.sqlite.sql and
 * down.sqlite.sql, PostgreSQL's parser otherwise (a script it refuses is
 * read by the lexer). sql_wrapped: the script's first statement is
 * BEGIN/START TRANSACTION and its last COMMIT/END, and no other statement
 * controls the transaction; [*begin_start, *begin_end) and [*commit_start,
 * *commit_end) are the two, each with its ';'. sql_notx_statement: 1 and
 * the first statement that cannot run inside a transaction (CREATE INDEX
 * CONCURRENTLY, VACUUM, ...), named in what; 0 when none. */
enum sql_dialect import_file_dialect(const char *name);
int sql_wrapped(const char *s, size_t len, enum sql_dialect d, size_t *begin_start,
		size_t *begin_end, size_t *commit_start, size_t *commit_end);
int sql_notx_statement(const char *s, size_t len, enum sql_dialect d, char what[40]);
int sql_only_comments(const char *s, size_t len);

#endif
