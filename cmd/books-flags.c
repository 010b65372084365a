/* The options the verbs that change the books share: see books-flags.h. */
#include <stdlib.h>
#include <string.h>

#include "../apply/role.h"
#include "../lib/error.h"
#include "books-flags.h"
#include "policy-gate.h"

void books_flags_init(struct books_flags *f)
{
	memset(f, 0, sizeof(*f));
	f->lock_ms = 15000;
}

int books_flags_take(struct books_flags *f, const struct cmd *c, int opt, char **argv)
{
	switch (opt) {
	case 'd': f->dsn = optarg; break;
	case 'e': f->env = optarg; break;
	case 'C': f->config = optarg; break;
	case 'P': f->cpo.file = optarg; break;
	case 'K': f->cpo.key_path = optarg; break;
	case 'l':
		f->lock_flag = optarg;
		return parse_lock_timeout(c, optarg, &f->lock_ms);
	default:
		return usage_error(c, "unknown option '%s'", argv[optind - 1]);
	}
	return EXIT_OK;
}

void books_flags_done(struct books_flags *f)
{
	f->db_flag = f->dsn;
	f->env_flag = f->env;
}

int books_flags_policy(struct books_flags *f, const struct cmd *c, struct apply_policy *ap)
{
	return apply_policy_begin_books(ap, c, f->config, &f->env, &f->dsn, f->lock_flag,
					&f->lock_ms);
}

/* The role check apply makes (apply/role.h), for the verbs that write
 * the books without applying: their down scripts, repairs, restores and
 * adopted rows meet the same books guard (attack15h). */
int books_role_gate(const struct apply_policy *ap, struct apply_ctx *ctx, const char *env,
		    const char *verb)
{
	char *warning = NULL;
	const char *why;
	int refuse = apply_policy_role_refuse(ap, 0, &why);

	if (role_check(ctx->drv, ctx->db, refuse, why, env, verb, &warning) < 0) {
		error_msg("%s", cairn_error_last());
		error_msg("nothing was done: the database is unchanged");
		return EXIT_REFUSED;
	}
	if (warning)
		error_msg("warning: %s", warning);
	free(warning);
	return EXIT_OK;
}

int books_flags_open(struct books_flags *f, const struct cmd *c, struct apply_policy *ap,
		     struct apply_ctx *ctx, unsigned flags, int json)
{
	int rc = checkpoint_open_books(ctx, c, ap, &f->cpo, f->dsn, flags, json);

	if (!rc)
		rc = books_role_gate(ap, ctx, f->env,
				     !strcmp(c->name, "rollback") ? "roll back" : c->name);
	if (!rc)
		apply_policy_note_db(ap, ctx);
	return rc;
}

char *books_flags_target(const struct books_flags *f)
{
	return apply_target_args(f->db_flag, f->dsn, f->env, f->config);
}

void books_flags_release(struct books_flags *f)
{
	checkpoint_opts_release(&f->cpo);
}
