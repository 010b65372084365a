/* cairn-apply fleet: one verified bundle to many databases (issue #21). */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../fleet/metrics.h"
#include "../fleet/result.h"
#include "../fleet/run.h"
#include "../fleet/targets.h"
#include "../lib/buf.h"
#include "../lib/error.h"
#include "../lib/util.h"
#include "../policy/config.h"
#include "../receipt/receipt.h"
#include "../apply/load.h"
#include "../ops/backup.h"
#include "apply-run.h"
#include "cairn-apply.h"

#define DEFAULT_LOCK_TIMEOUT_MS 15000ull

const struct cmd cmd_fleet_desc = {
	"fleet", cmd_fleet,
	"apply one bundle to many databases: canary, waves, shards, results",
	"cairn-apply fleet BUNDLE --env ENV --targets FILE|- [--config FILE | --key PUB...]\n"
	"       cairn-apply fleet BUNDLE --env ENV [--targets FILE] [--canary N] [--wave N|P%] [--parallel P] [--halt-on N]\n"
	"       cairn-apply fleet BUNDLE --env ENV [--targets FILE] [--shard I/N] [--result FILE] [--resume FILE]\n"
	"       cairn-apply fleet BUNDLE --env ENV [--receipt-key KEY --receipt-dir DIR] [--lock-timeout D] [--log-format text|json]\n"
	"       cairn-apply fleet BUNDLE --env ENV [--targets FILE] [--metrics FILE] [--trail-dir DIR]",
	"Verifies BUNDLE and checks the environment's policy once, then applies it to\n"
	"each target as 'cairn-apply apply' would, in a process of its own: each\n"
	"target takes its own lock, checks its own identity and books, and writes its\n"
	"own bookkeeping, audit rows, checkpoint and receipt. A target refused or\n"
	"failed is counted failed; the others go on (see --halt-on).\n"
	"\n"
	"Targets, one a line: 'NAME DSN' or a DSN ('#' comments, blank lines). DSN is\n"
	"sqlite:PATH, postgres://..., a libpq keyword string, env:VARIABLE or\n"
	"file:PATH; a DSN written out may not hold a password. Without --targets,\n"
	"the environment's targets: list in the config. A bad line is an error\n"
	"naming FILE:LINE, and nothing runs.\n"
	"\n"
	"Options:\n"
	"   --env ENV          the environment (else $CAIRN_ENV)\n"
	"   --config FILE      the applier's config (else $CAIRN_APPLY_CONFIG, else\n"
	"                      ./cairn-apply.yaml)\n"
	"   --key PUB          trust builds signed by this key (no config; repeatable)\n"
	"   --targets FILE     the targets file; - reads standard input\n"
	"   --canary N         apply to the first N targets first; any failure stops\n"
	"                      the fleet there\n"
	"   --wave N|P%        then N targets (or P% of them) per wave; a wave starts\n"
	"                      when the one before ended (default: one wave)\n"
	"   --parallel P       targets at once, one process each (default: SQLite twice\n"
	"                      the CPUs, at most 16; PostgreSQL 1)\n"
	"   --halt-on N        after N failures start nothing new; running targets\n"
	"                      finish (default: never)\n"
	"   --shard I/N        only the targets whose name hashes to I of N (FNV-1a\n"
	"                      64-bit of the name, modulo N; the first shard is 0/N)\n"
	"   --result FILE      append a JSON line per target to FILE\n"
	"   --resume FILE      skip the targets FILE says applied or current; retry\n"
	"                      the failed and the never started (appends to FILE\n"
	"                      unless --result names another)\n"
	"   --receipt-key KEY  a receipt per target, signed by KEY, added to a copy of\n"
	"                      the bundle in --receipt-dir DIR (NAME.tar.gz)\n"
	"   --trail-dir DIR    write each target's audit trail, as 'history --format\n"
	"                      json' with the target's name, to DIR/NAME.json (for\n"
	"                      'report')\n"
	"   --checkpoint FILE  append each target's signed checkpoint to FILE\n"
	"   --checkpoint-key KEY  the key that signs checkpoints\n"
	"   --metrics FILE     write the run's Prometheus metrics to FILE (replaced at\n"
	"                      the end: node_exporter's textfile collector reads it)\n"
	"   --to VERSION, --atomic, --lock-timeout D  as for apply, for every target\n"
	"   --log-format F     text: progress on a terminal; json (the default when\n"
	"                      standard output is not a terminal): one object per event\n"
	"\n"
	"Exit status: 0 every target applied or current, 1 a target failed or was\n"
	"not started (canary, --halt-on), 2 usage or a bad targets file, 3 bundle\n"
	"refused (no target touched), 6 a file cannot be read or written, 128+N\n"
	"stopped by signal N (running targets stop as apply does; none is left\n"
	"half-booked).\n",
};

