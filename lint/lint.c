/* The linter's frame (lint.h): the rule table and its levels, the parse,
 * statement positions turned into lines and columns, and the waivers. The
 * checks themselves are in rules.c. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/error.h"
#include "../lib/util.h"
#include "lint-int.h"

const char *lint_level_name(enum lint_level l)
{
	return l == LINT_ERROR ? "error" : l == LINT_WARNING ? "warning" : "off";
}

void lint_config_init(struct lint_config *c)
{
	int i;

	memset(c, 0, sizeof(*c));
	for (i = 0; i < LINT_NRULES; i++)
		c->level[i] = (unsigned char)lint_rules[i].level;
}

int lint_config_set(struct lint_config *c, const char *rule, const char *level)
{
	enum lint_level l;
	int i;

	if (!strcmp(level, "error"))
		l = LINT_ERROR;
	else if (!strcmp(level, "warning"))
		l = LINT_WARNING;
	else if (!strcmp(level, "off"))
		l = LINT_OFF;
	else
		return -1;
	if (!strcmp(rule, "all")) {
		for (i = 0; i < LINT_NRULES; i++)
			c->level[i] = (unsigned char)l;
		return 0;
	}
	i = lint_rule_find(rule);
	if (i < 0)
		return -1;
	c->level[i] = (unsigned char)l;
	return 0;
}

enum lint_level lint_level_of(const struct lint_state *s, int rule)
{
	return s->in->cfg ? (enum lint_level)s->in->cfg->level[rule] : lint_rules[rule].level;
}

void lint_result_release(struct lint_result *r)
{
	size_t i;

	if (!r)
		return;
	for (i = 0; i < r->n; i++)
		free(r->items[i].msg);
	free(r->items);
	for (i = 0; i < r->nwaived; i++)
		free(r->waived[i].reason);
	free(r->waived);
	memset(r, 0, sizeof(*r));
}

/* The first token at or after i: past white space, -- comments and
 * (nested, as PostgreSQL has them) block comments. */
static size_t first_token(const char *s, size_t len, size_t i)
{
	int depth = 0;

	for (; i < len; i++) {
		if (depth) {
			if (s[i] == '*' && i + 1 < len && s[i + 1] == '/')
				depth--, i++;
			else if (s[i] == '/' && i + 1 < len && s[i + 1] == '*')
				depth++, i++;
		} else if (s[i] == '/' && i + 1 < len && s[i + 1] == '*') {
			depth = 1, i++;
		} else if (s[i] == '-' && i + 1 < len && s[i + 1] == '-') {
			while (i + 1 < len && s[i + 1] != '\n')
				i++;
		} else if (!isspace((unsigned char)s[i])) {
			break;
		}
	}
	return i;
}

/* 1-based line and byte column of offset off, counted on from the last
 * position asked for when off lies after it. */
static void position(struct lint_state *s, size_t off, int *line, int *col)
{
	size_t i;

	if (off > s->len)
		off = s->len;
	if (!s->pos_line) {
		s->pos_off = s->pos_bol = 0;
		s->pos_line = 1;
	}
	if (off < s->pos_off) {
		/* back to off: a finding at the statement's start after one
		 * inside it; only the lines in between are counted again */
		for (i = s->pos_off; i > off; i--)
			if (s->text[i - 1] == '\n')
				s->pos_line--;
		for (s->pos_bol = off; s->pos_bol > 0 && s->text[s->pos_bol - 1] != '\n'; s->pos_bol--)
			;
		s->pos_off = off;
	}
	for (i = s->pos_off; i < off; i++)
		if (s->text[i] == '\n')
			s->pos_line++, s->pos_bol = i + 1;
	s->pos_off = off;
	*line = s->pos_line;
	*col = (int)(off - s->pos_bol) + 1;
}

