/* Callback file names (callbacks.h). */
#include <string.h>

#include "callbacks.h"

const char *const callback_names[CB_COUNT] = {
	"before_migrate",  "before_each",          "after_each",
	"after_migrate",   "on_error",             "before_rollback",
	"before_each_rollback", "after_each_rollback", "after_rollback",
};

static const char *const drivers[] = { "sqlite", "postgres", NULL };

int callback_parse(const char *name, const char **driver)
{
	size_t i, j, n;
	const char *rest;

	*driver = NULL;
	for (i = 0; i < CB_COUNT; i++) {
		n = strlen(callback_names[i]);
		if (strncmp(name, callback_names[i], n))
			continue;
		rest = name + n;
		if (!strcmp(rest, ".sql"))
			return (int)i;
		for (j = 0; drivers[j]; j++) {
			size_t d = strlen(drivers[j]);

			if (rest[0] == '.' && !strncmp(rest + 1, drivers[j], d) &&
			    !strcmp(rest + 1 + d, ".sql")) {
				*driver = drivers[j];
				return (int)i;
			}
		}
	}
	return -1;
}
