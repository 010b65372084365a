/* cairn.yaml: the project's configuration, parsed into struct config with a
 * finding for every bad key or value. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/error.h"
#include "../lib/util.h"
#include "../lib/yaml.h"
#include "project.h"
#include "yaml-keys.h"

void config_init(struct config *c)
{
	memset(c, 0, sizeof(*c));
	c->migrations_dir = xstrdup("migrations");
	lint_config_init(&c->lint);
	c->style = STYLE_TIMESTAMP;
	c->ordering = ORDER_STRICT;
	c->max_file_size = DEFAULT_MAX_FILE_SIZE;
	c->max_data_size = DEFAULT_MAX_DATA_SIZE;
}

void config_release(struct config *c)
{
	free(c->name);
	free(c->repository);
	free(c->migrations_dir);
	strlist_release(&c->drivers);
	strlist_release(&c->release_refs);
	memset(c, 0, sizeof(*c));
}

static const char *const config_keys[] = {
	"name", "migrations", "version_style", "drivers", "release_refs", "ordering",
	"max_file_size", "max_data_size", "repository", "allow_noop", "lint", "postgres", "sqlite", NULL,
};

/* lint: {RULE: error|warning|off, ...}; "all" sets every rule first. */
static void parse_lint_levels(struct config *c, struct findings *f, const struct ynode *k,
			      const struct ynode *v)
{
	size_t i;

	if (v->type != YNODE_MAP) {
		wrong_type(f, CONFIG_FILE, k->str, v, "a map of rule ids to error, warning or off");
		return;
	}
	for (i = 0; i < v->n; i++) {
		const struct ynode *rk = ynode_key(v, i), *rv = ynode_val(v, i);

		if (lint_rule_find(rk->str) < 0 && strcmp(rk->str, "all"))
			findings_add(f, SEV_ERROR, CONFIG_FILE, rk->line, rk->col, "unknown-key",
				     "lint: '%s' is not a lint rule (docs/lint.md lists them)", rk->str);
		else if (rv->type != YNODE_SCALAR || lint_config_set(&c->lint, rk->str, rv->str) < 0)
			wrong_type(f, CONFIG_FILE, rk->str, rv, "error, warning or off");
	}
}

/* postgres: {version: 13}: the server the migrations meet. */
static void parse_postgres(struct config *c, struct findings *f, const struct ynode *k,
			   const struct ynode *v)
{
	size_t i;

	if (v->type != YNODE_MAP) {
		wrong_type(f, CONFIG_FILE, k->str, v, "a map such as {version: 13}");
		return;
	}
	for (i = 0; i < v->n; i++) {
		const struct ynode *pk = ynode_key(v, i), *pv = ynode_val(v, i);
		char *end = NULL;
		long n = pv->type == YNODE_SCALAR ? strtol(pv->str, &end, 10) : 0;

		if (strcmp(pk->str, "version"))
			findings_add(f, SEV_ERROR, CONFIG_FILE, pk->line, pk->col, "unknown-key",
				     "unknown key 'postgres: %s' (cairn knows postgres: {version: N})",
				     pk->str);
		else if (n < 9 || n > 99 || !end || (*end && *end != '.'))
			wrong_type(f, CONFIG_FILE, pk->str, pv, "a PostgreSQL major version such as 13");
		else
			c->lint.pg_version = (int)n;
	}
}

/* sqlite: {version: 3.31}: the oldest SQLite the migrations meet, as
 * SQLITE_VERSION_NUMBER counts (3031000). */
static void parse_sqlite(struct config *c, struct findings *f, const struct ynode *k,
			 const struct ynode *v)
{
	size_t i;

	if (v->type != YNODE_MAP) {
		wrong_type(f, CONFIG_FILE, k->str, v, "a map such as {version: 3.31}");
		return;
	}
	for (i = 0; i < v->n; i++) {
		const struct ynode *sk = ynode_key(v, i), *sv = ynode_val(v, i);
		unsigned major = 0, minor = 0, patch = 0;
		int n = 0, got = sv->type == YNODE_SCALAR
					 ? sscanf(sv->str, "%u.%u%n.%u%n", &major, &minor, &n, &patch, &n)
					 : 0;

		if (strcmp(sk->str, "version"))
			findings_add(f, SEV_ERROR, CONFIG_FILE, sk->line, sk->col, "unknown-key",
				     "unknown key 'sqlite: %s' (cairn knows sqlite: {version: 3.N})",
				     sk->str);
		else if (got < 2 || sv->str[n] || major != 3 || minor > 999 || patch > 999)
			wrong_type(f, CONFIG_FILE, sk->str, sv, "a SQLite version such as 3.31");
		else
			c->lint.sqlite_version = (int)(major * 1000000 + minor * 1000 + patch);
	}
}

/* drivers: a list of known driver names. */
static void parse_drivers(struct config *c, struct findings *f, const struct ynode *k,
			  const struct ynode *v)
{
	struct strlist l = { NULL, 0, 0 };
	size_t j;

	if (string_list(&l, NULL, f, CONFIG_FILE, k->str, v) == 0) {
		for (j = 0; j < l.n; j++) {
			if (!driver_is_known(l.items[j]))
				findings_add(f, SEV_ERROR, CONFIG_FILE, v->line, v->col,
					     "unknown-driver",
					     "unknown driver '%s' (cairn knows sqlite and postgres)",
					     l.items[j]);
		}
		strlist_release(&c->drivers);
		c->drivers = l;
	} else {
		strlist_release(&l); /* the items read before the bad one */
	}
}

