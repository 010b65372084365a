/* cairn lint's output: text (compiler style, with the source line and a
 * caret), json, sarif (2.1.0), github (workflow commands) and gitlab (Code
 * Quality). */
#include <stdlib.h>
#include <string.h>

#include "../lib/error.h"
#include "../lib/sha256.h"
#include "lint-report.h"

static const char *const format_names[] = { "text", "json", "sarif", "github", "gitlab", NULL };

int lint_format_parse(const char *s)
{
	int i;

	for (i = 0; format_names[i]; i++)
		if (!strcmp(s, format_names[i]))
			return i;
	return -1;
}

const struct buf *lint_report_keep(struct lint_report *r, struct buf *text)
{
	ALLOC_GROW(r->texts, r->ntexts + 1, r->texts_alloc);
	r->texts[r->ntexts] = *text;
	memset(text, 0, sizeof(*text));
	return &r->texts[r->ntexts++];
}

void lint_report_add(struct lint_report *r, const char *path, const struct buf *text,
		     int rule, enum lint_level level, int line, int col, int stmt_line,
		     int stmt_end_line, const char *msg)
{
	struct lint_rec *x;

	ALLOC_GROW(r->recs, r->n + 1, r->alloc);
	x = &r->recs[r->n++];
	x->path = xstrdup(path);
	x->src = text ? text->ptr : NULL;
	x->src_len = text ? text->len : 0;
	x->rule = rule;
	x->level = level;
	x->line = line;
	x->col = col;
	x->stmt_line = stmt_line;
	x->stmt_end_line = stmt_end_line;
	x->msg = xstrdup(msg);
	if (level == LINT_ERROR)
		r->errors++;
	else
		r->warnings++;
}

static int rec_cmp(const void *a, const void *b)
{
	const struct lint_rec *x = a, *y = b;
	int c = strcmp(x->path, y->path);

	if (c)
		return c;
	if (x->line != y->line)
		return x->line - y->line;
	if (x->col != y->col)
		return x->col - y->col;
	return x->rule - y->rule;
}

void lint_report_sort(struct lint_report *r)
{
	if (r->n)
		qsort(r->recs, r->n, sizeof(*r->recs), rec_cmp);
}

void lint_report_release(struct lint_report *r)
{
	size_t i;

	if (!r)
		return;
	for (i = 0; i < r->n; i++) {
		free(r->recs[i].path);
		free(r->recs[i].msg);
	}
	for (i = 0; i < r->ntexts; i++)
		buf_release(&r->texts[i]);
	free(r->recs);
	free(r->texts);
	memset(r, 0, sizeof(*r));
}

/* The text of line (1-based) in src, without its newline. */
static const char *source_line(const struct lint_rec *x, size_t *len)
{
	size_t i = 0;
	int l = 1;

	if (!x->src || x->line < 1)
		return NULL;
	while (i < x->src_len && l < x->line)
		if (x->src[i++] == '\n')
			l++;
	if (l != x->line)
		return NULL;
	*len = 0;
	while (i + *len < x->src_len && x->src[i + *len] != '\n' && x->src[i + *len] != '\r')
		(*len)++;
	return x->src + i;
}

static void format_text(const struct lint_report *r, int color, struct buf *out)
{
	const char *bold = color ? "\033[1m" : "", *reset = color ? "\033[0m" : "";
	const char *green = color ? "\033[1;32m" : "";
	size_t i, k;

	for (i = 0; i < r->n; i++) {
		const struct lint_rec *x = &r->recs[i];
		const char *sev = x->level == LINT_ERROR ? (color ? "\033[1;31m" : "")
							 : (color ? "\033[1;35m" : "");
		const char *line;
		size_t len;

		buf_printf(out, "%s%s:%d:%d:%s %s%s:%s %s: %s\n", bold, x->path, x->line, x->col,
			   reset, sev, lint_level_name(x->level), reset, lint_rules[x->rule].id, x->msg);
		line = source_line(x, &len);
		if (!line)
			continue;
		buf_printf(out, "%5d | %.*s\n      | ", x->line, (int)len, line);
		/* the caret under the column; tabs kept so it lines up */
		for (k = 0; k + 1 < (size_t)x->col && k < len; k++)
			buf_putc(out, line[k] == '\t' ? '\t' : ' ');
		buf_printf(out, "%s^%s\n", green, reset);
	}
}

static void format_json(const struct lint_report *r, struct buf *out)
{
	size_t i;

	buf_printf(out, "{\"errors\":%zu,\"warnings\":%zu,\"files\":%zu,\"findings\":[", r->errors,
		   r->warnings, r->files);
	for (i = 0; i < r->n; i++) {
		const struct lint_rec *x = &r->recs[i];

		buf_puts(out, i ? ",{\"path\":" : "{\"path\":");
		buf_put_json_string(out, x->path);
		buf_printf(out, ",\"line\":%d,\"column\":%d,\"statement\":{\"line\":%d,\"end_line\":%d},\"severity\":\"%s\",\"rule\":",
			   x->line, x->col, x->stmt_line, x->stmt_end_line, lint_level_name(x->level));
		buf_put_json_string(out, lint_rules[x->rule].id);
		buf_puts(out, ",\"squawk\":");
		if (lint_rules[x->rule].squawk)
			buf_put_json_string(out, lint_rules[x->rule].squawk);
		else
			buf_puts(out, "null");
		buf_puts(out, ",\"message\":");
		buf_put_json_string(out, x->msg);
		buf_putc(out, '}');
	}
	buf_puts(out, "]}\n");
}