static void add_finding(struct lint_state *s, int rule, enum lint_level level, size_t off,
			char *msg)
{
	struct lint_finding *f;

	ALLOC_GROW(s->out->items, s->out->n + 1, s->out->alloc);
	f = &s->out->items[s->out->n++];
	f->rule = rule;
	f->level = level;
	position(s, off, &f->line, &f->col);
	f->stmt_line = s->stmt_line;
	f->stmt_end_line = s->stmt_end_line;
	f->msg = msg;
	if (level == LINT_ERROR)
		s->out->errors++;
	else
		s->out->warnings++;
}

const char *lint_via_name(enum lint_via v)
{
	return v == LINT_VIA_COMMENT ? "comment" : v == LINT_VIA_ALLOW ? "allow" : "destructive";
}

/* A finding at off that a waiver kept quiet, for the manifest. */
static void add_waived(struct lint_state *s, int rule, size_t off, enum lint_via via,
		       const struct lint_waiver *w)
{
	struct lint_waived *x;
	int col;

	ALLOC_GROW(s->out->waived, s->out->nwaived + 1, s->out->waived_alloc);
	x = &s->out->waived[s->out->nwaived++];
	x->rule = rule;
	position(s, off, &x->line, &col);
	x->via = via;
	x->reason = w && w->reason_len ? xstrndup(s->text + w->reason_off, w->reason_len) : NULL;
	for (col = 0; x->reason && x->reason[col]; col++)
		if ((unsigned char)x->reason[col] < 0x20 || x->reason[col] == 0x7f)
			x->reason[col] = ' '; /* one printable line, as the manifest wants it */
}

/* A waiver for rule: a cairn:allow comment before the statement, else
 * migration.yaml's allow list (or what destructive: true acknowledges).
 * Marks it used and records the waived finding at off. */
static int waived(struct lint_state *s, int rule, size_t off)
{
	size_t i;

	if (rule == LR_CONTRACT_ONLY)
		return 0; /* the applier's gate reads the phase: no waiver */
	for (i = 0; i < s->nwaivers; i++)
		if (s->waivers[i].rule == rule) {
			s->waivers[i].used = 1;
			add_waived(s, rule, off, LINT_VIA_COMMENT, &s->waivers[i]);
			return 1;
		}
	for (i = 0; i < s->in->nallow; i++)
		if (!strcmp(s->in->allow[i], lint_rules[rule].id)) {
			if (s->in->allow_used)
				s->in->allow_used[i] = 1;
			add_waived(s, rule, off,
				   i + s->in->nallow_destructive >= s->in->nallow ? LINT_VIA_DESTRUCTIVE
										 : LINT_VIA_ALLOW,
				   NULL);
			return 1;
		}
	return 0;
}

void lint_report(struct lint_state *s, int rule, int loc, const char *fmt, ...)
{
	enum lint_level level = lint_level_of(s, rule);
	va_list ap;
	char *msg;
	int n;

	if (level == LINT_OFF || waived(s, rule, loc >= 0 ? (size_t)loc : s->stmt_start))
		return;
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	msg = xmalloc(n < 0 ? 1 : (size_t)n + 1);
	va_start(ap, fmt);
	(void)vsnprintf(msg, n < 0 ? 1 : (size_t)n + 1, fmt, ap);
	va_end(ap);
	add_finding(s, rule, level, loc >= 0 ? (size_t)loc : s->stmt_start, msg);
}

static int same_name(const char *a, const char *b)
{
	return a && b && !strcmp(a, b);
}

int lint_names_has(char *const *names, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (same_name(names[i], name))
			return 1;
	return 0;
}

int lint_is_new_table(const struct lint_state *s, const PgQuery__RangeVar *rv)
{
	return rv && rv->relname && lint_names_has(s->created, s->ncreated, rv->relname);
}

void lint_add_created(struct lint_state *s, const PgQuery__RangeVar *rv)
{
	if (!rv || !rv->relname || lint_is_new_table(s, rv))
		return;
	ALLOC_GROW(s->created, s->ncreated + 1, s->created_alloc);
	s->created[s->ncreated++] = xstrdup(rv->relname);
}

/* The cairn:allow comments in text[from, to): the comments before a
 * statement. "-- cairn:allow RULE reason", one per line. */
