/* Unit tests for the manifest parsed as it is read (drop_manifest_bytes,
 * verify/bundle-parse.c, issue #14 perf14g): the pieces reach the parse
 * while the reader inflates them, so a manifest of several pieces (the
 * reader waiting on the parse) must give what a whole read gives, and
 * every refusal must be the one a whole read makes: the hostile
 * fixtures, a manifest changed after SHA256SUMS was made, an entry
 * repeated after the first piece. The tests run from tests/. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../bundle/write.h"
#include "../../lib/buf.h"
#include "../../lib/error.h"
#include "../../lib/sha256.h"
#include "../../lib/util.h"
#include "../../verify/bundle.h"
#include "../../verify/keys.h"
#include "../../verify/manifest.h"
#include "unit.h"

/* More than the queue between the reader and the parse holds (1 MiB), in
 * several pieces of 256 KiB. */
#define NMIGS 6000

/* A canonical manifest of n migrations named p-1, each with one up.sql
 * ("SELECT <i>;\n"). swap: migrations swap and swap + 1 trade places
 * (0: none); dup: migration dup repeats the one before it. */
static void manifest_text(struct buf *m, size_t n, size_t swap, size_t dup)
{
	size_t i;

	buf_printf(m, "format: cairn-bundle/1\nname: p-1\nproject: p\nsource:\n"
		      "  repository: \"\"\n  commit: cba397aee265e55fb436cb48a5151fa70cb805b9\n"
		      "  tree: ea9f77a98a78b3cb87b002e828886936dbe027b2\n  path: \"\"\n  ref: \"\"\n"
		      "build:\n  time: \"2026-01-02T03:04:05Z\"\n  tool: \"cairn 0.1.0\"\n"
		      "drivers: [sqlite]\nlimits:\n  max_file_size: 16777216\n"
		      "  max_data_size: 4294967296\nmigrations:\n");
	for (i = 1; i <= n; i++) {
		size_t k = swap && i == swap ? i + 1 : swap && i == swap + 1 ? i - 1 :
			   dup && i == dup ? i - 1 : i;
		struct bundle_file f;
		char sql[32], cs[7 + 65], name[64], hex[65];

		snprintf(sql, sizeof(sql), "SELECT %zu;\n", k);
		snprintf(name, sizeof(name), "up.sql");
		memset(&f, 0, sizeof(f));
		f.name = name;
		sha256_hex(sql, strlen(sql), hex);
		(void)hex_decode(hex, 32, f.sha);
		f.size = strlen(sql);
		migration_checksum(&f, 1, cs);
		buf_printf(m, "  - version: \"%014zu\"\n    name: \"%014zu_m\"\n"
			      "    description: \"migration %zu\"\n    requires: []\n"
			      "    transaction: true\n    irreversible: false\n    destructive: false\n"
			      "    kind: schema\n    environments: []\n    timeout_ms: 0\n"
			      "    lock_timeout_ms: 0\n    checksum: \"%s\"\n    files:\n"
			      "      - name: up.sql\n        sha256: %s\n        size: %llu\n",
			   k, k, k, cs, hex, f.size);
	}
}

/* An unsigned bundle with that manifest and its members; listed: the
 * manifest's hash SHA256SUMS lists (NULL: its own). The members follow
 * the manifest's entries' order, so SHA256SUMS stays sorted only when
 * they are. */
/* The SHA256SUMS of write_big's bundle, listing listed (else m) as the
 * manifest. */
static void sums_text(struct buf *sums, const struct buf *m, size_t n, const char *listed)
{
	char h[65];
	size_t i;

	sha256_hex(listed ? listed : m->ptr, listed ? strlen(listed) : m->len, h);
	buf_printf(sums, "%s  manifest.yaml\n", h);
	for (i = 1; i <= n; i++) {
		char sql[32];

		snprintf(sql, sizeof(sql), "SELECT %zu;\n", i);
		sha256_hex(sql, strlen(sql), h);
		buf_printf(sums, "%s  migrations/%014zu_m/up.sql\n", h, i);
	}
}

/* with_sums: SHA256SUMS's text as given (NULL: sums_text's) */
static void write_big_sums(const char *path, const struct buf *m, size_t n, const char *listed,
			   const struct buf *with_sums)
{
	struct bwriter *w = NULL;
	struct buf sums = BUF_INIT, member = BUF_INIT;
	size_t i;
	int bad = 0;

	if (with_sums)
		buf_put(&sums, with_sums->ptr, with_sums->len);
	else
		sums_text(&sums, m, n, listed);
	CHECK(bwriter_open(&w, path, "p-1", 0) == 0);
	CHECK(bwriter_add(w, "manifest.yaml", m->ptr, m->len) == 0);
	CHECK(bwriter_add(w, "SHA256SUMS", sums.ptr, sums.len) == 0);
	for (i = 1; i <= n; i++) {
		char sql[32];

		snprintf(sql, sizeof(sql), "SELECT %zu;\n", i);
		buf_reset(&member);
		buf_printf(&member, "migrations/%014zu_m/up.sql", i);
		bad |= bwriter_add(w, buf_cstr(&member), sql, strlen(sql)) < 0;
	}
	CHECK(!bad && bwriter_commit(w) == 0);
	bwriter_free(w);
	buf_release(&sums);
	buf_release(&member);
}

