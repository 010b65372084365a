/* A minimal TAP unit-test harness: CHECK(cond) records a result, and
 * unit_done() returns the exit code. */
#ifndef CAIRN_UNIT_H
#define CAIRN_UNIT_H

#include <stdio.h>
#include <string.h>

static int unit_n, unit_failed;

#define CHECK(cond) unit_check((cond), #cond, __FILE__, __LINE__)
#define CHECK_STR(a, b) unit_check_str((a), (b), #a, __FILE__, __LINE__)

static inline void unit_check(int ok, const char *what, const char *file, int line)
{
	unit_n++;
	if (ok) {
		printf("ok %d - %s\n", unit_n, what);
	} else {
		unit_failed++;
		printf("not ok %d - %s (%s:%d)\n", unit_n, what, file, line);
	}
}

static inline void unit_check_str(const char *got, const char *want, const char *what,
				  const char *file, int line)
{
	int ok = got && want && !strcmp(got, want);

	unit_check(ok, what, file, line);
	if (!ok)
		printf("#   got '%s', want '%s'\n", got ? got : "(null)", want ? want : "(null)");
}

static inline int unit_done(void)
{
	printf("1..%d\n", unit_n);
	return unit_failed ? 1 : 0;
}

#endif
