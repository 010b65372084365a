#include <sched.h>
#include <stdlib.h>

#include "error.h"
#include "thread.h"

struct start {
	void *(*fn)(void *);
	void *arg;
	cpu_set_t allowed; /* the process's CPUs, given back once started */
};

static void *trampoline(void *p)
{
	struct start s = *(struct start *)p;

	free(p);
	/* where it runs now stays allowed: this does not move it back */
	(void)pthread_setaffinity_np(pthread_self(), sizeof(s.allowed), &s.allowed);
	return s.fn(s.arg);
}

int thread_start_apart(pthread_t *t, void *(*fn)(void *), void *arg)
{
	struct start *s;
	pthread_attr_t attr;
	cpu_set_t other;
	int cpu = sched_getcpu(), rc;

	s = xmalloc(sizeof(*s));
	if (cpu < 0 || sched_getaffinity(0, sizeof(s->allowed), &s->allowed) < 0 ||
	    CPU_COUNT(&s->allowed) < 2 || !CPU_ISSET(cpu, &s->allowed) ||
	    pthread_attr_init(&attr)) {
		free(s);
		return pthread_create(t, NULL, fn, arg);
	}
	other = s->allowed;
	CPU_CLR(cpu, &other);
	s->fn = fn;
	s->arg = arg;
	rc = pthread_attr_setaffinity_np(&attr, sizeof(other), &other);
	if (!rc)
		rc = pthread_create(t, &attr, trampoline, s);
	pthread_attr_destroy(&attr);
	if (rc) {
		free(s);
		rc = pthread_create(t, NULL, fn, arg);
	}
	return rc;
}
