/* Unit tests for the applier's config: parsing and its diagnostics, DSN
 * masking, times, precedence, key ids. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "../../lib/error.h"
#include "../../lib/sha256.h"
#include "../../lib/util.h"
#include "../../policy/config.h"
#include "unit.h"

static int parse(struct policy_config *c, const char *yaml)
{
	policy_config_init(c);
	return policy_config_parse(c, yaml, strlen(yaml), "t.yaml", "/cfg", POLICY_CONFIG_NO_KEYS);
}

/* 1 when some diagnostic contains both needles. */
static int has_diag(const struct policy_config *c, const char *a, const char *b)
{
	size_t i;

	for (i = 0; i < c->ndiags; i++)
		if (strstr(c->diags[i].msg, a) && (!b || strstr(c->diags[i].msg, b)))
			return 1;
	printf("#   no diagnostic with '%s'%s%s; have:\n", a, b ? " and " : "", b ? b : "");
	for (i = 0; i < c->ndiags; i++)
		printf("#     %s\n", c->diags[i].msg);
	return 0;
}

static void test_good(void)
{
	struct policy_config c;
	const struct policy_env *e;

	CHECK(parse(&c,
		    "defaults:\n"
		    "  builders: [keys/ci.pub]\n"
		    "  lock_timeout: 10s\n"
		    "environments:\n"
		    "  dev:\n"
		    "    database: {dsn: \"sqlite:dev.db\"}\n"
		    "  staging:\n"
		    "    database: {dsn_env: STAGING_DSN}\n"
		    "    approvers: [keys/a.pub, keys/b.pub]\n"
		    "  prod:\n"
		    "    database: {dsn_file: prod.dsn}\n"
		    "    approvals: 2\n"
		    "    approvers: [keys/a.pub, /abs/b.pub]\n"
		    "    after: staging\n"
		    "    revoked:\n"
		    "      - keys/old.pub\n"
		    "      - {key: keys/bob.pub, since: 2026-11-01T00:00:00Z}\n") == 0);
	CHECK(c.errors == 0 && c.warnings == 0);
	CHECK(c.nenvs == 3);
	e = policy_config_env(&c, "dev");
	CHECK(e && e->db_kind == POLICY_DB_DSN);
	CHECK_STR(e ? e->db_value : NULL, "sqlite:/cfg/dev.db"); /* relative to the config */
	e = policy_config_env(&c, "staging");
	CHECK(e && e->db_kind == POLICY_DB_DSN_ENV && !strcmp(e->db_value, "STAGING_DSN"));
	CHECK(e && !e->approvals_set && e->approvers.n == 2);
	e = policy_config_env(&c, "prod");
	CHECK(e && e->db_kind == POLICY_DB_DSN_FILE);
	CHECK_STR(e ? e->db_value : NULL, "/cfg/prod.dsn");
	CHECK(e && e->approvals == 2);
	CHECK_STR(e ? e->approvers.items[0].resolved : NULL, "/cfg/keys/a.pub");
	CHECK_STR(e ? e->approvers.items[1].resolved : NULL, "/abs/b.pub");
	CHECK(e && e->approvers.items[1].line == 13 && e->approvers.items[1].col == 29);
	CHECK_STR(e ? e->after : NULL, "staging");
	CHECK(e && e->revoked.n == 2 && !e->revoked.items[0].since);
	CHECK(e && e->revoked.items[1].since_epoch == 1793491200LL);
	CHECK(policy_config_env(&c, "qa") == NULL);
	policy_config_release(&c);
}

