/* A small YAML document tree over libyaml, for every YAML cairn reads:
 * cairn.yaml, migration.yaml, manifests, statements, the applier's config.
 * Every node keeps its line and column (1-based) for messages. Anchors and
 * aliases are refused outright (no alias bombs), as are documents deeper or
 * larger than the caps below and streams of more than one document. */
#ifndef CAIRN_YAML_H
#define CAIRN_YAML_H

#include <stddef.h>
#include <strings.h>

#include "buf.h"

enum ynode_type { YNODE_SCALAR, YNODE_SEQ, YNODE_MAP };

struct ynode {
	enum ynode_type type;
	int line, col;
	/* scalar */
	char *str;
	size_t len;
	int plain; /* 1 for an unquoted scalar: only those may be null/bool/int */
	/* sequence: items[0..n); mapping: keys items[2i], values items[2i+1] */
	struct ynode **items;
	size_t n; /* sequence: item count; mapping: pair count */
	size_t alloc;
};

#define YAML_MAX_DEPTH 64
#define YAML_MAX_NODES 100000

/* Parses data (len bytes). On failure returns -1 and sets the error to
 * "NAME:LINE:COL: message". An empty document gives *out == NULL and 0. */
int yaml_load(struct ynode **out, const char *data, size_t len, const char *name);
/* The same with another cap on the node count (a bundle manifest lists
 * thousands of migrations; its size is capped by the reader instead). */
int yaml_load_max(struct ynode **out, const char *data, size_t len, const char *name,
		  size_t max_nodes);
void ynode_free(struct ynode *n);
/* Line and column of the last yaml_load failure (0 when not known). */
void yaml_last_error_mark(int *line, int *col);
/* The message of the last failure without its "NAME:LINE:COL: " prefix. */
const char *yaml_strip_mark(const char *msg);

const char *ynode_type_name(enum ynode_type t);
/* The value for key in a mapping, or NULL. */
struct ynode *ynode_get(const struct ynode *map, const char *key);
struct ynode *ynode_key(const struct ynode *map, size_t i);
struct ynode *ynode_val(const struct ynode *map, size_t i);

/* Plain scalar parsers: 0 on success, -1 when the node is not of that kind. */
int ynode_bool(const struct ynode *n, int *out);
int ynode_uint(const struct ynode *n, unsigned long long *out);
int ynode_is_null(const struct ynode *n);

/* Appends s to b as a YAML scalar that reads back as exactly s: plain when
 * that is safe, double-quoted with escapes otherwise. */
/* Whether yaml_put_scalar writes s unquoted. */
int yaml_plain_safe(const char *s);
int yaml_put_scalar(struct buf *b, const char *s);

#endif