static void read_waivers(struct lint_state *s, size_t from, size_t to)
{
	static const char tag[] = "cairn:allow";
	size_t i = from;

	s->nwaivers = 0;
	while (i + 1 < to) {
		size_t p, e;
		struct lint_waiver *w;

		if (s->text[i] != '-' || s->text[i + 1] != '-') {
			i++;
			continue;
		}
		for (e = i; e < to && s->text[e] != '\n'; e++)
			;
		p = i + 2;
		while (p < e && (s->text[p] == ' ' || s->text[p] == '\t'))
			p++;
		if (e - p > sizeof(tag) - 1 && !memcmp(s->text + p, tag, sizeof(tag) - 1) &&
		    isspace((unsigned char)s->text[p + sizeof(tag) - 1])) {
			size_t q, n;
			int col;

			p += sizeof(tag) - 1;
			while (p < e && isspace((unsigned char)s->text[p]))
				p++;
			for (q = p; q < e && !isspace((unsigned char)s->text[q]); q++)
				;
			n = q - p < sizeof(w->name) - 1 ? q - p : sizeof(w->name) - 1;
			ALLOC_GROW(s->waivers, s->nwaivers + 1, s->waivers_alloc);
			w = &s->waivers[s->nwaivers++];
			memcpy(w->name, s->text + p, n);
			w->name[n] = '\0';
			w->rule = lint_rule_find(w->name);
			w->used = 0;
			/* the reason: the rest of the line, trimmed, at most 500 bytes */
			for (p = q; p < e && isspace((unsigned char)s->text[p]); p++)
				;
			for (n = e; n > p && isspace((unsigned char)s->text[n - 1]); n--)
				;
			w->reason_off = p;
			w->reason_len = n - p > 500 ? 500 : n - p;
			position(s, i, &w->line, &col);
		}
		i = e;
	}
}

static void unused_waivers(struct lint_state *s)
{
	size_t i;

	for (i = 0; i < s->nwaivers; i++) {
		struct lint_waiver *w = &s->waivers[i];
		enum lint_level level = lint_level_of(s, LR_UNUSED_WAIVER);
		size_t off = 0;
		int l = 1;

		if (w->used || level == LINT_OFF)
			continue;
		/* the other dialect's rule: the other linter says if it is unused */
		if (w->rule >= 0 && w->rule != LR_UNUSED_WAIVER &&
		    (w->rule >= LR_SQLITE_SYNTAX) != !!s->sqlite)
			continue;
		while (l < w->line && off < s->len)
			if (s->text[off++] == '\n')
				l++;
		if (w->rule < 0)
			add_finding(s, LR_UNUSED_WAIVER, level, off,
				    xasprintf("cairn:allow names '%s', which is not a lint rule (see docs/lint.md); correct the rule id or delete the comment",
					      w->name));
		else
			add_finding(s, LR_UNUSED_WAIVER, level, off,
				    xasprintf("cairn:allow %s waives nothing in the statement below it; delete the comment so it cannot hide a later one",
					      w->name));
	}
	s->nwaivers = 0;
}

static void syntax_finding(struct lint_state *s, const PgQueryError *e)
{
	size_t off = e->cursorpos > 0 ? (size_t)e->cursorpos - 1 : 0;

	s->stmt_start = 0;
	position(s, off, &s->stmt_line, &s->stmt_end_line);
	s->stmt_end_line = s->stmt_line;
	lint_report(s, LR_SYNTAX, (int)off,
		    "PostgreSQL's parser refuses the script: %s; the server would refuse it too (a SQLite-only script belongs in up.sqlite.sql)",
		    e->message ? e->message : "syntax error");
}

/* Names over 63 bytes in text[from, to). The parse tree cannot tell: the
 * parser has already cut them to 63 bytes, as the server will. */
