/* Unit tests for the bundle format: base64 and key ids, member names,
 * SHA256SUMS, migration checksums, signing and checking, and bundle_open
 * on the committed fixtures (the tests run from tests/). The manifest's
 * and statements' parsers: test-manifest.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../apply/load.h"
#include "../../apply/set.h"
#include "../../bundle/build.h"
#include "../../bundle/keys.h"
#include "../../lib/buf.h"
#include "../../lib/error.h"
#include "../../lib/sha256.h"
#include "../../lib/util.h"
#include "../../verify/archive.h"
#include "../../verify/bundle.h"
#include "../../verify/keys.h"
#include "../../bundle/write.h"
#include "../../verify/manifest.h"
#include "../../verify/statement.h"
#include "unit.h"

static void test_base64(void)
{
	unsigned char raw[64], back[64];
	char text[SIG_B64_LEN + 2];
	size_t i;

	for (i = 0; i < sizeof(raw); i++)
		raw[i] = (unsigned char)(i * 7 + 3);
	base64_encode(raw, 64, text);
	CHECK(strlen(text) == SIG_B64_LEN);
	CHECK(text[86] == '=' && text[87] == '=');
	CHECK(sig_decode(text, strlen(text), back) == 0 && !memcmp(raw, back, 64));
	text[88] = '\n';
	CHECK(sig_decode(text, 89, back) == 0);
	CHECK(sig_decode(text, 87, back) < 0);               /* short */
	text[86] = 'A';
	CHECK(sig_decode(text, 88, back) < 0);               /* padding replaced */
	text[86] = '=';
	text[10] = '*';
	CHECK(sig_decode(text, 88, back) < 0);               /* not base64 */
	base64_encode((const unsigned char *)"ab", 2, text);
	CHECK_STR(text, "YWI=");
	CHECK(base64_decode_exact("YWI=", 4, back, 2) == 0 && !memcmp(back, "ab", 2));
	CHECK(base64_decode_exact("YWJ=", 4, back, 2) < 0);  /* non-zero trailing bits */
	CHECK(base64_decode_exact("YWI", 3, back, 2) < 0);
}

static void test_key_id(void)
{
	unsigned char zero[32] = { 0 };
	char id[KEY_ID_LEN + 1];

	/* sha256 of 32 zero bytes: 66687aad f862bd77 6c8fc18b 8e9f8e20 ... */
	key_id_of_raw(zero, id);
	CHECK_STR(id, "66687aadf862bd77");
	CHECK(key_id_valid("66687aadf862bd77"));
	CHECK(!key_id_valid("66687aadf862bd7"));
	CHECK(!key_id_valid("66687AADF862BD77"));
	CHECK(!key_id_valid("66687aadf862bd77a"));
}

static void test_members(void)
{
	CHECK(member_path_safe("migrations/1_a/up.sql"));
	CHECK(member_path_safe("migrations/1_a/data/x y.csv"));
	CHECK(!member_path_safe("/etc/passwd"));
	CHECK(!member_path_safe("migrations/../x"));
	CHECK(!member_path_safe("migrations/./x"));
	CHECK(!member_path_safe("migrations//x"));
	CHECK(!member_path_safe("migrations/x/"));
	CHECK(!member_path_safe(".."));
	CHECK(!member_path_safe("a\\b"));
	CHECK(!member_path_safe("a\nb"));
	CHECK(!member_path_safe(""));
	CHECK(member_rank("manifest.yaml") == RANK_MANIFEST);
	CHECK(member_rank("SHA256SUMS") == RANK_SUMS);
	CHECK(member_rank("signatures/0011223344556677.sig") == RANK_SIGNATURE);
	CHECK(member_rank("signatures/a/b") == -1);
	CHECK(member_rank("approvals/prod-0011223344556677.yaml") == RANK_APPROVAL);
	CHECK(member_rank("migrations/1_a/up.sql") == RANK_MIGRATION);
	CHECK(member_rank("migrations/up.sql") == -1);
	CHECK(member_rank("README") == -1);
	CHECK(member_cmp("SHA256SUMS", "manifest.yaml") > 0);
	CHECK(member_cmp("signatures/x.yaml", "approvals/a.yaml") < 0);
	CHECK(member_cmp("approvals/z.yaml", "migrations/1_a/up.sql") < 0);
	CHECK(member_cmp("migrations/1_a/data/x", "migrations/1_a/down.sql") < 0);
}

