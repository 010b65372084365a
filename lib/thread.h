/* Starting a helper thread on a CPU the caller is not on. */
#ifndef CAIRN_THREAD_H
#define CAIRN_THREAD_H

#include <pthread.h>

/* pthread_create, but the thread starts on one of the process's CPUs other
 * than the caller's, then may run on any of them again. Linux often puts a
 * new thread on its creator's CPU, where it preempts the creator, and
 * leaves it there for tens of milliseconds while another CPU idles: seen
 * on the 2-CPU test machines in half the runs of a nothing-pending apply,
 * which then took ~38 ms instead of ~33. With a single CPU, or when the
 * CPU cannot be told, it is plain pthread_create. Returns its result. */
int thread_start_apart(pthread_t *t, void *(*fn)(void *), void *arg);

#endif
