/* The applier's config: parsing, validation, key loading, the precedence
 * of flags, CAIRN_* variables, the file and defaults, and DSN masking. */
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
#include "config.h"

/* ------------------------------------------------------------------ */
/* lifetime */

static void keylist_release(struct policy_keylist *l)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		free(l->items[i].path);
		free(l->items[i].resolved);
		free(l->items[i].since);
	}
	free(l->items);
	memset(l, 0, sizeof(*l));
}

static void env_release(struct policy_env *e)
{
	free(e->name);
	free(e->db_value);
	free(e->db_written);
	keylist_release(&e->builders);
	keylist_release(&e->approvers);
	keylist_release(&e->receipts_from);
	keylist_release(&e->admins);
	keylist_release(&e->revoked);
	free(e->after);
	memset(e, 0, sizeof(*e));
}

void policy_config_init(struct policy_config *c)
{
	memset(c, 0, sizeof(*c));
}

void policy_config_release(struct policy_config *c)
{
	size_t i;

	if (!c)
		return;
	free(c->path);
	free(c->dir);
	env_release(&c->defaults);
	for (i = 0; i < c->nenvs; i++)
		env_release(&c->envs[i]);
	free(c->envs);
	for (i = 0; i < c->ndiags; i++)
		free(c->diags[i].msg);
	free(c->diags);
	memset(c, 0, sizeof(*c));
}

/* ------------------------------------------------------------------ */
/* diagnostics */

static void diag(struct policy_config *c, int warning, int line, int col, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static void diag(struct policy_config *c, int warning, int line, int col, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;
	char msg[CAIRN_ERRMSG_MAX];

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap); /* a cut message is still a message */
	va_end(ap);
	if (line > 0)
		buf_printf(&b, "%s:%d:%d: %s: %s", c->path, line, col,
			   warning ? "warning" : "error", msg);
	else
		buf_printf(&b, "%s: %s: %s", c->path, warning ? "warning" : "error", msg);
	ALLOC_GROW(c->diags, c->ndiags + 1, c->diags_alloc);
	c->diags[c->ndiags].warning = warning;
	c->diags[c->ndiags].line = line;
	c->diags[c->ndiags].col = col;
	c->diags[c->ndiags].msg = buf_detach(&b, NULL);
	c->ndiags++;
	if (warning)
		c->warnings++;
	else
		c->errors++;
}

static void wrong_type(struct policy_config *c, const char *key, const struct ynode *v,
		       const char *expected)
{
	if (v->type == YNODE_SCALAR)
		diag(c, 0, v->line, v->col, "'%s' must be %s, not '%s'", key, expected, v->str);
	else
		diag(c, 0, v->line, v->col, "'%s' must be %s, not %s", key, expected,
		     ynode_type_name(v->type));
}

static void unknown_key(struct policy_config *c, const struct ynode *k, const char *where,
			const char *const *keys)
{
	const char *hint = did_you_mean(k->str, keys);
	struct buf known = BUF_INIT;
	size_t i;

	if (hint) {
		diag(c, 0, k->line, k->col, "unknown key '%s' in %s; did you mean '%s'?", k->str,
		     where, hint);
		return;
	}
	for (i = 0; keys[i]; i++)
		buf_printf(&known, "%s%s", i ? ", " : "", keys[i]);
	diag(c, 0, k->line, k->col, "unknown key '%s' in %s (known keys: %s)", k->str, where,
	     buf_cstr(&known));
	buf_release(&known);
}

/* ------------------------------------------------------------------ */
/* keys */

void policy_key_id(const unsigned char raw[32], char out[POLICY_KEY_ID_LEN + 1])
{
	char hex[SHA256_HEX_LEN + 1];

	if (sha256_hex(raw, 32, hex) < 0)
		hex[0] = '\0';
	memcpy(out, hex, POLICY_KEY_ID_LEN);
	out[POLICY_KEY_ID_LEN] = '\0';
}

int policy_key_load(struct policy_key *k, const char *path)
{
	struct buf data = BUF_INIT;
	BIO *bio = NULL;
	EVP_PKEY *pk = NULL;
	size_t rawlen = sizeof(k->raw);
	int rc = -1;

	buf_init(&data, POLICY_KEY_MAX_SIZE);
	if (read_file(path, POLICY_KEY_MAX_SIZE, &data) < 0)
		goto out; /* error set */
	if (strstr(buf_cstr(&data), "PRIVATE KEY")) {
		cairn_error_set("'%s' is a private key; name its public half (the .pub file) "
				"here, and keep the private key off this host", path);
		goto out;
	}
	bio = BIO_new_mem_buf(data.ptr, (int)data.len);
	if (bio)
		pk = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	if (!pk) {
		cairn_error_set("'%s' is not a PEM public key (expected '-----BEGIN PUBLIC KEY-----', "
				"as 'cairn keygen' writes)", path);
		goto out;
	}
	if (EVP_PKEY_get_id(pk) != EVP_PKEY_ED25519) {
		cairn_error_set("'%s' is not an Ed25519 key; cairn signs with Ed25519 only", path);
		goto out;
	}
	if (EVP_PKEY_get_raw_public_key(pk, k->raw, &rawlen) != 1 || rawlen != 32) {
		cairn_error_set("cannot read the raw public key from '%s'", path);
		goto out;
	}
	policy_key_id(k->raw, k->key_id);
	k->loaded = 1;
	rc = 0;
out:
	EVP_PKEY_free(pk);
	BIO_free(bio);
	buf_release(&data);
	return rc;
}

