/* Unit tests for the bundle format: base64 and key ids, member names,
 * SHA256SUMS, migration checksums, manifest and statement round trips,
 * signing and checking, and bundle_open on the committed fixtures (the
 * tests run from tests/). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

static void test_checksum(void)
{
	struct bundle_file f[2];
	char sum[72], want[65];
	struct buf text = BUF_INIT;

	memset(f, 0, sizeof(f));
	f[0].name = "down.sql";
	memset(f[0].sha256, 'a', 64);
	f[1].name = "up.sql";
	memset(f[1].sha256, 'b', 64);
	migration_checksum(f, 2, sum);
	buf_printf(&text, "%.64s  down.sql\n%.64s  up.sql\n", f[0].sha256, f[1].sha256);
	sha256_hex(text.ptr, text.len, want);
	CHECK(!strncmp(sum, "sha256:", 7) && !strcmp(sum + 7, want));
	buf_release(&text);
}

static struct bundle *sample_bundle(void)
{
	struct bundle *b = xcalloc(1, sizeof(*b));
	struct bundle_migration *m;

	b->name = xstrdup("shop-2");
	b->project = xstrdup("shop");
	b->source_repo = xstrdup("https://example.com/x.git");
	b->source_commit = xstrdup("0123456789012345678901234567890123456789");
	b->source_tree = xstrdup("9876543210987654321098765432109876543210");
	b->source_path = xstrdup("");
	b->source_ref = xstrdup("refs/heads/main");
	b->build_time = xstrdup("2026-11-22T09:30:00Z");
	b->tool_version = xstrdup("cairn 0.1.0");
	b->drivers = xcalloc(1, sizeof(char *));
	b->drivers[0] = xstrdup("sqlite");
	b->ndrivers = 1;
	b->max_file_size = 100;
	b->max_data_size = 200;
	b->migs = xcalloc(2, sizeof(*b->migs));
	b->nmigs = 2;
	m = &b->migs[0];
	m->version = xstrdup("1");
	m->name = xstrdup("1_a");
	m->description = xstrdup("yes: \"no\" #not a comment\n\ttab");
	m->requires = xcalloc(1, sizeof(char *));
	m->transaction = 1;
	m->environments = xcalloc(1, sizeof(char *));
	m->files = xcalloc(2, sizeof(*m->files));
	m->nfiles = 2;
	m->files[0].name = xstrdup("down.sql");
	m->files[0].member = xstrdup("migrations/1_a/down.sql");
	memset(m->files[0].sha256, 'c', 64);
	m->files[0].size = 5;
	m->files[1].name = xstrdup("up.sql");
	m->files[1].member = xstrdup("migrations/1_a/up.sql");
	memset(m->files[1].sha256, 'd', 64);
	m->files[1].size = 6;
	m->checksum = xmalloc(72);
	migration_checksum(m->files, 2, m->checksum);
	m = &b->migs[1];
	m->version = xstrdup("2");
	m->name = xstrdup("2_b");
	m->description = xstrdup("");
	m->requires = xcalloc(1, sizeof(char *));
	m->requires[0] = xstrdup("1_a");
	m->nrequires = 1;
	m->batch = 1;
	m->irreversible = 1;
	m->environments = xcalloc(2, sizeof(char *));
	m->environments[0] = xstrdup("prod");
	m->nenvironments = 1;
	m->timeout_ms = 300000;
	m->prov_commit = xstrdup("abc");
	m->prov_author = xstrdup("A <a@b>");
	m->files = xcalloc(1, sizeof(*m->files));
	m->checksum = xmalloc(72);
	migration_checksum(m->files, 0, m->checksum);
	return b;
}

static void free_sample(struct bundle *b)
{
	manifest_release(b);
	free(b);
}

static int parse_text(const char *text, struct bundle **out)
{
	struct bundle *b = xcalloc(1, sizeof(*b));
	int rc = manifest_parse(b, text, strlen(text));

	*out = b;
	return rc;
}

/* The manifest with one line replaced: the first line starting with from. */
static char *edit(const char *text, const char *from, const char *to)
{
	const char *at = strstr(text, from), *eol;

	if (!at)
		return xstrdup(text);
	eol = strchr(at, '\n');
	return xasprintf("%.*s%s%s", (int)(at - text), text, to, eol ? eol : "");
}

