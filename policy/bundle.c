/* A bundle's statements as policy input and the policy evaluated over them
 * (bundle.h). Never prints: cmd/policy-report.c turns the verdict into
 * messages and an exit code. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../lib/buf.h"
#include "../lib/checkpoint.h"
#include "../lib/error.h"
#include "../lib/util.h"
#include "../verify/keys.h"
#include "bundle.h"

static int add_keys(struct trust *t, unsigned role, const struct policy_keylist *l)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		if (trust_add_key(t, role, l->items[i].resolved) < 0) {
			cairn_error_set("cannot use key '%s': %s", l->items[i].resolved,
					cairn_error_last());
			return -1;
		}
	}
	return 0;
}

int policy_bundle_trust(struct policy_bundle *pb, const struct policy_config *c,
			const struct policy_env *e)
{
	int rc;

	pb->trust = trust_new();
	rc = add_keys(pb->trust, TRUST_BUILD, policy_env_list(c, e, "builders"));
	if (!rc)
		rc = add_keys(pb->trust, TRUST_APPROVAL, policy_env_list(c, e, "approvers"));
	if (!rc && e->after && policy_config_env(c, e->after))
		rc = add_keys(pb->trust, TRUST_APPROVAL,
			      policy_env_list(c, policy_config_env(c, e->after), "approvers"));
	if (!rc)
		rc = add_keys(pb->trust, TRUST_RECEIPT, policy_env_list(c, e, "receipts_from"));
	if (!rc)
		rc = add_keys(pb->trust, TRUST_OVERRIDE, policy_env_list(c, e, "admins"));
	return rc;
}

/* A receipt's checkpoint (the books' head where it ran) must be of a
 * database of this bundle's project. */
static int checkpoint_project_ok(const struct bundle_statement *s, const struct bundle *b)
{
	char *project;
	int ok;

	if (!s->checkpoint || !b->project || !*b->project)
		return 1;
	project = checkpoint_project(s->checkpoint);
	ok = project && (!*project || !strcmp(project, b->project));
	free(project);
	return ok;
}

static char **split_allow(const char *s, size_t *n)
{
	char **out = NULL;
	size_t alloc = 0;
	const char *p = s;

	*n = 0;
	while (p && *p) {
		size_t len = strcspn(p, ",");

		ALLOC_GROW(out, *n + 2, alloc);
		out[(*n)++] = xstrndup(p, len);
		p += len;
		if (*p == ',')
			p++;
	}
	if (out)
		out[*n] = NULL;
	return out;
}

static void to_stmts(struct policy_bundle *pb)
{
	const struct bundle *b = pb->b;
	size_t i;

	pb->nst = b->nstatements;
	pb->st = xcalloc(pb->nst + 1, sizeof(*pb->st));
	pb->allow = xcalloc(pb->nst + 1, sizeof(*pb->allow));
	pb->raw = xcalloc(pb->nst + 1, sizeof(*pb->raw));
	for (i = 0; i < pb->nst; i++) {
		const struct bundle_statement *s = &b->statements[i];
		struct policy_stmt *p = &pb->st[i];

		p->name = s->member;
		p->type = s->type;
		p->bundle = s->bundle_id;
		p->environment = s->environment;
		p->key_id = s->key_id;
		p->signer = s->signer;
		p->time = s->time;
		p->expires = s->expires;
		p->database = s->database;
		p->valid = s->valid;
		p->problem = s->problem;
		if (p->valid && !checkpoint_project_ok(s, b)) {
			/* the applier said it ran on a database of another project */
			p->valid = 0;
			p->problem = "its checkpoint names a database of another project";
		}
		if (s->public_key &&
		    base64_decode_exact(s->public_key, strlen(s->public_key), pb->raw[i], 32) == 0)
			p->raw = pb->raw[i];
		if (s->allow) {
			pb->allow[i] = split_allow(s->allow, &p->nallow);
			p->allow = (const char *const *)pb->allow[i];
		}
	}
	for (i = 0; i < b->nmigs; i++) {
		const char *v = b->migs[i].version;

		if (!pb->latest || version_cmp(v, pb->latest) > 0) {
			free(pb->latest);
			pb->latest = xstrdup(v);
		}
	}
}

