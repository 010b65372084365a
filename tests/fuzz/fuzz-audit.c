/* Fuzz target: what the applier reads back from a database someone else may
 * have written to. The input is split into bookkeeping and audit rows
 * (fields separated by '|', rows by newlines, the two tables by a line
 * "--"), then planned against a small migration set and run through the
 * audit chain check: neither may crash, leak or read out of bounds on any
 * contents of cairn_migrations or cairn_audit. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../apply/engine.h"
#include "../../lib/error.h"
#include "../../lib/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *field(char **p)
{
	char *s = *p, *bar;

	if (!s)
		return xstrdup("");
	bar = strchr(s, '|');
	if (bar) {
		*bar = '\0';
		*p = bar + 1;
	} else {
		*p = NULL;
	}
	return xstrdup(s);
}

static long long num(char **p)
{
	char *s = field(p);
	long long v = strtoll(s, NULL, 10);

	free(s);
	return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = xstrndup((const char *)data, size), *line, *next;
	struct bk_row *bk = NULL;
	struct audit_row *au = NULL;
	size_t nbk = 0, nau = 0, i, np;
	int audit = 0;
	struct apply_set set;
	struct plan plan;
	struct audit_problem *pr = NULL;

	for (line = text; line; line = next) {
		char *p = line;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (!*line)
			continue;
		if (!strcmp(line, "--")) {
			audit = 1;
			continue;
		}
		if (!audit && nbk < 64) {
			struct bk_row *r;

			bk = xrealloc(bk, (nbk + 1) * sizeof(*bk));
			r = &bk[nbk++];
			memset(r, 0, sizeof(*r));
			r->version = field(&p);
			r->name = field(&p);
			r->checksum = field(&p);
			r->state = field(&p);
			r->kind = field(&p);
			r->audit_hash = field(&p);
			r->bundle_id = field(&p);
			r->statement = num(&p);
			r->batches = num(&p);
		} else if (audit && nau < 64) {
			struct audit_row *a;

			au = xrealloc(au, (nau + 1) * sizeof(*au));
			a = &au[nau++];
			memset(a, 0, sizeof(*a));
			a->seq = num(&p);
			a->at = field(&p);
			a->actor = field(&p);
			a->action = field(&p);
			a->version = field(&p);
			a->from_version = field(&p);
			a->to_version = field(&p);
			a->bundle_id = field(&p);
			a->environment = field(&p);
			a->detail = field(&p);
			a->prev_hash = field(&p);
			a->hash = field(&p);
		}
	}
	/* bk_read returns rows by version; so does this harness. */
	for (i = 1; i < nbk; i++) {
		size_t j = i;

		while (j > 0 && version_cmp(bk[j - 1].version, bk[j].version) > 0) {
			struct bk_row t = bk[j];

			bk[j] = bk[j - 1];
			bk[j - 1] = t;
			j--;
		}
	}
	memset(&set, 0, sizeof(set));
	set.bundle_id = xstrdup("sha256:fuzz");
	set.n = 3;
	set.migs = xcalloc(3, sizeof(*set.migs));
	for (i = 0; i < 3; i++) {
		set.migs[i].version = xasprintf("%zu", i + 1);
		set.migs[i].name = xasprintf("%zu_m", i + 1);
		set.migs[i].checksum = xasprintf("sha256:%zu", i + 1);
		apply_mig_sql_fill(&set.migs[i])->up = xstrdup("SELECT 1;");
		set.migs[i].transaction = 1;
		set.migs[i].batch = i == 2;
	}
	if (plan_build(&plan, &set, bk, nbk, "dev", i % 2 ? "2" : NULL) == 0)
		plan_release(&plan);
	np = audit_verify(au, nau, bk, nbk, &pr);
	audit_problems_free(pr, np);
	apply_set_release(&set);
	bk_rows_free(bk, nbk);
	audit_rows_free(au, nau);
	free(text);
	return 0;
}
