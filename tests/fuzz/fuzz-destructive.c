/* Fuzz target: the applier's own scan of destructive statements
 * (policy/destructive.c) over a script of any bytes, in both dialects.
 * Checks that every item names a rule, the file and migration given, and a
 * line inside the script (1 up to the script's last line), and that
 * scanning twice gives the same items. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/error.h"
#include "../../lib/util.h"
#include "../../policy/destructive.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const char *sql, size_t size, enum destructive_dialect d)
{
	struct destructive_list a = { NULL, 0, 0 }, b = { NULL, 0, 0 };
	unsigned long long lines = 1;
	size_t i;

	for (i = 0; i < size; i++)
		lines += sql[i] == '\n';
	destructive_scan_sql(&a, sql, size, d, "m", "1", "up.sql");
	destructive_scan_sql(&b, sql, size, d, "m", "1", "up.sql");
	if (a.n != b.n)
		abort();
	for (i = 0; i < a.n; i++) {
		const struct destructive_item *it = &a.items[i];

		if (!it->rule || !*it->rule || !it->what || strcmp(it->file, "up.sql") ||
		    strcmp(it->migration, "m") || it->line < 1 || it->line > lines ||
		    strcmp(it->rule, b.items[i].rule) || it->line != b.items[i].line)
			abort();
	}
	destructive_list_release(&a);
	destructive_list_release(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *sql = xmalloc(size + 1);

	memcpy(sql, data, size);
	sql[size] = '\0';
	check(sql, size, DESTRUCTIVE_POSTGRES);
	check(sql, size, DESTRUCTIVE_SQLITE);
	free(sql);
	return 0;
}