struct fleet_ctx {
	struct fleet_targets targets;
	struct fleet_results previous;  /* --resume */
	size_t *todo;                   /* indexes of targets to run */
	size_t ntodo;
	const struct driver *drv;
	struct apply_run run;
	const char *receipt_dir;
	const char *trail_dir;          /* --trail-dir */
	FILE *result;
	const char *result_path;
	char *shard;                    /* "I/N" or NULL */
	int json, tty;
	size_t ok, waiting, stopped; /* waiting: exit 7, stopped: exit 8 */
	struct fleet_metrics metrics;
};

/* The target's process (fleet/run.h, apply_one). */
static int apply_one(void *vctx, size_t k, FILE *result)
{
	struct fleet_ctx *f = vctx;
	const struct fleet_target *t = &f->targets.items[f->todo[k]];
	struct apply_ctx ctx;
	struct apply_result res;
	struct apply_run run = f->run;
	char *dsn = NULL, *receipt = NULL;
	int rc;

	memset(&ctx, 0, sizeof(ctx));
	memset(&res, 0, sizeof(res));
	if (fleet_target_dsn(t, &dsn) < 0) {
		error_msg("%s", cairn_error_last());
		rc = EXIT_ENVIRONMENT;
		goto out;
	}
	if (driver_for_dsn(dsn) != f->drv) {
		error_msg("target '%s' is not a %s database: a fleet applies one driver's SQL",
			  t->name, f->drv->name);
		rc = EXIT_USAGE;
		goto out;
	}
	if ((rc = apply_ctx_open(&ctx, &cmd_fleet_desc, dsn, 0, 0)) != EXIT_OK)
		goto out;
	run.dsn = run.db_flag = dsn;
	if (run.rkey) {
		struct buf b = BUF_INIT;

		receipt = xasprintf("%s/%s.tar.gz", f->receipt_dir, t->name);
		if (read_file(run.bundle, 0, &b) < 0 ||
		    write_file_atomic(receipt, b.ptr, b.len, 0644) < 0) {
			error_msg("cannot copy the bundle to '%s' for its receipt: %s", receipt,
				  cairn_error_last());
			buf_release(&b);
			rc = EXIT_ENVIRONMENT;
			goto out;
		}
		buf_release(&b);
		run.receipt_path = receipt;
	}
	rc = apply_run_db(&ctx, &run, &res);
	if (f->trail_dir) {
		/* after a failure too: its apply-failed rows are the news */
		char *path = xasprintf("%s/%s.json", f->trail_dir, t->name);

		if (trail_write(&ctx, path, t->name) < 0)
			error_msg("cannot write the audit trail of '%s' to '%s': %s (its outcome "
				  "stands)", t->name, path, cairn_error_last());
		free(path);
	}
	fprintf(result, "%s\n%s\n", res.from_version ? res.from_version : "",
		res.to_version ? res.to_version : "");
out:
	apply_result_release(&res);
	apply_ctx_close(&ctx);
	if (dsn) {
		memset(dsn, 0, strlen(dsn));
		free(dsn);
	}
	free(receipt);
	return rc;
}