static void test_errors(void)
{
	struct policy_config c;

	CHECK(parse(&c, "environments:\n  dev:\n    buidlers: [k.pub]\n") < 0);
	CHECK(has_diag(&c, "t.yaml:3:5: error: unknown key 'buidlers'", "did you mean 'builders'"));
	CHECK(strstr(cairn_error_last(), "t.yaml:3:5:") == cairn_error_last());
	policy_config_release(&c);

	CHECK(parse(&c, "environment:\n  dev: {}\n") < 0);
	CHECK(has_diag(&c, "t.yaml:1:1: error: unknown key 'environment'", "did you mean 'environments'"));
	policy_config_release(&c);

	CHECK(parse(&c, "") < 0);
	CHECK(has_diag(&c, "the config is empty", NULL));
	policy_config_release(&c);

	CHECK(parse(&c, "- a\n- b\n") < 0);
	CHECK(has_diag(&c, "expected a mapping", NULL));
	policy_config_release(&c);

	CHECK(parse(&c, "environments: {}\n") < 0);
	CHECK(has_diag(&c, "no environments", NULL));
	policy_config_release(&c);

	CHECK(parse(&c, "environments:\n  dev:\n    approvals: two\n") < 0);
	CHECK(has_diag(&c, "t.yaml:3:16: error: 'approvals' must be a whole number", "not 'two'"));
	policy_config_release(&c);

	CHECK(parse(&c, "environments:\n  dev:\n    approvals: \"1\"\n    approvers: [a.pub]\n") < 0);
	CHECK(has_diag(&c, "'approvals' must be a whole number", NULL));
	policy_config_release(&c);

	CHECK(parse(&c, "environments:\n  dev:\n    builders: ci.pub\n") < 0);
	CHECK(has_diag(&c, "t.yaml:3:15: error: 'builders' must be a list of public key files", NULL));
	policy_config_release(&c);

	CHECK(parse(&c, "environments:\n  dev:\n    builders: [[x]]\n") < 0);
	CHECK(has_diag(&c, "t.yaml:3:16: error: 'builders' must be a list", "not a list"));
	policy_config_release(&c);

	CHECK(parse(&c, "environments:\n  dev:\n    approvals: 3\n    approvers: [a.pub, b.pub, a.pub]\n") < 0);
	CHECK(has_diag(&c, "t.yaml:3:16: error: environment 'dev' needs 3 approvals", "2 distinct"));
	policy_config_release(&c);

	CHECK(parse(&c, "environments:\n  dev:\n    approvals: 1\n") < 0);
	CHECK(has_diag(&c, "needs 1 approvals but names 0", NULL));
	policy_config_release(&c);

	CHECK(parse(&c, "environments:\n  dev:\n    database: {dsn: x, dsn_env: Y}\n") < 0);
	CHECK(has_diag(&c, "database has both 'dsn'", "exactly one"));
	policy_config_release(&c);

	CHECK(parse(&c, "environments:\n  dev:\n    database: {}\n") < 0);
	CHECK(has_diag(&c, "database needs one of dsn, dsn_env, dsn_file", NULL));
	policy_config_release(&c);

	CHECK(parse(&c, "environments:\n  dev:\n    database: \"sqlite:x\"\n") < 0);
	CHECK(has_diag(&c, "'database' must be a mapping", NULL));
	policy_config_release(&c);

	CHECK(parse(&c, "environments:\n  dev:\n    database: {dsn_env: 9LIVES}\n") < 0);
	CHECK(has_diag(&c, "'dsn_env' must name an environment variable", NULL));
	policy_config_release(&c);

	CHECK(parse(&c, "environments:\n  dev:\n    database: {dsn: mysql-somewhere}\n") < 0);
	CHECK(has_diag(&c, "'dsn' must be sqlite:PATH", NULL));
	policy_config_release(&c);

	/* a password in the file is refused, and never repeated in clear */
	CHECK(parse(&c, "environments:\n  prod:\n    database: {dsn: \"postgres://app:hunter2@db/app\"}\n") < 0);
	CHECK(has_diag(&c, "t.yaml:3:21: error: 'dsn' holds a password", "postgres://app:****@db/app"));
	CHECK(!strstr(c.diags[0].msg, "hunter2"));
	policy_config_release(&c);
	CHECK(parse(&c, "environments:\n  prod:\n    database: {dsn: \"host=db password=hunter2\"}\n") < 0);
	CHECK(has_diag(&c, "holds a password", "password=****"));
	policy_config_release(&c);

	CHECK(parse(&c, "environments:\n  dev:\n    after: stagign\n  staging: {}\n") < 0);
	CHECK(has_diag(&c, "'after' names 'stagign'", "did you mean 'staging'"));
	policy_config_release(&c);

	CHECK(parse(&c, "environments:\n  dev:\n    after: dev\n") < 0);
	CHECK(has_diag(&c, "cannot come after itself", NULL));
	policy_config_release(&c);

	CHECK(parse(&c, "environments:\n"
			"  a: {after: c, approvers: [k.pub]}\n"
			"  b: {after: a, approvers: [k.pub]}\n"
			"  c: {after: b, approvers: [k.pub]}\n") < 0);
	CHECK(has_diag(&c, "t.yaml:2:14: error: 'after' makes a cycle: a -> c -> b -> a", NULL));
	CHECK(c.errors == 1); /* one cycle, reported once */
	policy_config_release(&c);

	/* after an environment without approvers can never be met */
	CHECK(parse(&c, "environments:\n  dev: {}\n  prod: {after: dev}\n") < 0);
	CHECK(has_diag(&c, "'after: dev' cannot be met", "no approvers"));
	policy_config_release(&c);

	CHECK(parse(&c, "environments:\n  dev:\n    lock_timeout: soon\n") < 0);
	CHECK(has_diag(&c, "'lock_timeout' must be a duration", NULL));
	policy_config_release(&c);

	CHECK(parse(&c, "environments:\n  dev:\n    revoked: [{since: 2026-01-01T00:00:00Z}]\n") < 0);
	CHECK(has_diag(&c, "a revoked entry needs 'key: FILE'", NULL));
	policy_config_release(&c);

	CHECK(parse(&c, "environments:\n  dev:\n    revoked: [{key: k.pub, since: tomorrow}]\n") < 0);
	CHECK(has_diag(&c, "'since' must be a UTC time", "not 'tomorrow'"));
	policy_config_release(&c);

	CHECK(parse(&c, "environments:\n  dev:\n    revoked: [{key: k.pub, sinse: 2026-01-01}]\n") < 0);
	CHECK(has_diag(&c, "unknown key 'sinse' in a revoked key", "did you mean 'since'"));
	policy_config_release(&c);

	CHECK(parse(&c, "defaults:\n  after: dev\nenvironments:\n  dev: {}\n") < 0);
	CHECK(has_diag(&c, "'after' belongs to one environment, not to defaults", NULL));
	policy_config_release(&c);

	CHECK(parse(&c, "environments:\n  ../etc: {}\n") < 0);
	CHECK(has_diag(&c, "environment name '../etc'", NULL));
	policy_config_release(&c);

	CHECK(parse(&c, "environments:\n  dev: [1]\n") < 0);
	CHECK(has_diag(&c, "'dev' must be a mapping of settings", NULL));
	policy_config_release(&c);

	CHECK(parse(&c, "environments:\n  dev: &a {}\n") < 0);
	CHECK(has_diag(&c, "anchors are not allowed", NULL));
	policy_config_release(&c);

	/* every problem is reported, in file order */
	CHECK(parse(&c, "environments:\n  dev:\n    approvals: x\n    frob: 1\n  qa:\n    lock_timeout: y\n") < 0);
	CHECK(c.errors == 3);
	{
		int lines[8], n = 0;
		size_t i;

		for (i = 0; i < c.ndiags && n < 8; i++)
			if (!c.diags[i].warning)
				lines[n++] = c.diags[i].line;
		CHECK(n == 3 && lines[0] == 3 && lines[1] == 4 && lines[2] == 6);
	}
	policy_config_release(&c);

	/* a warning alone does not fail */
	CHECK(parse(&c, "environments:\n  dev: {database: {dsn: \"sqlite:x.db\"}}\n") == 0);
	CHECK(c.warnings == 1 && has_diag(&c, "warning: environment 'dev' names no builders", NULL));
	policy_config_release(&c);
}