/* Two callbacks on b (format 2): after_each.postgres.sql (sha256 a..a,
 * size 0) and before_each.sql (b..b, 12). */
static void sample_callbacks(struct bundle *b)
{
	b->callbacks = xcalloc(2, sizeof(*b->callbacks));
	b->ncallbacks = 2;
	b->callbacks[0].name = xstrdup("after_each.postgres.sql");
	b->callbacks[1].name = xstrdup("before_each.sql");
	memset(b->callbacks[0].sha256, 'a', 64);
	memset(b->callbacks[1].sha256, 'b', 64);
	b->callbacks[1].size = 12;
}

/* Format 2 (issue #20): SQL callbacks, written after the migrations,
 * parsed back; format 1 without them as before; each mismatch refused. */
static void test_manifest_callbacks(void)
{
	struct bundle *b = sample_bundle(), *p = NULL;
	struct buf one = BUF_INIT, text = BUF_INIT, again = BUF_INIT;
	char *bad;

	CHECK(manifest_format(b, &one) == 0);
	CHECK(!strncmp(buf_cstr(&one), "format: cairn-bundle/1\n", 23));
	CHECK(!strstr(buf_cstr(&one), "callbacks:"));
	sample_callbacks(b);
	CHECK(manifest_format(b, &text) == 0);
	CHECK(!strncmp(buf_cstr(&text), "format: cairn-bundle/2\n", 23));
	CHECK(parse_text(text.ptr, &p) == 0);
	CHECK(p->ncallbacks == 2 && p->callbacks[1].size == 12);
	CHECK_STR(p->callbacks[0].member, "migrations/callbacks/after_each.postgres.sql");
	CHECK(manifest_format(p, &again) == 0 && !strcmp(buf_cstr(&again), buf_cstr(&text)));
	free_sample(p);

	/* format 1 with callbacks, format 2 without */
	bad = edit(text.ptr, "format:", "format: cairn-bundle/1");
	CHECK(parse_text(bad, &p) < 0 && strstr(cairn_error_last(), "'callbacks' needs format"));
	free_sample(p);
	free(bad);
	bad = edit(one.ptr, "format:", "format: cairn-bundle/2");
	CHECK(parse_text(bad, &p) < 0 && strstr(cairn_error_last(), "a non-empty list"));
	free_sample(p);
	free(bad);
	bad = edit(text.ptr, "  - name: before_each.sql", "  - name: before_all.sql");
	CHECK(parse_text(bad, &p) < 0 && strstr(cairn_error_last(), "not a callback's name"));
	free_sample(p);
	free(bad);
	bad = edit(text.ptr, "  - name: before_each.sql", "  - name: after_each.postgres.sql");
	CHECK(parse_text(bad, &p) < 0 && strstr(cairn_error_last(), "sorted by name"));
	free_sample(p);
	free(bad);
	bad = edit(text.ptr, "  - name: before_each.sql", "  - name: ../before_each.sql");
	CHECK(parse_text(bad, &p) < 0);
	free_sample(p);
	free(bad);
	buf_release(&one);
	buf_release(&text);
	buf_release(&again);
	free_sample(b);
}