static void write_big(const char *path, const struct buf *m, size_t n, const char *listed)
{
	write_big_sums(path, m, n, listed, NULL);
}

/* What an open gives: 0 and the bundle's manifest written again, or -1
 * and the error. */
static int open_as(const char *path, int drop, struct buf *out)
{
	struct bundle_open_opts o = { .untrusted = 1, .drop_manifest_bytes = drop };
	struct bundle *b = NULL;
	int rc = bundle_open_opts(&b, path, NULL, &o);

	buf_reset(out);
	if (rc < 0)
		buf_printf(out, "%s", cairn_error_last());
	else
		CHECK(manifest_format(b, out) == 0);
	/* apply's way takes the canonical text as it streams, never by a
	 * second read (bundle_manifest_streamed) */
	if (!rc)
		CHECK(bundle_manifest_streamed(b) == drop);
	bundle_free(b);
	return rc;
}

static void test_big(void)
{
	struct buf m = BUF_INIT, whole = BUF_INIT, cut = BUF_INIT;
	struct bundle fast;
	char tmp[] = "/tmp/cairn-unit-stream-XXXXXX";
	int fd = mkstemp(tmp);

	CHECK(fd >= 0);
	close(fd);
	manifest_text(&m, NMIGS, 0, 0);
	CHECK(m.len > (2U << 20)); /* more than the queue holds: the reader waits */
	/* the canonical fast path takes it (else only libyaml is tested) */
	memset(&fast, 0, sizeof(fast));
	CHECK(manifest_parse_canonical(&fast, m.ptr, m.len) == 0 && fast.nmigs == NMIGS);
	manifest_release(&fast);
	write_big(tmp, &m, NMIGS, NULL);
	CHECK(open_as(tmp, 0, &whole) == 0 && open_as(tmp, 1, &cut) == 0);
	CHECK(whole.len == m.len && !memcmp(whole.ptr, m.ptr, m.len));
	CHECK(cut.len == m.len && !memcmp(cut.ptr, m.ptr, m.len));

	/* the manifest changed after SHA256SUMS was made: found once it has
	 * streamed by, with the whole read's message */
	write_big(tmp, &m, NMIGS, "format: cairn-bundle/1\n");
	CHECK(open_as(tmp, 0, &whole) < 0 && open_as(tmp, 1, &cut) < 0);
	CHECK_STR(buf_cstr(&cut), buf_cstr(&whole));
	CHECK_STR(buf_cstr(&cut), "member 'manifest.yaml': sha256 does not match SHA256SUMS "
				  "(changed after the build)");

	/* two entries in an order of the manifest's own, far past the first
	 * piece: the manifest's order is the apply order, and both reads
	 * give it as written */
	buf_reset(&m);
	manifest_text(&m, NMIGS, NMIGS - 10, 0);
	write_big(tmp, &m, NMIGS, NULL);
	CHECK(open_as(tmp, 0, &whole) == 0 && open_as(tmp, 1, &cut) == 0);
	CHECK(cut.len == m.len && !memcmp(cut.ptr, m.ptr, m.len));
	CHECK(whole.len == m.len && !memcmp(whole.ptr, m.ptr, m.len));
	/* one repeated, far past the first piece: refused as a whole read
	 * refuses it (the canonical parse gives up; the general parser,
	 * after authentication, says why) */
	buf_reset(&m);
	manifest_text(&m, NMIGS, 0, NMIGS - 5);
	write_big(tmp, &m, NMIGS, NULL);
	CHECK(open_as(tmp, 0, &whole) < 0 && open_as(tmp, 1, &cut) < 0);
	CHECK_STR(buf_cstr(&cut), buf_cstr(&whole));
	printf("#   repeated: %s\n", buf_cstr(&cut));
	unlink(tmp);
	buf_release(&m);
	buf_release(&whole);
	buf_release(&cut);
}

/* SHA256SUMS parsed as it is inflated (apply's way, issue #14): each
 * refusal far past its first slice, and the archive cut short inside it
 * after a line the parse refused, give the whole read's message (a read
 * error first, as when the text was read whole before its parse). */