static void test_dsn_mask(void)
{
	static const char *const cases[][2] = {
		{ "sqlite:/var/db/app.db", "sqlite:/var/db/app.db" },
		{ "postgres://app@db/x", "postgres://app@db/x" },
		{ "postgres://app:s3cret@db:5432/x", "postgres://app:****@db:5432/x" },
		{ "postgresql://app:p%40ss@db/x?sslmode=require", "postgresql://app:****@db/x?sslmode=require" },
		{ "postgres://db/x?user=a&password=s3cret&sslmode=verify-full",
		  "postgres://db/x?user=a&password=****&sslmode=verify-full" },
		{ "postgres://a:b@c@db/x", "postgres://a:****@db/x" },
		{ "postgres://u:pa/ss@db/x", "postgres://u:****@db/x" },
		{ "postgres://db:5432/x", "postgres://db:5432/x" },
		{ "host=db dbname=x password=s3cret", "host=db dbname=x password=****" },
		{ "password = 's3 \\' cret' host=db", "password = **** host=db" },
		{ "host=db user=app", "host=db user=app" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		char *m = dsn_mask(cases[i][0]);

		CHECK_STR(m, cases[i][1]);
		CHECK(dsn_has_password(cases[i][0]) == (strcmp(cases[i][0], cases[i][1]) != 0));
		free(m);
	}
	/* the quoted value keeps its quotes, but shows no secret byte */
	{
		char *m = dsn_mask("password='s3 \\' cret' host=db");

		CHECK(m && !strstr(m, "s3") && !strstr(m, "cret") && strstr(m, "host=db"));
		free(m);
	}
	CHECK(dsn_mask(NULL) == NULL);
}

static void test_time(void)
{
	long long t = 0;

	CHECK(parse_rfc3339("1970-01-01T00:00:00Z", &t) == 0 && t == 0);
	CHECK(parse_rfc3339("2026-11-01T00:00:00Z", &t) == 0 && t == 1793491200LL);
	CHECK(parse_rfc3339("2026-11-01", &t) == 0 && t == 1793491200LL);
	CHECK(parse_rfc3339("2026-11-01T02:00:00+02:00", &t) == 0 && t == 1793491200LL);
	CHECK(parse_rfc3339("2026-10-31T23:00:00.123-01:00", &t) == 0 && t == 1793491200LL);
	CHECK(parse_rfc3339("2024-02-29T00:00:00Z", &t) == 0);
	CHECK(parse_rfc3339("2026-02-29T00:00:00Z", &t) < 0);
	CHECK(parse_rfc3339("2026-11-01T00:00:00", &t) < 0); /* no zone */
	CHECK(parse_rfc3339("2026-13-01T00:00:00Z", &t) < 0);
	CHECK(parse_rfc3339("2026-11-01T24:00:00Z", &t) < 0);
	CHECK(parse_rfc3339("2026-11-01T00:00:00Zjunk", &t) < 0);
	CHECK(parse_rfc3339("yesterday", &t) < 0);
	CHECK(parse_rfc3339("", &t) < 0);
	CHECK(parse_rfc3339(NULL, &t) < 0);
}

static void test_resolve(void)
{
	struct policy_config c;
	struct policy_resolved r;
	struct policy_inputs in;
	int usage = 0;

	CHECK(parse(&c,
		    "defaults:\n"
		    "  lock_timeout: 10s\n"
		    "  builders: [ci.pub]\n"
		    "  revoked: [old.pub]\n"
		    "environments:\n"
		    "  dev:\n"
		    "    database: {dsn_env: DEV_DSN}\n"
		    "  prod:\n"
		    "    lock_timeout: 2m\n"
		    "    builders: [prodci.pub]\n"
		    "    revoked: [{key: bob.pub, since: 2026-11-01T00:00:00Z}]\n"
		    "    approvers: [a.pub, b.pub]\n") == 0);

	memset(&in, 0, sizeof(in));
	CHECK(policy_resolve(&r, &c, &in, &usage) < 0 && usage == 1);
	CHECK(strstr(cairn_error_last(), "pass --env ENV or set CAIRN_ENV") != NULL);
	CHECK(strstr(cairn_error_last(), "'dev', 'prod'") != NULL);

	in.env_env = "prd";
	CHECK(policy_resolve(&r, &c, &in, &usage) < 0 && usage == 1);
	CHECK(strstr(cairn_error_last(), "did you mean 'prod'") != NULL);

	/* the file, then the built-in default */
	in.env_env = "dev";
	CHECK(policy_resolve(&r, &c, &in, &usage) == 0);
	CHECK(r.env_name_src.source == POLICY_SRC_ENV && !strcmp(r.env_name_src.origin, "CAIRN_ENV"));
	CHECK(r.db_kind == POLICY_DB_DSN_ENV && r.db_src.source == POLICY_SRC_FILE);
	CHECK_STR(r.db_src.origin, "t.yaml:7:25");
	CHECK(r.lock_timeout_ms == 10000 && r.lock_timeout_src.source == POLICY_SRC_FILE);
	CHECK_STR(r.lock_timeout_src.origin, "t.yaml:2:17");
	CHECK(r.builders->n == 1 && !strcmp(r.builders->items[0].path, "ci.pub"));
	CHECK(r.revoked.n == 1 && r.approvals == 0);
	policy_resolved_release(&r);

	/* the environment's own beats defaults; revoked lists add up */
	in.env_env = "prod";
	CHECK(policy_resolve(&r, &c, &in, &usage) == 0);
	CHECK(r.lock_timeout_ms == 120000);
	CHECK(r.builders->n == 1 && !strcmp(r.builders->items[0].path, "prodci.pub"));
	CHECK(r.revoked.n == 2 && r.revoked.items[1].since_epoch == 1793491200LL);
	CHECK(r.approvals == 1 && r.approvals_src.source == POLICY_SRC_DEFAULT);
	CHECK(r.db_kind == POLICY_DB_NONE);
	{
		char *dsn = NULL;

		CHECK(policy_database_dsn(&r, &dsn) < 0 && dsn == NULL);
		CHECK(strstr(cairn_error_last(), "names no database") != NULL);
	}
	policy_resolved_release(&r);

	/* variables beat the file, flags beat variables */
	in.env_env = "dev";
	in.env_db = "sqlite:env.db";
	in.env_lock_timeout = "5s";
	CHECK(policy_resolve(&r, &c, &in, &usage) == 0);
	CHECK(r.db_kind == POLICY_DB_DSN && !strcmp(r.db_value, "sqlite:env.db"));
	CHECK(r.db_src.source == POLICY_SRC_ENV && r.lock_timeout_ms == 5000);
	CHECK(r.lock_timeout_src.source == POLICY_SRC_ENV);
	policy_resolved_release(&r);

	in.flag_env = "prod";
	in.flag_db = "postgres://u:pw@h/db";
	in.flag_lock_timeout = "250ms";
	CHECK(policy_resolve(&r, &c, &in, &usage) == 0);
	CHECK_STR(r.env_name, "prod");
	CHECK(r.env_name_src.source == POLICY_SRC_FLAG && r.db_src.source == POLICY_SRC_FLAG);
	CHECK(r.lock_timeout_ms == 250 && r.lock_timeout_src.source == POLICY_SRC_FLAG);
	{
		char *dsn = NULL;

		CHECK(policy_database_dsn(&r, &dsn) == 0);
		CHECK_STR(dsn, "postgres://u:pw@h/db");
		free(dsn);
	}
	policy_resolved_release(&r);

	in.flag_lock_timeout = "soon";
	CHECK(policy_resolve(&r, &c, &in, &usage) < 0 && usage == 1);
	CHECK(strstr(cairn_error_last(), "--lock-timeout must be a duration") != NULL);
	in.flag_lock_timeout = NULL;
	in.env_lock_timeout = "later";
	CHECK(policy_resolve(&r, &c, &in, &usage) < 0 && usage == 1);
	CHECK(strstr(cairn_error_last(), "CAIRN_LOCK_TIMEOUT") != NULL);
	in.env_lock_timeout = NULL;
	in.flag_db = "mysql:x";
	CHECK(policy_resolve(&r, &c, &in, &usage) < 0 && usage == 1);
	CHECK(strstr(cairn_error_last(), "--db: 'mysql:x' is not a DSN") != NULL);
	in.flag_db = NULL;

	/* no variable, no lock timeout anywhere: the built-in default */
	policy_config_release(&c);
	CHECK(parse(&c, "environments:\n  dev: {builders: [ci.pub]}\n") == 0);
	memset(&in, 0, sizeof(in));
	in.flag_env = "dev";
	CHECK(policy_resolve(&r, &c, &in, &usage) == 0);
	CHECK(r.lock_timeout_ms == POLICY_DEFAULT_LOCK_TIMEOUT_MS);
	CHECK(r.lock_timeout_src.source == POLICY_SRC_DEFAULT);
	policy_resolved_release(&r);
	policy_config_release(&c);
}

static void test_config_path(void)
{
	const char *src = NULL;

	CHECK_STR(policy_config_path("a.yaml", "b.yaml", &src), "a.yaml");
	CHECK_STR(src, "flag");
	CHECK_STR(policy_config_path(NULL, "b.yaml", &src), "b.yaml");
	CHECK_STR(src, "env");
	CHECK_STR(policy_config_path(NULL, "", &src), "cairn-apply.yaml");
	CHECK_STR(src, "default");
}

/* Writes an Ed25519 key pair's public half to path; raw gets its 32 bytes. */
static int write_pubkey(const char *path, unsigned char raw[32])
{
	EVP_PKEY *pk = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	size_t len = 32;
	FILE *f;
	int ok;

	if (!pk)
		return -1;
	f = fopen(path, "w");
	ok = f && PEM_write_PUBKEY(f, pk) == 1 && EVP_PKEY_get_raw_public_key(pk, raw, &len) == 1;
	if (f)
		fclose(f);
	EVP_PKEY_free(pk);
	return ok ? 0 : -1;
}

static void test_keys(void)
{
	char dir[] = "/tmp/cairn-unit-XXXXXX";
	unsigned char raw[32];
	char hex[SHA256_HEX_LEN + 1], *p, *yaml;
	struct policy_key k;
	struct policy_config c;

	if (!mkdtemp(dir)) {
		CHECK(!"mkdtemp");
		return;
	}
	p = path_join(dir, "ci.pub");
	CHECK(write_pubkey(p, raw) == 0);
	memset(&k, 0, sizeof(k));
	CHECK(policy_key_load(&k, p) == 0);
	CHECK(memcmp(k.raw, raw, 32) == 0);
	sha256_hex(raw, 32, hex);
	hex[16] = '\0';
	CHECK_STR(k.key_id, hex);
	CHECK(policy_key_load(&k, "/nonexistent/k.pub") < 0);
	CHECK(strstr(cairn_error_last(), "cannot open '/nonexistent/k.pub'") != NULL);

	/* the config loads them relative to its directory */
	yaml = xasprintf("environments:\n  dev:\n    builders: [ci.pub, ci.pub]\n"
			 "    approvers: [missing.pub]\n");
	policy_config_init(&c);
	CHECK(policy_config_parse(&c, yaml, strlen(yaml), "c.yaml", dir, 0) < 0);
	CHECK(c.envs && c.envs[0].builders.items[0].loaded);
	CHECK_STR(c.envs ? c.envs[0].builders.items[0].key_id : NULL, hex);
	CHECK(has_diag(&c, "c.yaml:3:24: warning: 'builders' names key", "twice"));
	CHECK(has_diag(&c, "c.yaml:4:17: error: in 'approvers': cannot open", "missing.pub"));
	CHECK(policy_keylist_find(&c.envs[0].builders, hex) == &c.envs[0].builders.items[0]);
	CHECK(policy_keylist_find(&c.envs[0].builders, "0000000000000000") == NULL);
	policy_config_release(&c);
	free(yaml);

	/* a private key or a non-key is refused by name */
	{
		char *kp = path_join(dir, "x.key");
		FILE *f = fopen(kp, "w");

		if (f) {
			fputs("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", f);
			fclose(f);
		}
		CHECK(policy_key_load(&k, kp) < 0);
		CHECK(strstr(cairn_error_last(), "is a private key") != NULL);
		f = fopen(kp, "w");
		if (f) {
			fputs("hello\n", f);
			fclose(f);
		}
		CHECK(policy_key_load(&k, kp) < 0);
		CHECK(strstr(cairn_error_last(), "is not a PEM public key") != NULL);
		unlink(kp);
		free(kp);
	}
	unlink(p);
	free(p);
	rmdir(dir);
}

static void test_dsn_file(void)
{
	char dir[] = "/tmp/cairn-unit-XXXXXX";
	struct policy_resolved r;
	char *p, *dsn = NULL;
	FILE *f;

	if (!mkdtemp(dir)) {
		CHECK(!"mkdtemp");
		return;
	}
	p = path_join(dir, "prod.dsn");
	memset(&r, 0, sizeof(r));
	r.env_name = xstrdup("prod");
	r.db_kind = POLICY_DB_DSN_FILE;
	r.db_value = xstrdup(p);
	r.db_src.origin = xstrdup("c.yaml:3:4");
	CHECK(policy_database_dsn(&r, &dsn) < 0);
	CHECK(strstr(cairn_error_last(), "(dsn_file at c.yaml:3:4)") != NULL);
	f = fopen(p, "w");
	if (f) {
		fputs("host=db password=s3cret\n", f);
		fclose(f);
	}
	chmod(p, 0644);
	CHECK(policy_database_dsn(&r, &dsn) < 0);
	CHECK(strstr(cairn_error_last(), "readable by every user") != NULL);
	chmod(p, 0600);
	CHECK(policy_database_dsn(&r, &dsn) == 0);
	CHECK_STR(dsn, "host=db password=s3cret");
	free(dsn);
	policy_resolved_release(&r);

	memset(&r, 0, sizeof(r));
	r.env_name = xstrdup("prod");
	r.db_kind = POLICY_DB_DSN_ENV;
	r.db_value = xstrdup("CAIRN_UNIT_TEST_DSN");
	r.db_src.origin = xstrdup("c.yaml:3:4");
	unsetenv("CAIRN_UNIT_TEST_DSN");
	CHECK(policy_database_dsn(&r, &dsn) < 0);
	CHECK(strstr(cairn_error_last(), "'CAIRN_UNIT_TEST_DSN' (dsn_env at c.yaml:3:4) is not set") != NULL);
	setenv("CAIRN_UNIT_TEST_DSN", "sqlite:x.db", 1);
	CHECK(policy_database_dsn(&r, &dsn) == 0);
	CHECK_STR(dsn, "sqlite:x.db");
	free(dsn);
	policy_resolved_release(&r);
	unlink(p);
	free(p);
	rmdir(dir);
}

/* Issue #22: postgres: {lock_retry_budget}, and the lock_timeout of the
 * migrations that are retried: the environment's, the defaults', else 2s,
 * while the others keep "none" (0) when nothing is set. */
static void test_lock_retry(void)
{
	struct policy_config c;
	struct policy_resolved r;
	struct policy_inputs in;
	int usage = 0;

	CHECK(parse(&c, "defaults:\n  postgres: {lock_retry_budget: 5m}\nenvironments:\n"
		       "  a:\n    database: {dsn: \"sqlite:a.db\"}\n"
		       "  b:\n    database: {dsn: \"sqlite:b.db\"}\n"
		       "    postgres: {lock_timeout: 300ms, lock_retry_budget: 0s}\n") == 0);
	memset(&in, 0, sizeof(in));
	in.flag_env = "a";
	CHECK(policy_resolve(&r, &c, &in, &usage) == 0);
	CHECK(r.pg_lock_retry_ms == 300000);
	CHECK(r.pg_lock_timeout_ms == 0);
	CHECK(r.pg_retry_lock_timeout_ms == POLICY_DEFAULT_PG_LOCK_TIMEOUT_MS);
	policy_resolved_release(&r);
	in.flag_env = "b";
	CHECK(policy_resolve(&r, &c, &in, &usage) == 0);
	CHECK(r.pg_lock_retry_ms == 0);
	CHECK(r.pg_lock_timeout_ms == 300 && r.pg_retry_lock_timeout_ms == 300);
	policy_resolved_release(&r);
	policy_config_release(&c);

	CHECK(parse(&c, "environments:\n  a:\n    database: {dsn: \"sqlite:a.db\"}\n") == 0);
	in.flag_env = "a";
	CHECK(policy_resolve(&r, &c, &in, &usage) == 0);
	CHECK(r.pg_lock_retry_ms == POLICY_DEFAULT_PG_LOCK_RETRY_MS);
	policy_resolved_release(&r);
	policy_config_release(&c);

	CHECK(parse(&c, "environments:\n  a:\n    database: {dsn: \"sqlite:a.db\"}\n"
		       "    postgres: {lock_retry_budget: forever}\n") < 0);
	CHECK(has_diag(&c, "lock_retry_budget", "a duration"));
	policy_config_release(&c);
}

/* pgguard15b: postgres: {privileged_role: refuse|warn}, the
 * environment's, else the defaults', else warn. */
static void test_privileged_role(void)
{
	struct policy_config c;
	struct policy_resolved r;
	struct policy_inputs in;
	int usage = 0;

	CHECK(parse(&c, "defaults:\n  postgres: {privileged_role: refuse}\nenvironments:\n"
		       "  a:\n    database: {dsn: \"sqlite:a.db\"}\n"
		       "  b:\n    database: {dsn: \"sqlite:b.db\"}\n"
		       "    postgres: {privileged_role: warn}\n") == 0);
	memset(&in, 0, sizeof(in));
	in.flag_env = "a";
	CHECK(policy_resolve(&r, &c, &in, &usage) == 0);
	CHECK(r.pg_privileged_refuse == 1);
	policy_resolved_release(&r);
	in.flag_env = "b";
	CHECK(policy_resolve(&r, &c, &in, &usage) == 0);
	CHECK(r.pg_privileged_refuse == 0);
	policy_resolved_release(&r);
	policy_config_release(&c);

	CHECK(parse(&c, "environments:\n  a:\n    database: {dsn: \"sqlite:a.db\"}\n") == 0);
	in.flag_env = "a";
	CHECK(policy_resolve(&r, &c, &in, &usage) == 0);
	CHECK(r.pg_privileged_refuse == 0);
	policy_resolved_release(&r);
	policy_config_release(&c);

	CHECK(parse(&c, "environments:\n  a:\n    database: {dsn: \"sqlite:a.db\"}\n"
		       "    postgres: {privileged_role: yes}\n") < 0);
	CHECK(has_diag(&c, "privileged_role", "refuse or warn"));
	policy_config_release(&c);
}

/* One resolved setting of environment env: privileged_role's refuse
 * (privileged) or rollback's require_bundle, with where it came from in
 * *src and, for privileged_role, whether the config set it in *set. */
static int env_setting(const struct policy_config *c, const char *env, int privileged,
		       const char **src, int *set)
{
	struct policy_resolved r;
	struct policy_inputs in;
	static char origin[80];
	int usage = 0, v;

	memset(&in, 0, sizeof(in));
	in.flag_env = env;
	if (policy_resolve(&r, c, &in, &usage) < 0)
		return -1;
	v = privileged ? r.pg_privileged_refuse : r.rollback_require_bundle;
	if (set)
		*set = r.pg_privileged_set;
	snprintf(origin, sizeof(origin), "%s",
		 privileged ? r.pg_privileged_src : r.rollback_require_src);
	*src = origin;
	policy_resolved_release(&r);
	return v;
}

/* attack15h: privileged_role defaults to refuse where the environment
 * asks more than a build (approvals, receipts_from, after); the config's
 * own value wins, and says where it is. */
static int privileged_refuse(const struct policy_config *c, const char *env, const char **src,
			     int *set)
{
	return env_setting(c, env, 1, src, set);
}

static void test_privileged_default(void)
{
	struct policy_config c;
	const char *src = NULL;
	int set = -1;

	CHECK(parse(&c, "environments:\n"
		       "  prod:\n    database: {dsn: \"sqlite:p.db\"}\n"
		       "    approvers: [a.pub]\n    approvals: 1\n"
		       "  stage:\n    database: {dsn: \"sqlite:s.db\"}\n    after: prod\n"
		       "  rc:\n    database: {dsn: \"sqlite:r.db\"}\n    receipts_from: [a.pub]\n"
		       "  dev:\n    database: {dsn: \"sqlite:d.db\"}\n"
		       "  lab:\n    database: {dsn: \"sqlite:l.db\"}\n"
		       "    approvers: [a.pub]\n    approvals: 1\n"
		       "    postgres: {privileged_role: warn}\n") == 0);
	CHECK(privileged_refuse(&c, "prod", &src, &set) == 1 && !set);
	CHECK(!strcmp(src, "the default where approvals are required"));
	CHECK(privileged_refuse(&c, "stage", &src, &set) == 1 && !set);
	CHECK(!strcmp(src, "the default where an 'after' environment is required"));
	CHECK(privileged_refuse(&c, "rc", &src, &set) == 1 && !set);
	CHECK(!strcmp(src, "the default where receipts are required"));
	CHECK(privileged_refuse(&c, "dev", &src, &set) == 0 && !set);
	CHECK(!strcmp(src, "the default where the policy asks only for a build"));
	CHECK(privileged_refuse(&c, "lab", &src, &set) == 0 && set == 1);
	CHECK(!strcmp(src, "t.yaml:18"));
	policy_config_release(&c);
}

/* rollback: {require_bundle:} (issue #15): the environment's, else
 * defaults', else required where approvals or an 'after' are asked for. */
static int requires_bundle(const struct policy_config *c, const char *env, const char **src)
{
	return env_setting(c, env, 0, src, NULL);
}

static void test_rollback_bundle(void)
{
	struct policy_config c;
	const char *src = NULL;

	CHECK(parse(&c, "environments:\n"
		       "  prod:\n    database: {dsn: \"sqlite:p.db\"}\n"
		       "    approvers: [a.pub, b.pub]\n    approvals: 2\n"
		       "  stage:\n    database: {dsn: \"sqlite:s.db\"}\n    after: prod\n"
		       "  dev:\n    database: {dsn: \"sqlite:d.db\"}\n"
		       "  lab:\n    database: {dsn: \"sqlite:l.db\"}\n"
		       "    approvers: [a.pub]\n    approvals: 1\n"
		       "    rollback: {require_bundle: false}\n") == 0);
	CHECK(requires_bundle(&c, "prod", &src) == 1);
	CHECK(!strcmp(src, "the default where approvals are required"));
	CHECK(requires_bundle(&c, "stage", &src) == 1);
	CHECK(!strcmp(src, "the default where an 'after' environment is required"));
	CHECK(requires_bundle(&c, "dev", &src) == 0);
	CHECK(requires_bundle(&c, "lab", &src) == 0);
	CHECK(!strcmp(src, "t.yaml:15"));
	policy_config_release(&c);

	CHECK(parse(&c, "defaults:\n  rollback: {require_bundle: on}\nenvironments:\n"
		       "  dev:\n    database: {dsn: \"sqlite:d.db\"}\n") == 0);
	CHECK(requires_bundle(&c, "dev", &src) == 1);
	CHECK(!strcmp(src, "t.yaml:2"));
	policy_config_release(&c);

	CHECK(parse(&c, "environments:\n  a:\n    database: {dsn: \"sqlite:a.db\"}\n"
		       "    rollback: {require_bundle: maybe, bundle: true}\n") < 0);
	CHECK(has_diag(&c, "require_bundle", "true or false"));
	CHECK(has_diag(&c, "bundle", "require_bundle"));
	policy_config_release(&c);
	CHECK(parse(&c, "environments:\n  a:\n    database: {dsn: \"sqlite:a.db\"}\n"
		       "    rollback: true\n") < 0);
	CHECK(has_diag(&c, "rollback", "require_bundle"));
	policy_config_release(&c);
}

/* sqlite: {extensions:} (issue #19): paths resolved against the config's
 * directory and checked to exist; the environment's list replaces the
 * defaults' */
static void test_sqlite_extensions(void)
{
	char dir[] = "/tmp/cairn-ext-XXXXXX", *a, *b, *want;
	const char *yaml = "defaults:\n"
			   "  sqlite: {extensions: [a.so]}\n"
			   "environments:\n"
			   "  dev:\n"
			   "    database: {dsn: \"sqlite:a.db\"}\n"
			   "  prod:\n"
			   "    database: {dsn: \"sqlite:b.db\"}\n"
			   "    sqlite: {foreign_keys: on, extensions: [b.so, a.so]}\n"
			   "  bare:\n"
			   "    database: {dsn: \"sqlite:c.db\"}\n"
			   "    sqlite: {extensions: []}\n";
	struct policy_config c;
	struct policy_resolved r;
	struct policy_inputs in;
	int usage = 0;
	FILE *f;

	CHECK(mkdtemp(dir) != NULL);
	a = path_join(dir, "a.so");
	b = path_join(dir, "b.so");
	CHECK((f = fopen(a, "w")) != NULL && fclose(f) == 0);
	CHECK((f = fopen(b, "w")) != NULL && fclose(f) == 0);
	policy_config_init(&c);
	CHECK(policy_config_parse(&c, yaml, strlen(yaml), "t.yaml", dir, POLICY_CONFIG_NO_KEYS) == 0);
	memset(&in, 0, sizeof(in));
	in.flag_env = "dev";
	CHECK(policy_resolve(&r, &c, &in, &usage) == 0);
	CHECK(r.nsqlite_extensions == 1 && !strcmp(r.sqlite_extensions[0], a));
	policy_resolved_release(&r);
	in.flag_env = "prod";
	CHECK(policy_resolve(&r, &c, &in, &usage) == 0);
	CHECK(r.nsqlite_extensions == 2 && !strcmp(r.sqlite_extensions[0], b) &&
	      !strcmp(r.sqlite_extensions[1], a) && r.sqlite_foreign_keys == 2);
	policy_resolved_release(&r);
	in.flag_env = "bare";
	CHECK(policy_resolve(&r, &c, &in, &usage) == 0);
	CHECK(r.nsqlite_extensions == 0);
	policy_resolved_release(&r);
	policy_config_release(&c);

	/* a missing file: an error at its line, naming the resolved path */
	CHECK(unlink(b) == 0);
	policy_config_init(&c);
	CHECK(policy_config_parse(&c, yaml, strlen(yaml), "t.yaml", dir, POLICY_CONFIG_NO_KEYS) < 0);
	want = path_join(dir, "b.so");
	CHECK(has_diag(&c, "t.yaml:8:", want) && has_diag(&c, "does not exist", NULL));
	policy_config_release(&c);
	CHECK(parse(&c, "environments:\n  x:\n    sqlite: {extensions: a.so}\n") < 0);
	CHECK(has_diag(&c, "extensions", "list"));
	policy_config_release(&c);
	CHECK(unlink(a) == 0 && rmdir(dir) == 0);
	free(a);
	free(b);
	free(want);
}

int main(void)
{
	test_good();
	test_errors();
	test_dsn_mask();
	test_time();
	test_resolve();
	test_config_path();
	test_keys();
	test_dsn_file();
	test_lock_retry();
	test_privileged_role();
	test_privileged_default();
	test_rollback_bundle();
	test_sqlite_extensions();
	return unit_done();
}
