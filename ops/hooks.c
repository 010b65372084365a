/* Host hooks (hooks.h). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../lib/error.h"
#include "../lib/util.h"
#include "hooks.h"

#define HOOK_OUTPUT_CAP (64u * 1024)

static long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#define HOOK_STOP_GRACE_MS 2000 /* SIGTERM to SIGKILL, for a hook stopped by a signal */

/* SIGINT, SIGTERM or SIGHUP to the applier while a hook runs: the hook
 * (its whole process group) must not outlive the run that started it. */
static const int hook_stop_signals[] = { SIGINT, SIGTERM, SIGHUP };
static volatile sig_atomic_t hook_stop_sig;
static struct sigaction hook_old[3];

/* Records the signal, then does what was there before: the run's own
 * handler (a backup command inside a run), or, for the default action,
 * nothing yet: wait_for stops the hook first and hook_exec raises it. */
static void on_stop_signal(int sig)
{
	size_t i;

	hook_stop_sig = sig;
	for (i = 0; i < 3; i++)
		if (hook_stop_signals[i] == sig && hook_old[i].sa_handler != SIG_DFL &&
		    hook_old[i].sa_handler != SIG_IGN)
			hook_old[i].sa_handler(sig);
}

static void stop_signals_catch(void)
{
	struct sigaction sa;
	size_t i;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop_signal;
	sigemptyset(&sa.sa_mask);
	hook_stop_sig = 0;
	for (i = 0; i < 3; i++)
		sigaction(hook_stop_signals[i], &sa, &hook_old[i]);
}

static void stop_signals_restore(void)
{
	size_t i;

	for (i = 0; i < 3; i++)
		sigaction(hook_stop_signals[i], &hook_old[i], NULL);
}

/* The hook's process group asked to stop, then killed after a grace. */
static void stop_group(pid_t pid, int *status)
{
	long long deadline = mono_ms() + HOOK_STOP_GRACE_MS;
	struct timespec ts = { 0, 20 * 1000000L };

	kill(-pid, SIGTERM);
	while (waitpid(pid, status, WNOHANG) == 0) {
		if (mono_ms() >= deadline) {
			kill(-pid, SIGKILL);
			waitpid(pid, status, 0);
			break;
		}
		nanosleep(&ts, NULL);
	}
	kill(-pid, SIGKILL); /* what it started and left behind */
}


/* What the command wrote to its stdout so far (the pipe is non-blocking);
 * past the cap it is read and dropped, so the command never blocks. */
static void drain(int fd, struct buf *out)
{
	char chunk[4096];
	ssize_t n;

	while (fd >= 0 && (n = read(fd, chunk, sizeof(chunk))) > 0)
		if (out->len < HOOK_OUTPUT_CAP)
			buf_put(out, chunk, (size_t)n < HOOK_OUTPUT_CAP - out->len
						    ? (size_t)n : HOOK_OUTPUT_CAP - out->len);
}

static int wait_for(const char *name, pid_t pid, unsigned long long timeout_ms, int fd,
		    struct buf *out, struct hook_outcome *how)
{
	long long deadline = mono_ms() + (long long)timeout_ms;
	int status = 0;
	pid_t got;

	while ((got = waitpid(pid, &status, WNOHANG)) == 0) {
		struct timespec ts = { 0, 20 * 1000000L };

		if (out)
			drain(fd, out);
		if (hook_stop_sig) {
			stop_group(pid, &status);
			how->interrupted = hook_stop_sig;
			cairn_error_set("interrupted by %s while the %s ran: the %s was stopped",
					stop_signal_name(hook_stop_sig), name, name);
			return -1;
		}
		if (mono_ms() >= deadline) {
			kill(-pid, SIGKILL);
			waitpid(pid, &status, 0);
			how->timed_out = 1;
			cairn_error_set("the %s did not finish within %llu ms: killed", name,
					timeout_ms);
			return -1;
		}
		nanosleep(&ts, NULL);
	}
	if (out)
		drain(fd, out);
	if (got < 0) {
		cairn_error_set("cannot wait for the %s: %s", name, strerror(errno));
		return -1;
	}
	if (WIFEXITED(status))
		how->exit_status = WEXITSTATUS(status);
	else
		how->signal = WTERMSIG(status);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFEXITED(status))
		cairn_error_set("the %s exited %d", name, WEXITSTATUS(status));
	else
		cairn_error_set("the %s was killed by signal %d", name, WTERMSIG(status));
	return -1;
}

