#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/callbacks.h"
#include "../lib/error.h"
#include "../lib/util.h"
#include "../lib/yaml.h"
#include "project.h"
#include "yaml-keys.h"

const char *const known_drivers[] = { "sqlite", "postgres", NULL };

int driver_is_known(const char *name)
{
	size_t i;

	for (i = 0; known_drivers[i]; i++)
		if (!strcmp(known_drivers[i], name))
			return 1;
	return 0;
}

const struct mig_file *migration_file(const struct migration *m, enum mig_role role,
				      const char *driver)
{
	const struct mig_file *generic = NULL;
	size_t i;

	/* what an operation generates wins: check refuses the source's own */
	for (i = 0; driver && i < m->ngen; i++)
		if (m->gen[i].role == role && !strcmp(m->gen[i].driver, driver))
			return &m->gen[i];
	for (i = 0; i < m->nfiles; i++) {
		const struct mig_file *fl = &m->files[i];

		if (fl->role != role)
			continue;
		if (driver && fl->driver && !strcmp(fl->driver, driver))
			return fl;
		if (!fl->driver)
			generic = fl;
	}
	return generic;
}

struct migration *project_find(const struct project *p, const char *name)
{
	size_t i;
	int digits = 1;
	const char *s;

	for (s = name; *s; s++)
		digits &= isdigit((unsigned char)*s) != 0;
	for (i = 0; i < p->n; i++) {
		struct migration *m = p->migs[i];

		if (!strcmp(m->dir, name) || (digits && *name && !version_cmp(m->version, name)))
			return m;
	}
	return NULL;
}

void migration_free(struct migration *m)
{
	size_t i;

	if (!m)
		return;
	for (i = 0; i < m->nfiles; i++) {
		free(m->files[i].name);
		free(m->files[i].path);
		free(m->files[i].driver);
	}
	free(m->files);
	for (i = 0; i < m->ngen; i++) {
		free(m->gen[i].name);
		free(m->gen[i].path);
		free(m->gen[i].driver);
		free(m->gen[i].content);
	}
	free(m->gen);
	operation_free(m->op);
	free(m->dir);
	free(m->path);
	free(m->version);
	free(m->slug);
	free(m->description);
	strlist_release(&m->requires);
	free(m->requires_line);
	strlist_release(&m->environments);
	strlist_release(&m->lint_allow);
	free(m->lint_allow_line);
	while (m->nwaivers--) {
		free(m->waivers[m->nwaivers].file);
		free(m->waivers[m->nwaivers].reason);
	}
	free(m->waivers);
	free(m->prov_commit);
	free(m->prov_author);
	free(m->prov_date);
	free(m->deps);
	free(m);
}

void project_free(struct project *p)
{
	size_t i;

	if (!p)
		return;
	for (i = 0; i < p->n; i++)
		migration_free(p->migs[i]);
	free(p->migs);
	free(p->order);
	for (i = 0; i < p->ncallbacks; i++) {
		free(p->callbacks[i].name);
		free(p->callbacks[i].path);
	}
	free(p->callbacks);
	for (i = 0; i < p->ncallback_waivers; i++) {
		free(p->callback_waivers[i].file);
		free(p->callback_waivers[i].reason);
	}
	free(p->callback_waivers);
	lint_sqlite_free(p->lint_db);
	free(p->lint_cache_dir);
	config_release(&p->cfg);
	free(p);
}

/* Splits "VERSION_slug" and says what is wrong with a name, or NULL. */
static const char *parse_dir_name(const char *name, char **version, char **slug)
{
	const char *s = name, *u;

	*version = *slug = NULL;
	while (isdigit((unsigned char)*s))
		s++;
	if (s == name)
		return "does not start with a version number";
	if (*s != '_' || !s[1])
		return "needs '_' and a name after the version";
	for (u = s + 1; *u; u++) {
		if (isupper((unsigned char)*u))
			return "has upper-case letters in its name (use lower case)";
		if (!(islower((unsigned char)*u) || isdigit((unsigned char)*u) || *u == '_' ||
		      *u == '-'))
			return "may only use a-z, 0-9, '_' and '-' in its name";
	}
	*version = xstrndup(name, (size_t)(s - name));
	*slug = xstrdup(s + 1);
	return NULL;
}