static void test_manifest(void)
{
	struct bundle *b = sample_bundle(), *p = NULL;
	struct buf text = BUF_INIT, again = BUF_INIT;
	char *bad;

	CHECK(manifest_format(b, &text) == 0);
	CHECK(parse_text(text.ptr, &p) == 0);
	CHECK_STR(p->migs[0].description, b->migs[0].description);
	CHECK(p->nmigs == 2 && p->migs[1].batch && p->migs[1].irreversible && !p->migs[1].transaction);
	CHECK(p->migs[1].nrequires == 1 && !strcmp(p->migs[1].requires[0], "1_a"));
	CHECK(p->migs[1].timeout_ms == 300000 && p->migs[1].nenvironments == 1);
	CHECK_STR(p->migs[1].prov_author, "A <a@b>");
	CHECK(p->migs[1].prov_date == NULL);
	CHECK_STR(p->migs[0].files[1].member, "migrations/1_a/up.sql");
	CHECK(p->max_data_size == 200);
	CHECK(manifest_format(p, &again) == 0 && !strcmp(buf_cstr(&again), buf_cstr(&text)));
	free_sample(p);

	bad = edit(text.ptr, "format:", "format: cairn-bundle/3");
	CHECK(parse_text(bad, &p) < 0 && strstr(cairn_error_last(), "unknown bundle format"));
	free_sample(p);
	free(bad);
	bad = edit(text.ptr, "limits:", "limitz:");
	CHECK(parse_text(bad, &p) < 0 && strstr(cairn_error_last(), "unknown key 'limitz'"));
	free_sample(p);
	free(bad);
	bad = edit(text.ptr, "        size: 5", "        size: -5");
	CHECK(parse_text(bad, &p) < 0 && strstr(cairn_error_last(), "'size' must be a whole number"));
	free_sample(p);
	free(bad);
	bad = edit(text.ptr, "    checksum:", "    checksum: \"sha256:0000\"");
	CHECK(parse_text(bad, &p) < 0 && strstr(cairn_error_last(), "does not match the migration's files"));
	free_sample(p);
	free(bad);
	bad = edit(text.ptr, "    requires: [\"1_a\"]", "    requires: [\"3_c\"]");
	CHECK(parse_text(bad, &p) < 0 && strstr(cairn_error_last(), "not listed before it"));
	free_sample(p);
	free(bad);
	bad = edit(text.ptr, "    kind: batch", "    kind: bulk");
	CHECK(parse_text(bad, &p) < 0 && strstr(cairn_error_last(), "'kind' must be schema or batch"));
	free_sample(p);
	free(bad);
	bad = edit(text.ptr, "      - name: up.sql", "      - name: ../up.sql");
	CHECK(parse_text(bad, &p) < 0 && strstr(cairn_error_last(), "not a safe relative path"));
	free_sample(p);
	free(bad);
	bad = edit(text.ptr, "  - version: \"2\"", "  - version: \"1\"\n    name: \"1_a\"");
	CHECK(parse_text(bad, &p) < 0);
	free_sample(p);
	free(bad);
	CHECK(parse_text("a: &x 1\nb: *x\n", &p) < 0 && strstr(cairn_error_last(), "anchors"));
	free_sample(p);
	CHECK(parse_text("- 1\n", &p) < 0 && strstr(cairn_error_last(), "must be a mapping"));
	free_sample(p);
	buf_release(&text);
	buf_release(&again);
	free_sample(b);
}

/* The text in pieces of a fixed size, for manifest_parse_canonical_pieces:
 * each piece a copy of its own, freed when the next is asked for. */
struct pieces {
	const char *text;
	size_t at, len, size;
	char *last;
};

static const char *next_piece(void *ctx, size_t *len)
{
	struct pieces *p = ctx;

	free(p->last);
	p->last = NULL;
	if (p->at >= p->len)
		return NULL;
	*len = p->len - p->at < p->size ? p->len - p->at : p->size;
	p->last = xmalloc(*len);
	memcpy(p->last, p->text + p->at, *len);
	p->at += *len;
	return p->last;
}

/* The fast path in pieces of every size from 1 to 40 and of 64, 1,000 and
 * the whole text: the same verdict as over the whole text, the same structs
 * (written back). */
static void pieces_agree(const char *text, int whole_rc, const struct buf *whole)
{
	static const size_t sizes[] = { 64, 1000, (size_t)-1 };
	size_t k;

	for (k = 1; k <= 40 + sizeof(sizes) / sizeof(*sizes); k++) {
		struct pieces p = { text, 0, strlen(text), k <= 40 ? k : sizes[k - 41], NULL };
		struct bundle b;
		struct buf out = BUF_INIT;
		int rc;

		memset(&b, 0, sizeof(b));
		rc = manifest_parse_canonical_pieces(&b, next_piece, &p, k % 2 ? p.len : 0);
		CHECK(rc == whole_rc);
		if (!rc && !whole_rc)
			CHECK(manifest_format(&b, &out) == 0 && !strcmp(buf_cstr(&out), buf_cstr(whole)));
		free(p.last);
		manifest_release(&b);
		buf_release(&out);
	}
}

