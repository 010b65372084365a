/* Fuzz target: the linter's SQLite front end (lint/sqlite.c). Each input is
 * replayed as an earlier migration and then linted (in a transaction, with
 * a known history), and linted alone (outside one, history unknown), with
 * every rule on. Checks that every finding has a known SQLite rule (or
 * unused-waiver), a level that is not off, a line and column inside the
 * script and a message, that the counts add up, and that the sandbox held:
 * no file named in the corpus (attached.db, vacuum-into.db) was created. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../lint/lint.h"
#include "../../lib/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const char *sql, size_t size, int in_tx, int history)
{
	struct lint_config cfg;
	struct lint_input in;
	struct lint_result r = LINT_RESULT_INIT;
	struct lint_sqlite *db = NULL;
	size_t i, errors = 0, warnings = 0;
	int lines = line_of_offset(sql, size, size);

	lint_config_init(&cfg);
	lint_config_set(&cfg, "all", "warning");
	cfg.sqlite_version = in_tx ? 0 : 3024000;
	memset(&in, 0, sizeof(in));
	in.sql = sql;
	in.len = size;
	in.in_transaction = in_tx;
	in.cfg = &cfg;
	if (history) {
		if (lint_sqlite_open(&db, 1) < 0)
			abort();
		lint_sqlite_replay(db, sql, size);
	}
	lint_sqlite(&r, db, &in);
	for (i = 0; i < r.n; i++) {
		const struct lint_finding *f = &r.items[i];

		if (f->rule < 0 || f->rule >= LINT_NRULES || f->level == LINT_OFF || !f->msg ||
		    !*f->msg || f->line < 1 || f->line > lines + 1 || f->col < 1)
			abort();
		if (f->rule != LR_UNUSED_WAIVER && f->rule < LR_SQLITE_SYNTAX)
			abort();
		errors += f->level == LINT_ERROR;
		warnings += f->level == LINT_WARNING;
	}
	if (errors != r.errors || warnings != r.warnings)
		abort();
	lint_result_release(&r);
	lint_sqlite_free(db);
	if (access("attached.db", F_OK) == 0 || access("vacuum-into.db", F_OK) == 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check((const char *)data, size, 1, 1);
	check((const char *)data, size, 0, 0);
	return 0;
}