static void test_sums(void)
{
	static const char good[] =
		"0000000000000000000000000000000000000000000000000000000000000000  manifest.yaml\n"
		"1111111111111111111111111111111111111111111111111111111111111111  migrations/1_a/up.sql\n";
	struct sums s;
	struct buf b = BUF_INIT;
	char bad[sizeof(good)];

	CHECK(sums_parse(&s, good, strlen(good)) == 0 && s.n == 2);
	CHECK(s.n == 2 && !strcmp(s.items[1].path, "migrations/1_a/up.sql"));
	CHECK(sums_format(&s, &b) == 0 && !strcmp(buf_cstr(&b), good));
	sums_release(&s);
	buf_release(&b);
	memcpy(bad, good, sizeof(good));
	bad[3] = 'A';
	CHECK(sums_parse(&s, bad, strlen(bad)) < 0);             /* upper case */
	CHECK(sums_parse(&s, good, strlen(good) - 1) < 0);       /* no final newline */
	{
		char swapped[256];
		const char *second = strchr(good, '\n') + 1;
		int first = (int)(second - good);

		CHECK(sums_parse(&s, second, strlen(second)) == 0 && s.n == 1);
		sums_release(&s);
		snprintf(swapped, sizeof(swapped), "%s%.*s", second, first, good);
		CHECK(sums_parse(&s, swapped, strlen(swapped)) < 0);   /* out of order */
		CHECK(strstr(cairn_error_last(), "out of order") != NULL);
		snprintf(swapped, sizeof(swapped), "%.*s%.*s", first, good, first, good);
		CHECK(sums_parse(&s, swapped, strlen(swapped)) < 0);   /* twice */
		CHECK(strstr(cairn_error_last(), "listed twice") != NULL);
	}
	CHECK(sums_parse(&s, "0000000000000000000000000000000000000000000000000000000000000000 x\n", 67) < 0);
	CHECK(sums_parse(&s, "0000000000000000000000000000000000000000000000000000000000000000  ../x\n", 70) < 0);
}

/* One parse of text in three slices cut at i and j: its verdict, its
 * message, and what it formats back to. */
static int sums_sliced(const char *text, size_t len, size_t i, size_t j, struct buf *out,
		       char *msg, size_t msgsz)
{
	struct sums_parser sp;
	struct sums s;
	int rc;

	sums_parser_init(&sp, &s, len);
	rc = sums_parser_feed(&sp, text, i);
	if (!rc)
		rc = sums_parser_feed(&sp, text + i, j - i);
	if (!rc)
		rc = sums_parser_feed(&sp, text + j, len - j);
	if (!rc)
		rc = sums_parser_finish(&sp);
	buf_reset(out);
	if (!rc) {
		if (sums_format(&s, out) < 0)
			rc = 2;
		sums_release(&s);
	}
	snprintf(msg, msgsz, "%s", rc ? cairn_error_last() : "");
	return rc;
}

/* SHA256SUMS fed in slices (an apply's reader, issue #14) parses exactly
 * as the whole text does: cut at every pair of byte boundaries (mid-hex,
 * mid-"  ", mid-path, at the newline, twice in a line), for a good text
 * and for each refusal, the same verdict, message and line. */
static void test_sums_slices(void)
{
	static const char h0[] = "0000000000000000000000000000000000000000000000000000000000000000";
	static const char h1[] = "1111111111111111111111111111111111111111111111111111111111111111";
	char texts[12][512];
	size_t lens[12];
	int nt = 0, t, failures = 0;
	struct buf want = BUF_INIT, got = BUF_INIT;
	char wmsg[CAIRN_ERRMSG_MAX], gmsg[CAIRN_ERRMSG_MAX];

#define SUMS_TEXT(...) (snprintf(texts[nt], sizeof(texts[nt]), __VA_ARGS__), \
			lens[nt] = strlen(texts[nt]), nt++)
	SUMS_TEXT("%s  manifest.yaml\n%s  migrations/1_a/up.sql\n%s  migrations/2_b/down.sql\n",
		  h0, h1, h0);
	SUMS_TEXT("%s  manifest.yaml\n%.63sA  migrations/1_a/up.sql\n", h0, h1);  /* upper case */
	SUMS_TEXT("%s  manifest.yaml\n%s migrations/1_a/up.sql\n", h0, h1);      /* one space */
	SUMS_TEXT("%s  manifest.yaml\n%s\tmigrations/1_a/up.sql\n", h0, h1);     /* a tab */
	SUMS_TEXT("%s  manifest.yaml\n%s  \n%s  x\n", h0, h1, h0);               /* no path */
	SUMS_TEXT("%s  manifest.yaml\n\n%s  x\n", h0, h1);                       /* empty line */
	SUMS_TEXT("%s  manifest.yaml\n%s  migrations/../x\n", h0, h1);           /* unsafe */
	SUMS_TEXT("%s  migrations/1_a/up.sql\n%s  manifest.yaml\n", h0, h1);     /* out of order */
	SUMS_TEXT("%s  manifest.yaml\n%s  manifest.yaml\n", h0, h1);             /* twice */
	SUMS_TEXT("%s  manifest.yaml\n%s  migrations/1_a/up.sql", h0, h1);       /* no newline */
	SUMS_TEXT("%s", "");                                                      /* empty */
	SUMS_TEXT("%s  manifest.yaml\n%s  migrations/1_a/up.sqlX\n", h0, h1);
	texts[nt - 1][strlen(texts[nt - 1]) - 2] = '\0'; /* a NUL in the path: unsafe */
