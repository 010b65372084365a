/* Running a fleet: processes, the canary, waves, --halt-on, signals. */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <fcntl.h>
#include <unistd.h>

#include "../lib/buf.h"
#include "../lib/error.h"
#include "../lib/exitcodes.h"
#include "run.h"

#define FLEET_CAPTURE_MAX 4096

struct slot {
	pid_t pid;
	size_t index;
	FILE *err, *res;
};

struct state {
	const struct fleet_sched *s;
	size_t n;
	struct fleet_outcome *out;
	struct fleet_summary *sum;
	struct slot *slots;
	size_t running, done;
	long long t0;
	const char *phase;
	size_t wave;
	sigset_t old;
	pid_t parent; /* the fleet's process, for its targets' parent-death signal */
};

long long fleet_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void fleet_outcomes_release(struct fleet_outcome *o, size_t n)
{
	size_t i;

	for (i = 0; o && i < n; i++) {
		free(o[i].from);
		free(o[i].to);
		free(o[i].error);
	}
}

static void emit(struct state *st, enum fleet_event_type type, size_t index)
{
	struct fleet_event ev;

	if (!st->s->event)
		return;
	memset(&ev, 0, sizeof(ev));
	ev.type = type;
	ev.index = index;
	ev.outcome = type == FLEET_EV_TICK ? NULL : &st->out[index];
	ev.total = st->n;
	ev.done = st->done;
	ev.failed = st->sum->failed;
	ev.running = st->running;
	ev.phase = st->phase;
	ev.wave = st->wave;
	ev.elapsed_ms = fleet_now_ms() - st->t0;
	st->s->event(st->s->ctx, &ev);
}

/* The target's process: its own process group, the signals as 'apply'
 * has them, stdout discarded, stderr captured. Never returns. */
static void child(struct state *st, struct slot *sl)
{
	int fd = open("/dev/null", O_WRONLY);
	int rc;

	setpgid(0, 0);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	/* a fleet SIGKILLed stops its targets as SIGTERM does: each rolls
	 * back and records it, rather than running on unseen (its own process
	 * group: the kill of the fleet's never reaches it) */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	sigprocmask(SIG_SETMASK, &st->old, NULL);
	if (getppid() != st->parent) /* it died before prctl: too late to be told */
		raise(SIGTERM);
	if (fd >= 0) {
		dup2(fd, STDOUT_FILENO);
		close(fd);
	}
	dup2(fileno(sl->err), STDERR_FILENO);
	rc = st->s->apply_one(st->s->ctx, sl->index, sl->res);
	fflush(NULL);
	_exit(rc & 0xff);
}

static int start(struct state *st, size_t index)
{
	struct slot *sl = NULL;
	size_t i;

	for (i = 0; i < st->s->parallel; i++)
		if (!st->slots[i].pid) {
			sl = &st->slots[i];
			break;
		}
	memset(sl, 0, sizeof(*sl));
	sl->index = index;
	sl->err = tmpfile();
	sl->res = tmpfile();
	if (!sl->err || !sl->res) {
		cairn_error_set("cannot start target %zu: no temporary file: %s", index,
				strerror(errno));
		goto fail;
	}
	fflush(NULL);
	st->out[index].start_ms = fleet_now_ms();
	sl->pid = fork();
	if (sl->pid < 0) {
		cairn_error_set("cannot start a process for target %zu: %s", index, strerror(errno));
		sl->pid = 0;
		goto fail;
	}
	if (sl->pid == 0)
		child(st, sl);
	/* the child did it too: whichever runs first, the group exists */
	setpgid(sl->pid, sl->pid);
	st->out[index].started = 1;
	st->running++;
	st->sum->started++;
	emit(st, FLEET_EV_START, index);
	return 0;
fail:
	if (sl->err)
		fclose(sl->err);
	if (sl->res)
		fclose(sl->res);
	memset(sl, 0, sizeof(*sl));
	return -1;
}

