#include <stdlib.h>
#include <string.h>

#include "../lib/error.h"
#include "pg-secret.h"

#define MAX_SECRETS 16

struct secrets {
	char *s[MAX_SECRETS];
	size_t n;
};

static void add(struct secrets *x, const char *p, size_t len)
{
	if (len && x->n < MAX_SECRETS)
		x->s[x->n++] = xstrndup(p, len);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* A URI value, and its percent-decoded form when that differs. */
static void add_uri_value(struct secrets *x, const char *p, size_t len)
{
	char *dec = xcalloc(1, len + 1);
	size_t i, n = 0;

	add(x, p, len);
	for (i = 0; i < len; i++) {
		if (p[i] == '%' && i + 2 < len && hexval(p[i + 1]) >= 0 && hexval(p[i + 2]) >= 0) {
			dec[n++] = (char)(hexval(p[i + 1]) * 16 + hexval(p[i + 2]));
			i += 2;
		} else {
			dec[n++] = p[i];
		}
	}
	if (n != len)
		add(x, dec, n);
	free(dec);
}

static void uri_secrets(struct secrets *x, const char *dsn)
{
	const char *auth = strstr(dsn, "://"), *end, *at, *colon, *q;

	if (!auth)
		return;
	auth += 3;
	end = auth + strcspn(auth, "/?");
	/* the user info ends at the last '@' of the authority */
	for (at = NULL, q = auth; q < end; q++)
		if (*q == '@')
			at = q;
	if (at && (colon = memchr(auth, ':', (size_t)(at - auth))))
		add_uri_value(x, colon + 1, (size_t)(at - colon - 1));
	for (q = strchr(dsn, '?'); q; q = strchr(q + 1, '&'))
		if (!strncmp(q + 1, "password=", 9))
			add_uri_value(x, q + 10, strcspn(q + 10, "&#"));
}

/* password=VALUE or password = 'VA\'LUE' in a keyword string. */
static void keyword_secrets(struct secrets *x, const char *dsn)
{
	const char *p;

	for (p = strstr(dsn, "password"); p; p = strstr(p + 1, "password")) {
		const char *v = p + 8, *start;
		char *plain;
		size_t n = 0;

		if (p > dsn && p[-1] != ' ' && p[-1] != '\t')
			continue;
		v += strspn(v, " \t");
		if (*v++ != '=')
			continue;
		v += strspn(v, " \t");
		if (*v != '\'') {
			add(x, v, strcspn(v, " \t"));
			continue;
		}
		start = ++v;
		plain = xcalloc(1, strlen(v) + 1);
		for (; *v && *v != '\''; v++) {
			if (*v == '\\' && v[1])
				v++;
			plain[n++] = *v;
		}
		add(x, start, (size_t)(v - start));
		add(x, plain, n);
		free(plain);
	}
}

static void replace_all(char *msg, size_t size, const char *secret)
{
	size_t slen = strlen(secret);
	char *hit;

	while ((hit = strstr(msg, secret))) {
		size_t tail = strlen(hit + slen);

		if (slen < 3) {
			/* growing: keep within size, cutting the message's end */
			if ((size_t)(hit - msg) + 4 > size) {
				*hit = '\0';
				break;
			}
			if ((size_t)(hit - msg) + 3 + tail + 1 > size)
				tail = size - (size_t)(hit - msg) - 4;
			memmove(hit + 3, hit + slen, tail);
			hit[3 + tail] = '\0';
		} else {
			memmove(hit + 3, hit + slen, tail + 1);
		}
		memcpy(hit, "***", 3);
	}
}

void pg_secret_scrub(char *msg, size_t size, const char *dsn)
{
	struct secrets x;
	size_t i;

	if (!msg || !dsn || !*dsn || size < 8)
		return;
	memset(&x, 0, sizeof(x));
	add(&x, dsn, strlen(dsn));
	uri_secrets(&x, dsn);
	keyword_secrets(&x, dsn);
	for (i = 0; i < x.n; i++) {
		/* "***" itself must not be taken for a secret again */
		if (strcmp(x.s[i], "***") && !strstr("***", x.s[i]))
			replace_all(msg, size, x.s[i]);
		memset(x.s[i], 0, strlen(x.s[i]));
		free(x.s[i]);
	}
}