/* release_refs: full ref names (or patterns). */
static void parse_release_refs(struct config *c, struct findings *f, const struct ynode *k,
			       const struct ynode *v)
{
	size_t j;

	strlist_release(&c->release_refs);
	if (string_list(&c->release_refs, NULL, f, CONFIG_FILE, k->str, v) == 0)
		c->release_refs_set = 1;
	/* "main" would silently match nothing and protect nothing */
	for (j = 0; j < c->release_refs.n; j++)
		if (!starts_with(c->release_refs.items[j], "refs/"))
			findings_add(f, SEV_ERROR, CONFIG_FILE, v->line, v->col, "bad-value",
				     "release_refs entry '%s' is not a full ref name, so it would match nothing; write refs/heads/%s or refs/tags/%s",
				     c->release_refs.items[j], c->release_refs.items[j],
				     c->release_refs.items[j]);
}

int config_parse(struct config *c, const char *data, size_t len, struct findings *f)
{
	struct ynode *root = NULL;
	size_t i;
	int rc = 0;

	if (yaml_load(&root, data, len, CONFIG_FILE) < 0) {
		yaml_finding(f, CONFIG_FILE);
		return 0;
	}
	if (!root)
		return 0; /* empty: all defaults */
	if (root->type != YNODE_MAP) {
		findings_add(f, SEV_ERROR, CONFIG_FILE, root->line, root->col, "not-a-mapping",
			     "expected a mapping of settings (key: value), found %s",
			     ynode_type_name(root->type));
		goto out;
	}
	for (i = 0; i < root->n; i++) {
		const struct ynode *k = ynode_key(root, i), *v = ynode_val(root, i);

		if (!strcmp(k->str, "name")) {
			if (v->type != YNODE_SCALAR || !v->len)
				wrong_type(f, CONFIG_FILE, k->str, v, "a string");
			else {
				free(c->name);
				c->name = xstrdup(v->str);
			}
		} else if (!strcmp(k->str, "repository")) {
			/* what a bundle names as its source: the project's word,
			 * never the clone's remote, which differs per clone */
			if (v->type != YNODE_SCALAR || !v->len)
				wrong_type(f, CONFIG_FILE, k->str, v, "a URL");
			else {
				free(c->repository);
				c->repository = xstrdup(v->str);
			}
		} else if (!strcmp(k->str, "migrations")) {
			if (v->type != YNODE_SCALAR || !v->len || v->str[0] == '/' ||
			    strstr(v->str, "..")) {
				wrong_type(f, CONFIG_FILE, k->str, v,
					   "a directory relative to the project, without '..'");
			} else {
				free(c->migrations_dir);
				c->migrations_dir = xstrdup(v->str);
				/* drop a trailing '/' */
				while (strlen(c->migrations_dir) > 1 &&
				       ends_with(c->migrations_dir, "/"))
					c->migrations_dir[strlen(c->migrations_dir) - 1] = '\0';
			}
		} else if (!strcmp(k->str, "version_style")) {
			if (v->type == YNODE_SCALAR && !strcmp(v->str, "timestamp"))
				c->style = STYLE_TIMESTAMP;
			else if (v->type == YNODE_SCALAR && !strcmp(v->str, "sequence"))
				c->style = STYLE_SEQUENCE;
			else
				wrong_type(f, CONFIG_FILE, k->str, v, "'timestamp' or 'sequence'");
		} else if (!strcmp(k->str, "drivers")) {
			parse_drivers(c, f, k, v);
		} else if (!strcmp(k->str, "release_refs")) {
			parse_release_refs(c, f, k, v);
		} else if (!strcmp(k->str, "ordering")) {
			if (v->type == YNODE_SCALAR && !strcmp(v->str, "strict"))
				c->ordering = ORDER_STRICT;
			else if (v->type == YNODE_SCALAR && !strcmp(v->str, "allow-out-of-order"))
				c->ordering = ORDER_ALLOW_OUT_OF_ORDER;
			else
				wrong_type(f, CONFIG_FILE, k->str, v,
					   "'strict' or 'allow-out-of-order'");
		} else if (!strcmp(k->str, "max_file_size")) {
			unsigned long long sz;

			if (v->type != YNODE_SCALAR || parse_size(v->str, &sz) < 0 || !sz)
				wrong_type(f, CONFIG_FILE, k->str, v, "a size such as 16MiB");
			else
				c->max_file_size = sz;
		} else if (!strcmp(k->str, "allow_noop")) {
			if (ynode_bool(v, &c->allow_noop) < 0)
				wrong_type(f, CONFIG_FILE, k->str, v, "true or false");
		} else if (!strcmp(k->str, "max_data_size")) {
			unsigned long long sz;

			if (v->type != YNODE_SCALAR || parse_size(v->str, &sz) < 0 || !sz)
				wrong_type(f, CONFIG_FILE, k->str, v, "a size such as 4GiB");
			else
				c->max_data_size = sz;
		} else if (!strcmp(k->str, "lint")) {
			parse_lint_levels(c, f, k, v);
		} else if (!strcmp(k->str, "postgres")) {
			parse_postgres(c, f, k, v);
		} else if (!strcmp(k->str, "sqlite")) {
			parse_sqlite(c, f, k, v);
		} else {
			unknown_key(f, CONFIG_FILE, k, config_keys);
		}
	}
out:
	ynode_free(root);
	return rc;
}