#undef SUMS_TEXT
	for (t = 0; t < nt; t++) {
		size_t len = lens[t], i, j;
		int wrc = sums_sliced(texts[t], len, len, len, &want, wmsg, sizeof(wmsg));

		CHECK(t == 0 || t == 10 ? wrc == 0 : wrc < 0);
		for (i = 0; i <= len; i++)
			for (j = i; j <= len; j++) {
				int grc = sums_sliced(texts[t], len, i, j, &got, gmsg, sizeof(gmsg));

				if (grc != wrc || strcmp(gmsg, wmsg) || want.len != got.len ||
				    (want.len && memcmp(want.ptr, got.ptr, want.len)))
					failures++;
			}
	}
	CHECK(failures == 0);
	/* more bytes than the size given are refused, not written past it */
	{
		struct sums_parser sp;
		struct sums s;

		sums_parser_init(&sp, &s, 10);
		CHECK(sums_parser_feed(&sp, texts[0], 11) < 0);
		CHECK(sums_parser_finish(&sp) < 0);
	}
	buf_release(&want);
	buf_release(&got);
}

static void test_checksum(void)
{
	struct bundle_file f[2];
	char sum[72], want[65], h0[65], h1[65];
	struct buf text = BUF_INIT;

	memset(f, 0, sizeof(f));
	f[0].name = "down.sql";
	memset(f[0].sha, 0xaa, sizeof(f[0].sha));
	f[1].name = "up.sql";
	memset(f[1].sha, 0xb0, sizeof(f[1].sha));
	migration_checksum(f, 2, sum);
	/* the digests as text: aaaa... and b0b0... */
	CHECK(!strcmp(bundle_file_hex(&f[1], h1), "b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0"
						  "b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0"));
	buf_printf(&text, "%s  down.sql\n%s  up.sql\n", bundle_file_hex(&f[0], h0), h1);
	sha256_hex(text.ptr, text.len, want);
	CHECK(!strncmp(sum, "sha256:", 7) && !strcmp(sum + 7, want));
	buf_release(&text);
}

static void test_sign_verify(void)
{
	char dir[] = "/tmp/cairn-unit-XXXXXX", *name, *keypath, *pubpath;
	char id[KEY_ID_LEN + 1], sig[SIG_B64_LEN + 1];
	unsigned char raw[SIG_RAW_LEN];
	struct seckey *k = NULL, *k2 = NULL;
	struct pubkey *pk = NULL;

	CHECK(mkdtemp(dir) != NULL);
	name = xasprintf("%s/t", dir);
	keypath = xasprintf("%s.key", name);
	pubpath = xasprintf("%s.pub", name);
	CHECK(keygen_write(name, "pw", 2, id) == 0);
	CHECK(keygen_write(name, NULL, 0, id) < 0 && strstr(cairn_error_last(), "never overwrites"));
	CHECK(seckey_probe(keypath) == 1);
	CHECK(seckey_load(&k2, keypath, "wrong", 5) < 0 && strstr(cairn_error_last(), "wrong passphrase"));
	CHECK(seckey_load(&k, keypath, "pw", 2) == 0);
	CHECK(pubkey_load(&pk, pubpath) == 0);
	CHECK(k && pk && !strcmp(k->pub->id, pk->id) && !strcmp(pk->id, id));
	CHECK(k && seckey_sign(k, "hello", 5, sig) == 0);
	CHECK(sig_decode(sig, strlen(sig), raw) == 0);
	CHECK(pk && sig_verify(pk, "hello", 5, raw) == 1);
	CHECK(pk && sig_verify(pk, "hellp", 5, raw) == 0);
	raw[0] ^= 1;
	CHECK(pk && sig_verify(pk, "hello", 5, raw) == 0);
	seckey_free(k);
	seckey_free(k2);
	pubkey_free(pk);
	unlink(keypath);
	unlink(pubpath);
	rmdir(dir);
	free(name);
	free(keypath);
	free(pubpath);
}

struct collect {
	struct buf b;
	int calls;
};

static int collect_cb(void *ctx, const void *data, size_t len)
{
	struct collect *c = ctx;

	c->calls++;
	return buf_put(&c->b, data, len);
}

static int copy_file(const char *from, const char *to)
{
	struct buf b = BUF_INIT;
	int rc = read_file(from, 0, &b) < 0 ? -1 : write_file_atomic(to, b.ptr, b.len, 0644);

	buf_release(&b);
	return rc;
}

