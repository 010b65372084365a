/* thread_start_apart: the thread runs its function with its argument, and
 * afterwards may run on every CPU the process may (the mask it started
 * with is given back); with one CPU it is a plain thread. */
#include <sched.h>
#include <stdlib.h>

#include "../../lib/thread.h"
#include "unit.h"

struct probe {
	int ran;
	cpu_set_t mask; /* the thread's own, as it runs its function */
};

static void *run(void *arg)
{
	struct probe *p = arg;

	p->ran = 1;
	if (pthread_getaffinity_np(pthread_self(), sizeof(p->mask), &p->mask))
		CPU_ZERO(&p->mask);
	return p;
}

static void start_and_join(const cpu_set_t *want)
{
	struct probe p;
	pthread_t t;
	void *back = NULL;

	memset(&p, 0, sizeof(p));
	CHECK(thread_start_apart(&t, run, &p) == 0);
	CHECK(pthread_join(t, &back) == 0);
	CHECK(back == &p && p.ran);
	CHECK(CPU_EQUAL(&p.mask, want));
}

int main(void)
{
	cpu_set_t all, one;
	int i;

	CHECK(sched_getaffinity(0, sizeof(all), &all) == 0);
	printf("# %d CPUs\n", CPU_COUNT(&all));
	start_and_join(&all);

	/* one CPU: nowhere else to go */
	CPU_ZERO(&one);
	for (i = 0; i < CPU_SETSIZE; i++)
		if (CPU_ISSET(i, &all)) {
			CPU_SET(i, &one);
			break;
		}
	CHECK(sched_setaffinity(0, sizeof(one), &one) == 0);
	start_and_join(&one);
	CHECK(sched_setaffinity(0, sizeof(all), &all) == 0);
	start_and_join(&all);
	return unit_done();
}
