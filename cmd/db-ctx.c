/* What cairn-apply's verbs share: the database, the event printer, the
 * closing messages. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../lib/buf.h"
#include "../lib/checkpoint.h"
#include "../lib/error.h"
#include "../lib/thread.h"
#include "../lib/trace.h"
#include "../lib/util.h"
#include "../ops/metrics.h"
#include "../policy/config.h"
#include "cairn-apply.h"

/* the run SIGINT/SIGTERM interrupt (apply_ctx_catch_signals, below) */
volatile sig_atomic_t apply_interrupted;
static struct apply_ctx *volatile signal_ctx;

int parse_log_format(const struct cmd *c, const char *arg, int *json)
{
	return parse_format(c, arg, json);
}

static void ctx_init(struct apply_ctx *c, const struct cmd *cmd, const char *dsn, int json)
{
	memset(c, 0, sizeof(*c));
	c->cmd = cmd;
	c->dsn = dsn;
	c->json = json;
	c->tty = isatty(STDOUT_FILENO) && !json;
}

int apply_ctx_open(struct apply_ctx *c, const struct cmd *cmd, const char *dsn, unsigned flags,
		   int json)
{
	int rc;

	ctx_init(c, cmd, dsn, json);
	c->drv = driver_for_dsn(dsn);
	if (!c->drv) {
		error_msg("%s", cairn_error_last());
		return EXIT_USAGE;
	}
	if ((rc = c->drv->open(&c->db, dsn, flags)) != 0) {
		const char *msg = cairn_error_last();
		int code = rc == DRIVER_BAD_DSN ? EXIT_USAGE : EXIT_ENVIRONMENT;

		if (json)
			apply_ctx_json_error(c, code, msg, "unchanged", NULL);
		error_msg("%s", msg);
		return code;
	}
	return 0;
}

static void *early_open_run(void *arg)
{
	struct early_open *e = arg;

	e->rc = e->drv->open(&e->db, e->dsn, e->flags);
	return NULL;
}

void early_open_start(struct early_open *e, const struct driver *drv, const char *dsn,
		      int readonly)
{
	memset(e, 0, sizeof(*e));
	if (!drv || !drv->open_early || !drv->open_early(dsn))
		return;
	e->drv = drv;
	e->dsn = dsn;
	/* apply reads the rows compact for its guard and plan (engine_apply's
	 * books_plan); --dry plans from the whole rows */
	e->flags = (readonly ? DRIVER_OPEN_READONLY : DRIVER_OPEN_BRIEF) | DRIVER_OPEN_PREFETCH;
	/* no thread (out of resources): the ordinary open after verification */
	e->started = thread_start_apart(&e->thread, early_open_run, e) == 0;
}

struct db *early_open_wait(struct early_open *e)
{
	if (!e->started)
		return NULL;
	if (!e->joined)
		pthread_join(e->thread, NULL);
	e->joined = 1;
	return e->rc == 0 ? e->db : NULL;
}

static struct db *early_open_take(struct early_open *e)
{
	struct db *db;

	if (!e->started)
		return NULL;
	if (!e->joined)
		pthread_join(e->thread, NULL);
	e->started = e->joined = 0;
	db = e->rc == 0 ? e->db : NULL;
	e->db = NULL;
	return db;
}

void early_open_drop(struct early_open *e)
{
	struct db *db = early_open_take(e);

	if (db)
		e->drv->close(db);
}

int apply_ctx_open_early(struct apply_ctx *c, const struct cmd *cmd, struct early_open *e,
			 const char *dsn, int readonly, int json)
{
	struct db *db;

	if (e->started && (e->flags & DRIVER_OPEN_READONLY) == (readonly ? DRIVER_OPEN_READONLY : 0u) &&
	    (db = early_open_take(e))) {
		ctx_init(c, cmd, dsn, json);
		c->drv = e->drv;
		c->db = db;
		return 0;
	}
	early_open_drop(e);
	return apply_ctx_open(c, cmd, dsn, readonly ? DRIVER_OPEN_READONLY : 0, json);
}

void apply_ctx_close(struct apply_ctx *c)
{
	if (signal_ctx == c)
		apply_ctx_release_signals();
	if (c->drv && c->db)
		c->drv->close(c->db);
	c->db = NULL;
	if (c->checkpoint)
		checkpoint_release(c->checkpoint);
	free(c->checkpoint);
	c->checkpoint = NULL;
}

