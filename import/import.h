/* cairn import: another tool's migrations converted into cairn's layout.
 * Reading and converting are separate from writing, so --dry-run shows
 * exactly what a real run would write. Never prints, never exits: every
 * construct met becomes a report line (mapped, noted, or an error that
 * stops the import unless --skip names the migration). */
#ifndef CAIRN_IMPORT_H
#define CAIRN_IMPORT_H

#include <stddef.h>

#include "../project/project.h"

struct import_opts {
	const char *from;          /* tool name, as import_tools lists it */
	const char *dir;           /* the tool's directory; NULL: the tool's default */
	const struct strlist *skip;  /* versions, names or source files to leave out */
	int strip_wrappers;        /* --strip-transaction-wrappers */
};

enum import_sev { IMPORT_MAPPED, IMPORT_NOTE, IMPORT_ERROR };

struct import_report {
	char *file;                /* the source file it is about */
	enum import_sev sev;
	char *text;
};

struct import_file {
	char *name;                /* "up.sql", "down.postgres.sql", "migration.yaml" */
	char *data;
	size_t len;
	char *origin;              /* the source file it came from */
	const char *kind;          /* the count it went out under, or NULL */
};

struct import_mig {
	char *version, *slug;
	char *origin;              /* the source file or directory, for reports */
	struct import_file *files;
	size_t nfiles, files_alloc;
	int transaction;           /* 1 unless a non-transactional marker says otherwise */
	/* drivers (cairn's names) whose own file is marked non-transactional
	 * (pop's .postgres.autocommit, a CONCURRENTLY in up.postgres.sql):
	 * transaction: {DRIVER: false} while transaction stays 1 */
	struct strlist notx_drivers;
	int irreversible, noop;
	char *description;
	struct strlist requires;
	/* the tool's own checksum of the original up script (Flyway's CRC32,
	 * Prisma's SHA-256, sqitch's SHA-1), taken before any rewrite, and
	 * that file: migration.yaml's imported:, for cairn-apply adopt */
	char *orig_sum, *orig_file;
	int failed;                /* could not be mapped: an IMPORT_ERROR names why */
	int skipped;               /* named by --skip */
};

struct import_count {
	char *kind;                /* "up scripts", "repeatable migrations", ... */
	unsigned in, out;
};

struct import {
	const char *tool;
	char *dir;                 /* the tool's directory read */
	struct import_mig **migs;  /* in the tool's order */
	size_t n, alloc;
	struct import_report *reports;
	size_t nreports, reports_alloc;
	struct import_count *counts;
	size_t ncounts, counts_alloc;
	size_t errors;             /* IMPORT_ERROR reports on migrations not skipped */
	struct strlist consumed;   /* source files converted (relative to dir) */
	const struct strlist *skip; /* --skip, for a reader that needs it (Flyway) */
};

/* The tools known, NULL-terminated, most common first. */
extern const char *const import_tools[];

/* Reads the tool's migrations and converts them in memory. Returns -1
 * (error set) when nothing could be read at all (unknown tool, no such
 * directory); problems with single migrations are reports, and out->errors
 * counts those that stop the import. */
int import_read(struct import **out, const struct import_opts *o);

/* Writes the converted migrations below migrations_dir (created if
 * needed). Refuses (-1, error set) when a migration directory exists
 * already, before writing anything. */
int import_write(const struct import *im, const char *migrations_dir);

void import_free(struct import *im);

#endif
