/* Unit tests for the pure helpers: YAML tree, versions, UTF-8, sizes. */
#include <stdlib.h>
#include <string.h>

#include "../../lib/batch.h"
#include "../../lib/buf.h"
#include "../../lib/error.h"
#include "../../lib/hexindex.h"
#include "../../lib/pool.h"
#include "../../lib/prom.h"
#include "../../lib/sha256.h"
#include "../../lib/util.h"
#include "../../lib/yaml.h"
#include "../../project/project.h"
#include "unit.h"

static int loads(const char *s, struct ynode **out)
{
	return yaml_load(out, s, strlen(s), "t.yaml");
}

static void test_yaml(void)
{
	struct ynode *n = NULL;
	int b = -1, line, col;
	unsigned long long u = 0;

	CHECK(loads("a: 1\nb: [x, y]\nc: {d: true}\n", &n) == 0);
	CHECK(n && n->type == YNODE_MAP && n->n == 3);
	CHECK_STR(ynode_get(n, "a")->str, "1");
	CHECK(ynode_get(n, "b")->type == YNODE_SEQ && ynode_get(n, "b")->n == 2);
	CHECK(ynode_bool(ynode_get(ynode_get(n, "c"), "d"), &b) == 0 && b == 1);
	CHECK(ynode_uint(ynode_get(n, "a"), &u) == 0 && u == 1);
	CHECK(ynode_get(n, "b")->line == 2 && ynode_get(n, "b")->col == 4);
	ynode_free(n);

	CHECK(loads("", &n) == 0 && n == NULL);
	CHECK(loads("a: &x 1\nb: *x\n", &n) < 0);
	CHECK(strstr(cairn_error_last(), "anchors are not allowed") != NULL);
	CHECK(loads("a: [1, 2\n", &n) < 0);
	yaml_last_error_mark(&line, &col);
	CHECK(line == 2);
	CHECK(strstr(cairn_error_last(), "t.yaml:") == cairn_error_last());
	CHECK(loads("a: 1\na: 2\n", &n) < 0);
	CHECK(strstr(cairn_error_last(), "duplicate key 'a' (first at line 1)") != NULL);
	CHECK(loads("a: 1\n---\nb: 2\n", &n) < 0);
	CHECK(strstr(cairn_error_last(), "more than one YAML document") != NULL);
	CHECK(loads("? [a]\n: 1\n", &n) < 0);
	CHECK(loads("\"quoted\": yes\n", &n) == 0);
	CHECK(ynode_bool(ynode_get(n, "quoted"), &b) == 0 && b == 1);
	ynode_free(n);
	CHECK(loads("x: \"true\"\n", &n) == 0);
	CHECK(ynode_bool(ynode_get(n, "x"), &b) < 0); /* a quoted string is no bool */
	ynode_free(n);

	/* deep nesting is refused, not a stack overflow */
	{
		struct buf deep = BUF_INIT;
		int i;

		for (i = 0; i < 200; i++)
			buf_putc(&deep, '[');
		CHECK(yaml_load(&n, deep.ptr, deep.len, "deep") < 0);
		CHECK(strstr(cairn_error_last(), "deeper than") != NULL);
		buf_release(&deep);
	}
}

static void test_yaml_scalar(void)
{
	static const char *const cases[] = {
		"plain", "with space", "true", "no", "0123", "-x", "a:b", "#c", "quote\"d",
		"back\\slash", "new\nline", "", "sha256:abc", "refs/tags/v*", "ünï", NULL,
	};
	size_t i;

	for (i = 0; cases[i]; i++) {
		struct buf b = BUF_INIT;
		struct ynode *n = NULL;

		buf_puts(&b, "k: ");
		yaml_put_scalar(&b, cases[i]);
		buf_putc(&b, '\n');
		CHECK(yaml_load(&n, b.ptr, b.len, "rt") == 0 && n);
		CHECK_STR(n ? ynode_get(n, "k")->str : NULL, cases[i]);
		ynode_free(n);
		buf_release(&b);
	}
}