/* The fast path for the canonical form and the libyaml path agree: what the
 * fast one accepts, the other accepts as the same structs, and it is exactly
 * the writer's text; and the fast path in pieces agrees with it. Returns the
 * fast path's verdict. */
static int canonical_agrees(const char *text)
{
	struct bundle fast, slow;
	struct buf a = BUF_INIT, b = BUF_INIT;
	int rc;

	memset(&fast, 0, sizeof(fast));
	memset(&slow, 0, sizeof(slow));
	rc = manifest_parse_canonical(&fast, text, strlen(text));
	if (!rc) {
		CHECK(manifest_parse_yaml(&slow, text, strlen(text)) == 0);
		CHECK(manifest_format(&fast, &a) == 0 && manifest_format(&slow, &b) == 0);
		CHECK(!strcmp(buf_cstr(&a), buf_cstr(&b)) && !strcmp(buf_cstr(&a), text));
	}
	pieces_agree(text, rc, &a);
	manifest_release(&fast);
	manifest_release(&slow);
	buf_release(&a);
	buf_release(&b);
	return rc;
}

/* Each edit of text is refused by both parsers. */
static void refused_by_both(const char *text, const char *const (*wrong)[2], size_t n)
{
	struct bundle *p = NULL;
	size_t i;

	for (i = 0; i < n; i++) {
		char *t = edit(text, wrong[i][0], wrong[i][1]);

		CHECK(canonical_agrees(t) < 0);
		CHECK(parse_text(t, &p) < 0);
		free_sample(p);
		free(t);
	}
}

/* Format 2 on the fast path (issue #20's follow-up): the callbacks block
 * as manifest_format writes it is read by manifest_parse_canonical (whole
 * and in pieces) into what manifest_parse_yaml reads; an entry out of the
 * writer's order or shape goes to libyaml, which reads the same value;
 * what either refuses, both refuse. */
static void test_manifest_callbacks_canonical(void)
{
	static const char *const wrong[][2] = {
		{ "format:", "format: cairn-bundle/1" },
		{ "  - name: before_each.sql", "  - name: before_all.sql" },
		{ "  - name: before_each.sql", "  - name: after_each.postgres.sql" },
		{ "  - name: before_each.sql", "  - name: ../before_each.sql" },
		{ "  - name: before_each.sql", "  - name: \"\"" },
		{ "    size: 12", "    size: 12\n    mode: x" },
		{ "    size: 12", "    size: -12" },
		{ "    sha256: bbbb", "    sha256: Bbbb" },
		{ "  - name: before_each.sql", "callbacks:\n  - name: before_each.sql" },
		/* a migration after the callbacks (where the pieces parser cuts) */
		{ "    size: 12", "    size: 12\n  - version: \"3\"\n    name: \"3_c\"" },
		{ "callbacks:", "callbacks: []" },
	};
	struct bundle *b = sample_bundle(), *p = NULL, fast;
	struct buf text = BUF_INIT;
	char *t, *u, sha_a[12 + 64 + 1], item_a[12 + 64 + 1];

	sample_callbacks(b);
	CHECK(manifest_format(b, &text) == 0);
	CHECK(canonical_agrees(text.ptr) == 0);
	memset(&fast, 0, sizeof(fast));
	CHECK(manifest_parse_canonical(&fast, text.ptr, text.len) == 0);
	CHECK(fast.ncallbacks == 2 && fast.callbacks[1].size == 12 && fast.nmigs == b->nmigs);
	if (fast.ncallbacks == 2) {
		CHECK_STR(fast.callbacks[0].member, "migrations/callbacks/after_each.postgres.sql");
		CHECK_STR(fast.callbacks[1].name, "before_each.sql");
	}
	manifest_release(&fast);

	/* the same value in another YAML form: libyaml's, the same structs */
	t = edit(text.ptr, "  - name: before_each.sql", "  - name: \"before_each.sql\"");
	CHECK(canonical_agrees(t) < 0);
	CHECK(parse_text(t, &p) == 0 && p->ncallbacks == 2);
	free_sample(p);
	free(t);
	/* an entry's keys out of the writer's order */
	CHECK(snprintf(sha_a, sizeof(sha_a), "    sha256: %.64s", b->callbacks[0].sha256) ==
	      (int)sizeof(sha_a) - 1);
	CHECK(snprintf(item_a, sizeof(item_a), "  - sha256: %.64s", b->callbacks[0].sha256) ==
	      (int)sizeof(item_a) - 1);
	u = edit(text.ptr, sha_a, "    name: after_each.postgres.sql");
	t = edit(u, "  - name: after_each.postgres.sql", item_a);
	CHECK(strstr(t, "callbacks:\n  - sha256: aaaa") != NULL);
	CHECK(canonical_agrees(t) < 0);
	CHECK(parse_text(t, &p) == 0 && p->ncallbacks == 2);
	if (p->ncallbacks == 2)
		CHECK_STR(p->callbacks[0].member, "migrations/callbacks/after_each.postgres.sql");
	free_sample(p);
	free(t);
	free(u);
	refused_by_both(text.ptr, wrong, sizeof(wrong) / sizeof(*wrong));
	buf_release(&text);
	free_sample(b);
}

