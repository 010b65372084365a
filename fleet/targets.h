/* A fleet's targets (issue #21): the databases one bundle goes to, read from
 * a targets file (or stdin, or the config's targets: list), and the stable
 * slice of them one shard runs. A library: it never prints and never exits;
 * a failure leaves "ORIGIN:LINE: message" in the error slot.
 *
 * The targets file, one target a line (docs/fleet.md, cairn-apply(1)):
 *
 *   # comment, and blank lines
 *   NAME DSN          a name for the results, then the DSN
 *   DSN               the DSN is the name
 *
 * DSN is sqlite:PATH, postgres://..., postgresql://..., a libpq keyword
 * string (host=... dbname=...: a first word with '=' starts one), or a
 * reference to a secret: env:VARIABLE (its value is the DSN) or file:PATH
 * (the file's first line). As in the config, a DSN written out may not hold
 * a password. NAME is letters, digits and . _ - (not first: . -), at most
 * FLEET_NAME_MAX bytes, unique in the file. */
#ifndef CAIRN_FLEET_TARGETS_H
#define CAIRN_FLEET_TARGETS_H

#include <stddef.h>
#include <stdint.h>

#include "index.h"

#define FLEET_NAME_MAX 128
#define FLEET_LINE_MAX 4096
#define FLEET_TARGETS_MAX 1000000
#define FLEET_FILE_MAX (256U << 20)

enum fleet_dsn_kind { FLEET_DSN, FLEET_DSN_ENV, FLEET_DSN_FILE };

struct fleet_target {
	char *name;
	enum fleet_dsn_kind kind;
	char *value;        /* the DSN, the variable's name, or the file's path */
	int line;           /* in the targets file (0: the config's list) */
};

struct fleet_targets {
	struct fleet_target *items;
	size_t n, alloc;
	struct fleet_index by_name;
};

void fleet_targets_release(struct fleet_targets *t);

/* Parses a targets file held in memory; origin names it in messages
 * ("targets.txt", "-"). Appends to t. Returns 0, or -1 with the error set to
 * "ORIGIN:LINE: message" for the first bad line. */
int fleet_targets_parse(struct fleet_targets *t, const char *data, size_t len,
			const char *origin);
/* Adds one line of the same form (the config's targets: list); origin and
 * line name it in messages. */
int fleet_targets_add_line(struct fleet_targets *t, const char *text, const char *origin,
			   int line);

/* The DSN to connect with, secrets included (reads the variable or the
 * file): for the driver only, never printed. malloc'ed into *out. */
int fleet_target_dsn(const struct fleet_target *t, char **out);

/* The shard of a target: FNV-1a (64 bits) of its name, modulo n. It depends
 * on the name only, so a target keeps its shard when lines are added,
 * removed or reordered, and every host computes the same slice. */
unsigned fleet_shard_of(const char *name, unsigned n);
/* Parses "I/N" (0 <= I < N, N <= 65536). Returns 0 or -1 (error set). */
int fleet_shard_parse(const char *s, unsigned *i, unsigned *n);
/* Keeps the targets of shard i of n, in their order. */
void fleet_targets_shard(struct fleet_targets *t, unsigned i, unsigned n);

#endif
