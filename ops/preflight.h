/* Preflight (issue #20): "will this apply go through?", answered without
 * changing anything. Each check is a line of a report with its verdict;
 * the caller (cmd/preflight.c, apply --preflight) adds the checks it made
 * itself (the bundle and its policy, the connection) and prints the
 * report. A library: never prints, never exits. */
#ifndef CAIRN_OPS_PREFLIGHT_H
#define CAIRN_OPS_PREFLIGHT_H

#include <stddef.h>

#include "../apply/engine.h"
#include "../drivers/driver.h"

/* PF_WARN: passed, with a warning apply would print too */
enum pf_status { PF_PASS, PF_FAIL, PF_INFO, PF_SKIP, PF_WARN };

struct pf_check {
	char *id;          /* "connect", "version", "bundle", "plan", "role", "books", "privileges",
			    * "disk", "blockers", "lock", "replication" */
	enum pf_status status;
	int exit_code;     /* what apply would exit with (lib/exitcodes.h), on PF_FAIL */
	char *detail;      /* one line, or several joined by '\n' */
};

struct preflight {
	struct pf_check *checks;
	size_t n, alloc;
};

struct preflight_input {
	const struct driver *drv;
	struct db *db;
	const struct apply_set *set;   /* the verified bundle's migrations */
	const struct plan *plan;       /* of set against the books */
	int pg_version;                /* the environment's postgres: {version:}; 0: not set */
	/* the run's role check as apply makes it (apply/role.h): refuse under
	 * postgres: {privileged_role: refuse} (or its default), why what chose
	 * that, env the environment named in the message */
	int role_refuse;
	const char *role_why, *env;
};

void preflight_add(struct preflight *p, const char *id, enum pf_status st, int exit_code,
		   const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* The checks on the open database: server version, the role against the
 * books guard (failed where apply would refuse it, a warning where apply
 * would warn), bookkeeping writable,
 * privileges of every pending migration (PostgreSQL: its statements
 * parsed, the catalog asked), free disk space (SQLite), sessions holding
 * locks on the tables the pending migrations touch, the run lock free,
 * replication (PostgreSQL, shown only). */
void preflight_run(struct preflight *p, const struct preflight_input *in);
/* EXIT_OK when no check failed; else the exit code of the gravest failure
 * (refused 3 > cannot read 6 > needs an operator 5 > lock 4 > would fail 1). */
int preflight_exit(const struct preflight *p);
const char *pf_status_name(enum pf_status s);
void preflight_release(struct preflight *p);

#endif