static long long wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *event_name(enum apply_event_type t)
{
	switch (t) {
	case EV_PLAN: return "plan";
	case EV_START: return "start";
	case EV_BATCH: return "batch";
	case EV_APPLIED: return "done";
	case EV_FAILED: return "failed";
	case EV_SKIPPED: return "skipped";
	case EV_DRIFT: return "drift";
	case EV_MISSING: return "missing";
	case EV_BLOCKED: return "blocked";
	case EV_DONE: return "finished";
	case EV_LOCK_RETRY: return "lock-retry";
	case EV_LAG_WAIT: return "lag-wait";
	case EV_BATCH_STOP: return "batch-stopped";
	}
	return "?";
}

static void json_field(struct buf *b, const char *key, const char *val)
{
	if (!val)
		return;
	buf_printf(b, ",\"%s\":", key);
	buf_put_json_string(b, val);
}

static void print_json_event(const struct apply_event *ev)
{
	struct buf b = BUF_INIT;
	char at[32];

	engine_now(at);
	buf_puts(&b, "{\"time\":");
	buf_put_json_string(&b, at);
	buf_puts(&b, ",\"event\":");
	buf_put_json_string(&b, event_name(ev->type));
	json_field(&b, "traceparent", trace_parent());
	json_field(&b, "action", ev->action);
	json_field(&b, "version", ev->version);
	json_field(&b, "migration", ev->name);
	json_field(&b, "environment", ev->environment);
	json_field(&b, "bundle", ev->bundle_id);
	if (ev->type == EV_DRIFT) {
		json_field(&b, "checksum", ev->checksum);
		json_field(&b, "applied_checksum", ev->row ? ev->row->checksum : NULL);
		json_field(&b, "applied_by_bundle", ev->row ? ev->row->bundle_id : NULL);
		json_field(&b, "applied_at", ev->row ? ev->row->applied_at : NULL);
	}
	if (ev->type == EV_BLOCKED || ev->type == EV_MISSING) {
		json_field(&b, "state", ev->row ? ev->row->state : NULL);
		json_field(&b, "error", ev->row ? ev->row->error : NULL);
		if (ev->row && ev->row->statement >= 0)
			buf_printf(&b, ",\"statement\":%lld", ev->row->statement + 1);
	}
	json_field(&b, "error", ev->error);
	json_field(&b, "reason", ev->reason);
	if (ev->type == EV_LOCK_RETRY) {
		json_field(&b, "blockers", ev->blockers);
		buf_printf(&b, ",\"attempt\":%u,\"retry_in_ms\":%lld", ev->attempt,
			   ev->duration_ms);
	}
	if (ev->type == EV_START || ev->type == EV_APPLIED || ev->type == EV_FAILED ||
	    ev->type == EV_BATCH)
		buf_printf(&b, ",\"index\":%zu,\"total\":%zu", ev->index, ev->total);
	if (ev->type == EV_PLAN || ev->type == EV_DONE)
		buf_printf(&b, ",\"count\":%zu", ev->total);
	if (ev->type == EV_BATCH || ev->type == EV_BATCH_STOP)
		buf_printf(&b, ",\"batches\":%lld,\"rows\":%lld,\"rows_per_s\":%lld", ev->batches,
			   ev->rows, ev->rows_per_s);
	if (ev->type == EV_LAG_WAIT)
		buf_printf(&b, ",\"batches\":%lld,\"%s\":%lld", ev->batches,
			   ev->lag_bytes ? "lag_bytes" : "lag_ms",
			   ev->lag_bytes ? ev->lag_bytes : ev->lag_ms);
	if (ev->type == EV_APPLIED || ev->type == EV_FAILED || ev->type == EV_DONE ||
	    ev->type == EV_BATCH || ev->type == EV_BATCH_STOP || ev->type == EV_LAG_WAIT)
		buf_printf(&b, ",\"duration_ms\":%lld", ev->duration_ms);
	buf_puts(&b, "}\n");
	fwrite(b.ptr, 1, b.len, stdout);
	buf_release(&b);
}

/* Issue #22: a migration that timed out waiting for a lock, rolled back;
 * who held it, and the pause before the next attempt (or none left). */
static void print_lock_retry(const struct apply_event *ev)
{
	const char *p = ev->blockers;

	if (ev->duration_ms >= 0)
		printf("  %s: attempt %u waited too long for a lock and was rolled back; "
		       "retrying in %lld ms\n", ev->name, ev->attempt, ev->duration_ms);
	else
		printf("  %s: attempt %u waited too long for a lock and was rolled back; "
		       "the lock retry budget is spent\n", ev->name, ev->attempt);
	printf("    %s\n", ev->error ? ev->error : "");
	if (!p)
		printf("    no other session seen holding a lock on its tables\n");
	while (p && *p) {
		const char *nl = strchr(p, '\n');
		int len = nl ? (int)(nl - p) : (int)strlen(p);

		printf("    held by %.*s\n", len, p);
		p = nl ? nl + 1 : p + len;
	}
}

