#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "error.h"
#include "util.h"
#include "yaml.h"

static _Thread_local int last_line, last_col;

void yaml_last_error_mark(int *line, int *col)
{
	*line = last_line;
	*col = last_col;
}

static void set_mark(int line, int col)
{
	last_line = line;
	last_col = col;
}

struct loader {
	yaml_parser_t parser;
	const char *name;
	size_t nodes, max_nodes;
};

static void ynode_push(struct ynode *parent, size_t at, struct ynode *child)
{
	ALLOC_GROW(parent->items, at + 1, parent->alloc);
	parent->items[at] = child;
}

static struct ynode *ynode_new(enum ynode_type type, const yaml_mark_t *mark)
{
	struct ynode *n = xcalloc(1, sizeof(*n));

	n->type = type;
	n->line = (int)mark->line + 1;
	n->col = (int)mark->column + 1;
	return n;
}

static int fail_at(struct loader *l, const yaml_mark_t *m, const char *msg)
{
	set_mark((int)m->line + 1, (int)m->column + 1);
	cairn_error_set("%s:%d:%d: %s", l->name, (int)m->line + 1,
			(int)m->column + 1, msg);
	return -1;
}

static int parser_fail(struct loader *l)
{
	yaml_parser_t *p = &l->parser;
	const yaml_mark_t *m = p->problem ? &p->problem_mark : &p->context_mark;

	set_mark((int)m->line + 1, (int)m->column + 1);
	if (p->error == YAML_MEMORY_ERROR) {
		cairn_error_set("%s: out of memory while parsing YAML", l->name);
		return -1;
	}
	if (p->context)
		cairn_error_set("%s:%d:%d: YAML syntax error: %s %s", l->name,
				(int)m->line + 1, (int)m->column + 1,
				p->problem ? p->problem : "error", p->context);
	else
		cairn_error_set("%s:%d:%d: YAML syntax error: %s", l->name,
				(int)m->line + 1, (int)m->column + 1,
				p->problem ? p->problem : "error");
	return -1;
}

static int next_event(struct loader *l, yaml_event_t *ev)
{
	if (!yaml_parser_parse(&l->parser, ev))
		return parser_fail(l);
	return 0;
}

/* An explicit tag (!!binary, !!str, !custom) would give a value another
 * type or meaning than the one its key has: every file cairn reads is plain
 * strings, lists and mappings, so a tag is refused rather than ignored. */
static int tag_refused(struct loader *l, const yaml_event_t *ev, const yaml_char_t *tag)
{
	char msg[160];
	const char *t = (const char *)tag;

	if (starts_with(t, "tag:yaml.org,2002:"))
		t += strlen("tag:yaml.org,2002:");
	if (snprintf(msg, sizeof(msg), "YAML tags are not allowed ('%s%.64s')",
		     t == (const char *)tag ? "" : "!!", t) >= (int)sizeof(msg))
		msg[sizeof(msg) - 1] = '\0';
	return fail_at(l, &ev->start_mark, msg);
}