const struct policy_key *policy_keylist_find(const struct policy_keylist *l, const char *key_id)
{
	size_t i;

	if (!l || !key_id)
		return NULL;
	for (i = 0; i < l->n; i++)
		if (l->items[i].loaded && !strcmp(l->items[i].key_id, key_id))
			return &l->items[i];
	return NULL;
}

/* ------------------------------------------------------------------ */
/* time */

static int digits(const char *s, int n, int *out)
{
	int i, v = 0;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

int parse_rfc3339(const char *s, long long *out)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int Y, M, D, h = 0, m = 0, sec = 0, oh = 0, om = 0, sign = 0;
	struct tm tm;
	time_t t;

	if (!s || strlen(s) < 10 || digits(s, 4, &Y) || s[4] != '-' || digits(s + 5, 2, &M) ||
	    s[7] != '-' || digits(s + 8, 2, &D))
		goto bad;
	s += 10;
	if (*s) {
		if ((*s != 'T' && *s != 't' && *s != ' ') || digits(s + 1, 2, &h) || s[3] != ':' ||
		    digits(s + 4, 2, &m) || s[6] != ':' || digits(s + 7, 2, &sec))
			goto bad;
		s += 9;
		if (*s == '.') { /* fractions of a second: accepted, dropped */
			s++;
			if (*s < '0' || *s > '9')
				goto bad;
			while (*s >= '0' && *s <= '9')
				s++;
		}
		if (*s == 'Z' || *s == 'z') {
			s++;
		} else if (*s == '+' || *s == '-') {
			sign = *s == '-' ? -1 : 1;
			if (digits(s + 1, 2, &oh) || s[3] != ':' || digits(s + 4, 2, &om))
				goto bad;
			s += 6;
		} else {
			goto bad; /* a local time without a zone means nothing to a signature */
		}
		if (*s)
			goto bad;
	}
	if (Y < 1970 || M < 1 || M > 12 || D < 1 || D > mdays[M - 1] || h > 23 || m > 59 ||
	    sec > 60 || oh > 23 || om > 59)
		goto bad;
	if (M == 2 && D == 29 && !((Y % 4 == 0 && Y % 100 != 0) || Y % 400 == 0))
		goto bad;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = Y - 1900;
	tm.tm_mon = M - 1;
	tm.tm_mday = D;
	tm.tm_hour = h;
	tm.tm_min = m;
	tm.tm_sec = sec > 59 ? 59 : sec;
	t = timegm(&tm);
	*out = (long long)t - sign * (oh * 3600LL + om * 60LL);
	return 0;
bad:
	cairn_error_set("'%s' is not a UTC time such as 2026-11-01T00:00:00Z", s ? s : "");
	return -1;
}

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
static int dsn_form_ok(const char *dsn)
{
	if (starts_with(dsn, "sqlite:"))
		return dsn[7] != '\0';
	if (is_uri(dsn))
		return 1;
	return strchr(dsn, '=') != NULL;
}

static int env_var_name_ok(const char *s)
{
	if (!*s || isdigit((unsigned char)*s))
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_')
			return 0;
	return 1;
}

/* ------------------------------------------------------------------ */
/* parsing */

static const char *const top_keys[] = { "environments", "defaults", NULL };
static const char *const env_keys[] = {
	"database", "builders", "approvers", "approvals", "after", "receipts_from",
	"admins", "revoked", "lock_timeout", NULL,
};
static const char *const default_keys[] = {
	"builders", "approvers", "approvals", "receipts_from", "admins", "revoked",
	"lock_timeout", NULL,
};
static const char *const db_keys[] = { "dsn", "dsn_env", "dsn_file", NULL };
static const char *const revoked_keys[] = { "key", "since", NULL };

static char *resolve_path(const struct policy_config *c, const char *p)
{
	if (p[0] == '/' || !c->dir || !*c->dir || !strcmp(c->dir, "."))
		return xstrdup(p);
	return path_join(c->dir, p);
}

static int is_string(const struct ynode *v)
{
	return v->type == YNODE_SCALAR && v->len && !ynode_is_null(v);
}