static void test_bundle_open(void)
{
	struct trust *t = trust_new();
	struct bundle *b = NULL;
	struct bundle_open_opts o = { .untrusted = 1 };
	const struct bundle_file *f;
	struct collect c = { BUF_INIT, 0 };
	struct buf body = BUF_INIT;
	char tmp[] = "/tmp/cairn-unit-bundle-XXXXXX";
	int fd;

	CHECK(bundle_open(&b, "fixtures/golden.tar.gz", NULL) < 0 && !b);
	CHECK(strstr(cairn_error_last(), "build signature by unknown key 0c4ec30c252bc140") != NULL);
	CHECK(trust_add_builder_key(t, "fixtures/keys/test.pub") == 0);
	CHECK(trust_add_key(t, TRUST_APPROVAL, "fixtures/keys/other.pub") == 0);
	CHECK(trust_count(t, TRUST_BUILD) == 1 && trust_count(t, TRUST_APPROVAL) == 1);
	CHECK(trust_find(t, "a98772190d6c7b00", TRUST_BUILD) == NULL);
	CHECK(bundle_open(&b, "fixtures/other-signed.tar.gz", t) < 0);
	CHECK(bundle_open(&b, "fixtures/golden.tar.gz", t) == 0);
	if (!b)
		goto out;
	CHECK_STR(b->name, "fix-20260102000000");
	CHECK(b->nmigs == 3 && b->nstatements == 1);
	CHECK(b->nstatements == 1 && b->statements[0].valid && b->statements[0].trusted);
	CHECK_STR(b->statements[0].type, "build");
	CHECK_STR(b->source_ref, "");
	CHECK_STR(b->migs[1].requires[0], "20260101000000_create_accounts");
	f = bundle_migration_file(&b->migs[2], "up", "postgres");
	CHECK(f && !strcmp(f->name, "up.postgres.sql"));
	f = bundle_migration_file(&b->migs[2], "up", "sqlite");
	CHECK(f && !strcmp(f->name, "up.sql"));
	CHECK(bundle_migration_file(&b->migs[2], "verify", "sqlite") == NULL);
	CHECK(bundle_migration_file(&b->migs[0], "down", NULL) != NULL);
	CHECK(f && bundle_read(b, f, &body) == 0 && !strcmp(body.ptr, "CREATE INDEX accounts_email ON accounts (email);\n"));
	f = NULL;
	for (size_t i = 0; i < b->migs[1].nfiles; i++)
		if (!strcmp(b->migs[1].files[i].name, "data/countries.csv"))
			f = &b->migs[1].files[i];
	CHECK(f && bundle_stream(b, f, collect_cb, &c) == 0);
	CHECK(c.b.len == 40 && starts_with(buf_cstr(&c.b), "code,name\n"));
	bundle_free(b);
	b = NULL;

	/* a data file that changes on disk after bundle_open: bundle_stream notices */
	fd = mkstemp(tmp);
	CHECK(fd >= 0);
	close(fd);
	CHECK(copy_file("fixtures/golden.tar.gz", tmp) == 0);
	CHECK(bundle_open(&b, tmp, t) == 0);
	CHECK(copy_file("fixtures/hostile/changed-data.tar.gz", tmp) == 0);
	if (b && f) {
		const struct bundle_file *df = NULL;

		for (size_t i = 0; i < b->migs[1].nfiles; i++)
			if (!strcmp(b->migs[1].files[i].name, "data/countries.csv"))
				df = &b->migs[1].files[i];
		buf_reset(&c.b);
		CHECK(df && bundle_stream(b, df, collect_cb, &c) < 0);
		CHECK(strstr(cairn_error_last(), "changed since it was verified") != NULL);
	}
	bundle_free(b);
	b = NULL;
	unlink(tmp);

	/* integrity only: an unsigned bundle opens, a changed one does not */
	CHECK(bundle_open_opts(&b, "fixtures/hostile/unsigned.tar.gz", NULL, &o) == 0);
	CHECK(b && b->nstatements == 0);
	bundle_free(b);
	b = NULL;
	CHECK(bundle_open_opts(&b, "fixtures/hostile/changed-sql.tar.gz", NULL, &o) < 0);
	CHECK(bundle_open_opts(&b, "fixtures/hostile/changed-statement.tar.gz", t, &o) == 0);
	CHECK(b && b->nstatements == 1 && !b->statements[0].valid &&
	      !strcmp(b->statements[0].problem, "bad signature"));
out:
	bundle_free(b);
	trust_free(t);
	buf_release(&c.b);
	buf_release(&body);
}

/* What a nothing-pending apply holds a migration, applied or not, until
 * the plan (issue #14): its manifest entry, the entry's files (two or
 * more) and the set's apply_mig. A field added here adds that much at
 * 20,000 migrations: say so in docs/benchmarks.md and raise the bound. */
