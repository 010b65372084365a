/* The run's database role against the books guard (pgguard15b,
 * attack15h): what every verb that writes a PostgreSQL database (apply,
 * fleet, rollback, repair, baseline, restore) asks once the database is
 * open, before anything is written. */
#ifndef CAIRN_APPLY_ROLE_H
#define CAIRN_APPLY_ROLE_H

#include "../drivers/driver.h"

/* What the role may do that the books guard cannot see (drv's role_facts:
 * a superuser, a member of one, ...). refuse: postgres: {privileged_role:
 * refuse} holds for this run; why says where that came from (the config's
 * line, or the default that chose it), env the environment, verb what
 * the run was to do ("apply", "roll back"). Returns 0 with *warning NULL
 * (nothing found, or a driver without the check) or a line to show as a
 * warning (the caller frees); -1 with the error set when the run is
 * refused or the query failed. */
int role_check(const struct driver *drv, struct db *db, int refuse, const char *why,
	       const char *env, const char *verb, char **warning);

#endif