/* hook_command, and how it ended into *how (never NULL) */
static int hook_exec(const char *name, const char *cmd, unsigned long long timeout_ms,
		     const char *const *env, struct buf *out, struct hook_outcome *how)
{
	int fds[2] = { -1, -1 }, rc;
	pid_t pid, parent;
	size_t i;

	memset(how, 0, sizeof(*how));
	how->exit_status = -1;
	if (!timeout_ms)
		timeout_ms = HOOK_DEFAULT_TIMEOUT_MS;
	how->timeout_ms = timeout_ms;
	how->started_ms = mono_ms();
	if (out && pipe(fds) < 0) {
		cairn_error_set("cannot run the %s: %s", name, strerror(errno));
		return -1;
	}
	fflush(NULL);
	stop_signals_catch();
	parent = getpid();
	pid = fork();
	if (pid < 0) {
		cairn_error_set("cannot run the %s: %s", name, strerror(errno));
		stop_signals_restore();
		if (out) {
			close(fds[0]);
			close(fds[1]);
		}
		return -1;
	}
	if (pid == 0) {
		/* its own process group, so a timeout kills what it started too */
		setpgid(0, 0);
		signal(SIGPIPE, SIG_DFL); /* cairn-apply ignores it (cairn-apply.c) */
		/* the default (or ignored, as nohup leaves SIGHUP), never the
		 * run's handler, which would cancel the parent's statement */
		for (i = 0; i < 3; i++)
			signal(hook_stop_signals[i],
			       hook_old[i].sa_handler == SIG_IGN ? SIG_IGN : SIG_DFL);
		/* a SIGKILLed applier takes its hook with it */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent) /* it died before prctl */
			raise(SIGTERM);
		for (i = 0; env && env[i] && env[i + 1]; i += 2)
			setenv(env[i], env[i + 1], 1);
		if (out) {
			dup2(fds[1], STDOUT_FILENO);
			close(fds[0]);
			close(fds[1]);
		}
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	setpgid(pid, pid);
	if (out) {
		close(fds[1]);
		fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK);
	}
	rc = wait_for(name, pid, timeout_ms, fds[0], out, how);
	how->duration_ms = mono_ms() - how->started_ms;
	if (out)
		close(fds[0]);
	stop_signals_restore();
	return rc;
}

int hook_command(const char *name, const char *cmd, unsigned long long timeout_ms,
		 const char *const *env, struct buf *out)
{
	struct hook_outcome how;

	return hook_exec(name, cmd, timeout_ms, env, out, &how);
}

int hook_run(const char *name, const char *cmd, unsigned long long timeout_ms,
	     const struct hook_facts *f, struct hook_outcome *how)
{
	struct hook_outcome mine;
	char pending[32], what[32];
	const char *env[] = {
		"CAIRN_HOOK", name,
		"CAIRN_BUNDLE", f->bundle ? f->bundle : "",
		"CAIRN_BUNDLE_ID", f->bundle_id ? f->bundle_id : "",
		"CAIRN_ENV", f->env ? f->env : "",
		"CAIRN_FROM_VERSION", f->from_version ? f->from_version : "",
		"CAIRN_TO_VERSION", f->to_version ? f->to_version : "",
		"CAIRN_OUTCOME", f->outcome ? f->outcome : "",
		"CAIRN_PENDING", pending,
		"CAIRN_ERROR", f->error ? f->error : "",
		NULL, NULL,
	};

	snprintf(pending, sizeof(pending), "%lu", f->pending);
	if ((size_t)snprintf(what, sizeof(what), "%s hook", name) >= sizeof(what))
		memcpy(what, "hook", 5); /* never: the names are short */
	return hook_exec(what, cmd, timeout_ms, env, NULL, how ? how : &mine);
}

char *hook_outcome_detail(const char *name, const struct hook_outcome *how)
{
	struct buf b = BUF_INIT;

	buf_printf(&b, "hook=%s; ", name);
	if (how->timed_out)
		buf_puts(&b, "outcome=timed out: killed");
	else if (how->signal)
		buf_printf(&b, "outcome=killed by signal %d", how->signal);
	else if (how->exit_status < 0)
		buf_puts(&b, "outcome=did not run");
	else
		buf_printf(&b, "outcome=exited %d", how->exit_status);
	buf_printf(&b, "; duration_ms=%lld; timeout_ms=%llu", how->duration_ms, how->timeout_ms);
	return buf_detach(&b, NULL);
}
