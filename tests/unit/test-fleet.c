/* fleet/: the targets file, shards, result lines written and read back,
 * metrics (issue #21). */
#include <stdlib.h>

#include "../../fleet/index.h"
#include "../../fleet/metrics.h"
#include "../../fleet/result.h"
#include "../../fleet/targets.h"
#include "../../lib/error.h"
#include "unit.h"

static int parse(struct fleet_targets *t, const char *text)
{
	memset(t, 0, sizeof(*t));
	return fleet_targets_parse(t, text, strlen(text), "T");
}

static void test_targets(void)
{
	struct fleet_targets t;

	CHECK(parse(&t, "# c\n\n a sqlite:a.db \nsqlite:b.db\nc host=h dbname=c\r\n"
			"host=h dbname=d\nd env:D_DSN\ne file:/etc/e.dsn\n") == 0);
	CHECK(t.n == 6);
	CHECK_STR(t.items[0].name, "a");
	CHECK_STR(t.items[0].value, "sqlite:a.db");
	CHECK(t.items[0].line == 3);
	CHECK_STR(t.items[1].name, "sqlite:b.db");
	CHECK_STR(t.items[2].value, "host=h dbname=c");
	CHECK_STR(t.items[3].name, "host=h dbname=d");
	CHECK(t.items[4].kind == FLEET_DSN_ENV);
	CHECK_STR(t.items[4].value, "D_DSN");
	CHECK(t.items[5].kind == FLEET_DSN_FILE);
	fleet_targets_release(&t);

	CHECK(parse(&t, "a sqlite:a.db\nb postgres://u:pw@h/db\n") < 0);
	CHECK(strstr(cairn_error_last(), "T:2: the DSN holds a password") != NULL);
	CHECK(strstr(cairn_error_last(), "pw@") == NULL);
	fleet_targets_release(&t);
	CHECK(parse(&t, "-a sqlite:a.db\n") < 0);
	CHECK(strstr(cairn_error_last(), "T:1: bad target name") != NULL);
	fleet_targets_release(&t);
	CHECK(parse(&t, "a sqlite:a.db\nb sqlite:b\x01.db\n") < 0);
	CHECK(strstr(cairn_error_last(), "T:2: control character 0x01") != NULL);
	fleet_targets_release(&t);
	CHECK(parse(&t, "a env:1BAD\n") < 0);
	fleet_targets_release(&t);
	CHECK(parse(&t, "a file:\n") < 0);
	fleet_targets_release(&t);
}

static void test_shard(void)
{
	struct fleet_targets t;
	unsigned i, n, seen[3] = { 0, 0, 0 };
	size_t k;

	/* FNV-1a 64 of "a" is 0xaf63dc4c8601ec8c */
	CHECK(fleet_shard_of("a", 1000) == (unsigned)(0xaf63dc4c8601ec8cULL % 1000));
	CHECK(fleet_shard_parse("0/4", &i, &n) == 0 && i == 0 && n == 4);
	CHECK(fleet_shard_parse("4/4", &i, &n) < 0);
	CHECK(fleet_shard_parse("1/0", &i, &n) < 0);
	CHECK(fleet_shard_parse("-1/4", &i, &n) < 0);
	CHECK(fleet_shard_parse("1/4x", &i, &n) < 0);
	for (i = 0; i < 3; i++) {
		CHECK(parse(&t, "a sqlite:a\nb sqlite:b\nc sqlite:c\nd sqlite:d\ne sqlite:e\n") == 0);
		fleet_targets_shard(&t, i, 3);
		for (k = 0; k < t.n; k++)
			CHECK(fleet_shard_of(t.items[k].name, 3) == i);
		seen[i] = (unsigned)t.n;
		fleet_targets_release(&t);
	}
	CHECK(seen[0] + seen[1] + seen[2] == 5);
}

static int results(struct fleet_results *rs, const char *text)
{
	return fleet_results_parse(rs, text, strlen(text), "R");
}

