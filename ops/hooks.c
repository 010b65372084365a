/* Host hooks (hooks.h). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../lib/error.h"
#include "hooks.h"

static void set_fact(const char *name, const char *value)
{
	setenv(name, value ? value : "", 1);
}

static long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int hook_run(const char *name, const char *cmd, unsigned long long timeout_ms,
	     const struct hook_facts *f)
{
	long long deadline;
	int status = 0;
	pid_t pid, got;
	char pending[32];

	if (!timeout_ms)
		timeout_ms = HOOK_DEFAULT_TIMEOUT_MS;
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		cairn_error_set("cannot run the %s hook: %s", name, strerror(errno));
		return -1;
	}
	if (pid == 0) {
		/* its own process group, so a timeout kills what it started too */
		setpgid(0, 0);
		snprintf(pending, sizeof(pending), "%lu", f->pending);
		set_fact("CAIRN_HOOK", name);
		set_fact("CAIRN_BUNDLE", f->bundle);
		set_fact("CAIRN_BUNDLE_ID", f->bundle_id);
		set_fact("CAIRN_ENV", f->env);
		set_fact("CAIRN_FROM_VERSION", f->from_version);
		set_fact("CAIRN_TO_VERSION", f->to_version);
		set_fact("CAIRN_OUTCOME", f->outcome);
		set_fact("CAIRN_PENDING", pending);
		set_fact("CAIRN_ERROR", f->error);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	setpgid(pid, pid);
	deadline = mono_ms() + (long long)timeout_ms;
	while ((got = waitpid(pid, &status, WNOHANG)) == 0) {
		struct timespec ts = { 0, 20 * 1000000L };

		if (mono_ms() >= deadline) {
			kill(-pid, SIGKILL);
			waitpid(pid, &status, 0);
			cairn_error_set("the %s hook did not finish within %llu ms: killed", name,
					timeout_ms);
			return -1;
		}
		nanosleep(&ts, NULL);
	}
	if (got < 0) {
		cairn_error_set("cannot wait for the %s hook: %s", name, strerror(errno));
		return -1;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFEXITED(status))
		cairn_error_set("the %s hook exited %d", name, WEXITSTATUS(status));
	else
		cairn_error_set("the %s hook was killed by signal %d", name, WTERMSIG(status));
	return -1;
}
