/* The audit trail as JSON ('history --format json', and the trail a fleet
 * writes per target with --trail-dir), carrying the database it is the
 * trail of, so that a report can tell several databases' trails apart and
 * join each to its status JSON and its fleet result line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/buf.h"
#include "../lib/error.h"
#include "../lib/util.h"
#include "cairn-apply.h"

static void kv(struct buf *b, const char *key, const char *v)
{
	buf_printf(b, ",\"%s\":", key);
	if (v && *v)
		buf_put_json_string(b, v);
	else
		buf_puts(b, "null");
}

static void put_rows(struct buf *b, const struct audit_row *a, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		const struct audit_row *r = &a[i];

		buf_printf(b, "%s{\"seq\":%lld,\"at\":", i ? "," : "", r->seq);
		buf_put_json_string(b, r->at);
		buf_puts(b, ",\"actor\":");
		buf_put_json_string(b, r->actor);
		buf_puts(b, ",\"action\":");
		buf_put_json_string(b, r->action);
		buf_puts(b, ",\"version\":");
		buf_put_json_string(b, r->version);
		buf_puts(b, ",\"from_version\":");
		buf_put_json_string(b, r->from_version);
		buf_puts(b, ",\"to_version\":");
		buf_put_json_string(b, r->to_version);
		buf_puts(b, ",\"bundle\":");
		buf_put_json_string(b, r->bundle_id);
		buf_puts(b, ",\"environment\":");
		buf_put_json_string(b, r->environment);
		buf_puts(b, ",\"detail\":");
		buf_put_json_string(b, r->detail);
		buf_puts(b, ",\"prev_hash\":");
		buf_put_json_string(b, r->prev_hash);
		buf_puts(b, ",\"hash\":");
		buf_put_json_string(b, r->hash);
		buf_putc(b, '}');
	}
}

void trail_json(struct buf *b, const struct trail_json *t)
{
	struct db_identity id;
	char *dbid = books_database_id(t->rows, t->nrows);
	size_t i;

	books_identity(t->rows, t->nrows, &id);
	/* who the trail is of first: the masked DSN, the id, the identity */
	buf_puts(b, "{\"database\":");
	buf_put_json_string(b, t->database);
	kv(b, "database_id", dbid);
	kv(b, "project", id.project);
	kv(b, "environment", id.environment);
	kv(b, "target", t->target);
	buf_puts(b, ",\"rows\":[");
	put_rows(b, t->rows, t->nrows);
	buf_puts(b, "]");
	if (t->verify) {
		buf_printf(b, ",\"intact\":%s,\"problems\":[", t->nproblems ? "false" : "true");
		for (i = 0; i < t->nproblems; i++) {
			buf_printf(b, "%s{\"seq\":%lld,\"message\":", i ? "," : "",
				   t->problems[i].seq);
			buf_put_json_string(b, t->problems[i].message);
			buf_putc(b, '}');
		}
		buf_putc(b, ']');
	}
	buf_puts(b, "}\n");
	db_identity_release(&id);
	free(dbid);
}

int trail_write(struct apply_ctx *c, const char *path, const char *target)
{
	struct trail_json t;
	struct audit_row *a = NULL;
	struct buf b = BUF_INIT;
	size_t n = 0;
	int rc = -1;

	if (c->drv->audit_read(c->db, 0, &a, &n) < 0)
		goto out;
	memset(&t, 0, sizeof(t));
	t.database = c->drv->display_name(c->db);
	t.target = target;
	t.rows = a;
	t.nrows = n;
	trail_json(&b, &t);
	rc = write_file_atomic(path, b.ptr, b.len, 0644);
out:
	audit_rows_free(a, n);
	buf_release(&b);
	return rc;
}
