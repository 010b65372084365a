#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "../apply/role.h"
#include "../lib/buf.h"
#include "../lib/error.h"
#include "../lib/trace.h"
#include "../lib/util.h"
#include "../ops/backup.h"
#include "../ops/hooks.h"
#include "../ops/metrics.h"
#include "../ops/lockwho.h"
#include "../receipt/receipt.h"
#include "checkpoint.h"
#include "apply-run.h"
#include "policy-gate.h"
#include "cairn-apply.h"

#define DEFAULT_LOCK_TIMEOUT_MS 15000ull

const struct cmd cmd_apply_desc = {
	"apply", cmd_apply,
	"verify a bundle and apply its pending migrations",
	"cairn-apply apply BUNDLE --env ENV [--db DSN] [--to VERSION] [--dry-run] [--atomic] [--preflight]\n"
	"       cairn-apply apply BUNDLE --env ENV [--config FILE] [--receipt-key KEY] [--lock-timeout D] [--log-format text|json]\n"
	"       cairn-apply apply BUNDLE --env ENV --db DSN --key PUB... [--receipt-key KEY]\n"
	"       cairn-apply apply BUNDLE --env ENV [--checkpoint FILE [--checkpoint-key KEY]]\n"
	"       cairn-apply apply BUNDLE --env ENV [--metrics-file PATH]",
	"Verifies BUNDLE (a bundle that fails verification is refused before anything\n"
	"is written to the database, or a missing database file created; an existing\n"
	"SQLite file is opened for reading meanwhile), takes the database's lock,\n"
	"reads the bookkeeping\n"
	"(cairn_migrations, cairn_audit: created on first use) and applies every\n"
	"pending migration in the bundle's order. Each migration commits in one\n"
	"transaction with its bookkeeping row and audit row, after its verify.sql\n"
	"(when present) returned true in that transaction. A migration with\n"
	"transaction: false is marked in progress first and runs statement by\n"
	"statement; kind: batch repeats its statement, one transaction per batch,\n"
	"until it changes no row, and resumes where it stopped after a crash.\n"
	"Drift (an applied migration whose checksum differs from the bundle's)\n"
	"and failed or unfinished migrations stop the run before anything runs.\n"
	"\n"
	"Without --key, the environment's entry in the applier's config decides: it\n"
	"names the database, and the bundle must meet its policy (builders,\n"
	"approvals, 'after', receipts, revocations, no older bundle than the\n"
	"database has) before the database is opened; refusals exit 3, naming the\n"
	"rule and the statement. The audit rows record the statements used.\n"
	"\n"
	"Options:\n"
	"   --env ENV          the environment (else $CAIRN_ENV); migrations whose\n"
	"                      environments: do not list it are skipped\n"
	"   --config FILE      the applier's config (else $CAIRN_APPLY_CONFIG, else\n"
	"                      ./cairn-apply.yaml)\n"
	"   --db DSN           the database (else $CAIRN_DB, else the config's)\n"
	"   --receipt-key KEY  after a successful run, sign a receipt (this bundle ran\n"
	"                      in ENV, now, on this database) with the private key KEY\n"
	"                      and add it to BUNDLE: proof for the next environment;\n"
	"                      the key is unlocked before anything runs\n"
	"   --checkpoint FILE  after the run, append a signed checkpoint of the audit\n"
	"                      chain's head to FILE (else $CAIRN_CHECKPOINT): 'history\n"
	"                      --verify --checkpoint FILE' finds rows cut off or rewritten\n"
	"   --checkpoint-key KEY  the key that signs it (else $CAIRN_CHECKPOINT_KEY, else\n"
	"                      the receipt key)\n"
	"   --to VERSION       apply up to and including VERSION only\n"
	"   --dry-run          print the plan (as 'cairn-apply plan') and change nothing\n"
	"   --preflight        run 'cairn-apply preflight' first, on the same connection;\n"
	"                      a failed check stops the run before anything is applied,\n"
	"                      with preflight's exit code\n"
	"   --atomic           all pending migrations in one transaction: all or nothing\n"
	"   --metrics-file PATH  write the run's Prometheus metrics to PATH (else\n"
	"                      $CAIRN_METRICS_FILE), replaced atomically, for\n"
	"                      node_exporter's textfile collector; its counters carry on\n"
	"                      from the file the last run left (docs/operations.md)\n"
	"   --lock-timeout D   wait up to D for another runner (default 15s; 0: do not wait)\n"
	"   --key PUB          trust builds signed by this public key (repeatable); no\n"
	"                      config, no policy: for a developer's own database\n"
	"   --log-format F     text (default; progress on a terminal) or json: one object\n"
	"                      per event, with version, migration, environment, duration\n"
	"\n"
	"Exit status: 0 applied (or nothing to do), 1 a migration failed and was\n"
	"rolled back, 2 usage, 3 bundle refused, 4 lock not obtained, 5 the database\n"
	"needs an operator (drift, a failed or unfinished migration), 6 the database\n"
	"or the bundle cannot be read or written.\n",
};

