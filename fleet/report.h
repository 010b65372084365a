/* The picture across environments (issue #21, 'cairn-apply report'): read
 * from the status JSON of databases ('cairn-apply status [BUNDLE] --format
 * json') and the result files of fleet runs, and written as text, JSON or
 * one static HTML page (no script, no network, no external asset). A
 * library: it never prints; the page and the text come back in a buffer. */
#ifndef CAIRN_FLEET_REPORT_H
#define CAIRN_FLEET_REPORT_H

#include <stddef.h>

#include "../lib/buf.h"
#include "result.h"

#define REPORT_INPUT_MAX (64U << 20)

struct report_db {
	char *source;          /* the file it was read from */
	char *database, *environment, *current, *bundle; /* bundle: what brought it to current */
	size_t applied, pending, failed, drifted, in_progress;
	char *pending_list;    /* "0003_items, 0004_x" (NULL: none) */
	char *drifted_list;
};

/* Migrations per release: per environment and bundle, from the books. */
struct report_release {
	char *environment, *bundle, *first_at;
	size_t migrations;
};

struct report_fleet {
	char *source;
	struct fleet_results rs;
	size_t applied, current, failed, not_started;
};

struct report {
	struct report_db *dbs;
	size_t ndbs;
	struct report_release *rel;
	size_t nrel;
	struct report_fleet *fleets;
	size_t nfleets;
};

void report_release(struct report *r);
/* Adds one input (a status JSON or a fleet result file) held in memory;
 * name names it. Returns 0, or -1 with the error set ("NAME: ..."). */
int report_add(struct report *r, const char *data, size_t len, const char *name);

enum report_format { REPORT_TEXT, REPORT_JSON, REPORT_HTML };
/* Writes the report; now is the time to show as generated. */
void report_format(struct buf *out, const struct report *r, enum report_format f,
		   const char *now);

#endif
