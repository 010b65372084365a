/* The trust policy, evaluated over a bundle's statements. Pure: the caller
 * supplies the time and the database's state. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/buf.h"
#include "../lib/error.h"
#include "../lib/util.h"
#include "policy.h"

const char *const policy_override_names[] = {
	"older-bundle", "no-receipt", "repair", "force", "identity", NULL,
};

unsigned policy_override_bit(const char *name)
{
	size_t i;

	for (i = 0; policy_override_names[i]; i++)
		if (name && !strcmp(name, policy_override_names[i]))
			return 1U << i;
	return 0;
}

static const char *override_name(unsigned bit)
{
	size_t i;

	for (i = 0; policy_override_names[i]; i++)
		if (bit == 1U << i)
			return policy_override_names[i];
	return "?";
}

static int revoked_in(const struct policy_keylist *l, const char *key_id, long long t,
		      const struct policy_key **out)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		const struct policy_key *k = &l->items[i];

		if (!k->loaded || strcmp(k->key_id, key_id))
			continue;
		if (!k->since || t >= k->since_epoch) {
			*out = k;
			return 1;
		}
	}
	return 0;
}

const struct policy_key *policy_revoked(const struct policy_config *c, const struct policy_env *e,
					const char *key_id, long long t)
{
	const struct policy_key *k = NULL;

	if (!key_id)
		return NULL;
	if (revoked_in(&c->defaults.revoked, key_id, t, &k) || revoked_in(&e->revoked, key_id, t, &k))
		return k;
	return NULL;
}

/* ------------------------------------------------------------------ */

static void reason(struct policy_verdict *v, const char *rule, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void reason(struct policy_verdict *v, const char *rule, const char *fmt, ...)
{
	char msg[CAIRN_ERRMSG_MAX * 2];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap); /* a cut message is still a message */
	va_end(ap);
	ALLOC_GROW(v->reasons, v->nreasons + 1, v->reasons_alloc);
	v->reasons[v->nreasons].rule = xstrdup(rule);
	v->reasons[v->nreasons].message = xstrdup(msg);
	v->nreasons++;
}