static void key_add(struct policy_config *c, struct policy_keylist *l, const char *key,
		    const struct ynode *v, const char *since, const struct ynode *since_node,
		    int flags)
{
	struct policy_key *k;
	size_t i;

	ALLOC_GROW(l->items, l->n + 1, l->alloc);
	k = &l->items[l->n];
	memset(k, 0, sizeof(*k));
	k->path = xstrdup(v->str);
	k->resolved = resolve_path(c, v->str);
	k->line = v->line;
	k->col = v->col;
	if (since) {
		if (parse_rfc3339(since, &k->since_epoch) < 0)
			diag(c, 0, since_node->line, since_node->col,
			     "'since' must be a UTC time such as 2026-11-01T00:00:00Z, not '%s'",
			     since);
		k->since = xstrdup(since);
	}
	l->n++;
	if (flags & POLICY_CONFIG_NO_KEYS)
		return;
	if (policy_key_load(k, k->resolved) < 0) {
		diag(c, 0, v->line, v->col, "in '%s': %s", key, cairn_error_last());
		return;
	}
	for (i = 0; i + 1 < l->n; i++) {
		if (l->items[i].loaded && !strcmp(l->items[i].key_id, k->key_id)) {
			diag(c, 1, v->line, v->col,
			     "'%s' names key %s twice (line %d and here); it counts once", key,
			     k->key_id, l->items[i].line);
			break;
		}
	}
}

static void parse_keylist(struct policy_config *c, struct policy_keylist *l, const char *key,
			  const struct ynode *v, int flags)
{
	size_t i;

	l->set = 1;
	l->line = v->line;
	l->col = v->col;
	if (ynode_is_null(v))
		return; /* "builders:" with nothing: an explicit empty list */
	if (v->type != YNODE_SEQ) {
		wrong_type(c, key, v, "a list of public key files");
		return;
	}
	for (i = 0; i < v->n; i++) {
		const struct ynode *it = v->items[i];

		if (!is_string(it)) {
			wrong_type(c, key, it, "a list of public key files");
			continue;
		}
		key_add(c, l, key, it, NULL, NULL, flags);
	}
}

static void parse_revoked(struct policy_config *c, struct policy_keylist *l,
			  const struct ynode *v, int flags)
{
	size_t i, j;

	l->set = 1;
	l->line = v->line;
	l->col = v->col;
	if (ynode_is_null(v))
		return;
	if (v->type != YNODE_SEQ) {
		wrong_type(c, "revoked", v, "a list of key files or {key: FILE, since: TIME}");
		return;
	}
	for (i = 0; i < v->n; i++) {
		const struct ynode *it = v->items[i], *key = NULL, *since = NULL;

		if (is_string(it)) {
			key_add(c, l, "revoked", it, NULL, NULL, flags);
			continue;
		}
		if (it->type != YNODE_MAP) {
			wrong_type(c, "revoked", it, "a list of key files or {key: FILE, since: TIME}");
			continue;
		}
		for (j = 0; j < it->n; j++) {
			const struct ynode *k = ynode_key(it, j), *val = ynode_val(it, j);

			if (!strcmp(k->str, "key"))
				key = val;
			else if (!strcmp(k->str, "since"))
				since = val;
			else
				unknown_key(c, k, "a revoked key", revoked_keys);
		}
		if (!key) {
			diag(c, 0, it->line, it->col, "a revoked entry needs 'key: FILE'");
			continue;
		}
		if (!is_string(key)) {
			wrong_type(c, "key", key, "a public key file");
			continue;
		}
		if (since && !is_string(since)) {
			wrong_type(c, "since", since, "a UTC time such as 2026-11-01T00:00:00Z");
			continue;
		}
		key_add(c, l, "revoked", key, since ? since->str : NULL, since, flags);
	}
}

static void parse_database(struct policy_config *c, struct policy_env *e, const struct ynode *v)
{
	const struct ynode *which = NULL, *val = NULL;
	size_t i;

	if (v->type != YNODE_MAP) {
		wrong_type(c, "database", v, "a mapping with one of dsn, dsn_env, dsn_file");
		return;
	}
	for (i = 0; i < v->n; i++) {
		const struct ynode *k = ynode_key(v, i);

		if (strcmp(k->str, "dsn") && strcmp(k->str, "dsn_env") && strcmp(k->str, "dsn_file")) {
			unknown_key(c, k, "database", db_keys);
			continue;
		}
		if (which) {
			diag(c, 0, k->line, k->col,
			     "database has both '%s' (line %d) and '%s'; give exactly one of dsn, "
			     "dsn_env, dsn_file", which->str, which->line, k->str);
			return;
		}
		which = k;
		val = ynode_val(v, i);
	}
	if (!which) {
		if (v->n == 0)
			diag(c, 0, v->line, v->col,
			     "database needs one of dsn, dsn_env, dsn_file");
		return;
	}
	if (!is_string(val)) {
		wrong_type(c, which->str, val, "a string");
		return;
	}
	e->db_line = val->line;
	e->db_col = val->col;
	e->db_written = xstrdup(val->str);
	if (!strcmp(which->str, "dsn")) {
		if (!dsn_form_ok(val->str)) {
			diag(c, 0, val->line, val->col,
			     "'dsn' must be sqlite:PATH, postgres://... or a libpq keyword string "
			     "(host=... dbname=...)");
			return;
		}
		if (dsn_has_password(val->str)) {
			char *masked = dsn_mask(val->str);

			diag(c, 0, val->line, val->col,
			     "'dsn' holds a password ('%s'); secrets never sit in the config: name "
			     "them with dsn_env or dsn_file, or use libpq's PGPASSFILE", masked);
			free(masked);
			return;
		}
		e->db_kind = POLICY_DB_DSN;
		if (starts_with(val->str, "sqlite:") && val->str[7] != '/' &&
		    strcmp(val->str, "sqlite::memory:")) {
			char *p = resolve_path(c, val->str + 7);

			e->db_value = xasprintf("sqlite:%s", p);
			free(p);
		} else {
			e->db_value = xstrdup(val->str);
		}
	} else if (!strcmp(which->str, "dsn_env")) {
		if (!env_var_name_ok(val->str)) {
			diag(c, 0, val->line, val->col,
			     "'dsn_env' must name an environment variable (letters, digits, _), not '%s'",
			     val->str);
			return;
		}
		e->db_kind = POLICY_DB_DSN_ENV;
		e->db_value = xstrdup(val->str);
	} else {
		e->db_kind = POLICY_DB_DSN_FILE;
		e->db_value = resolve_path(c, val->str);
	}
}