/* Up to cap bytes of f, from its start. */
static char *slurp(FILE *f)
{
	struct buf b = BUF_INIT;
	char chunk[512];
	size_t got;

	rewind(f);
	while (b.len < FLEET_CAPTURE_MAX && (got = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_put(&b, chunk, got);
	return buf_detach(&b, NULL);
}

static char *line_dup(const char *s)
{
	size_t n = strcspn(s, "\n");

	return n ? xstrndup(s, n) : NULL;
}

static void finish(struct state *st, struct slot *sl, int status)
{
	struct fleet_outcome *o = &st->out[sl->index];
	char *res = slurp(sl->res), *err = slurp(sl->err);
	const char *first = err ? err : "";

	o->finished = 1;
	o->duration_ms = fleet_now_ms() - o->start_ms;
	o->exit = WIFEXITED(status) ? WEXITSTATUS(status)
		  : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 1;
	if (res) {
		const char *nl = strchr(res, '\n');

		o->from = line_dup(res);
		o->to = nl ? line_dup(nl + 1) : NULL;
	}
	/* the error is the first line that is not a warning (pgguard15b: the
	 * privileged role's warning comes before any refusal) */
	while (!strncmp(first, "cairn-apply: warning: ", 22) && strchr(first, '\n'))
		first = strchr(first, '\n') + 1;
	if (!strncmp(first, "cairn-apply: ", 13))
		first += 13;
	o->error = o->exit ? line_dup(first) : NULL;
	if (o->exit && !o->error)
		o->error = WIFSIGNALED(status) ? xasprintf("killed by signal %d", WTERMSIG(status))
					       : xasprintf("exit %d", o->exit);
	free(res);
	free(err);
	fclose(sl->err);
	fclose(sl->res);
	memset(sl, 0, sizeof(*sl));
	st->running--;
	st->done++;
	/* 7 (waits for a contract statement) and 8 (a batch stopped at its
	 * budget) are expected states, not failures: not counted by the
	 * canary or --halt-on */
	if (o->exit && o->exit != EXIT_CONTRACT && o->exit != EXIT_BUDGET)
		st->sum->failed++;
	emit(st, FLEET_EV_END, (size_t)(o - st->out));
}

static void reap(struct state *st)
{
	int status;
	pid_t pid;
	size_t i;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		for (i = 0; i < st->s->parallel; i++)
			if (st->slots[i].pid == pid) {
				finish(st, &st->slots[i], status);
				break;
			}
}

/* Waits for a child to end or a signal (SIGINT, SIGTERM, SIGHUP) to come; returns
 * the signal, or 0. */
static int wait_some(struct state *st, const sigset_t *set, long long *last_tick)
{
	struct timespec ts = { 1, 0 };
	int sig;

	reap(st);
	if (!st->running)
		return 0;
	sig = sigtimedwait(set, NULL, &ts);
	if (sig == SIGCHLD || sig < 0)
		reap(st);
	if (fleet_now_ms() - *last_tick >= 1000) {
		*last_tick = fleet_now_ms();
		emit(st, FLEET_EV_TICK, 0);
	}
	return sig == SIGINT || sig == SIGTERM || sig == SIGHUP ? sig : 0;
}

static size_t wave_size(const struct fleet_sched *s, size_t n)
{
	if (s->wave)
		return s->wave;
	if (s->wave_pct)
		return (n * s->wave_pct + 99) / 100 ? (n * s->wave_pct + 99) / 100 : 1;
	return n;
}

int fleet_run(const struct fleet_sched *s, size_t n, struct fleet_outcome *out,
	      struct fleet_summary *sum)
{
	struct state st;
	sigset_t set;
	size_t next = 0, bound, i;
	long long last_tick;
	int stopping = 0, rc = 0;

	memset(&st, 0, sizeof(st));
	memset(sum, 0, sizeof(*sum));
	st.s = s;
	st.n = n;
	st.out = out;
	st.sum = sum;
	st.slots = xcalloc(s->parallel ? s->parallel : 1, sizeof(*st.slots));
	st.t0 = last_tick = fleet_now_ms();
	st.phase = s->canary ? "canary" : "wave";
	st.wave = s->canary ? 0 : 1;
	bound = s->canary ? (s->canary < n ? s->canary : n) : wave_size(s, n);
	if (bound > n)
		bound = n;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP); /* the terminal or ssh session closed */
	sigprocmask(SIG_BLOCK, &set, &st.old);
	st.parent = getpid();
	for (;;) {
		int sig;

		while (!stopping && st.running < s->parallel && next < bound)
			if (start(&st, next++) < 0) {
				rc = -1;
				stopping = 1;
			}
		if (!st.running) {
			if (stopping || next >= n)
				break;
			if (s->canary && st.wave == 0 && sum->failed) {
				sum->stop = FLEET_CANARY_FAILED;
				break;
			}
			st.phase = "wave";
			st.wave++;
			bound = next + wave_size(s, n);
			if (bound > n)
				bound = n;
			continue;
		}
		sig = wait_some(&st, &set, &last_tick);
		if (sig && !sum->signal) {
			sum->signal = sig;
			sum->stop = FLEET_INTERRUPTED;
			stopping = 1;
			for (i = 0; i < s->parallel; i++)
				if (st.slots[i].pid)
					kill(st.slots[i].pid, sig);
		}
		if (!stopping && s->halt_on && sum->failed >= s->halt_on) {
			sum->stop = FLEET_HALTED;
			stopping = 1;
		}
	}
	/* a signal that came as the last target ended still stops the fleet */
	if (!sum->signal && (sigpending(&set), sigismember(&set, SIGTERM) ||
			     sigismember(&set, SIGINT) || sigismember(&set, SIGHUP))) {
		struct timespec zero = { 0, 0 };
		sigset_t only;

		sigemptyset(&only);
		sigaddset(&only, SIGINT);
		sigaddset(&only, SIGTERM);
		sigaddset(&only, SIGHUP);
		sum->signal = sigtimedwait(&only, NULL, &zero);
		if (sum->signal > 0)
			sum->stop = FLEET_INTERRUPTED;
		else
			sum->signal = 0;
	}
	sigprocmask(SIG_SETMASK, &st.old, NULL);
	sum->elapsed_ms = fleet_now_ms() - st.t0;
	free(st.slots);
	return rc;
}

/* A SQLite target's wall time is mostly its commits' syncs (four a
 * migration under synchronous=FULL), queued on the disk, not its CPU:
 * with two processes a CPU one's sync overlaps another's work, and more
 * only queue more on the disk (docs/benchmarks.md, branch fleet21e: 4
 * beat 2 and 8 on 2 CPUs). PostgreSQL targets share servers whose load
 * the operator knows better: one at a time unless asked. */
size_t fleet_default_parallel(int local_files)
{
	cpu_set_t cpus;
	long n = 0;

	if (!local_files)
		return 1;
	if (sched_getaffinity(0, sizeof(cpus), &cpus) == 0)
		n = CPU_COUNT(&cpus);
	if (n < 1)
		n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		n = 1;
	return n * 2 > FLEET_PARALLEL_FILES_MAX ? FLEET_PARALLEL_FILES_MAX : (size_t)n * 2;
}
