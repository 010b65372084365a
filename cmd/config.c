/* cairn-apply config: the merged settings for one environment, where each
 * came from, secrets masked. Also the config opener every --env verb uses. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/buf.h"
#include "../lib/error.h"
#include "../lib/util.h"
#include "config.h"

const struct cmd cmd_config_desc = {
	"config", cmd_config,
	"show an environment's merged settings and where each came from",
	"cairn-apply config --env ENV [--config FILE] [--db DSN] [--lock-timeout TIME] [--format text|json]",
	"Reads the applier's config (--config FILE, else $CAIRN_APPLY_CONFIG, else\n"
	"./cairn-apply.yaml), checks it, and shows the settings for ENV merged from\n"
	"flags, CAIRN_* variables, the file and built-in defaults, each with where it\n"
	"came from. Passwords are shown as ****; dsn_env and dsn_file show the\n"
	"variable's or the file's name, never the secret.\n"
	"\n"
	"Options:\n"
	"   --env ENV            the environment (else $CAIRN_ENV)\n"
	"   --config FILE        the config file\n"
	"   --db DSN             the database, beating $CAIRN_DB and the file\n"
	"   --lock-timeout TIME  beating $CAIRN_LOCK_TIMEOUT and the file (30s, 5m, 250ms)\n"
	"   --format F           text (default) or json\n",
};

static void print_diags(const struct policy_config *c)
{
	size_t i;

	for (i = 0; i < c->ndiags; i++)
		fprintf(stderr, "%s\n", c->diags[i].msg);
}

int apply_config_open(struct apply_config *ac, const struct cmd *c,
		      const struct apply_config_flags *flags)
{
	struct policy_inputs in;
	int usage = 0;

	memset(ac, 0, sizeof(*ac));
	policy_config_init(&ac->config);
	ac->path = policy_config_path(flags->config, getenv(POLICY_CONFIG_ENV), &ac->path_source);
	if (!path_exists(ac->path)) {
		if (!strcmp(ac->path_source, "default"))
			error_msg("no config: './%s' does not exist; pass --config FILE or set "
				  "CAIRN_APPLY_CONFIG (see cairn-apply(1) for its format)",
				  POLICY_CONFIG_FILE);
		else
			error_msg("cannot read the config '%s' (from %s): no such file", ac->path,
				  !strcmp(ac->path_source, "flag") ? "--config" : "CAIRN_APPLY_CONFIG");
		return EXIT_ENVIRONMENT;
	}
	if (policy_config_load(&ac->config, ac->path, 0) < 0) {
		if (!ac->config.ndiags) {
			error_msg("cannot read the config: %s", cairn_error_last());
			return EXIT_ENVIRONMENT;
		}
		print_diags(&ac->config);
		error_msg("'%s' has %zu error%s; fix %s and run again", ac->path,
			  ac->config.errors, ac->config.errors == 1 ? "" : "s",
			  ac->config.errors == 1 ? "it" : "them");
		return EXIT_ENVIRONMENT;
	}
	print_diags(&ac->config); /* warnings */
	memset(&in, 0, sizeof(in));
	in.flag_env = flags->env;
	in.flag_db = flags->db;
	in.flag_lock_timeout = flags->lock_timeout;
	in.env_env = getenv("CAIRN_ENV");
	in.env_db = getenv("CAIRN_DB");
	in.env_lock_timeout = getenv("CAIRN_LOCK_TIMEOUT");
	if (policy_resolve(&ac->env, &ac->config, &in, &usage) < 0) {
		if (usage)
			return usage_error(c, "%s", cairn_error_last());
		error_msg("%s", cairn_error_last());
		return EXIT_ENVIRONMENT;
	}
	return 0;
}

void apply_config_release(struct apply_config *ac)
{
	if (!ac)
		return;
	policy_resolved_release(&ac->env);
	policy_config_release(&ac->config);
}

