#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"
#include "error.h"

static const char *const keys[] = { "time", "db", "env", "project", "length", "head",
				    "key", "pub", "sig" };
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

/* value with tabs and newlines (which would break the line) as '?' */
static void put_value(struct buf *out, const char *key, const char *v)
{
	buf_printf(out, "\t%s=", key);
	for (; v && *v; v++)
		buf_putc(out, *v == '\t' || *v == '\n' || *v == '\r' ? '?' : *v);
}

int checkpoint_format(struct buf *out, const char *time, const char *db, const char *env,
		      const char *project, long long length, const char *head,
		      const char *key_id, const char *pub_b64)
{
	char len[32];

	if (snprintf(len, sizeof(len), "%lld", length) >= (int)sizeof(len))
		return -1;
	buf_puts(out, CHECKPOINT_MAGIC);
	put_value(out, "time", time);
	put_value(out, "db", db);
	put_value(out, "env", env);
	put_value(out, "project", project);
	put_value(out, "length", len);
	put_value(out, "head", head);
	put_value(out, "key", key_id);
	put_value(out, "pub", pub_b64);
	return 0;
}

void checkpoint_release(struct checkpoint *c)
{
	if (!c)
		return;
	free(c->time);
	free(c->db);
	free(c->env);
	free(c->project);
	free(c->head);
	free(c->key);
	free(c->pub);
	free(c->sig);
	memset(c, 0, sizeof(*c));
}

int checkpoint_parse(struct checkpoint *out, const char *line, size_t len)
{
	char **slots[NKEYS];
	char *length = NULL, *end;
	const char *p = line, *stop = line + len;
	size_t i, mlen = strlen(CHECKPOINT_MAGIC);

	memset(out, 0, sizeof(*out));
	slots[0] = &out->time, slots[1] = &out->db, slots[2] = &out->env;
	slots[3] = &out->project, slots[4] = &length, slots[5] = &out->head;
	slots[6] = &out->key, slots[7] = &out->pub, slots[8] = &out->sig;
	if (len < mlen || memcmp(line, CHECKPOINT_MAGIC, mlen))
		goto bad;
	p += mlen;
	for (i = 0; i < NKEYS; i++) {
		size_t klen = strlen(keys[i]);
		const char *v, *tab;

		if (p >= stop || *p != '\t' || (size_t)(stop - p) < klen + 2 ||
		    memcmp(p + 1, keys[i], klen) || p[1 + klen] != '=')
			goto bad;
		if (i == NKEYS - 1)
			out->signed_len = (size_t)(p - line);
		v = p + klen + 2;
		tab = memchr(v, '\t', (size_t)(stop - v));
		if (!tab)
			tab = stop;
		*slots[i] = xstrndup(v, (size_t)(tab - v));
		p = tab;
	}
	if (p != stop)
		goto bad;
	out->length = strtoll(length, &end, 10);
	if (!*length || *end || out->length < 0)
		goto bad;
	free(length);
	return 0;
bad:
	free(length);
	checkpoint_release(out);
	cairn_error_set("not a checkpoint line (expected %s and the fields time, db, env, "
			"project, length, head, key, pub, sig)", CHECKPOINT_MAGIC);
	return -1;
}

char *checkpoint_project(const char *line)
{
	struct checkpoint c;
	char *project;

	if (checkpoint_parse(&c, line, strlen(line)) < 0)
		return NULL;
	project = c.project;
	c.project = NULL;
	checkpoint_release(&c);
	return project;
}

int checkpoint_find_last(struct checkpoint *out, const char **line, const char *text, size_t len,
			 const char *db)
{
	const char *end = text + len;

	memset(out, 0, sizeof(*out));
	while (end > text) {
		const char *nl = end, *start;

		if (nl[-1] == '\n')
			nl--;
		for (start = nl; start > text && start[-1] != '\n'; start--)
			;
		end = start;
		if (nl == start)
			continue;
		if (checkpoint_parse(out, start, (size_t)(nl - start)) < 0)
			return -1;
		if (!db || !strcmp(out->db, db)) {
			*line = start;
			return 0;
		}
		checkpoint_release(out);
	}
	return 1;
}
