#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "tmpfile.h"

static const char *volatile held[TMPFILE_MAX];
static const int stop_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };

/* Async-signal-safe: unlink, sigaction and raise only. */
static void on_signal(int sig)
{
	struct sigaction dfl;
	size_t i;

	for (i = 0; i < TMPFILE_MAX; i++)
		if (held[i])
			unlink(held[i]);
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigemptyset(&dfl.sa_mask);
	sigaction(sig, &dfl, NULL);
	raise(sig);
}

static void handlers_install(void)
{
	static int done;
	struct sigaction sa, old;
	size_t i;

	if (done)
		return;
	done = 1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < sizeof(stop_signals) / sizeof(stop_signals[0]); i++)
		sigaddset(&sa.sa_mask, stop_signals[i]);
	for (i = 0; i < sizeof(stop_signals) / sizeof(stop_signals[0]); i++) {
		/* a signal the program ignores (nohup) or handles itself is
		 * left alone; the next run then sweeps what it leaves */
		if (sigaction(stop_signals[i], NULL, &old) < 0 || old.sa_handler != SIG_DFL ||
		    (old.sa_flags & SA_SIGINFO))
			continue;
		sigaction(stop_signals[i], &sa, NULL);
	}
}

/* The slot changes with the stop signals blocked, so the handler never
 * sees half an update. */
static void held_set(const char *from, const char *to)
{
	sigset_t block, old;
	size_t i;

	sigemptyset(&block);
	for (i = 0; i < sizeof(stop_signals) / sizeof(stop_signals[0]); i++)
		sigaddset(&block, stop_signals[i]);
	sigprocmask(SIG_BLOCK, &block, &old);
	for (i = 0; i < TMPFILE_MAX; i++)
		if (held[i] == from) {
			held[i] = to;
			break;
		}
	sigprocmask(SIG_SETMASK, &old, NULL);
}

void tmpfile_hold(const char *tmp)
{
	handlers_install();
	held_set(NULL, tmp);
}

void tmpfile_drop(const char *tmp)
{
	if (tmp)
		held_set(tmp, NULL);
}

/* Removes dir/NAME.tmpN files whose process N is gone. */
static void sweep_stale(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir = slash ? xstrndup(path, (size_t)(slash - path + 1)) : xstrdup("./");
	const char *base = slash ? slash + 1 : path;
	char *prefix = xasprintf("%s.tmp", base);
	size_t plen = strlen(prefix);
	DIR *d = opendir(dir);
	struct dirent *e;

	while (d && (e = readdir(d))) {
		const char *num = e->d_name + plen;
		char *end, *stale;
		long pid;

		if (strncmp(e->d_name, prefix, plen) || *num < '1' || *num > '9')
			continue;
		errno = 0;
		pid = strtol(num, &end, 10);
		if (*end || errno || pid <= 0 || pid == (long)getpid())
			continue;
		if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue; /* alive, or not ours to judge */
		stale = xasprintf("%s%s", dir, e->d_name);
		unlink(stale);
		free(stale);
	}
	if (d)
		closedir(d);
	free(prefix);
	free(dir);
}

char *tmpfile_name(const char *path)
{
	sweep_stale(path);
	return xasprintf("%s.tmp%ld", path, (long)getpid());
}
