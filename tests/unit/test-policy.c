/* Unit tests for the policy evaluation: statements + config + environment
 * -> verdict with reasons. Keys are named by fake ids (the file's base
 * name), so no key files are needed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/error.h"
#include "../../lib/util.h"
#include "../../policy/policy.h"
#include "unit.h"

#define ID "sha256:1111111111111111111111111111111111111111111111111111111111111111"
#define OTHER "sha256:2222222222222222222222222222222222222222222222222222222222222222"
#define NOW 1795000000LL /* 2026-11-18T... */

static const char config_yaml[] =
	"defaults:\n"
	"  builders: [keys/ci.pub]\n"
	"  revoked: [keys/mallory.pub]\n"
	"  max_approval_age: 90d\n"
	"environments:\n"
	"  dev: {}\n"
	"  staging:\n"
	"    approvals: 1\n"
	"    approvers: [keys/alice.pub, keys/bob.pub]\n"
	"  prod:\n"
	"    approvals: 2\n"
	"    approvers: [keys/alice.pub, keys/bob.pub, keys/carol.pub, keys/mallory.pub]\n"
	"    after: staging\n"
	"    receipts_from: [keys/stg.pub]\n"
	"    admins: [keys/dba.pub]\n"
	"    revoked: [{key: keys/bob.pub, since: 2026-11-01T00:00:00Z}]\n";

static void fake_list(struct policy_keylist *l)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		const char *base = strrchr(l->items[i].path, '/');
		size_t len;

		base = base ? base + 1 : l->items[i].path;
		len = strcspn(base, ".");
		if (len > POLICY_KEY_ID_LEN)
			len = POLICY_KEY_ID_LEN;
		memcpy(l->items[i].key_id, base, len);
		l->items[i].key_id[len] = '\0';
		l->items[i].loaded = 1;
	}
}

static void fake_env(struct policy_env *e)
{
	fake_list(&e->builders);
	fake_list(&e->approvers);
	fake_list(&e->receipts_from);
	fake_list(&e->admins);
	fake_list(&e->revoked);
}

static void load(struct policy_config *c)
{
	size_t i;

	policy_config_init(c);
	if (policy_config_parse(c, config_yaml, sizeof(config_yaml) - 1, "apply.yaml", ".",
				POLICY_CONFIG_NO_KEYS) < 0)
		printf("# config: %s\n", cairn_error_last());
	fake_env(&c->defaults);
	for (i = 0; i < c->nenvs; i++)
		fake_env(&c->envs[i]);
}

static struct policy_stmt stmt(const char *name, const char *type, const char *env,
			       const char *key)
{
	struct policy_stmt s;

	memset(&s, 0, sizeof(s));
	s.name = name;
	s.type = type;
	s.bundle = ID;
	s.environment = env;
	s.key_id = key;
	s.signer = key;
	s.time = "2026-10-15T12:00:00Z";
	s.valid = 1;
	return s;
}

static struct policy_stmt st[16];
static size_t nst;

static void add(struct policy_stmt s)
{
	st[nst++] = s;
}

/* The statements of a bundle ready for prod. */
static void prod_ready(void)
{
	nst = 0;
	add(stmt("signatures/ci.yaml", "build", NULL, "ci"));
	add(stmt("approvals/staging-alice.yaml", "approval", "staging", "alice"));
	add(stmt("approvals/staging-stg.yaml", "receipt", "staging", "stg"));
	add(stmt("approvals/prod-alice.yaml", "approval", "prod", "alice"));
	add(stmt("approvals/prod-carol.yaml", "approval", "prod", "carol"));
}

static int check(struct policy_verdict *v, const struct policy_config *c, const char *env,
		 unsigned needs, const char *db_latest)
{
	struct policy_request r;

	memset(&r, 0, sizeof(r));
	r.bundle_id = ID;
	r.environment = env;
	r.now = NOW;
	r.bundle_latest = "20261110090000";
	r.db_latest = db_latest;
	r.needs = needs;
	r.approvals = 1;
	return policy_check(v, c, st, nst, &r);
}