/* Builds the node started by ev (already read). Consumes its whole subtree. */
static int load_node(struct loader *l, yaml_event_t *ev, int depth, struct ynode **out)
{
	struct ynode *n = NULL;
	int rc = -1;

	*out = NULL;
	if (depth > YAML_MAX_DEPTH)
		return fail_at(l, &ev->start_mark, "YAML nested deeper than 64 levels");
	if (++l->nodes > l->max_nodes)
		return fail_at(l, &ev->start_mark, "YAML document has too many nodes");

	switch (ev->type) {
	case YAML_ALIAS_EVENT:
		return fail_at(l, &ev->start_mark,
			       "YAML aliases are not allowed (write the value out)");
	case YAML_SCALAR_EVENT:
		if (ev->data.scalar.anchor)
			return fail_at(l, &ev->start_mark,
				       "YAML anchors are not allowed (write the value out)");
		if (ev->data.scalar.tag)
			return tag_refused(l, ev, ev->data.scalar.tag);
		n = ynode_new(YNODE_SCALAR, &ev->start_mark);
		n->str = xstrndup((const char *)ev->data.scalar.value, ev->data.scalar.length);
		n->len = ev->data.scalar.length;
		n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
		*out = n;
		return 0;
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT: {
		int is_map = ev->type == YAML_MAPPING_START_EVENT;
		yaml_event_type_t end = is_map ? YAML_MAPPING_END_EVENT : YAML_SEQUENCE_END_EVENT;
		const yaml_char_t *anchor = is_map ? ev->data.mapping_start.anchor
						   : ev->data.sequence_start.anchor;
		struct ynode *key = NULL; /* a mapping key waiting for its value */

		if (anchor)
			return fail_at(l, &ev->start_mark,
				       "YAML anchors are not allowed (write the value out)");
		if (is_map ? ev->data.mapping_start.tag : ev->data.sequence_start.tag)
			return tag_refused(l, ev, is_map ? ev->data.mapping_start.tag
						  : ev->data.sequence_start.tag);
		n = ynode_new(is_map ? YNODE_MAP : YNODE_SEQ, &ev->start_mark);
		for (;;) {
			yaml_event_t child_ev;
			struct ynode *child = NULL;
			int r;

			if (next_event(l, &child_ev) < 0)
				break;
			if (child_ev.type == end) {
				yaml_event_delete(&child_ev);
				*out = n;
				return 0;
			}
			r = load_node(l, &child_ev, depth + 1, &child);
			yaml_event_delete(&child_ev);
			if (r < 0)
				break;
			if (!is_map) {
				ynode_push(n, n->n, child);
				n->n++;
			} else if (!key) {
				if (child->type != YNODE_SCALAR) {
					set_mark(child->line, child->col);
					cairn_error_set("%s:%d:%d: mapping keys must be plain strings",
							l->name, child->line, child->col);
					ynode_free(child);
					break;
				}
				for (size_t i = 0; i < n->n; i++) {
					if (strcmp(n->items[2 * i]->str, child->str))
						continue;
					set_mark(child->line, child->col);
					cairn_error_set("%s:%d:%d: duplicate key '%s' (first at line %d)",
							l->name, child->line, child->col, child->str,
							n->items[2 * i]->line);
					ynode_free(child);
					goto out;
				}
				key = child;
			} else {
				ynode_push(n, 2 * n->n, key);
				ynode_push(n, 2 * n->n + 1, child);
				n->n++;
				key = NULL;
			}
		}
		ynode_free(key);
		goto out;
	}
	default:
		return fail_at(l, &ev->start_mark, "unexpected YAML event");
	}
out:
	ynode_free(n);
	return rc;
}

int yaml_load(struct ynode **out, const char *data, size_t len, const char *name)
{
	return yaml_load_max(out, data, len, name, YAML_MAX_NODES);
}

int yaml_load_max(struct ynode **out, const char *data, size_t len, const char *name,
		  size_t max_nodes)
{
	struct loader l;
	yaml_event_t ev;
	struct ynode *root = NULL;
	int rc = -1, have_ev = 0;

	*out = NULL;
	set_mark(0, 0);
	memset(&l, 0, sizeof(l));
	l.name = name;
	l.max_nodes = max_nodes;
	if (!yaml_parser_initialize(&l.parser)) {
		cairn_error_set("%s: cannot initialise the YAML parser", name);
		return -1;
	}
	yaml_parser_set_input_string(&l.parser, (const unsigned char *)data, len);

	if (next_event(&l, &ev) < 0) /* STREAM_START */
		goto out;
	yaml_event_delete(&ev);
	if (next_event(&l, &ev) < 0)
		goto out;
	have_ev = 1;
	if (ev.type == YAML_STREAM_END_EVENT) {
		rc = 0; /* empty stream */
		goto out;
	}
	/* DOCUMENT_START */
	yaml_event_delete(&ev);
	have_ev = 0;
	if (next_event(&l, &ev) < 0)
		goto out;
	have_ev = 1;
	if (ev.type == YAML_DOCUMENT_END_EVENT) {
		rc = 0;
		goto out;
	}
	if (load_node(&l, &ev, 1, &root) < 0)
		goto out;
	yaml_event_delete(&ev);
	have_ev = 0;
	if (next_event(&l, &ev) < 0) /* DOCUMENT_END */
		goto out;
	yaml_event_delete(&ev);
	if (next_event(&l, &ev) < 0)
		goto out;
	have_ev = 1;
	if (ev.type != YAML_STREAM_END_EVENT) {
		fail_at(&l, &ev.start_mark, "more than one YAML document (remove the '---')");
		goto out;
	}
	*out = root;
	root = NULL;
	rc = 0;
out:
	if (have_ev)
		yaml_event_delete(&ev);
	ynode_free(root);
	yaml_parser_delete(&l.parser);
	return rc;
}

