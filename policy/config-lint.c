/* lint: {refuse_waived: [RULE...]} in the applier's config (issue #18):
 * the rules whose waivers an environment does not take. A bundle records
 * each finding its migrations waived (manifest.yaml's waivers:), signed
 * with the rest, so a waiver cannot be added or hidden after the build;
 * the policy (bundle.c) refuses one that waives a rule listed here. Rules
 * are named by cairn's id or by Squawk's name, and a name that is neither
 * is an error: a typo must not turn the refusal off. */
#include <stdlib.h>
#include <string.h>

#include "../lib/lint-rules.h"
#include "../lib/error.h"
#include "config-private.h"

void lint_policy_release(struct policy_env *e)
{
	size_t i;

	for (i = 0; i < e->nrefuse_waived; i++)
		free(e->refuse_waived[i]);
	free(e->refuse_waived);
	e->refuse_waived = NULL;
	e->nrefuse_waived = 0;
}

static void refuse_list(struct policy_config *c, struct policy_env *e, const struct ynode *v)
{
	size_t i;

	if (v->type != YNODE_SEQ) {
		diag(c, 0, v->line, v->col,
		     "'refuse_waived' must be a list of lint rules (cairn ids or Squawk names), or [all]");
		return;
	}
	lint_policy_release(e);
	e->refuse_waived = xcalloc(v->n ? v->n : 1, sizeof(char *));
	e->refuse_waived_set = 1;
	e->refuse_waived_line = v->line;
	for (i = 0; i < v->n; i++) {
		const struct ynode *it = v->items[i];
		int r;

		if (it->type != YNODE_SCALAR) {
			diag(c, 0, it->line, it->col, "'refuse_waived' lists rule names, not %s",
			     ynode_type_name(it->type));
			continue;
		}
		if (!strcmp(it->str, "all")) {
			e->refuse_waived[e->nrefuse_waived++] = xstrdup("all");
			continue;
		}
		r = lint_rule_lookup(it->str);
		if (r < 0) {
			diag(c, 0, it->line, it->col,
			     "'refuse_waived' names '%s', which is not a lint rule (cairn's ids and Squawk's names are in docs/lint.md)",
			     it->str);
			continue;
		}
		e->refuse_waived[e->nrefuse_waived++] = xstrdup(lint_rules[r].id);
	}
}

void parse_lint(struct policy_config *c, struct policy_env *e, const struct ynode *v)
{
	size_t i;

	if (v->type != YNODE_MAP) {
		diag(c, 0, v->line, v->col, "'lint' must be a mapping {refuse_waived: [RULE...]}");
		return;
	}
	for (i = 0; i < v->n; i++) {
		const struct ynode *k = ynode_key(v, i);

		if (strcmp(k->str, "refuse_waived"))
			diag(c, 0, k->line, k->col, "unknown key '%s' in lint (known keys: refuse_waived)",
			     k->str);
		else
			refuse_list(c, e, ynode_val(v, i));
	}
}

/* destructive: {approvals: N}: a bundle with a destructive migration still
 * to run in the environment needs N approvals (policy/destructive.c finds
 * them in the signed scripts; bundle.c raises the count). */
void parse_destructive(struct policy_config *c, struct policy_env *e, const struct ynode *v)
{
	size_t i;

	if (v->type != YNODE_MAP) {
		diag(c, 0, v->line, v->col, "'destructive' must be a mapping {approvals: N}");
		return;
	}
	for (i = 0; i < v->n; i++) {
		const struct ynode *k = ynode_key(v, i), *n = ynode_val(v, i);

		if (strcmp(k->str, "approvals")) {
			diag(c, 0, k->line, k->col,
			     "unknown key '%s' in destructive (known keys: approvals)", k->str);
			continue;
		}
		if (ynode_uint(n, &e->destructive_approvals) < 0 || !n->plain ||
		    !e->destructive_approvals || e->destructive_approvals > 1000) {
			diag(c, 0, n->line, n->col,
			     "'destructive: {approvals:}' must be a whole number from 1 (how many approvers must sign a bundle with a destructive migration)");
			continue;
		}
		e->destructive_set = 1;
		e->destructive_line = n->line;
		e->destructive_col = n->col;
	}
}

unsigned long long policy_env_destructive_approvals(const struct policy_config *c,
						   const struct policy_env *e)
{
	if (e && e->destructive_set)
		return e->destructive_approvals;
	return c->defaults.destructive_set ? c->defaults.destructive_approvals : 0;
}