/* The reason for rule, when there is one and its message holds needle. */
static int has_reason(const struct policy_verdict *v, const char *rule, const char *needle)
{
	size_t i;

	for (i = 0; i < v->nreasons; i++)
		if (!strcmp(v->reasons[i].rule, rule) &&
		    (!needle || strstr(v->reasons[i].message, needle)))
			return 1;
	printf("#   no reason %s with '%s'; have:\n", rule, needle ? needle : "");
	for (i = 0; i < v->nreasons; i++)
		printf("#     %s: %s\n", v->reasons[i].rule, v->reasons[i].message);
	return 0;
}

static int used(const struct policy_verdict *v, const char *name)
{
	size_t i;

	for (i = 0; i < v->nused; i++)
		if (!strcmp(v->used[i]->name, name))
			return 1;
	return 0;
}

static void test_happy(struct policy_config *c)
{
	struct policy_verdict v;

	prod_ready();
	CHECK(check(&v, c, "prod", 0, NULL) == 0);
	CHECK(v.ok && v.nreasons == 0);
	CHECK(v.nused == 5);
	CHECK(used(&v, "signatures/ci.yaml") && used(&v, "approvals/prod-alice.yaml") &&
	      used(&v, "approvals/prod-carol.yaml") && used(&v, "approvals/staging-alice.yaml") &&
	      used(&v, "approvals/staging-stg.yaml"));
	policy_verdict_release(&v);

	/* dev needs only the build; staging one approval */
	nst = 1;
	CHECK(check(&v, c, "dev", 0, NULL) == 0 && v.ok && v.nused == 1);
	policy_verdict_release(&v);
	nst = 2;
	CHECK(check(&v, c, "staging", 0, NULL) == 0 && v.ok && v.nused == 2);
	policy_verdict_release(&v);
	nst = 1;
	CHECK(check(&v, c, "staging", 0, NULL) == 0 && !v.ok);
	CHECK(has_reason(&v, "approvals", "'staging' needs 1 approval by distinct approvers "
					  "(keys/alice.pub, keys/bob.pub), the bundle carries 0"));
	CHECK(has_reason(&v, "approvals", "cairn promote BUNDLE --to staging"));
	policy_verdict_release(&v);

	CHECK(check(&v, c, "qa", 0, NULL) < 0);
	CHECK(strstr(cairn_error_last(), "environment 'qa' is not in 'apply.yaml'") != NULL);
}

static void test_build(struct policy_config *c)
{
	struct policy_verdict v;

	nst = 0;
	CHECK(check(&v, c, "dev", 0, NULL) == 0 && !v.ok);
	CHECK(has_reason(&v, "build", "no build signature by a builder of 'dev' (builders: keys/ci.pub)"));
	policy_verdict_release(&v);
	add(stmt("signatures/carol.yaml", "build", NULL, "carol"));
	CHECK(check(&v, c, "dev", 0, NULL) == 0 && !v.ok);
	CHECK(has_reason(&v, "build", "'signatures/carol.yaml' is signed by keys/carol.pub (carol), not a builder of 'dev'"));
	policy_verdict_release(&v);
}

