/* The exit-code contract of cairn and cairn-apply, defined once. The man
 * pages list the same table; tests/t0002-exitcodes.sh checks they agree. */
#ifndef CAIRN_EXITCODES_H
#define CAIRN_EXITCODES_H

#define CAIRN_EXIT_CODES(X)                                                                   \
	X(OK, 0, "success")                                                                   \
	X(FAILED, 1, "a check found errors, or the operation failed and was rolled back")     \
	X(USAGE, 2, "bad command line: unknown option, missing or extra argument")           \
	X(REFUSED, 3, "refused by verification or policy: bundle, signature or approval")     \
	X(LOCKED, 4, "another runner holds the lock and it was not freed within the timeout") \
	X(STATE, 5, "the database needs an operator: drift, or a failed or in-progress row")  \
	X(ENVIRONMENT, 6, "cannot read or write what was named: file, repository, database") \
	X(CONTRACT, 7, "applied up to the first contract migration, which waits for a contract statement") \
	X(BUDGET, 8, "a batch migration stopped at its time budget (max_duration); apply again resumes it")

enum cairn_exit {
#define CAIRN_EXIT_ENUM(name, code, text) EXIT_##name = code,
	CAIRN_EXIT_CODES(CAIRN_EXIT_ENUM)
#undef CAIRN_EXIT_ENUM
};

#endif