static const char *const meta_keys[] = {
	"description", "requires", "transaction", "irreversible", "destructive",
	"environments", "kind", "timeout", "lock_timeout", "noop", "lint", "phase", "imported", "batch",
	"operation", NULL,
};

static void parse_bool_key(struct findings *f, const char *path, const struct ynode *k,
			   const struct ynode *v, int *out)
{
	if (ynode_bool(v, out) < 0)
		wrong_type(f, path, k->str, v, "true or false");
}

/* transaction: true|false, or per driver: {postgres: false, sqlite: true};
 * a driver the map leaves out runs in a transaction. */
static void parse_transaction(struct migration *m, struct findings *f, const char *path,
			      const struct ynode *k, const struct ynode *v)
{
	size_t i, d;

	if (v->type != YNODE_MAP) {
		if (ynode_bool(v, &m->transaction) < 0)
			wrong_type(f, path, k->str, v,
				   "true, false, or a map of drivers such as {postgres: false}");
		return;
	}
	for (i = 0; i < v->n; i++) {
		const struct ynode *dk = ynode_key(v, i), *dv = ynode_val(v, i);
		int on;

		for (d = 0; known_drivers[d] && strcmp(known_drivers[d], dk->str); d++)
			;
		if (!known_drivers[d]) {
			const char *hint = did_you_mean(dk->str, known_drivers);

			findings_add(f, SEV_ERROR, path, dk->line, dk->col, "unknown-driver",
				     "transaction: names driver '%s', which cairn does not know%s%s%s",
				     dk->str, hint ? "; did you mean '" : " (known: sqlite, postgres)",
				     hint ? hint : "", hint ? "'?" : "");
		} else if (ynode_bool(dv, &on) < 0) {
			wrong_type(f, path, dk->str, dv, "true or false");
		} else {
			m->tx_driver[d] = 1 + on;
		}
	}
}

int migration_transaction(const struct migration *m, const char *driver)
{
	size_t d;

	for (d = 0; driver && known_drivers[d]; d++)
		if (!strcmp(known_drivers[d], driver) && m->tx_driver[d])
			return m->tx_driver[d] - 1;
	return m->transaction;
}

static void parse_duration_key(struct findings *f, const char *path, const struct ynode *k,
			       const struct ynode *v, unsigned long long *out)
{
	if (v->type != YNODE_SCALAR || parse_duration_ms(v->str, out) < 0)
		wrong_type(f, path, k->str, v, "a duration such as 30s, 5m or 500ms");
}

/* max_replication_lag: a duration (5s: the standby's replay_lag) or a byte
 * size with its unit (16MB: WAL not yet replayed). A bare number or 16m
 * reads as a duration, as everywhere else in migration.yaml. */
static void parse_lag_key(struct migration *m, struct findings *f, const char *path,
			  const struct ynode *k, const struct ynode *v)
{
	if (v->type == YNODE_SCALAR && (parse_duration_ms(v->str, &m->throttle.max_lag_ms) == 0 ||
					parse_size(v->str, &m->throttle.max_lag_bytes) == 0))
		return;
	wrong_type(f, path, k->str, v, "a duration such as 5s or a byte size such as 16MB");
}

/* batch: {size: 1000, pause: 200ms, max_duration: 10m, max_replication_lag: 5s}
 * (issue #22): the throttle of a kind: batch migration; checked against
 * kind when the whole file is read. */