static void test_results(void)
{
	struct fleet_result r;
	struct fleet_results rs;
	struct buf b = BUF_INIT;

	memset(&r, 0, sizeof(r));
	r.target = "t\"1\n";
	r.outcome = "failed";
	r.exit = 3;
	r.duration_ms = 12;
	r.error = "refusing: \\ and \x01";
	fleet_result_format(&b, &r);
	r.target = "t2";
	r.outcome = "applied";
	r.exit = 0;
	r.error = NULL;
	fleet_result_format(&b, &r);
	r.target = "t\"1\n";
	r.outcome = "current";
	fleet_result_format(&b, &r);
	memset(&rs, 0, sizeof(rs));
	CHECK(fleet_results_parse(&rs, b.ptr, b.len, "R") == 0);
	CHECK(rs.n == 2);
	CHECK_STR(rs.items[0].target, "t\"1\n");
	CHECK_STR(rs.items[0].outcome, "current");   /* the last line wins */
	CHECK(fleet_outcome_ok(rs.items[0].outcome));
	CHECK(fleet_results_find(&rs, "t2") != NULL);
	CHECK(!fleet_outcome_ok("not-started"));
	fleet_results_release(&rs);
	memset(&rs, 0, sizeof(rs));
	CHECK(results(&rs, "{\"target\":\"x\",\"outcome\":\"failed\",\"error\":\"\\u00e9\"}") == 0);
	CHECK(rs.n == 1 && rs.items[0].error && !strcmp(rs.items[0].error, "\xc3\xa9"));
	fleet_results_release(&rs);
	memset(&rs, 0, sizeof(rs));
	CHECK(results(&rs, "{\"target\":\"x\"}\n") < 0);
	CHECK(strstr(cairn_error_last(), "R:1: not a fleet result line") != NULL);
	fleet_results_release(&rs);
	memset(&rs, 0, sizeof(rs));
	CHECK(results(&rs, "{\"target\":\"x\",\"outcome\":\"a\"} x") < 0);
	fleet_results_release(&rs);
	buf_release(&b);
}

#define MANY 50000

static char many_names[MANY][16];
static size_t name_calls;

static const char *many_at(const void *ctx, size_t pos)
{
	(void)ctx;
	name_calls++;
	return many_names[pos];
}

/* Names to positions at scale: every name found where it was put, a name
 * not there not found, and about one name comparison per lookup (a scan
 * made --resume, fleet-merge and report quadratic: 21 s for a resume of
 * 40,000 targets). */
static void test_index(void)
{
	struct fleet_index x;
	struct fleet_targets t;
	struct fleet_results rs;
	struct buf b = BUF_INIT;
	size_t i, bad = 0;

	memset(&x, 0, sizeof(x));
	for (i = 0; i < MANY; i++) {
		bad += snprintf(many_names[i], sizeof(many_names[i]), "t%zu", i) <= 0;
		fleet_index_add(&x, many_names[i], i);
	}
	name_calls = 0;
	for (i = 0; i < MANY; i++)
		bad += fleet_index_find(&x, many_names[i], many_at, NULL) != i;
	CHECK(bad == 0);
	CHECK(name_calls < MANY + MANY / 100);
	CHECK(fleet_index_find(&x, "t50000", many_at, NULL) == (size_t)-1);
	CHECK(fleet_index_find(&x, "", many_at, NULL) == (size_t)-1);
	fleet_index_release(&x);
	CHECK(fleet_index_find(&x, "t1", many_at, NULL) == (size_t)-1);

	/* a name twice in a long targets file: the first line is named */
	for (i = 0; i < MANY; i++)
		buf_printf(&b, "%s sqlite:%s.db\n", many_names[i], many_names[i]);
	buf_puts(&b, "t777 sqlite:again.db\n");
	memset(&t, 0, sizeof(t));
	CHECK(fleet_targets_parse(&t, b.ptr, b.len, "T") < 0);
	CHECK(strstr(cairn_error_last(), "T:50001: target 't777' is named twice (first on line "
		     "778)") != NULL);
	fleet_targets_release(&t);
	/* a shard keeps its index right */
	b.len = 0;
	for (i = 0; i < 1000; i++)
		buf_printf(&b, "%s sqlite:x.db\n", many_names[i]);
	memset(&t, 0, sizeof(t));
	CHECK(fleet_targets_parse(&t, b.ptr, b.len, "T") == 0);
	fleet_targets_shard(&t, 1, 3);
	CHECK(fleet_targets_add_line(&t, "t1 sqlite:y.db", "T", 9) < 0 ||
	      fleet_shard_of("t1", 3) != 1);
	CHECK(fleet_targets_add_line(&t, "t1000 sqlite:y.db", "T", 9) == 0);
	fleet_targets_release(&t);

	/* result lines: the last of a target wins, in the place of its first */
	b.len = 0;
	for (i = 0; i < MANY; i++)
		buf_printf(&b, "{\"target\":\"%s\",\"outcome\":\"failed\"}\n", many_names[i]);
	for (i = 0; i < MANY; i += 2)
		buf_printf(&b, "{\"target\":\"%s\",\"outcome\":\"applied\"}\n", many_names[i]);
	memset(&rs, 0, sizeof(rs));
	CHECK(fleet_results_parse(&rs, b.ptr, b.len, "R") == 0);
	CHECK(rs.n == MANY);
	for (i = 0, bad = 0; i < MANY; i++) {
		const struct fleet_result *r = fleet_results_find(&rs, many_names[i]);

		bad += !r || r != &rs.items[i] || fleet_outcome_ok(r->outcome) != !(i % 2);
	}
	CHECK(bad == 0);
	CHECK(fleet_results_find(&rs, "nobody") == NULL);
	fleet_results_release(&rs);
	buf_release(&b);
}