int apply_config_database(const struct cmd *c, const char *config, const char *env,
			  const char *db, char **dsn_out)
{
	struct apply_config ac;
	struct apply_config_flags f;
	const char *env_var = getenv("CAIRN_ENV"), *db_var = getenv("CAIRN_DB");
	int rc;

	/* the database's precedence, as policy_resolve has it: --db, then
	 * $CAIRN_DB, then the environment's entry in the file */
	*dsn_out = NULL;
	if (db || (db_var && *db_var)) {
		*dsn_out = xstrdup(db ? db : db_var);
		return 0;
	}
	if (!env && !(env_var && *env_var))
		return usage_error(c, "missing --db DSN (or --env ENV, to take the database from "
				   "the applier's config)");
	memset(&f, 0, sizeof(f));
	f.config = config;
	f.env = env;
	rc = apply_config_open(&ac, c, &f);
	if (!rc && policy_database_dsn(&ac.env, dsn_out) < 0) {
		if (ac.env.db_kind == POLICY_DB_NONE) {
			rc = usage_error(c, "%s", cairn_error_last());
		} else {
			error_msg("%s", cairn_error_last());
			rc = EXIT_ENVIRONMENT;
		}
	}
	apply_config_release(&ac);
	return rc;
}

void apply_config_dsn_free(char *dsn)
{
	if (dsn) {
		memset(dsn, 0, strlen(dsn));
		free(dsn);
	}
}

static void format_duration(unsigned long long ms, char *out, size_t n)
{
	int w;

	if (ms % 3600000 == 0 && ms)
		w = snprintf(out, n, "%lluh", ms / 3600000);
	else if (ms % 60000 == 0 && ms)
		w = snprintf(out, n, "%llum", ms / 60000);
	else if (ms % 1000 == 0)
		w = snprintf(out, n, "%llus", ms / 1000);
	else
		w = snprintf(out, n, "%llums", ms);
	if (w < 0 || (size_t)w >= n)
		out[0] = '\0';
}

/* The database as it may be shown: the DSN masked, or the name of the
 * variable or file that holds it. */
static char *database_shown(const struct policy_resolved *r, const char **kind,
			    const char **state)
{
	*state = NULL;
	switch (r->db_kind) {
	case POLICY_DB_DSN:
		*kind = "dsn";
		return dsn_mask(r->db_value);
	case POLICY_DB_DSN_ENV:
		*kind = "dsn_env";
		*state = getenv(r->db_value) && *getenv(r->db_value) ? "set" : "not set";
		return xstrdup(r->db_value);
	case POLICY_DB_DSN_FILE:
		*kind = "dsn_file";
		*state = path_exists(r->db_value) ? "exists" : "missing";
		return xstrdup(r->db_value);
	case POLICY_DB_NONE:
		break;
	}
	*kind = "none";
	return NULL;
}

static void text_line(const char *label, const char *value, const struct policy_setting *s)
{
	printf("%-14s %s", label, value);
	if (s)
		printf("  (%s%s%s)", policy_source_name(s->source),
		       s->origin && *s->origin ? " " : "", s->origin ? s->origin : "");
	putchar('\n');
}

static void text_keys(const struct policy_config *c, const char *label,
		      const struct policy_keylist *l)
{
	size_t i;

	if (!l->n) {
		printf("%-14s %s\n", label, l->set ? "none (an empty list)" : "none");
		return;
	}
	for (i = 0; i < l->n; i++) {
		const struct policy_key *k = &l->items[i];

		printf("%-14s %s  %s", i ? "" : label, k->key_id, k->path);
		if (k->since)
			printf("  since %s", k->since);
		printf("  (file %s:%d:%d)\n", c->path, k->line, k->col);
	}
}

/* sqlite: {foreign_keys:, extensions:} (issue #19): the extensions as the
 * applier loads them (absolute paths, in order) */
static void text_sqlite(const struct policy_resolved *r)
{
	size_t i;

	printf("%-14s %s\n", "foreign_keys",
	       r->sqlite_foreign_keys ? (r->sqlite_foreign_keys == 2 ? "on" : "off")
				      : "not set (the DSN's, else SQLite's default)");
	if (!r->nsqlite_extensions)
		printf("%-14s none\n", "extensions");
	for (i = 0; i < r->nsqlite_extensions; i++)
		printf("%-14s %s\n", i ? "" : "extensions", r->sqlite_extensions[i]);
}

