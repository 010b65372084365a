/* The options the verbs that change the books share: see books-flags.h. */
#include <string.h>

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

int books_flags_open(struct books_flags *f, const struct cmd *c, const struct apply_policy *ap,
		     struct apply_ctx *ctx, unsigned flags, int json)
{
	return checkpoint_open_books(ctx, c, ap, &f->cpo, f->dsn, flags, json);
}

char *books_flags_target(const struct books_flags *f)
{
	return apply_target_args(f->db_flag, f->dsn, f->env, f->config);
}

void books_flags_release(struct books_flags *f)
{
	checkpoint_opts_release(&f->cpo);
}
