/* A small SQL scan for the importer: where statements start and end, and
 * what their first words are. It knows quotes ('', "", E'', $tag$),
 * -- and nested block comments, and nothing of the grammar. It stands in
 * until the project's SQL analysis (project/sqlcheck.c, issue #16) can be
 * called from here. */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "import-int.h"

/* Skips white space and comments from i; returns the next offset. */
static size_t skip_blank(const char *s, size_t len, size_t i)
{
	while (i < len) {
		if (isspace((unsigned char)s[i])) {
			i++;
		} else if (s[i] == '-' && i + 1 < len && s[i + 1] == '-') {
			while (i < len && s[i] != '\n')
				i++;
		} else if (s[i] == '/' && i + 1 < len && s[i + 1] == '*') {
			int depth = 1;

			i += 2;
			while (i < len && depth) {
				if (s[i] == '/' && i + 1 < len && s[i + 1] == '*')
					depth++, i++;
				else if (s[i] == '*' && i + 1 < len && s[i + 1] == '/')
					depth--, i++;
				i++;
			}
		} else {
			break;
		}
	}
	return i;
}

/* A dollar-quote tag at s[i] ("$$", "$body$"): its length, or 0. */
static size_t dollar_tag(const char *s, size_t len, size_t i)
{
	size_t j = i + 1;

	if (i > 0 && (isalnum((unsigned char)s[i - 1]) || s[i - 1] == '_'))
		return 0;
	while (j < len && (isalnum((unsigned char)s[j]) || s[j] == '_'))
		j++;
	if (j < len && s[j] == '$' && !(j > i + 1 && isdigit((unsigned char)s[i + 1])))
		return j - i + 1;
	return 0;
}

/* A quoted string, identifier or dollar-quoted body at i: the offset just
 * past it; i itself when there is none. */
static size_t skip_quote(const char *s, size_t len, size_t i)
{
	size_t t;

	if (s[i] == '\'' || s[i] == '"') {
		char q = s[i];
		int esc = q == '\'' && i >= 1 && (s[i - 1] == 'E' || s[i - 1] == 'e');

		i++;
		while (i < len && s[i] != q) {
			if (esc && s[i] == '\\')
				i++;
			i++;
		}
		return i < len ? i + 1 : len;
	}
	if (s[i] == '$' && (t = dollar_tag(s, len, i))) {
		size_t j = i + t;

		while (j + t <= len && memcmp(s + j, s + i, t))
			j++;
		return j + t <= len ? j + t : len;
	}
	return i;
}

/* The end of the statement starting at i: the offset of its ';', or len. */
static size_t stmt_end(const char *s, size_t len, size_t i)
{
	while (i < len) {
		size_t q;

		if (s[i] == ';')
			return i;
		if ((s[i] == '-' && i + 1 < len && s[i + 1] == '-') ||
		    (s[i] == '/' && i + 1 < len && s[i + 1] == '*')) {
			i = skip_blank(s, len, i);
			continue;
		}
		q = skip_quote(s, len, i);
		i = q > i ? q : i + 1;
	}
	return len;
}

/* Is the statement at [a, b) made of exactly these words (case-insensitive,
 * blanks and comments between)? words is NULL-terminated; a word "?" is
 * optional and matches anything or nothing when last. */
static int stmt_is(const char *s, size_t a, size_t b, const char *const *words)
{
	size_t w;

	for (w = 0; words[w]; w++) {
		size_t l = strlen(words[w]), i = skip_blank(s, b, a);

		if (i >= b)
			return 0;
		if (i + l > b || strncasecmp(s + i, words[w], l) ||
		    (i + l < b && (isalnum((unsigned char)s[i + l]) || s[i + l] == '_')))
			return 0;
		a = i + l;
	}
	return skip_blank(s, b, a) >= b;
}

static int is_begin(const char *s, size_t a, size_t b)
{
	static const char *const f1[] = { "BEGIN", NULL };
	static const char *const f2[] = { "BEGIN", "TRANSACTION", NULL };
	static const char *const f3[] = { "BEGIN", "WORK", NULL };
	static const char *const f4[] = { "START", "TRANSACTION", NULL };
	static const char *const f5[] = { "BEGIN", "IMMEDIATE", NULL };
	static const char *const f6[] = { "BEGIN", "DEFERRED", NULL };
	static const char *const f7[] = { "BEGIN", "EXCLUSIVE", NULL };
	static const char *const f8[] = { "BEGIN", "IMMEDIATE", "TRANSACTION", NULL };

	return stmt_is(s, a, b, f1) || stmt_is(s, a, b, f2) || stmt_is(s, a, b, f3) ||
	       stmt_is(s, a, b, f4) || stmt_is(s, a, b, f5) || stmt_is(s, a, b, f6) ||
	       stmt_is(s, a, b, f7) || stmt_is(s, a, b, f8);
}

static int is_commit(const char *s, size_t a, size_t b)
{
	static const char *const f1[] = { "COMMIT", NULL };
	static const char *const f2[] = { "COMMIT", "TRANSACTION", NULL };
	static const char *const f3[] = { "COMMIT", "WORK", NULL };
	static const char *const f4[] = { "END", NULL };
	static const char *const f5[] = { "END", "TRANSACTION", NULL };

	return stmt_is(s, a, b, f1) || stmt_is(s, a, b, f2) || stmt_is(s, a, b, f3) ||
	       stmt_is(s, a, b, f4) || stmt_is(s, a, b, f5);
}

int sql_wrapped(const char *s, size_t len, size_t *begin_start, size_t *begin_end,
		size_t *commit_start, size_t *commit_end)
{
	size_t i = skip_blank(s, len, 0), first_a, first_b, last_a = 0, last_b = 0;
	int n = 0;

	if (i >= len)
		return 0;
	first_a = i;
	first_b = stmt_end(s, len, i);
	while (i < len) {
		size_t e = stmt_end(s, len, i);

		last_a = i;
		last_b = e;
		n++;
		i = skip_blank(s, len, e < len ? e + 1 : len);
	}
	if (n < 2 || !is_begin(s, first_a, first_b) || !is_commit(s, last_a, last_b))
		return 0;
	*begin_start = first_a;
	*begin_end = first_b < len ? first_b + 1 : len;
	*commit_start = last_a;
	*commit_end = last_b < len ? last_b + 1 : len;
	return 1;
}

const char *sql_notx_statement(const char *s, size_t len)
{
	static const char *const words[] = { "CONCURRENTLY", "VACUUM", NULL };
	size_t i = skip_blank(s, len, 0);

	while (i < len) {
		size_t e = stmt_end(s, len, i), j = i, w;

		/* a word of the statement outside quotes and comments */
		while (j < e) {
			j = skip_blank(s, e, j);
			if (j >= e)
				break;
			if (isalpha((unsigned char)s[j])) {
				size_t k = j;

				while (k < e && (isalnum((unsigned char)s[k]) || s[k] == '_'))
					k++;
				for (w = 0; words[w]; w++)
					if (k - j == strlen(words[w]) && !strncasecmp(s + j, words[w], k - j))
						return words[w];
				j = k;
			} else if (skip_quote(s, e, j) > j) {
				j = skip_quote(s, e, j);
			} else {
				j++;
			}
		}
		i = skip_blank(s, len, e < len ? e + 1 : len);
	}
	return NULL;
}

int sql_only_comments(const char *s, size_t len)
{
	return skip_blank(s, len, 0) >= len;
}
