#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/error.h"
#include "../lib/exitcodes.h"
#include "../lib/sha256.h"
#include "engine.h"

char *books_facts(const struct bk_row *r)
{
	char down[SHA256_HEX_LEN + 8];

	if (r->down_sql) {
		char hex[SHA256_HEX_LEN + 1];

		if (sha256_hex(r->down_sql, strlen(r->down_sql), hex) ||
		    snprintf(down, sizeof(down), "sha256:%s", hex) >= (int)sizeof(down))
			down[0] = '\0';
	} else {
		memcpy(down, "none", 5);
	}
	return xasprintf(" facts{state=%s;checksum=%s;down=%s;bundle=%s;env=%s;name=%s;kind=%s;"
			 "irreversible=%d;transactional=%d}",
			 r->state ? r->state : "", r->checksum ? r->checksum : "", down,
			 r->bundle_id ? r->bundle_id : "", r->environment ? r->environment : "",
			 r->name ? r->name : "", r->kind ? r->kind : "", !!r->irreversible,
			 !!r->transactional);
}

/* The facts an audit row recorded (pointing into its detail), or NULL. */
static const char *recorded_facts(const struct audit_row *a)
{
	const char *p = NULL, *q;

	for (q = a->detail; q && (q = strstr(q, " facts{")); q++)
		p = q;
	return p;
}

/* "state is 'rolled_back', recorded 'applied'" for the first fields that
 * differ between two facts texts, into out. */
static void facts_diff(const char *now, const char *then, char *out, size_t size)
{
	size_t n = 0;

	out[0] = '\0';
	now += strlen(" facts{");
	then += strlen(" facts{");
	while (*now && *then && n + 1 < size) {
		size_t ln = strcspn(now, ";}"), lt = strcspn(then, ";}");
		const char *eq = memchr(now, '=', ln);

		if (ln != lt || memcmp(now, then, ln)) {
			const char *teq = memchr(then, '=', lt);
			int k = eq ? (int)(eq - now) : (int)ln;
			int w = snprintf(out + n, size - n, "%s%.*s is '%.*s', the audit chain "
					 "recorded '%.*s'", n ? "; " : "", k, now,
					 eq ? (int)(ln - k - 1) : 0, eq ? eq + 1 : "",
					 teq ? (int)(lt - (teq - then) - 1) : (int)lt,
					 teq ? teq + 1 : then);

			if (w < 0 || (size_t)w >= size - n)
				break;
			n += (size_t)w;
		}
		now += ln + (now[ln] != '\0');
		then += lt + (then[lt] != '\0');
	}
	if (!n && snprintf(out, size, "its facts differ from those the audit chain "
			   "recorded") >= (int)size)
		out[0] = '\0';
}

static int row_check(const struct audit_row *const *ix, size_t na, const struct bk_row *r)
{
	const struct audit_row *anchor = audit_find(ix, na, r->audit_hash);
	const char *then;
	char *now, diff[600];
	int rc = 0;

	if (!anchor)
		return 0; /* audit_verify has said so */
	then = recorded_facts(anchor);
	if (!then)
		return 0; /* older books: chain and anchor only */
	now = books_facts(r);
	if (strcmp(now, then)) {
		facts_diff(now, then, diff, sizeof(diff));
		cairn_error_set("the books were changed outside cairn-apply: migration %s: %s "
				"(audit row %lld)", r->version, diff, anchor->seq);
		rc = -1;
	}
	free(now);
	return rc;
}

int books_check(const struct audit_row *a, size_t na, const struct bk_row *rows, size_t nrows)
{
	struct audit_problem *p = NULL;
	const struct audit_row **ix;
	size_t np, i;
	int rc = 0;

	np = audit_verify(a, na, rows, nrows, &p);
	if (np) {
		cairn_error_set("the books were changed outside cairn-apply: %s%s", p[0].message,
				np > 1 ? " (and more: run 'cairn-apply history --verify')" : "");
		rc = -1;
	}
	ix = audit_index(a, na);
	for (i = 0; !rc && i < nrows; i++)
		rc = row_check(ix, na, &rows[i]);
	free(ix);
	audit_problems_free(p, np);
	return rc;
}

size_t books_problems(const struct audit_row *a, size_t na, const struct bk_row *rows,
		      size_t nrows, struct audit_problem **out)
{
	size_t np = audit_verify(a, na, rows, nrows, out), i, alloc = np;
	const struct audit_row **ix = audit_index(a, na);

	for (i = 0; i < nrows; i++) {
		if (!row_check(ix, na, &rows[i]))
			continue;
		ALLOC_GROW(*out, np + 1, alloc);
		(*out)[np].seq = 0;
		(*out)[np].message = xstrdup(cairn_error_last());
		np++;
	}
	free(ix);
	return np;
}

static char *field(const char *detail, const char *key)
{
	size_t klen = strlen(key);
	const char *p;

	for (p = detail; p && *p; p = strstr(p, "; ")) {
		if (*p == ';')
			p += 2;
		if (!strncmp(p, key, klen) && p[klen] == '=')
			return xstrndup(p + klen + 1, strcspn(p + klen + 1, ";"));
	}
	return xstrdup("");
}