void ynode_free(struct ynode *n)
{
	size_t i, count;

	if (!n)
		return;
	count = n->type == YNODE_MAP ? n->n * 2 : n->type == YNODE_SEQ ? n->n : 0;
	for (i = 0; i < count; i++)
		ynode_free(n->items[i]);
	free(n->items);
	free(n->str);
	free(n);
}

const char *ynode_type_name(enum ynode_type t)
{
	switch (t) {
	case YNODE_SCALAR: return "a scalar";
	case YNODE_SEQ: return "a list";
	case YNODE_MAP: return "a mapping";
	}
	return "a node";
}

struct ynode *ynode_get(const struct ynode *map, const char *key)
{
	size_t i;

	if (!map || map->type != YNODE_MAP)
		return NULL;
	for (i = 0; i < map->n; i++)
		if (!strcmp(map->items[2 * i]->str, key))
			return map->items[2 * i + 1];
	return NULL;
}

struct ynode *ynode_key(const struct ynode *map, size_t i)
{
	return map->items[2 * i];
}

struct ynode *ynode_val(const struct ynode *map, size_t i)
{
	return map->items[2 * i + 1];
}

int ynode_is_null(const struct ynode *n)
{
	return n && n->type == YNODE_SCALAR && n->plain &&
	       (!n->len || !strcmp(n->str, "~") || !strcmp(n->str, "null") ||
		!strcmp(n->str, "Null") || !strcmp(n->str, "NULL"));
}

int ynode_bool(const struct ynode *n, int *out)
{
	static const char *const yes[] = { "true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON" };
	static const char *const no[] = { "false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF" };
	size_t i;

	if (!n || n->type != YNODE_SCALAR || !n->plain)
		return -1;
	for (i = 0; i < sizeof(yes) / sizeof(*yes); i++) {
		if (!strcmp(n->str, yes[i])) {
			*out = 1;
			return 0;
		}
		if (!strcmp(n->str, no[i])) {
			*out = 0;
			return 0;
		}
	}
	return -1;
}

int ynode_uint(const struct ynode *n, unsigned long long *out)
{
	char *end;
	unsigned long long v;

	if (!n || n->type != YNODE_SCALAR || !n->len || n->str[0] < '0' || n->str[0] > '9')
		return -1;
	errno = 0;
	v = strtoull(n->str, &end, 10);
	if (errno || *end)
		return -1;
	*out = v;
	return 0;
}

static int plain_safe(const char *s)
{
	static const char *const reserved[] = {
		"true", "false", "yes", "no", "on", "off", "null", "~", "y", "n",
	};
	const unsigned char *p = (const unsigned char *)s;
	size_t i;

	if (!*s)
		return 0;
	if (strnlen(s, 6) <= 5) /* no reserved word is longer */
		for (i = 0; i < sizeof(reserved) / sizeof(*reserved); i++)
			if (!strcasecmp(s, reserved[i]))
				return 0;
	/* looks like a number: quote, so it reads back as a string */
	if ((*p >= '0' && *p <= '9') || *p == '-' || *p == '+' || *p == '.')
		return 0;
	for (; *p; p++) {
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_' || *p == '-' || *p == '.' ||
		      *p == '/' || *p == '@' || *p == '+'))
			return 0;
	}
	return 1;
}

int yaml_plain_safe(const char *s)
{
	return plain_safe(s);
}

int yaml_put_scalar(struct buf *b, const char *s)
{
	return plain_safe(s) ? buf_puts(b, s) : buf_put_quoted(b, s, 1);
}

const char *yaml_strip_mark(const char *msg)
{
	const char *p = msg;
	int colons = 0;

	/* NAME:LINE:COL: text -- skip three colons followed by a space */
	while (*p && colons < 3) {
		if (*p == ':')
			colons++;
		p++;
	}
	if (colons == 3 && *p == ' ')
		return p + 1;
	return msg;
}