static const char *outcome_of(const struct fleet_outcome *o)
{
	if (!o->started)
		return "not-started";
	if (o->exit)
		return fleet_outcome_of_exit(o->exit);
	if ((o->from || o->to) && (!o->from || !o->to || strcmp(o->from, o->to)))
		return "applied";
	return "current";
}

static void result_of(struct fleet_ctx *f, size_t k, const struct fleet_outcome *o,
		      struct fleet_result *r)
{
	const struct fleet_target *t = &f->targets.items[f->todo[k]];
	static char now[32];

	memset(r, 0, sizeof(*r));
	engine_now(now);
	r->target = t->name;
	r->dsn = t->kind == FLEET_DSN ? dsn_mask(t->value)
		 : xasprintf("%s:%s", t->kind == FLEET_DSN_ENV ? "env" : "file", t->value);
	r->from = o->from;
	r->to = o->to;
	r->outcome = (char *)outcome_of(o);
	r->exit = o->exit;
	r->duration_ms = o->duration_ms;
	r->error = o->error;
	r->bundle = f->run.set->bundle_id;
	r->env = (char *)f->run.env;
	r->shard = f->shard;
	r->time = now;
}

static void print_progress(struct fleet_ctx *f, const struct fleet_event *ev)
{
	double rate = ev->elapsed_ms > 0 ? ev->done * 1000.0 / (double)ev->elapsed_ms : 0;
	char eta[32] = "-";

	if (rate > 0 && snprintf(eta, sizeof(eta), "%.0fs",
				 (double)(ev->total - ev->done) / rate) >= (int)sizeof(eta))
		eta[0] = '\0';
	fprintf(stderr, "\rfleet: %zu/%zu done, %zu failed, %zu running, %.1f/s, ETA %s (%s%s)   ",
		ev->done, ev->total, ev->failed, ev->running, rate, eta, ev->phase,
		ev->wave ? "" : "");
	if (ev->type == FLEET_EV_END && ev->done == ev->total)
		fputc('\n', stderr);
	fflush(stderr);
}

static void on_event(void *vctx, const struct fleet_event *ev)
{
	struct fleet_ctx *f = vctx;
	struct fleet_result r;
	struct buf line = BUF_INIT;

	if (ev->type == FLEET_EV_END) {
		result_of(f, ev->index, ev->outcome, &r);
		fleet_result_format(&line, &r);
		if (f->result) {
			fputs(line.ptr, f->result);
			fflush(f->result);
		}
		if (!ev->outcome->exit)
			f->ok++;
		else if (!strcmp(r.outcome, "waiting"))
			f->waiting++;
		else if (!strcmp(r.outcome, "stopped"))
			f->stopped++;
		fleet_metrics_observe(&f->metrics, ev->outcome->duration_ms);
		fleet_metrics_outcome(&f->metrics, r.outcome);
		if (f->json) {
			printf("{\"event\":\"target-end\",%s", line.ptr + 1);
			fflush(stdout);
		} else if (!f->tty) {
			printf("%s: %s (%s -> %s, %lld ms)%s%s\n", r.target, r.outcome,
			       r.from ? r.from : "none", r.to ? r.to : "none", r.duration_ms,
			       r.error ? ": " : "", r.error ? r.error : "");
		}
		free(r.dsn);
	} else if (ev->type == FLEET_EV_START && f->json) {
		printf("{\"event\":\"target-start\",\"target\":");
		buf_put_json_string(&line, f->targets.items[f->todo[ev->index]].name);
		printf("%s,\"phase\":\"%s\",\"wave\":%zu}\n", line.ptr, ev->phase, ev->wave);
		fflush(stdout);
	}
	if (f->tty)
		print_progress(f, ev);
	buf_release(&line);
}

