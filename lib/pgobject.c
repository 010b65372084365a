/* PostgreSQL objects in the backup row (pgobject.h). */
#include <string.h>

#include "buf.h"
#include "pgobject.h"
#include "util.h"

static const char *const kinds[] = {
	"MATERIALIZED VIEW", "TABLE", "VIEW", "SEQUENCE", "TYPE", "DOMAIN",
	"FUNCTION", "PROCEDURE", "SCHEMA", "EXTENSION", NULL,
};

const char *pg_object_kind(const char *s, const char **name)
{
	size_t i, n;

	for (i = 0; kinds[i]; i++) {
		n = strlen(kinds[i]);
		if (!strncmp(s, kinds[i], n) && s[n] == ' ') {
			*name = s + n + 1;
			return kinds[i];
		}
	}
	return NULL;
}

/* one "identifier": its length with the quotes, 0 when none */
static size_t ident_len(const char *s)
{
	size_t i = 1;

	if (s[0] != '"')
		return 0;
	for (;;) {
		if (!s[i])
			return 0;
		if (s[i] == '"') {
			if (s[i + 1] != '"')
				return i > 1 ? i + 1 : 0;
			i++;
		}
		i++;
	}
}

size_t pg_object_name_len(const char *s)
{
	size_t a = ident_len(s), b;

	if (!a || s[a] != '.')
		return a;
	b = ident_len(s + a + 1);
	return b ? a + 1 + b : 0;
}

char *pg_object_exists_sql(const char *kind, const char *name)
{
	struct buf b = BUF_INIT;

	if (!strcmp(kind, "TYPE") || !strcmp(kind, "DOMAIN")) {
		buf_puts(&b, "SELECT to_regtype(");
		buf_put_sql_literal(&b, name);
		buf_puts(&b, ") IS NOT NULL");
	} else if (!strcmp(kind, "SCHEMA")) {
		buf_puts(&b, "SELECT to_regnamespace(");
		buf_put_sql_literal(&b, name);
		buf_puts(&b, ") IS NOT NULL");
	} else if (!strcmp(kind, "EXTENSION")) {
		buf_puts(&b, "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = "
			     "(pg_catalog.parse_ident(");
		buf_put_sql_literal(&b, name);
		buf_puts(&b, "))[1])");
	} else if (!strcmp(kind, "FUNCTION") || !strcmp(kind, "PROCEDURE")) {
		buf_puts(&b, "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_proc p, "
			     "pg_catalog.parse_ident(");
		buf_put_sql_literal(&b, name);
		buf_puts(&b, ") i WHERE p.proname = i[2] AND p.pronamespace = "
			     "pg_catalog.to_regnamespace(pg_catalog.quote_ident(i[1])))");
	} else {
		buf_puts(&b, "SELECT to_regclass(");
		buf_put_sql_literal(&b, name);
		buf_puts(&b, ") IS NOT NULL");
	}
	return buf_detach(&b, NULL);
}
