/* cairn lint's findings and the five forms it prints them in (lint-report.c). */
#ifndef CAIRN_LINT_REPORT_H
#define CAIRN_LINT_REPORT_H

#include <stddef.h>

#include "../lib/buf.h"
#include "../lint/lint.h"

struct lint_rec {
	char *path;
	const char *src;      /* the file's text (owned by the report), or NULL */
	size_t src_len;
	int rule;             /* enum lint_rule_id */
	enum lint_level level;
	int line, col, stmt_line, stmt_end_line;
	char *msg;
};

struct lint_report {
	struct lint_rec *recs;
	size_t n, alloc;
	struct buf *texts;    /* the files read, kept for the source lines */
	size_t ntexts, texts_alloc;
	size_t errors, warnings, files;
};

enum lint_format { LF_TEXT, LF_JSON, LF_SARIF, LF_GITHUB, LF_GITLAB };

/* "text", "json", ... or -1. */
int lint_format_parse(const char *s);
/* Keeps text (moved: *text is emptied) and returns the report's copy. */
const struct buf *lint_report_keep(struct lint_report *r, struct buf *text);
void lint_report_add(struct lint_report *r, const char *path, const struct buf *text,
		     int rule, enum lint_level level, int line, int col, int stmt_line,
		     int stmt_end_line, const char *msg);
void lint_report_sort(struct lint_report *r);
/* color: ANSI colours in the text form. */
void lint_report_format(const struct lint_report *r, enum lint_format f, int color,
			struct buf *out);
void lint_report_release(struct lint_report *r);

#endif