/* The targets: --targets FILE or - (stdin), else the config's targets: list. */
static int load_targets(struct fleet_ctx *f, const char *path, const struct apply_policy *ap)
{
	struct buf b = BUF_INIT;
	int rc = EXIT_OK;

	buf_init(&b, FLEET_FILE_MAX);
	if (!path) {
		const struct policy_env *pe = ap->active ? ap->ac.env.env : NULL;
		size_t i;

		if (!pe || !pe->ntargets)
			return usage_error(&cmd_fleet_desc, "missing --targets FILE (the environment "
					   "has no targets: list in the config)");
		for (i = 0; i < pe->ntargets; i++)
			if (fleet_targets_add_line(&f->targets, pe->targets[i].text, ap->ac.config.path,
						   pe->targets[i].line) < 0) {
				error_msg("%s", cairn_error_last());
				return EXIT_USAGE;
			}
		return EXIT_OK;
	}
	if (!strcmp(path, "-")) {
		char chunk[8192];
		size_t got;

		while ((got = fread(chunk, 1, sizeof(chunk), stdin)) > 0)
			if (buf_put(&b, chunk, got) < 0)
				break;
		if (ferror(stdin) || b.len >= FLEET_FILE_MAX) {
			error_msg("cannot read the targets from standard input");
			rc = EXIT_ENVIRONMENT;
		}
	} else if (read_file(path, FLEET_FILE_MAX, &b) < 0) {
		error_msg("cannot read the targets file '%s': %s", path, cairn_error_last());
		rc = EXIT_ENVIRONMENT;
	}
	if (rc == EXIT_OK && fleet_targets_parse(&f->targets, buf_cstr(&b), b.len, path) < 0) {
		error_msg("%s", cairn_error_last());
		rc = EXIT_USAGE;
	}
	buf_release(&b);
	return rc;
}

/* Every target's DSN must name the same driver, found before anything runs. */
static int check_drivers(struct fleet_ctx *f, const char *origin)
{
	size_t k;

	for (k = 0; k < f->ntodo; k++) {
		const struct fleet_target *t = &f->targets.items[f->todo[k]];
		const struct driver *d;
		char *dsn = NULL;

		if (fleet_target_dsn(t, &dsn) < 0) {
			error_msg("%s:%d: %s", origin, t->line, cairn_error_last());
			return EXIT_ENVIRONMENT;
		}
		d = driver_for_dsn(dsn);
		memset(dsn, 0, strlen(dsn));
		free(dsn);
		if (!d) {
			error_msg("%s:%d: %s", origin, t->line, cairn_error_last());
			return EXIT_USAGE;
		}
		if (!f->drv)
			f->drv = d;
		if (d != f->drv)
			return usage_error(&cmd_fleet_desc, "%s:%d: target '%s' is a %s database, the "
					   "first is %s: a fleet applies one driver's SQL", origin,
					   t->line, t->name, d->name, f->drv->name);
	}
	return EXIT_OK;
}

/* --resume: the targets without an applied or current line. */
static int pick_todo(struct fleet_ctx *f, const char *resume)
{
	struct buf b = BUF_INIT;
	size_t i;

	if (resume) {
		if (read_file(resume, FLEET_FILE_MAX, &b) < 0) {
			error_msg("cannot read the results '%s': %s", resume, cairn_error_last());
			return EXIT_ENVIRONMENT;
		}
		if (fleet_results_parse(&f->previous, buf_cstr(&b), b.len, resume) < 0) {
			error_msg("%s", cairn_error_last());
			buf_release(&b);
			return EXIT_USAGE;
		}
		buf_release(&b);
	}
	f->todo = xcalloc(f->targets.n ? f->targets.n : 1, sizeof(*f->todo));
	for (i = 0; i < f->targets.n; i++) {
		const struct fleet_result *r = fleet_results_find(&f->previous,
								  f->targets.items[i].name);

		if (!r || !fleet_outcome_ok(r->outcome))
			f->todo[f->ntodo++] = i;
	}
	return EXIT_OK;
}