static void end_progress(struct apply_ctx *c)
{
	if (c->progress_open) {
		fputs("\r\033[K", stdout);
		c->progress_open = 0;
	}
}

void apply_ctx_event(void *ctx, const struct apply_event *ev)
{
	struct apply_ctx *c = ctx;
	int rb = ev->action && !strcmp(ev->action, "rollback");

	if (c->metrics)
		run_metrics_event(c->metrics, ev);
	if (c->json) {
		print_json_event(ev);
		if (ev->type == EV_PLAN || ev->type == EV_FAILED || ev->type == EV_DONE ||
		    wall_ms() - c->last_flush >= 100) {
			fflush(stdout);
			c->last_flush = wall_ms();
		}
		return;
	}
	switch (ev->type) {
	case EV_PLAN:
		if (ev->total)
			printf("%s %zu migration%s on %s%s%s\n", rb ? "rolling back" : "applying",
			       ev->total, ev->total == 1 ? "" : "s", c->drv->display_name(c->db),
			       ev->environment ? " for " : "", ev->environment ? ev->environment : "");
		break;
	case EV_START:
		if (c->tty) {
			printf("\r\033[K[%zu/%zu] %s %s ...", ev->index, ev->total,
			       rb ? "rolling back" : "applying", ev->name);
			c->progress_open = 1;
			fflush(stdout);
		}
		break;
	case EV_BATCH:
		if (c->tty) {
			printf("\r\033[K[%zu/%zu] %s: batch %lld, %lld rows so far", ev->index,
			       ev->total, ev->name, ev->batches, ev->rows);
			c->progress_open = 1;
			fflush(stdout);
		} else if (ev->batches == 1 || wall_ms() - c->last_batch_print >= 1000) {
			printf("  %s: batch %lld, %lld rows so far\n", ev->name, ev->batches, ev->rows);
			c->last_batch_print = wall_ms();
			fflush(stdout);
		}
		break;
	case EV_APPLIED:
		end_progress(c);
		printf("%s %s (%lld ms)\n", rb ? "rolled back" : "applied", ev->name, ev->duration_ms);
		break;
	case EV_FAILED:
		end_progress(c);
		printf("FAILED %s (%lld ms)\n", ev->name, ev->duration_ms);
		break;
	case EV_SKIPPED:
		printf("skipped %s: %s\n", ev->name, ev->reason);
		break;
	case EV_DRIFT:
		fflush(stdout);
		error_msg("drift: %s was applied with checksum %s (by bundle %s at %s), but "
			  "the bundle has %s",
			  ev->name, ev->row->checksum,
			  *ev->row->bundle_id ? ev->row->bundle_id : "(none recorded)",
			  *ev->row->applied_at ? ev->row->applied_at : "an unknown time", ev->checksum);
		break;
	case EV_MISSING:
		fflush(stdout);
		warning_msg("%s is applied in the database (by bundle %s) but is not in this bundle",
			    ev->row->name,
			    *ev->row->bundle_id ? ev->row->bundle_id : "(none recorded)");
		break;
	case EV_BLOCKED:
		fflush(stdout);
		if (!strcmp(ev->row->state, BK_IN_PROGRESS) && ev->row->statement >= 0)
			error_msg("%s did not finish: a run stopped at statement %lld of its up script, "
				  "outside a transaction (transaction: false), so nothing rolled it back",
				  ev->row->name, ev->row->statement + 1);
		else if (!strcmp(ev->row->state, BK_IN_PROGRESS))
			error_msg("%s did not finish: a run stopped before its first statement "
				  "completed (transaction: false)", ev->row->name);
		else
			error_msg("%s failed in an earlier run: %s", ev->row->name,
				  ev->row->error ? ev->row->error : "no error recorded");
		break;
	case EV_DONE:
		end_progress(c);
		break;
	case EV_LOCK_RETRY:
		end_progress(c);
		print_lock_retry(ev);
		break;
	case EV_LAG_WAIT:
		end_progress(c);
		printf("  %s: the standby lags %lld %s, over max_replication_lag: waiting %lld ms "
		       "before batch %lld\n", ev->name, ev->lag_bytes ? ev->lag_bytes : ev->lag_ms,
		       ev->lag_bytes ? "bytes" : "ms", ev->duration_ms, ev->batches + 1);
		break;
	case EV_BATCH_STOP:
		end_progress(c);
		printf("  %s: batch %lld, %lld rows so far (%lld rows/s)\n", ev->name, ev->batches,
		       ev->rows, ev->rows_per_s);
		break;
	}
	/* Not a terminal (a CI log, a pipe): lines come out at least every
	 * 100 ms, without a write per migration when they are fast. */
	if (!c->tty && (ev->type == EV_PLAN || ev->type == EV_FAILED || ev->type == EV_DONE ||
			wall_ms() - c->last_flush >= 100)) {
		fflush(stdout);
		c->last_flush = wall_ms();
	}
}