static void parse_meta_batch(struct migration *m, struct findings *f, const char *path,
			     const struct ynode *k, const struct ynode *v)
{
	size_t i;

	m->throttle_line = k->line;
	if (v->type != YNODE_MAP) {
		wrong_type(f, path, k->str, v,
			   "a map such as {size: 1000, pause: 200ms, max_duration: 10m}");
		return;
	}
	for (i = 0; i < v->n; i++) {
		const struct ynode *bk = ynode_key(v, i), *bv = ynode_val(v, i);
		unsigned long long *out = NULL;

		if (!strcmp(bk->str, "size")) {
			char *end = NULL;

			if (bv->type != YNODE_SCALAR || !isdigit((unsigned char)bv->str[0]) ||
			    (m->throttle.size = strtoull(bv->str, &end, 10)) == 0 || *end ||
			    m->throttle.size > 1000000000ULL)
				wrong_type(f, path, "batch: size", bv, "a number of rows, 1 or more");
			continue;
		}
		if (!strcmp(bk->str, "pause"))
			out = &m->throttle.pause_ms;
		else if (!strcmp(bk->str, "max_duration"))
			out = &m->throttle.max_duration_ms;
		else if (!strcmp(bk->str, "max_replication_lag")) {
			parse_lag_key(m, f, path, bk, bv);
			continue;
		}
		if (!out) {
			findings_add(f, SEV_ERROR, path, bk->line, bk->col, "unknown-key",
				     "unknown key 'batch: %s' (cairn knows batch: {size, pause, "
				     "max_duration, max_replication_lag})", bk->str);
			continue;
		}
		parse_duration_key(f, path, bk, bv, out);
	}
}

/* lint: {allow: [rule-id, ...]}: the findings this migration waives. */
static void parse_meta_lint(struct migration *m, struct findings *f, const char *path,
			    const struct ynode *k, const struct ynode *v)
{
	size_t i, j;

	if (v->type != YNODE_MAP) {
		wrong_type(f, path, k->str, v, "a map such as {allow: [drop-column]}");
		return;
	}
	for (i = 0; i < v->n; i++) {
		const struct ynode *lk = ynode_key(v, i), *lv = ynode_val(v, i);

		if (strcmp(lk->str, "allow")) {
			findings_add(f, SEV_ERROR, path, lk->line, lk->col, "unknown-key",
				     "unknown key 'lint: %s' (cairn knows lint: {allow: [rule-id]})",
				     lk->str);
			continue;
		}
		if (string_list(&m->lint_allow, &m->lint_allow_line, f, path, lk->str, lv) < 0)
			continue;
		for (j = 0; j < m->lint_allow.n; j++)
			if (lint_rule_find(m->lint_allow.items[j]) < 0)
				findings_add(f, SEV_ERROR, path, m->lint_allow_line[j], 0, "unknown-key",
					     "lint: allow names '%s', which is not a lint rule (docs/lint.md lists them)",
					     m->lint_allow.items[j]);
	}
}

/* imported: {from, file, checksum, up_sha256}: written by cairn import
 * (issue #19) for a tool that keeps a checksum of the original file, which
 * cairn-apply adopt matches against that tool's history table. */
static void parse_meta_imported(struct findings *f, const char *path, const struct ynode *k,
				const struct ynode *v)
{
	static const char *const keys[] = { "from", "file", "checksum", "up_sha256", NULL };
	size_t i, j;

	if (v->type != YNODE_MAP) {
		wrong_type(f, path, k->str, v, "a map written by cairn import");
		return;
	}
	for (i = 0; i < v->n; i++) {
		const struct ynode *ik = ynode_key(v, i), *iv = ynode_val(v, i);

		for (j = 0; keys[j] && strcmp(keys[j], ik->str); j++)
			;
		if (!keys[j])
			findings_add(f, SEV_ERROR, path, ik->line, ik->col, "unknown-key",
				     "unknown key 'imported: %s' (cairn import writes from, file, checksum, up_sha256)",
				     ik->str);
		else if (iv->type != YNODE_SCALAR)
			wrong_type(f, path, ik->str, iv, "a string");
	}
}

static void parse_meta(struct migration *m, struct source *src, const struct mig_file *mf,
		       const struct config *cfg, struct findings *f)
{
	struct buf b = BUF_INIT;
	int r = source_read(src, mf->path, cfg->max_file_size, &b);

	if (r < 0)
		findings_add(f, SEV_ERROR, mf->path, 0, 0, "unreadable", "%s", cairn_error_last());
	else if (r == 0)
		migration_meta_parse(m, b.ptr, b.len, mf->path, f);
	buf_release(&b);
}

void migration_meta_parse(struct migration *m, const char *data, size_t len, const char *path,
			  struct findings *f)
{
	struct ynode *root = NULL;
	size_t i;