struct fleet_opts {
	const char *env, *config, *targets, *result, *resume, *shard, *wave, *lock_flag;
	const char *receipt_key, *receipt_dir, *to, *metrics, *trail_dir;
	const char **keys;
	size_t nkeys;
	int json, json_set, atomic;
	unsigned long long lock_ms;
	struct fleet_sched sched;
	struct checkpoint_opts cpo;
};

static int parse_count(const char *opt, const char *arg, size_t *out, int zero_ok)
{
	char *end;
	unsigned long long v;

	v = strtoull(arg, &end, 10);
	if (!*arg || *end || arg[0] == '-' || (!zero_ok && !v) || v > 1000000)
		return usage_error(&cmd_fleet_desc, "%s must be a whole number%s, not '%s'", opt,
				   zero_ok ? "" : " above 0", arg);
	*out = (size_t)v;
	return EXIT_OK;
}

static int parse_wave(struct fleet_opts *o, const char *arg)
{
	size_t n, len = strlen(arg);
	char *num;
	int rc;

	if (len && arg[len - 1] == '%') {
		num = xstrndup(arg, len - 1);
		rc = parse_count("--wave", num, &n, 0);
		free(num);
		if (rc == EXIT_OK && n > 100)
			rc = usage_error(&cmd_fleet_desc, "--wave P%% takes 1 to 100, not '%s'", arg);
		o->sched.wave_pct = (unsigned)n;
		return rc;
	}
	return parse_count("--wave", arg, &o->sched.wave, 0);
}

