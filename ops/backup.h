/* The backup taken before a destructive migration (issue #20): the engine's
 * before_step hook (apply/engine.h). A library: never prints. */
#ifndef CAIRN_OPS_BACKUP_H
#define CAIRN_OPS_BACKUP_H

#include "../apply/set.h"
#include "../drivers/driver.h"

struct backup_ctx {
	const struct driver *drv; /* must have backup_to */
	struct db *db;
	const char *dir;          /* backup: {dir:}; NULL: beside the database */
	int off;                  /* backup: off: nothing is copied, the skip is recorded */
	/* backup: {command:}: run instead of the copy, with the facts below
	 * in its environment; NULL: cairn's own copy */
	const char *command;
	unsigned long long timeout_ms; /* 0: the hooks' default */
	const char *env, *bundle_id;
	char *last;               /* the last backup written (NULL: none), for messages */
	char *last_sha256;
};

/* With backup: {command: CMD}, CMD runs instead (sh -c, its own process
 * group, killed at the timeout) with CAIRN_BUNDLE_ID, CAIRN_ENV,
 * CAIRN_VERSION, CAIRN_MIGRATION, CAIRN_TABLES (the existing tables the
 * script touches, comma-separated), CAIRN_DATABASE (no password) and
 * CAIRN_BACKUP_DIR; *detail records its exit status and the first line of
 * its output (a snapshot's id); a failure stops the run before the step.
 *
 * A migration is destructive when its migration.yaml acknowledged it
 * (destructive: true) or its up script has a destructive statement
 * (sql_destructive); a script libpg_query cannot parse counts as one. Then
 * the whole database is copied to DIR/<file>.<version>.<UTC time>.backup
 * (fsynced), and *detail says where, its sha256, its size, why, and how to
 * restore it. Not destructive: 0, *detail NULL. */
int backup_before_step(void *ctx, const struct apply_mig *m, char **detail);
/* What backup_before_step would do before m, said for plan, without doing
 * it: "copy of the database to DIR (destructive: WHY)", "pg_dump of the
 * tables it touches to DIR", "the environment's command: CMD", "none:
 * backup: off"; NULL when m is not destructive. malloc'ed. */
char *backup_plan(const struct backup_ctx *b, const struct apply_mig *m);
void backup_ctx_release(struct backup_ctx *c);
/* Decides once, for each migration of set whose up script is read, why it
 * needs a backup (apply_mig.backup_why), which backup_before_step and
 * backup_plan then take as it is: a fleet calls it before its targets'
 * processes fork. The verdict is the same as computing it per step. */
void backup_classify(struct apply_set *set);

#endif