static void note(struct policy_verdict *v, struct buf *why, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* A statement that did not count: kept on the verdict and added to why,
 * which ends up in the rule's message. */
static void note(struct policy_verdict *v, struct buf *why, const char *fmt, ...)
{
	char msg[CAIRN_ERRMSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ALLOC_GROW(v->notes, v->nnotes + 1, v->notes_alloc);
	v->notes[v->nnotes++] = xstrdup(msg);
	if (why)
		buf_printf(why, "; %s", msg);
}

/* A statement that counts for nothing, whatever else the bundle carries (a
 * revoked key's): a note, and a line for the audit row. */
static void ignore(struct policy_verdict *v, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void ignore(struct policy_verdict *v, const char *fmt, ...)
{
	char msg[CAIRN_ERRMSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	note(v, NULL, "%s", msg);
	ALLOC_GROW(v->ignored, v->nignored + 1, v->ignored_alloc);
	v->ignored[v->nignored++] = xstrdup(msg);
}

/* How long an approval lasts after it was signed, in seconds. */
static long long max_approval_age(const struct policy_config *c, const struct policy_env *e)
{
	if (e->max_approval_age_set)
		return (long long)(e->max_approval_age_ms / 1000);
	if (c->defaults.max_approval_age_set)
		return (long long)(c->defaults.max_approval_age_ms / 1000);
	return (long long)(POLICY_MAX_APPROVAL_AGE_MS / 1000);
}

static void use(struct policy_verdict *v, const struct policy_stmt *s)
{
	size_t i;

	for (i = 0; i < v->nused; i++)
		if (v->used[i] == s)
			return;
	ALLOC_GROW(v->used, v->nused + 1, v->used_alloc);
	v->used[v->nused++] = s;
}

/* "keys/alice.pub (9f06...)" when the config names the key, else its id. */
static void key_label(const struct policy_config *c, const char *key_id, char *out, size_t n)
{
	static const char *const lists[] = { "builders", "approvers", "receipts_from", "admins", NULL };
	size_t i, j;

	for (j = 0; j < c->nenvs; j++) {
		for (i = 0; lists[i]; i++) {
			const struct policy_key *k =
				policy_keylist_find(policy_env_list(c, &c->envs[j], lists[i]), key_id);

			if (k && snprintf(out, n, "%s (%s)", k->path, key_id) < (int)n)
				return;
		}
	}
	if (snprintf(out, n, "%s", key_id ? key_id : "(none)") >= (int)n)
		out[n - 1] = '\0';
}

/* The config's key that signed s, matched by id and, when the statement
 * carries it, by the raw key (an id is only 64 bits of a hash). */
static const struct policy_key *signed_by(const struct policy_keylist *l,
					  const struct policy_stmt *s)
{
	const struct policy_key *k = policy_keylist_find(l, s->key_id);

	if (k && s->raw && memcmp(k->raw, s->raw, 32))
		return NULL;
	return k;
}

static int is_type(const struct policy_stmt *s, const char *type)
{
	return s->type && !strcmp(s->type, type);
}

static int is_env(const struct policy_stmt *s, const char *env)
{
	return s->environment && !strcmp(s->environment, env);
}

static void key_names(const struct policy_keylist *l, struct buf *b)
{
	size_t i;

	if (!l->n) {
		buf_puts(b, "none");
		return;
	}
	for (i = 0; i < l->n; i++)
		buf_printf(b, "%s%s", i ? ", " : "", l->items[i].path);
}

/* Statements that survived the integrity pass. */
struct sane {
	const struct policy_stmt *s;
	long long t;
	int ok;
	unsigned grants; /* override: the POLICY_OVERRIDE_* bits it grants */
};

/* The newest sound approval for env, or NULL: a receipt from env must be
 * younger (it ran after it was approved there). */
static const struct sane *newest_approval(const struct sane *ss, size_t n, const char *env)
{
	const struct sane *best = NULL;
	size_t i;

	for (i = 0; env && i < n; i++)
		if (ss[i].ok && is_type(ss[i].s, "approval") && is_env(ss[i].s, env) &&
		    (!best || ss[i].t > best->t))
			best = &ss[i];
	return best;
}

static void use_overrides(struct policy_verdict *v, const struct sane *ss, size_t n, unsigned bit)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (ss[i].grants & bit)
			use(v, ss[i].s);
}

/* Distinct keys of approvers that approved env for this bundle. Expiry
 * counts only when check_expiry (the target environment; for 'after' the
 * approval did its job when it was used there). */
static size_t count_approvals(struct policy_verdict *v, const struct policy_config *c,
			      const struct policy_env *env, const struct sane *ss, size_t n,
			      long long now, int check_expiry, int mark_used, struct buf *why)
{
	const struct policy_keylist *approvers = policy_env_list(c, env, "approvers");
	const char **seen = xcalloc(n + 1, sizeof(*seen));
	size_t i, j, count = 0;
	char label[256];

	for (i = 0; i < n; i++) {
		const struct policy_stmt *s = ss[i].s;
		long long exp;
		int dup = 0;

		if (!ss[i].ok || !is_type(s, "approval") || !is_env(s, env->name))
			continue;
		key_label(c, s->key_id, label, sizeof(label));
		if (!signed_by(approvers, s)) {
			note(v, why, "'%s' is signed by %s, not an approver of '%s'", s->name, label,
			     env->name);
			continue;
		}
		if (check_expiry && s->expires) {
			if (parse_rfc3339(s->expires, &exp) < 0) {
				note(v, why, "'%s' has an unreadable expiry '%s'", s->name, s->expires);
				continue;
			}
			if (now >= exp) {
				note(v, why, "'%s' by %s expired at %s", s->name, label, s->expires);
				continue;
			}
		}
		/* no approval lasts longer than max_approval_age after it was
		 * signed, with or without expires */
		if (check_expiry && now >= ss[i].t + max_approval_age(c, env)) {
			note(v, why, "'%s' by %s was signed at %s, longer ago than '%s' allows "
			     "(max_approval_age %lld days)", s->name, label, s->time, env->name,
			     max_approval_age(c, env) / 86400);
			continue;
		}
		for (j = 0; j < count; j++)
			if (!strcmp(seen[j], s->key_id))
				dup = 1;
		if (dup) {
			note(v, why, "'%s' is a second approval by %s, which counts once", s->name,
			     label);
			continue;
		}
		seen[count++] = s->key_id;
		if (mark_used)
			use(v, s);
	}
	free(seen);
	return count;
}

static void check_integrity(struct policy_verdict *v, const struct policy_config *c,
			    const struct policy_env *e, const struct policy_request *req,
			    const struct policy_stmt *st, struct sane *ss, size_t n)
{
	char label[256];
	size_t i;

	/* 1. integrity: a forged, transplanted or revoked statement refuses the
	 * bundle whatever else it carries */
	for (i = 0; i < n; i++) {
		const struct policy_stmt *s = &st[i];
		const struct policy_key *rk;

		ss[i].s = s;
		key_label(c, s->key_id, label, sizeof(label));
		if (s->bundle && strcmp(s->bundle, req->bundle_id)) {
			reason(v, "wrong-bundle",
			       "'%s' names bundle %.23s..., not this bundle (%.23s...): it was made "
			       "for another build; remove it, and sign one for this bundle",
			       s->name, s->bundle, req->bundle_id);
			continue;
		}
		if (!s->valid) {
			reason(v, "bad-signature",
			       "'%s' (%s by %s): %s; it was altered or forged: remove it and sign "
			       "again", s->name, s->type ? s->type : "statement", label,
			       s->problem ? s->problem : "the signature does not match");
			continue;
		}
		if (parse_rfc3339(s->time, &ss[i].t) < 0) {
			reason(v, "statement-time", "'%s' has no readable time ('%s')", s->name,
			       s->time ? s->time : "");
			continue;
		}
		if (ss[i].t > req->now + POLICY_CLOCK_SKEW_S) {
			reason(v, "future-statement",
			       "'%s' is dated %s, ahead of this host's clock by more than %d "
			       "seconds: a statement cannot be signed in the future", s->name,
			       s->time, POLICY_CLOCK_SKEW_S);
			continue;
		}
		rk = policy_revoked(c, e, s->key_id, ss[i].t);
		if (rk) {
			/* counts for nothing; not fatal, so a rotated key's old
			 * signature does not block the new one (key-rotation.md) */
			if (rk->since)
				ignore(v, "ignored: '%s' is signed by %s at %s, and that key is revoked "
				       "since %s (%s:%d:%d)", s->name, label, s->time, rk->since,
				       c->path, rk->line, rk->col);
			else
				ignore(v, "ignored: '%s' is signed by %s, a revoked key (%s:%d:%d)",
				       s->name, label, c->path, rk->line, rk->col);
			continue;
		}
		ss[i].ok = 1;
	}
}

static void check_overrides(struct policy_verdict *v, const struct policy_config *c,
			    const struct policy_env *e, const struct policy_request *req,
			    struct sane *ss, size_t n)
{
	const struct policy_keylist *admins = policy_env_list(c, e, "admins");
	struct buf names = BUF_INIT;
	char label[256];
	size_t i;

	/* overrides an admin granted for this environment and bundle */
	for (i = 0; i < n; i++) {
		const struct policy_stmt *s = ss[i].s;
		long long exp;
		size_t j;

		if (!ss[i].ok || !is_type(s, "override"))
			continue;
		key_label(c, s->key_id, label, sizeof(label));
		if (!is_env(s, e->name)) {
			note(v, NULL, "'%s' is an override for '%s', not '%s'", s->name,
			     s->environment ? s->environment : "", e->name);
			continue;
		}
		if (!signed_by(admins, s)) {
			reason(v, "override-not-admin",
			       "'%s' is an override signed by %s, not an admin of '%s' (admins: "
			       "%s)", s->name, label, e->name,
			       (buf_reset(&names), key_names(admins, &names), buf_cstr(&names)));
			continue;
		}
		if (s->expires && (parse_rfc3339(s->expires, &exp) < 0 || req->now >= exp)) {
			note(v, NULL, "'%s' (override) expired at %s", s->name, s->expires);
			continue;
		}
		for (j = 0; j < s->nallow; j++) {
			unsigned bit = policy_override_bit(s->allow[j]);

			if (!bit)
				reason(v, "override-unknown",
				       "'%s' allows '%s', which is not an override (known: "
				       "older-bundle, no-receipt, repair, force, identity)", s->name,
				       s->allow[j]);
			v->overrides |= bit;
			ss[i].grants |= bit;
		}
	}
	buf_release(&names);
}

static void check_build(struct policy_verdict *v, const struct policy_config *c,
			const struct policy_env *e, struct sane *ss, size_t n)
{
	const struct policy_keylist *builders = policy_env_list(c, e, "builders");
	struct buf why = BUF_INIT, names = BUF_INIT;
	char label[256];
	int built = 0;
	size_t i;

	/* 2. a build signature by one of this environment's builders */
	buf_reset(&why);
	for (i = 0; i < n; i++) {
		const struct policy_stmt *s = ss[i].s;

		if (!ss[i].ok || !is_type(s, "build"))
			continue;
		if (signed_by(builders, s)) {
			built = 1;
			use(v, s);
		} else {
			key_label(c, s->key_id, label, sizeof(label));
			note(v, &why, "'%s' is signed by %s, not a builder of '%s'", s->name,
			     label, e->name);
		}
	}
	if (!built) {
		buf_reset(&names);
		key_names(builders, &names);
		reason(v, "build",
		       "no build signature by a builder of '%s' (builders: %s)%s; sign the "
		       "bundle with a builder's key (cairn sign BUNDLE --key KEY)",
		       e->name, buf_cstr(&names), buf_cstr(&why));
	}
	buf_release(&why);
	buf_release(&names);
}

static void check_approvals(struct policy_verdict *v, const struct policy_config *c,
			    const struct policy_env *e, const struct policy_request *req,
			    struct sane *ss, size_t n)
{
	unsigned long long m = policy_env_approvals(c, e);
	struct buf why = BUF_INIT, names = BUF_INIT;
	size_t got, i;

	/* 3. m approvals for this environment by distinct approvers */
	buf_reset(&why);
	for (i = 0; i < n; i++) {
		const struct policy_stmt *s = ss[i].s;

		if (ss[i].ok && is_type(s, "approval") && !is_env(s, e->name) &&
		    !(e->after && is_env(s, e->after)))
			note(v, &why, "'%s' approves '%s', not '%s'", s->name,
			     s->environment ? s->environment : "", e->name);
	}
	got = count_approvals(v, c, e, ss, n, req->now, 1, 1, &why);
	v->approvals = got;
	/* a destructive migration needs destructive: {approvals:} instead,
	 * never fewer than the ordinary count */
	if (req->destructive_approvals > m) {
		if (got < req->destructive_approvals) {
			buf_reset(&names);
			key_names(policy_env_list(c, e, "approvers"), &names);
			reason(v, "destructive",
			       "'%s' needs %llu approvals by distinct approvers (%s) for a bundle "
			       "with a destructive migration to run (destructive: {approvals: %llu} "
			       "in its config), the bundle carries %zu%s; waiting for them: %s; ask "
			       "another approver to run 'cairn promote BUNDLE --to %s --key KEY'",
			       e->name, req->destructive_approvals, buf_cstr(&names),
			       req->destructive_approvals, got, buf_cstr(&why),
			       req->destructive_what ? req->destructive_what : "?", e->name);
		}
	} else if (got < m) {
		buf_reset(&names);
		key_names(policy_env_list(c, e, "approvers"), &names);
		reason(v, "approvals",
		       "'%s' needs %llu approval%s by distinct approvers (%s), the bundle "
		       "carries %zu%s; ask an approver to run 'cairn promote BUNDLE --to %s'",
		       e->name, m, m == 1 ? "" : "s", buf_cstr(&names), got, buf_cstr(&why),
		       e->name);
	}
	buf_release(&why);
	buf_release(&names);
}

static void check_after(struct policy_verdict *v, const struct policy_config *c,
			const struct policy_env *e, const struct policy_request *req,
			struct sane *ss, size_t n)
{
	struct buf why = BUF_INIT;

	/* 4. the previous environment's approval */
	if (e->after) {
		const struct policy_env *prev = policy_config_env(c, e->after);

		if (prev) {
			unsigned long long pm = policy_env_approvals(c, prev);
			size_t pgot;

			if (!pm)
				pm = 1;
			buf_reset(&why);
			pgot = count_approvals(v, c, prev, ss, n, req->now, 0, 1, &why);
			if (pgot < pm)
				reason(v, "after",
				       "'%s' comes after '%s', and the bundle carries %zu of the "
				       "%llu approval%s '%s' needs%s; promote it to '%s' first "
				       "(cairn promote BUNDLE --to %s)",
				       e->name, prev->name, pgot, pm, pm == 1 ? "" : "s",
				       prev->name, buf_cstr(&why), prev->name, prev->name);
		}
	}
	buf_release(&why);
}

static void check_receipt(struct policy_verdict *v, const struct policy_config *c,
			  const struct policy_env *e, struct sane *ss, size_t n)
{
	const struct policy_keylist *rf = policy_env_list(c, e, "receipts_from");
	struct buf why = BUF_INIT, names = BUF_INIT;
	char label[256];
	size_t i;

	/* 5. proof that it ran before: a receipt by a receipts_from key, made
	 * after the approvals it follows from */
	if (rf->n) {
		const struct sane *prev;
		int found = 0;

		buf_reset(&why);
		for (i = 0; i < n; i++) {
			const struct policy_stmt *s = ss[i].s;

			if (!ss[i].ok || !is_type(s, "receipt"))
				continue;
			key_label(c, s->key_id, label, sizeof(label));
			if (!signed_by(rf, s)) {
				note(v, &why, "'%s' is a receipt by %s, not a receipts_from key",
				     s->name, label);
				continue;
			}
			if (e->after && !is_env(s, e->after)) {
				note(v, &why, "'%s' is a receipt from '%s', not '%s'", s->name,
				     s->environment ? s->environment : "", e->after);
				continue;
			}
			if (is_env(s, e->name)) {
				note(v, &why, "'%s' is a receipt from '%s' itself", s->name,
				     e->name);
				continue;
			}
			prev = newest_approval(ss, n, s->environment);
			if (prev && ss[i].t < prev->t) {
				note(v, &why, "'%s' is a receipt dated %s, before the approval '%s' "
				     "(%s) it follows from", s->name, s->time, prev->s->name,
				     prev->s->time);
				continue;
			}
			found = 1;
			use(v, s);
		}
		if (!found) {
			if (v->overrides & POLICY_OVERRIDE_NO_RECEIPT) {
				use_overrides(v, ss, n, POLICY_OVERRIDE_NO_RECEIPT);
			} else {
				buf_reset(&names);
				key_names(rf, &names);
				reason(v, "receipt",
				       "no receipt by a receipts_from key (%s)%s: nothing shows "
				       "the bundle ran in '%s'; apply it there with "
				       "--receipt-key, or have an admin sign an override "
				       "allowing no-receipt",
				       buf_cstr(&names), buf_cstr(&why),
				       e->after ? e->after : "an earlier environment");
			}
		}
	}
	buf_release(&why);
	buf_release(&names);
}

static void check_rollback(struct policy_verdict *v, const struct policy_request *req,
			   struct sane *ss, size_t n)
{

	/* 6. rollback protection */
	if (req->bundle_latest && req->db_latest &&
	    version_cmp(req->bundle_latest, req->db_latest) < 0) {
		if (v->overrides & POLICY_OVERRIDE_OLDER_BUNDLE) {
			use_overrides(v, ss, n, POLICY_OVERRIDE_OLDER_BUNDLE);
		} else {
			reason(v, "older-bundle",
			       "the database already has version %s, newer than this bundle's newest "
			       "(%s): an older bundle is refused (a stale artifact or a rollback "
			       "attack); use 'cairn-apply rollback', or have an admin sign an override "
			       "allowing older-bundle", req->db_latest, req->bundle_latest);
		}
	}
}

static void check_needs(struct policy_verdict *v, const struct policy_config *c,
			const struct policy_env *e, const struct policy_request *req,
			struct sane *ss, size_t n)
{
	struct buf names = BUF_INIT;
	size_t i;

	/* 7. operations that need an admin's override */
	for (i = 0; policy_override_names[i]; i++) {
		unsigned bit = 1U << i;

		if (!(req->needs & bit))
			continue;
		if (v->overrides & bit) {
			use_overrides(v, ss, n, bit);
			continue;
		}
		buf_reset(&names);
		key_names(policy_env_list(c, e, "admins"), &names);
		reason(v, "override",
		       "'%s' in '%s' needs an override statement allowing %s, signed by an admin "
		       "(admins: %s)", override_name(bit), e->name, override_name(bit),
		       buf_cstr(&names));
	}
	buf_release(&names);
}

/* A contract statement (issue #22): an approver of the environment says
 * the release before this bundle is retired there, so its contract
 * migrations may run. The same expiry and age rules as an approval. Its
 * absence refuses nothing: the engine runs the expand migrations and stops
 * before the first contract one. */
static void check_contract(struct policy_verdict *v, const struct policy_config *c,
			   const struct policy_env *e, const struct policy_request *req,
			   const struct sane *ss, size_t n)
{
	const struct policy_keylist *approvers = policy_env_list(c, e, "approvers");
	char label[256];
	long long exp;
	size_t i;

	for (i = 0; i < n; i++) {
		const struct policy_stmt *s = ss[i].s;

		if (!ss[i].ok || !is_type(s, "contract"))
			continue;
		key_label(c, s->key_id, label, sizeof(label));
		if (!is_env(s, e->name))
			note(v, NULL, "'%s' is a contract statement for '%s', not '%s'", s->name,
			     s->environment ? s->environment : "", e->name);
		else if (!signed_by(approvers, s))
			note(v, NULL, "'%s' (contract) is signed by %s, not an approver of '%s'",
			     s->name, label, e->name);
		else if (s->expires && (parse_rfc3339(s->expires, &exp) < 0 || req->now >= exp))
			note(v, NULL, "'%s' (contract) by %s expired at %s", s->name, label,
			     s->expires);
		else if (req->now >= ss[i].t + max_approval_age(c, e))
			note(v, NULL, "'%s' (contract) by %s was signed at %s, longer ago than '%s' "
			     "allows (max_approval_age %lld days)", s->name, label, s->time, e->name,
			     max_approval_age(c, e) / 86400);
		else if (!v->contract) {
			v->contract = 1;
			use(v, s);
		}
	}
}

int policy_check(struct policy_verdict *v, const struct policy_config *c,
		 const struct policy_stmt *st, size_t n, const struct policy_request *req)
{
	const struct policy_env *e = policy_config_env(c, req->environment);
	struct sane *ss = NULL;

	memset(v, 0, sizeof(*v));
	if (!e) {
		struct buf m = BUF_INIT;

		policy_config_unknown_env(c, req->environment ? req->environment : "", &m);
		cairn_error_set("%s", buf_cstr(&m));
		buf_release(&m);
		return -1;
	}
	ss = xcalloc(n + 1, sizeof(*ss));
	check_integrity(v, c, e, req, st, ss, n);
	check_overrides(v, c, e, req, ss, n);
	if (req->approvals) {
		check_build(v, c, e, ss, n);
		check_approvals(v, c, e, req, ss, n);
		check_after(v, c, e, req, ss, n);
		check_receipt(v, c, e, ss, n);
	}
	check_contract(v, c, e, req, ss, n);
	check_rollback(v, req, ss, n);
	check_needs(v, c, e, req, ss, n);
	v->ok = v->nreasons == 0;
	free(ss);
	return 0;
}

void policy_verdict_refuse(struct policy_verdict *v, const char *rule, const char *message)
{
	reason(v, rule, "%s", message);
	v->ok = 0;
}

void policy_verdict_release(struct policy_verdict *v)
{
	size_t i;

	if (!v)
		return;
	for (i = 0; i < v->nreasons; i++) {
		free(v->reasons[i].rule);
		free(v->reasons[i].message);
	}
	free(v->reasons);
	for (i = 0; i < v->nnotes; i++)
		free(v->notes[i]);
	free(v->notes);
	for (i = 0; i < v->nignored; i++)
		free(v->ignored[i]);
	free(v->ignored);
	free(v->used);
	memset(v, 0, sizeof(*v));
}
