#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../apply/checkpoint.h"
#include "../lib/error.h"
#include "../lib/util.h"
#include "../receipt/receipt.h"
#include "../verify/bundle.h"
#include "../verify/keys.h"
#include "checkpoint.h"
#include "policy-gate.h"

void checkpoint_opts_from_config(struct checkpoint_opts *o, const struct apply_policy *ap)
{
	const struct policy_env *pe, *d;

	if (o->file || (getenv("CAIRN_CHECKPOINT") && *getenv("CAIRN_CHECKPOINT")) || !ap->active)
		return;
	pe = ap->ac.env.env;
	d = &ap->ac.config.defaults;
	o->file = pe->checkpoint_file ? pe->checkpoint_file : d->checkpoint_file;
	if (!o->key_path)
		o->key_path = pe->checkpoint_file ? pe->checkpoint_key : d->checkpoint_key;
}

int checkpoint_opts_load(struct checkpoint_opts *o, struct receipt_key *receipt)
{
	if (!o->file && getenv("CAIRN_CHECKPOINT") && *getenv("CAIRN_CHECKPOINT"))
		o->file = getenv("CAIRN_CHECKPOINT");
	if (!o->key_path && getenv("CAIRN_CHECKPOINT_KEY") && *getenv("CAIRN_CHECKPOINT_KEY"))
		o->key_path = getenv("CAIRN_CHECKPOINT_KEY");
	if (!o->file)
		return EXIT_OK;
	if (o->key_path) {
		if (receipt_key_load(&o->key, o->key_path) < 0) {
			error_msg("cannot use the checkpoint key: %s", cairn_error_last());
			error_msg("nothing was done: the database is unchanged");
			return EXIT_ENVIRONMENT;
		}
		o->owns_key = 1;
		return EXIT_OK;
	}
	if (!receipt) {
		error_msg("--checkpoint needs a key to sign with: --checkpoint-key KEY (or "
			  "$CAIRN_CHECKPOINT_KEY, or --receipt-key)");
		return EXIT_USAGE;
	}
	o->key = receipt;
	return EXIT_OK;
}

int checkpoint_open_books(struct apply_ctx *ctx, const struct cmd *c,
			  const struct apply_policy *ap, struct checkpoint_opts *o,
			  const char *dsn, unsigned flags, int json)
{
	int rc;

	if (!dsn)
		return usage_error(c, "missing --db DSN");
	checkpoint_opts_from_config(o, ap);
	rc = checkpoint_opts_load(o, NULL);
	if (!rc)
		rc = apply_ctx_open(ctx, c, dsn, flags, json);
	return rc ? rc : checkpoint_check_before(ctx, o);
}

void checkpoint_opts_release(struct checkpoint_opts *o)
{
	if (o && o->owns_key)
		receipt_key_free(o->key);
	if (o)
		memset(o, 0, sizeof(*o));
}

static int append_line(const char *file, const struct buf *line)
{
	int fd = open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	ssize_t w;

	if (fd < 0) {
		cairn_error_set("cannot write checkpoint file '%s': %s", file, strerror(errno));
		return -1;
	}
	w = write(fd, line->ptr, line->len);
	if (w != (ssize_t)line->len || fsync(fd) < 0) {
		cairn_error_set("cannot write checkpoint file '%s': %s", file,
				w < 0 ? strerror(errno) : "short write");
		close(fd);
		return -1;
	}
	if (close(fd) < 0) {
		cairn_error_set("cannot write checkpoint file '%s': %s", file, strerror(errno));
		return -1;
	}
	return 0;
}