	if (yaml_load(&root, data, len, path) < 0) {
		yaml_finding(f, path);
		goto out;
	}
	m->has_meta = 1;
	if (!root)
		goto out;
	if (root->type != YNODE_MAP) {
		findings_add(f, SEV_ERROR, path, root->line, root->col, "not-a-mapping",
			     "expected a mapping (key: value), found %s; see cairn(1) for the keys",
			     ynode_type_name(root->type));
		goto out;
	}
	for (i = 0; i < root->n; i++) {
		const struct ynode *k = ynode_key(root, i), *v = ynode_val(root, i);

		if (!strcmp(k->str, "description")) {
			if (v->type != YNODE_SCALAR)
				wrong_type(f, path, k->str, v, "a string");
			else
				m->description = xstrdup(v->str);
		} else if (!strcmp(k->str, "requires")) {
			string_list(&m->requires, &m->requires_line, f, path, k->str, v);
		} else if (!strcmp(k->str, "transaction")) {
			parse_transaction(m, f, path, k, v);
		} else if (!strcmp(k->str, "irreversible")) {
			parse_bool_key(f, path, k, v, &m->irreversible);
		} else if (!strcmp(k->str, "noop")) {
			parse_bool_key(f, path, k, v, &m->noop);
		} else if (!strcmp(k->str, "destructive")) {
			parse_bool_key(f, path, k, v, &m->destructive);
		} else if (!strcmp(k->str, "environments")) {
			string_list(&m->environments, NULL, f, path, k->str, v);
		} else if (!strcmp(k->str, "kind")) {
			if (v->type == YNODE_SCALAR && !strcmp(v->str, "batch"))
				m->batch = 1;
			else if (v->type == YNODE_SCALAR && !strcmp(v->str, "schema"))
				m->batch = 0;
			else
				wrong_type(f, path, k->str, v, "'schema' or 'batch'");
		} else if (!strcmp(k->str, "phase")) {
			if (v->type == YNODE_SCALAR && !strcmp(v->str, "contract"))
				m->contract = 1;
			else if (v->type == YNODE_SCALAR && !strcmp(v->str, "expand"))
				m->contract = 0;
			else
				wrong_type(f, path, k->str, v, "'expand' or 'contract'");
		} else if (!strcmp(k->str, "timeout")) {
			parse_duration_key(f, path, k, v, &m->timeout_ms);
		} else if (!strcmp(k->str, "lock_timeout")) {
			parse_duration_key(f, path, k, v, &m->lock_timeout_ms);
		} else if (!strcmp(k->str, "lint")) {
			parse_meta_lint(m, f, path, k, v);
		} else if (!strcmp(k->str, "imported")) {
			parse_meta_imported(f, path, k, v);
		} else if (!strcmp(k->str, "batch")) {
			parse_meta_batch(m, f, path, k, v);
		} else if (!strcmp(k->str, "operation")) {
			operation_parse(m, f, path, k, v);
		} else {
			unknown_key(f, path, k, meta_keys);
		}
	}
	if (m->throttle_line && !m->batch)
		findings_add(f, SEV_ERROR, path, m->throttle_line, 0, "bad-value",
			     "'batch:' throttles a batch migration: add kind: batch, or remove it");
out:
	ynode_free(root);
}

static void classify(struct mig_file *mf)
{
	static const char *const bases[] = { "up", "down", "verify" };
	size_t i;

	mf->role = ROLE_OTHER;
	if (starts_with(mf->name, "data/")) {
		mf->role = ROLE_DATA;
		return;
	}
	if (!strcmp(mf->name, "migration.yaml")) {
		mf->role = ROLE_META;
		return;
	}
	if (strchr(mf->name, '/') || !ends_with(mf->name, ".sql"))
		return;
	for (i = 0; i < 3; i++) {
		size_t bl = strlen(bases[i]), nl = strlen(mf->name);

		if (strncmp(mf->name, bases[i], bl))
			continue;
		if (!strcmp(mf->name + bl, ".sql")) {
			mf->role = (enum mig_role)i;
			return;
		}
		/* up.DRIVER.sql */
		if (mf->name[bl] == '.' && nl > bl + 5) {
			mf->role = (enum mig_role)i;
			mf->driver = xstrndup(mf->name + bl + 1, nl - bl - 5);
			return;
		}
	}
}

static int cmp_mig(const void *a, const void *b)
{
	const struct migration *x = *(struct migration *const *)a;
	const struct migration *y = *(struct migration *const *)b;
	int c = version_cmp(x->version, y->version);

	return c ? c : strcmp(x->dir, y->dir);
}