static void test_approvals(struct policy_config *c)
{
	struct policy_verdict v;

	/* one key signing twice counts once */
	prod_ready();
	st[4] = stmt("approvals/prod-alice-again.yaml", "approval", "prod", "alice");
	CHECK(check(&v, c, "prod", 0, NULL) == 0 && !v.ok && v.nreasons == 1);
	CHECK(has_reason(&v, "approvals", "the bundle carries 1; 'approvals/prod-alice-again.yaml' "
					  "is a second approval by keys/alice.pub (alice), which counts once"));
	policy_verdict_release(&v);

	/* an approval for another environment does not count here */
	prod_ready();
	st[4] = stmt("approvals/dev-carol.yaml", "approval", "dev", "carol");
	CHECK(check(&v, c, "prod", 0, NULL) == 0 && !v.ok);
	CHECK(has_reason(&v, "approvals", "'approvals/dev-carol.yaml' approves 'dev', not 'prod'"));
	policy_verdict_release(&v);

	/* an approval signed by someone who is not an approver */
	prod_ready();
	st[4] = stmt("approvals/prod-ci.yaml", "approval", "prod", "ci");
	CHECK(check(&v, c, "prod", 0, NULL) == 0 && !v.ok);
	CHECK(has_reason(&v, "approvals", "'approvals/prod-ci.yaml' is signed by keys/ci.pub (ci), not an approver of 'prod'"));
	policy_verdict_release(&v);

	/* an expired approval */
	prod_ready();
	st[4].expires = "2026-11-01T00:00:00Z";
	CHECK(check(&v, c, "prod", 0, NULL) == 0 && !v.ok);
	CHECK(has_reason(&v, "approvals", "'approvals/prod-carol.yaml' by keys/carol.pub (carol) expired at 2026-11-01T00:00:00Z"));
	policy_verdict_release(&v);
	st[4].expires = "2026-12-01T00:00:00Z";
	CHECK(check(&v, c, "prod", 0, NULL) == 0 && v.ok);
	policy_verdict_release(&v);

	/* an approval made for another bundle is refused outright */
	prod_ready();
	add(stmt("approvals/prod-bob.yaml", "approval", "prod", "bob"));
	st[5].bundle = OTHER;
	CHECK(check(&v, c, "prod", 0, NULL) == 0 && !v.ok && v.nreasons == 1);
	CHECK(has_reason(&v, "wrong-bundle", "'approvals/prod-bob.yaml' names bundle sha256:2222222222222222"));
	policy_verdict_release(&v);

	/* a forged signature is refused outright */
	prod_ready();
	st[3].valid = 0;
	CHECK(check(&v, c, "prod", 0, NULL) == 0 && !v.ok);
	CHECK(has_reason(&v, "bad-signature", "'approvals/prod-alice.yaml' (approval by keys/alice.pub (alice)): the signature does not match; it was altered or forged"));
	policy_verdict_release(&v);
}

static void test_revoked(struct policy_config *c)
{
	struct policy_verdict v;

	/* bob is revoked for prod from 2026-11-01: before counts, after counts
	 * for nothing (ignored and named, not fatal) */
	prod_ready();
	st[4] = stmt("approvals/prod-bob.yaml", "approval", "prod", "bob");
	CHECK(check(&v, c, "prod", 0, NULL) == 0 && v.ok);
	policy_verdict_release(&v);
	st[4].time = "2026-11-02T08:00:00Z";
	CHECK(check(&v, c, "prod", 0, NULL) == 0 && !v.ok);
	CHECK(!has_reason(&v, "revoked-key", ""));
	CHECK(has_reason(&v, "approvals", "the bundle carries 1"));
	CHECK(v.nignored == 1 && strstr(v.ignored[0], "at 2026-11-02T08:00:00Z, and that key is revoked since 2026-11-01T00:00:00Z (apply.yaml:16:"));
	policy_verdict_release(&v);
	/* the boundary: a second before 'since' counts, 'since' itself does not */
	st[4].time = "2026-10-31T23:59:59Z";
	CHECK(check(&v, c, "prod", 0, NULL) == 0 && v.ok && v.nignored == 0);
	policy_verdict_release(&v);
	st[4].time = "2026-11-01T00:00:00Z";
	CHECK(check(&v, c, "prod", 0, NULL) == 0 && !v.ok && v.nignored == 1);
	CHECK(has_reason(&v, "approvals", "the bundle carries 1"));
	policy_verdict_release(&v);
	/* bob's revocation is prod's only: staging still takes him */
	nst = 0;
	add(stmt("signatures/ci.yaml", "build", NULL, "ci"));
	add(stmt("approvals/staging-bob.yaml", "approval", "staging", "bob"));
	st[1].time = "2026-11-02T08:00:00Z";
	CHECK(check(&v, c, "staging", 0, NULL) == 0 && v.ok);
	policy_verdict_release(&v);

	/* mallory is revoked everywhere, at any time, even as a listed approver */
	prod_ready();
	st[4] = stmt("approvals/prod-mallory.yaml", "approval", "prod", "mallory");
	st[4].time = "2020-01-01T00:00:00Z";
	CHECK(check(&v, c, "prod", 0, NULL) == 0 && !v.ok);
	CHECK(v.nignored == 1 && strstr(v.ignored[0], "'approvals/prod-mallory.yaml' is signed by keys/mallory.pub (mallory), a revoked key (apply.yaml:3:"));
	policy_verdict_release(&v);

	/* a statement without a readable time */
	prod_ready();
	st[3].time = "last tuesday";
	CHECK(check(&v, c, "prod", 0, NULL) == 0 && !v.ok);
	CHECK(has_reason(&v, "statement-time", "'approvals/prod-alice.yaml' has no readable time"));
	policy_verdict_release(&v);
}