static const char *mig_name(const struct apply_set *set, const char *version)
{
	size_t i;

	for (i = 0; set && version && i < set->n; i++)
		if (!strcmp(set->migs[i].version, version))
			return set->migs[i].name;
	return version;
}

/* target: the options naming the database (apply_target_args); status:
 * the status command, with the bundle and its trust, ready to paste. */
/* The failure is the engine's full disk (SQLite's SQLITE_FULL, the
 * server's ENOSPC), not the migration's SQL: the way out differs. */
static int disk_full(const char *msg)
{
	return strstr(msg, "database or disk is full") || strstr(msg, "No space left on device") ||
	       strstr(msg, "could not extend file");
}

/* The server ended the session under the migration (pg_terminate_backend,
 * a restart, a failover) or the connection broke: SQLSTATE class 08 or
 * 57P01-57P03, or libpq's own words. The migration's transaction is gone
 * with it; its SQL is not at fault. */
static int session_lost(const char *msg)
{
	return strstr(msg, ": 57P01: ") || strstr(msg, ": 57P02: ") || strstr(msg, ": 57P03: ") ||
	       strstr(msg, ": 08006: ") || strstr(msg, ": 08003: ") ||
	       strstr(msg, "server closed the connection unexpectedly") ||
	       strstr(msg, "no connection to the server");
}

static void report(struct apply_ctx *c, int rc, const struct apply_result *r,
		   const struct apply_set *set, const char *target, const char *status)
{
	char *msg = xstrdup(cairn_error_last()), *state = NULL, *next = NULL;
	const char *at = r->to_version ? r->to_version : "none";

	switch (rc) {
	case EXIT_LOCKED:
		state = xstrdup("is unchanged by this run");
		next = xstrdup("wait for the other runner to finish, or raise --lock-timeout");
		break;
	case EXIT_STATE:
		if (r->partial && r->tx_ended) {
			state = xasprintf("needs an operator: %s committed part of its work itself, "
					  "outside cairn's books; it is marked failed",
					  mig_name(set, r->failed_version));
			next = xasprintf("inspect the schema, finish or undo %s by hand, then run "
					 "'cairn-apply repair %s %s --mark-applied' (or "
					 "--mark-rolled-back) and apply again",
					 r->failed_version, target, r->failed_version);
		} else if (r->partial) {
			state = xasprintf("needs an operator: migration %s ran outside a transaction "
					  "and may be partly applied; it is marked failed",
					  r->failed_version);
			next = xasprintf("inspect the schema, finish or undo %s by hand, then run "
					 "'cairn-apply repair %s %s --mark-applied' (or "
					 "--mark-rolled-back) and apply again",
					 r->failed_version, target, r->failed_version);
		} else if (r->needs_repair) {
			state = xasprintf("is unchanged by this run (at version %s), but needs an "
					  "operator first", at);
			next = xasprintf("run '%s'; inspect the schema, then "
					 "'cairn-apply repair %s VERSION --mark-applied' (finished "
					 "by hand) or --mark-rolled-back (undone by hand)",
					 status, target);
		} else {
			state = xasprintf("is unchanged by this run (at version %s)", at);
			next = xasprintf("run '%s' to see each drifted migration and the "
					 "bundle that applied it; applied migrations are immutable, so "
					 "restore their files from the commit that bundle was built from, "
					 "put the change in a new migration, and build and ship again; "
					 "or, when the file was legitimately re-released, record its new "
					 "checksum: 'cairn-apply repair%s VERSION --accept-checksum "
					 "--reason \"WHY\"'",
					 status, status + strlen("cairn-apply status"));
		}
		break;
	case EXIT_FAILED:
		if (r->failed_version && set) {
			size_t i;
			int batch = 0;

			for (i = 0; i < set->n; i++)
				if (!strcmp(set->migs[i].version, r->failed_version))
					batch = set->migs[i].batch;
			if (batch) {
				state = xasprintf("has the failing batch of %s rolled back; batches "
						  "committed before it stay, recorded as progress",
						  r->failed_version);
				next = xstrdup("fix the cause, then run apply again: the migration "
					       "resumes where it stopped");
				break;
			}
		}
		if (r->failed_version)
			state = xasprintf("was rolled back to version %s: %s", at,
					  r->applied ? "migrations committed before the failure stay "
						       "applied"
						     : "nothing from this run was applied");
		else
			state = xasprintf("is unchanged (at version %s)", at);
		if (disk_full(msg))
			next = xstrdup("the disk is full, not the migration at fault: free space "
				       "where the file named above lives (on PostgreSQL, the "
				       "server's data directory), then run apply again");
		else if (session_lost(msg))
			next = xstrdup("the server ended the session, not the migration at fault "
				       "(an administrator's pg_terminate_backend, a restart or a "
				       "failover): once 'cairn-apply status' reaches it, run apply "
				       "again");
		else
			next = xstrdup("fix the migration, build and ship a new bundle, and run "
				       "apply again");
		break;
	default:
		state = xstrdup("is in the state the last successful step left it; run "
				"'cairn-apply status' once it can be reached");
		break;
	}
	apply_ctx_fail(c, rc, msg, state, next);
	free(msg);
	free(state);
	free(next);
}