static void test_entry_sizes(void)
{
	struct trust *t = trust_new();
	struct bundle *b = NULL;
	struct apply_set set;
	struct buf body = BUF_INIT;
	char hex[65], want[65];
	size_t i, j;

	CHECK(sizeof(struct bundle_file) <= 56);
	CHECK(sizeof(struct bundle_migration) <= 168);
	/* the SQL apart, allocated for the migrations whose SQL is read */
	CHECK(sizeof(struct apply_mig) <= 104);
	/* a file's digest, kept as its bytes, is the hex manifest.yaml wrote
	 * and the bytes read hash to */
	CHECK(trust_add_builder_key(t, "fixtures/keys/test.pub") == 0);
	CHECK(bundle_open(&b, "fixtures/golden.tar.gz", t) == 0);
	if (!b)
		goto out;
	for (i = 0; i < b->nmigs; i++)
		for (j = 0; j < b->migs[i].nfiles; j++) {
			const struct bundle_file *f = &b->migs[i].files[j];

			buf_reset(&body);
			CHECK(bundle_read(b, f, &body) == 0);
			sha256_hex(body.ptr ? body.ptr : "", body.len, want);
			CHECK_STR(bundle_file_hex(f, hex), want);
			CHECK(strlen(hex) == 64);
		}
	/* the set points at the entry's batch keys, none here: all zero */
	CHECK(apply_set_load(&set, b, "sqlite", 0) == 0);
	for (i = 0; i < set.n; i++) {
		CHECK(set.migs[i].bm == &b->migs[i] && set.migs[i].throttle == b->migs[i].throttle);
		CHECK(!set.migs[i].throttle && !batch_throttle_set(apply_mig_throttle(&set.migs[i])));
		CHECK(set.migs[i].transaction == b->migs[i].transaction);
		/* nothing read yet: no struct apply_sql, every field 0 */
		CHECK(!set.migs[i].sql && !apply_mig_sql(&set.migs[i])->up &&
		      !apply_mig_sql(&set.migs[i])->up_path);
	}
	apply_set_release(&set);
	/* read at load: each has its own; dropping the scripts keeps the paths */
	CHECK(apply_set_load(&set, b, "sqlite", APPLY_LOAD_SQL) == 0);
	for (i = 0; i < set.n; i++) {
		const struct apply_sql *q = apply_mig_sql(&set.migs[i]);

		CHECK(set.migs[i].sql && q->up && q->up_len == strlen(q->up) && q->up_path);
		apply_mig_drop_sql(&set.migs[i]);
		CHECK(set.migs[i].sql == q && !q->up && !q->down && !q->verify && q->up_path);
		CHECK(apply_mig_read_sql(&set.migs[i], "sqlite") == 0 && q->up);
	}
	apply_set_release(&set);
out:
	bundle_free(b);
	trust_free(t);
	buf_release(&body);
}

/* An unsigned bundle of one migration (opened with integrity only): the
 * manifest given, and up.sql with sql, whose hash SHA256SUMS lists as that
 * of listed. */
static void write_bundle(const char *path, const char *manifest, const char *sql,
			 const char *listed)
{
	struct bwriter *w = NULL;
	struct buf sums = BUF_INIT;
	char hm[65], hs[65];

	sha256_hex(manifest, strlen(manifest), hm);
	sha256_hex(listed, strlen(listed), hs);
	buf_printf(&sums, "%s  manifest.yaml\n%s  migrations/1_a/up.sql\n", hm, hs);
	CHECK(bwriter_open(&w, path, "p-1", 0) == 0);
	CHECK(bwriter_add(w, "manifest.yaml", manifest, strlen(manifest)) == 0);
	CHECK(bwriter_add(w, "SHA256SUMS", sums.ptr, sums.len) == 0);
	CHECK(bwriter_add(w, "migrations/1_a/up.sql", sql, strlen(sql)) == 0);
	CHECK(bwriter_commit(w) == 0);
	bwriter_free(w);
	buf_release(&sums);
}

/* The manifest is parsed on a thread of its own while the members are
 * read: its problem is reported only when every member checked out, so a
 * changed member is still what a bundle with both is refused for. */
static void test_parse_order(void)
{
	struct bundle_open_opts o = { .untrusted = 1 };
	struct bundle *b = NULL;
	char tmp[] = "/tmp/cairn-unit-order-XXXXXX";
	const char *bad = "format: cairn-bundle/0\nname: x\n";
	int fd = mkstemp(tmp);

	CHECK(fd >= 0);
	close(fd);
	write_bundle(tmp, bad, "SELECT 1;\n", "SELECT 1;\n");
	CHECK(bundle_open_opts(&b, tmp, NULL, &o) < 0 && !b);
	CHECK(starts_with(cairn_error_last(), "member manifest.yaml"));
	printf("#   %s\n", cairn_error_last());
	write_bundle(tmp, bad, "SELECT 2;\n", "SELECT 1;\n");
	CHECK(bundle_open_opts(&b, tmp, NULL, &o) < 0 && !b);
	CHECK_STR(cairn_error_last(),
		  "member 'migrations/1_a/up.sql': sha256 does not match SHA256SUMS (changed after "
		  "the build)");
	unlink(tmp);
}

/* known_file (issue #14): what it was asked, and what it answers. */
struct known {
	int answer, asked_any, asked_hex;
	char hex[65];
};

