/* Flyway-style SQL callbacks (issue #20): the files of a project's
 * migrations/callbacks/ directory, which a bundle carries as
 * migrations/callbacks/NAME (format cairn-bundle/2). One definition of
 * their names for the checker, the builder, the manifest's reader and the
 * applier. */
#ifndef CAIRN_LIB_CALLBACKS_H
#define CAIRN_LIB_CALLBACKS_H

#include <stddef.h>

/* the directory under migrations/, and in a bundle */
#define CALLBACK_DIR "callbacks"

enum callback_kind {
	CB_BEFORE_MIGRATE, /* once, before the first pending migration */
	CB_BEFORE_EACH,    /* in each migration's transaction, before its up script */
	CB_AFTER_EACH,     /* ... after its up (and verify) script */
	CB_AFTER_MIGRATE,  /* once, after the last migration applied */
	CB_ON_ERROR,       /* after a failed apply or rollback, in a transaction of its own */
	/* rollback --bundle (Flyway's beforeUndo, beforeEachUndo...) */
	CB_BEFORE_ROLLBACK,      /* once, before the first down script */
	CB_BEFORE_EACH_ROLLBACK, /* in each step's transaction, before its down script */
	CB_AFTER_EACH_ROLLBACK,  /* ... after it, before the books say rolled_back */
	CB_AFTER_ROLLBACK,       /* once, after the last step */
	CB_COUNT
};

/* "before_migrate", ... */
extern const char *const callback_names[CB_COUNT];

/* A callback file's name: KIND.sql (every driver) or KIND.DRIVER.sql
 * (sqlite, postgres). Returns its kind and sets *driver (NULL: every
 * driver; else a static name), or -1 when name is none of those. */
int callback_parse(const char *name, const char **driver);

#endif