static int env_name_ok(const char *s)
{
	if (!*s || *s == '.' || *s == '-' || strlen(s) > 64)
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-' && *s != '.')
			return 0;
	return 1;
}

static void parse_env(struct policy_config *c, struct policy_env *e, const struct ynode *map,
		      int is_defaults, int flags)
{
	const char *const *keys = is_defaults ? default_keys : env_keys;
	const char *where = is_defaults ? "defaults" : e->name;
	size_t i;

	if (ynode_is_null(map))
		return;
	if (map->type != YNODE_MAP) {
		diag(c, 0, map->line, map->col, "'%s' must be a mapping of settings, not %s%s%s",
		     where, map->type == YNODE_SCALAR ? "'" : "",
		     map->type == YNODE_SCALAR ? map->str : ynode_type_name(map->type),
		     map->type == YNODE_SCALAR ? "'" : "");
		return;
	}
	for (i = 0; i < map->n; i++) {
		const struct ynode *k = ynode_key(map, i), *v = ynode_val(map, i);
		size_t j;
		int known = 0;

		for (j = 0; keys[j]; j++)
			if (!strcmp(k->str, keys[j]))
				known = 1;
		if (!known) {
			struct buf w = BUF_INIT;

			buf_printf(&w, is_defaults ? "%s" : "environment '%s'", where);
			if (is_defaults && (!strcmp(k->str, "database") || !strcmp(k->str, "after")))
				diag(c, 0, k->line, k->col,
				     "'%s' belongs to one environment, not to defaults", k->str);
			else
				unknown_key(c, k, buf_cstr(&w), keys);
			buf_release(&w);
			continue;
		}
		if (!strcmp(k->str, "database")) {
			parse_database(c, e, v);
		} else if (!strcmp(k->str, "builders")) {
			parse_keylist(c, &e->builders, k->str, v, flags);
		} else if (!strcmp(k->str, "approvers")) {
			parse_keylist(c, &e->approvers, k->str, v, flags);
		} else if (!strcmp(k->str, "receipts_from")) {
			parse_keylist(c, &e->receipts_from, k->str, v, flags);
		} else if (!strcmp(k->str, "admins")) {
			parse_keylist(c, &e->admins, k->str, v, flags);
		} else if (!strcmp(k->str, "revoked")) {
			parse_revoked(c, &e->revoked, v, flags);
		} else if (!strcmp(k->str, "approvals")) {
			if (ynode_uint(v, &e->approvals) < 0 || !v->plain || e->approvals > 1000) {
				wrong_type(c, k->str, v, "a whole number (how many approvers must sign)");
				continue;
			}
			e->approvals_set = 1;
			e->approvals_line = v->line;
			e->approvals_col = v->col;
		} else if (!strcmp(k->str, "after")) {
			if (!is_string(v)) {
				wrong_type(c, k->str, v, "the name of an environment");
				continue;
			}
			e->after = xstrdup(v->str);
			e->after_line = v->line;
			e->after_col = v->col;
		} else if (!strcmp(k->str, "lock_timeout")) {
			if (v->type != YNODE_SCALAR || parse_duration_ms(v->str, &e->lock_timeout_ms) < 0) {
				wrong_type(c, k->str, v, "a duration such as 30s, 5m or 250ms");
				continue;
			}
			e->lock_timeout_set = 1;
			e->lock_timeout_line = v->line;
			e->lock_timeout_col = v->col;
		}
	}
}

/* The effective list: the environment's own when it sets one, else the
 * defaults'. */
static const struct policy_keylist *eff_list(const struct policy_keylist *own,
					     const struct policy_keylist *def)
{
	return own->set ? own : def;
}

static size_t distinct_keys(const struct policy_keylist *l, int keys_loaded)
{
	size_t i, j, n = 0;

	for (i = 0; i < l->n; i++) {
		for (j = 0; j < i; j++) {
			if (keys_loaded ? !strcmp(l->items[i].key_id, l->items[j].key_id)
					: !strcmp(l->items[i].resolved, l->items[j].resolved))
				break;
		}
		if (j == i)
			n++;
	}
	return n;
}

