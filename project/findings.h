/* Findings of the checker, compiler-style: every one is collected before
 * the command fails, then printed as "path:line: error: rule-id: message"
 * or as JSON. */
#ifndef CAIRN_FINDINGS_H
#define CAIRN_FINDINGS_H

#include <stddef.h>

#include "../lib/buf.h"

enum severity { SEV_ERROR, SEV_WARNING };

struct finding {
	char *path; /* relative to the project root */
	int line;   /* 0 when the finding is about a file or directory as a whole */
	int col;
	enum severity sev;
	const char *rule; /* static string: the rule id */
	char *msg;
};

struct findings {
	struct finding *items;
	size_t n, alloc;
	size_t errors, warnings;
};

#define FINDINGS_INIT { NULL, 0, 0, 0, 0 }

void findings_add(struct findings *f, enum severity sev, const char *path, int line,
		  int col, const char *rule, const char *fmt, ...)
	__attribute__((format(printf, 7, 8)));
void findings_release(struct findings *f);
/* Stable sort by path, then line. */
void findings_sort(struct findings *f);
int findings_format_text(const struct findings *f, struct buf *out);
int findings_format_json(const struct findings *f, const char *extra_json, struct buf *out);
int findings_has_rule(const struct findings *f, const char *rule);

#endif