static void test_versions(void)
{
	CHECK(version_cmp("0001", "1") == 0);
	CHECK(version_cmp("0002", "0010") < 0);
	CHECK(version_cmp("20261122093000", "9999") > 0);
	CHECK(version_cmp("10", "9") > 0);
	CHECK(version_cmp("0", "000") == 0);
}

static void test_utf8(void)
{
	size_t bad = 0;

	CHECK(utf8_check("plain", 5, &bad) == 0);
	CHECK(utf8_check("\xc3\xa9t\xc3\xa9", 6, &bad) == 0);
	CHECK(utf8_check("ab\xff", 3, &bad) < 0 && bad == 2);
	CHECK(utf8_check("\xc0\xaf", 2, &bad) < 0 && bad == 0);  /* overlong */
	CHECK(utf8_check("\xed\xa0\x80", 3, &bad) < 0);           /* surrogate */
	CHECK(utf8_check("x\xe2\x82", 3, &bad) < 0 && bad == 1);  /* truncated */
	CHECK(utf8_check("\xf0\x9f\x98\x80", 4, &bad) == 0);      /* emoji */
	CHECK(line_of_offset("a\nb\nc", 5, 4) == 3);
}

static void test_sizes(void)
{
	unsigned long long v = 0;

	CHECK(parse_size("16MiB", &v) == 0 && v == 16ULL << 20);
	CHECK(parse_size("10k", &v) == 0 && v == 10240);
	CHECK(parse_size("12", &v) == 0 && v == 12);
	CHECK(parse_size("12 parsecs", &v) < 0);
	CHECK(parse_size("99999999999999999999G", &v) < 0);
	CHECK(parse_duration_ms("30s", &v) == 0 && v == 30000);
	CHECK(parse_duration_ms("250ms", &v) == 0 && v == 250);
	CHECK(parse_duration_ms("5m", &v) == 0 && v == 300000);
	CHECK(parse_duration_ms("soon", &v) < 0);
}

static void test_misc(void)
{
	static const char *const words[] = { "description", "requires", "transaction", NULL };
	char hex[65];
	struct buf b;

	CHECK_STR(did_you_mean("requries", words), "requires");
	CHECK_STR(did_you_mean("transacton", words), "transaction");
	CHECK(did_you_mean("zzz", words) == NULL);
	CHECK(sha256_hex("abc", 3, hex) == 0);
	CHECK_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	buf_init(&b, 4);
	CHECK(buf_puts(&b, "abcd") == 0);
	CHECK(buf_puts(&b, "e") < 0);
	CHECK(strstr(cairn_error_last(), "too big") != NULL);
	buf_release(&b);
	buf_init(&b, 0);
	buf_put_json_string(&b, "a\"b\n\x01");
	CHECK_STR(b.ptr, "\"a\\\"b\\n\\u0001\"");
	buf_release(&b);
}

/* lib/pool: alignment, strings, a big allocation beside the small ones. */
static void test_pool(void)
{
	struct pool_block *pool = NULL;
	char *a, *b, *big, *c;
	long long *n;
	size_t i;
	int ok = 1;

	a = pool_strndup(&pool, "abcdef", 3);
	CHECK(a && !strcmp(a, "abc"));
	n = pool_alloc(&pool, sizeof(*n), sizeof(*n));
	CHECK(((size_t)n % sizeof(*n)) == 0);
	*n = 42;
	b = pool_alloc(&pool, 0, 1);
	CHECK(b != NULL);
	/* bigger than the room left: a block of its own, and the small
	 * ones go on where they were */
	big = pool_alloc(&pool, 300 * 1024, 1);
	memset(big, 'x', 300 * 1024);
	c = pool_strndup(&pool, "z", 1);
	CHECK(c > a && c - a < 4096);
	/* many small ones across blocks, each intact */
	for (i = 0; i < 100000; i++) {
		char *s = pool_strndup(&pool, "0123456789", i % 11);

		ok &= strlen(s) == i % 11 && !memcmp(s, "0123456789", i % 11);
	}
	CHECK(ok);
	CHECK(!strcmp(a, "abc") && *n == 42 && big[300 * 1024 - 1] == 'x' && !strcmp(c, "z"));
	pool_free(&pool);
	CHECK(pool == NULL);
}