static void test_after_and_receipts(struct policy_config *c)
{
	struct policy_verdict v;

	/* no approval for staging */
	prod_ready();
	st[1] = stmt("approvals/staging-carol.yaml", "approval", "staging", "carol");
	CHECK(check(&v, c, "prod", 0, NULL) == 0 && !v.ok && v.nreasons == 1);
	CHECK(has_reason(&v, "after", "'prod' comes after 'staging', and the bundle carries 0 of the 1 approval 'staging' needs; 'approvals/staging-carol.yaml' is signed by keys/carol.pub (carol), not an approver of 'staging'"));
	CHECK(has_reason(&v, "after", "cairn promote BUNDLE --to staging"));
	policy_verdict_release(&v);

	/* an expired staging approval still proves it was approved there */
	prod_ready();
	st[1].expires = "2026-10-16T00:00:00Z";
	CHECK(check(&v, c, "prod", 0, NULL) == 0 && v.ok);
	policy_verdict_release(&v);

	/* no receipt */
	prod_ready();
	st[2] = st[4]; /* drop the receipt */
	nst = 4;
	CHECK(check(&v, c, "prod", 0, NULL) == 0 && !v.ok);
	CHECK(has_reason(&v, "receipt", "no receipt by a receipts_from key (keys/stg.pub): nothing shows the bundle ran in 'staging'"));
	policy_verdict_release(&v);

	/* a receipt by the wrong key, or for the wrong environment */
	prod_ready();
	st[2].key_id = "ci";
	CHECK(check(&v, c, "prod", 0, NULL) == 0 && !v.ok);
	CHECK(has_reason(&v, "receipt", "'approvals/staging-stg.yaml' is a receipt by keys/ci.pub (ci), not a receipts_from key"));
	policy_verdict_release(&v);
	prod_ready();
	st[2].environment = "dev";
	CHECK(check(&v, c, "prod", 0, NULL) == 0 && !v.ok);
	CHECK(has_reason(&v, "receipt", "is a receipt from 'dev', not 'staging'"));
	policy_verdict_release(&v);

	/* an admin's override waives the receipt, and is recorded as used */
	{
		static const char *const allow[] = { "no-receipt" };

		prod_ready();
		st[2] = stmt("approvals/prod-override-dba.yaml", "override", "prod", "dba");
		st[2].allow = allow;
		st[2].nallow = 1;
		CHECK(check(&v, c, "prod", 0, NULL) == 0 && v.ok);
		CHECK(used(&v, "approvals/prod-override-dba.yaml"));
		CHECK(v.overrides == POLICY_OVERRIDE_NO_RECEIPT);
		policy_verdict_release(&v);

		/* not by an admin: refused, naming it */
		st[2].key_id = "alice";
		CHECK(check(&v, c, "prod", 0, NULL) == 0 && !v.ok);
		CHECK(has_reason(&v, "override-not-admin", "'approvals/prod-override-dba.yaml' is an override signed by keys/alice.pub (alice), not an admin of 'prod' (admins: keys/dba.pub)"));
		CHECK(has_reason(&v, "receipt", NULL));
		policy_verdict_release(&v);

		/* for another environment: it does not count */
		st[2].key_id = "dba";
		st[2].environment = "staging";
		CHECK(check(&v, c, "prod", 0, NULL) == 0 && !v.ok);
		CHECK(has_reason(&v, "receipt", NULL));
		policy_verdict_release(&v);
	}
}