/* The first closing line of a run SIGINT or SIGTERM stopped. */
static void report_interrupt(struct apply_ctx *c, const struct apply_result *r,
			     const struct apply_set *set)
{
	const char *name = r->failed_version ? mig_name(set, r->failed_version) : NULL;
	char *what;

	if (!name)
		what = xstrdup("stopped before the next migration; those applied before stay applied");
	else if (r->between_batches)
		what = xasprintf("batch migration %s stopped between batches; the batches it "
				 "committed stay, and apply again resumes it", name);
	else if (r->partial)
		what = xasprintf("the running statement was cancelled; migration %s ran outside a "
				 "transaction and stopped partway", name);
	else
		what = xasprintf("the running statement was cancelled and migration %s rolled back",
				 name);
	apply_ctx_interrupt_exit(c, what);
	free(what);
}

/* cairn-apply status BUNDLE TARGET [--key K]...: every word quoted. */
static char *status_command(const char *bundle, const char *target, const char **keys,
			    size_t nkeys)
{
	struct buf b = BUF_INIT;
	char *q = shell_quote(bundle);
	size_t i;

	buf_printf(&b, "cairn-apply status %s %s", q, target);
	free(q);
	for (i = 0; i < nkeys; i++) {
		q = shell_quote(keys[i]);
		buf_printf(&b, " --key %s", q);
		free(q);
	}
	return buf_detach(&b, NULL);
}

/* What the command line (and the environment) asked for. */
struct apply_args {
	const char *env, *dsn, *db_flag, *to, *config, *receipt_key, *lock_flag, *bundle;
	const char *metrics;
	const char *hook_note;  /* the before hook that ran: in every audit row */
	const char **keys;
	size_t nkeys;
	int json, dry, atomic, preflight;
	int signs_receipt;      /* apply_run_db: a receipt is signed after the run */
	unsigned long long lock_ms;
	struct checkpoint_opts cpo;
};

