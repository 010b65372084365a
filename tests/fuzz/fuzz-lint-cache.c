/* Fuzz target: loading check --staged's cached linter database
 * (lint_sqlite_load, lint/sqlite.c) from bytes a damaged or planted cache
 * file could hold. Each input is loaded into a fresh database; whether it
 * is refused or taken, a script must then lint without a crash, and a
 * refused one must leave a database the caller can free. The first input
 * byte also picks a round trip: a known replay saved and loaded again must
 * load and give the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../lint/lint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char script[] = "CREATE TABLE zz (a integer);\n"
			     "ALTER TABLE t ADD COLUMN b integer NOT NULL;\n"
			     "INSERT INTO t (a) VALUES (1);\n";

static void lint_on(struct lint_sqlite *db)
{
	struct lint_config cfg;
	struct lint_input in;
	struct lint_result r = LINT_RESULT_INIT;

	lint_config_init(&cfg);
	memset(&in, 0, sizeof(in));
	in.sql = script;
	in.len = sizeof(script) - 1;
	in.in_transaction = 1;
	in.cfg = &cfg;
	lint_sqlite(&r, db, &in);
	lint_result_release(&r);
}

static void round_trip(void)
{
	struct lint_sqlite *a = NULL, *b = NULL;
	struct buf s1 = BUF_INIT, s2 = BUF_INIT;
	void *copy;

	if (lint_sqlite_open(&a, 1) < 0 || lint_sqlite_open(&b, 1) < 0)
		abort();
	lint_sqlite_replay(a, "CREATE TABLE t (a integer);", 27);
	if (lint_sqlite_save(a, &s1) < 0 || !(copy = lint_sqlite_buffer(s1.len)))
		abort();
	memcpy(copy, s1.ptr, s1.len);
	if (lint_sqlite_load(b, copy, s1.len) < 0 || lint_sqlite_save(b, &s2) < 0 ||
	    s1.len != s2.len || memcmp(s1.ptr, s2.ptr, s1.len))
		abort();
	buf_release(&s1);
	buf_release(&s2);
	lint_sqlite_free(a);
	lint_sqlite_free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lint_sqlite *db = NULL;
	void *copy;

	if (size && data[0] == 'R')
		round_trip();
	if (lint_sqlite_open(&db, 1) < 0)
		abort();
	copy = lint_sqlite_buffer(size ? size : 1);
	if (!copy)
		abort();
	memcpy(copy, data, size);
	if (lint_sqlite_load(db, copy, size) < 0) {
		/* what check does: a fresh database, replayed from nothing */
		lint_sqlite_free(db);
		if (lint_sqlite_open(&db, 1) < 0)
			abort();
	}
	lint_on(db);
	lint_sqlite_free(db);
	return 0;
}
