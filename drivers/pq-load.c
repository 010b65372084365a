/* Loads libpq at first use: see pq-load.h. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/error.h"
#include "pq-load.h"

#define PQ_LIBRARY "libpq.so.5"
#define PQ_WAY_OUT "install libpq5 (apt-get install libpq5)"

struct pq_api pq;

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static int load_rc = -1;
static char load_error[CAIRN_ERRMSG_MAX];

static void load(void)
{
	/* an override for a libpq outside the loader's path (and for the
	 * tests); never in a setuid process, whose environment is the
	 * caller's */
	const char *env = secure_getenv("CAIRN_LIBPQ");
	const char *name = env && *env ? env : PQ_LIBRARY;
	const char *from = env && *env ? " (named by CAIRN_LIBPQ)" : "";
	struct pq_api api;
	const char *missing = NULL, *why;
	void *h;

	/* RTLD_NOW: a libpq with an unresolvable dependency fails here, not
	 * in the middle of a migration */
	h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		why = dlerror();
		snprintf(load_error, sizeof(load_error),
			 "cannot load libpq '%s'%s for PostgreSQL: %s; " PQ_WAY_OUT,
			 name, from, why ? why : "unknown error");
		return;
	}
	memset(&api, 0, sizeof(api));
	dlerror();
#define PQ_RESOLVE(fn)                                                         \
	if (!missing && !(api.fn = (__typeof__(api.fn))dlsym(h, "PQ" #fn)))   \
		missing = "PQ" #fn;
	PQ_FUNCTIONS(PQ_RESOLVE)
#undef PQ_RESOLVE
	if (missing) {
		why = dlerror();
		snprintf(load_error, sizeof(load_error),
			 "cannot use libpq '%s'%s: it has no function %s (%s); " PQ_WAY_OUT, name,
			 from, missing, why ? why : "symbol is NULL");
		dlclose(h);
		return;
	}
	/* never closed: libpq keeps OpenSSL and its own state for the life of
	 * the process */
	pq = api;
	load_rc = 0;
}

int pq_load(void)
{
	pthread_once(&load_once, load);
	if (load_rc < 0)
		cairn_error_set("%s", load_error);
	return load_rc;
}
