/* The picture across environments (issue #21, 'cairn-apply report'): read
 * from the status JSON of databases ('cairn-apply status [BUNDLE] --format
 * json') and the result files of fleet runs, and written as text, JSON or
 * one static HTML page (no script, no network, no external asset). A
 * library: it never prints; the page and the text come back in a buffer. */
#ifndef CAIRN_FLEET_REPORT_H
#define CAIRN_FLEET_REPORT_H

#include <stddef.h>

#include "../lib/buf.h"
#include "index.h"
#include "result.h"

#define REPORT_INPUT_MAX (64U << 20)

struct report_db {
	char *source;          /* the file it was read from */
	char *database, *environment, *current, *bundle; /* bundle: what brought it to current */
	char *brought_at;      /* when the newest migration applied from that bundle ran */
	size_t applied, pending, failed, drifted, in_progress;
	char *pending_list;    /* "0003_items, 0004_x" (NULL: none) */
	char *drifted_list;
	char **done;           /* the migrations applied (or drifted), sorted: for pending */
	size_t ndone;
	int pending_from_bundle; /* pending_list was computed from a bundle input */
	char *database_id;     /* status JSON's database_id (NULL: older status) */
	char *join;            /* report_join_key of it: what a trail is joined by */
	size_t trail;          /* r->trails' index of its audit trail, joined by
				* database_id at report_finish; (size_t)-1: none */
};

/* A statement a bundle carries (approvals and receipts), deduplicated
 * across the copies of one bundle (a fleet's --receipt-dir). */
struct report_stmt {
	char *bundle, *type, *environment, *signer, *key_id, *time, *database;
	char *member;          /* "approvals/prod-<keyid>.yaml": as the audit evidence names it */
	char *key;             /* what makes two copies the same statement (stmt_ix) */
	int valid, trusted;
};

/* A bundle input (the bundle, or a copy carrying receipts). */
struct report_bundle {
	char *source, *id, *name, *built;
	char **migs, **envs;   /* envs[i]: "dev, prod", or NULL for every environment */
	size_t nmigs;
	int trusted;           /* opened with a trusted builder key */
};

/* The schema's evolution over time: per environment and bundle, from the
 * audit trails ('cairn-apply history --format json'). */
struct report_step {
	char *environment, *bundle, *first_at, *last_at;
	size_t applied, rolled_back, failed, databases;
	const char *last_source; /* the input that last counted it (not owned) */
	char *key;             /* "ENV\tBUNDLE" (step_ix) */
	/* The statements its apply rows name as counted (the policy's evidence
	 * in the audit detail), "TYPE\tMEMBER\tKEYID" each, over every trail
	 * read for this environment and bundle. */
	char **counted;
	size_t ncounted;
};

/* One database's audit trail ('history --format json', or a fleet's
 * --trail-dir): the runs that brought it where it is, a hop per run of
 * consecutive rows of one bundle and environment (rollbacks: bundle NULL). */
struct report_hop {
	char *bundle, *environment, *from, *to, *first_at, *last_at;
	size_t applied, rolled_back, failed;
};

struct report_trail {
	char *source;          /* the input */
	char *database, *database_id, *target, *environment, *project; /* NULL: not said */
	char *join;            /* report_join_key */
	struct report_hop *hops;
	size_t nhops;
	size_t db;             /* r->dbs' index of its status, by database_id; (size_t)-1 */
};

/* Migrations per release: per environment and bundle, from the books. */
struct report_release {
	char *environment, *bundle, *first_at;
	size_t migrations;
};

struct report_fleet {
	char *source;
	struct fleet_results rs;
	size_t applied, current, waiting, stopped, failed, not_started;
};

struct report {
	struct report_db *dbs;
	size_t ndbs;
	struct report_release *rel;
	size_t nrel;
	struct report_fleet *fleets;
	size_t nfleets;
	struct report_bundle *bundles;
	size_t nbundles;
	struct report_stmt *stmts;
	size_t nstmts;
	struct report_step *steps;
	size_t nsteps;
	/* The databases' trails, sorted at report_finish by environment,
	 * target or database, then id: the same report whatever the order of
	 * the inputs. A database's trail is read once (by database_id). */
	struct report_trail *trails;
	size_t ntrails;
	struct fleet_index trail_ix; /* trails by database_id, while reading */
	/* Lookups that keep the report linear in its inputs (5,000 databases
	 * and receipts: docs/benchmarks.md): statements by their key, bundles
	 * by id (the first input of each), steps by environment and bundle. */
	struct fleet_index stmt_ix, bundle_ix, step_ix;
	/* Set by report_finish: r->stmts' indexes sorted by bundle,
	 * environment, then the database of a receipt naming one ("" else). */
	size_t *stmt_order;
};

void report_release(struct report *r);
/* Adds one input (a status JSON or a fleet result file) held in memory;
 * name names it. Returns 0, or -1 with the error set ("NAME: ..."). */
int report_add(struct report *r, const char *data, size_t len, const char *name);

/* The bundle opened (and verified) by the caller: its migrations and
 * statements copied in. Pending migrations then come from the newest
 * bundle given (by build time), for every database. */
struct bundle;
void report_add_bundle(struct report *r, const struct bundle *b, const char *name);
/* An audit trail: 'cairn-apply history --format json', parsed. A second
 * trail of a database already read (the same database_id) is refused. */
struct ynode;
int report_add_history(struct report *r, const struct ynode *root, const char *name);
/* fleet/report-db.c: root's trail kept as the database's own (refused,
 * -1 with the error set, when its database_id was read already); once
 * every input is in, the trails sorted and joined to the statuses by id. */
int report_trail_add(struct report *r, const struct ynode *root, const char *name);
/* What joins a trail to a status and tells trails apart, malloc'ed (NULL
 * without an id): the id; for books from before ids, whose id is a row's
 * hash (64 hex digits) that databases made alike in one second share, the
 * id and the database's name. */
char *report_join_key(const char *id, const char *database);
/* r->dbs in promotion order of their environment, then by name. */
void report_dbs_sort(struct report *r);
void report_trails_finish(struct report *r);
void report_trails_release(struct report *r);
/* Once every input is in: pending per database from the newest bundle,
 * the evolution in time order. */
void report_finish(struct report *r);
/* report_release's part: the bundles, statements and steps. */
void report_trail_release(struct report *r);
/* The approvals and receipts that count for d: statements of the bundle
 * that brought it there, for its environment (a receipt: for its database
 * too). Approvals: when an audit trail of that environment and bundle was
 * read, those its apply rows name as counted (*by_audit = 1); else a guess
 * from time, no approval signed after that bundle's last migration there
 * ran (*by_audit = 0). Fills idx with indexes into r->stmts, in input
 * order, and returns how many (at most max). */
size_t report_db_stmts(const struct report *r, const struct report_db *d, size_t *idx,
		       size_t max, int *by_audit);
/* A report_bundle by id, or NULL. */
const struct report_bundle *report_bundle_of(const struct report *r, const char *id);

enum report_format { REPORT_TEXT, REPORT_JSON, REPORT_HTML };
/* Writes the report; now is the time to show as generated. */
void report_format(struct buf *out, const struct report *r, enum report_format f,
		   const char *now);

#endif
