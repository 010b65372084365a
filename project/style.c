/* Version styles: what a timestamp version is, and the style a directory
 * of existing migrations (cairn's or another tool's) already uses. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "../lib/error.h"
#include "project.h"

int version_is_timestamp(const char *v)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int y, mo, d, h, mi, s;

	if (strlen(v) != 14 || strspn(v, "0123456789") != 14)
		return 0;
	if (sscanf(v, "%4d%2d%2d%2d%2d%2d", &y, &mo, &d, &h, &mi, &s) != 6)
		return 0;
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 ||
	    s > 59)
		return 0;
	if (mo == 2 && d == 29 && !((y % 4 == 0 && y % 100) || y % 400 == 0))
		return 0;
	return 1;
}

/* The leading version of a name into ver (size n): "0001_x" and
 * "20190502140000_x.up.sql" give their digits, Flyway's "V3__x.sql" and
 * "V1.2__x.sql" give "3" and "1.2" (dotted: never a timestamp), diesel's
 * "2019-05-02-140000_x" gives its digits without the dashes. Returns the
 * length, 0 for none. */
static size_t leading_version(const char *name, char *ver, size_t n)
{
	const char *s = name;
	size_t len, i, o = 0;

	if ((s[0] == 'V' || s[0] == 'U') && isdigit((unsigned char)s[1]))
		s++;
	if (!isdigit((unsigned char)*s))
		return 0;
	len = strspn(s, "0123456789.-");
	for (i = 0; i < len && o + 1 < n; i++)
		if (s[i] != '-')
			ver[o++] = s[i];
	if (i < len)
		return 0; /* too long to be a version worth guessing from */
	ver[o] = '\0';
	return o;
}

int project_guess_style(const char *dir, enum version_style *out, size_t *counted)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0, ts = 0;

	*counted = 0;
	if (!d) {
		if (errno == ENOENT)
			return 0;
		cairn_error_set("cannot read '%s': %s", dir, strerror(errno));
		return -1;
	}
	while ((e = readdir(d))) {
		char ver[64];

		if (!leading_version(e->d_name, ver, sizeof(ver)))
			continue;
		n++;
		ts += version_is_timestamp(ver);
	}
	closedir(d);
	*counted = n;
	if (n)
		*out = ts == n ? STYLE_TIMESTAMP : STYLE_SEQUENCE;
	return 0;
}
