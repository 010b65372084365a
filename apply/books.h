/* What the books say about themselves (issue #15): every fact of a
 * cairn_migrations row that the engine acts on is written into the audit
 * row that changed it (the row's anchor, bk_row.audit_hash), so the hash
 * chain covers it, and the database's identity (project, environment,
 * trusted builder key ids) is an audit row of its own. The engine reads the
 * whole chain under the run lock and checks it before it acts.
 *
 * No table or column changed for this: the facts end the anchor's detail
 * as " facts{...}", and an identity is an audit row whose action is
 * "identity". A row whose anchor predates this (no facts) is checked by
 * the chain and its anchor only. */
#ifndef CAIRN_APPLY_BOOKS_H
#define CAIRN_APPLY_BOOKS_H

#include <stddef.h>

#include "../drivers/driver.h"
#include "engine.h"

#define BOOKS_IDENTITY_ACTION "identity"

/* " facts{state=...;checksum=...;down=sha256:<hex>|none;bundle=...;env=...;
 * name=...;kind=...;irreversible=0|1;transactional=0|1}", malloc'ed. */
char *books_facts(const struct bk_row *r);

/* The chain is intact, every row names an audit row that exists, and each
 * row's facts equal those its anchor recorded. Returns 0, or -1 with the
 * error set to one line naming the first row at fault and what differs. */
int books_check(const struct audit_row *a, size_t na, const struct bk_row *rows, size_t nrows);

/* Every problem, for history --verify: audit_verify's, then each row whose
 * facts differ from its anchor's. Returns how many (filling *out). */
size_t books_problems(const struct audit_row *a, size_t na, const struct bk_row *rows,
		      size_t nrows, struct audit_problem **out);

/* The down script a rollback is about to run matches the sha256 recorded
 * when its migration was applied (from the verified bundle). 0, or -1 with
 * the error set. Rows without recorded facts (older books) pass. */
int books_check_down(const struct audit_row *a, size_t na, const struct bk_row *row);

struct db_identity {
	char *project;      /* "" when not known (a database first used by rollback) */
	char *environment;
	char *builders;     /* key ids, comma-separated, sorted; "" when none */
	long long seq;      /* of the audit row that recorded it; 0: none */
};

/* The newest identity in the chain (seq 0 when none). */
void books_identity(const struct audit_row *a, size_t na, struct db_identity *out);
void db_identity_release(struct db_identity *id);
/* An identity row's detail: "project=P; environment=E; builders=K1,K2". */
char *books_identity_detail(const char *project, const char *environment, const char *builders);

/* What the engine does with the books under the run lock, before it acts:
 * reads the whole chain, checks it and every row against it (EXIT_STATE),
 * and compares the identity the run claims (o->env, o->project) with the
 * database's (EXIT_REFUSED, unless o->identity_override). what names the
 * operation for the message ("apply to", "roll back", ...). On EXIT_OK,
 * g->record is the detail of an identity row to append (first use, books
 * from before identities, a moved database, new builders), or NULL. */
struct books_guard {
	struct audit_row *a;
	size_t na;
	char *record;
};

int books_guard(struct books_guard *g, struct db *db, const struct driver *drv,
		const struct apply_opts *o, const struct bk_row *rows, size_t nrows, int exists,
		const char *what);
void books_guard_release(struct books_guard *g);

#endif