static int known_file(void *ctx, const char *hex)
{
	struct known *k = ctx;

	if (!hex) {
		k->asked_any++;
	} else {
		k->asked_hex++;
		snprintf(k->hex, sizeof(k->hex), "%s", hex);
	}
	return k->answer;
}

/* An unchanged bundle file: its migration members are read only when one
 * is asked for, and then every one of them with every check, so a file
 * changed under a recorded hash is still refused before its SQL is used. */
static void test_known_file(int drop)
{
	static const char golden_sha[] = "0fda9be65371459a1f8889c422a2af019f340f4c240c61f1f7727e227f5088d9";
	struct trust *t = trust_new();
	struct bundle *b = NULL;
	struct known k = { 1, 0, 0, "" };
	struct bundle_open_opts o = { .known_file = known_file, .known_ctx = &k,
				      .drop_manifest_bytes = drop };
	const struct bundle_file *f;
	struct buf body = BUF_INIT;

	CHECK(trust_add_builder_key(t, "fixtures/keys/test.pub") == 0);
	CHECK(bundle_open_opts(&b, "fixtures/golden.tar.gz", t, &o) == 0);
	CHECK(k.asked_any == 1 && k.asked_hex == 1 && !strcmp(k.hex, golden_sha));
	if (!b)
		goto out;
	CHECK(bundle_members_checked_before(b) == 1);
	CHECK_STR(b->file_sha256, golden_sha);
	CHECK(b->nmigs == 3 && b->nstatements == 1 && b->statements[0].trusted);
	f = bundle_migration_file(&b->migs[2], "up", "sqlite");
	CHECK(f && bundle_read(b, f, &body) == 0 && body.ptr &&
	      !strcmp(body.ptr, "CREATE INDEX accounts_email ON accounts (email);\n"));
	CHECK(bundle_members_checked_before(b) == 0);
	bundle_free(b);
	b = NULL;

	/* not known: read whole, the file's hash from the bytes read */
	k.answer = 0;
	k.asked_hex = 0;
	CHECK(bundle_open_opts(&b, "fixtures/golden.tar.gz", t, &o) == 0);
	CHECK(b && bundle_members_checked_before(b) == 0 && !strcmp(b->file_sha256, golden_sha));
	bundle_free(b);
	b = NULL;

	/* a member changed, the head intact: opened, but no member is given
	 * out, and the refusal names it */
	k.answer = 1;
	CHECK(bundle_open_opts(&b, "fixtures/hostile/changed-sql.tar.gz", t, &o) == 0);
	if (b) {
		buf_reset(&body);
		f = bundle_migration_file(&b->migs[2], "up", "sqlite");
		CHECK(f && bundle_read(b, f, &body) < 0);
		CHECK(strstr(cairn_error_last(), "changed since it was verified") &&
		      strstr(cairn_error_last(), "up.sql': sha256 does not match SHA256SUMS"));
		CHECK(f && bundle_read(b, f, &body) < 0);
		CHECK(strstr(cairn_error_last(), "up.sql': sha256 does not match SHA256SUMS") != NULL);
	}
	bundle_free(b);
	b = NULL;
	/* and an untrusted bundle is refused before the question is asked */
	k.asked_hex = 0;
	CHECK(bundle_open_opts(&b, "fixtures/other-signed.tar.gz", t, &o) < 0 && !b);
	CHECK(k.asked_hex == 0);
out:
	buf_release(&body);
	bundle_free(b);
	trust_free(t);
}

/* An apply's open of an unchanged file (known_file, drop_manifest_bytes)
 * hashes neither manifest.yaml nor the file on the calling thread, the
 * critical path of a nothing-pending apply (issue #14): the parse's
 * thread hashes the manifest's pieces as it takes them, a thread of its
 * own the file. The answers are those of the hashing done in line. */
