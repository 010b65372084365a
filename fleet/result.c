/* A fleet's result file: JSON lines written and read back (resume, merge). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/error.h"
#include "../lib/exitcodes.h"
#include "result.h"

int fleet_outcome_ok(const char *outcome)
{
	return outcome && (!strcmp(outcome, "applied") || !strcmp(outcome, "current"));
}

const char *fleet_outcome_of_exit(int exit)
{
	if (!exit)
		return NULL;
	if (exit == EXIT_CONTRACT)
		return "waiting";
	if (exit == EXIT_BUDGET)
		return "stopped";
	return exit > 128 ? "interrupted" : "failed";
}

void fleet_expected_counts(struct buf *out, size_t waiting, size_t stopped)
{
	if (waiting)
		buf_printf(out, "%zu waiting, ", waiting);
	if (stopped)
		buf_printf(out, "%zu stopped, ", stopped);
}

int fleet_exit_code(size_t failed, size_t not_started, size_t waiting, size_t stopped)
{
	if (failed || not_started)
		return EXIT_FAILED;
	if (waiting)
		return EXIT_CONTRACT;
	return stopped ? EXIT_BUDGET : EXIT_OK;
}

static void put_str(struct buf *out, const char *key, const char *v, int comma)
{
	buf_printf(out, "%s\"%s\":", comma ? "," : "", key);
	if (v)
		buf_put_json_string(out, v);
	else
		buf_puts(out, "null");
}

void fleet_result_format(struct buf *out, const struct fleet_result *r)
{
	buf_putc(out, '{');
	put_str(out, "target", r->target, 0);
	put_str(out, "dsn", r->dsn, 1);
	put_str(out, "from", r->from, 1);
	put_str(out, "to", r->to, 1);
	put_str(out, "outcome", r->outcome, 1);
	buf_printf(out, ",\"exit\":%d,\"duration_ms\":%lld", r->exit, r->duration_ms);
	put_str(out, "error", r->error, 1);
	put_str(out, "bundle", r->bundle, 1);
	put_str(out, "env", r->env, 1);
	put_str(out, "shard", r->shard, 1);
	put_str(out, "time", r->time, 1);
	buf_puts(out, "}\n");
}

void fleet_result_release(struct fleet_result *r)
{
	if (!r)
		return;
	free(r->target);
	free(r->dsn);
	free(r->from);
	free(r->to);
	free(r->outcome);
	free(r->error);
	free(r->bundle);
	free(r->env);
	free(r->shard);
	free(r->time);
	memset(r, 0, sizeof(*r));
}

void fleet_results_release(struct fleet_results *rs)
{
	size_t i;

	if (!rs)
		return;
	for (i = 0; i < rs->n; i++)
		fleet_result_release(&rs->items[i]);
	free(rs->items);
	fleet_index_release(&rs->by_target);
	memset(rs, 0, sizeof(*rs));
}

static const char *target_at(const void *ctx, size_t pos)
{
	return ((const struct fleet_results *)ctx)->items[pos].target;
}

const struct fleet_result *fleet_results_find(const struct fleet_results *rs, const char *target)
{
	size_t i = fleet_index_find(&rs->by_target, target, target_at, rs);

	return i == (size_t)-1 ? NULL : &rs->items[i];
}

/* ------------------------------------------------------------------ */
/* Reading: a flat object of strings, integers and nulls, as written above. */

struct jscan {
	const char *p, *end;
};

static void skip_ws(struct jscan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\r'))
		s->p++;
}

static void put_utf8(struct buf *b, unsigned cp)
{
	if (cp < 0x80) {
		buf_putc(b, (char)cp);
	} else if (cp < 0x800) {
		buf_putc(b, (char)(0xc0 | (cp >> 6)));
		buf_putc(b, (char)(0x80 | (cp & 0x3f)));
	} else {
		buf_putc(b, (char)(0xe0 | (cp >> 12)));
		buf_putc(b, (char)(0x80 | ((cp >> 6) & 0x3f)));
		buf_putc(b, (char)(0x80 | (cp & 0x3f)));
	}
}

