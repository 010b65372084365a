/* The applier loads libpg_query at first use, as it loads libpq
 * (drivers/pq-load.c): it reads SQL with it only when there is a script
 * to run or check (a PostgreSQL script's statement split, lib/sqlsplit.c
 * and drivers/pg-stream.c; what a script needs or destroys before it
 * runs, ops/sqlneeds.c and policy/destructive.c, on either driver). Linked,
 * its 9,300 relocations and the page faults they make cost every run
 * ~1.7 ms of CPU before any work: an apply with nothing pending, status,
 * history and verify read no SQL (docs/benchmarks.md, perf14e).
 *
 * Linked into cairn-apply only, in place of the library: these are the
 * nine functions the applier calls, with libpg_query's names and
 * signatures, so their callers are the same in both programs (cairn links
 * libpg_query itself: its linter calls it throughout). Each loads the
 * library once (PG_QUERY_SONAME, named by the Makefile from the library
 * cairn links) and calls its function. When the library cannot be
 * loaded, a parse or split returns an error whose message says so (the
 * callers report a parse's error as they always did), an unpack returns
 * NULL, and a free of such a result does nothing. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <pg_query.h>
#include <pg_query/pg_query.pb-c.h>

#ifndef PG_QUERY_SONAME
#error "PG_QUERY_SONAME: the Makefile names libpg_query's shared library"
#endif
_Static_assert(sizeof(PG_QUERY_SONAME) > 1,
	       "PG_QUERY_SONAME is empty: install libpg-query-dev and binutils (make deps)");

#define PGQ_FUNCTIONS(X)                                                                    \
	X(pg_query_split_with_parser, PgQuerySplitResult, (const char *))                   \
	X(pg_query_split_with_scanner, PgQuerySplitResult, (const char *))                  \
	X(pg_query_free_split_result, void, (PgQuerySplitResult))                           \
	X(pg_query_parse, PgQueryParseResult, (const char *))                               \
	X(pg_query_free_parse_result, void, (PgQueryParseResult))                           \
	X(pg_query_parse_protobuf, PgQueryProtobufParseResult, (const char *))              \
	X(pg_query_free_protobuf_parse_result, void, (PgQueryProtobufParseResult))          \
	X(pg_query__parse_result__unpack, PgQuery__ParseResult *,                           \
	  (ProtobufCAllocator *, size_t, const uint8_t *))                                  \
	X(pg_query__parse_result__free_unpacked, void, (PgQuery__ParseResult *, ProtobufCAllocator *))

static struct {
#define PGQ_FIELD(name, ret, args) ret(*name) args;
	PGQ_FUNCTIONS(PGQ_FIELD)
#undef PGQ_FIELD
} api;

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static int loaded;
static char load_message[512];
static PgQueryError load_error = { load_message, NULL, NULL, 0, 0, NULL };

static void load(void)
{
	const char *missing = NULL, *why;
	void *h = dlopen(PG_QUERY_SONAME, RTLD_NOW | RTLD_LOCAL);

	if (!h) {
		why = dlerror();
		if (snprintf(load_message, sizeof(load_message),
			     "cannot load libpg_query '%s' to read PostgreSQL SQL: %s; install "
			     "libpg-query (apt-get install libpg-query1504.0)", PG_QUERY_SONAME,
			     why ? why : "unknown error") >= (int)sizeof(load_message))
			load_message[sizeof(load_message) - 1] = '\0';
		return;
	}
#define PGQ_RESOLVE(name, ret, args) \
	if (!missing && !(api.name = (ret(*) args)dlsym(h, #name))) \
		missing = #name;
	PGQ_FUNCTIONS(PGQ_RESOLVE)
#undef PGQ_RESOLVE
	if (missing) {
		if (snprintf(load_message, sizeof(load_message),
			     "cannot use libpg_query '%s': it has no function %s", PG_QUERY_SONAME,
			     missing) >= (int)sizeof(load_message))
			load_message[sizeof(load_message) - 1] = '\0';
		dlclose(h);
		return;
	}
	loaded = 1; /* never closed: the process may parse again */
}

static int pgq_ready(void)
{
	pthread_once(&load_once, load);
	return loaded;
}

PgQuerySplitResult pg_query_split_with_parser(const char *input)
{
	PgQuerySplitResult r;

	if (pgq_ready())
		return api.pg_query_split_with_parser(input);
	memset(&r, 0, sizeof(r));
	r.error = &load_error;
	return r;
}

PgQuerySplitResult pg_query_split_with_scanner(const char *input)
{
	PgQuerySplitResult r;

	if (pgq_ready())
		return api.pg_query_split_with_scanner(input);
	memset(&r, 0, sizeof(r));
	r.error = &load_error;
	return r;
}

void pg_query_free_split_result(PgQuerySplitResult result)
{
	if (pgq_ready())
		api.pg_query_free_split_result(result);
}

PgQueryParseResult pg_query_parse(const char *input)
{
	PgQueryParseResult r;

	if (pgq_ready())
		return api.pg_query_parse(input);
	memset(&r, 0, sizeof(r));
	r.error = &load_error;
	return r;
}

void pg_query_free_parse_result(PgQueryParseResult result)
{
	if (pgq_ready())
		api.pg_query_free_parse_result(result);
}

PgQueryProtobufParseResult pg_query_parse_protobuf(const char *input)
{
	PgQueryProtobufParseResult r;

	if (pgq_ready())
		return api.pg_query_parse_protobuf(input);
	memset(&r, 0, sizeof(r));
	r.error = &load_error;
	return r;
}

void pg_query_free_protobuf_parse_result(PgQueryProtobufParseResult result)
{
	if (pgq_ready())
		api.pg_query_free_protobuf_parse_result(result);
}

PgQuery__ParseResult *pg_query__parse_result__unpack(ProtobufCAllocator *allocator, size_t len,
						     const uint8_t *data)
{
	return pgq_ready() ? api.pg_query__parse_result__unpack(allocator, len, data) : NULL;
}

void pg_query__parse_result__free_unpacked(PgQuery__ParseResult *message,
					   ProtobufCAllocator *allocator)
{
	if (pgq_ready())
		api.pg_query__parse_result__free_unpacked(message, allocator);
}
