/* Builds the engine's apply_set from a verified bundle (apply/load.c). */
#ifndef CAIRN_APPLY_LOAD_H
#define CAIRN_APPLY_LOAD_H

#include "set.h"

struct bundle;

/* apply_set_load: read every migration's SQL now (plan and status, which
 * show or check all of it). Without it only the steps that run are read,
 * by engine_apply, before the first one runs. */
#define APPLY_LOAD_SQL 1

/* Reads every migration of b for driver (which must outlive the set: a
 * driver's name). 0, or -1 with the error set. The set borrows b (kept for
 * data files and SQL) and points into its manifest; set owns_bundle to hand
 * it over. */
int apply_set_load(struct apply_set *out, struct bundle *b, const char *driver, unsigned flags);

/* Reads m's up, down and verify SQL for driver from its bundle, once, and
 * sets up_path. A migration without an up script for driver, or SQL with a
 * NUL byte inside, is refused: 0, or -1 with the error set and m unchanged.
 * Does nothing for a migration that has its SQL already or no bundle (a set
 * built by hand). */
int apply_mig_read_sql(struct apply_mig *m, const char *driver);

/* An up script past this size, in a migration that is not a batch, is not
 * read whole when the driver can run it streamed (driver.exec_stream,
 * issue #15): apply_mig_up_streams says so, and apply_mig_read_sql_but_up
 * reads down and verify (and sets up_path), leaving up NULL; the run
 * streams it from the bundle, hashed on the way (a transactional one), or
 * spills it to a private file while hashing it and streams it from there
 * (transaction: false: its hash is checked before anything runs). */
#define APPLY_STREAM_MIN (1u << 20)
int apply_mig_up_streams(const struct apply_mig *m, const char *driver);
int apply_mig_read_sql_but_up(struct apply_mig *m, const char *driver);

/* Frees m's SQL when it came from a bundle, to be read again (and hashed
 * again) by apply_mig_read_sql when needed; does nothing for a set built
 * by hand. */
void apply_mig_drop_sql(struct apply_mig *m);

#endif