static int parse_args(struct apply_args *a, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "env", required_argument, NULL, 'e' },
		{ "db", required_argument, NULL, 'd' },
		{ "to", required_argument, NULL, 't' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "atomic", no_argument, NULL, 'a' },
		{ "lock-timeout", required_argument, NULL, 'l' },
		{ "key", required_argument, NULL, 'k' },
		{ "log-format", required_argument, NULL, 'f' },
		{ "config", required_argument, NULL, 'C' },
		{ "receipt-key", required_argument, NULL, 'R' },
		{ "checkpoint", required_argument, NULL, 'P' },
		{ "checkpoint-key", required_argument, NULL, 'K' },
		{ "preflight", no_argument, NULL, 'F' },
		{ "metrics-file", required_argument, NULL, 'M' },
		{ NULL, 0, NULL, 0 },
	};
	int c, rc = EXIT_OK;

	a->keys = xcalloc((size_t)argc, sizeof(*a->keys));
	a->lock_ms = DEFAULT_LOCK_TIMEOUT_MS;
	while (rc == EXIT_OK && (c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'e': a->env = optarg; break;
		case 'd': a->dsn = optarg; break;
		case 't': a->to = optarg; break;
		case 'n': a->dry = 1; break;
		case 'F': a->preflight = 1; break;
		case 'M': a->metrics = optarg; break;
		case 'a': a->atomic = 1; break;
		case 'k': a->keys[a->nkeys++] = optarg; break;
		case 'l':
			a->lock_flag = optarg;
			rc = parse_lock_timeout(&cmd_apply_desc, optarg, &a->lock_ms);
			break;
		case 'C': a->config = optarg; break;
		case 'R': a->receipt_key = optarg; break;
		case 'P': a->cpo.file = optarg; break;
		case 'K': a->cpo.key_path = optarg; break;
		case 'f': rc = parse_format(&cmd_apply_desc, optarg, &a->json); break;
		default:
			rc = usage_error(&cmd_apply_desc, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (rc != EXIT_OK)
		return rc;
	a->db_flag = a->dsn;
	if (!a->metrics && getenv("CAIRN_METRICS_FILE") && *getenv("CAIRN_METRICS_FILE"))
		a->metrics = getenv("CAIRN_METRICS_FILE");
	if (optind + 1 != argc)
		return usage_error(&cmd_apply_desc,
				   optind < argc ? "expected one BUNDLE" : "missing BUNDLE");
	a->bundle = argv[optind];
	if (a->receipt_key && (a->to || a->dry))
		return usage_error(&cmd_apply_desc, "--receipt-key says the whole bundle ran here: "
				   "it cannot go with %s", a->to ? "--to" : "--dry-run");
	return EXIT_OK;
}

/* The run applied what comes before the first contract migration, which
 * waits for a contract statement (issue #22). */
static int report_waiting(struct apply_ctx *ctx, const struct apply_args *a,
			  const struct apply_result *res, const struct apply_set *set)
{
	if (a->json)
		return EXIT_CONTRACT;
	printf("applied %zu migration%s; %s is at version %s; %zu wait%s for a contract statement\n",
	       res->applied, res->applied == 1 ? "" : "s", ctx->drv->display_name(ctx->db),
	       res->to_version ? res->to_version : "none", res->waiting,
	       res->waiting == 1 ? "s" : "");
	error_msg("migration %s is phase: contract, and '%s' has no contract statement for "
		  "this bundle: it and the %zu after it were not applied",
		  mig_name(set, res->waiting_version), a->env, res->waiting - 1);
	error_msg("once the release before this one is retired in '%s', run 'cairn promote "
		  "%s --to %s --contract --key KEY' with an approver's key, and apply again",
		  a->env, a->bundle, a->env);
	return EXIT_CONTRACT;
}

/* Says how the run ended: the summary line, or what failed, the state
 * the database is in and what to run next. Returns the exit code. */
static int finish(struct apply_ctx *ctx, const struct apply_args *a, int rc,
		  const struct apply_result *res, const struct apply_set *set)
{
	char *target, *status;

	if (rc == EXIT_OK) {
		if (a->json)
			return rc;
		if (res->applied)
			printf("applied %zu migration%s; %s is at version %s\n", res->applied,
			       res->applied == 1 ? "" : "s", ctx->drv->display_name(ctx->db),
			       res->to_version ? res->to_version : "none");
		else
			printf("nothing to apply: %s is at version %s\n",
			       ctx->drv->display_name(ctx->db),
			       res->to_version ? res->to_version : "none");
		return rc;
	}
	if (rc == EXIT_CONTRACT)
		return report_waiting(ctx, a, res, set);
	if (rc == EXIT_BUDGET) {
		if (!a->json) {
			printf("applied %zu migration%s; %s is at version %s\n", res->applied,
			       res->applied == 1 ? "" : "s", ctx->drv->display_name(ctx->db),
			       res->to_version ? res->to_version : "none");
			error_msg("migration %s stopped at its time budget after %lld batches "
				  "(%lld rows, %lld rows/s); run apply again to resume",
				  mig_name(set, res->stopped_version), res->stopped_batches,
				  res->stopped_rows, res->rows_per_s);
		}
		return apply_interrupted ? 128 + apply_interrupted : rc;
	}
	if (rc == EXIT_USAGE)
		return usage_error(&cmd_apply_desc, "%s", cairn_error_last());
	if (rc == EXIT_REFUSED) {
		/* the SQL of a step that would run cannot be used: refused as
		 * loading refused it when it read every migration's SQL */
		if (a->json)
			apply_ctx_json_error(ctx, rc, cairn_error_last(), "unchanged", NULL);
		error_msg("%s", cairn_error_last());
		if (!a->json)
			error_msg("the database is unchanged");
		return rc;
	}
	target = apply_target_args(a->db_flag, a->dsn, a->env, a->config);
	status = status_command(a->bundle, target, a->keys, a->nkeys);
	report(ctx, rc, res, set, target, status);
	free(target);
	free(status);
	return apply_interrupted ? 128 + apply_interrupted : rc;
}

/* The backup before a destructive migration (ops/backup.c), said as it
 * is taken: where it went and its sha256, or why none was. */
struct step_backup {
	struct backup_ctx b;
	struct apply_ctx *c;
};

static int backup_step(void *ctx, const struct apply_mig *m, char **detail)
{
	struct step_backup *s = ctx;
	struct buf b = BUF_INIT;
	int rc = backup_before_step(&s->b, m, detail);

	if (rc || !*detail)
		return rc;
	if (s->c->json) {
		buf_puts(&b, "{\"event\":\"backup\"");
		if (trace_parent()) {
			buf_puts(&b, ",\"traceparent\":");
			buf_put_json_string(&b, trace_parent());
		}
		buf_puts(&b, ",\"version\":");
		buf_put_json_string(&b, m->version);
		buf_puts(&b, ",\"migration\":");
		buf_put_json_string(&b, m->name);
		buf_puts(&b, ",\"file\":");
		if (s->b.last && strstr(*detail, s->b.last))
			buf_put_json_string(&b, s->b.last);
		else
			buf_puts(&b, "null");
		buf_puts(&b, ",\"detail\":");
		buf_put_json_string(&b, *detail);
		buf_puts(&b, "}\n");
		fwrite(b.ptr, 1, b.len, stdout);
		buf_release(&b);
	} else {
		printf("backup before %s: %s\n", m->name, *detail);
	}
	fflush(stdout);
	return 0;
}

/* What the role may do that the books guard cannot see (pgguard15b): a
 * warning, or, under postgres: {privileged_role: refuse} (the default
 * where the policy asks more than a build, attack15h, and for a run that
 * signs a receipt unless the config says warn), the run refused before
 * anything is written. */
static int apply_role_check(struct apply_ctx *ctx, const struct apply_policy *ap,
			    const struct apply_args *a)
{
	const char *why;
	char *warning = NULL;
	int refuse = apply_policy_role_refuse(ap, a->signs_receipt, &why);

	if (role_check(ctx->drv, ctx->db, refuse, why, a->env, "apply", &warning) < 0)
		return EXIT_REFUSED;
	if (warning)
		error_msg("warning: %s", warning);
	free(warning);
	return EXIT_OK;
}

/* Applies the verified set under the engine's lock; the database is open. */
static int run(struct apply_ctx *ctx, struct apply_policy *ap, const struct apply_args *a,
	       const struct apply_set *set, struct apply_result *res)
{
	struct apply_opts o;
	struct step_backup bk;
	struct lockwho_ctx who = { ctx->drv, ctx->db };
	char *builders, *signers, *revoked, *evidence = NULL;
	int rc;

	/* noted first: the on_error hook's row of a refused run names it too */
	apply_policy_note_db(ap, ctx);
	if ((rc = apply_role_check(ctx, ap, a)) != EXIT_OK)
		return rc;
	memset(&o, 0, sizeof(o));
	memset(&bk, 0, sizeof(bk));
	if (ctx->drv->backup_to || ctx->drv->dump_tables) {
		bk.c = ctx;
		apply_policy_backup(&bk.b, ap, ctx, a->env, set->bundle_id);
		o.before_step = backup_step;
		o.before_ctx = &bk;
	}
	o.env = a->env;
	o.to = a->to;
	o.atomic = a->atomic;
	o.lock_timeout_ms = a->lock_ms;
	o.event = apply_ctx_event;
	o.ctx = ctx;
	o.evidence = apply_policy_evidence(ap);
	if (a->hook_note)
		o.evidence = evidence = xasprintf("%s%s%s", o.evidence ? o.evidence : "",
						  o.evidence && *o.evidence ? "; " : "", a->hook_note);
	o.interrupted = &apply_interrupted;
	o.lag_query = ap->active ? ap->ac.env.replication_lag_query : NULL;
	o.lag_bytes_query = ap->active ? ap->ac.env.replication_lag_bytes_query : NULL;
	if (!strcmp(ctx->drv->name, "postgres")) {
		/* lock-safe DDL (issue #22): without a config, the built-in defaults */
		o.statement_timeout_ms = ap->active ? ap->ac.env.pg_statement_timeout_ms : 0;
		o.migration_lock_timeout_ms = ap->active ? ap->ac.env.pg_lock_timeout_ms : 0;
		o.retry_lock_timeout_ms = ap->active ? ap->ac.env.pg_retry_lock_timeout_ms
						     : POLICY_DEFAULT_PG_LOCK_TIMEOUT_MS;
		o.lock_retry_budget_ms = ap->active ? ap->ac.env.pg_lock_retry_ms
						    : POLICY_DEFAULT_PG_LOCK_RETRY_MS;
		o.lock_blockers = lockwho_blockers;
		o.blockers_ctx = &who;
	}
	apply_ctx_catch_signals(ctx);
	o.project = set->bundle ? set->bundle->project : NULL;
	o.builders = builders = apply_policy_builders(ap, a->keys, a->nkeys);
	o.identity_override = apply_policy_overrides(ap, POLICY_OVERRIDE_IDENTITY);
	o.policy = ap->active;
	o.signers = signers = apply_policy_signers(ap, set);
	o.revoked = revoked = apply_policy_revoked(ap);
	o.checkpoint = ctx->checkpoint;
	rc = engine_apply(ctx->db, ctx->drv, set, &o, res);
	backup_ctx_release(&bk.b);
	apply_ctx_release_signals();
	free(builders);
	free(signers);
	free(revoked);
	free(evidence);
	if (rc != EXIT_OK && apply_interrupted)
		report_interrupt(ctx, res, set);
	if (rc == EXIT_OK) /* not EXIT_CONTRACT: this file has more to apply */
		apply_ctx_record_file(ctx, set, a->lock_ms);
	return rc;
}

/* The environment's hooks (issue #20): before the run (a failure stops
 * it: EXIT_FAILED, nothing applied), after it (outcome success), or
 * on_error (outcome failed); a failing after or on_error hook is a
 * warning: the run's own exit code stands. A signal to the applier
 * stops the hook (ops/hooks.c): a before hook so stopped exits 128 + it. *how says how it ended (its
 * exit_status -1 and started_ms 0 when there was no hook to run). */
static int run_hook(const struct apply_policy *ap, const struct apply_args *a,
		    const struct apply_set *set, const struct apply_result *res, const char *which,
		    int run_rc, struct hook_outcome *how)
{
	const struct policy_env *h = ap->active ? ap->ac.env.hooks : NULL;
	const char *cmd = !h ? NULL : !strcmp(which, "before") ? h->hook_before
			  : !strcmp(which, "after") ? h->hook_after : h->hook_on_error;
	struct hook_facts f;
	char code[16];
	int rc;

	memset(how, 0, sizeof(*how));
	how->exit_status = -1;
	if (!cmd)
		return EXIT_OK;
	memset(&f, 0, sizeof(f));
	snprintf(code, sizeof(code), "%d", run_rc);
	f.bundle = a->bundle;
	f.bundle_id = set->bundle_id;
	f.env = a->env;
	f.from_version = res->from_version;
	f.to_version = res->to_version;
	f.outcome = !strcmp(which, "before") ? "pending" : run_rc ? "failed" : "success";
	f.error = run_rc ? code : NULL;
	f.pending = set->n;
	if (hook_run(which, cmd, h->hook_timeout_ms, &f, how) == 0)
		return EXIT_OK;
	if (strcmp(which, "before")) {
		warning_msg("%s", cairn_error_last());
		return EXIT_OK;
	}
	/* SIGINT/SIGTERM/SIGHUP stopped the before hook: 128 + the signal */
	rc = how->interrupted ? 128 + how->interrupted : EXIT_FAILED;
	if (a->json)
		apply_ctx_json_error(NULL, rc, cairn_error_last(), "unchanged", NULL);
	error_msg("%s: nothing was applied; the database is unchanged", cairn_error_last());
	return rc;
}

/* The after or on_error hook that ran once the run had committed and let
 * go of its lock, recorded as an audit row of its own (action "hook"),
 * the lock taken again and the chain checked first. Not recorded: a run
 * that never got the lock (another holds it) or a database without books;
 * a row that cannot be written is a warning, like the hook's failure. */
static void record_hook(struct apply_ctx *ctx, const struct apply_args *a,
			const struct apply_set *set, const struct apply_policy *ap,
			const char *which, const struct hook_outcome *how, int run_rc)
{
	struct apply_opts o;
	char *detail, *builders;
	int written = 0;

	if (!how->started_ms || run_rc == EXIT_LOCKED || !ctx->db)
		return;
	detail = hook_outcome_detail(which, how);
	memset(&o, 0, sizeof(o));
	o.env = a->env;
	o.lock_timeout_ms = a->lock_ms;
	o.project = set->bundle ? set->bundle->project : NULL;
	o.builders = builders = apply_policy_builders(ap, a->keys, a->nkeys);
	o.identity_override = apply_policy_overrides(ap, POLICY_OVERRIDE_IDENTITY);
	o.policy = ap->active;
	o.evidence = ap->ext_note; /* the server connected, as in the run's rows */
	if (engine_note(ctx->db, ctx->drv, "hook", set->bundle_id, detail, &o, &written) !=
	    EXIT_OK)
		warning_msg("the %s hook ran, but its audit row was not written: %s", which,
			    cairn_error_last());
	free(builders);
	free(detail);
}

/* The receipt, with the checkpoint of the books' head the run left. */
static int receipt_with_checkpoint(struct apply_ctx *ctx, struct apply_policy *ap,
				   const char *bundle, const char *env,
				   const struct receipt_key *rkey)
{
	struct buf line = BUF_INIT;
	int rc;

	if (checkpoint_make(ctx, rkey, &line, NULL) < 0) {
		error_msg("the migrations are applied, but no receipt was signed: %s",
			  cairn_error_last());
		rc = EXIT_ENVIRONMENT;
	} else {
		rc = apply_policy_receipt(ap, ctx, bundle, env, rkey, line.ptr);
	}
	buf_release(&line);
	return rc;
}

int apply_run_db(struct apply_ctx *ctx, const struct apply_run *r, struct apply_result *res)
{
	struct apply_args a;
	struct hook_outcome how;
	const char *which;
	char *hook_note = NULL;
	int rc;

	memset(&a, 0, sizeof(a));
	a.env = r->env;
	a.dsn = r->dsn;
	a.db_flag = r->db_flag;
	a.to = r->to;
	a.config = r->config;
	a.bundle = r->bundle;
	a.keys = r->keys;
	a.nkeys = r->nkeys;
	a.json = ctx->json;
	a.atomic = r->atomic;
	a.lock_ms = r->lock_ms;
	a.signs_receipt = r->rkey != NULL;
	rc = checkpoint_check_before(ctx, r->cpo);
	if (rc == EXIT_OK)
		rc = apply_policy_check_db(r->ap, ctx, r->bundle, 0);
	if (rc != EXIT_OK)
		return rc;
	if ((rc = run_hook(r->ap, &a, r->set, res, "before", 0, &how)) != EXIT_OK)
		return rc;
	/* the before hook that ran: in every audit row of the run */
	if (how.started_ms)
		a.hook_note = hook_note = hook_outcome_detail("before", &how);
	rc = finish(ctx, &a, run(ctx, r->ap, &a, r->set, res), res, r->set);
	free(hook_note);
	which = rc == EXIT_OK ? "after" : "on_error";
	run_hook(r->ap, &a, r->set, res, which, rc, &how);
	record_hook(ctx, &a, r->set, r->ap, which, &how, rc);
	/* the chain's head, kept outside the database, whatever the run did */
	rc = checkpoint_after_run(ctx, r->cpo, rc);
	/* proof for the next environment that this bundle ran here, with the
	 * books' head it left */
	if (rc == EXIT_OK && r->rkey)
		rc = receipt_with_checkpoint(ctx, r->ap, r->receipt_path ? r->receipt_path : r->bundle,
					     r->env, r->rkey);
	return rc;
}

/* --metrics-file: the run's metrics, whatever its outcome (but a usage
 * error or a dry run). A file that cannot be written is a warning: the
 * run's exit code says what happened to the database. */
static void write_metrics(const struct apply_args *a, struct run_metrics *m,
			  const struct apply_set *set, const struct apply_result *res, int rc)
{
	if (!a->metrics || a->dry || rc == EXIT_USAGE)
		return;
	m->env = a->env;
	m->bundle = set->bundle_id;
	m->from_version = res->from_version;
	m->to_version = res->to_version;
	if (res->lock_tried)
		m->lock_wait_ms = res->lock_wait_ms;
	m->lock_retries = res->lock_retries;
	m->lock_retry_wait_ms = res->lock_retry_wait_ms;
	m->lag_waits = res->lag_waits;
	m->lag_wait_ms = res->lag_wait_ms;
	m->batch_rows_per_s = res->rows_per_s;
	if (run_metrics_write(m, a->metrics, rc, apply_interrupted) < 0)
		warning_msg("cannot write the metrics to '%s': %s", a->metrics, cairn_error_last());
}

int cmd_apply(int argc, char **argv)
{
	struct apply_run r;
	struct apply_args a;
	struct apply_policy ap;
	struct apply_ctx ctx;
	struct apply_set set;
	struct apply_result res;
	struct early_open early;
	struct receipt_key *rkey = NULL;
	struct run_metrics metrics;
	int rc;

	run_metrics_init(&metrics, NULL, NULL);
	memset(&a, 0, sizeof(a));
	memset(&ctx, 0, sizeof(ctx));
	memset(&early, 0, sizeof(early));
	memset(&set, 0, sizeof(set));
	memset(&res, 0, sizeof(res));
	memset(&ap, 0, sizeof(ap));
	rc = parse_args(&a, argc, argv);
	if (rc == EXIT_OK)
		rc = apply_policy_begin(&ap, &cmd_apply_desc, a.config, &a.env, &a.dsn,
					a.lock_flag, &a.lock_ms, a.nkeys);
	if (rc == EXIT_OK && !a.env)
		rc = usage_error(&cmd_apply_desc, "missing --env ENV");
	else if (rc == EXIT_OK && !a.dsn)
		rc = usage_error(&cmd_apply_desc, "missing --db DSN");
	if (rc != EXIT_OK)
		goto out;
	/* The receipt key is unlocked first: a wrong passphrase found after
	 * the migrations ran would leave the database changed and no receipt. */
	if (a.receipt_key && receipt_key_load(&rkey, a.receipt_key) < 0) {
		error_msg("cannot use --receipt-key: %s", cairn_error_last());
		error_msg("nothing was applied: the database is unchanged");
		rc = EXIT_ENVIRONMENT;
		goto out;
	}
	checkpoint_opts_from_config(&a.cpo, &ap);
	if (!a.dry && (rc = checkpoint_opts_load(&a.cpo, rkey)) != EXIT_OK)
		goto out;
	/* Verify before touching the database: a refused bundle writes nothing,
	 * creates nothing and takes no lock. Where the driver says it is
	 * harmless, the database is opened meanwhile on a second thread. */
	ctx.json = a.json;
	ctx.sql_when_run = !a.dry; /* --dry-run prints every pending step's SQL */
	ctx.drv = driver_for_dsn(a.dsn);
	if (!ctx.drv) {
		error_msg("%s", cairn_error_last());
		rc = EXIT_USAGE;
		goto out;
	}
	early_open_start(&early, ctx.drv, a.dsn, a.dry);
	ctx.early = &early;
	rc = apply_policy_load_bundle(&ap, &ctx, a.bundle, 0, a.keys, a.nkeys, &set);
	ctx.early = NULL;
	if (rc == EXIT_OK)
		rc = apply_ctx_open_early(&ctx, &cmd_apply_desc, &early, a.dsn, a.dry, a.json);
	if (rc == EXIT_OK && a.preflight)
		rc = preflight_gate(&ctx, &ap, &set, a.env, a.to, rkey != NULL);
	if (rc != EXIT_OK)
		goto out;
	if (a.dry) {
		rc = apply_policy_check_db(&ap, &ctx, a.bundle, 0);
		if (rc == EXIT_OK)
			rc = plan_show(&ctx, &set, a.env, a.to, &ap);
		goto out;
	}
	ctx.metrics = a.metrics ? &metrics : NULL; /* opening the database cleared ctx */
	memset(&r, 0, sizeof(r));
	r.bundle = a.bundle;
	r.env = a.env;
	r.to = a.to;
	r.atomic = a.atomic;
	r.lock_ms = a.lock_ms;
	r.keys = a.keys;
	r.nkeys = a.nkeys;
	r.db_flag = a.db_flag;
	r.dsn = a.dsn;
	r.config = a.config;
	r.ap = &ap;
	r.set = &set;
	r.cpo = &a.cpo;
	r.rkey = rkey;
	rc = apply_run_db(&ctx, &r, &res);
out:
	write_metrics(&a, &metrics, &set, &res, rc);
	run_metrics_release(&metrics);
	checkpoint_opts_release(&a.cpo);
	receipt_key_free(rkey);
	early_open_drop(&early);
	apply_result_release(&res);
	apply_set_release(&set);
	apply_ctx_close(&ctx);
	apply_policy_release(&ap);
	free(a.keys);
	return rc;
}