/* pool_rewind gives back what came after the mark in the same block, and
 * nothing when a new block was started since (or the pool was empty). */
static void test_pool_rewind(void)
{
	struct pool_block *pool = NULL;
	struct pool_mark mark;
	char *a, *b, *c;
	size_t i;

	pool_mark(&pool, &mark);
	a = pool_strndup(&pool, "first", 5);
	pool_rewind(&pool, &mark); /* the pool was empty: nothing given back */
	b = pool_strndup(&pool, "second", 6);
	CHECK(b != a && !strcmp(a, "first"));
	pool_mark(&pool, &mark);
	c = pool_strndup(&pool, "third", 5);
	pool_rewind(&pool, &mark);
	CHECK(pool_strndup(&pool, "4", 1) == c);
	CHECK(!strcmp(a, "first") && !strcmp(b, "second"));
	/* a new block since the mark: the old one keeps what it held */
	pool_mark(&pool, &mark);
	for (i = 0; i < 100000; i++)
		(void)pool_strndup(&pool, "0123456789", 10);
	pool_rewind(&pool, &mark);
	c = pool_strndup(&pool, "x", 1);
	CHECK(!strcmp(a, "first") && !strcmp(b, "second") && !strcmp(c, "x"));
	pool_free(&pool);
}

/* the throttle as plan and inspect print it (issue #22) */
static void test_batch_throttle(void)
{
	struct batch_throttle t = { 250, 1500, 600000, 5000, 0 };
	struct buf b = BUF_INIT;

	CHECK(batch_throttle_text(&t, &b) == 0);
	CHECK_STR(buf_cstr(&b), "size 250, pause 1500ms, max_duration 10m, max_replication_lag 5s");
	buf_reset(&b);
	CHECK(batch_throttle_json(&t, &b) == 0);
	CHECK_STR(buf_cstr(&b), "{\"size\":250,\"pause_ms\":1500,\"max_duration_ms\":600000,"
				"\"max_replication_lag_ms\":5000}");
	memset(&t, 0, sizeof(t));
	t.max_lag_bytes = 16ULL << 20;
	t.max_duration_ms = 2 * 3600000ULL;
	buf_reset(&b);
	CHECK(batch_throttle_text(&t, &b) == 0);
	CHECK_STR(buf_cstr(&b), "max_duration 2h, max_replication_lag 16MiB");
	t.max_lag_bytes = 1000;
	buf_reset(&b);
	CHECK(batch_throttle_text(&t, &b) == 0);
	CHECK_STR(buf_cstr(&b), "max_duration 2h, max_replication_lag 1000 bytes");
	memset(&t, 0, sizeof(t));
	buf_reset(&b);
	CHECK(batch_throttle_json(&t, &b) == 0 && !strcmp(buf_cstr(&b), "{}"));
	buf_release(&b);
}

