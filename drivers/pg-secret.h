/* libpq quotes a connection string it cannot parse ("... in URI:
 * \"postgresql://u:PW@[::1/db\"") and some of its values back in its
 * messages. pg_secret_scrub removes what of a DSN is secret from such a
 * message before it leaves the driver: the whole DSN, and every password
 * it holds (URI user info, ?password=, password=...), raw and decoded.
 * It works on the text alone, since a DSN libpq cannot parse is exactly
 * the one whose message quotes it. */
#ifndef CAIRN_PG_SECRET_H
#define CAIRN_PG_SECRET_H

#include <stddef.h>

/* Rewrites msg (NUL-terminated, in a buffer of size bytes) with each secret
 * of dsn replaced by "***". */
void pg_secret_scrub(char *msg, size_t size, const char *dsn);

#endif