int policy_bundle_open(struct policy_bundle *pb, const char *path,
		       const struct bundle_open_opts *opts)
{
	if (bundle_open_opts(&pb->b, path, pb->trust, opts) < 0)
		return -1;
	to_stmts(pb);
	return 0;
}

static void make_evidence(struct policy_bundle *pb)
{
	struct buf e = BUF_INIT;
	size_t i;

	buf_puts(&e, "policy:");
	for (i = 0; i < pb->v.nused; i++) {
		const struct policy_stmt *s = pb->v.used[i];

		buf_printf(&e, " %s %s (%s %s)%s", s->type, s->name, s->signer ? s->signer : "?",
			   s->key_id ? s->key_id : "?", i + 1 < pb->v.nused ? ";" : "");
	}
	if (!pb->v.nused)
		buf_puts(&e, " none");
	for (i = 0; i < pb->v.nignored; i++)
		buf_printf(&e, "; %s", pb->v.ignored[i]);
	free(pb->evidence);
	pb->evidence = buf_detach(&e, NULL);
}

/* One waiver w of who ("migration 'NAME'", "callback 'FILE'") against the
 * environment's refuse_waived list e. */
static void check_waiver(struct policy_bundle *pb, const struct policy_env *e,
			 const char *environment, const char *who, const struct bundle_waiver *w)
{
	struct buf m = BUF_INIT;
	char *esc;
	const char *reason;
	size_t k;

	for (k = 0; k < e->nrefuse_waived; k++)
		if (!strcmp(e->refuse_waived[k], "all") || !strcmp(e->refuse_waived[k], w->rule))
			break;
	if (k == e->nrefuse_waived)
		return;
	/* names and rule ids are checked by the manifest's reader; a reason is
	 * one printable line, shown escaped */
	esc = text_escape_controls(w->reason);
	reason = esc ? esc : w->reason;
	buf_printf(&m, "%s waives %s at %s:%llu (by %s%s%s), and '%s' refuses waived %s findings (lint: {refuse_waived:} in its config); fix the statement so the finding is gone and build again, or have the policy's owner take %s out of refuse_waived",
		   who, w->rule, w->file, w->line,
		   strcmp(w->via, "allow") ? w->via : "migration.yaml lint: {allow:}",
		   reason ? ": " : "", reason ? reason : "", environment, w->rule, w->rule);
	policy_verdict_refuse(&pb->v, "lint-waiver", buf_cstr(&m));
	buf_release(&m);
	free(esc);
}

/* lint: {refuse_waived:} (config-lint.c): every migration of the bundle
 * that waived a finding of a refused rule is a refusal of its own, naming
 * the rule, the migration, where, and the way out; and every SQL callback
 * that did (format cairn-bundle/3), alike. */
static void check_waivers(struct policy_bundle *pb, const struct policy_config *c,
			  const char *environment)
{
	const struct policy_env *e = policy_config_env(c, environment);
	const struct bundle *b = pb->b;
	struct buf who = BUF_INIT;
	size_t i, j;

	if (e && !e->refuse_waived_set)
		e = &c->defaults;
	if (!e || !e->nrefuse_waived)
		return;
	for (i = 0; i < b->nmigs; i++)
		for (j = 0; j < b->migs[i].nwaivers; j++) {
			buf_reset(&who);
			buf_printf(&who, "migration '%s'", b->migs[i].name);
			check_waiver(pb, e, environment, buf_cstr(&who), &b->migs[i].waivers[j]);
		}
	for (j = 0; j < b->ncallback_waivers; j++) {
		buf_reset(&who);
		buf_printf(&who, "callback '%s'", b->callback_waivers[j].file);
		check_waiver(pb, e, environment, buf_cstr(&who), &b->callback_waivers[j]);
	}
	buf_release(&who);
}

void policy_bundle_set_applied(struct policy_bundle *pb, const char *const *versions, size_t n)
{
	size_t i;

	for (i = 0; i < pb->napplied; i++)
		free(pb->applied[i]);
	free(pb->applied);
	pb->applied = xcalloc(n + 1, sizeof(*pb->applied));
	for (i = 0; i < n; i++)
		pb->applied[i] = xstrdup(versions[i]);
	pb->napplied = n;
}

static int applied(const struct policy_bundle *pb, const char *version)
{
	size_t i;

	for (i = 0; pb->applied && i < pb->napplied; i++)
		if (!strcmp(pb->applied[i], version))
			return 1;
	return 0;
}