void books_identity(const struct audit_row *a, size_t na, struct db_identity *out)
{
	size_t i;

	memset(out, 0, sizeof(*out));
	for (i = na; i-- > 0;) {
		if (!a[i].action || strcmp(a[i].action, BOOKS_IDENTITY_ACTION))
			continue;
		out->project = field(a[i].detail, "project");
		out->environment = field(a[i].detail, "environment");
		out->builders = field(a[i].detail, "builders");
		out->seq = a[i].seq;
		return;
	}
}

void db_identity_release(struct db_identity *id)
{
	if (!id)
		return;
	free(id->project);
	free(id->environment);
	free(id->builders);
	memset(id, 0, sizeof(*id));
}

char *books_identity_detail(const char *project, const char *environment, const char *builders)
{
	return xasprintf("project=%s; environment=%s; builders=%s", project ? project : "",
			 environment ? environment : "", builders ? builders : "");
}

/* 1 when the comma-separated list holds id. */
static int list_has(const char *list, const char *id, size_t idlen)
{
	const char *p = list;

	while (p && *p) {
		size_t n = strcspn(p, ",");

		if (n == idlen && !memcmp(p, id, n))
			return 1;
		p += n + (p[n] == ',');
	}
	return 0;
}

/* The builder keys the database trusts (its identity) must have signed
 * the bundle, or the policy must have revoked every one of them (a
 * rotation: the new key listed, the old revoked). EXIT_REFUSED naming
 * both when neither holds. */
static int builders_check(const struct db_identity *id, const struct apply_opts *o,
			  const char *db)
{
	const char *p;
	int signed_by_trusted = 0, all_revoked = 1;

	if (!o->signers || !*id->builders || o->identity_override)
		return EXIT_OK;
	for (p = id->builders; *p;) {
		size_t n = strcspn(p, ",");

		signed_by_trusted |= list_has(o->signers, p, n);
		all_revoked &= list_has(o->revoked, p, n);
		p += n + (p[n] == ',');
	}
	if (signed_by_trusted || all_revoked)
		return EXIT_OK;
	cairn_error_set("refusing to apply to '%s': the bundle is signed by builder key%s %s, "
			"but the database trusts builder key%s %s (its identity); a rotation "
			"revokes the old key in the policy, or an admin's override allows identity",
			db, strchr(o->signers, ',') ? "s" : "", *o->signers ? o->signers : "(none)",
			strchr(id->builders, ',') ? "s" : "", id->builders);
	return EXIT_REFUSED;
}

/* The identity row to write, or NULL; EXIT_REFUSED (error set) when the
 * run claims another environment or project without an override. */
static int identity_decide(struct books_guard *g, const struct apply_opts *o, const char *db,
			   const char *what)
{
	struct db_identity id;
	const char *env = o->env && *o->env ? o->env : NULL;
	const char *project = o->project && *o->project ? o->project : NULL;
	int other_env, other_project, rc = EXIT_OK;

	books_identity(g->a, g->na, &id);
	g->opts = *o;
	if (!env && id.seq && *id.environment)
		g->opts.env = g->env = xstrdup(id.environment);
	if (!id.seq) {
		if (env)
			g->record = xasprintf("project=%s; environment=%s; builders=%s%s",
					      project ? project : "", env,
					      o->builders ? o->builders : "",
					      g->na ? "; adopted: the books had no identity" : "");
		goto out;
	}
	other_env = env && *id.environment && strcmp(env, id.environment);
	other_project = project && *id.project && strcmp(project, id.project);
	if ((other_env || other_project) && !o->identity_override) {
		if (other_env)
			cairn_error_set("refusing to %s '%s': the database belongs to environment "
					"'%s' (project '%s'), not '%s'; moving it takes an admin's "
					"override allowing identity", what, db, id.environment,
					id.project, env);
		else
			cairn_error_set("refusing to %s '%s': the database belongs to project '%s' "
					"(environment '%s'), not '%s'; moving it takes an admin's "
					"override allowing identity", what, db, id.project,
					id.environment, project);
		rc = EXIT_REFUSED;
		goto out;
	}
	if ((rc = builders_check(&id, o, db)) != EXIT_OK)
		goto out;
	if (other_env || other_project || (project && !*id.project) || (env && !*id.environment) ||
	    (o->builders && *o->builders && strcmp(o->builders, id.builders)))
		g->record = xasprintf("project=%s; environment=%s; builders=%s; was: project=%s; "
				      "environment=%s; builders=%s%s",
				      project ? project : id.project, env ? env : id.environment,
				      o->builders && *o->builders ? o->builders : id.builders,
				      id.project, id.environment, id.builders,
				      other_env || other_project ? "; by an admin's override" : "");
out:
	db_identity_release(&id);
	return rc;
}

int books_guard(struct books_guard *g, struct db *db, const struct driver *drv,
		const struct apply_opts *o, const struct bk_row *rows, size_t nrows, int exists,
		const char *what)
{
	memset(g, 0, sizeof(*g));
	if (exists && drv->audit_read(db, 0, &g->a, &g->na))
		return EXIT_ENVIRONMENT;
	if (books_check(g->a, g->na, rows, nrows) < 0)
		return EXIT_STATE;
	return identity_decide(g, o, drv->display_name(db), what);
}

void books_guard_release(struct books_guard *g)
{
	if (!g)
		return;
	audit_rows_free(g->a, g->na);
	free(g->record);
	free(g->env);
	memset(g, 0, sizeof(*g));
}
