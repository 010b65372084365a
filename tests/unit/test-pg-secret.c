/* pg_secret_scrub: what libpq may quote of a DSN never leaves the driver. */
#include <stdio.h>
#include <string.h>

#include "../../drivers/pg-secret.h"
#include "unit.h"

static void scrub(const char *dsn, const char *msg, const char *want)
{
	char buf[256];

	snprintf(buf, sizeof(buf), "%s", msg);
	pg_secret_scrub(buf, sizeof(buf), dsn);
	CHECK_STR(buf, want);
}

int main(void)
{
	char small[12];

	scrub("postgresql://u:S3CRET@[::1/db",
	      "missing \"]\" in URI: \"postgresql://u:S3CRET@[::1/db\"",
	      "missing \"]\" in URI: \"***\"");
	scrub("postgresql://u:S3CRET@[::1/db", "around u:S3CRET@[", "around u:***@[");
	scrub("postgresql://u:p%40ss@h/db", "p@ss and p%40ss", "*** and ***");
	scrub("postgresql://u@h/db?sslmode=x&password=PW123", "\"PW123\"", "\"***\"");
	scrub("host=h password=S3CRET port=x", "S3CRET, S3CRET", "***, ***");
	scrub("host=h password = 'a \\' b' port=x", "value a ' b here", "value *** here");
	scrub("host=h dbname=password", "dbname password", "dbname password");
	scrub("password=ab", "xabxab", "x***x***");
	scrub("password=*", "a * b", "a * b");
	scrub("postgresql://u:@h/db", "u:@h", "u:@h");
	snprintf(small, sizeof(small), "%s", "abababababa");
	pg_secret_scrub(small, sizeof(small), "password=a");
	CHECK(strlen(small) < sizeof(small) && !strchr(small, 'a'));
	return unit_done();
}