static void test_metrics(void)
{
	struct fleet_metrics m;
	struct buf b = BUF_INIT;

	memset(&m, 0, sizeof(m));
	m.env = "pr\"od";
	m.bundle = "sha256:ab";
	fleet_metrics_observe(&m, 40);
	fleet_metrics_observe(&m, 3000);
	fleet_metrics_outcome(&m, "applied");
	fleet_metrics_outcome(&m, "failed");
	fleet_metrics_outcome(&m, "stopped");
	fleet_metrics_format(&b, &m);
	CHECK(strstr(b.ptr, "outcome=\"stopped\"} 1\n") != NULL);
	CHECK(strstr(b.ptr, "outcome=\"waiting\"} 0\n") != NULL);
	CHECK(strstr(b.ptr, "outcome=\"failed\"} 1\n") != NULL);
	CHECK(strstr(b.ptr, "cairn_fleet_targets{env=\"pr\\\"od\",bundle=\"sha256:ab\",shard=\"\","
			    "outcome=\"applied\"} 1\n") != NULL);
	CHECK(strstr(b.ptr, "le=\"0.05\"} 1\n") != NULL);
	CHECK(strstr(b.ptr, "le=\"5\"} 2\n") != NULL);
	CHECK(strstr(b.ptr, "le=\"+Inf\"} 2\n") != NULL);
	CHECK(strstr(b.ptr, "_sum{env=\"pr\\\"od\",bundle=\"sha256:ab\",shard=\"\"} 3.040\n") != NULL);
	buf_release(&b);
}

/* Exits 7 and 8 are expected states, not failures (the fleet's exit follows). */
static void test_outcomes(void)
{
	CHECK(fleet_outcome_of_exit(0) == NULL);
	CHECK(!strcmp(fleet_outcome_of_exit(1), "failed"));
	CHECK(!strcmp(fleet_outcome_of_exit(7), "waiting"));
	CHECK(!strcmp(fleet_outcome_of_exit(8), "stopped"));
	CHECK(!strcmp(fleet_outcome_of_exit(130), "interrupted"));
	CHECK(!fleet_outcome_ok("waiting") && !fleet_outcome_ok("stopped"));
	CHECK(fleet_exit_code(0, 0, 0, 0) == 0);
	CHECK(fleet_exit_code(0, 0, 0, 2) == 8);
	CHECK(fleet_exit_code(0, 0, 1, 2) == 7);
	CHECK(fleet_exit_code(1, 0, 1, 2) == 1);
	CHECK(fleet_exit_code(0, 1, 0, 0) == 1);
}

int main(void)
{
	test_outcomes();
	test_targets();
	test_shard();
	test_results();
	test_index();
	test_metrics();
	return unit_done();
}