static void test_sums_streamed(void)
{
	struct buf m = BUF_INIT, sums = BUF_INIT, bad = BUF_INIT, whole = BUF_INIT, cut = BUF_INIT;
	char tmp[] = "/tmp/cairn-unit-sums-XXXXXX";
	int fd = mkstemp(tmp), edit;
	size_t at;

	CHECK(fd >= 0);
	close(fd);
	manifest_text(&m, NMIGS, 0, 0);
	sums_text(&sums, &m, NMIGS, NULL);
	for (edit = 0; edit < 4; edit++) {
		buf_reset(&bad);
		buf_put(&bad, sums.ptr, sums.len);
		at = bad.len - 3 * 101; /* a line near the end (each is 101 bytes) */
		if (edit == 0)          /* listed twice */
			memcpy(bad.ptr + at, bad.ptr + at - 101, 101);
		else if (edit == 1)     /* no final newline */
			bad.len--;
		else if (edit == 2)     /* upper-case hex */
			bad.ptr[at + 5] = 'F';
		else                    /* unsafe path */
			memcpy(bad.ptr + at + 66, "../", 3);
		write_big_sums(tmp, &m, NMIGS, NULL, &bad);
		CHECK(open_as(tmp, 0, &whole) < 0 && open_as(tmp, 1, &cut) < 0);
		CHECK(strstr(buf_cstr(&whole), "member SHA256SUMS:") != NULL);
		CHECK_STR(buf_cstr(&cut), buf_cstr(&whole));
		printf("#   %s\n", buf_cstr(&cut));
	}
	/* a line refused early, then the archive cut inside SHA256SUMS: the
	 * truncation is what both reads say */
	buf_reset(&bad);
	buf_put(&bad, sums.ptr, sums.len);
	bad.ptr[200] = 'F';
	write_big_sums(tmp, &m, NMIGS, NULL, &bad);
	{
		FILE *f = fopen(tmp, "rb");
		struct buf gz = BUF_INIT;
		char block[4096];
		size_t n, len;
		int found = 0;

		while (f && (n = fread(block, 1, sizeof(block), f)) > 0)
			buf_put(&gz, block, n);
		if (f)
			fclose(f);
		/* a cut from the end back, till the whole read's error names
		 * SHA256SUMS's bytes as truncated */
		for (len = gz.len - 1024; len > 1024 && !found; len -= 2048) {
			f = fopen(tmp, "wb");
			CHECK(f && fwrite(gz.ptr, 1, len, f) == len);
			if (f)
				fclose(f);
			if (open_as(tmp, 0, &whole) < 0 && strstr(buf_cstr(&whole), "'SHA256SUMS'") &&
			    strstr(buf_cstr(&whole), "truncated")) {
				found = 1;
				CHECK(open_as(tmp, 1, &cut) < 0);
				CHECK_STR(buf_cstr(&cut), buf_cstr(&whole));
				printf("#   %s\n", buf_cstr(&cut));
			}
		}
		CHECK(found);
		buf_release(&gz);
	}
	unlink(tmp);
	buf_release(&m);
	buf_release(&sums);
	buf_release(&bad);
	buf_release(&whole);
	buf_release(&cut);
}

/* Every hostile fixture is refused by apply's way of opening with the
 * message a whole read gives (fixtures/hostile/EXPECT lists them):
 * manifest-edited (its hash is not the one signed) after it streamed by
 * into the parse; alias-bomb-signed (not canonical: libyaml, after the
 * signature checked out). */
static void test_hostile(void)
{
	struct trust *t = trust_new();
	FILE *f = fopen("fixtures/hostile/EXPECT", "r");
	char line[512];
	int n = 0;

	CHECK(f != NULL && trust_add_builder_key(t, "fixtures/keys/test.pub") == 0);
	while (f && fgets(line, sizeof(line), f)) {
		struct bundle_open_opts o = { .drop_manifest_bytes = 1 };
		struct bundle *b = NULL;
		char path[600], want[CAIRN_ERRMSG_MAX], *tab = strchr(line, '\t');
		int rc;

		if (line[0] == '#' || !tab)
			continue;
		*tab = '\0';
		if (snprintf(path, sizeof(path), "fixtures/hostile/%s.tar.gz", line) >= (int)sizeof(path))
			continue;
		rc = bundle_open(&b, path, t);
		snprintf(want, sizeof(want), "%s", rc < 0 ? cairn_error_last() : "");
		bundle_free(b);
		b = NULL;
		CHECK(rc < 0 && bundle_open_opts(&b, path, t, &o) < 0 && !b);
		CHECK_STR(cairn_error_last(), want);
		n++;
	}
	CHECK(n >= 27);
	if (f)
		fclose(f);
	trust_free(t);
}

int main(void)
{
	test_big();
	test_sums_streamed();
	test_hostile();
	return unit_done();
}
