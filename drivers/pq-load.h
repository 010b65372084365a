/* libpq, loaded at first use (dlopen) rather than linked: a SQLite run of
 * cairn-apply never maps libpq and the ~20 libraries it pulls in (Kerberos,
 * LDAP, SASL, GnuTLS...), and the applier runs SQLite on a host without
 * libpq installed at all.
 *
 * Only the driver (drivers/postgres.c, pg-*.c) and drivers/pq-load.c
 * include this header. Calls
 * go through one table of pointers, each typed from libpq-fe.h's own
 * prototype: pq.exec(conn, sql) is PQexec(conn, sql). */
#ifndef CAIRN_PQ_LOAD_H
#define CAIRN_PQ_LOAD_H

#include <libpq-fe.h>

/* Every libpq function the driver uses, without the "PQ" prefix. */
#define PQ_FUNCTIONS(X)                                                       \
	X(libVersion)                                                         \
	X(connectdbParams)                                                    \
	X(setNoticeProcessor)                                                 \
	X(status)                                                             \
	X(errorMessage)                                                       \
	X(finish)                                                             \
	X(host)                                                               \
	X(user)                                                               \
	X(port)                                                               \
	X(db)                                                                 \
	X(transactionStatus)                                                  \
	X(consumeInput)                                                       \
	X(exec)                                                               \
	X(sendQuery)                                                          \
	X(getResult)                                                          \
	X(resultStatus)                                                       \
	X(resultErrorField)                                                   \
	X(resultErrorMessage)                                                 \
	X(cmdStatus)                                                          \
	X(cmdTuples)                                                          \
	X(ntuples)                                                            \
	X(nfields)                                                            \
	X(getvalue)                                                           \
	X(getisnull)                                                          \
	X(clear)                                                              \
	X(putCopyData)                                                        \
	X(putCopyEnd)                                                         \
	X(escapeLiteral)                                                      \
	X(getCancel)                                                          \
	X(cancel)                                                             \
	X(freeCancel)                                                         \
	X(freemem)                                                            \
	X(conninfo)                                                           \
	X(conninfoParse)                                                      \
	X(conninfoFree)

struct pq_api {
#define PQ_API_FIELD(fn) __typeof__(PQ##fn) *fn;
	PQ_FUNCTIONS(PQ_API_FIELD)
#undef PQ_API_FIELD
};

/* Filled by the first successful pq_load(); untouched (NULL) before. */
extern struct pq_api pq;

/* Loads libpq ($CAIRN_LIBPQ when set, else "libpq.so.5") and resolves every function above, once per process; later
 * calls return the first call's result. 0, or -1 with the error set: the
 * library, dlerror()'s text (or the missing symbol) and the way out. */
int pq_load(void);

#endif