int checkpoint_make(struct apply_ctx *c, const struct receipt_key *key, struct buf *line,
		    size_t *nrows)
{
	struct audit_row *a = NULL;
	struct db_identity id;
	char now[32];
	size_t n = 0;
	int rc = -1;

	memset(&id, 0, sizeof(id));
	if (c->drv->audit_read(c->db, 0, &a, &n) < 0)
		goto out;
	/* never sign a chain that does not extend the checkpoint the run
	 * started from: that would launder a cut or rewritten chain */
	if (c->checkpoint && checkpoint_rows_check(c->checkpoint, a, n) < 0)
		goto out;
	books_identity(a, n, &id);
	engine_now(now);
	if (receipt_checkpoint(key, now, c->drv->display_name(c->db), id.environment, id.project,
			       n ? a[n - 1].seq : 0, n ? a[n - 1].hash : "", line) < 0)
		goto out;
	if (line->len && line->ptr[line->len - 1] == '\n')
		line->ptr[--line->len] = '\0';
	if (nrows)
		*nrows = n;
	rc = 0;
out:
	db_identity_release(&id);
	audit_rows_free(a, n);
	return rc;
}

int checkpoint_append(struct apply_ctx *c, const struct checkpoint_opts *o)
{
	struct buf line = BUF_INIT;
	size_t n = 0;
	int rc = EXIT_ENVIRONMENT;

	if (!o->file)
		return EXIT_OK;
	if (checkpoint_make(c, o->key, &line, &n) < 0 || buf_putc(&line, '\n') < 0 ||
	    append_line(o->file, &line) < 0)
		goto out;
	if (!c->json)
		fprintf(stderr, "cairn-apply: checkpoint of %s (%zu audit row%s) added to '%s'\n",
			c->drv->display_name(c->db), n, n == 1 ? "" : "s", o->file);
	rc = EXIT_OK;
out:
	if (rc)
		error_msg("the run is done, but no checkpoint was kept: %s", cairn_error_last());
	buf_release(&line);
	return rc;
}

int checkpoint_check_before(struct apply_ctx *c, const struct checkpoint_opts *o)
{
	struct buf text = BUF_INIT;
	struct checkpoint cp;
	const char *db, *line = NULL;
	char want[KEY_ID_LEN + 1];
	int rc = EXIT_OK;

	memset(&cp, 0, sizeof(cp));
	if (!o->file || !o->key || access(o->file, F_OK) < 0)
		return EXIT_OK;
	db = c->drv->display_name(c->db);
	if (read_file(o->file, 256u << 20, &text) < 0 ||
	    checkpoint_find_last(&cp, &line, text.ptr ? text.ptr : "", text.len, db) < 0) {
		error_msg("cannot check the books against checkpoint file '%s': %s", o->file,
			  cairn_error_last());
		rc = EXIT_ENVIRONMENT;
		goto out;
	}
	receipt_key_id(o->key, want);
	if (line && checkpoint_signature_check(&cp, line, want) < 0) {
		error_msg("checkpoint mismatch: %s", cairn_error_last());
		error_msg("the newest checkpoint of %s in '%s' cannot be trusted; nothing was "
			  "done: the database is unchanged", db, o->file);
		rc = EXIT_STATE;
		goto out;
	}
	if (line) { /* the chain is compared with it under the run lock */
		if (c->checkpoint)
			checkpoint_release(c->checkpoint);
		free(c->checkpoint);
		c->checkpoint = xmalloc(sizeof(cp));
		*c->checkpoint = cp;
		memset(&cp, 0, sizeof(cp));
	}
out:
	checkpoint_release(&cp);
	buf_release(&text);
	return rc;
}

int checkpoint_after_run(struct apply_ctx *c, const struct checkpoint_opts *o, int rc)
{
	int crc;

	if (rc != EXIT_OK && rc != EXIT_FAILED && rc != EXIT_STATE && rc != EXIT_CONTRACT &&
	    rc != EXIT_BUDGET)
		return rc;
	crc = checkpoint_append(c, o);
	/* exit 7 (contract migrations wait) and 8 (a batch stopped at its time
	 * budget) ran to their end: a checkpoint that cannot be written says
	 * so, as after a full run */
	return rc == EXIT_OK || ((rc == EXIT_CONTRACT || rc == EXIT_BUDGET) && crc) ? crc : rc;
}