static void test_hashing_apart(void)
{
	static const char golden_sha[] = "0fda9be65371459a1f8889c422a2af019f340f4c240c61f1f7727e227f5088d9";
	struct trust *t = trust_new();
	struct bundle *b = NULL, *inline_ = NULL;
	struct known k = { 1, 0, 0, "" };
	struct bundle_open_opts o = { .known_file = known_file, .known_ctx = &k,
				      .drop_manifest_bytes = 1 };
	struct breader *r = NULL;
	struct bmember m;
	unsigned long long before;
	char hex[65] = "";

	CHECK(trust_add_builder_key(t, "fixtures/keys/test.pub") == 0);
	before = sha256_bytes_this_thread();
	CHECK(bundle_open_opts(&b, "fixtures/golden.tar.gz", t, &o) == 0);
	/* only the statements' key ids (32-byte keys, 96 bytes here); the
	 * manifest alone is 3,614 bytes, the file 2,461 */
	CHECK(sha256_bytes_this_thread() - before < 1024);
	printf("#   hashed on the calling thread: %llu bytes\n", sha256_bytes_this_thread() - before);
	CHECK(b && bundle_members_checked_before(b) == 1 && !strcmp(b->file_sha256, golden_sha));
	/* the same id as the manifest hashed in line */
	before = sha256_bytes_this_thread();
	CHECK(bundle_open(&inline_, "fixtures/golden.tar.gz", t) == 0);
	CHECK(sha256_bytes_this_thread() > before);
	CHECK(b && inline_ && !strcmp(b->id, inline_->id));

	/* the reader: the file's hash from its thread, then made in line */
	CHECK(breader_open(&r, "fixtures/golden.tar.gz") == 0);
	if (r) {
		breader_hash_file(r);
		CHECK(breader_next(r, &m) == 1);
		before = sha256_bytes_this_thread();
		CHECK(breader_file_sha256(r, hex) == 0 && !strcmp(hex, golden_sha));
		CHECK(sha256_bytes_this_thread() == before);
		CHECK(breader_file_sha256(r, hex) == 0 && !strcmp(hex, golden_sha));
		CHECK(sha256_bytes_this_thread() > before);
	}
	breader_free(r);
	/* freed with its thread still hashing (stopped and joined) */
	r = NULL;
	CHECK(breader_open(&r, "fixtures/golden.tar.gz") == 0);
	if (r)
		breader_hash_file(r);
	breader_free(r);
	bundle_free(b);
	bundle_free(inline_);
	trust_free(t);
}

/* known_file that answers late: the parse is done (and has freed
 * SHA256SUMS when it found it equal) before the reader says whether it
 * reads the members. */
static int known_file_slow(void *ctx, const char *hex)
{
	if (!hex)
		usleep(150 * 1000);
	return known_file(ctx, hex);
}

/* The outcome of opening path one way: rc, the error, and with a paused
 * reader the first member read (which reads on through every member). */
static void open_outcome(const char *path, const struct trust *t, int drop, int slow, int answer,
			 struct buf *out)
{
	struct known k = { answer, 0, 0, "" };
	struct bundle_open_opts o = { .known_file = slow ? known_file_slow : known_file,
				      .known_ctx = &k, .drop_manifest_bytes = drop };
	struct bundle *b = NULL;
	struct buf body = BUF_INIT;
	const struct bundle_file *f;
	int rc = bundle_open_opts(&b, path, t, &o);

	buf_reset(out);
	buf_printf(out, "open %d: %s", rc, rc < 0 ? cairn_error_last() : "");
	if (b && b->nmigs && b->migs[0].nfiles) {
		f = &b->migs[b->nmigs - 1].files[0];
		rc = bundle_read(b, f, &body);
		buf_printf(out, "; read %d: %s", rc, rc < 0 ? cairn_error_last() : "");
		if (!rc)
			buf_printf(out, " %zu bytes", body.len);
	}
	buf_release(&body);
	bundle_free(b);
}

/* An apply's open (drop_manifest_bytes) frees SHA256SUMS on the parse's
 * thread once it is found equal to the manifest's files, before the
 * reader has said whether it reads the members (issue #14: it was live
 * through the peak). Every bundle, good or hostile, opens and reads as
 * it does when the list is kept (drop 0), whether the reader answers
 * before the parse ends or after it (slow): paused (answer 1) or
 * reading now (answer 0, the list made again from the manifest). */
static void test_sums_freed_by_parse(void)
{
	static const char *const paths[] = {
		"fixtures/golden.tar.gz",
		"fixtures/hostile/changed-sql.tar.gz",
		"fixtures/hostile/changed-data.tar.gz",
		"fixtures/hostile/changed-sums.tar.gz",
		"fixtures/hostile/added-member.tar.gz",
		"fixtures/hostile/added-member-and-sum.tar.gz",
		"fixtures/hostile/removed-member.tar.gz",
		"fixtures/hostile/reordered.tar.gz",
		"fixtures/hostile/duplicate.tar.gz",
		"fixtures/hostile/truncated-tail.tar.gz",
		"fixtures/hostile/truncated.tar.gz",
		"fixtures/hostile/manifest-edited.tar.gz",
	};
	struct trust *t = trust_new();
	struct buf want = BUF_INIT, got = BUF_INIT;
	size_t i;
	int answer, slow, opened = 0;

	CHECK(trust_add_builder_key(t, "fixtures/keys/test.pub") == 0);
	for (i = 0; i < sizeof(paths) / sizeof(*paths); i++)
		for (answer = 0; answer <= 1; answer++) {
			open_outcome(paths[i], t, 0, 0, answer, &want);
			opened += !strncmp(buf_cstr(&want), "open 0", 6);
			for (slow = 0; slow <= 1; slow++) {
				open_outcome(paths[i], t, 1, slow, answer, &got);
				if (strcmp(buf_cstr(&want), buf_cstr(&got)))
					printf("#   %s, answer %d, slow %d:\n#     kept:  %s\n#     freed: %s\n",
					       paths[i], answer, slow, buf_cstr(&want), buf_cstr(&got));
				CHECK_STR(buf_cstr(&got), buf_cstr(&want));
			}
		}
	/* the golden bundle both ways, and the hostile ones a paused reader
	 * lets through the open (their members are refused when read) */
	CHECK(opened >= 4);
	printf("#   %d of %zu opens passed the head\n", opened, 2 * i);
	buf_release(&want);
	buf_release(&got);
	trust_free(t);
}