/* batch: (issue #22): written only when a key is set, read back alike by
 * both parsers; a 0, a schema migration's, an empty one refused. */
static void test_manifest_batch(void)
{
	static const char *const wrong[][2] = {
		{ "      pause_ms: 200", "      pause_ms: 0" },
		{ "      size: 1000", "      size: -1" },
		{ "    kind: batch", "    kind: schema" },
		{ "      size: 1000", "      speed: 3" },
		{ "    batch:", "    batch: {}" },
	};
	struct bundle *b = sample_bundle(), *p = NULL;
	struct buf plain = BUF_INIT, text = BUF_INIT;
	struct bundle_migration *m = &b->migs[0];

	m->batch = 1;
	CHECK(manifest_format(b, &plain) == 0);
	CHECK(strstr(plain.ptr, "    batch:") == NULL);
	m->throttle.size = 1000;
	m->throttle.pause_ms = 200;
	m->throttle.max_duration_ms = 600000;
	m->throttle.max_lag_ms = 5000;
	CHECK(manifest_format(b, &text) == 0);
	CHECK(strstr(text.ptr, "    batch:\n      size: 1000\n      pause_ms: 200\n"
			       "      max_duration_ms: 600000\n      max_replication_lag_ms: 5000\n"
			       "    checksum:") != NULL);
	CHECK(canonical_agrees(text.ptr) == 0);
	CHECK(parse_text(text.ptr, &p) == 0);
	CHECK(p->migs[0].throttle.size == 1000 && p->migs[0].throttle.pause_ms == 200 &&
	      p->migs[0].throttle.max_duration_ms == 600000 &&
	      p->migs[0].throttle.max_lag_ms == 5000);
	free_sample(p);
	refused_by_both(text.ptr, wrong, sizeof(wrong) / sizeof(*wrong));
	buf_release(&text);
	m->throttle.size = m->throttle.max_duration_ms = m->throttle.max_lag_ms = 0;
	CHECK(manifest_format(b, &text) == 0);
	CHECK(strstr(text.ptr, "    batch:\n      pause_ms: 200\n    checksum:") != NULL);
	CHECK(canonical_agrees(text.ptr) == 0);
	buf_release(&text);
	buf_release(&plain);
	free_sample(b);
}