static void effective_approvals(const struct policy_config *c, const struct policy_env *e,
				unsigned long long *m, int *line, int *col)
{
	const struct policy_keylist *appr = eff_list(&e->approvers, &c->defaults.approvers);

	if (e->approvals_set) {
		*m = e->approvals;
		*line = e->approvals_line;
		*col = e->approvals_col;
	} else if (c->defaults.approvals_set) {
		*m = c->defaults.approvals;
		*line = c->defaults.approvals_line;
		*col = c->defaults.approvals_col;
	} else {
		/* naming approvers without a quorum means one of them */
		*m = appr->n ? 1 : 0;
		*line = *col = 0;
	}
}

const struct policy_keylist *policy_env_list(const struct policy_config *c,
					     const struct policy_env *e, const char *which)
{
	if (!strcmp(which, "builders"))
		return eff_list(&e->builders, &c->defaults.builders);
	if (!strcmp(which, "approvers"))
		return eff_list(&e->approvers, &c->defaults.approvers);
	if (!strcmp(which, "receipts_from"))
		return eff_list(&e->receipts_from, &c->defaults.receipts_from);
	if (!strcmp(which, "admins"))
		return eff_list(&e->admins, &c->defaults.admins);
	return NULL;
}

unsigned long long policy_env_approvals(const struct policy_config *c, const struct policy_env *e)
{
	unsigned long long m;
	int line, col;

	effective_approvals(c, e, &m, &line, &col);
	return m;
}

static void validate(struct policy_config *c, int flags)
{
	size_t i;
	int loaded = !(flags & POLICY_CONFIG_NO_KEYS);

	for (i = 0; i < c->nenvs; i++) {
		struct policy_env *e = &c->envs[i];
		const struct policy_keylist *appr = eff_list(&e->approvers, &c->defaults.approvers);
		unsigned long long m;
		int line, col;
		size_t n = distinct_keys(appr, loaded);

		effective_approvals(c, e, &m, &line, &col);
		if (m > n) {
			if (line > 0)
				diag(c, 0, line, col,
				     "environment '%s' needs %llu approvals but names %zu distinct "
				     "approver%s; add approvers or lower approvals",
				     e->name, m, n, n == 1 ? "" : "s");
		}
		if (!eff_list(&e->builders, &c->defaults.builders)->n)
			diag(c, 1, e->line, e->col,
			     "environment '%s' names no builders: every bundle will be refused there "
			     "(add 'builders: [keys/ci.pub]')", e->name);
		if (e->after) {
			const struct policy_env *prev = policy_config_env(c, e->after);

			if (!prev) {
				const char **names = xcalloc(c->nenvs + 1, sizeof(*names));
				const char *hint;
				size_t j;

				for (j = 0; j < c->nenvs; j++)
					names[j] = c->envs[j].name;
				hint = did_you_mean(e->after, names);
				if (hint)
					diag(c, 0, e->after_line, e->after_col,
					     "'after' names '%s', which is not an environment here; did "
					     "you mean '%s'?", e->after, hint);
				else
					diag(c, 0, e->after_line, e->after_col,
					     "'after' names '%s', which is not an environment here",
					     e->after);
				free(names);
			} else if (prev == e) {
				diag(c, 0, e->after_line, e->after_col,
				     "environment '%s' cannot come after itself", e->name);
			} else {
				unsigned long long pm;
				int pl, pc;

				effective_approvals(c, prev, &pm, &pl, &pc);
				if (!pm && !eff_list(&prev->approvers, &c->defaults.approvers)->n)
					diag(c, 0, e->after_line, e->after_col,
					     "'after: %s' cannot be met: '%s' has no approvers, so no "
					     "approval for it can count; give '%s' approvers, or use "
					     "receipts_from to require that the bundle ran there",
					     e->after, e->after, e->after);
			}
		}
	}
	/* cycles: each environment has at most one 'after', so follow the chain */
	for (i = 0; i < c->nenvs; i++) {
		const struct policy_env *e = &c->envs[i], *p = e;
		size_t steps = 0;

		while (p && p->after && steps <= c->nenvs) {
			p = policy_config_env(c, p->after);
			if (p == &c->envs[i])
				break;
			steps++;
		}
		if (p == &c->envs[i] && e->after && strcmp(e->after, e->name)) {
			struct buf chain = BUF_INIT;
			int first = 1;

			/* report a cycle once, at its first environment in the file */
			p = e;
			do {
				p = policy_config_env(c, p->after);
				if (p < e)
					first = 0;
			} while (p != e);
			if (!first)
				continue;

			p = e;
			buf_puts(&chain, e->name);
			do {
				p = policy_config_env(c, p->after);
				buf_printf(&chain, " -> %s", p->name);
			} while (p != e);
			diag(c, 0, e->after_line, e->after_col, "'after' makes a cycle: %s",
			     buf_cstr(&chain));
			buf_release(&chain);
		}
	}
}