static void json_sqlite(struct buf *b, const struct policy_resolved *r)
{
	size_t i;

	buf_printf(b, ",\"sqlite\":{\"foreign_keys\":%s,\"extensions\":[",
		   !r->sqlite_foreign_keys ? "null"
		   : r->sqlite_foreign_keys == 2 ? "\"on\"" : "\"off\"");
	for (i = 0; i < r->nsqlite_extensions; i++) {
		if (i)
			buf_putc(b, ',');
		buf_put_json_string(b, r->sqlite_extensions[i]);
	}
	buf_puts(b, "]}");
}

static void print_text(const struct apply_config *ac)
{
	const struct policy_resolved *r = &ac->env;
	const char *kind, *state;
	char *db = database_shown(r, &kind, &state);
	struct buf v = BUF_INIT;
	struct policy_setting cfg = { POLICY_SRC_DEFAULT, NULL };
	char dur[32];

	cfg.source = !strcmp(ac->path_source, "flag") ? POLICY_SRC_FLAG
		     : !strcmp(ac->path_source, "env") ? POLICY_SRC_ENV : POLICY_SRC_DEFAULT;
	cfg.origin = (char *)(cfg.source == POLICY_SRC_FLAG ? "--config"
			      : cfg.source == POLICY_SRC_ENV ? "CAIRN_APPLY_CONFIG" : "");
	text_line("config", ac->path, &cfg);
	text_line("environment", r->env_name, &r->env_name_src);
	if (db) {
		buf_printf(&v, "%s %s", kind, db);
		if (state)
			buf_printf(&v, " [%s]", state);
	} else {
		buf_puts(&v, "none: pass --db DSN or set CAIRN_DB");
	}
	text_line("database", buf_cstr(&v), db ? &r->db_src : NULL);
	format_duration(r->lock_timeout_ms, dur, sizeof(dur));
	text_line("lock_timeout", dur, &r->lock_timeout_src);
	buf_reset(&v);
	buf_printf(&v, "%llu of %zu approver%s", r->approvals, r->approvers->n,
		   r->approvers->n == 1 ? "" : "s");
	text_line("approvals", buf_cstr(&v), &r->approvals_src);
	if (r->env->after) {
		struct policy_setting s = { POLICY_SRC_FILE, NULL };

		s.origin = xasprintf("%s:%d:%d", ac->config.path, r->env->after_line,
				     r->env->after_col);
		text_line("after", r->env->after, &s);
		free(s.origin);
	} else {
		text_line("after", "none", NULL);
	}
	text_sqlite(r);
	text_keys(&ac->config, "builders", r->builders);
	text_keys(&ac->config, "approvers", r->approvers);
	text_keys(&ac->config, "receipts_from", r->receipts_from);
	text_keys(&ac->config, "admins", r->admins);
	text_keys(&ac->config, "revoked", &r->revoked);
	buf_release(&v);
	free(db);
}

static void json_setting(struct buf *b, const struct policy_setting *s)
{
	buf_puts(b, ",\"source\":");
	buf_put_json_string(b, policy_source_name(s->source));
	buf_puts(b, ",\"origin\":");
	buf_put_json_string(b, s->origin ? s->origin : "");
}

static void json_keys(struct buf *b, const struct policy_config *c, const char *label,
		      const struct policy_keylist *l)
{
	char *origin;
	size_t i;

	buf_printf(b, ",\"%s\":[", label);
	for (i = 0; i < l->n; i++) {
		const struct policy_key *k = &l->items[i];

		buf_puts(b, i ? ",{\"key_id\":" : "{\"key_id\":");
		buf_put_json_string(b, k->key_id);
		buf_puts(b, ",\"path\":");
		buf_put_json_string(b, k->path);
		buf_puts(b, ",\"file\":");
		buf_put_json_string(b, k->resolved);
		buf_puts(b, ",\"origin\":");
		origin = xasprintf("%s:%d:%d", c->path, k->line, k->col);
		buf_put_json_string(b, origin);
		free(origin);
		if (k->since) {
			buf_puts(b, ",\"since\":");
			buf_put_json_string(b, k->since);
		}
		buf_putc(b, '}');
	}
	buf_putc(b, ']');
}

