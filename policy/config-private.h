/* What the applier's config's files share (config.c, config-keys.c,
 * config-dsn.c, config-check.c, config-resolve.c): the helpers they call
 * across files. Not for use outside policy/. */
#ifndef CAIRN_POLICY_CONFIG_PRIVATE_H
#define CAIRN_POLICY_CONFIG_PRIVATE_H

#include <stddef.h>

#include "../lib/yaml.h"
#include "config.h"

/* config.c */
void keylist_release(struct policy_keylist *l);
void diag(struct policy_config *c, int warning, int line, int col, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/* config-lint.c: lint: {refuse_waived: [...]} */
void parse_lint(struct policy_config *c, struct policy_env *e, const struct ynode *v);
void lint_policy_release(struct policy_env *e);
/* config-lint.c: destructive: {approvals: N} */
void parse_destructive(struct policy_config *c, struct policy_env *e, const struct ynode *v);

/* config-check.c */
const struct policy_keylist *eff_list(const struct policy_keylist *own,
				      const struct policy_keylist *def);
void effective_approvals(const struct policy_config *c, const struct policy_env *e,
			 unsigned long long *m, int *line, int *col);
void validate(struct policy_config *c, int flags);
void sort_diags(struct policy_config *c);

#endif