/* A file directly in migrations/ (rel: its name there). */
static void loose_file(const struct project *p, const struct source_entry *e, const char *rel,
		       struct findings *f)
{
	if (e->type == ENTRY_SYMLINK)
		findings_add(f, SEV_ERROR, e->path, 0, 0, "symlink",
			     "symbolic links are refused in %s/ (a bundle must hold the file itself); replace it with the file",
			     p->cfg.migrations_dir);
	else if (ends_with(rel, ".sql"))
		findings_add(f, SEV_ERROR, e->path, 0, 0, "bad-name",
			     "SQL files belong in a migration directory: move it to %s/VERSION_name/up.sql ('cairn new NAME' makes one)",
			     p->cfg.migrations_dir);
	else if (strcmp(rel, ".gitkeep") && strcmp(rel, "README.md") && strcmp(rel, "README"))
		findings_add(f, SEV_WARNING, e->path, 0, 0, "stray-file",
			     "not a migration directory; cairn ignores it");
}

/* What git does with a work-tree file when it adds it (source.c): one it
 * ignores (and does not track) is in no commit, so the migration is read
 * without it (1: skip it); an error for a file cairn would read, nothing
 * for anything else (an editor's backup), as git leaves it out. One under
 * a clean filter is named: its blob is what the filter makes of it. */
static int git_view(const struct project *p, const struct source_entry *e, const char *rel,
		    struct findings *f)
{
	const char *base = strrchr(rel, '/');

	if (e->ignored) {
		if (base && (ends_with(base, ".sql") || ends_with(base, ".yaml") ||
			     strstr(rel, "/data/")))
			findings_add(f, SEV_ERROR, e->path, 0, 0, "git-ignored",
				     "git ignores this file, so no commit holds it and 'cairn build' never ships it; the migration is checked without it ('git check-ignore -v %s' names the rule; 'git add -f %s' commits it anyway)",
				     e->path, e->path);
		return 1;
	}
	if (e->filter)
		findings_add(f, SEV_ERROR, e->path, 0, 0, "git-filtered",
			     "git runs the clean filter '%s' on this file when it adds it, and cairn cannot: the work tree is not what git commits or 'cairn build' ships; check what git stages ('git add %s && cairn check --staged'), or take %s/ out of the filter in .gitattributes",
			     e->filter, e->path, p->cfg.migrations_dir);
	return 0;
}

/* An entry under migrations/callbacks/ (rel: below migrations/): a file
 * with a callback's name is kept; anything else is a finding. */
static void callback_entry(struct project *p, const struct source_entry *e, const char *rel,
			   struct findings *f)
{
	const char *name, *driver;
	struct mig_file *mf;

	if (!strchr(rel, '/')) {
		if (e->type != ENTRY_DIR)
			loose_file(p, e, rel, f);
		return;
	}
	name = rel + strlen(CALLBACK_DIR "/");
	if (e->type != ENTRY_FILE || strchr(name, '/') || callback_parse(name, &driver) < 0) {
		if (e->type == ENTRY_DIR)
			return; /* its files are named below */
		findings_add(f, SEV_ERROR, e->path, 0, 0, "bad-name",
			     "not a callback: %s/%s/ holds files named before_migrate, before_each, "
			     "after_each, after_migrate, on_error, before_rollback, "
			     "before_each_rollback, after_each_rollback or after_rollback, each .sql "
			     "or .DRIVER.sql",
			     p->cfg.migrations_dir, CALLBACK_DIR);
		return;
	}
	ALLOC_GROW(p->callbacks, p->ncallbacks + 1, p->callbacks_alloc);
	mf = &p->callbacks[p->ncallbacks++];
	memset(mf, 0, sizeof(*mf));
	mf->name = xstrdup(name);
	mf->path = xstrdup(e->path);
	mf->type = e->type;
	mf->size = e->size;
	mf->oid = e->oid; /* the history rules compare it with a release's */
	mf->has_oid = e->has_oid;
}