/* A JSON string at s->p (its opening quote); malloc'ed into *out. */
static int read_string(struct jscan *s, char **out)
{
	struct buf b = BUF_INIT;

	if (s->p >= s->end || *s->p != '"')
		return -1;
	for (s->p++; s->p < s->end && *s->p != '"'; s->p++) {
		unsigned char c = (unsigned char)*s->p;

		if (c < 0x20)
			goto bad;
		if (c != '\\') {
			buf_putc(&b, (char)c);
			continue;
		}
		if (++s->p >= s->end)
			goto bad;
		switch (*s->p) {
		case '"': case '\\': case '/': buf_putc(&b, *s->p); break;
		case 'n': buf_putc(&b, '\n'); break;
		case 't': buf_putc(&b, '\t'); break;
		case 'r': buf_putc(&b, '\r'); break;
		case 'b': buf_putc(&b, '\b'); break;
		case 'f': buf_putc(&b, '\f'); break;
		case 'u': {
			unsigned cp = 0;
			int i;

			for (i = 0; i < 4; i++) {
				if (++s->p >= s->end || !isxdigit((unsigned char)*s->p))
					goto bad;
				cp = cp * 16 + (unsigned)(isdigit((unsigned char)*s->p)
					? *s->p - '0' : (tolower((unsigned char)*s->p) - 'a' + 10));
			}
			if (!cp)
				goto bad;
			put_utf8(&b, cp);
			break;
		}
		default:
			goto bad;
		}
	}
	if (s->p >= s->end)
		goto bad;
	s->p++;
	*out = buf_detach(&b, NULL);
	if (!*out)
		*out = xstrdup("");
	return 0;
bad:
	buf_release(&b);
	return -1;
}

static char **field_slot(struct fleet_result *r, const char *key)
{
	static const char *const names[] = { "target", "dsn", "from", "to", "outcome", "error",
					     "bundle", "env", "shard", "time" };
	char **slots[] = { &r->target, &r->dsn, &r->from, &r->to, &r->outcome, &r->error,
			   &r->bundle, &r->env, &r->shard, &r->time };
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(names[i], key))
			return slots[i];
	return NULL;
}

static int read_value(struct jscan *s, struct fleet_result *r, const char *key)
{
	char **slot = field_slot(r, key);
	char *str = NULL;

	if (s->end - s->p >= 4 && !memcmp(s->p, "null", 4)) {
		s->p += 4;
		return 0;
	}
	if (*s->p == '"') {
		if (read_string(s, &str) < 0)
			return -1;
		if (slot) {
			free(*slot);
			*slot = str;
		} else {
			free(str);
		}
		return 0;
	}
	if (*s->p == '-' || isdigit((unsigned char)*s->p)) {
		char *end;
		char num[32];
		size_t n = 0;
		long long v;

		while (s->p < s->end && n < sizeof(num) - 1 &&
		       (*s->p == '-' || isdigit((unsigned char)*s->p)))
			num[n++] = *s->p++;
		num[n] = '\0';
		v = strtoll(num, &end, 10);
		if (*end)
			return -1;
		if (!strcmp(key, "exit"))
			r->exit = (int)v;
		else if (!strcmp(key, "duration_ms"))
			r->duration_ms = v;
		return 0;
	}
	return -1;
}

static int parse_line(struct fleet_result *r, const char *p, const char *end)
{
	struct jscan s = { p, end };

	skip_ws(&s);
	if (s.p >= s.end || *s.p++ != '{')
		return -1;
	skip_ws(&s);
	if (s.p < s.end && *s.p == '}')
		return s.p++, 0;
	for (;;) {
		char *key = NULL;
		int rc;

		skip_ws(&s);
		if (read_string(&s, &key) < 0)
			return -1;
		skip_ws(&s);
		if (s.p >= s.end || *s.p++ != ':') {
			free(key);
			return -1;
		}
		skip_ws(&s);
		rc = s.p < s.end ? read_value(&s, r, key) : -1;
		free(key);
		if (rc < 0)
			return -1;
		skip_ws(&s);
		if (s.p < s.end && *s.p == ',') {
			s.p++;
			continue;
		}
		if (s.p < s.end && *s.p == '}') {
			s.p++;
			skip_ws(&s);
			return s.p == s.end ? 0 : -1;
		}
		return -1;
	}
}

int fleet_results_parse(struct fleet_results *rs, const char *data, size_t len,
			const char *origin)
{
	size_t off = 0;
	int line = 0;

	while (off < len) {
		const char *p = data + off, *nl = memchr(p, '\n', len - off);
		const char *end = nl ? nl : data + len;
		struct fleet_result r;
		size_t i;

		line++;
		off = (size_t)(end - data) + (nl ? 1 : 0);
		while (p < end && (*p == ' ' || *p == '\t' || *p == '\r'))
			p++;
		if (p == end)
			continue;
		memset(&r, 0, sizeof(r));
		if (parse_line(&r, p, end) < 0 || !r.target || !r.outcome) {
			fleet_result_release(&r);
			cairn_error_set("%s:%d: not a fleet result line (a JSON object with target "
					"and outcome)", origin, line);
			return -1;
		}
		i = fleet_index_find(&rs->by_target, r.target, target_at, rs);
		if (i != (size_t)-1) {
			fleet_result_release(&rs->items[i]);
			rs->items[i] = r;
			continue;
		}
		if (rs->n == rs->alloc) {
			rs->alloc = rs->alloc ? 2 * rs->alloc : 64;
			rs->items = xrealloc(rs->items, rs->alloc * sizeof(*rs->items));
		}
		fleet_index_add(&rs->by_target, r.target, rs->n);
		rs->items[rs->n++] = r;
	}
	return 0;
}