/* Digests found by their bytes, exactly where strcmp found them. */
static void test_hexindex(void)
{
	static const char a[] = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
	static const char b[] = "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100";
	static const char a_upper[] = "00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF";
	char a_long[66], a_short[64], a_digit[65];
	const char *items[8];
	struct hexindex ix;
	unsigned char d[32];
	size_t i, k;

	memcpy(a_long, a, 64);
	memcpy(a_long + 64, "0", 2);
	memcpy(a_short, a, 63);
	a_short[63] = '\0';
	memcpy(a_digit, a, 65);
	a_digit[63] = 'e'; /* one digit off */
	CHECK(hexdigest_parse(a, d) == 0 && d[0] == 0x00 && d[1] == 0x11 && d[31] == 0xff);
	CHECK(hexdigest_parse(a_upper, d) < 0);
	CHECK(hexdigest_parse(a_long, d) < 0);
	CHECK(hexdigest_parse(a_short, d) < 0);
	CHECK(hexdigest_parse("", d) < 0 && hexdigest_parse(NULL, d) < 0);
	CHECK(hexdigest_parse("0g112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", d) < 0);
	/* the one decoder under it, by length: a prefix, an odd length of
	 * text, a capital, a NUL before the end */
	CHECK(hex_decode(a_long, 32, d) == 0 && d[31] == 0xff);
	CHECK(hex_decode("ab0f", 2, d) == 0 && d[0] == 0xab && d[1] == 0x0f);
	CHECK(hex_decode("ab0", 2, d) < 0 && hex_decode("aB", 1, d) < 0);
	CHECK(hex_decode("", 0, d) == 0 && hex_decode(a_short, 32, d) < 0);

	/* first and last items, a duplicate, text that is no digest (twice),
	 * an empty and a NULL string */
	items[0] = a;
	items[1] = "not a hash";
	items[2] = b;
	items[3] = "";
	items[4] = a;
	items[5] = NULL;
	items[6] = "not a hash";
	items[7] = a_upper;
	hexindex_init(&ix, 8);
	for (i = 0; i < 8; i++)
		hexindex_add(&ix, i, items[i]);
	k = hexindex_first(&ix, a);
	CHECK(k == 1);
	k = hexindex_next(&ix, k);
	CHECK(k == 5);
	CHECK(hexindex_next(&ix, k) == 0);
	CHECK(hexindex_first(&ix, b) == 3 && hexindex_next(&ix, 3) == 0);
	CHECK(hexindex_first(&ix, a_upper) == 8 && hexindex_next(&ix, 8) == 0);
	CHECK(hexindex_first(&ix, "not a hash") == 2 && hexindex_next(&ix, 2) == 7);
	CHECK(hexindex_first(&ix, a_long) == 0);
	CHECK(hexindex_first(&ix, a_short) == 0);
	CHECK(hexindex_first(&ix, a_digit) == 0);
	CHECK(hexindex_first(&ix, "") == 0 && hexindex_first(&ix, NULL) == 0);
	hexindex_release(&ix);
	hexindex_release(&ix); /* twice, and NULL: fine */
	hexindex_release(NULL);

	/* many: every one found, at its place */
	hexindex_init(&ix, 5000);
	{
		static char hx[5000][65];

		for (i = 0; i < 5000; i++) {
			unsigned char raw[32];

			memset(raw, 0, sizeof(raw));
			raw[0] = (unsigned char)(i & 0xff); /* the table's slot: the first bytes */
			raw[31] = (unsigned char)(i >> 8);
			hex_encode(raw, 32, hx[i]);
			hexindex_add(&ix, i, hx[i]);
		}
		for (i = 0, k = 0; i < 5000; i++)
			k += hexindex_first(&ix, hx[i]) == i + 1;
		CHECK(k == 5000);
	}
	hexindex_release(&ix);
}

/* prom_gauge writes what prom_family and prom_sample wrote before it
 * (ops/metrics.c, fleet/metrics.c and cmd/status.c moved to it): the
 * family header, then one sample with escaped label values. */
static void test_prom_gauge(void)
{
	struct prom_label l[2] = { { "env", "pr\"od\n" }, { "bundle", NULL } };
	struct buf a = BUF_INIT, b = BUF_INIT;

	prom_gauge(&a, "cairn_x_seconds", "Wall time of x.", l, 2, "%.3f", 1.5);
	CHECK_STR(a.ptr, "# HELP cairn_x_seconds Wall time of x.\n"
			 "# TYPE cairn_x_seconds gauge\n"
			 "cairn_x_seconds{env=\"pr\\\"od\\n\",bundle=\"\"} 1.500\n");
	prom_family(&b, "cairn_x_seconds", "gauge", "Wall time of x.");
	prom_sample(&b, "cairn_x_seconds", l, 2, "%.3f", 1.5);
	CHECK_STR(a.ptr, b.ptr);
	buf_reset(&a);
	prom_gauge(&a, "cairn_y", "Y.", l, 0, "%d", 7);
	CHECK_STR(a.ptr, "# HELP cairn_y Y.\n# TYPE cairn_y gauge\ncairn_y 7\n");
	buf_release(&a);
	buf_release(&b);
}

int main(void)
{
	test_yaml();
	test_yaml_scalar();
	test_versions();
	test_utf8();
	test_sizes();
	test_misc();
	test_pool();
	test_pool_rewind();
	test_batch_throttle();
	test_hexindex();
	test_prom_gauge();
	return unit_done();
}
