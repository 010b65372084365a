/* The applier's config (config.c): DSNs checked and masked for output. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "../lib/error.h"
#include "../lib/sha256.h"
#include "../lib/util.h"
#include "../lib/yaml.h"
#include "config-private.h"
#include "config.h"
/* ------------------------------------------------------------------ */
/* DSNs */

/* The end of a keyword string's value starting at p (quoted or not). */
static const char *kw_value_end(const char *p)
{
	if (*p == '\'') {
		p++;
		while (*p && *p != '\'') {
			if (*p == '\\' && p[1])
				p++;
			p++;
		}
		return *p ? p + 1 : p;
	}
	while (*p && !isspace((unsigned char)*p))
		p++;
	return p;
}

static int is_uri(const char *dsn)
{
	return starts_with(dsn, "postgres://") || starts_with(dsn, "postgresql://");
}

char *dsn_mask(const char *dsn)
{
	struct buf b = BUF_INIT;
	const char *p;

	if (!dsn)
		return NULL;
	if (is_uri(dsn)) {
		const char *auth = strstr(dsn, "://") + 3;
		/* up to the query, not the first '/': an unescaped '/' in a
		 * password must not hide it from the mask */
		const char *end = auth + strcspn(auth, "?#");
		const char *at = NULL, *q, *colon;

		for (q = auth; q < end; q++)
			if (*q == '@')
				at = q;
		colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
		if (colon) {
			buf_put(&b, dsn, (size_t)(colon + 1 - dsn));
			buf_puts(&b, "****");
			p = at;
		} else {
			p = dsn;
		}
		/* the query: password=... and its spelling variants */
		while (*p) {
			const char *qs = strpbrk(p, "?&");

			if (!qs) {
				buf_puts(&b, p);
				break;
			}
			buf_put(&b, p, (size_t)(qs + 1 - p));
			p = qs + 1;
			if (starts_with(p, "password=")) {
				buf_puts(&b, "password=****");
				p += strcspn(p, "&#");
			}
		}
		return buf_detach(&b, NULL);
	}
	if (starts_with(dsn, "sqlite:"))
		return xstrdup(dsn);
	/* libpq keyword string: key = value ... */
	p = dsn;
	while (*p) {
		const char *ks, *ke, *eq, *vs, *ve;

		ks = p;
		while (*ks && isspace((unsigned char)*ks))
			ks++;
		ke = ks;
		while (*ke && (isalnum((unsigned char)*ke) || *ke == '_'))
			ke++;
		eq = ke;
		while (*eq && isspace((unsigned char)*eq))
			eq++;
		if (*eq != '=' || ke == ks) {
			buf_puts(&b, p); /* not a keyword string after all: keep the rest */
			break;
		}
		vs = eq + 1;
		while (*vs && isspace((unsigned char)*vs))
			vs++;
		ve = kw_value_end(vs);
		buf_put(&b, p, (size_t)(vs - p));
		if ((size_t)(ke - ks) == 8 && !strncmp(ks, "password", 8))
			buf_puts(&b, "****");
		else
			buf_put(&b, vs, (size_t)(ve - vs));
		p = ve;
	}
	return buf_detach(&b, NULL);
}

int dsn_has_password(const char *dsn)
{
	char *m = dsn_mask(dsn);
	int has = m && strcmp(m, dsn) != 0;

	free(m);
	return has;
}

/* "sqlite:PATH", a postgres URI, or a libpq keyword string. */
int dsn_form_ok(const char *dsn)
{
	if (starts_with(dsn, "sqlite:"))
		return dsn[7] != '\0';
	if (is_uri(dsn))
		return 1;
	return strchr(dsn, '=') != NULL;
}

int env_var_name_ok(const char *s)
{
	if (!*s || isdigit((unsigned char)*s))
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_')
			return 0;
	return 1;
}