static int parse_options(struct fleet_opts *o, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "env", required_argument, NULL, 'e' },
		{ "config", required_argument, NULL, 'C' },
		{ "key", required_argument, NULL, 'k' },
		{ "targets", required_argument, NULL, 'T' },
		{ "canary", required_argument, NULL, 'c' },
		{ "wave", required_argument, NULL, 'w' },
		{ "parallel", required_argument, NULL, 'p' },
		{ "halt-on", required_argument, NULL, 'H' },
		{ "shard", required_argument, NULL, 's' },
		{ "result", required_argument, NULL, 'r' },
		{ "resume", required_argument, NULL, 'u' },
		{ "receipt-key", required_argument, NULL, 'R' },
		{ "receipt-dir", required_argument, NULL, 'D' },
		{ "trail-dir", required_argument, NULL, 'Y' },
		{ "checkpoint", required_argument, NULL, 'P' },
		{ "checkpoint-key", required_argument, NULL, 'K' },
		{ "to", required_argument, NULL, 't' },
		{ "atomic", no_argument, NULL, 'a' },
		{ "lock-timeout", required_argument, NULL, 'l' },
		{ "log-format", required_argument, NULL, 'f' },
		{ "metrics", required_argument, NULL, 'M' },
		{ NULL, 0, NULL, 0 },
	};
	int c, rc = EXIT_OK;

	o->sched.parallel = 0; /* not given: fleet_default_parallel, once the driver is known */
	o->lock_ms = DEFAULT_LOCK_TIMEOUT_MS;
	while (rc == EXIT_OK && (c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'e': o->env = optarg; break;
		case 'C': o->config = optarg; break;
		case 'k': o->keys[o->nkeys++] = optarg; break;
		case 'T': o->targets = optarg; break;
		case 'c': rc = parse_count("--canary", optarg, &o->sched.canary, 1); break;
		case 'w': rc = parse_wave(o, optarg); break;
		case 'p': rc = parse_count("--parallel", optarg, &o->sched.parallel, 0); break;
		case 'H': rc = parse_count("--halt-on", optarg, &o->sched.halt_on, 1); break;
		case 's': o->shard = optarg; break;
		case 'r': o->result = optarg; break;
		case 'u': o->resume = optarg; break;
		case 'R': o->receipt_key = optarg; break;
		case 'D': o->receipt_dir = optarg; break;
		case 'Y': o->trail_dir = optarg; break;
		case 'P': o->cpo.file = optarg; break;
		case 'K': o->cpo.key_path = optarg; break;
		case 't': o->to = optarg; break;
		case 'M': o->metrics = optarg; break;
		case 'a': o->atomic = 1; break;
		case 'l':
			o->lock_flag = optarg;
			rc = parse_lock_timeout(&cmd_fleet_desc, optarg, &o->lock_ms);
			break;
		case 'f': rc = parse_format(&cmd_fleet_desc, optarg, &o->json); o->json_set = 1; break;
		default:
			rc = usage_error(&cmd_fleet_desc, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (rc != EXIT_OK)
		return rc;
	if (optind + 1 != argc)
		return usage_error(&cmd_fleet_desc, optind < argc ? "expected one BUNDLE" : "missing BUNDLE");
	if (!o->json_set)
		o->json = !isatty(STDOUT_FILENO);
	if (!!o->receipt_key != !!o->receipt_dir)
		return usage_error(&cmd_fleet_desc, "--receipt-key and --receipt-dir go together: "
				   "each target's receipt is added to its own copy of the bundle");
	if (o->receipt_key && o->to)
		return usage_error(&cmd_fleet_desc, "--receipt-key says the whole bundle ran: it "
				   "cannot go with --to");
	return EXIT_OK;
}

/* --metrics FILE: the run's Prometheus metrics, replaced whole. */
static int write_metrics(struct fleet_ctx *f, const char *path, const struct fleet_summary *sum)
{
	struct buf b = BUF_INIT;
	int rc;

	f->metrics.env = f->run.env;
	f->metrics.bundle = f->run.set->bundle_id;
	f->metrics.shard = f->shard;
	f->metrics.duration_ms = sum->elapsed_ms;
	f->metrics.end_unix = (long long)time(NULL);
	fleet_metrics_format(&b, &f->metrics);
	rc = write_file_atomic(path, b.ptr, b.len, 0644);
	if (rc < 0)
		error_msg("cannot write the metrics to '%s': %s", path, cairn_error_last());
	buf_release(&b);
	return rc;
}

/* Result lines for the targets that never started, and the closing words. */
static int finish_fleet(struct fleet_ctx *f, const struct fleet_opts *o,
			const struct fleet_outcome *out, const struct fleet_summary *sum)
{
	size_t k, not_started = 0;
	struct buf line = BUF_INIT;
	const char *why = sum->stop == FLEET_CANARY_FAILED ? "the canary failed"
			  : sum->stop == FLEET_HALTED ? "--halt-on was reached"
			  : sum->stop == FLEET_INTERRUPTED ? "the fleet was interrupted" : NULL;

	for (k = 0; k < f->ntodo; k++) {
		struct fleet_outcome none;
		struct fleet_result r;

		if (out[k].started)
			continue;
		not_started++;
		memset(&none, 0, sizeof(none));
		none.error = (char *)why;
		result_of(f, k, &none, &r);
		fleet_metrics_outcome(&f->metrics, r.outcome);
		buf_reset(&line);
		fleet_result_format(&line, &r);
		if (f->result)
			fputs(line.ptr, f->result);
		if (f->json)
			printf("{\"event\":\"target-end\",%s", line.ptr + 1);
		free(r.dsn);
	}
	buf_release(&line);
	if (f->json)
		printf("{\"event\":\"fleet-end\",\"targets\":%zu,\"ok\":%zu,\"failed\":%zu,"
		       "\"not_started\":%zu,\"waiting\":%zu,\"budget_stopped\":%zu,"
		       "\"stopped\":%s%s%s,\"duration_ms\":%lld}\n",
		       f->ntodo, f->ok, sum->failed, not_started, f->waiting, f->stopped,
		       why ? "\"" : "",
		       why ? why : "null", why ? "\"" : "", sum->elapsed_ms);
	fflush(stdout);
	if (f->result && fflush(f->result) != 0) {
		error_msg("cannot write the results to '%s'", f->result_path);
		return EXIT_ENVIRONMENT;
	}
	if (o->metrics && write_metrics(f, o->metrics, sum) < 0)
		return EXIT_ENVIRONMENT;
	fleet_expected_counts(&line, f->waiting, f->stopped);
	if (!f->json || f->tty)
		fprintf(stderr, "%s: fleet: %zu target%s: %zu applied or current, %s%zu failed, %zu "
			"not started%s%s%s%s%s\n", progname, f->ntodo, f->ntodo == 1 ? "" : "s", f->ok,
			buf_cstr(&line), sum->failed, not_started, why ? " (" : "", why ? why : "",
			why ? ")" : "",
			f->result_path ? "; results in " : "", f->result_path ? f->result_path : "");
	buf_release(&line);
	if (sum->stop == FLEET_INTERRUPTED)
		return 128 + sum->signal;
	return fleet_exit_code(sum->failed, not_started, f->waiting, f->stopped);
}

/* Verify once, then run. */
/* What every target would compute alike, done once before the targets'
 * processes fork, which then share it (copy-on-write): each migration's
 * SQL read from the bundle (an up script the run streams is left to each
 * target) and the verdict on whether it needs a backup, which parses the
 * script (30% of a target's instructions on 50 one-table migrations:
 * docs/benchmarks.md). Each target still checks its own books, takes its
 * own lock and runs the same engine. 0, or -1 with the error set. */
static int share_set(struct apply_set *set, const char *driver)
{
	size_t i;

	for (i = 0; i < set->n; i++)
		if (!apply_mig_up_streams(&set->migs[i], driver) &&
		    apply_mig_read_sql(&set->migs[i], driver) < 0)
			return -1;
	backup_classify(set);
	return 0;
}

static int run_fleet(struct fleet_ctx *f, struct fleet_opts *o, struct apply_policy *ap,
		     const char *bundle, struct apply_set *set, struct receipt_key **rkey)
{
	struct apply_ctx ctx;
	struct fleet_outcome *out;
	struct fleet_summary sum;
	int rc;

	if (o->receipt_key && receipt_key_load(rkey, o->receipt_key) < 0) {
		error_msg("cannot use --receipt-key: %s", cairn_error_last());
		error_msg("nothing was applied: no target was touched");
		return EXIT_ENVIRONMENT;
	}
	if (o->receipt_dir && mkdir_p(o->receipt_dir, 0755) < 0) {
		error_msg("cannot create --receipt-dir '%s': %s", o->receipt_dir, cairn_error_last());
		return EXIT_ENVIRONMENT;
	}
	if (o->trail_dir && mkdir_p(o->trail_dir, 0755) < 0) {
		error_msg("cannot create --trail-dir '%s': %s", o->trail_dir, cairn_error_last());
		return EXIT_ENVIRONMENT;
	}
	checkpoint_opts_from_config(&o->cpo, ap);
	if ((rc = checkpoint_opts_load(&o->cpo, *rkey)) != EXIT_OK)
		return rc;
	memset(&ctx, 0, sizeof(ctx));
	ctx.cmd = &cmd_fleet_desc;
	ctx.drv = f->drv;
	ctx.sql_when_run = 1;
	ctx.json = o->json;
	rc = apply_policy_load_bundle(ap, &ctx, bundle, 0, o->keys, o->nkeys, set);
	if (rc == EXIT_OK && share_set(set, f->drv->name) < 0) {
		error_msg("cannot read bundle '%s': %s", bundle, cairn_error_last());
		rc = EXIT_REFUSED;
	}
	if (rc != EXIT_OK) {
		error_msg("no target was touched");
		return rc;
	}
	f->run.bundle = bundle;
	f->run.env = o->env;
	f->run.to = o->to;
	f->run.atomic = o->atomic;
	f->run.lock_ms = o->lock_ms;
	f->run.keys = o->keys;
	f->run.nkeys = o->nkeys;
	f->run.config = o->config;
	f->run.ap = ap;
	f->run.set = set;
	f->run.cpo = &o->cpo;
	f->run.rkey = *rkey;
	f->receipt_dir = o->receipt_dir;
	f->trail_dir = o->trail_dir;
	o->sched.apply_one = apply_one;
	o->sched.event = on_event;
	o->sched.ctx = f;
	if (f->json)
		printf("{\"event\":\"fleet-start\",\"bundle\":\"%s\",\"env\":\"%s\",\"targets\":%zu,"
		       "\"parallel\":%zu}\n", set->bundle_id, o->env, f->ntodo, o->sched.parallel);
	out = xcalloc(f->ntodo ? f->ntodo : 1, sizeof(*out));
	if (fleet_run(&o->sched, f->ntodo, out, &sum) < 0)
		error_msg("%s", cairn_error_last());
	rc = finish_fleet(f, o, out, &sum);
	fleet_outcomes_release(out, f->ntodo);
	free(out);
	return rc;
}

int cmd_fleet(int argc, char **argv)
{
	struct fleet_opts o;
	struct fleet_ctx f;
	struct apply_policy ap;
	struct apply_set set;
	struct receipt_key *rkey = NULL;
	const char *dsn = NULL, *origin;
	char *first = NULL;
	unsigned si = 0, sn = 0;
	int rc;

	memset(&o, 0, sizeof(o));
	memset(&f, 0, sizeof(f));
	memset(&ap, 0, sizeof(ap));
	memset(&set, 0, sizeof(set));
	o.keys = xcalloc((size_t)argc, sizeof(*o.keys));
	if ((rc = parse_options(&o, argc, argv)) != EXIT_OK)
		goto out;
	f.json = o.json;
	f.tty = isatty(STDERR_FILENO) && !o.json;
	if (o.shard && fleet_shard_parse(o.shard, &si, &sn) < 0) {
		rc = usage_error(&cmd_fleet_desc, "%s", cairn_error_last());
		goto out;
	}
	/* the policy's mode and environment, without the environment's own
	 * database: each target names one */
	dsn = "sqlite::memory:";
	if ((rc = apply_policy_begin(&ap, &cmd_fleet_desc, o.config, &o.env, &dsn, o.lock_flag,
				     &o.lock_ms, o.nkeys)) != EXIT_OK)
		goto out;
	if (!o.env) {
		rc = usage_error(&cmd_fleet_desc, "missing --env ENV");
		goto out;
	}
	if ((rc = load_targets(&f, o.targets, &ap)) != EXIT_OK)
		goto out;
	origin = o.targets ? o.targets : ap.ac.config.path;
	if (o.shard) {
		fleet_targets_shard(&f.targets, si, sn);
		f.shard = xasprintf("%u/%u", si, sn);
	}
	if ((rc = pick_todo(&f, o.resume)) != EXIT_OK || (rc = check_drivers(&f, origin)) != EXIT_OK)
		goto out;
	if (!f.drv) {
		error_msg("no targets to apply to%s", o.resume ? ": every target is applied or current" : "");
		rc = o.resume ? EXIT_OK : EXIT_USAGE;
		goto out;
	}
	if (!o.sched.parallel)
		o.sched.parallel = fleet_default_parallel(!strcmp(f.drv->name, "sqlite"));
	f.result_path = o.result ? o.result : o.resume;
	if (f.result_path && !(f.result = fopen(f.result_path, "a"))) {
		error_msg("cannot open the results '%s': %s", f.result_path, strerror(errno));
		rc = EXIT_ENVIRONMENT;
		goto out;
	}
	rc = run_fleet(&f, &o, &ap, argv[optind], &set, &rkey);
out:
	if (f.result)
		fclose(f.result);
	free(first);
	free(f.todo);
	free(f.shard);
	fleet_targets_release(&f.targets);
	fleet_results_release(&f.previous);
	checkpoint_opts_release(&o.cpo);
	receipt_key_free(rkey);
	apply_set_release(&set);
	apply_policy_release(&ap);
	free(o.keys);
	return rc;
}