static void test_manifest_canonical(void)
{
	static const char *const plain[][2] = {
		/* not the writer's form, but YAML for the same value: the general path */
		{ "  ref: refs/heads/main", "  ref: \"refs/heads/main\"" },
		{ "  max_file_size: 100", "  max_file_size: 0100" },
		{ "    description: \"yes", "    description: 'yes: \"no\" #not a comment\\n\\ttab'" },
		{ "    transaction: true", "    transaction: yes" },
		{ "  tool:", "  tool: \"cairn\\x200.1.0\"" },
		{ "drivers:", "drivers:\n  - sqlite" },
	};
	static const char *const wrong[][2] = {
		/* refused by both */
		{ "  ref: refs/heads/main", "  ref: @main" },
		{ "  max_file_size: 100", "  max_file_size: 99999999999999999999" },
		{ "  tool:", "  tool: \"a\\x00b\"" },
		{ "    requires: [\"1_a\"]", "    requires: [\"\"]" },
		{ "      - name: up.sql", "      - name: ../up.sql" },
		{ "    checksum:", "    checksum: \"sha256:0000\"" },
		{ "  - version: \"2\"", "  - version: \"1\"\n    name: \"1_a\"" },
		{ "  - version: \"2\"", "  - version: \"2x\"" },
		/* where the pieces parser cuts: a migration start */
		{ "migrations:\n", "migrations: []\n" },
		{ "    checksum:", "  - version: \"3\"\n    checksum:" },
	};
	struct bundle *b = sample_bundle(), *p = NULL;
	struct buf text = BUF_INIT;
	size_t i;

	CHECK(manifest_format(b, &text) == 0);
	CHECK(canonical_agrees(text.ptr) == 0);
	CHECK(canonical_agrees("") < 0); /* no piece at all */
	/* another value, still in the writer's form: the fast path */
	{
		char *other = edit(text.ptr, "  tool:", "  tool: cairn");

		CHECK(canonical_agrees(other) == 0);
		free(other);
	}
	for (i = 0; i < sizeof(plain) / sizeof(*plain); i++) {
		char *t = edit(text.ptr, plain[i][0], plain[i][1]);

		CHECK(canonical_agrees(t) < 0);
		CHECK(parse_text(t, &p) == 0);
		free_sample(p);
		free(t);
	}
	refused_by_both(text.ptr, wrong, sizeof(wrong) / sizeof(*wrong));
	buf_release(&text);
	free_sample(b);
}

/* waivers: (issue #18): both parsers read them alike, through
 * manifest-waivers.c; a waiver that names no file of its migration, an
 * unknown way, line 0 or an unknown key is refused by both. */
static void test_manifest_waivers(void)
{
	static const char *const wrong[][2] = {
		{ "        via: comment", "        via: email" },
		{ "        file: up.sql", "        file: down2.sql" },
		{ "        line: 3", "        line: 0" },
		{ "      - rule: drop-table", "      - rule: Drop_Table" },
		{ "        via: allow", "        via: allow\n        by: eve" },
		{ "      - rule: drop-table\n", "      - " },
	};
	struct bundle *b = sample_bundle(), *p = NULL;
	struct bundle_migration *m = &b->migs[0];
	struct buf text = BUF_INIT;

	m->waivers = xcalloc(2, sizeof(*m->waivers));
	m->nwaivers = 2;
	m->waivers[0].rule = xstrdup("drop-column");
	m->waivers[0].file = xstrdup("up.sql");
	m->waivers[0].line = 1;
	m->waivers[0].via = xstrdup("comment");
	m->waivers[0].reason = xstrdup("unused since v3.2");
	m->waivers[1].rule = xstrdup("drop-table");
	m->waivers[1].file = xstrdup("up.sql");
	m->waivers[1].line = 3;
	m->waivers[1].via = xstrdup("allow");
	CHECK(manifest_format(b, &text) == 0);
	CHECK(strstr(text.ptr, "    waivers:\n      - rule: drop-column\n        file: up.sql\n"
		     "        line: 1\n        via: comment\n        reason: \"unused since v3.2\"\n") != NULL);
	CHECK(canonical_agrees(text.ptr) == 0);
	CHECK(parse_text(text.ptr, &p) == 0);
	CHECK(p && p->migs[0].nwaivers == 2 && p->migs[1].nwaivers == 0);
	if (p && p->migs[0].nwaivers == 2) {
		CHECK_STR(p->migs[0].waivers[0].reason, "unused since v3.2");
		CHECK_STR(p->migs[0].waivers[1].via, "allow");
		CHECK(p->migs[0].waivers[1].reason == NULL && p->migs[0].waivers[1].line == 3);
	}
	free_sample(p);
	refused_by_both(text.ptr, wrong, sizeof(wrong) / sizeof(*wrong));
	buf_release(&text);
	free_sample(b);
}