static void test_overrides(struct policy_config *c)
{
	static const char *const allow[] = { "older-bundle", "repair" };
	static const char *const bogus[] = { "everything" };
	struct policy_verdict v;

	/* an older bundle than the database holds */
	prod_ready();
	CHECK(check(&v, c, "prod", 0, "20261115090000") == 0 && !v.ok);
	CHECK(has_reason(&v, "older-bundle", "the database already has version 20261115090000, newer than this bundle's newest (20261110090000)"));
	policy_verdict_release(&v);
	CHECK(check(&v, c, "prod", 0, "20261110090000") == 0 && v.ok);
	policy_verdict_release(&v);

	/* repair needs an override */
	CHECK(check(&v, c, "prod", POLICY_OVERRIDE_REPAIR, NULL) == 0 && !v.ok);
	CHECK(has_reason(&v, "override", "'repair' in 'prod' needs an override statement allowing repair, signed by an admin (admins: keys/dba.pub)"));
	policy_verdict_release(&v);

	add(stmt("approvals/prod-override.yaml", "override", "prod", "dba"));
	st[nst - 1].allow = allow;
	st[nst - 1].nallow = 2;
	CHECK(check(&v, c, "prod", POLICY_OVERRIDE_REPAIR, "20261115090000") == 0 && v.ok);
	CHECK(used(&v, "approvals/prod-override.yaml"));
	policy_verdict_release(&v);
	CHECK(check(&v, c, "prod", POLICY_OVERRIDE_FORCE, NULL) == 0 && !v.ok);
	CHECK(has_reason(&v, "override", "'force' in 'prod'"));
	policy_verdict_release(&v);

	/* an expired override grants nothing */
	st[nst - 1].expires = "2026-11-01T00:00:00Z";
	CHECK(check(&v, c, "prod", POLICY_OVERRIDE_REPAIR, NULL) == 0 && !v.ok);
	policy_verdict_release(&v);

	st[nst - 1].expires = NULL;
	st[nst - 1].allow = bogus;
	st[nst - 1].nallow = 1;
	CHECK(check(&v, c, "prod", 0, NULL) == 0 && !v.ok);
	CHECK(has_reason(&v, "override-unknown", "allows 'everything', which is not an override"));
	policy_verdict_release(&v);
}

static void test_no_approvals_mode(struct policy_config *c)
{
	struct policy_verdict v;
	struct policy_request r;

	/* status/history: no approvals checked, integrity still is */
	nst = 0;
	memset(&r, 0, sizeof(r));
	r.bundle_id = ID;
	r.environment = "prod";
	r.now = NOW;
	CHECK(policy_check(&v, c, st, nst, &r) == 0 && v.ok);
	policy_verdict_release(&v);
	add(stmt("signatures/ci.yaml", "build", NULL, "ci"));
	st[0].valid = 0;
	CHECK(policy_check(&v, c, st, nst, &r) == 0 && !v.ok);
	policy_verdict_release(&v);
}

/* A contract statement (issue #22): by an approver of the environment,
 * for it, unexpired and within max_approval_age, sets verdict.contract;
 * its absence refuses nothing. */
static void test_contract(struct policy_config *c)
{
	struct policy_verdict v;

	prod_ready();
	CHECK(check(&v, c, "prod", 0, NULL) == 0 && v.ok && !v.contract);
	policy_verdict_release(&v);

	add(stmt("approvals/staging-contract-alice.yaml", "contract", "staging", "alice"));
	add(stmt("approvals/prod-contract-ci.yaml", "contract", "prod", "ci"));
	add(stmt("approvals/prod-contract-dave.yaml", "contract", "prod", "alice"));
	st[nst - 1].expires = "2026-11-01T00:00:00Z"; /* before NOW */
	CHECK(check(&v, c, "prod", 0, NULL) == 0 && v.ok && !v.contract);
	CHECK(v.nused == 5);
	policy_verdict_release(&v);

	add(stmt("approvals/prod-contract-old.yaml", "contract", "prod", "alice"));
	st[nst - 1].time = "2026-01-01T00:00:00Z"; /* older than 90d */
	CHECK(check(&v, c, "prod", 0, NULL) == 0 && v.ok && !v.contract);
	policy_verdict_release(&v);

	add(stmt("approvals/prod-contract-carol.yaml", "contract", "prod", "carol"));
	CHECK(check(&v, c, "prod", 0, NULL) == 0 && v.ok && v.contract);
	CHECK(used(&v, "approvals/prod-contract-carol.yaml") && v.nused == 6);
	policy_verdict_release(&v);

	/* a forged one refuses the bundle, as any forged statement does */
	st[nst - 1].valid = 0;
	CHECK(check(&v, c, "prod", 0, NULL) == 0 && !v.ok && !v.contract);
	CHECK(has_reason(&v, "bad-signature", "approvals/prod-contract-carol.yaml"));
	policy_verdict_release(&v);
}

