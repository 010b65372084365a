/* The applier's config (config.c): each environment's effective lists
 * and the checks made once the whole file is read. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "../lib/error.h"
#include "../lib/sha256.h"
#include "../lib/util.h"
#include "../lib/yaml.h"
#include "config-private.h"
#include "config.h"
/* The effective list: the environment's own when it sets one, else the
 * defaults'. */
const struct policy_keylist *eff_list(const struct policy_keylist *own,
				      const struct policy_keylist *def)
{
	return own->set ? own : def;
}

static size_t distinct_keys(const struct policy_keylist *l, int keys_loaded)
{
	size_t i, j, n = 0;

	for (i = 0; i < l->n; i++) {
		for (j = 0; j < i; j++) {
			if (keys_loaded ? !strcmp(l->items[i].key_id, l->items[j].key_id)
					: !strcmp(l->items[i].resolved, l->items[j].resolved))
				break;
		}
		if (j == i)
			n++;
	}
	return n;
}

void effective_approvals(const struct policy_config *c, const struct policy_env *e,
			 unsigned long long *m, int *line, int *col)
{
	const struct policy_keylist *appr = eff_list(&e->approvers, &c->defaults.approvers);

	if (e->approvals_set) {
		*m = e->approvals;
		*line = e->approvals_line;
		*col = e->approvals_col;
	} else if (c->defaults.approvals_set) {
		*m = c->defaults.approvals;
		*line = c->defaults.approvals_line;
		*col = c->defaults.approvals_col;
	} else {
		/* naming approvers without a quorum means one of them */
		*m = appr->n ? 1 : 0;
		*line = *col = 0;
	}
}

const struct policy_keylist *policy_env_list(const struct policy_config *c,
					     const struct policy_env *e, const char *which)
{
	if (!strcmp(which, "builders"))
		return eff_list(&e->builders, &c->defaults.builders);
	if (!strcmp(which, "approvers"))
		return eff_list(&e->approvers, &c->defaults.approvers);
	if (!strcmp(which, "receipts_from"))
		return eff_list(&e->receipts_from, &c->defaults.receipts_from);
	if (!strcmp(which, "admins"))
		return eff_list(&e->admins, &c->defaults.admins);
	return NULL;
}

unsigned long long policy_env_approvals(const struct policy_config *c, const struct policy_env *e)
{
	unsigned long long m;
	int line, col;

	effective_approvals(c, e, &m, &line, &col);
	return m;
}

void validate(struct policy_config *c, int flags)
{
	size_t i;
	int loaded = !(flags & POLICY_CONFIG_NO_KEYS);

	for (i = 0; i < c->nenvs; i++) {
		struct policy_env *e = &c->envs[i];
		const struct policy_keylist *appr = eff_list(&e->approvers, &c->defaults.approvers);
		unsigned long long m;
		int line, col;
		size_t n = distinct_keys(appr, loaded);

		effective_approvals(c, e, &m, &line, &col);
		if (m > n) {
			if (line > 0)
				diag(c, 0, line, col,
				     "environment '%s' needs %llu approvals but names %zu distinct "
				     "approver%s; add approvers or lower approvals",
				     e->name, m, n, n == 1 ? "" : "s");
		}
		m = policy_env_destructive_approvals(c, e);
		line = e->destructive_set ? e->destructive_line : c->defaults.destructive_line;
		col = e->destructive_set ? e->destructive_col : c->defaults.destructive_col;
		if (m > n)
			diag(c, 0, line, col,
			     "environment '%s' needs %llu approvals for destructive migrations but "
			     "names %zu distinct approver%s; add approvers or lower destructive: "
			     "{approvals:}", e->name, m, n, n == 1 ? "" : "s");
		if (!eff_list(&e->builders, &c->defaults.builders)->n)
			diag(c, 1, e->line, e->col,
			     "environment '%s' names no builders: every bundle will be refused there "
			     "(add 'builders: [keys/ci.pub]')", e->name);
		if (e->after) {
			const struct policy_env *prev = policy_config_env(c, e->after);

			if (!prev) {
				const char **names = xcalloc(c->nenvs + 1, sizeof(*names));
				const char *hint;
				size_t j;

				for (j = 0; j < c->nenvs; j++)
					names[j] = c->envs[j].name;
				hint = did_you_mean(e->after, names);
				if (hint)
					diag(c, 0, e->after_line, e->after_col,
					     "'after' names '%s', which is not an environment here; did "
					     "you mean '%s'?", e->after, hint);
				else
					diag(c, 0, e->after_line, e->after_col,
					     "'after' names '%s', which is not an environment here",
					     e->after);
				free(names);
			} else if (prev == e) {
				diag(c, 0, e->after_line, e->after_col,
				     "environment '%s' cannot come after itself", e->name);
			} else {
				unsigned long long pm;
				int pl, pc;

				effective_approvals(c, prev, &pm, &pl, &pc);
				if (!pm && !eff_list(&prev->approvers, &c->defaults.approvers)->n)
					diag(c, 0, e->after_line, e->after_col,
					     "'after: %s' cannot be met: '%s' has no approvers, so no "
					     "approval for it can count; give '%s' approvers, or use "
					     "receipts_from to require that the bundle ran there",
					     e->after, e->after, e->after);
			}
		}
	}
	/* cycles: each environment has at most one 'after', so follow the chain */
	for (i = 0; i < c->nenvs; i++) {
		const struct policy_env *e = &c->envs[i], *p = e;
		size_t steps = 0;

		while (p && p->after && steps <= c->nenvs) {
			p = policy_config_env(c, p->after);
			if (p == &c->envs[i])
				break;
			steps++;
		}
		if (p == &c->envs[i] && e->after && strcmp(e->after, e->name)) {
			struct buf chain = BUF_INIT;
			int first = 1;

			/* report a cycle once, at its first environment in the file */
			p = e;
			do {
				p = policy_config_env(c, p->after);
				if (p < e)
					first = 0;
			} while (p != e);
			if (!first)
				continue;

			p = e;
			buf_puts(&chain, e->name);
			do {
				p = policy_config_env(c, p->after);
				buf_printf(&chain, " -> %s", p->name);
			} while (p != e);
			diag(c, 0, e->after_line, e->after_col, "'after' makes a cycle: %s",
			     buf_cstr(&chain));
			buf_release(&chain);
		}
	}
}

/* In file order, as a compiler reports (stable: insertion sort). */
void sort_diags(struct policy_config *c)
{
	size_t i, j;

	for (i = 1; i < c->ndiags; i++) {
		struct policy_diag d = c->diags[i];

		for (j = i; j > 0; j--) {
			const struct policy_diag *q = &c->diags[j - 1];

			if (q->line < d.line || (q->line == d.line && q->col <= d.col))
				break;
			c->diags[j] = c->diags[j - 1];
		}
		c->diags[j] = d;
	}
}
