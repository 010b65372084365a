/* Unit tests for manifest.yaml and statements: round trips through the
 * writer and both parsers (the canonical fast path, whole and in pieces,
 * and libyaml), format 2's callbacks, batch: and waivers:, and what both
 * refuse. Split from test-bundle.c, which had grown past 1,000 lines. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../bundle/build.h"
#include "../../bundle/keys.h"
#include "../../lib/buf.h"
#include "../../lib/callbacks.h"
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
	memset(m->files[0].sha, 0xcc, 32); /* "cccc...": 64 hex digits */
	m->files[0].size = 5;
	m->files[1].name = xstrdup("up.sql");
	m->files[1].member = xstrdup("migrations/1_a/up.sql");
	memset(m->files[1].sha, 0xdd, 32);
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
static void sample_callbacks_named(struct bundle *b, const char *first, const char *second)
{
	b->callbacks = xcalloc(2, sizeof(*b->callbacks));
	b->ncallbacks = 2;
	b->callbacks[0].name = xstrdup(first);
	b->callbacks[1].name = xstrdup(second);
	memset(b->callbacks[0].sha, 0xaa, 32);
	memset(b->callbacks[1].sha, 0xbb, 32);
	b->callbacks[1].size = 12;
}

static void sample_callbacks(struct bundle *b)
{
	sample_callbacks_named(b, "after_each.postgres.sql", "before_each.sql");
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

	bad = edit(text.ptr, "format:", "format: cairn-bundle/4");
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

/* manifest_parse_canonical_sums over pieces of size k: its verdict on
 * whether the files are sums's entries after the first, in order. */
static int sums_verdict(const char *text, size_t k, const struct sums *sums)
{
	struct pieces p = { text, 0, strlen(text), k, NULL };
	struct bundle b;
	int matched = -1;

	memset(&b, 0, sizeof(b));
	CHECK(manifest_parse_canonical_sums(&b, next_piece, &p, p.len, sums, &matched) == 0);
	free(p.last);
	manifest_release(&b);
	return matched;
}

/* SHA256SUMS compared with each file as the manifest is parsed (issue #14):
 * equal only when every entry after manifest.yaml is the next file (the
 * migrations', then the callbacks'), path and digest; a digest changed at
 * the first or the last file, an entry missing or added, two entries
 * swapped, each makes the parse say they differ (bundle.c then compares
 * the lists itself and words the difference as before). */
static void test_manifest_sums_as_parsed(void)
{
	static const size_t sizes[] = { 7, 64, 1000, (size_t)-1 };
	struct bundle *b = sample_bundle(), fast;
	struct buf text = BUF_INIT;
	const struct bundle_file **files;
	struct sums s;
	struct sums_entry tmp;
	size_t i, j, n = 0;

	sample_callbacks(b);
	CHECK(manifest_format(b, &text) == 0);
	memset(&fast, 0, sizeof(fast));
	CHECK(manifest_parse_canonical(&fast, text.ptr, text.len) == 0);
	files = xcalloc(40, sizeof(*files));
	for (i = 0; i < fast.nmigs; i++)
		for (j = 0; j < fast.migs[i].nfiles && n < 38; j++)
			files[n++] = &fast.migs[i].files[j];
	for (i = 0; i < fast.ncallbacks && n < 38; i++)
		files[n++] = &fast.callbacks[i];
	CHECK(n >= 3 && fast.ncallbacks == 2);
	sums_from_files(&s, "0000000000000000000000000000000000000000000000000000000000000000",
			files, n);
	for (i = 0; i < sizeof(sizes) / sizeof(*sizes); i++) {
		CHECK(sums_verdict(text.ptr, sizes[i], &s) == 1);
		/* the digest of the first file, then of the last (a callback) */
		s.items[1].sha[0] ^= 1;
		CHECK(sums_verdict(text.ptr, sizes[i], &s) == 0);
		s.items[1].sha[0] ^= 1;
		s.items[n].sha[31] ^= 0x80;
		CHECK(sums_verdict(text.ptr, sizes[i], &s) == 0);
		s.items[n].sha[31] ^= 0x80;
		/* the last entry missing */
		s.n--;
		CHECK(sums_verdict(text.ptr, sizes[i], &s) == 0);
		s.n++;
		/* two entries swapped (out of order) */
		tmp = s.items[1];
		s.items[1] = s.items[2];
		s.items[2] = tmp;
		CHECK(sums_verdict(text.ptr, sizes[i], &s) == 0);
		s.items[2] = s.items[1];
		s.items[1] = tmp;
		CHECK(sums_verdict(text.ptr, sizes[i], &s) == 1);
	}
	/* one entry more than the manifest's files */
	files[n] = files[n - 1];
	sums_release(&s);
	sums_from_files(&s, "0000000000000000000000000000000000000000000000000000000000000000",
			files, n + 1);
	CHECK(sums_verdict(text.ptr, 64, &s) == 0);
	/* no sums given: nothing compared, never "equal" */
	CHECK(sums_verdict(text.ptr, 64, NULL) == 0);
	sums_release(&s);
	free(files);
	manifest_release(&fast);
	buf_release(&text);
	free_sample(b);
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

/* The fast path keeps fewer copies (issue #14): a provenance value equal
 * to the previous migration's is that string, and a file's name is the
 * end of its member path; the values are the libyaml path's all the same
 * (canonical_agrees), including a value that differs from the one before
 * and one that is absent between two equal ones. */
static void test_manifest_shared_strings(void)
{
	struct bundle *b = sample_bundle(), p;
	struct bundle_migration *m;
	struct buf text = BUF_INIT;
	size_t i;

	b->migs = xrealloc(b->migs, 4 * sizeof(*b->migs));
	b->nmigs = 4;
	b->migs[0].prov_commit = xstrdup("abc");
	b->migs[0].prov_author = xstrdup("A <a@b>");
	b->migs[0].prov_date = xstrdup("2026-12-04T00:00:00Z");
	for (i = 2; i < 4; i++) {
		m = &b->migs[i];
		memset(m, 0, sizeof(*m));
		m->version = xasprintf("%zu", i + 1);
		m->name = xasprintf("%zu_c", i + 1);
		m->description = xstrdup("");
		m->transaction = 1;
		m->prov_commit = xstrdup(i == 2 ? "abd" : "abc");
		m->prov_author = xstrdup("A <a@b>");
		m->prov_date = i == 3 ? xstrdup("2026-12-04T00:00:00Z") : NULL;
		m->files = xcalloc(1, sizeof(*m->files));
		m->files[0].name = xstrdup("up.sql");
		m->files[0].member = xasprintf("migrations/%s/up.sql", m->name);
		memset(m->files[0].sha, 0xee, 32);
		m->nfiles = 1;
		m->checksum = xmalloc(72);
		migration_checksum(m->files, 1, m->checksum);
	}
	CHECK(manifest_format(b, &text) == 0);
	CHECK(canonical_agrees(buf_cstr(&text)) == 0);
	memset(&p, 0, sizeof(p));
	CHECK(manifest_parse_canonical(&p, text.ptr, text.len) == 0);
	if (p.nmigs == 4) {
		CHECK(p.migs[1].prov_commit == p.migs[0].prov_commit);
		CHECK(p.migs[1].prov_author == p.migs[0].prov_author && !p.migs[1].prov_date);
		CHECK_STR(p.migs[2].prov_commit, "abd");
		CHECK(p.migs[2].prov_author == p.migs[1].prov_author);
		CHECK_STR(p.migs[3].prov_commit, "abc");
		CHECK(p.migs[3].prov_commit != p.migs[0].prov_commit);
		CHECK_STR(p.migs[3].prov_date, "2026-12-04T00:00:00Z");
		CHECK(p.migs[3].prov_date != p.migs[0].prov_date);
		for (i = 0; i < 4; i++) {
			const struct bundle_file *f = p.migs[i].nfiles ? &p.migs[i].files[0] : NULL;

			CHECK(!f || (!strcmp(f->name, b->migs[i].files[0].name) &&
				     !strcmp(f->member, b->migs[i].files[0].member) &&
				     f->name == f->member + strlen(f->member) - strlen(f->name)));
		}
	}
	CHECK(p.nmigs == 4);
	manifest_release(&p);
	buf_release(&text);
	free_sample(b);
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
	char *t, *u, sha_a[12 + 64 + 1], item_a[12 + 64 + 1], hex_a[65];

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
	CHECK(snprintf(sha_a, sizeof(sha_a), "    sha256: %s", bundle_file_hex(&b->callbacks[0], hex_a)) ==
	      (int)sizeof(sha_a) - 1);
	CHECK(snprintf(item_a, sizeof(item_a), "  - sha256: %s", hex_a) ==
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

/* The rollback callbacks (ops20d) are read by both parsers; a name one
 * letter off is refused by both. */
static void test_manifest_rollback_callbacks(void)
{
	static const char *const wrong[][2] = {
		{ "  - name: before_rollback.sql", "  - name: before_rollbak.sql" },
		{ "  - name: after_each_rollback.postgres.sql",
		  "  - name: after_each_rollback.mysql.sql" },
	};
	struct bundle *b = sample_bundle(), *p = NULL, fast;
	struct buf text = BUF_INIT;
	const char *driver;

	sample_callbacks_named(b, "after_each_rollback.postgres.sql", "before_rollback.sql");
	CHECK(callback_parse("before_each_rollback.sql", &driver) == CB_BEFORE_EACH_ROLLBACK);
	CHECK(callback_parse("after_rollback.sqlite.sql", &driver) == CB_AFTER_ROLLBACK &&
	      driver && !strcmp(driver, "sqlite"));
	CHECK(callback_parse("before_each.sql", &driver) == CB_BEFORE_EACH);
	CHECK(manifest_format(b, &text) == 0);
	CHECK(canonical_agrees(text.ptr) == 0);
	memset(&fast, 0, sizeof(fast));
	CHECK(manifest_parse_canonical(&fast, text.ptr, text.len) == 0);
	CHECK(fast.ncallbacks == 2);
	if (fast.ncallbacks == 2)
		CHECK_STR(fast.callbacks[1].member, "migrations/callbacks/before_rollback.sql");
	manifest_release(&fast);
	CHECK(parse_text(text.ptr, &p) == 0 && p->ncallbacks == 2);
	free_sample(p);
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
	m->throttle = xcalloc(1, sizeof(*m->throttle)); /* freed by manifest_release */
	m->throttle->size = 1000;
	m->throttle->pause_ms = 200;
	m->throttle->max_duration_ms = 600000;
	m->throttle->max_lag_ms = 5000;
	CHECK(manifest_format(b, &text) == 0);
	CHECK(strstr(text.ptr, "    batch:\n      size: 1000\n      pause_ms: 200\n"
			       "      max_duration_ms: 600000\n      max_replication_lag_ms: 5000\n"
			       "    checksum:") != NULL);
	CHECK(canonical_agrees(text.ptr) == 0);
	CHECK(parse_text(text.ptr, &p) == 0);
	CHECK(p->migs[0].throttle && p->migs[0].throttle->size == 1000 &&
	      p->migs[0].throttle->pause_ms == 200 &&
	      p->migs[0].throttle->max_duration_ms == 600000 &&
	      p->migs[0].throttle->max_lag_ms == 5000 && !p->migs[0].throttle->max_lag_bytes);
	free_sample(p);
	refused_by_both(text.ptr, wrong, sizeof(wrong) / sizeof(*wrong));
	buf_release(&text);
	m->throttle->size = m->throttle->max_duration_ms = m->throttle->max_lag_ms = 0;
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

static void set_waiver(struct bundle_waiver *w, const char *rule, const char *file,
		       unsigned long long line, const char *via, const char *reason)
{
	w->rule = xstrdup(rule);
	w->file = xstrdup(file);
	w->line = line;
	w->via = xstrdup(via);
	w->reason = reason ? xstrdup(reason) : NULL;
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
	set_waiver(&m->waivers[0], "drop-column", "up.sql", 1, "comment", "unused since v3.2");
	set_waiver(&m->waivers[1], "drop-table", "up.sql", 3, "allow", NULL);
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

/* callback_waivers: (format cairn-bundle/3, issue #20): a callback's
 * waivers, read alike by both parsers (whole, in pieces); format 3 exactly
 * when there is one; a waiver naming no callback, or after the format's
 * end, is refused by both. */
static void test_manifest_callback_waivers(void)
{
	static const char *const wrong[][2] = {
		{ "format:", "format: cairn-bundle/2" },
		{ "    file: before_each.sql", "    file: after_migrate.sql" },
		{ "    file: before_each.sql", "    file: up.sql" },
		{ "    via: comment", "    via: email" },
		{ "    line: 2", "    line: 0" },
		{ "    via: comment", "    via: comment\n    by: eve" },
		{ "callback_waivers:", "callback_waivers: []" },
		{ "callback_waivers:", "waivers:" },
		/* a callback after the waivers */
		{ "    via: allow", "    via: allow\ncallbacks:\n  - name: on_error.sql" },
	};
	struct bundle *b = sample_bundle(), *p = NULL, fast;
	struct buf text = BUF_INIT, two = BUF_INIT;
	char *t;

	sample_callbacks(b);
	CHECK(manifest_format(b, &two) == 0);
	CHECK(!strncmp(buf_cstr(&two), "format: cairn-bundle/2\n", 23));
	b->callback_waivers = xcalloc(2, sizeof(*b->callback_waivers));
	b->ncallback_waivers = 2;
	set_waiver(&b->callback_waivers[0], "drop-table", "before_each.sql", 2, "comment",
		   "rebuilt each run");
	set_waiver(&b->callback_waivers[1], "delete-all", "after_each.postgres.sql", 1, "allow",
		   NULL);
	CHECK(manifest_format(b, &text) == 0);
	CHECK(!strncmp(buf_cstr(&text), "format: cairn-bundle/3\n", 23));
	/* format 2's text and the list after it: nothing else moved */
	CHECK(text.len > two.len && !memcmp(text.ptr + 23, two.ptr + 23, two.len - 23));
	CHECK(strstr(text.ptr, "\ncallback_waivers:\n  - rule: drop-table\n    file: before_each.sql\n"
		     "    line: 2\n    via: comment\n    reason: \"rebuilt each run\"\n"
		     "  - rule: delete-all\n") != NULL);
	CHECK(canonical_agrees(text.ptr) == 0);
	memset(&fast, 0, sizeof(fast));
	CHECK(manifest_parse_canonical(&fast, text.ptr, text.len) == 0);
	CHECK(fast.ncallback_waivers == 2 && fast.ncallbacks == 2);
	if (fast.ncallback_waivers == 2) {
		CHECK_STR(fast.callback_waivers[0].reason, "rebuilt each run");
		CHECK_STR(fast.callback_waivers[1].file, "after_each.postgres.sql");
		CHECK(!fast.callback_waivers[1].reason && fast.callback_waivers[1].line == 1);
	}
	manifest_release(&fast);
	/* the same value in another YAML form: libyaml's, the same structs */
	t = edit(text.ptr, "    file: before_each.sql", "    file: \"before_each.sql\"");
	CHECK(canonical_agrees(t) < 0);
	CHECK(parse_text(t, &p) == 0 && p->ncallback_waivers == 2);
	if (p->ncallback_waivers == 2)
		CHECK_STR(p->callback_waivers[0].file, "before_each.sql");
	free_sample(p);
	free(t);
	/* format 3 without the list */
	t = edit(two.ptr, "format:", "format: cairn-bundle/3");
	CHECK(canonical_agrees(t) < 0);
	CHECK(parse_text(t, &p) < 0 && strstr(cairn_error_last(), "lists its 'callback_waivers'"));
	free_sample(p);
	free(t);
	t = edit(text.ptr, "format:", "format: cairn-bundle/2");
	CHECK(parse_text(t, &p) < 0 &&
	      strstr(cairn_error_last(), "'callback_waivers' needs format cairn-bundle/3"));
	free_sample(p);
	free(t);
	t = edit(text.ptr, "    file: before_each.sql", "    file: on_error.sql");
	CHECK(parse_text(t, &p) < 0 && strstr(cairn_error_last(), "not one of the bundle's callbacks"));
	free_sample(p);
	free(t);
	refused_by_both(text.ptr, wrong, sizeof(wrong) / sizeof(*wrong));
	buf_release(&text);
	buf_release(&two);
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

int main(void)
{
	test_manifest();
	test_manifest_callbacks();
	test_manifest_canonical();
	test_manifest_shared_strings();
	test_manifest_callbacks_canonical();
	test_manifest_sums_as_parsed();
	test_manifest_rollback_callbacks();
	test_manifest_batch();
	test_manifest_waivers();
	test_manifest_callback_waivers();
	test_statement();
	return unit_done();
}