static void long_identifiers(struct lint_state *s, size_t from, size_t to)
{
	const PgQuery__ScanResult *t = s->tokens;

	for (; t && s->next_token < t->n_tokens; s->next_token++) {
		const PgQuery__ScanToken *k = t->tokens[s->next_token];
		size_t a = (size_t)k->start, b = (size_t)k->end;

		if (a >= to)
			break;
		if (a < from || k->token != PG_QUERY__TOKEN__IDENT || b > s->len || b < a)
			continue;
		if (s->text[a] == '"' && b - a >= 2)
			a++, b--;
		if (b - a > 63)
			lint_report(s, LR_IDENTIFIER_TOO_LONG, (int)k->start,
				    "'%.20s...' is %zu bytes long: PostgreSQL cuts names to 63 bytes without an error, so the object gets another name than the migration says; shorten it",
				    s->text + a, b - a);
	}
}

void lint_stmt_begin(struct lint_state *s, size_t loc, size_t end)
{
	int col;

	s->stmt_start = first_token(s->text, end, loc);
	position(s, s->stmt_start, &s->stmt_line, &col);
	position(s, end > s->stmt_start ? end - 1 : end, &s->stmt_end_line, &col);
	read_waivers(s, loc, s->stmt_start);
	s->out->statements++;
}

void lint_stmt_end(struct lint_state *s)
{
	unused_waivers(s);
}

static void lint_statements(struct lint_state *s, const PgQuery__ParseResult *tree)
{
	size_t i;

	for (i = 0; i < tree->n_stmts; i++) {
		const PgQuery__RawStmt *raw = tree->stmts[i];
		size_t loc = raw->stmt_location > 0 ? (size_t)raw->stmt_location : 0;
		size_t end = raw->stmt_len > 0 ? loc + (size_t)raw->stmt_len : s->len;

		if (loc > s->len || !raw->stmt)
			continue;
		if (end > s->len)
			end = s->len;
		lint_stmt_begin(s, loc, end);
		long_identifiers(s, s->stmt_start, end);
		lint_rules_stmt(s, raw->stmt);
		lint_phase_stmt(s, raw->stmt);
		lint_stmt_end(s);
	}
	lint_rules_end(s);
}

void lint_pg(struct lint_result *out, const struct lint_input *in)
{
	struct lint_state s;
	PgQueryProtobufParseResult r;
	PgQuery__ParseResult *tree = NULL;
	PgQueryScanResult scan;
	char *text = xmalloc(in->len + 1);
	size_t i;

	memcpy(text, in->sql, in->len);
	text[in->len] = '\0';
	memset(&s, 0, sizeof(s));
	s.in = in;
	s.out = out;
	s.text = text;
	/* the parser stops at a NUL; the checker reports NUL bytes itself */
	s.len = strlen(text);
	r = pg_query_parse_protobuf(text);
	if (r.error) {
		syntax_finding(&s, r.error);
		goto out;
	}
	tree = pg_query__parse_result__unpack(NULL, r.parse_tree.len,
					      (const uint8_t *)r.parse_tree.data);
	if (!tree)
		goto out;
	scan = pg_query_scan(text);
	if (!scan.error)
		s.tokens = pg_query__scan_result__unpack(NULL, scan.pbuf.len,
							 (const uint8_t *)scan.pbuf.data);
	lint_statements(&s, tree);
	if (s.tokens)
		pg_query__scan_result__free_unpacked(s.tokens, NULL);
	pg_query_free_scan_result(scan);
out:
	if (tree)
		pg_query__parse_result__free_unpacked(tree, NULL);
	pg_query_free_protobuf_parse_result(r);
	for (i = 0; i < s.ncreated; i++)
		free(s.created[i]);
	free(s.created);
	for (i = 0; i < s.nnot_valid; i++)
		free(s.not_valid[i]);
	free(s.not_valid);
	for (i = 0; i < s.nnn_checks; i++)
		free(s.nn_checks[i]);
	free(s.nn_checks);
	for (i = 0; i < s.nnn_proved; i++)
		free(s.nn_proved[i]);
	free(s.nn_proved);
	free(s.waivers);
	free(text);
}
