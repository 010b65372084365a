/* W3C trace context: see trace.h. */
#include <stdlib.h>
#include <string.h>

#include "trace.h"

/* n lower-case hex digits at s, not all zero. */
static int hex_id(const char *s, size_t n)
{
	size_t i;
	int nonzero = 0;

	for (i = 0; i < n; i++) {
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
		nonzero |= s[i] != '0';
	}
	return nonzero;
}

const char *trace_parent(void)
{
	const char *t = getenv("TRACEPARENT");

	/* 00-<trace id: 32>-<parent id: 16>-<flags: 2>, 55 characters */
	if (!t || strlen(t) != 55 || strncmp(t, "00-", 3) || t[35] != '-' || t[52] != '-')
		return NULL;
	if (!hex_id(t + 3, 32) || !hex_id(t + 36, 16))
		return NULL;
	if (!strchr("0123456789abcdef", t[53]) || !strchr("0123456789abcdef", t[54]) ||
	    !t[53] || !t[54])
		return NULL;
	return t;
}
