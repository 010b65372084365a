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

/* The signed line of chain a (read from src, c's database or the copy a
 * restore prepared), naming c's database, without its newline. */
static int make_line(struct apply_ctx *c, struct db *src, const struct receipt_key *key,
		     struct buf *line, size_t *nrows)
{
	struct audit_row *a = NULL;
	struct db_identity id;
	char now[32];
	size_t n = 0;
	int rc = -1;

	memset(&id, 0, sizeof(id));
	if (c->drv->audit_read(src, 0, &a, &n) < 0)
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

int checkpoint_make(struct apply_ctx *c, const struct receipt_key *key, struct buf *line,
		    size_t *nrows)
{
	return make_line(c, c->db, key, line, nrows);
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

char *checkpoint_pending_path(const char *file)
{
	return xasprintf("%s.pending", file);
}

/* The directory holding path synced, so a rename in it is durable. */
static int sync_dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir = slash ? xstrndup(path, slash == path ? 1 : (size_t)(slash - path)) : xstrdup(".");
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = 0;

	if (fd < 0 || fsync(fd) < 0) {
		cairn_error_set("cannot sync directory '%s': %s", dir, strerror(errno));
		rc = -1;
	}
	if (fd >= 0)
		close(fd);
	free(dir);
	return rc;
}

int checkpoint_pending_write(struct apply_ctx *c, const struct checkpoint_opts *o,
			     struct db *copy)
{
	struct buf line = BUF_INIT;
	struct checkpoint *start = c->checkpoint;
	char *pending = checkpoint_pending_path(o->file);
	int rc = -1;

	/* the restored chain does not extend the starting checkpoint (the rows
	 * after the backup went): signed as it is, as cmd/restore.c does */
	c->checkpoint = NULL;
	if (make_line(c, copy, o->key, &line, NULL) < 0 || buf_putc(&line, '\n') < 0 ||
	    write_file_atomic(pending, line.ptr, line.len, 0600) < 0 || sync_dir_of(pending) < 0)
		cairn_error_set("cannot keep the checkpoint of the restored chain in '%s': %s",
				pending, cairn_error_last());
	else
		rc = 0;
	c->checkpoint = start;
	free(pending);
	buf_release(&line);
	return rc;
}

/* The pending checkpoint of this database (a restore's, FILE.pending)
 * into *cp and *line (the file's text kept in text) when it is signed by
 * want_key (NULL: the key of the newest checkpoint in FILE, main_key) and
 * the chain a extends it: 0. 1: no pending file or none of this database;
 * -1: one that cannot be trusted, the error set. */
static int pending_read(struct apply_ctx *c, const char *file, const char *want_key,
			const char *main_key, const struct audit_row *a, size_t n,
			struct checkpoint *cp, const char **line, struct buf *text)
{
	char *pending = checkpoint_pending_path(file);
	const char *db = c->drv->display_name(c->db);
	int rc = 1;

	memset(cp, 0, sizeof(*cp));
	if (access(pending, F_OK) < 0)
		goto out;
	rc = -1;
	if (read_file(pending, 1u << 20, text) < 0 ||
	    (rc = checkpoint_find_last(cp, line, text->ptr ? text->ptr : "", text->len, db)))
		goto out;
	rc = -1;
	if (checkpoint_signature_check(cp, *line, want_key ? want_key : main_key) < 0 ||
	    checkpoint_rows_check(cp, a, n) < 0)
		goto out;
	rc = 0;
out:
	if (rc < 0)
		cairn_error_set("pending checkpoint '%s': %s", pending, cairn_error_last());
	if (rc)
		checkpoint_release(cp);
	free(pending);
	return rc;
}

/* Before a run: a pending checkpoint the chain extends while the newest
 * in FILE no longer holds (a restore killed between its step and the
 * append) is appended to FILE and taken as the starting one (*cp). */
static int pending_settle(struct apply_ctx *c, const struct checkpoint_opts *o,
			  struct checkpoint *cp, const char *want)
{
	struct audit_row *a = NULL;
	struct checkpoint p;
	struct buf text = BUF_INIT, add = BUF_INIT;
	const char *pline = NULL;
	char *pending = checkpoint_pending_path(o->file);
	size_t n = 0;
	int found, rc = EXIT_OK;

	if (access(pending, F_OK) < 0)
		goto out;
	if (c->drv->audit_read(c->db, 0, &a, &n) < 0) {
		rc = EXIT_ENVIRONMENT;
		goto out;
	}
	/* FILE's newest still holds: the restore never took effect. The
	 * pending file stays (the next restore replaces it): removing it here,
	 * before the run lock, could remove the one a restore running now
	 * just kept */
	if (cp->sig && checkpoint_rows_check(cp, a, n) == 0)
		goto out;
	found = pending_read(c, o->file, want, NULL, a, n, &p, &pline, &text);
	if (found < 0)
		error_msg("%s; not used", cairn_error_last());
	if (found)
		goto out; /* none, or refused: the books are compared with FILE's */
	buf_put(&add, pline, strcspn(pline, "\n"));
	buf_putc(&add, '\n');
	if (append_line(o->file, &add) < 0) {
		error_msg("cannot append the pending checkpoint: %s", cairn_error_last());
		checkpoint_release(&p);
		rc = EXIT_ENVIRONMENT;
		goto out;
	}
	unlink(pending);
	if (!c->json)
		fprintf(stderr, "cairn-apply: the checkpoint a restore kept in '%s' (%lld audit "
			"rows) added to '%s'\n", pending, p.length, o->file);
	checkpoint_release(cp);
	*cp = p;
out:
	audit_rows_free(a, n);
	buf_release(&text);
	buf_release(&add);
	free(pending);
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
	if ((rc = pending_settle(c, o, &cp, want)) != EXIT_OK)
		goto out;
	if (cp.sig) { /* the chain is compared with it under the run lock */
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

/* history --verify: FILE's newest checkpoint does not hold; a pending one
 * (a restore killed before it appended it) signed by the same key that
 * the chain extends does. Prints; 1 when it holds. */
static int pending_matches(struct apply_ctx *c, const char *file, const char *want_key,
			   const char *main_key, const struct audit_row *a, size_t n)
{
	struct buf text = BUF_INIT;
	struct checkpoint p;
	const char *line = NULL;
	int rc = pending_read(c, file, want_key, main_key, a, n, &p, &line, &text);

	if (rc < 0)
		error_msg("%s", cairn_error_last());
	if (!rc && !c->json)
		printf("checkpoint of %s matches: %lld audit row%s ending in %.16s..., signed by "
		       "%s (pending: kept by a restore before its step, not yet appended to "
		       "'%s'; the next run with it appends it)\n", p.time, p.length,
		       p.length == 1 ? "" : "s", p.head, p.key, file);
	checkpoint_release(&p);
	buf_release(&text);
	return rc == 0;
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
	if (!found && checkpoint_check(&cp, line, want_key, a, n) < 0 &&
	    pending_matches(c, file, want_key, cp.key, a, n)) {
		checkpoint_release(&cp);
		buf_release(&text);
		return EXIT_OK;
	}
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