int project_load(struct project **out, struct source *src, struct findings *f)
{
	struct project *p = xcalloc(1, sizeof(*p));
	struct buf b = BUF_INIT;
	struct source_entry *ents = NULL;
	size_t nents = 0, i, alloc = 0;
	size_t dlen;
	char *last_bad = NULL;
	int r;

	*out = NULL;
	config_init(&p->cfg);
	p->src = src;
	r = source_read(src, CONFIG_FILE, 1 << 20, &b);
	if (r > 0) {
		cairn_error_set("no %s in the %s (run 'cairn init' to create one)", CONFIG_FILE,
				src->label);
		goto fail;
	}
	if (r < 0)
		goto fail;
	config_parse(&p->cfg, b.ptr, b.len, f);
	buf_release(&b);

	if (source_walk(src, p->cfg.migrations_dir, &ents, &nents) < 0)
		goto fail;
	dlen = strlen(p->cfg.migrations_dir);
	for (i = 0; i < nents; i++) {
		const struct source_entry *e = &ents[i];
		const char *rel = e->path + dlen + 1; /* below migrations/ */
		const char *slash = strchr(rel, '/');
		struct migration *m = NULL;
		struct mig_file *mf;
		const char *why;
		char *dirname;

		if (git_view(p, e, rel, f))
			continue;
		if (!slash && e->type != ENTRY_DIR) {
			loose_file(p, e, rel, f);
			continue;
		}
		if (!strncmp(rel, CALLBACK_DIR, strlen(CALLBACK_DIR)) &&
		    (rel[strlen(CALLBACK_DIR)] == '/' || !rel[strlen(CALLBACK_DIR)])) {
			callback_entry(p, e, rel, f);
			continue;
		}
		/* the work tree lists the directory itself before its files */
		dirname = slash ? xstrndup(rel, (size_t)(slash - rel)) : xstrdup(rel);
		if (last_bad && !strcmp(last_bad, dirname)) {
			free(dirname);
			continue;
		}
		if (p->n && !strcmp(p->migs[p->n - 1]->dir, dirname)) {
			m = p->migs[p->n - 1];
			free(dirname);
		} else {
			char *version, *slug;

			why = parse_dir_name(dirname, &version, &slug);
			if (why) {
				char *dpath = xasprintf("%s/%s", p->cfg.migrations_dir, dirname);

				findings_add(f, SEV_ERROR, dpath, 0, 0, "bad-name",
					     "migration directory '%s' %s; rename it to VERSION_name, e.g. %s",
					     dirname, why,
					     p->cfg.style == STYLE_SEQUENCE ? "0001_create_users"
									   : "20261122093000_create_users");
				free(dpath);
				free(last_bad);
				last_bad = dirname;
				continue;
			}
			m = xcalloc(1, sizeof(*m));
			m->dir = dirname;
			m->path = xstrcat3(p->cfg.migrations_dir, "/", dirname);
			m->version = version;
			m->slug = slug;
			m->transaction = 1;
			ALLOC_GROW(p->migs, p->n + 1, alloc);
			p->migs[p->n++] = m;
		}
		if (e->type == ENTRY_DIR)
			continue;
		ALLOC_GROW(m->files, m->nfiles + 1, m->files_alloc);
		mf = &m->files[m->nfiles++];
		memset(mf, 0, sizeof(*mf));
		mf->name = xstrdup(slash + 1);
		mf->path = xstrdup(e->path);
		mf->type = e->type;
		mf->size = e->size;
		mf->oid = e->oid;
		mf->has_oid = e->has_oid;
		classify(mf);
	}
	for (i = 0; i < p->n; i++) {
		const struct mig_file *meta = migration_file(p->migs[i], ROLE_META, NULL);

		if (meta && meta->type == ENTRY_FILE)
			parse_meta(p->migs[i], src, meta, &p->cfg, f);
		operation_generate(&p->cfg, p->migs[i], f);
	}
	/* usually in order already: same-width versions sort as their names */
	for (i = 1; i < p->n && cmp_mig(&p->migs[i - 1], &p->migs[i]) < 0; i++)
		;
	if (i < p->n)
		qsort(p->migs, p->n, sizeof(*p->migs), cmp_mig);
	free(last_bad);
	source_entries_free(ents, nents);
	*out = p;
	return 0;
fail:
	free(last_bad);
	buf_release(&b);
	source_entries_free(ents, nents);
	project_free(p);
	return -1;
}