static void test_statement(void)
{
	unsigned char raw[32] = { 1, 2, 3 };
	char pub[48], id[17];
	struct statement s, p;
	struct buf text = BUF_INIT;
	char *bad;

	base64_encode(raw, 32, pub);
	key_id_of_raw(raw, id);
	memset(&s, 0, sizeof(s));
	s.type = "approval";
	s.bundle = "sha256:0000000000000000000000000000000000000000000000000000000000000000";
	s.environment = "prod";
	s.signer = "Alice: \"the\" DBA";
	s.key = id;
	s.public_key = pub;
	s.time = "2026-11-22T09:30:00Z";
	s.comment = "ticket #42\nsecond line";
	CHECK(statement_format(&s, &text) == 0);
	CHECK(statement_parse(&p, text.ptr, text.len, "s.yaml") == 0);
	CHECK_STR(p.signer, s.signer);
	CHECK_STR(p.comment, s.comment);
	CHECK_STR(p.environment, "prod");
	statement_release(&p);
	bad = edit(text.ptr, "key:", "key: \"0000000000000000\"");
	CHECK(statement_parse(&p, bad, strlen(bad), "s.yaml") < 0 &&
	      strstr(cairn_error_last(), "is not the id of 'public_key'"));
	free(bad);
	bad = edit(text.ptr, "environment:", "environmnt: prod");
	CHECK(statement_parse(&p, bad, strlen(bad), "s.yaml") < 0 &&
	      strstr(cairn_error_last(), "unknown statement key 'environmnt'"));
	free(bad);
	bad = edit(text.ptr, "type:", "type: build");
	CHECK(statement_parse(&p, bad, strlen(bad), "s.yaml") < 0 &&
	      strstr(cairn_error_last(), "a build statement has no 'environment'"));
	free(bad);
	bad = edit(text.ptr, "time:", "time: yesterday");
	CHECK(statement_parse(&p, bad, strlen(bad), "s.yaml") < 0 && strstr(cairn_error_last(), "'time'"));
	free(bad);
	bad = edit(text.ptr, "bundle:", "bundle: sha1:00");
	CHECK(statement_parse(&p, bad, strlen(bad), "s.yaml") < 0 && strstr(cairn_error_last(), "'bundle'"));
	free(bad);
	CHECK(iso_time_valid("2026-11-22T09:30:00Z") && !iso_time_valid("2026-11-22 09:30:00"));
	CHECK(iso_time_parse("1970-01-02T00:00:00Z") == 86400);
	{
		char t[21];

		iso_time(1767323045, t);
		CHECK_STR(t, "2026-01-02T03:04:05Z");
	}
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
static void test_known_file(void)
{
	static const char golden_sha[] = "0fda9be65371459a1f8889c422a2af019f340f4c240c61f1f7727e227f5088d9";
	struct trust *t = trust_new();
	struct bundle *b = NULL;
	struct known k = { 1, 0, 0, "" };
	struct bundle_open_opts o = { .known_file = known_file, .known_ctx = &k };
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
	test_checksum();
	test_manifest();
	test_manifest_callbacks();
	test_manifest_canonical();
	test_manifest_callbacks_canonical();
	test_manifest_batch();
	test_manifest_waivers();
	test_statement();
	test_sign_verify();
	test_bundle_open();
	test_parse_order();
	test_known_file();
	test_text_not_kept();
	test_manifest_pieces();
	return unit_done();
}
