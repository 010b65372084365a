/* The PostgreSQL driver's DSNs (postgres.c): a URI or a libpq keyword
 * string, minus our own cairn_schema option. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../lib/buf.h"
#include "../lib/error.h"
#include "driver.h"
#include "pg-private.h"
#include "pq-load.h"

/* ---- DSN handling ---------------------------------------------------- */

int pg_is_uri(const char *dsn)
{
	return !strncmp(dsn, "postgres://", 11) || !strncmp(dsn, "postgresql://", 13);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
		return (c | 0x20) - 'a' + 10;
	return -1;
}

static void pct_decode(struct buf *out, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (s[i] == '%' && i + 2 < n &&
		    hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
			buf_putc(out, (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2])));
			i += 2;
		} else {
			buf_putc(out, s[i]);
		}
	}
}

/* Removes "cairn_schema=V" from a URI's query string; *schema gets V. */
int pg_strip_uri(const char *dsn, struct buf *out, char **schema)
{
	const char *q = strchr(dsn, '?');
	const char *p;
	int first = 1;

	if (!q) {
		buf_puts(out, dsn);
		return 0;
	}
	buf_put(out, dsn, (size_t)(q - dsn));
	p = q + 1;
	while (*p) {
		const char *amp = strchr(p, '&');
		size_t n = amp ? (size_t)(amp - p) : strlen(p);

		if (n > 13 && !strncmp(p, "cairn_schema=", 13)) {
			struct buf v = BUF_INIT;

			pct_decode(&v, p + 13, n - 13);
			free(*schema);
			*schema = buf_detach(&v, NULL);
			if (!*schema)
				*schema = xstrdup("");
		} else if (n) {
			buf_putc(out, first ? '?' : '&');
			buf_put(out, p, n);
			first = 0;
		}
		p += n;
		if (*p == '&')
			p++;
	}
	return 0;
}

int pg_is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* Removes "cairn_schema = V" from a libpq keyword string (libpq's own
 * quoting rules: 'single quotes', backslash escapes). */
int pg_strip_keywords(const char *dsn, struct buf *out, char **schema)
{
	const char *p = dsn;

	while (*p) {
		const char *start = p, *key, *val_end;
		size_t keylen;
		struct buf v = BUF_INIT;

		while (pg_is_blank(*p))
			p++;
		if (!*p)
			break;
		start = p;
		key = p;
		while (*p && *p != '=' && !pg_is_blank(*p))
			p++;
		keylen = (size_t)(p - key);
		while (pg_is_blank(*p))
			p++;
		if (*p != '=' || keylen == 0) {
			cairn_error_set("malformed PostgreSQL connection string: expected "
					"keyword=value");
			return -1;
		}
		p++;
		while (pg_is_blank(*p))
			p++;
		if (*p == '\'') {
			p++;
			while (*p && *p != '\'') {
				if (*p == '\\' && p[1])
					p++;
				buf_putc(&v, *p++);
			}
			if (*p != '\'') {
				buf_release(&v);
				cairn_error_set("malformed PostgreSQL connection string: "
						"unterminated quoted value");
				return -1;
			}
			p++;
		} else {
			while (*p && !pg_is_blank(*p)) {
				if (*p == '\\' && p[1])
					p++;
				buf_putc(&v, *p++);
			}
		}
		val_end = p;
		if (keylen == 12 && !strncmp(key, "cairn_schema", 12)) {
			free(*schema);
			*schema = buf_detach(&v, NULL);
			if (!*schema)
				*schema = xstrdup("");
		} else {
			if (out->len)
				buf_putc(out, ' ');
			buf_put(out, start, (size_t)(val_end - start));
		}
		buf_release(&v);
	}
	return 0;
}

static int looks_like_keywords(const char *dsn)
{
	const char *eq = strchr(dsn, '=');
	const char *p;

	if (!eq || eq == dsn)
		return 0;
	for (p = dsn; p < eq; p++)
		if (!(pg_is_blank(*p) || (*p >= 'a' && *p <= 'z') || *p == '_'))
			return 0;
	return 1;
}

int pg_accepts(const char *dsn)
{
	return dsn && (pg_is_uri(dsn) || looks_like_keywords(dsn));
}

int pg_schema_name_ok(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > 63)
		return 0;
	if (!((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
		return 0;
	for (i = 1; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return 0;
	return 1;
}

/* 1 when the conninfo names keyword itself (libpq's own parser, which
 * inserts no defaults), 0 when not, -1 when it cannot be parsed (libpq's
 * connect then reports that). */
static int dsn_names(const char *conninfo, const char *keyword)
{
	char *err = NULL;
	PQconninfoOption *opts = pq.conninfoParse(conninfo, &err), *o;
	int found = 0;

	if (err)
		pq.freemem(err);
	if (!opts)
		return -1;
	for (o = opts; o->keyword; o++)
		if (!strcmp(o->keyword, keyword) && o->val && *o->val)
			found = 1;
	pq.conninfoFree(opts);
	return found;
}

/* libpq fills what a DSN leaves out from its PG* variables. Those that say
 * where to connect (PGHOST, PGPORT, PGDATABASE, PGUSER, PGSSLMODE) are
 * honoured as documented: a value the DSN names always wins. Two change
 * what the session does rather than where it is, and a CI variable or an
 * operator's shell must not decide that for the DSN the policy names:
 * - PGOPTIONS (-c search_path=..., session_replication_role=replica,
 *   default_transaction_read_only, statement_timeout): ignored when the DSN
 *   names no options= (*pin_options: the caller passes options=" ", which
 *   wins over the variable and sets nothing);
 * - PGSERVICE naming a service the DSN does not: refused, since the service
 *   file would then choose the host, the database and the role. */
int pg_env_guard(const char *conninfo, int *pin_options)
{
	const char *opt = getenv("PGOPTIONS");
	const char *svc = getenv("PGSERVICE");

	*pin_options = 0;
	if (opt && *opt && dsn_names(conninfo, "options") == 0)
		*pin_options = 1;
	if (svc && *svc && dsn_names(conninfo, "service") == 0) {
		cairn_error_set("PGSERVICE is set ('%.64s') but the DSN names no service: the service "
				"file would choose the database; name service=%.64s in the DSN or "
				"unset PGSERVICE",
				svc, svc);
		return -1;
	}
	return 0;
}