static void test_versions(void)
{
	CHECK(version_cmp("0002", "0010") < 0);
	CHECK(version_cmp("10", "9") > 0);
	CHECK(version_cmp("0010", "10") == 0);
	CHECK(version_cmp("20261115090000", "20261110090000") > 0);
	CHECK(policy_override_bit("no-receipt") == POLICY_OVERRIDE_NO_RECEIPT);
	CHECK(policy_override_bit("force") == POLICY_OVERRIDE_FORCE);
	CHECK(policy_override_bit("nope") == 0);
}

/* destructive: {approvals: N}: N distinct, fresh, unrevoked approvals
 * instead of the ordinary count, never fewer */
static void test_destructive(struct policy_config *c)
{
	struct policy_verdict v;
	struct policy_request r;

	memset(&r, 0, sizeof(r));
	r.bundle_id = ID;
	r.environment = "prod";
	r.now = NOW;
	r.bundle_latest = "20261110090000";
	r.approvals = 1;
	r.destructive_approvals = 3;
	r.destructive_what = "migration 'm': drop-table at up.sql:1 (DROP TABLE)";
	prod_ready();
	CHECK(policy_check(&v, c, st, nst, &r) == 0 && !v.ok && v.nreasons == 1);
	CHECK(has_reason(&v, "destructive", "'prod' needs 3 approvals by distinct approvers"));
	CHECK(has_reason(&v, "destructive", "(destructive: {approvals: 3} in its config), the bundle carries 2; waiting for them: migration 'm': drop-table at up.sql:1 (DROP TABLE)"));
	policy_verdict_release(&v);
	/* the same key again, and a revoked key's, still make 2 */
	add(stmt("approvals/prod-alice-again.yaml", "approval", "prod", "alice"));
	add(stmt("approvals/prod-mallory.yaml", "approval", "prod", "mallory"));
	CHECK(policy_check(&v, c, st, nst, &r) == 0 && !v.ok);
	CHECK(has_reason(&v, "destructive", "carries 2; 'approvals/prod-alice-again.yaml' is a second approval by keys/alice.pub (alice), which counts once"));
	policy_verdict_release(&v);
	/* fewer than the ordinary count asks nothing more, nor less */
	r.destructive_approvals = 1;
	nst = 0;
	prod_ready();
	CHECK(policy_check(&v, c, st, nst, &r) == 0 && v.ok);
	policy_verdict_release(&v);
	nst = 4; /* alice's prod approval only */
	CHECK(policy_check(&v, c, st, nst, &r) == 0 && !v.ok);
	CHECK(has_reason(&v, "approvals", "'prod' needs 2 approvals"));
	CHECK(!has_reason(&v, "destructive", ""));
	policy_verdict_release(&v);
	/* 2 of 2 is enough when 2 are asked */
	r.destructive_approvals = 2;
	prod_ready();
	CHECK(policy_check(&v, c, st, nst, &r) == 0 && v.ok);
	policy_verdict_release(&v);
}

int main(void)
{
	struct policy_config c;

	load(&c);
	CHECK(c.errors == 0 && c.nenvs == 3);
	test_happy(&c);
	test_build(&c);
	test_approvals(&c);
	test_revoked(&c);
	test_after_and_receipts(&c);
	test_overrides(&c);
	test_no_approvals_mode(&c);
	test_contract(&c);
	test_destructive(&c);
	test_versions();
	policy_config_release(&c);
	return unit_done();
}