/* Text past the keep budget (BUNDLE_TEXT_KEEP; 1 byte here) is not held:
 * it is read from the file again when asked for, in any order, and hashed
 * again, so a file changed after verification gives out no changed byte. */
static void test_text_not_kept(void)
{
	struct trust *t = trust_new();
	struct bundle *b = NULL;
	struct bundle_open_opts o = { .text_keep = 1 };
	const struct bundle_file *up2, *up0;
	struct buf body = BUF_INIT;
	char tmp[] = "/tmp/cairn-unit-keep-XXXXXX";
	int fd = mkstemp(tmp);

	CHECK(fd >= 0);
	close(fd);
	CHECK(trust_add_builder_key(t, "fixtures/keys/test.pub") == 0);
	CHECK(copy_file("fixtures/golden.tar.gz", tmp) == 0);
	CHECK(bundle_open_opts(&b, tmp, t, &o) == 0);
	if (!b)
		goto out;
	up2 = bundle_migration_file(&b->migs[2], "up", "sqlite");
	up0 = bundle_migration_file(&b->migs[0], "up", "sqlite");
	CHECK(up2 && bundle_read(b, up2, &body) == 0 && body.ptr &&
	      !strcmp(body.ptr, "CREATE INDEX accounts_email ON accounts (email);\n"));
	/* an earlier member after a later one: read from the start again */
	buf_reset(&body);
	CHECK(up0 && bundle_read(b, up0, &body) == 0 && body.len > 0);
	CHECK(bundle_member_has_nul(b, up0) == 0);
	bundle_free(b);
	/* the file changed under the open bundle: the member read again is
	 * refused (bytes a kept reader had already taken in were hashed
	 * against the manifest too, so none of the changed ones is given) */
	CHECK(copy_file("fixtures/golden.tar.gz", tmp) == 0);
	CHECK(bundle_open_opts(&b, tmp, t, &o) == 0);
	CHECK(copy_file("fixtures/hostile/changed-sql.tar.gz", tmp) == 0);
	buf_reset(&body);
	up0 = b ? bundle_migration_file(&b->migs[0], "up", "sqlite") : NULL;
	CHECK(up0 && bundle_read(b, up0, &body) < 0);
	CHECK(strstr(cairn_error_last(), "changed since it was verified (sha256 differs)") != NULL);
	printf("#   %s\n", cairn_error_last());
out:
	buf_release(&body);
	bundle_free(b);
	trust_free(t);
	unlink(tmp);
}

/* apply's way (drop_manifest_bytes: the manifest read in pieces and
 * parsed through a window) gives the manifest a whole read gives. */
static void test_manifest_pieces(void)
{
	struct trust *t = trust_new();
	struct bundle *whole = NULL, *cut = NULL;
	struct bundle_open_opts o = { .drop_manifest_bytes = 1 };
	struct buf a = BUF_INIT, b = BUF_INIT;

	CHECK(trust_add_builder_key(t, "fixtures/keys/test.pub") == 0);
	CHECK(bundle_open(&whole, "fixtures/golden.tar.gz", t) == 0);
	CHECK(bundle_open_opts(&cut, "fixtures/golden.tar.gz", t, &o) == 0);
	if (whole && cut) {
		CHECK_STR(cut->id, whole->id);
		CHECK(cut->nmigs == 3 && bundle_manifest_bytes(cut)->len == 0);
		CHECK(manifest_format(whole, &a) == 0 && manifest_format(cut, &b) == 0);
		CHECK(a.len > 0 && !strcmp(buf_cstr(&a), buf_cstr(&b)));
		CHECK(!strcmp(buf_cstr(&a), buf_cstr(bundle_manifest_bytes(whole))));
	}
	buf_release(&a);
	buf_release(&b);
	bundle_free(whole);
	bundle_free(cut);
	trust_free(t);
}

int main(void)
{
	test_base64();
	test_key_id();
	test_members();
	test_sums();
	test_sums_slices();
	test_checksum();
	test_sign_verify();
	test_bundle_open();
	test_entry_sizes();
	test_parse_order();
	test_known_file(0);
	/* apply's way: SHA256SUMS freed once checked, made again from the
	 * manifest by the first member asked for */
	test_known_file(1);
	test_hashing_apart();
	test_sums_freed_by_parse();
	test_text_not_kept();
	test_manifest_pieces();
	return unit_done();
}
