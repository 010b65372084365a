/* Fuzz target: the linter's PostgreSQL front end (lint/). Checks its
 * invariants, not only that it returns: every finding has a known rule, a
 * level that is not off, a line and column inside the script, lies within
 * its statement's lines (or is a waiver comment before it), carries a
 * message, and the error and warning counts add up. Each input is linted
 * in a transaction and outside one, with every rule on. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../lint/lint.h"
#include "../../lib/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const char *sql, size_t size, int in_tx)
{
	struct lint_config cfg;
	struct lint_input in;
	struct lint_result r = LINT_RESULT_INIT;
	const char *allow[] = { "drop-table", "not-a-rule" };
	unsigned char used[2] = { 0, 0 };
	size_t i, errors = 0, warnings = 0;
	int lines = line_of_offset(sql, size, size);

	lint_config_init(&cfg);
	lint_config_set(&cfg, "all", "warning");
	cfg.pg_version = in_tx ? 0 : 10;
	memset(&in, 0, sizeof(in));
	in.sql = sql;
	in.len = size;
	in.in_transaction = in_tx;
	in.cfg = &cfg;
	in.allow = allow;
	in.nallow = 2;
	in.allow_used = used;
	lint_pg(&r, &in);
	for (i = 0; i < r.n; i++) {
		const struct lint_finding *f = &r.items[i];

		if (f->rule < 0 || f->rule >= LINT_NRULES || f->level == LINT_OFF || !f->msg ||
		    !*f->msg || f->line < 1 || f->line > lines + 1 || f->col < 1)
			abort();
		if (f->stmt_line > f->stmt_end_line && f->rule != LR_SYNTAX)
			abort();
		if (f->rule != LR_UNUSED_WAIVER && f->rule != LR_SYNTAX &&
		    (f->line < f->stmt_line || f->line > f->stmt_end_line))
			abort();
		if (f->rule == LR_DROP_TABLE || used[1])
			abort(); /* waived by the allow list; an unknown id waives nothing */
		errors += f->level == LINT_ERROR;
		warnings += f->level == LINT_WARNING;
	}
	if (errors != r.errors || warnings != r.warnings)
		abort();
	lint_result_release(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check((const char *)data, size, 1);
	check((const char *)data, size, 0);
	return 0;
}