/* In file order, as a compiler reports (stable: insertion sort). */
static void sort_diags(struct policy_config *c)
{
	size_t i, j;

	for (i = 1; i < c->ndiags; i++) {
		struct policy_diag d = c->diags[i];

		for (j = i; j > 0; j--) {
			const struct policy_diag *q = &c->diags[j - 1];

			if (q->line < d.line || (q->line == d.line && q->col <= d.col))
				break;
			c->diags[j] = c->diags[j - 1];
		}
		c->diags[j] = d;
	}
}

int policy_config_parse(struct policy_config *c, const char *data, size_t len, const char *path,
			const char *dir, int flags)
{
	struct ynode *root = NULL;
	const struct ynode *envs = NULL;
	size_t i;

	free(c->path);
	free(c->dir);
	c->path = xstrdup(path);
	c->dir = xstrdup(dir ? dir : ".");
	if (yaml_load(&root, data, len, path) < 0) {
		int line, col;

		yaml_last_error_mark(&line, &col);
		diag(c, 0, line, col, "%s", yaml_strip_mark(cairn_error_last()));
		goto out;
	}
	if (!root) {
		diag(c, 0, 0, 0, "the config is empty; it needs 'environments:' with at least one "
				 "environment (see cairn-apply(1))");
		goto out;
	}
	if (root->type != YNODE_MAP) {
		diag(c, 0, root->line, root->col,
		     "expected a mapping with 'environments:', found %s",
		     ynode_type_name(root->type));
		goto out;
	}
	c->defaults.name = xstrdup("defaults");
	for (i = 0; i < root->n; i++) {
		const struct ynode *k = ynode_key(root, i), *v = ynode_val(root, i);

		if (!strcmp(k->str, "environments"))
			envs = v;
		else if (!strcmp(k->str, "defaults"))
			parse_env(c, &c->defaults, v, 1, flags);
		else
			unknown_key(c, k, "the config", top_keys);
	}
	if (!envs || ynode_is_null(envs) || (envs->type == YNODE_MAP && !envs->n)) {
		diag(c, 0, envs ? envs->line : root->line, envs ? envs->col : root->col,
		     "no environments: add 'environments:' with at least one entry such as "
		     "'dev: {database: {dsn: \"sqlite:dev.db\"}, builders: [keys/ci.pub]}'");
		goto out;
	}
	if (envs->type != YNODE_MAP) {
		wrong_type(c, "environments", envs, "a mapping of environment names to settings");
		goto out;
	}
	for (i = 0; i < envs->n; i++) {
		const struct ynode *k = ynode_key(envs, i), *v = ynode_val(envs, i);
		struct policy_env *e;

		if (!env_name_ok(k->str)) {
			diag(c, 0, k->line, k->col,
			     "environment name '%s' must be letters, digits, '_', '-' or '.', "
			     "at most 64, not starting with '.' or '-'", k->str);
			continue;
		}
		ALLOC_GROW(c->envs, c->nenvs + 1, c->envs_alloc);
		e = &c->envs[c->nenvs++];
		memset(e, 0, sizeof(*e));
		e->name = xstrdup(k->str);
		e->line = k->line;
		e->col = k->col;
		parse_env(c, e, v, 0, flags);
	}
	validate(c, flags);
out:
	ynode_free(root);
	sort_diags(c);
	if (c->errors) {
		size_t j;

		for (j = 0; j < c->ndiags; j++) {
			if (!c->diags[j].warning) {
				cairn_error_set("%s", c->diags[j].msg);
				break;
			}
		}
		return -1;
	}
	return 0;
}