/* One checkpoint line (of db) against the chain. Prints; an exit code. */
static int check_line(struct apply_ctx *c, const char *where, const char *line, size_t len,
		      const char *want_key, const struct audit_row *a, size_t n)
{
	struct checkpoint cp;
	int rc = EXIT_FAILED;

	if (checkpoint_parse(&cp, line, len) < 0) {
		error_msg("%s: %s", where, cairn_error_last());
		return rc;
	}
	if (checkpoint_check(&cp, line, want_key, a, n) < 0) {
		error_msg("checkpoint mismatch: %s", cairn_error_last());
		error_msg("the books of %s do not hold what was checkpointed on %s (%s); compare "
			  "them with a backup", c->drv->display_name(c->db), cp.time, where);
		goto out;
	}
	if (!c->json)
		printf("checkpoint of %s matches: %lld audit row%s ending in %.16s..., signed by "
		       "%s\n", cp.time, cp.length, cp.length == 1 ? "" : "s", cp.head, cp.key);
	rc = EXIT_OK;
out:
	checkpoint_release(&cp);
	return rc;
}

/* Every valid receipt in the bundle at path whose checkpoint is of this
 * database: each must hold in the chain. */
static int verify_receipts(struct apply_ctx *c, const char *path, const char *want_key,
			   const struct audit_row *a, size_t n)
{
	const char *db = c->drv->display_name(c->db);
	struct bundle_open_opts o;
	struct bundle *b = NULL;
	size_t i, seen = 0;
	int rc = EXIT_OK;

	memset(&o, 0, sizeof(o));
	o.untrusted = 1;
	if (bundle_open_opts(&b, path, NULL, &o) < 0) {
		error_msg("cannot read the receipts of '%s': %s", path, cairn_error_last());
		return EXIT_ENVIRONMENT;
	}
	for (i = 0; i < b->nstatements; i++) {
		const struct bundle_statement *s = &b->statements[i];
		char *cdb, *where;
		struct checkpoint cp;
		int crc;

		if (!s->valid || !s->checkpoint || strcmp(s->type, "receipt") ||
		    checkpoint_parse(&cp, s->checkpoint, strlen(s->checkpoint)) < 0)
			continue;
		cdb = cp.db;
		cp.db = NULL;
		checkpoint_release(&cp);
		if (strcmp(cdb, db)) {
			free(cdb);
			continue;
		}
		free(cdb);
		seen++;
		where = xasprintf("receipt %s", s->member);
		crc = check_line(c, where, s->checkpoint, strlen(s->checkpoint), want_key, a, n);
		free(where);
		if (crc != EXIT_OK)
			rc = crc;
	}
	if (!seen) {
		error_msg("bundle '%s' holds no receipt with a checkpoint of %s", path, db);
		rc = EXIT_FAILED;
	}
	bundle_free(b);
	return rc;
}

static int is_gzip(const char *path)
{
	unsigned char m[2] = { 0, 0 };
	FILE *f = fopen(path, "rb");
	int gz = f && fread(m, 1, 2, f) == 2 && m[0] == 0x1f && m[1] == 0x8b;

	if (f)
		fclose(f);
	return gz;
}

int checkpoint_verify_file(struct apply_ctx *c, const char *file, const char *want_key,
			   const struct audit_row *a, size_t n)
{
	struct buf text = BUF_INIT;
	struct checkpoint cp;
	const char *db = c->drv->display_name(c->db), *line = NULL;
	int found, rc = EXIT_FAILED;

	if (is_gzip(file))
		return verify_receipts(c, file, want_key, a, n);
	memset(&cp, 0, sizeof(cp));
	if (read_file(file, 256u << 20, &text) < 0) {
		error_msg("cannot read checkpoint file: %s", cairn_error_last());
		return EXIT_ENVIRONMENT;
	}
	found = checkpoint_find_last(&cp, &line, text.ptr ? text.ptr : "", text.len, db);
	checkpoint_release(&cp);
	if (found < 0)
		error_msg("checkpoint file '%s': %s", file, cairn_error_last());
	else if (found)
		error_msg("checkpoint file '%s' holds no checkpoint of %s", file, db);
	else
		rc = check_line(c, file, line, strcspn(line, "\n"), want_key, a, n);
	buf_release(&text);
	return rc;
}