/* A workflow command's data: %, CR and LF escaped; in a property , and : too. */
static void github_escape(struct buf *out, const char *s, int property)
{
	for (; *s; s++) {
		if (*s == '%')
			buf_puts(out, "%25");
		else if (*s == '\r')
			buf_puts(out, "%0D");
		else if (*s == '\n')
			buf_puts(out, "%0A");
		else if (property && *s == ':')
			buf_puts(out, "%3A");
		else if (property && *s == ',')
			buf_puts(out, "%2C");
		else
			buf_putc(out, *s);
	}
}

static void format_github(const struct lint_report *r, struct buf *out)
{
	size_t i;

	for (i = 0; i < r->n; i++) {
		const struct lint_rec *x = &r->recs[i];

		buf_printf(out, "::%s file=", x->level == LINT_ERROR ? "error" : "warning");
		github_escape(out, x->path, 1);
		buf_printf(out, ",line=%d,col=%d,title=", x->line, x->col);
		github_escape(out, lint_rules[x->rule].id, 1);
		buf_puts(out, "::");
		github_escape(out, x->msg, 0);
		buf_putc(out, '\n');
	}
}

static void format_gitlab(const struct lint_report *r, struct buf *out)
{
	size_t i;

	buf_putc(out, '[');
	for (i = 0; i < r->n; i++) {
		const struct lint_rec *x = &r->recs[i];
		struct sha256_ctx c;
		char hex[SHA256_HEX_LEN + 1], *key;

		/* the same finding keeps its fingerprint when lines move */
		key = xasprintf("%s\n%s\n%s", x->path, lint_rules[x->rule].id, x->msg);
		if (sha256_init(&c) < 0 || sha256_update(&c, key, strlen(key)) < 0 ||
		    sha256_final_hex(&c, hex) < 0)
			hex[0] = '\0';
		free(key);
		buf_puts(out, i ? ",{\"description\":" : "{\"description\":");
		buf_put_json_string(out, x->msg);
		buf_puts(out, ",\"check_name\":");
		buf_put_json_string(out, lint_rules[x->rule].id);
		buf_printf(out, ",\"fingerprint\":\"%s\",\"severity\":\"%s\",\"location\":{\"path\":",
			   hex, x->level == LINT_ERROR ? "major" : "minor");
		buf_put_json_string(out, x->path);
		buf_printf(out, ",\"lines\":{\"begin\":%d}}}", x->line);
	}
	buf_puts(out, "]\n");
}

/* A path as SARIF's artifactLocation.uri, a URI reference (RFC 3986):
 * bytes other than unreserved ones and '/' percent-encoded (a space, '%',
 * '#' or '?' in a path would otherwise change what it names, and code
 * scanning would not find the file), relative paths left relative (code
 * scanning reads them from the repository's root), an absolute one as a
 * file:// URI. */
static void sarif_uri(struct buf *out, const char *path)
{
	static const char hex[] = "0123456789ABCDEF";
	struct buf u = BUF_INIT;
	const unsigned char *p;

	if (path[0] == '/')
		buf_puts(&u, "file://");
	for (p = (const unsigned char *)path; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		    *p == '-' || *p == '.' || *p == '_' || *p == '~' || *p == '/')
			buf_putc(&u, (char)*p);
		else
			buf_printf(&u, "%%%c%c", hex[*p >> 4], hex[*p & 15]);
	}
	buf_put_json_string(out, buf_cstr(&u));
	buf_release(&u);
}

static void format_sarif(const struct lint_report *r, struct buf *out)
{
	size_t i;

	buf_puts(out, "{\"$schema\":\"https://json.schemastore.org/sarif-2.1.0.json\",\"version\":\"2.1.0\",\"runs\":[{\"tool\":{\"driver\":{\"name\":\"cairn\",\"version\":\"" CAIRN_VERSION "\",\"rules\":[");
	for (i = 0; i < LINT_NRULES; i++) {
		buf_puts(out, i ? ",{\"id\":" : "{\"id\":");
		buf_put_json_string(out, lint_rules[i].id);
		buf_puts(out, ",\"shortDescription\":{\"text\":");
		buf_put_json_string(out, lint_rules[i].what);
		buf_printf(out, "},\"defaultConfiguration\":{\"level\":\"%s\"}}",
			   lint_rules[i].level == LINT_ERROR ? "error"
			   : lint_rules[i].level == LINT_WARNING ? "warning" : "none");
	}
	buf_puts(out, "]}},\"results\":[");
	for (i = 0; i < r->n; i++) {
		const struct lint_rec *x = &r->recs[i];

		buf_puts(out, i ? ",{\"ruleId\":" : "{\"ruleId\":");
		buf_put_json_string(out, lint_rules[x->rule].id);
		buf_printf(out, ",\"ruleIndex\":%d,\"level\":\"%s\",\"message\":{\"text\":", x->rule,
			   x->level == LINT_ERROR ? "error" : "warning");
		buf_put_json_string(out, x->msg);
		buf_puts(out, "},\"locations\":[{\"physicalLocation\":{\"artifactLocation\":{\"uri\":");
		sarif_uri(out, x->path);
		buf_printf(out, "},\"region\":{\"startLine\":%d,\"startColumn\":%d}}}]}",
			   x->line > 0 ? x->line : 1, x->col > 0 ? x->col : 1);
	}
	buf_puts(out, "]}]}\n");
}

void lint_report_format(const struct lint_report *r, enum lint_format f, int color,
			struct buf *out)
{
	switch (f) {
	case LF_TEXT:
		format_text(r, color, out);
		break;
	case LF_JSON:
		format_json(r, out);
		break;
	case LF_SARIF:
		format_sarif(r, out);
		break;
	case LF_GITHUB:
		format_github(r, out);
		break;
	case LF_GITLAB:
		format_gitlab(r, out);
		break;
	}
}