int policy_config_load(struct policy_config *c, const char *path, int flags)
{
	struct buf data = BUF_INIT;
	char *dir, *slash;
	int rc;

	buf_init(&data, POLICY_CONFIG_MAX_SIZE);
	if (read_file(path, POLICY_CONFIG_MAX_SIZE, &data) < 0) {
		buf_release(&data);
		return -1;
	}
	dir = xstrdup(path);
	slash = strrchr(dir, '/');
	if (!slash) {
		free(dir);
		dir = xstrdup(".");
	} else if (slash == dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	rc = policy_config_parse(c, data.ptr, data.len, path, dir, flags);
	free(dir);
	buf_release(&data);
	return rc;
}

const char *policy_config_path(const char *flag, const char *env_value, const char **source)
{
	if (flag && *flag) {
		*source = "flag";
		return flag;
	}
	if (env_value && *env_value) {
		*source = "env";
		return env_value;
	}
	*source = "default";
	return POLICY_CONFIG_FILE;
}

const struct policy_env *policy_config_env(const struct policy_config *c, const char *name)
{
	size_t i;

	if (!name)
		return NULL;
	for (i = 0; i < c->nenvs; i++)
		if (!strcmp(c->envs[i].name, name))
			return &c->envs[i];
	return NULL;
}

void policy_config_unknown_env(const struct policy_config *c, const char *name, struct buf *msg)
{
	const char **names = xcalloc(c->nenvs + 1, sizeof(*names));
	const char *hint;
	size_t i;

	for (i = 0; i < c->nenvs; i++)
		names[i] = c->envs[i].name;
	hint = did_you_mean(name, names);
	buf_printf(msg, "environment '%s' is not in '%s'", name, c->path);
	if (hint) {
		buf_printf(msg, "; did you mean '%s'?", hint);
	} else {
		buf_puts(msg, " (it has ");
		for (i = 0; i < c->nenvs; i++)
			buf_printf(msg, "%s'%s'", i ? ", " : "", c->envs[i].name);
		buf_puts(msg, ")");
	}
	free(names);
}

/* ------------------------------------------------------------------ */
/* merging */

const char *policy_source_name(enum policy_source s)
{
	switch (s) {
	case POLICY_SRC_FLAG:
		return "flag";
	case POLICY_SRC_ENV:
		return "env";
	case POLICY_SRC_FILE:
		return "file";
	case POLICY_SRC_DEFAULT:
		break;
	}
	return "default";
}

static void setting(struct policy_setting *s, enum policy_source src, char *origin)
{
	s->source = src;
	free(s->origin);
	s->origin = origin;
}

static char *file_origin(const struct policy_config *c, int line, int col)
{
	return xasprintf("%s:%d:%d", c->path, line, col);
}

int policy_resolve(struct policy_resolved *r, const struct policy_config *c,
		   const struct policy_inputs *in, int *usage)
{
	const struct policy_env *e;
	const struct policy_env *d = &c->defaults;
	const char *name;
	size_t i;

	memset(r, 0, sizeof(*r));
	*usage = 0;
	if (in->flag_env && *in->flag_env) {
		name = in->flag_env;
		setting(&r->env_name_src, POLICY_SRC_FLAG, xstrdup("--env"));
	} else if (in->env_env && *in->env_env) {
		name = in->env_env;
		setting(&r->env_name_src, POLICY_SRC_ENV, xstrdup("CAIRN_ENV"));
	} else {
		struct buf m = BUF_INIT;

		buf_puts(&m, "no environment named: pass --env ENV or set CAIRN_ENV (");
		for (i = 0; i < c->nenvs; i++)
			buf_printf(&m, "%s'%s'", i ? ", " : "", c->envs[i].name);
		buf_printf(&m, " in '%s')", c->path);
		cairn_error_set("%s", buf_cstr(&m));
		buf_release(&m);
		*usage = 1;
		goto fail;
	}
	e = policy_config_env(c, name);
	if (!e) {
		struct buf m = BUF_INIT;

		policy_config_unknown_env(c, name, &m);
		cairn_error_set("%s", buf_cstr(&m));
		buf_release(&m);
		*usage = 1;
		goto fail;
	}
	r->env = e;
	r->env_name = xstrdup(e->name);

	/* database: --db, CAIRN_DB, the file */
	if (in->flag_db && *in->flag_db) {
		r->db_kind = POLICY_DB_DSN;
		r->db_value = xstrdup(in->flag_db);
		setting(&r->db_src, POLICY_SRC_FLAG, xstrdup("--db"));
	} else if (in->env_db && *in->env_db) {
		r->db_kind = POLICY_DB_DSN;
		r->db_value = xstrdup(in->env_db);
		setting(&r->db_src, POLICY_SRC_ENV, xstrdup("CAIRN_DB"));
	} else if (e->db_kind != POLICY_DB_NONE) {
		r->db_kind = e->db_kind;
		r->db_value = xstrdup(e->db_value);
		setting(&r->db_src, POLICY_SRC_FILE, file_origin(c, e->db_line, e->db_col));
	} else {
		r->db_kind = POLICY_DB_NONE;
		setting(&r->db_src, POLICY_SRC_DEFAULT, xstrdup("none"));
	}
	if (r->db_kind == POLICY_DB_DSN && r->db_src.source != POLICY_SRC_FILE &&
	    !dsn_form_ok(r->db_value)) {
		char *masked = dsn_mask(r->db_value);

		cairn_error_set("%s: '%s' is not a DSN: use sqlite:PATH, postgres://... or a "
				"libpq keyword string (host=... dbname=...)",
				r->db_src.origin, masked);
		free(masked);
		*usage = 1;
		goto fail;
	}

	/* lock timeout: --lock-timeout, CAIRN_LOCK_TIMEOUT, environment, defaults, built-in */
	if (in->flag_lock_timeout && *in->flag_lock_timeout) {
		if (parse_duration_ms(in->flag_lock_timeout, &r->lock_timeout_ms) < 0) {
			cairn_error_set("--lock-timeout must be a duration such as 30s, 5m or 250ms, "
					"not '%s'", in->flag_lock_timeout);
			*usage = 1;
			goto fail;
		}
		setting(&r->lock_timeout_src, POLICY_SRC_FLAG, xstrdup("--lock-timeout"));
	} else if (in->env_lock_timeout && *in->env_lock_timeout) {
		if (parse_duration_ms(in->env_lock_timeout, &r->lock_timeout_ms) < 0) {
			cairn_error_set("CAIRN_LOCK_TIMEOUT must be a duration such as 30s, 5m or "
					"250ms, not '%s'; fix or unset it", in->env_lock_timeout);
			*usage = 1;
			goto fail;
		}
		setting(&r->lock_timeout_src, POLICY_SRC_ENV, xstrdup("CAIRN_LOCK_TIMEOUT"));
	} else if (e->lock_timeout_set) {
		r->lock_timeout_ms = e->lock_timeout_ms;
		setting(&r->lock_timeout_src, POLICY_SRC_FILE,
			file_origin(c, e->lock_timeout_line, e->lock_timeout_col));
	} else if (d->lock_timeout_set) {
		r->lock_timeout_ms = d->lock_timeout_ms;
		setting(&r->lock_timeout_src, POLICY_SRC_FILE,
			file_origin(c, d->lock_timeout_line, d->lock_timeout_col));
	} else {
		r->lock_timeout_ms = POLICY_DEFAULT_LOCK_TIMEOUT_MS;
		setting(&r->lock_timeout_src, POLICY_SRC_DEFAULT, xstrdup("built-in"));
	}

	/* the trust policy: from the file only, never from flags or variables */
	r->builders = eff_list(&e->builders, &d->builders);
	r->approvers = eff_list(&e->approvers, &d->approvers);
	r->receipts_from = eff_list(&e->receipts_from, &d->receipts_from);
	r->admins = eff_list(&e->admins, &d->admins);
	for (i = 0; i < d->revoked.n + e->revoked.n; i++) {
		const struct policy_key *k = i < d->revoked.n ? &d->revoked.items[i]
							       : &e->revoked.items[i - d->revoked.n];
		struct policy_key *copy;

		ALLOC_GROW(r->revoked.items, r->revoked.n + 1, r->revoked.alloc);
		copy = &r->revoked.items[r->revoked.n++];
		*copy = *k;
		copy->path = xstrdup(k->path);
		copy->resolved = xstrdup(k->resolved);
		copy->since = k->since ? xstrdup(k->since) : NULL;
	}
	r->revoked.set = d->revoked.set || e->revoked.set;
	{
		int line, col;

		effective_approvals(c, e, &r->approvals, &line, &col);
		if (line > 0)
			setting(&r->approvals_src, POLICY_SRC_FILE, file_origin(c, line, col));
		else
			setting(&r->approvals_src, POLICY_SRC_DEFAULT,
				xstrdup(r->approvers->n ? "one of the approvers" : "built-in"));
	}
	return 0;
fail:
	policy_resolved_release(r);
	return -1;
}

void policy_resolved_release(struct policy_resolved *r)
{
	if (!r)
		return;
	free(r->env_name);
	free(r->env_name_src.origin);
	free(r->db_value);
	free(r->db_src.origin);
	free(r->lock_timeout_src.origin);
	free(r->approvals_src.origin);
	keylist_release(&r->revoked);
	memset(r, 0, sizeof(*r));
}

int policy_database_dsn(const struct policy_resolved *r, char **out)
{
	struct buf b = BUF_INIT;
	struct stat st;
	const char *v;

	*out = NULL;
	switch (r->db_kind) {
	case POLICY_DB_NONE:
		cairn_error_set("environment '%s' names no database: pass --db DSN, set CAIRN_DB, "
				"or add 'database:' to it in the config", r->env_name);
		return -1;
	case POLICY_DB_DSN:
		*out = xstrdup(r->db_value);
		return 0;
	case POLICY_DB_DSN_ENV:
		v = getenv(r->db_value);
		if (!v || !*v) {
			cairn_error_set("the environment variable '%s' (dsn_env at %s) is not set; "
					"export it with the database's DSN, or pass --db",
					r->db_value, r->db_src.origin);
			return -1;
		}
		*out = xstrdup(v);
		return 0;
	case POLICY_DB_DSN_FILE:
		if (stat(r->db_value, &st) == 0 && (st.st_mode & S_IROTH)) {
			cairn_error_set("'%s' (dsn_file at %s) is readable by every user; run "
					"'chmod o-rwx %s'", r->db_value, r->db_src.origin, r->db_value);
			return -1;
		}
		buf_init(&b, 64 << 10);
		if (read_file(r->db_value, 64 << 10, &b) < 0) {
			char why[CAIRN_ERRMSG_MAX];

			(void)snprintf(why, sizeof(why), "%s", cairn_error_last());
			cairn_error_set("%s (dsn_file at %s); create it with the DSN on one line, "
					"mode 0600", why, r->db_src.origin);
			buf_release(&b);
			return -1;
		}
		while (b.len && isspace((unsigned char)b.ptr[b.len - 1]))
			b.ptr[--b.len] = '\0';
		if (!b.len || memchr(b.ptr, '\n', b.len)) {
			cairn_error_set("the DSN file '%s' (dsn_file at %s) must hold one line, the DSN",
					r->db_value, r->db_src.origin);
			OPENSSL_cleanse(b.ptr, b.alloc);
			buf_release(&b);
			return -1;
		}
		*out = xstrdup(b.ptr);
		OPENSSL_cleanse(b.ptr, b.alloc);
		buf_release(&b);
		return 0;
	}
	return -1;
}