static void print_json(const struct apply_config *ac)
{
	const struct policy_resolved *r = &ac->env;
	const struct policy_config *c = &ac->config;
	const char *kind, *state;
	char *db = database_shown(r, &kind, &state);
	struct buf b = BUF_INIT;
	size_t i;

	buf_puts(&b, "{\"config\":{\"path\":");
	buf_put_json_string(&b, ac->path);
	buf_puts(&b, ",\"source\":");
	buf_put_json_string(&b, ac->path_source);
	buf_puts(&b, "},\"environment\":{\"value\":");
	buf_put_json_string(&b, r->env_name);
	json_setting(&b, &r->env_name_src);
	buf_puts(&b, "},\"database\":{\"kind\":");
	buf_put_json_string(&b, kind);
	buf_puts(&b, ",\"value\":");
	if (db)
		buf_put_json_string(&b, db);
	else
		buf_puts(&b, "null");
	if (state) {
		buf_puts(&b, ",\"state\":");
		buf_put_json_string(&b, state);
	}
	json_setting(&b, &r->db_src);
	buf_printf(&b, "},\"lock_timeout_ms\":{\"value\":%llu", r->lock_timeout_ms);
	json_setting(&b, &r->lock_timeout_src);
	buf_printf(&b, "},\"approvals\":{\"value\":%llu,\"of\":%zu", r->approvals, r->approvers->n);
	json_setting(&b, &r->approvals_src);
	buf_puts(&b, "},\"after\":");
	if (r->env->after) {
		buf_puts(&b, "{\"value\":");
		buf_put_json_string(&b, r->env->after);
		char *origin = xasprintf("%s:%d:%d", c->path, r->env->after_line,
					 r->env->after_col);

		buf_puts(&b, ",\"source\":\"file\",\"origin\":");
		buf_put_json_string(&b, origin);
		buf_putc(&b, '}');
		free(origin);
	} else {
		buf_puts(&b, "null");
	}
	json_sqlite(&b, r);
	json_keys(&b, c, "builders", r->builders);
	json_keys(&b, c, "approvers", r->approvers);
	json_keys(&b, c, "receipts_from", r->receipts_from);
	json_keys(&b, c, "admins", r->admins);
	json_keys(&b, c, "revoked", &r->revoked);
	buf_puts(&b, ",\"warnings\":[");
	for (i = 0; i < c->ndiags; i++) {
		if (i)
			buf_putc(&b, ',');
		buf_put_json_string(&b, c->diags[i].msg);
	}
	buf_puts(&b, "]}\n");
	fwrite(b.ptr, 1, b.len, stdout);
	buf_release(&b);
	free(db);
}

int cmd_config(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "env", required_argument, NULL, 'e' },
		{ "config", required_argument, NULL, 'c' },
		{ "db", required_argument, NULL, 'd' },
		{ "lock-timeout", required_argument, NULL, 'l' },
		{ "format", required_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	struct apply_config_flags flags;
	struct apply_config ac;
	int json = 0, c, rc;

	memset(&flags, 0, sizeof(flags));
	memset(&ac, 0, sizeof(ac));
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'e':
			flags.env = optarg;
			break;
		case 'c':
			flags.config = optarg;
			break;
		case 'd':
			flags.db = optarg;
			break;
		case 'l':
			flags.lock_timeout = optarg;
			break;
		case 'f':
			if (parse_format(&cmd_config_desc, optarg, &json))
				return EXIT_USAGE;
			break;
		default:
			if (optopt)
				return usage_error(&cmd_config_desc, "option '%s' needs a value",
						   argv[optind - 1]);
			return usage_error(&cmd_config_desc, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return usage_error(&cmd_config_desc, "unexpected argument '%s'", argv[optind]);
	rc = apply_config_open(&ac, &cmd_config_desc, &flags);
	if (rc)
		goto out;
	if (json)
		print_json(&ac);
	else
		print_text(&ac);
out:
	apply_config_release(&ac);
	return rc;
}