void apply_ctx_json_error(struct apply_ctx *c, int code, const char *message, const char *state,
			  const char *next)
{
	struct buf b = BUF_INIT;
	char at[32];

	(void)c;
	engine_now(at);
	buf_puts(&b, "{\"time\":");
	buf_put_json_string(&b, at);
	buf_puts(&b, ",\"event\":\"error\"");
	json_field(&b, "traceparent", trace_parent());
	buf_printf(&b, ",\"exit\":%d,\"message\":", code);
	buf_put_json_string(&b, message);
	json_field(&b, "database", state);
	json_field(&b, "next", next);
	buf_puts(&b, "}\n");
	fwrite(b.ptr, 1, b.len, stdout);
	fflush(stdout);
	buf_release(&b);
}

void apply_ctx_fail(struct apply_ctx *c, int code, const char *message, const char *state,
		    const char *next)
{
	end_progress(c);
	fflush(stdout);
	if (c->json)
		apply_ctx_json_error(c, code, message, state, next);
	error_msg("%s", message);
	if (state)
		error_msg("the database %s", state);
	if (next)
		error_msg("next: %s", next);
}

int parse_lock_timeout(const struct cmd *c, const char *arg, unsigned long long *ms)
{
	if (parse_duration_ms(arg, ms))
		return usage_error(c, "--lock-timeout must be a duration such as 30s, 500ms or 2m, "
				      "not '%s'", arg);
	return 0;
}

char *apply_target_args(const char *db_flag, const char *dsn, const char *env, const char *config)
{
	char *shown = NULL, *q = NULL, *qc = NULL, *out;

	if (db_flag || !env) {
		shown = dsn_mask(db_flag ? db_flag : dsn);
		q = shell_quote(shown);
		out = xasprintf("--db %s", q);
	} else {
		q = shell_quote(env);
		qc = config ? shell_quote(config) : NULL;
		out = xasprintf("--env %s%s%s", q, qc ? " --config " : "", qc ? qc : "");
	}
	free(shown);
	free(q);
	free(qc);
	return out;
}

void apply_ctx_fail_unchanged(struct apply_ctx *c, int code, int see_status, const char *target)
{
	char *next = see_status ? xasprintf("see 'cairn-apply status %s'", target) : NULL;

	apply_ctx_fail(c, code, cairn_error_last(), "is unchanged", next);
	free(next);
}

/* SIGINT, SIGTERM and SIGHUP (the terminal or ssh session that started
 * the run closed: the run must not die halfway like a SIGKILL): the first asks the run to stop (the engine checks
 * apply_interrupted between steps and statements) and cancels the running
 * statement through the driver, whose cancel is async-signal-safe; the
 * engine then rolls back and records the interruption, and the lock is
 * released as on any failure, after the server has stopped the statement.
 * A second signal takes its default action. Installed even when the shell
 * ignores the signal (a background job): a run must be stoppable. */

static void on_signal(int sig)
{
	struct apply_ctx *c = signal_ctx;

	apply_interrupted = sig;
	signal(sig, SIG_DFL);
	if (c && c->drv && c->db && c->drv->cancel)
		c->drv->cancel(c->db);
}

void apply_ctx_catch_signals(struct apply_ctx *c)
{
	struct sigaction sa;

	if (!c->drv || !c->drv->cancel)
		return; /* nothing could stop the statement: the default action */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	signal_ctx = c;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

void apply_ctx_release_signals(void)
{
	sigset_t set, old;

	/* the handler must not see the connection while it is closed */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, &old);
	signal_ctx = NULL;
	sigprocmask(SIG_SETMASK, &old, NULL);
}

int apply_ctx_interrupt_books(struct apply_ctx *c, int rc, const char *what)
{
	char *m = rc == EXIT_OK ? xasprintf("the signal came after the %s was recorded", what)
				: xasprintf("the %s was not recorded (%s)", what, cairn_error_last());
	int code = apply_ctx_interrupt_exit(c, m);

	free(m);
	return code;
}

int apply_ctx_interrupt_exit(struct apply_ctx *c, const char *what)
{
	int sig = apply_interrupted;

	error_msg("interrupted by %s: %s", stop_signal_name(sig), what);
	(void)c;
	return 128 + sig;
}