int policy_bundle_destructive(struct policy_bundle *pb, const struct policy_config *c,
			      const char *environment, const struct destructive_item ***out,
			      size_t *n)
{
	const struct policy_env *e = policy_config_env(c, environment);
	size_t i;
	int pending;

	*out = NULL;
	*n = 0;
	if (!e || !policy_env_destructive_approvals(c, e))
		return 0;
	if (!pb->dx_scanned) {
		if (destructive_scan_bundle(&pb->dx, pb->b) < 0)
			return -1;
		pb->dx_scanned = 1;
	}
	/* a callback's (version "") counts when a migration is to run: an
	 * apply with nothing pending runs none */
	for (i = 0; i < pb->b->nmigs && applied(pb, pb->b->migs[i].version); i++)
		;
	pending = i < pb->b->nmigs;
	*out = xcalloc(pb->dx.n + 1, sizeof(**out));
	for (i = 0; i < pb->dx.n; i++)
		if (*pb->dx.items[i].version ? !applied(pb, pb->dx.items[i].version) : pending)
			(*out)[(*n)++] = &pb->dx.items[i];
	return 0;
}

/* "migration 'NAME': RULE at FILE:LINE (what), ...; migration ..." of the
 * destructive statements still to run, at most a screenful. */
static void destructive_what(struct buf *b, const struct destructive_item *const *it, size_t n)
{
	const size_t shown = 12;
	size_t i;

	for (i = 0; i < n && i < shown; i++) {
		char *what = text_escape_controls(it[i]->what);

		if (!i || strcmp(it[i]->migration, it[i - 1]->migration))
			buf_printf(b, "%smigration '%s': ", i ? "; " : "", it[i]->migration);
		else
			buf_puts(b, ", ");
		if (it[i]->line)
			buf_printf(b, "%s at %s:%llu (%s)", it[i]->rule, it[i]->file, it[i]->line,
				   what ? what : it[i]->what);
		else
			buf_printf(b, "%s", what ? what : it[i]->what);
		free(what);
	}
	if (n > shown)
		buf_printf(b, "; and %zu more", n - shown);
}

int policy_bundle_evaluate(struct policy_bundle *pb, const struct policy_config *c,
			   const char *environment, unsigned needs, const char *db_latest)
{
	struct policy_request r;
	const struct destructive_item **dx = NULL;
	struct buf what = BUF_INIT;
	size_t ndx = 0;

	memset(&r, 0, sizeof(r));
	r.bundle_id = pb->b->id;
	r.environment = environment;
	r.now = (long long)time(NULL);
	r.bundle_latest = pb->latest;
	r.db_latest = db_latest;
	r.needs = needs;
	r.approvals = 1;
	if (!pb->defer_destructive || pb->applied) {
		if (policy_bundle_destructive(pb, c, environment, &dx, &ndx) < 0)
			return -1;
		if (ndx) {
			destructive_what(&what, dx, ndx);
			r.destructive_approvals =
				policy_env_destructive_approvals(c, policy_config_env(c, environment));
			r.destructive_what = buf_cstr(&what);
		}
	}
	policy_verdict_release(&pb->v);
	if (policy_check(&pb->v, c, pb->st, pb->nst, &r) < 0) {
		free(dx);
		buf_release(&what);
		return -1;
	}
	check_waivers(pb, c, environment);
	if (pb->v.ok)
		make_evidence(pb);
	free(dx);
	buf_release(&what);
	return 0;
}

void policy_bundle_release(struct policy_bundle *pb)
{
	size_t i, j;

	if (!pb)
		return;
	for (i = 0; i < pb->nst; i++) {
		if (!pb->allow || !pb->allow[i])
			continue;
		for (j = 0; pb->allow[i][j]; j++)
			free(pb->allow[i][j]);
		free(pb->allow[i]);
	}
	free(pb->allow);
	free(pb->raw);
	free(pb->st);
	free(pb->latest);
	free(pb->evidence);
	policy_verdict_release(&pb->v);
	destructive_list_release(&pb->dx);
	for (i = 0; i < pb->napplied; i++)
		free(pb->applied[i]);
	free(pb->applied);
	bundle_free(pb->b);
	trust_free(pb->trust);
	memset(pb, 0, sizeof(*pb));
}
